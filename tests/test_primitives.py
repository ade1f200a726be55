"""Every registered primitive against central finite differences: VJP, JVP and second order.

The table CASES has one entry per primitive; a test fails if a primitive is
registered without one, so a new primitive cannot ship untested. Each entry
draws its inputs (respecting the primitive's domain and staying away from kinks)
for shapes drawn by hypothesis, including broadcasting pairs and keepdims.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import autodiff
import autodiff.numpy as anp
from autodiff.numpy import PRIMITIVES
from autodiff.numpy.shapes import concatenate_args, untake, wrap_index

SETTINGS = settings(max_examples=12, deadline=None, derandomize=True)
SHAPES = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
PAIRS = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


def normal(rng, shape):
    return rng.standard_normal(shape)


def uniform(rng, shape, lo, hi):
    return rng.uniform(lo, hi, shape)


def away_from_zero(rng, shape):
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)


def unary(fun, draw=normal):
    """A case for f(x) on one array of a drawn shape."""
    return lambda data, rng: (fun, [draw(rng, data.draw(SHAPES))])


def binary(fun, draw_x=normal, draw_y=normal):
    """A case for f(x, y) on a drawn pair of mutually broadcastable shapes."""

    def case(data, rng):
        sx, sy = data.draw(PAIRS).input_shapes
        return fun, [draw_x(rng, sx), draw_y(rng, sy)]

    return case


def reduction(fun, draw=normal):
    """A case for f(x, axis, keepdims) with a drawn axis (None, one, several) and keepdims."""

    def case(data, rng):
        shape = data.draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
        axes = data.draw(
            st.one_of(
                st.none(),
                st.integers(-len(shape), len(shape) - 1),
                st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True).map(tuple),
            )
        )
        keepdims = data.draw(st.booleans())
        return (lambda x: fun(x, axis=axes, keepdims=keepdims)), [draw(rng, shape)]

    return case


def maximum_case(fun):
    def case(data, rng):
        sx, sy = data.draw(PAIRS).input_shapes
        x = normal(rng, sx)
        y = np.broadcast_to(x, np.broadcast_shapes(sx, sy)).mean() + away_from_zero(rng, sy)
        return fun, [x, y]

    return case


def clip_case(data, rng):
    shape = data.draw(SHAPES)
    x = rng.choice([-1.6, 0.0, 1.6], shape) + rng.uniform(-0.3, 0.3, shape)
    return anp.clip, [x, -1.0, 1.0]


def where_case(data, rng):
    sx, sy = data.draw(PAIRS).input_shapes
    cond = rng.random(np.broadcast_shapes(sx, sy)) > 0.5
    return (lambda x, y: anp.where(cond, x, y)), [normal(rng, sx), normal(rng, sy)]


def power_case(data, rng):
    sx, sy = data.draw(PAIRS).input_shapes
    return anp.power, [uniform(rng, sx, 0.5, 2.0), uniform(rng, sy, -2.0, 2.0)]


def logistic_nll_case(data, rng):
    """Logits and labels in [0, 1] (0/1 and soft labels), broadcasting pairs, with the
    composite softplus(z) − y·z as the reference for both arguments' rules."""
    sz, sy = data.draw(PAIRS).input_shapes
    return (
        anp.logistic_nll,
        [4 * normal(rng, sz), uniform(rng, sy, 0.0, 1.0)],
        lambda z, y: anp.softplus(z) - y * z,
    )


def ridge_case(data, rng):
    """(λ/2)‖x‖² over the last axis, against its composite with vecdot."""
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    return (
        lambda x: anp.ridge(x, lam=0.7),
        [normal(rng, shape)],
        lambda x: 0.35 * anp.vecdot(x, x),
    )


def dense_case(data, rng):
    """x @ w + b over matmul's shapes, b broadcasting over the product, against matmul + add."""
    sx, sw, sb = data.draw(
        st.sampled_from(
            [
                ((3, 4), (4, 2), (2,)),
                ((3, 4), (4, 2), (3, 2)),
                ((4,), (4, 2), (2,)),
                ((2, 3, 4), (4, 5), (1, 5)),
                ((2, 3, 4), (1, 4, 2), ()),
            ]
        )
    )
    return (
        anp.dense,
        [normal(rng, sx), normal(rng, sw), normal(rng, sb)],
        lambda x, w, b: anp.matmul(x, w) + b,
    )


