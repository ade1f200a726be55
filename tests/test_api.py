"""The differentiation operators: lecture numbers, modes agreeing, second order, bad input."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff
import autodiff.numpy as anp
from autodiff.core import Primitive


def F(x, y):
    return x**3 * (x + 3 * y)


# ------------------------------------------------------------------ lecture (T1)
def test_lecture_example_exact():
    value, (dx, dy) = autodiff.value_and_grad(F, argnums=(0, 1))(2.0, 3.0)
    assert (value, dx, dy) == (88.0, 140.0, 24.0)
    # the board version x³(x + 2y): 64, 104, 16
    board = autodiff.value_and_grad(lambda x, y: x**3 * (x + 2 * y), argnums=(0, 1))(2.0, 3.0)
    assert board == (64.0, (104.0, 16.0))


def test_lecture_intermediates_in_the_graph():
    graph = autodiff.trace(F, 2.0, 3.0).backward()
    by_label = {n.label: n for n in graph.nodes}
    assert by_label["power(·, 3)"].value == 8 and by_label["power(·, 3)"].adjoint == 11  # c, c̄
    assert by_label["add"].value == 11 and by_label["add"].adjoint == 8  # s, s̄
    assert by_label["x"].adjoint == 140 and by_label["y"].adjoint == 24
    assert graph.nodes[graph.output].value == 88 and graph.nodes[graph.output].adjoint == 1


def test_forward_mode_pays_one_pass_per_input():
    from autodiff.demo import count_calls

    f = count_calls(lambda v: anp.sum(anp.tanh(v) * v))
    x = np.linspace(-1, 1, 7)
    jf = autodiff.jacobian(f, mode="fwd")(x)
    assert f.calls == 7
    f.calls = 0
    jr = autodiff.jacobian(f, mode="rev")(x)
    assert f.calls == 1
    np.testing.assert_allclose(jf, jr, rtol=1e-14)


def test_gradient_costs_a_small_constant_times_f():
    """theory.md §7 test constant: ops(f and ∇f) ≤ 5 · ops(f), counted on the traced graphs."""

    def mlp(w):
        h = anp.tanh(X @ w[:12].reshape(4, 3))
        return anp.mean(anp.logsumexp(h, axis=1) - h[:, 0])

    X = np.random.default_rng(0).standard_normal((5, 4))
    for f, args in [(F, (2.0, 3.0)), (mlp, (np.ones(12) * 0.1,))]:
        ops_f = len([n for n in autodiff.trace(f, *args).nodes if n.op != "input"])
        both = autodiff.value_and_grad(f, argnums=tuple(range(len(args))))

        def f_and_grad(*a, both=both):
            value, grads = both(*a)
            return value + sum(anp.sum(g) for g in grads)  # one output that needs both

        ops_both = len([n for n in autodiff.trace(f_and_grad, *args).nodes if n.op != "input"])
        assert ops_both <= 5 * ops_f, (ops_f, ops_both)


# ------------------------------------------------------------------- api basics
def test_grad_shapes_and_argnums():
    x, w = np.arange(6.0).reshape(2, 3), np.ones(3)

    def f(x, w):
        return anp.sum(anp.sin(x @ w))

    gx = autodiff.grad(f)(x, w)
    gx2, gw = autodiff.grad(f, argnums=(0, 1))(x, w)
    assert gx.shape == x.shape and gw.shape == w.shape
    np.testing.assert_array_equal(gx, gx2)
    np.testing.assert_allclose(gw, np.cos(x @ w) @ x)


def test_unused_input_gets_zero_gradient():
    gx, gy = autodiff.grad(lambda x, y: x * 2.0, argnums=(0, 1))(1.0, np.ones(3))
    assert gx == 2.0
    np.testing.assert_array_equal(gy, np.zeros(3))
    assert autodiff.grad(lambda x: 3.0)(np.ones(2)).tolist() == [0.0, 0.0]


def test_vjp_is_idempotent():
    out, vjp_fn = autodiff.vjp(lambda x: anp.exp(x) * x, np.array([0.5, 1.0]))
    first = vjp_fn(np.ones(2))[0]
    second = vjp_fn(np.ones(2))[0]
    np.testing.assert_array_equal(first, second)
    graph = autodiff.trace(F, 2.0, 3.0)
    assert graph.backward().nodes[0].adjoint == graph.backward().nodes[0].adjoint == 140


def test_deep_graph_needs_no_recursion():
    def deep(x):
        for _ in range(50_000):
            x = x * 1.0000001 + 1e-9
        return x

    assert autodiff.grad(deep)(1.0) == pytest.approx(1.0000001**50_000, rel=1e-9)


@st.composite
def programs(draw):
    """A random straight-line program on a vector: a list of (op, operand index) steps."""
    return draw(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 10)), min_size=1, max_size=8))


STEPS = [
    lambda a, b: anp.sin(a) * b,
    lambda a, b: anp.tanh(a + b),
    lambda a, b: a * anp.exp(-b * b),
    lambda a, b: anp.logsumexp(anp.stack([a, b]), axis=0),
    lambda a, b: anp.softplus(a) - b[::-1],
    lambda a, b: a / (1.0 + b * b),
    lambda a, b: anp.sigmoid(a) * anp.mean(b),
]


def run_program(steps, x):
    values = [x]
    for op, k in steps:
        values.append(STEPS[op](values[-1], values[k % len(values)]))
    return values[-1]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(steps=programs(), seed=st.integers(0, 1000))
def test_jvp_and_vjp_are_transposes(steps, seed):
    """⟨u, J v⟩ from forward mode equals ⟨Jᵀu, v⟩ from reverse mode, on random programs."""
    rng = np.random.default_rng(seed)
    x, v, u = rng.standard_normal((3, 5))
    _, jv = autodiff.jvp(lambda x: run_program(steps, x), (x,), (v,))
    _, vjp_fn = autodiff.vjp(lambda x: run_program(steps, x), x)
    (jtu,) = vjp_fn(u)
    assert np.dot(u, jv) == pytest.approx(np.dot(jtu, v), rel=1e-10, abs=1e-12)


# ---------------------------------------------------------------- second order
def test_hessian_of_quadratic_is_exact():
    rng = np.random.default_rng(1)
    B = rng.standard_normal((4, 4))
    A = B + B.T

    def q(x):
        return 0.5 * x @ A @ x

    for mode in ("rev", "fwd"):
        H = autodiff.jacobian(autodiff.grad(q), mode=mode)(rng.standard_normal(4))
        np.testing.assert_array_equal(H, A)
    v = rng.standard_normal(4)
    np.testing.assert_allclose(autodiff.hvp(q, np.ones(4), v), A @ v, rtol=1e-14)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000))
def test_hvp_against_finite_differences_of_the_gradient(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((6, 3))

    def loss(w):
        return anp.mean(anp.softplus(-(X @ w))) + 0.1 * anp.sum(anp.sin(w) ** 2)

    w, v = rng.standard_normal((2, 3))
    g = autodiff.grad(loss)
    h = 1e-4
    fd = (g(w + h * v) - g(w - h * v)) / (2 * h)
    np.testing.assert_allclose(autodiff.hvp(loss, w, v), fd, rtol=1e-6, atol=1e-9)


def test_second_and_third_derivatives_of_scalars():
    f = lambda x: anp.sin(x) * x**2  # noqa: E731
    d2 = autodiff.grad(autodiff.grad(f))(0.7)
    d3 = autodiff.grad(autodiff.grad(autodiff.grad(f)))(0.7)
    x = 0.7
    assert d2 == pytest.approx(2 * np.sin(x) + 4 * x * np.cos(x) - x**2 * np.sin(x), rel=1e-12)
    assert d3 == pytest.approx(6 * np.cos(x) - 6 * x * np.sin(x) - x**2 * np.cos(x), rel=1e-12)


def test_nested_grads_do_not_confuse_their_inputs():
    """d/dx [x · d/dy (x + y)] = 1: the inner derivative must not see the outer x."""
    inner = lambda x: autodiff.grad(lambda y: x + y)(1.0)  # noqa: E731
    assert autodiff.grad(lambda x: x * inner(x))(3.0) == 1.0


# ------------------------------------------------------------- plain NumPy calls
def test_plain_numpy_on_traced_values_is_differentiated():
    def f(x):
        return np.sum(np.tanh(x) * np.exp(x)) + np.mean(np.maximum(x, 0.0)) + np.dot(x, x)

    x = np.array([0.3, -1.2, 2.0])

    def g(x):
        return anp.sum(anp.tanh(x) * anp.exp(x)) + anp.mean(anp.maximum(x, 0.0)) + x @ x

    np.testing.assert_allclose(autodiff.grad(f)(x), autodiff.grad(g)(x), rtol=1e-15)
    assert autodiff.check_grad(f, x) < 1e-8


def test_numpy_array_on_the_left_of_an_operator():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    g = autodiff.grad(lambda x: anp.sum(A @ x + np.ones(2) * x - np.ones(2) / (1 + x * x)))
    assert autodiff.check_grad(lambda x: anp.sum(A @ x), np.ones(2)) < 1e-9
    assert g(np.ones(2)).shape == (2,)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda x: np.arcsin(x), "numpy.arcsin"),
        (lambda x: np.median(x), "numpy.median"),
        (lambda x: np.add.reduce(x), "numpy.add.reduce"),
        (lambda x: np.cumprod(x), "numpy.cumprod"),
    ],
)
def test_unsupported_numpy_function_names_itself(call, name):
    with pytest.raises(TypeError, match=name.replace(".", r"\.")):
        autodiff.grad(lambda x: anp.sum(call(x)))(np.ones(3))


def test_converting_a_traced_value_to_plain_numpy_is_refused():
    with pytest.raises(TypeError, match="drop its derivative"):
        autodiff.grad(lambda x: anp.sum(np.asarray(x)))(np.ones(2))
    with pytest.raises(TypeError, match="float"):
        autodiff.grad(lambda x: float(x))(1.0)


def test_comparisons_and_control_flow_use_values():
    def relu_loop(x):
        return x * 2.0 if x > 0 else x * 0.5

    assert autodiff.grad(relu_loop)(1.0) == 2.0 and autodiff.grad(relu_loop)(-1.0) == 0.5


# --------------------------------------------------------------------- bad input
def test_grad_of_non_scalar_points_to_vjp_and_jacobian():
    with pytest.raises(ValueError, match=r"scalar.*vjp.*jacobian"):
        autodiff.grad(lambda x: x * 2)(np.ones(3))


@pytest.mark.parametrize(
    "arg, what",
    [(np.arange(3), "argument 0 \\(x\\) has dtype int64"), ([1.0, 2], r"argument 0 \(x\)\[1\]")],
)
def test_non_float_inputs_are_refused_by_name(arg, what):
    def f(x):
        return anp.sum(x)

    with pytest.raises(TypeError, match=what):
        autodiff.grad(f)(arg)


def test_integer_second_argument_is_named():
    with pytest.raises(TypeError, match=r"argument 1 \(y\).*int"):
        autodiff.grad(lambda x, y: x * y, argnums=1)(1.0, 2)


def _returns_tuple(x):
    return anp.sum(x * x), x


@pytest.mark.parametrize(
    "call, what",
    [
        (lambda x: autodiff.grad(lambda a: None)(x), "grad: f must return .* NoneType"),
        (lambda x: autodiff.value_and_grad(_returns_tuple)(x), "grad: .* tuple; differentiate"),
        (lambda x: autodiff.grad(lambda a: [anp.sum(a)])(x), "grad: .* list"),
        (lambda x: autodiff.grad(lambda a: "loss")(x), "grad: .* str"),
        (lambda x: autodiff.vjp(lambda a: (a, "out"), x), "vjp: .* str"),
        (lambda x: autodiff.jvp(lambda a: {"a": None}, (x,), (x,)), "jvp: .* dict"),
        (lambda x: autodiff.jacobian(lambda a: None)(x), "jacobian: .* NoneType"),
        (lambda x: autodiff.jacobian(lambda a: (a, "out"), mode="fwd")(x), "jacobian: .* str"),
    ],
)
def test_an_output_that_is_not_an_array_is_refused(call, what):
    """A forgotten return or a tuple of outputs would otherwise differentiate as a constant
    (zero derivative, no error)."""
    with pytest.raises(TypeError, match=what):
        call(np.ones(3))


def test_constant_outputs_still_have_zero_derivatives():
    assert np.array_equal(autodiff.grad(lambda a: 3.0)(np.ones(2)), np.zeros(2))
    assert autodiff.jacobian(lambda a: np.ones(2))(np.ones(3)).shape == (2, 3)


@pytest.mark.parametrize(
    "call, what",
    [
        (lambda: autodiff.jacobian(lambda a: a * 2)(np.arange(2)), r"jacobian: argument 0 \(a\)"),
        (
            lambda: autodiff.hvp(lambda a: anp.sum(a**3), np.arange(2), np.ones(2)),
            r"hvp: argument 0 \(a\)",
        ),
        (lambda: autodiff.hvp(anp.sum, np.ones(2), np.ones(3)), r"hvp: v has shape \(3,\)"),
        (lambda: autodiff.jvp(anp.sin, np.ones(2), np.ones(2)), "jvp: primals must be a tuple"),
        (lambda: autodiff.jacobian(anp.sin, argnums=1)(np.ones(2)), "jacobian: argnums asks"),
        (lambda: autodiff.jacobian(anp.sin, argnums=-1), "jacobian: argnums must be a non-neg"),
        (lambda: autodiff.jacobian(anp.sin, argnums=True), "jacobian: argnums must be a non-neg"),
        (lambda: autodiff.grad(anp.sin, argnums=(0, True)), "grad: argnums must be a non-neg"),
        (lambda: autodiff.hvp(_returns_tuple, np.ones(2), np.ones(2)), "hvp: f must return"),
        (lambda: autodiff.hvp(anp.sin, np.ones(2), np.ones(2)), "hvp needs f to return a scalar"),
    ],
)
def test_errors_name_the_function_called_and_the_users_argument(call, what):
    with pytest.raises((TypeError, ValueError), match=what):
        call()


def test_jacobian_mode_is_validated():
    with pytest.raises(ValueError, match="mode must be one of"):
        autodiff.jacobian(anp.sin, mode="sideways")


def test_vjp_cotangent_shape_is_checked():
    _, vjp_fn = autodiff.vjp(anp.sin, np.ones(3))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        vjp_fn(np.ones(2))


def test_missing_rule_names_primitive_and_argument():
    floor_like = Primitive("floorish", np.floor, vjps={}, jvps={})
    with pytest.raises(TypeError, match="floorish.*argument 0"):
        autodiff.grad(lambda x: floor_like(x))(1.5)


def test_check_grad_catches_a_wrong_rule():
    wrong = Primitive(
        "wrong_sin",
        np.sin,
        vjps={0: lambda g, ans, x: g * anp.cos(x) * 1.001},
        jvps={0: lambda t, ans, x: t * anp.cos(x)},
    )
    with pytest.raises(autodiff.GradientCheckError, match="rev-mode.*argument 0"):
        autodiff.check_grad(wrong, np.array([0.1, 0.2]))
    assert autodiff.check_grad(wrong, np.array([0.1, 0.2]), modes=("fwd",)) < 1e-8


def test_traced_values_look_like_arrays():
    seen = {}

    def f(x):
        seen.update(shape=x.shape, ndim=x.ndim, dtype=x.dtype, size=x.size, length=len(x))
        rows = [row.sum() for row in x]  # iteration yields traced rows
        return anp.sum(x.T @ x) + x.reshape(6).max() + x.mean(axis=0).sum() + rows[1]

    x = np.arange(6.0).reshape(3, 2) / 10
    g = autodiff.grad(f)(x)
    assert seen == {"shape": (3, 2), "ndim": 2, "dtype": np.float64, "size": 6, "length": 3}
    assert g.shape == (3, 2)
    assert autodiff.check_grad(f, x) < 1e-8


def test_differentiation_leaves_no_reference_cycles():
    """Tapes are freed by reference counting alone: nothing waits for the cycle collector."""
    X = np.random.default_rng(0).standard_normal((50, 4))

    def loss(w):
        return anp.mean(anp.softplus(X @ w)) + anp.sum(w * w)

    w = np.ones(4)
    gc.collect()
    gc.disable()
    try:
        autodiff.grad(loss)(w)
        autodiff.hvp(loss, w, w)
        autodiff.jacobian(autodiff.grad(loss))(w)
        out, vjp_fn = autodiff.vjp(loss, w)
        vjp_fn(1.0)
        del out, vjp_fn
        autodiff.trace(loss, w).backward()
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_grad_of_the_identity_and_of_a_constant():
    assert autodiff.grad(lambda x: x)(1.5) == 1.0
    assert autodiff.grad(lambda x: anp.sum(x))(np.ones(2)).tolist() == [1.0, 1.0]
    assert autodiff.grad(lambda x: 2.0)(1.5) == 0.0


def test_vjp_fn_reports_the_memory_of_its_trace_and_can_be_reused():
    """Recording once and calling vjp_fn many times (e.g. Hessian-vector products as VJPs of a
    gradient) gives the same products as hvp; nbytes counts the arrays the trace keeps."""
    A = np.random.default_rng(0).normal(size=(50, 4))

    def f(x):
        return anp.sum(anp.softplus(A @ x))

    x = np.linspace(-1.0, 1.0, 4)
    _, vjp_fn = autodiff.vjp(autodiff.grad(f), x)
    for v in np.eye(4):
        np.testing.assert_allclose(vjp_fn(v)[0], autodiff.hvp(f, x, v), rtol=1e-12)
    small = autodiff.vjp(lambda z: anp.sum(z * z), np.ones(10))[1].nbytes()
    large = autodiff.vjp(lambda z: anp.sum(z * z), np.ones(1000))[1].nbytes()
    assert 0 < small < large and large >= 1000 * 8


# ----------------------------------------------- issue 13: breadth and clear errors
def test_clip_gradient_when_lo_exceeds_hi_follows_numpy():
    """NumPy's np.clip gives hi everywhere when lo > hi: all of the gradient goes to hi."""
    x = np.array([0.5, -0.2, 2.0])
    g = autodiff.grad(lambda lo, hi: anp.sum(anp.clip(x, lo, hi)), argnums=(0, 1))(1.0, 0.0)
    assert g == (0.0, 3.0)
    np.testing.assert_array_equal(np.clip(x, 1.0, 0.0), [0.0, 0.0, 0.0])
    # the usual order: x inside, below and above the bounds
    g = autodiff.grad(lambda x_, lo, hi: anp.sum(anp.clip(x_, lo, hi)), argnums=(0, 1, 2))
    gx, glo, ghi = g(x, 0.0, 1.0)
    np.testing.assert_array_equal(gx, [1.0, 0.0, 0.0])
    assert (glo, ghi) == (1.0, 1.0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: np.sum(x, where=x > 0), r"numpy\.sum .*where="),
        (lambda x: np.sum(x, dtype=np.float32), r"numpy\.sum .*dtype="),
        (lambda x: np.mean(x, axis=0, where=True, out=None, dtype=np.float32), r"numpy\.mean"),
        (lambda x: np.concatenate([x, x], axis=0, dtype=np.float32), r"numpy\.concatenate"),
        (lambda x: np.cumsum(x, 0, np.float32), r"numpy\.cumsum"),
        (lambda x: x.sum(dtype=np.float32), r"numpy\.ndarray\.sum .*dtype="),
        (lambda x: x.astype(np.float32), r"numpy\.ndarray\.astype"),
        (lambda x: x.item(), r"numpy\.ndarray\.item"),
        (lambda x: x.tolist(), r"numpy\.ndarray\.tolist"),
        (lambda x: x.cumprod(), r"numpy\.ndarray\.cumprod"),
        (lambda x: x.conj(), r"numpy\.ndarray\.conj"),
        (lambda x: x.reshape(3, order="F"), r"numpy\.ndarray\.reshape .*order='F'"),
        (
            lambda x: x.ravel("F"),
            r"numpy\.ndarray\.ravel on a traced value takes \(\); got 1 positional",
        ),
        (lambda x: np.reshape(x, (3,), order="F"), r"numpy\.reshape .*order='F'"),
        (lambda x: np.pad(x, 1, mode="reflect"), r"numpy\.pad: mode='reflect'"),
        (lambda x: np.linalg.norm(x.reshape(1, 3), ord=2), r"numpy\.linalg\.norm: ord=2"),
        (lambda x: np.einsum("ii->i", x.reshape(1, 3)[:, :1]), r"numpy\.einsum"),
        (lambda x: np.clip(x, None, None), r"numpy\.clip"),
        (lambda x: scipy.special.logsumexp(x), r"scipy\.special\.logsumexp.*autodiff\.numpy\."),
        (lambda x: scipy.special.softmax(x), r"scipy\.special\.softmax.*autodiff\.numpy\."),
    ],
)
def test_unsupported_keywords_and_methods_are_type_errors_naming_numpy(call, match):
    with pytest.raises(TypeError, match=match):
        autodiff.grad(lambda x: anp.sum(call(x)))(np.ones(3))


