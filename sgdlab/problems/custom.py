"""``custom``: your own model, written as the loss of one example in plain NumPy.

``problem.loss=module:function`` names ``loss(params, example) -> scalar``, where ``params``
is a pytree (an array, or nested dicts, lists and tuples of float arrays) and ``example`` a
dict holding one sample; ``problem.init=module:function`` names a function returning the
initial ``params`` (called with a ``numpy.random.Generator`` seeded by ``problem.seed`` when
it takes an argument); ``problem.data`` is

- a ``.csv`` file (column ``problem.label`` is ``y``, the others ``x``) or an ``.npz`` file
  (arrays ``X`` and ``problem.label``): examples ``{"x": features, "y": label}``;
- a scikit-learn data set (``digits``, ``iris``, ``wine``, ``breast_cancer``, ``diabetes``;
  all classes kept): likewise ``{"x", "y"}``;
- ``module:function`` returning a dict of arrays whose leading dimension is the sample: the
  example holds one row of each.

The lab flattens ``params`` into the vector x of the problem contract and vectorizes the
loss over the minibatch and the replicates with :func:`autodiff.vmap`. With
``problem.solve=true``, f* and x* come from scipy's L-BFGS-B on the full-batch autodiff
gradient (tolerances recorded in the dataset); L and μ are never known exactly here (the run
estimates them locally). Bad input of any kind is a one-line ConfigError before any work.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path

import numpy as np

import autodiff
import autodiff.numpy as anp
from autodiff.tree import float_leaf_problem, leaf_paths, tree_flatten, tree_unflatten

from ..errors import ConfigError, require
from ..plugins import describe, load_function
from . import data as data_sources
from .base import ESTIMATED, Constants, Problem, lbfgs_minimum

SKLEARN = ("digits", "iris", "wine", "breast_cancer", "diabetes")
DATA_FORMS = (
    "a .csv or .npz path, a scikit-learn data set "
    f"({', '.join(SKLEARN)}), or module:function returning a dict of arrays"
)
SOLVER = "scipy L-BFGS-B on the full-batch autodiff gradient, gtol=1e-12, ftol=1e-15"


def ravel_pytree(params, key: str = "problem.init"):
    """``(x, unravel)``: the float leaves of ``params`` concatenated into one vector x (d,),
    and the function mapping such a vector (traced or not) back to the pytree."""
    leaves, treedef = tree_flatten(params)
    require(bool(leaves), key, "…", "returned no arrays; return a pytree of float arrays")
    flat = []
    for path, leaf in zip(leaf_paths(treedef), leaves, strict=True):
        problem = float_leaf_problem(leaf)
        if problem is not None:
            raise ConfigError(
                f"{key}: parameters{path} {problem}; parameters must be a pytree (dicts, "
                "lists, tuples) of float arrays (e.g. np.zeros(3))"
            )
        arr = np.asarray(leaf)
        flat.append(arr.astype(float).ravel())
    shapes = [np.shape(leaf) for leaf in leaves]
    ends = np.cumsum([0] + [int(np.prod(s)) for s in shapes])
    if len(leaves) == 1 and len(shapes[0]) == 1 and treedef.kind is None:
        return np.concatenate(flat), lambda x: x  # one vector: nothing to cut or reshape

    def unravel(x):
        parts = [
            anp.reshape(x[int(a) : int(b)], s)
            for a, b, s in zip(ends[:-1], ends[1:], shapes, strict=True)
        ]
        return tree_unflatten(treedef, parts)

    return np.concatenate(flat), unravel


def load_data(cfg) -> dict[str, np.ndarray]:
    """The data of ``problem.data`` as a dict of float or integer arrays, leading axis n."""
    source = str(cfg.data)
    key = "problem.data"
    if source.lower().endswith((".csv", ".npz")):
        X, y = data_sources._file(Path(source).expanduser(), str(cfg.label))
        arrays = {"x": X, "y": y}
    elif ":" in source:
        fun = load_function(source, key)
        try:
            arrays = fun()
        except Exception as err:  # noqa: BLE001 - the user's function failed
            raise ConfigError(f"{key}={source!r}: calling it failed: {describe(err)}") from None
        require(
            isinstance(arrays, dict) and bool(arrays) and all(isinstance(k, str) for k in arrays),
            key,
            source,
            f"must return a dict of arrays keyed by name, got {type(arrays).__name__}",
        )
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
    else:
        require(source in SKLEARN, key, source, f"must be {DATA_FORMS}")
        arrays = _sklearn(source)
    lengths = {k: (v.shape[0] if v.ndim else None) for k, v in arrays.items()}
    require(
        None not in lengths.values() and len(set(lengths.values())) == 1,
        key,
        source,
        f"arrays must share their leading (sample) dimension; got lengths {lengths}",
    )
    require(next(iter(lengths.values())) >= 2, key, source, "needs at least 2 samples")
    for k, v in arrays.items():
        require(
            v.dtype.kind in "fiub",
            key,
            source,
            f"array {k!r} has dtype {v.dtype}; only numbers are allowed",
        )
        require(bool(np.all(np.isfinite(v))), key, source, f"array {k!r} has NaN or inf values")
    if "x" in arrays and cfg.standardize and arrays["x"].dtype.kind == "f" and ":" not in source:
        X = arrays["x"]
        sd = X.std(axis=0)
        arrays["x"] = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    if "y" in arrays and ":" not in source and np.all(arrays["y"] == np.round(arrays["y"])):
        arrays["y"] = arrays["y"].astype(np.int64)  # class labels can index
    return arrays


def _sklearn(name: str) -> dict[str, np.ndarray]:
    try:
        import sklearn.datasets as skd
    except ImportError:
        raise ConfigError(
            f"problem.data={name!r}: needs scikit-learn (pip install 'sgdlab[datasets]'); "
            "or give a .csv/.npz path or a module:function"
        ) from None
    X, y = getattr(skd, f"load_{name}")(return_X_y=True)
    return {"x": np.asarray(X, dtype=float), "y": np.asarray(y, dtype=float)}


def batched_loss(user_loss, unravel):
    """The problem contract's loss for the user's one-example loss: ``loss(x, batch)`` with
    x (R, 1|m, d) and batch leaves (R|1, m, ...) → (R, m), vectorized over the samples,
    then over the replicates (the vmapped functions are built once per case and reused)."""

    def one(v, example):
        return user_loss(unravel(v), example)

    @functools.cache
    def mapped(per_sample: bool, shared: bool):
        over_samples = autodiff.vmap(one, in_axes=(0 if per_sample else None, 0))
        return autodiff.vmap(over_samples, in_axes=(0, None if shared else 0))

    def loss(x, batch):
        R, k, _ = anp.shape(x)
        lead = np.shape(next(iter(batch.values())))[:2]
        per_sample, shared = k > 1, lead[0] == 1 and R != 1
        inputs = batch if not shared else {name: v[0] for name, v in batch.items()}
        # (R, 1, d) → (R, d) by a reshape: its VJP is a reshape too (x[:, 0] would scatter)
        return mapped(per_sample, shared)(x if per_sample else anp.reshape(x, (R, -1)), inputs)

    return loss


def _check_loss(user_loss, unravel, x0, data, spec: str) -> int:
    """Run the loss and its gradient on two examples: a one-line ConfigError naming the
    problem and the user's file and line unless it is a float scalar with a derivative.
    Returns the float64 numbers the traced loss of one example keeps (for memory chunking)."""
    example = {name: v[0] for name, v in data.items()}
    key = "problem.loss"
    try:
        value = user_loss(unravel(x0), example)
    except Exception as err:  # noqa: BLE001
        raise ConfigError(
            f"{key}={spec!r} fails on the first example (keys {sorted(example)}, shapes "
            f"{ {k: np.shape(v) for k, v in example.items()} }): {describe(err)}"
        ) from None
    shape = np.shape(value)
    require(
        shape == () and np.asarray(value).dtype.kind in "fiu",
        key,
        spec,
        f"must return a scalar (one example's loss), but returned shape {shape} of "
        f"{type(value).__name__}",
    )
    batch = {name: v[None, :2] for name, v in data.items()}
    try:
        _, grad = autodiff.value_and_grad(
            lambda z: anp.sum(batched_loss(user_loss, unravel)(anp.reshape(z, (1, 1, -1)), batch))
        )(x0)
        _, vjp_fn = autodiff.vjp(lambda z: user_loss(unravel(z), example), x0)
    except Exception as err:  # noqa: BLE001
        raise ConfigError(f"{key}={spec!r} cannot be differentiated: {describe(err)}") from None
    require(
        bool(np.all(np.isfinite(grad))),
        key,
        spec,
        "its gradient at the initial point is not finite",
    )
    return int(vjp_fn.nbytes() // 8)


def exact(data_arrays, loss, x0, solve: bool) -> Constants:
    """f*, x* by L-BFGS when ``solve`` (a local minimum for a nonconvex loss), else unknown;
    L and μ unknown."""
    if not solve:
        return Constants()
    f_star, x_star = lbfgs_minimum(loss, data_arrays, x0)
    # a local solution of an arbitrary loss: no theorem may take it for the global f*
    return Constants(f_star, x_star, provenance={"f_star": ESTIMATED, "x_star": ESTIMATED})


def build(cfg) -> Problem:
    """Load the user's loss, data and initial parameters, and check them on one example."""
    user_loss = load_function(cfg.loss, "problem.loss")
    init = load_function(cfg.init, "problem.init")
    arrays = load_data(cfg)
    try:
        takes_rng = bool(inspect.signature(init).parameters)
    except (TypeError, ValueError):
        takes_rng = False
    try:
        params = init(np.random.default_rng(int(cfg.seed))) if takes_rng else init()
    except Exception as err:  # noqa: BLE001
        raise ConfigError(f"problem.init={str(cfg.init)!r} failed: {describe(err)}") from None
    x0, unravel = ravel_pytree(params)
    floats = _check_loss(user_loss, unravel, x0, arrays, str(cfg.loss))
    loss = batched_loss(user_loss, unravel)
    solve = bool(cfg.solve)
    attrs = {
        "custom_loss": str(cfg.loss),
        "custom_data": str(cfg.data),
        "custom_init": str(cfg.init),
        "constants_source": (
            f"f* and x* from {SOLVER} (a local minimum if the loss is nonconvex); L and mu "
            "unknown (estimated locally along the run)"
            if solve
            else "none known (problem.solve=false); L and mu estimated locally along the run"
        ),
    }
    return Problem(
        "custom",
        arrays,
        loss,
        x0,
        functools.partial(exact, loss=loss, x0=x0, solve=solve),
        floats_per_sample=floats + x0.size + 16,
        attrs=attrs,
    )