def softmax_nll_case(data, rng):
    """Cross-entropy of one-hot and soft targets over an axis, against logsumexp − Σ y·z."""
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    k = axis % len(shape)
    others = shape[:k] + shape[k + 1 :]
    y = np.moveaxis(np.reshape(rng.dirichlet(np.ones(shape[k]), size=others or None),
                               (*others, shape[k])), -1, k)  # fmt: skip
    return (
        lambda z, y_: anp.softmax_nll(z, y_, axis=axis),
        [2 * normal(rng, shape), y],
        lambda z, y_: anp.logsumexp(z, axis=axis) - anp.sum(z * y_, axis=axis),
    )


def matmul_case(data, rng):
    sa, sb = data.draw(
        st.sampled_from(
            [
                ((3, 4), (4, 2)),
                ((4,), (4, 2)),
                ((3, 4), (4,)),
                ((4,), (4,)),
                ((2, 3, 4), (4, 5)),
                ((2, 3, 4), (1, 4, 2)),
                ((4,), (2, 4, 3)),
                ((2, 3, 4), (4,)),
            ]
        )
    )
    return anp.matmul, [normal(rng, sa), normal(rng, sb)]


def vecdot_case(data, rng):
    """Leading axes from a broadcasting pair, then a shared last axis k."""
    sa, sb = data.draw(PAIRS).input_shapes
    k = data.draw(st.integers(1, 4))
    return anp.vecdot, [normal(rng, (*sa, k)), normal(rng, (*sb, k))]


def transpose_case(data, rng):
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axes = data.draw(st.permutations(range(len(shape))).map(tuple) | st.none())
    return (lambda x: anp.transpose(x, axes)), [normal(rng, shape)]


def reshape_case(data, rng):
    shape = data.draw(SHAPES)
    return (lambda x: anp.reshape(x, (-1,))), [normal(rng, shape)]


def expand_dims_case(data, rng):
    shape = data.draw(SHAPES)
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    return (lambda x: anp.expand_dims(x, axis)), [normal(rng, shape)]


def squeeze_case(data, rng):
    shape = data.draw(SHAPES)
    return (lambda x: anp.squeeze(anp.reshape(x, (1, *shape, 1)), (0, -1))), [normal(rng, shape)]


def broadcast_case(data, rng):
    sx, sy = data.draw(PAIRS).input_shapes
    target = np.broadcast_shapes(sx, sy)
    return (lambda x: anp.broadcast_to(x, target)), [normal(rng, sx)]


def sum_to_case(data, rng):
    sx, sy = data.draw(PAIRS).input_shapes
    big = np.broadcast_shapes(sx, sy)
    return (lambda x: anp.sum_to(x, sx)), [normal(rng, big)]


INDICES = [
    (slice(1, None),),
    (0,),
    (np.array([0, 2, 0, 1]),),  # repeated integer index: gradients accumulate
    (np.array([True, False, True, True]),),
    (slice(None), np.array([1, 1, 0])),
    (Ellipsis, 0),
]


def getitem_case(data, rng):
    index = data.draw(st.sampled_from(INDICES))
    return (lambda x: x[index]), [normal(rng, (4, 3))]


def untake_case(data, rng):
    index = data.draw(st.sampled_from(INDICES))
    shape = np.zeros((4, 3))[index].shape
    return (lambda g: untake(g, index, (4, 3))), [normal(rng, shape)]


def wrap_index_case(data, rng):
    """x[wrap_index(i, 4)] is x[i] (negatives counted from the end); the index has no
    derivative, so the case differentiates x through it."""
    index = np.array(data.draw(st.lists(st.integers(-4, 3), min_size=1, max_size=5)))
    return (lambda x: x[wrap_index(index, 4)]), [normal(rng, (4, 3))], (lambda x: x[index])


def concatenate_case(data, rng):
    axis = data.draw(st.integers(0, 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    arrays = [normal(rng, (k, 2) if axis == 0 else (2, k)) for k in sizes]
    return (lambda *xs: concatenate_args(axis, *xs)), arrays


def softmax_case(data, rng):
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1) | st.none())
    return (lambda x: anp.softmax(x, axis=axis)), [normal(rng, shape)]


def cumsum_case(data, rng):
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1) | st.none())
    return (lambda x: anp.cumsum(x, axis=axis)), [normal(rng, shape)]


