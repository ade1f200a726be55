"""Every registered primitive against central finite differences: VJP, JVP and second order.

The table CASES has one entry per primitive; a test fails if a primitive is
registered without one, so a new primitive cannot ship untested. Each entry
draws its inputs (respecting the primitive's domain and staying away from kinks)
for shapes drawn by hypothesis, including broadcasting pairs and keepdims.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import autodiff
import autodiff.numpy as anp
from autodiff.numpy import PRIMITIVES
from autodiff.numpy.shapes import concatenate_args, untake

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


def reduction(fun):
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
        return (lambda x: fun(x, axis=axes, keepdims=keepdims)), [normal(rng, shape)]

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


def concatenate_case(data, rng):
    axis = data.draw(st.integers(0, 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    arrays = [normal(rng, (k, 2) if axis == 0 else (2, k)) for k in sizes]
    return (lambda *xs: concatenate_args(axis, *xs)), arrays


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
    "absolute": unary(anp.abs, away_from_zero),
    "sign": unary(anp.sign, away_from_zero),
    "logaddexp": binary(anp.logaddexp),
    "maximum": maximum_case(anp.maximum),
    "minimum": maximum_case(anp.minimum),
    "where": where_case,
    "clip": clip_case,
    "sum": reduction(anp.sum),
    "max": reduction(anp.max),
    "min": reduction(anp.min),
    "logsumexp": reduction(anp.logsumexp),
    "matmul": matmul_case,
    "vecdot": vecdot_case,
    "reshape": reshape_case,
    "transpose": transpose_case,
    "expand_dims": expand_dims_case,
    "squeeze": squeeze_case,
    "broadcast_to": broadcast_case,
    "sum_to": sum_to_case,
    "getitem": getitem_case,
    "untake": untake_case,
    "concatenate": concatenate_case,
}


def test_every_primitive_has_a_case():
    assert set(CASES) == set(PRIMITIVES), "add a CASES entry for each new primitive"


@pytest.mark.parametrize("name", sorted(CASES))
@SETTINGS
@given(data=st.data())
def test_first_order_against_finite_differences(name, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    fun, args = CASES[name](data, rng)
    assert autodiff.check_grad(fun, *args, modes=("rev", "fwd"), rtol=1e-6) <= 1e-6


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=4, deadline=None, derandomize=True)
@given(data=st.data())
def test_second_order_against_finite_differences(name, data):
    """The derivative rules are differentiable again: check the gradient of ⟨u, f(x)⟩."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    fun, args = CASES[name](data, rng)
    u = rng.standard_normal(np.shape(fun(*args)))

    def grad_of_projection(*xs):
        return autodiff.grad(lambda *a: anp.sum(u * fun(*a)), argnums=0)(*xs)

    assert autodiff.check_grad(grad_of_projection, *args, modes=("rev", "fwd"), rtol=1e-5) <= 1e-5


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