def test_neutral_keywords_and_supported_methods_work():
    x = np.array([0.5, -1.3, 2.2])
    cases = [
        (lambda v: np.sum(v, dtype=np.float64, out=None, where=True), lambda v: np.sum(v)),
        (lambda v: np.concatenate([v, v], axis=None), lambda v: np.concatenate([v, v])),
        (lambda v: np.clip(v, None, 1.0), lambda v: np.minimum(v, 1.0)),
        (lambda v: np.clip(v, 0.0, None), lambda v: np.maximum(v, 0.0)),
        (lambda v: v.astype(np.float64) * v.copy(), lambda v: v * v),
        (
            lambda v: v.std() + v.var(ddof=1) + v.prod(),
            lambda v: np.std(v) + np.var(v, ddof=1) + np.prod(v),
        ),
        (
            lambda v: v.cumsum()[v.argmax()] * v.astype(int),
            lambda v: np.cumsum(v)[2] * np.array([0, -1, 2]),
        ),
    ]
    for got, want in cases:
        np.testing.assert_allclose(autodiff.vjp(got, x)[0], want(x))
        assert autodiff.check_grad(lambda v, got=got: anp.sum(got(v)), x) < 1e-7


def test_missing_attributes_are_still_attribute_errors():
    """Only ndarray's public names become TypeErrors: NumPy's protocol probes
    (hasattr(x, '__array_interface__')) and plain typos stay AttributeErrors."""
    box = autodiff.Box(np.ones(2), 0, None)
    with pytest.raises(AttributeError):
        box.no_such_attribute  # noqa: B018
    assert not hasattr(box, "__array_interface__")
    with pytest.raises(TypeError, match=r"numpy\.ndarray\.cumprod"):
        box.cumprod  # noqa: B018