EINSUMS = [
    ("ij,jk->ik", [(3, 4), (4, 2)]),
    ("ij,jk", [(3, 4), (4, 2)]),  # implicit output
    ("i,i->", [(4,), (4,)]),
    ("ij->j", [(3, 4)]),  # one operand: a sum
    ("ij,k->ijk", [(2, 3), (4,)]),  # outer
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("...ij,...j->...i", [(2, 3, 4), (4,)]),  # ellipsis with broadcasting
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ijk,j->k", [(2, 3, 4), (3,)]),  # a label summed over one operand only
]


def einsum_case(data, rng):
    spec, shapes = data.draw(st.sampled_from(EINSUMS))
    return (lambda *xs: anp.einsum(spec, *xs)), [normal(rng, s) for s in shapes]


def well_conditioned(rng, shape):
    """Square matrices (or batches) close to the identity: invertible, with a small condition
    number."""
    n = shape[-1]
    return np.eye(n) + 0.3 * rng.standard_normal(shape) / np.sqrt(n)


def solve_case(data, rng):
    sa, sb = data.draw(
        st.sampled_from([((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 1)), ((2, 3, 3), (3, 2))])
    )
    return anp.linalg.solve, [well_conditioned(rng, sa), normal(rng, sb)]


def inv_case(data, rng):
    shape = data.draw(st.sampled_from([(1, 1), (3, 3), (2, 4, 4)]))
    return anp.linalg.inv, [well_conditioned(rng, shape)]


def logabsdet_case(data, rng):
    shape = data.draw(st.sampled_from([(1, 1), (3, 3), (2, 4, 4)]))
    a = well_conditioned(rng, shape)
    a[..., 0, :] *= -1  # a negative determinant too
    return anp.logabsdet, [a]


def cholesky_case(data, rng):
    """Through B ↦ B Bᵀ + I, so that every perturbation of the input is symmetric."""
    n = data.draw(st.integers(1, 4))
    return (lambda b: anp.linalg.cholesky(b @ anp.swapaxes(b, -1, -2) + np.eye(n))), [
        normal(rng, (n, n))
    ]


def stop_gradient_case(data, rng):
    """x·stop_gradient(x) has the derivative of x·x₀ at x₀: finite differences cannot see a
    stopped gradient, so the third entry is the reference they are taken on."""
    x0 = normal(rng, data.draw(SHAPES))
    return (lambda x: x * anp.stop_gradient(x)), [x0], (lambda x: x * x0)


def away_from_zero_pair(fun):
    return binary(fun, away_from_zero, away_from_zero)


CASES = {
    "negative": unary(anp.negative),
    "add": binary(anp.add),
    "subtract": binary(anp.subtract),
    "multiply": binary(anp.multiply),
    "divide": binary(anp.divide, normal, away_from_zero),
    "power": power_case,
    "exp": unary(anp.exp),
    "log": unary(anp.log, lambda r, s: uniform(r, s, 0.3, 3.0)),
    "log1p": unary(anp.log1p, lambda r, s: uniform(r, s, -0.5, 3.0)),
    "expm1": unary(anp.expm1),
    "sqrt": unary(anp.sqrt, lambda r, s: uniform(r, s, 0.3, 3.0)),
    "sin": unary(anp.sin),
    "cos": unary(anp.cos),
    "tanh": unary(anp.tanh),
    "sigmoid": unary(anp.sigmoid),
    "softplus": unary(lambda x: anp.softplus(4 * x)),
    "logistic_nll": logistic_nll_case,
    "ridge": ridge_case,
    "absolute": unary(anp.abs, away_from_zero),
    "sign": unary(anp.sign, away_from_zero),
    "logaddexp": binary(anp.logaddexp),
    "maximum": maximum_case(anp.maximum),
    "minimum": maximum_case(anp.minimum),
    "where": where_case,
    "clip": clip_case,
    "sum": reduction(anp.sum),
    "mean": reduction(anp.mean),
    "max": reduction(anp.max),
    "min": reduction(anp.min),
    "logsumexp": reduction(anp.logsumexp),
    "matmul": matmul_case,
    "dense": dense_case,
    "softmax_nll": softmax_nll_case,
    "vecdot": vecdot_case,
    "reshape": reshape_case,
    "transpose": transpose_case,
    "expand_dims": expand_dims_case,
    "squeeze": squeeze_case,
    "broadcast_to": broadcast_case,
    "sum_to": sum_to_case,
    "getitem": getitem_case,
    "untake": untake_case,
    "wrap_index": wrap_index_case,
    "concatenate": concatenate_case,
    "tan": unary(anp.tan, lambda r, s: uniform(r, s, -1.2, 1.2)),
    "sinh": unary(anp.sinh),
    "cosh": unary(anp.cosh),
    "arctan": unary(anp.arctan),
    "log2": unary(anp.log2, lambda r, s: uniform(r, s, 0.3, 3.0)),
    "log10": unary(anp.log10, lambda r, s: uniform(r, s, 0.3, 3.0)),
    "erf": unary(anp.erf),
    "gelu": unary(anp.gelu),
    "hypot": away_from_zero_pair(anp.hypot),
    "stop_gradient": stop_gradient_case,
    "softmax": softmax_case,
    "prod": reduction(anp.prod, away_from_zero),
    "cumsum": cumsum_case,
    "einsum": einsum_case,
    "solve": solve_case,
    "inv": inv_case,
    "cholesky": cholesky_case,
    "logabsdet": logabsdet_case,
}