def test_prod_gradient_with_zeros_is_the_product_of_the_others():
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0]])
    g = autodiff.grad(lambda v: anp.sum(anp.prod(v, axis=1)))(x)
    np.testing.assert_array_equal(g, [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0]])
    g = autodiff.grad(lambda v: anp.prod(v))(np.array([2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 6.0, 0.0])


def test_new_functions_compose_in_a_users_loss():
    """A loss in plain NumPy using several of the new functions, against finite differences."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((6, 4)), np.array([0, 2, 1, 2, 0, 1])

    def loss(W):
        logits = np.einsum("nd,dk->nk", X, W)
        p = anp.softmax(logits, axis=1)
        picked = np.take_along_axis(p, y[:, None], axis=1)
        reg = np.linalg.norm(W) ** 2 + np.trace(W.T @ W) + np.var(W) + np.std(W, axis=0).sum()
        return (
            -np.mean(np.log(picked))
            + 0.01 * reg
            + np.sum(anp.gelu(W))
            + np.sum(np.tanh(np.sort(W, axis=0)))
        )

    assert autodiff.check_grad(loss, rng.standard_normal((4, 3))) < 1e-6


def test_autodiff_numpy_calls_with_wrong_arguments_name_the_function():
    """anp.sum(x, dtype=...) names autodiff.numpy.sum and what it takes, traced or not, not
    the forward helper that NumPy's reduction runs in."""
    for call in (
        lambda: anp.sum(np.ones(3), dtype=float),
        lambda: autodiff.grad(lambda x: anp.sum(x, dtype=float))(np.ones(3)),
        lambda: autodiff.grad(lambda x: anp.sum(anp.transpose(x, (1, 0), 3)))(np.ones((2, 2))),
    ):
        with pytest.raises(TypeError, match=r"autodiff\.numpy\.(sum|transpose)\(x, "):
            call()