def test_every_primitive_has_a_case():
    assert set(CASES) == set(PRIMITIVES), "add a CASES entry for each new primitive"


def assert_same_derivatives(fun, reference, args, seed=1):
    """fun and reference have the same VJP and JVP at args (along random directions)."""
    rng = np.random.default_rng(seed)
    out = np.asarray(autodiff.unbox(fun(*args)))
    u = rng.standard_normal(out.shape)[()]
    for i, x in enumerate(args):
        v = rng.standard_normal(np.shape(x))[()]
        results = []
        for f in (fun, reference):
            at_i = lambda xi, f=f, i=i: f(*args[:i], xi, *args[i + 1 :])  # noqa: E731
            results.append((autodiff.vjp(at_i, x)[1](u)[0], autodiff.jvp(at_i, (x,), (v,))[1]))
        for got, want in zip(*results, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(CASES))
@SETTINGS
@given(data=st.data())
def test_first_order_against_finite_differences(name, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    fun, args, *reference = CASES[name](data, rng)
    if reference:
        assert_same_derivatives(fun, reference[0], args)
        fun = reference[0]
    assert autodiff.check_grad(fun, *args, modes=("rev", "fwd"), rtol=1e-6) <= 1e-6


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=4, deadline=None, derandomize=True)
@given(data=st.data())
def test_second_order_against_finite_differences(name, data):
    """The derivative rules are differentiable again: check the gradient of ⟨u, f(x)⟩."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    fun, args, *reference = CASES[name](data, rng)
    u = rng.standard_normal(np.shape(fun(*args)))

    def projected(f):
        return lambda *xs: autodiff.grad(lambda *a: anp.sum(u * f(*a)), argnums=0)(*xs)

    grad_of_projection = projected(fun)
    if reference:
        assert_same_derivatives(grad_of_projection, projected(reference[0]), args)
        grad_of_projection = projected(reference[0])
    assert autodiff.check_grad(grad_of_projection, *args, modes=("rev", "fwd"), rtol=1e-5) <= 1e-5


def _batch_of(rng, args, size=3):
    """``size`` nearby copies of each argument, stacked on a new leading axis (small relative
    changes keep each input inside its case's domain and away from its kinks)."""
    return [
        np.stack(
            [np.asarray(a) * (1 + 0.02 * rng.standard_normal(np.shape(a))) for _ in range(size)]
        )
        for a in args
    ]


def _in_axes_choices(n):
    """All arguments batched, and each one batched alone."""
    return [(0,) * n] + (
        [tuple(0 if j == i else None for j in range(n)) for i in range(n)] if n > 1 else []
    )


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=6, deadline=None, derandomize=True)
@given(data=st.data())
def test_batching_rule_matches_a_python_loop(name, data):
    """vmap of the primitive, of its VJP and of its JVP equal a loop over the examples, with
    no fallback warning (every primitive has a batching rule)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    fun, args, *_ = CASES[name](data, rng)
    stacked = _batch_of(rng, args)
    in_axes = data.draw(st.sampled_from(_in_axes_choices(len(args))))
    example = [
        [s[b] if ax == 0 else a for s, a, ax in zip(stacked, args, in_axes, strict=True)]
        for b in range(3)
    ]
    inputs = [s if ax == 0 else a for s, a, ax in zip(stacked, args, in_axes, strict=True)]
    u = rng.standard_normal(np.shape(fun(*args)))
    v = [rng.standard_normal(np.shape(a)) for a in args]

    def vjp_of(*xs):
        return autodiff.vjp(fun, *xs)[1](u)

    def jvp_of(*xs):
        return autodiff.jvp(fun, xs, tuple(v))[1]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a loop fallback would warn
        for f in (fun, vjp_of, jvp_of):
            got = autodiff.vmap(f, in_axes=in_axes)(*inputs)
            want = [f(*ex) for ex in example]
            got_leaves, want_leaves = autodiff.tree_leaves(got), autodiff.tree_leaves(want)
            if isinstance(want[0], tuple):  # one stacked array per argument
                want_leaves = [np.stack([w[i] for w in want]) for i in range(len(want[0]))]
            else:
                want_leaves = [np.stack(want)]
            for g_, w_ in zip(got_leaves, want_leaves, strict=True):
                np.testing.assert_allclose(g_, w_, rtol=1e-10, atol=1e-12)


def test_every_primitive_has_a_batching_rule():
    assert not [n for n, p in PRIMITIVES.items() if p.batch is None]


def test_float_scalar_inputs_give_float_scalar_gradients():
    for name in ["exp", "tanh", "sin", "sigmoid", "log"]:
        g = autodiff.grad(getattr(anp, name))(0.7)
        assert np.shape(g) == ()


def test_fast_forward_functions_match_scipy_references():
    """sigmoid and softplus have their own forward functions (faster than scipy's on large
    arrays): they must agree with expit and logaddexp to a few ulps, with no overflow warning."""
    import scipy.special

    x = np.concatenate([np.linspace(-700.0, 800.0, 30001), [0.0, -0.0, 1e-300, 36.7, -36.7]])
    with np.errstate(all="raise", under="ignore"):
        sig, soft = anp.sigmoid(x), anp.softplus(x)
    eps = np.finfo(float).eps
    assert np.max(np.abs(sig - scipy.special.expit(x)) / scipy.special.expit(x)) <= 4 * eps
    ref = np.logaddexp(0.0, x)
    assert np.max(np.abs(soft - ref) / ref) <= 4 * eps
    assert anp.sigmoid(-1e4) >= 0.0 and anp.sigmoid(1e4) == 1.0


def test_logistic_nll_matches_its_composite_and_is_one_node():
    """The fused negative log-likelihood gives the value and gradient of softplus(z) − y·z
    written with primitives (its gradient exactly expit(z) − y), as one node on the tape."""
    rng = np.random.default_rng(3)
    z, y = 5 * rng.standard_normal((4, 7)), (rng.random((4, 7)) < 0.5).astype(float)
    fused = autodiff.value_and_grad(lambda z_: anp.sum(anp.logistic_nll(z_, y)))(z)
    composite = autodiff.value_and_grad(lambda z_: anp.sum(anp.softplus(z_) - y * z_))(z)
    np.testing.assert_allclose(fused[0], composite[0], rtol=1e-14)
    np.testing.assert_array_equal(fused[1], scipy.special.expit(z) - y)
    np.testing.assert_allclose(fused[1], composite[1], rtol=1e-13, atol=1e-15)
    graph = autodiff.trace(lambda z_: anp.sum(anp.logistic_nll(z_, y)), z)
    assert [node.op for node in graph.nodes] == ["input", "logistic_nll", "sum"]


def test_dense_and_softmax_nll_give_their_composites_bits_as_one_node_each():
    """A dense layer and the softmax cross-entropy give the same bits as matmul + add and
    logsumexp − Σ y·z (value and every gradient), each one node on the tape."""
    rng = np.random.default_rng(4)
    X, W, b = rng.standard_normal((6, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    Y = np.eye(3)[rng.integers(0, 3, 6)]

    def fused(W_, b_):
        return anp.sum(anp.softmax_nll(anp.dense(X, W_, b_), Y, axis=-1))

    def composite(W_, b_):
        z = anp.matmul(X, W_) + b_
        return anp.sum(anp.logsumexp(z, axis=-1) - anp.sum(z * Y, axis=-1))

    got = autodiff.value_and_grad(fused, argnums=(0, 1))(W, b)
    want = autodiff.value_and_grad(composite, argnums=(0, 1))(W, b)
    assert got[0] == want[0]
    for g, w in zip(got[1], want[1], strict=True):
        np.testing.assert_array_equal(g, w)
    graph = autodiff.trace(fused, W, b)
    assert [node.op for node in graph.nodes if node.op != "input"] == [
        "dense",
        "softmax_nll",
        "sum",
    ]


def test_broadcast_to_view_matches_numpy_and_is_read_only():
    """broadcast_to makes zero-stride views itself (faster than np.broadcast_to's checks)."""
    rng = np.random.default_rng(0)
    cases = [((), (3, 4)), ((4,), (3, 4)), ((3, 1), (3, 4)), ((2, 1, 5), (2, 3, 5)),
             ((1, 0), (3, 0)), ((3, 4), (2, 3, 4)), ((3, 4), (3, 4))]  # fmt: skip
    for have, want in cases:
        x = rng.normal(size=have)
        out = anp.broadcast_to(x, want)
        np.testing.assert_array_equal(out, np.broadcast_to(x, want))
        assert out.shape == want and not out.flags.writeable
    strided = rng.normal(size=(4, 6))[:, ::2]  # not contiguous: NumPy's own path
    np.testing.assert_array_equal(
        anp.broadcast_to(strided, (2, 4, 3)), np.broadcast_to(strided, (2, 4, 3))
    )
    with pytest.raises(ValueError):
        anp.broadcast_to(np.ones(3), (4,))


def test_vecdot_is_reached_from_plain_numpy():
    a, b = np.arange(6.0).reshape(2, 3), np.ones(3)
    g = autodiff.grad(lambda x: np.sum(np.vecdot(x, b) ** 2))(a)
    np.testing.assert_allclose(g, 2 * (a @ b)[:, None] * b)


def test_variadic_rules_must_come_in_pairs_from_one_argument():
    from autodiff.numpy.registry import Variadic, defprimitive

    def rule(k, g, ans, *args):
        return g

    for vjp, jvp in [(Variadic(1, rule), {}), (Variadic(1, rule), Variadic(0, rule))]:
        with pytest.raises(ValueError, match="Variadic"):
            defprimitive("not_registered", np.concatenate, vjp=vjp, jvp=jvp)
    assert "not_registered" not in PRIMITIVES


def test_rules_are_checked_at_registration():
    from autodiff.numpy.registry import defprimitive

    ok = lambda g, ans, x: g  # noqa: E731
    bad = [
        dict(fun=None, vjp=[ok], jvp=[ok]),
        dict(fun=np.sin, vjp=["not a rule"], jvp=[ok]),
        dict(fun=np.sin, vjp=[ok], jvp=[None]),
        dict(fun=np.sin, vjp=[ok], jvp=[ok], batch=3),
    ]
    for kwargs in bad:
        with pytest.raises(TypeError, match="not_registered.*not callable"):
            defprimitive("not_registered", **kwargs)
    assert "not_registered" not in PRIMITIVES


# ------------------------------------------- plain NumPy calls on traced values
def _x(*shape):
    return lambda rng: rng.standard_normal(shape)


def _pos(*shape):
    return lambda rng: rng.uniform(0.3, 2.0, shape)


def _spd(n):
    return lambda rng: well_conditioned(rng, (n, n)) @ well_conditioned(rng, (n, n)).T


# One entry per NumPy/SciPy function that dispatch sends to autodiff: (call, input makers).
# The call is run on plain arrays (against NumPy's own answer) and on traced ones (against
# finite differences), so composites written with primitives are checked like primitives.
NUMPY_CASES = {
    np.add: (np.add, [_x(2, 3), _x(3)]),
    np.subtract: (np.subtract, [_x(2, 3), _x(3)]),
    np.multiply: (np.multiply, [_x(2, 3), _x(3)]),
    np.divide: (np.divide, [_x(2, 3), _pos(3)]),
    np.power: (np.power, [_pos(2, 3), _x(3)]),
    np.negative: (np.negative, [_x(3)]),
    np.positive: (np.positive, [_x(3)]),
    np.exp: (np.exp, [_x(3)]),
    np.log: (np.log, [_pos(3)]),
    np.log1p: (np.log1p, [_pos(3)]),
    np.expm1: (np.expm1, [_x(3)]),
    np.sqrt: (np.sqrt, [_pos(3)]),
    np.square: (np.square, [_x(3)]),
    np.reciprocal: (np.reciprocal, [_pos(3)]),
    np.sin: (np.sin, [_x(3)]),
    np.cos: (np.cos, [_x(3)]),
    np.tanh: (np.tanh, [_x(3)]),
    np.tan: (np.tan, [_x(3)]),
    np.sinh: (np.sinh, [_x(3)]),
    np.cosh: (np.cosh, [_x(3)]),
    np.arctan: (np.arctan, [_x(3)]),
    np.log2: (np.log2, [_pos(3)]),
    np.log10: (np.log10, [_pos(3)]),
    np.hypot: (np.hypot, [_pos(2, 3), _pos(3)]),
    np.absolute: (np.absolute, [_pos(3)]),
    np.sign: (np.sign, [_pos(3)]),
    np.maximum: (np.maximum, [_x(3), lambda rng: rng.standard_normal(3) + 5.0]),
    np.minimum: (np.minimum, [_x(3), lambda rng: rng.standard_normal(3) + 5.0]),
    np.logaddexp: (np.logaddexp, [_x(2, 3), _x(3)]),
    np.matmul: (np.matmul, [_x(2, 3), _x(3, 4)]),
    scipy.special.expit: (scipy.special.expit, [_x(3)]),
    scipy.special.erf: (scipy.special.erf, [_x(3)]),
    np.sum: (lambda x: np.sum(x, axis=1), [_x(2, 3)]),
    np.mean: (lambda x: np.mean(x, axis=0, keepdims=True), [_x(2, 3)]),
    np.max: (lambda x: np.max(x, axis=1), [_x(2, 3)]),
    np.min: (lambda x: np.min(x), [_x(2, 3)]),
    np.amax: (lambda x: np.amax(x, axis=0), [_x(2, 3)]),
    np.amin: (lambda x: np.amin(x, axis=0), [_x(2, 3)]),
    np.prod: (lambda x: np.prod(x, axis=1), [_pos(2, 3)]),
    np.cumsum: (lambda x: np.cumsum(x, axis=1), [_x(2, 3)]),
    np.var: (lambda x: np.var(x, axis=1, ddof=1), [_x(2, 3)]),
    np.std: (lambda x: np.std(x, axis=0, keepdims=True), [_x(3, 2)]),
    np.dot: (np.dot, [_x(2, 3), _x(3)]),
    np.einsum: (lambda a, b: np.einsum("ij,kj->ik", a, b), [_x(2, 3), _x(4, 3)]),
    np.outer: (np.outer, [_x(3), _x(2, 2)]),
    np.inner: (np.inner, [_x(2, 3), _x(4, 3)]),
    np.tensordot: (lambda a, b: np.tensordot(a, b, axes=([1, 0], [0, 2])), [_x(2, 3), _x(3, 4, 2)]),
    np.trace: (np.trace, [_x(3, 4)]),
    np.linalg.norm: (np.linalg.norm, [_x(2, 3)]),
    np.linalg.solve: (np.linalg.solve, [_spd(3), _x(3)]),
    np.linalg.inv: (np.linalg.inv, [_spd(3)]),
    np.linalg.cholesky: (lambda b: np.linalg.cholesky(b @ b.T + np.eye(3)), [_x(3, 3)]),
    np.linalg.slogdet: (lambda a: np.linalg.slogdet(a)[1], [_spd(3)]),
    np.transpose: (np.transpose, [_x(2, 3)]),
    np.reshape: (lambda x: np.reshape(x, (3, 2)), [_x(2, 3)]),
    np.expand_dims: (lambda x: np.expand_dims(x, 1), [_x(2, 3)]),
    np.squeeze: (np.squeeze, [_x(2, 1, 3)]),
    np.broadcast_to: (lambda x: np.broadcast_to(x, (2, 3)), [_x(3)]),
    np.concatenate: (lambda a, b: np.concatenate([a, b], axis=None), [_x(2, 3), _x(2)]),
    np.stack: (lambda a, b: np.stack([a, b], axis=-1), [_x(2, 3), _x(2, 3)]),
    np.swapaxes: (lambda x: np.swapaxes(x, 0, 2), [_x(2, 3, 4)]),
    np.where: (lambda x, y: np.where(x > 0, x, y), [_x(2, 3), _x(3)]),
    np.clip: (lambda x: np.clip(x, None, 0.5), [_x(2, 3)]),
    np.take_along_axis: (
        lambda x: np.take_along_axis(x, np.array([[2, 0, 2], [1, 1, 0]]), axis=1),
        [_x(2, 3)],
    ),
    np.take: (lambda x: np.take(x, np.array([[2, 0], [-1, 2]]), axis=1), [_x(2, 3, 2)]),
    np.tile: (lambda x: np.tile(x, (2, 1, 2)), [_x(2, 3)]),
    np.repeat: (lambda x: np.repeat(x, [1, 0, 3], axis=1), [_x(2, 3)]),
    np.pad: (lambda x: np.pad(x, ((1, 0), (2, 1)), constant_values=0.5), [_x(2, 3)]),
    np.flip: (lambda x: np.flip(x, axis=1), [_x(2, 3)]),
    np.roll: (lambda x: np.roll(x, (1, -4), axis=(0, 1)), [_x(2, 3)]),
    np.split: (lambda x: np.split(x, [1, 3], axis=1)[1], [_x(2, 4)]),
    np.hstack: (lambda a, b: np.hstack([a, b]), [_x(2, 3), _x(2, 1)]),
    np.vstack: (lambda a, b: np.vstack([a, b]), [_x(2, 3), _x(3)]),
    np.diag: (lambda x: np.diag(np.diag(x, 1), -1), [_x(3, 4)]),
    np.sort: (lambda x: np.sort(x, axis=0), [_x(3, 2)]),
    np.atleast_1d: (np.atleast_1d, [lambda rng: rng.standard_normal()]),
    np.atleast_2d: (np.atleast_2d, [_x(3)]),
}
if hasattr(np, "vecdot"):
    NUMPY_CASES[np.vecdot] = (np.vecdot, [_x(2, 3), _x(3)])


def test_every_dispatched_numpy_function_has_a_case():
    from autodiff.numpy.dispatch import FUNCTIONS, UFUNCS

    missing = {getattr(f, "__name__", f) for f in set(FUNCTIONS) | set(UFUNCS)} - {
        getattr(f, "__name__", f) for f in NUMPY_CASES
    }
    assert not missing, f"add NUMPY_CASES entries for {sorted(missing)}"


@pytest.mark.parametrize(
    "func", list(NUMPY_CASES), ids=[getattr(f, "__name__", str(f)) for f in NUMPY_CASES]
)
def test_plain_numpy_call_matches_numpy_and_finite_differences(func):
    call, makers = NUMPY_CASES[func]
    rng = np.random.default_rng(0)
    args = [m(rng) for m in makers]
    with_tracer = autodiff.vjp(lambda x: call(x, *args[1:]), args[0])[0]
    np.testing.assert_allclose(with_tracer, call(*args), rtol=1e-12)
    assert autodiff.check_grad(call, *args, modes=("rev", "fwd"), rtol=1e-6) <= 1e-6


def test_wrap_index_counts_negatives_from_the_end_and_refuses_out_of_range():
    np.testing.assert_array_equal(wrap_index(np.array([[-1, 0], [2, -3]]), 3), [[2, 0], [2, 0]])
    for bad in (3, -4):
        with pytest.raises(
            IndexError, match=f"index {bad} is out of bounds for axis 0 with size 3"
        ):
            wrap_index(np.array([0, bad]), 3)
    with pytest.raises(IndexError, match="only integers"):
        wrap_index(np.array([0.5]), 3)


def test_logaddexp_kernel_is_numpys_to_rounding_and_softplus_bits():
    """The logaddexp primitive's vectorized kernel: NumPy's values to an ulp of the terms,
    NumPy's exact values at the infinities and NaN, and logaddexp(0, z) = softplus(z) bit for
    bit (a custom loss written with np.logaddexp gets the built-in problems' kernel)."""
    from autodiff.numpy.elementwise import _logaddexp, _softplus

    rng = np.random.default_rng(0)
    for scale in (1.0, 30.0, 800.0):
        a, b = rng.standard_normal((2, 10_000)) * scale
        ulp = np.spacing(np.maximum(np.abs(a), np.abs(b)) + 1.0)
        assert np.all(np.abs(_logaddexp(a, b) - np.logaddexp(a, b)) <= ulp)
    special = np.array([np.inf, -np.inf, np.nan, 0.0, 5.0, 1e308, -1e308])
    x, y = np.meshgrid(special, special)
    with np.errstate(over="ignore", invalid="ignore"):
        np.testing.assert_array_equal(_logaddexp(x, y), np.logaddexp(x, y))
    z = rng.standard_normal(2048) * 5
    assert np.array_equal(_logaddexp(0.0, z), _softplus(z))
    assert float(_logaddexp(1.0, 2.0)) == float(np.logaddexp(1.0, 2.0))
