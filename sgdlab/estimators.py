"""Full-data quantities at the iterates of R replicates, from ``autodiff`` (or, for the linear
models, from their hand-written NumPy: see :data:`LINEAR`).

Every function takes the replicate-stacked parameters X of shape (R, d) and returns one value
per replicate. Passes over the n samples go in blocks of replicates × chunks of samples so that
the autodiff tape stays under ``memory_mb`` megabytes (see :func:`blocks`); replicate r's value
is the same bits whatever R and ``memory_mb``. Replicates never interact, so one backward
pass of Σ_r f(x_r) w.r.t. X gives every replicate's own gradient.

- :func:`loss_and_grad`: f(x_r) and ∇f(x_r);
- :func:`minibatch_grad`: g = (1/b) Σ_{i∈B_r} ∇fᵢ(x_r) for each replicate's own batch B_r;
- :func:`gradient_variance`: σ²(x) = (1/n) Σᵢ ‖∇fᵢ(x) − ∇f(x)‖² from per-sample gradients
  computed in one vectorized backward pass per chunk (theory §0, §8);
- :func:`lanczos`: λmax and λmin of ∇²f(x) by Lanczos on
  Hessian-vector products (:func:`hessian_operator`: L and μ), stopped at a tolerance and
  warm-started from the previous estimate point's Ritz vectors;
- :func:`independent_grad`: the running sums' second, independent minibatch gradient.

A problem that describes itself as a linear model (``Problem.linear``: least_squares,
logistic) has its full passes, Hessian-vector products (curvature weights once per point, then
two matrix products per chunk), per-sample gradients for σ² and the running sums' gradient
computed by :mod:`sgdlab.problems.linear_model` in NumPy: equal to the tape's to round-off,
with the same guarantee that replicate r's bits do not depend on R (tests/test_linear_model.py).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

import autodiff
import autodiff.numpy as anp
import autodiff.replay

from .problems import Problem
from .problems.base import own_samples
from .problems.linear_model import BLOCK

# (replicate, sample) pairs per chunk beyond which a larger chunk is slower, not faster: the
# temporaries of one elementwise op then stop fitting in cache (measured on logistic, R = 64:
# chunks of 1,000 samples run a full pass twice as fast as chunks of 5,000, and σ² from 1,024
# per-sample gradients (d = 50) takes 24 ms in chunks of 20-64 samples, 48 ms in one chunk).
CACHE_FRIENDLY_PAIRS = 2**16


# One replicate's share of a chunk of samples, in bytes of tape, and at most the cache-friendly
# samples for 32 replicates (the default R): together they fix the samples per chunk.
CHUNK_BYTES = 2**22
CHUNK_SAMPLES = CACHE_FRIENDLY_PAIRS // 32
# The largest ``factor`` of a pass (a recorded Hessian operator: the tape of the gradient and
# of its vector-Jacobian product); sgdlab.validation refuses a memory_mb below one such block.
MAX_FACTOR = 3


def blocks(
    problem: Problem, replicates: int, samples: int, memory_mb: float, factor=1, width=1
) -> tuple[int, int]:
    """(replicates, samples) per block of a pass of R replicates over m samples, each block
    keeping about R_b·m_b·floats_per_sample·factor float64s.

    The samples per chunk m_b depend on the problem alone (:data:`CHUNK_BYTES` per replicate, at
    most :data:`CHUNK_SAMPLES`), never on R or ``memory_mb``, so that replicate r's sum over the
    samples is added in the same order whatever R and however the replicates are blocked. The
    replicates per block R_b make the block fit in ``memory_mb`` (at least one) and keep its
    largest temporaries, of ``width`` floats per (replicate, sample) pair (d for per-sample
    gradients), near :data:`CACHE_FRIENDLY_PAIRS` floats. Iterate ``_chunks(R, R_b)`` outside
    ``_chunks(m, m_b)``."""
    m_b = max(1, min(samples, CHUNK_SAMPLES, CHUNK_BYTES // (problem.floats_per_sample * 8)))
    by_memory = int(memory_mb * 2**20 // (m_b * problem.floats_per_sample * factor * 8))
    by_cache = max(1, CACHE_FRIENDLY_PAIRS // (m_b * width))
    return max(1, min(replicates, by_memory, by_cache)), m_b


def subsample_size(requested: int, n: int) -> int:
    """Samples an estimate uses: ``requested`` when 0 < requested < n, else all n (exact)."""
    return requested if 0 < requested < n else n


def _chunks(n: int, size: int):
    """Slices of at most ``size`` samples."""
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _shared(problem: Problem, index) -> dict[str, np.ndarray]:
    return {k: v[None, index] for k, v in problem.data.items()}


def loss_and_grad(problem: Problem, X: np.ndarray, memory_mb: float):
    """f(x_r) (R,) and ∇f(x_r) (R, d) on the full data, in one backward pass per block."""
    R, n = X.shape[0], problem.n
    loss, grad = np.zeros(R), np.zeros_like(X)
    rows_per, samples_per = blocks(problem, R, n, memory_mb)
    if _linear_model(problem) is not None:
        rows_per = _whole_blocks(rows_per, R)
    for rows in _chunks(R, rows_per):
        for sl in _chunks(n, samples_per):
            out, g = _chunk_loss_and_grad(problem, X[rows], _shared(problem, sl))
            loss[rows] += out
            grad[rows] += g
    return loss / n, grad / n


def _whole_blocks(rows: int, R: int) -> int:
    """Replicates per block of a linear model's pass: whole blocks of its products (a partial
    one is padded)."""
    return min(R, max(BLOCK, rows - rows % BLOCK))


def _chunk_loss_and_grad(problem: Problem, X: np.ndarray, batch):
    if (linear := _linear_model(problem)) is not None:
        return linear.value_and_grad(X, batch)
    if FUSED and problem.grad is not None:
        return problem.grad(X, batch, with_value=True)
    out, vjp_fn = autodiff.vjp(lambda Z: anp.sum(problem.loss(Z, batch), axis=-1), X[:, None, :])
    return out, vjp_fn(np.ones(X.shape[0]))[0][:, 0, :]


def loss_only(problem: Problem, X: np.ndarray, memory_mb: float) -> np.ndarray:
    """f(x_r) (R,) on the full data, without a backward pass."""
    R, n = X.shape[0], problem.n
    total = np.zeros(R)
    rows_per, samples_per = blocks(problem, R, n, memory_mb)
    for rows in _chunks(R, rows_per):
        for sl in _chunks(n, samples_per):
            losses = problem.loss(X[rows, None, :], _shared(problem, sl))
            total[rows] += np.asarray(losses).sum(axis=-1)
    return total / n


def _summed_loss(Z, loss, batch):
    """Σ of ``loss(Z, batch)`` over replicates and samples (a scalar)."""
    return anp.sum(loss(Z, batch))


# Built once: autodiff.grad(...) makes a new wrapper each time it is called, a cost per step.
_summed_loss_grad = autodiff.grad(_summed_loss)


def gather(problem: Problem, index: np.ndarray) -> dict[str, np.ndarray]:
    """The data of samples ``index`` (R, b): arrays of leading shape (R, b)."""
    return {k: v.take(index, axis=0) for k, v in problem.data.items()}


# Minibatch gradients of a problem that provides a hand-fused ``grad`` (the same rules as its
# tape, so the same bits; tests/test_fused_grads.py) call it, without a tape. False: the tape.
FUSED = True
# Minibatch gradients replay a recorded program (autodiff.replay) instead of tracing each step:
# the same bits (tests/test_replay.py runs every problem and optimizer both ways), without the
# tracer's per-operation cost. False: trace every step.
REPLAY = True
# The full-data work of a problem that describes itself as a linear model (``Problem.linear``:
# least_squares, logistic) runs on its hand-written NumPy (sgdlab.problems.linear_model):
# loss-and-gradient passes, Hessian-vector products (the curvature weights computed once per
# point, then two matrix products per chunk) and σ²'s per-sample gradients. Equal to the tape's
# to round-off, not bit for bit. False: the tape (or the fused ``grad``).
LINEAR = True


def _linear_model(problem: Problem):
    """The problem's linear model when its full-data work runs on it (:data:`LINEAR`), else
    None."""
    return problem.linear if LINEAR else None


_replayed: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _minibatch_program(problem: Problem) -> autodiff.replay.grad:
    """The problem's replaying gradient of Σ loss(Z, batch), made once per problem."""
    found = _replayed.get(problem)
    if found is None:
        loss = problem.loss
        found = _replayed[problem] = autodiff.replay.grad(lambda Z, batch: anp.sum(loss(Z, batch)))
    return found


def minibatch_grad(problem: Problem, X: np.ndarray, batch: dict[str, np.ndarray]) -> np.ndarray:
    """(1/b) Σ_{i∈B_r} ∇fᵢ(x_r) for X (R', d) and batch arrays of leading shape (R, b); when
    R' is a multiple of R (e.g. SVRG's iterate and snapshot stacked) the batches repeat."""
    R, b = next(iter(batch.values())).shape[:2]
    reps = X.shape[0] // R
    if reps > 1:
        batch = {k: np.concatenate([v] * reps) for k, v in batch.items()}
    # The gradient of the plain sum, divided by b afterwards: a mean inside the traced function
    # would add its own operations to every step's graph.
    with own_samples():
        if FUSED and problem.grad is not None:
            return problem.grad(X, batch) / b
        if REPLAY:
            return _minibatch_program(problem)(X[:, None, :], batch)[:, 0, :] / b
        return _summed_loss_grad(X[:, None, :], problem.loss, batch)[:, 0, :] / b


def independent_grad(problem: Problem, X: np.ndarray, index: np.ndarray) -> np.ndarray:
    """(1/b) Σ_{i∈B_r} ∇fᵢ(x_r) for X (R, d) and each replicate's own samples ``index``
    (R, b), as :func:`minibatch_grad`, for the logging's second, independent minibatch
    gradient (the running sums): a linear model's hand-written NumPy when it is one
    (:data:`LINEAR`; equal to the step's gradient to round-off, not bit for bit)."""
    batch = gather(problem, index)
    if (linear := _linear_model(problem)) is not None:
        return linear.batch_grad(X, batch) / index.shape[1]
    return minibatch_grad(problem, X, batch)


def _of_samples(problem: Problem, index: np.ndarray) -> dict[str, np.ndarray]:
    """The batch of samples ``index``: (m,), the same for every replicate, or (R, m), each
    replicate's own."""
    return _shared(problem, index) if index.ndim == 1 else gather(problem, index)


def per_sample_grads(problem: Problem, X: np.ndarray, index) -> np.ndarray:
    """∇fᵢ(x_r) for m samples: shape (R, m, d), one backward pass. ``index`` is (m,) (the same
    samples for every replicate) or (R, m) (row r: replicate r's own samples).

    Row i of X_rep = broadcast(x_r) meets only sample i, so ∂/∂X_rep[r, i] of
    Σ_{r,i} fᵢ(X_rep[r, i]) is ∇fᵢ(x_r)."""
    index = np.asarray(index)
    batch = _of_samples(problem, index)
    m = index.shape[-1]
    X_rep = np.repeat(X[:, None, :], m, axis=1)
    return _summed_loss_grad(X_rep, problem.loss, batch)


def _squared_deviations(problem: Problem, X: np.ndarray, index, full_grad) -> np.ndarray:
    """‖∇fᵢ(x_r) − ∇f(x_r)‖² (R, m) for the samples ``index`` (as :func:`per_sample_grads`),
    with a linear model's hand-written NumPy when it is one (the deviations in one pass, their
    squared norms as one dot product each)."""
    linear = _linear_model(problem)
    if linear is None:
        return ((per_sample_grads(problem, X, index) - full_grad[:, None, :]) ** 2).sum(axis=2)
    G = linear.sample_grads(X, _of_samples(problem, np.asarray(index)), minus=full_grad)
    return np.vecdot(G, G)


def gradient_variance(
    problem: Problem,
    X: np.ndarray,
    full_grad: np.ndarray,
    memory_mb: float,
    samples: int = 0,
    rngs: Sequence[np.random.Generator] = (),
    with_se: bool = False,
):
    """σ²(x_r) = (1/n) Σᵢ ‖∇fᵢ(x_r) − ∇f(x_r)‖², shape (R,), from per-sample gradients (one
    backward pass per chunk).

    With ``samples`` = m > 0 (and m < n) it is the unbiased estimate (1/m) Σ_{j≤m} ‖∇f_{i_j}(x_r)
    − ∇f(x_r)‖² over m indices drawn uniformly with replacement from replicate r's own generator
    ``rngs[r]``, so replicate r's estimate does not depend on the other replicates. With
    ``with_se`` also its standard error (R,): the sample standard deviation of the m i.i.d.
    terms over √m (0 when exact, m = n), for a t interval of σ²(x_r)."""
    R, n = X.shape[0], problem.n
    m = subsample_size(samples, n)
    mean, se = np.empty(R), np.zeros(R)
    rows_per, samples_per = blocks(problem, R, m, memory_mb, factor=2, width=problem.d)
    # the terms (and indices) of as many replicates as a quarter of memory_mb holds, summed once
    # row by row (the same bits whatever R), in cache-sized blocks of rows_per replicates
    kept = max(rows_per, int(memory_mb * 2**20 / 4 // (16 * m)))
    for outer in _chunks(R, kept):
        count = outer.stop - outer.start
        if m == n:
            index = np.arange(n)
        else:
            index = np.stack([rng.integers(0, n, size=m) for rng in rngs[outer]])
        terms = np.empty((count, m))
        for inner in _chunks(count, rows_per):
            rows = slice(outer.start + inner.start, outer.start + inner.stop)
            part = index if m == n else index[inner]
            for sl in _chunks(m, samples_per):
                terms[inner, sl] = _squared_deviations(
                    problem, X[rows], part[..., sl], full_grad[rows]
                )
        mean[outer] = terms.sum(axis=1) / m
        if with_se and 2 <= m < n:
            se[outer] = terms.std(axis=1, ddof=1) / np.sqrt(m)
    return (mean, se) if with_se else mean


def hessian_vector(
    problem: Problem, X: np.ndarray, V: np.ndarray, memory_mb: float, index=None
) -> np.ndarray:
    """∇²f(x_r)·v_r for every replicate r, shape (R, d), via ``autodiff.hvp``; with ``index``
    (m,) the Hessian of (1/m) Σ_{i∈index} fᵢ instead (the same samples for every replicate)."""
    index = np.arange(problem.n) if index is None else np.asarray(index)
    out = np.zeros_like(X)
    for sl in _chunks(index.shape[0], blocks(problem, 1, problem.n, memory_mb)[1]):
        batch = _shared(problem, index[sl])
        f = lambda Z, batch=batch: anp.sum(problem.loss(Z, batch))  # noqa: E731
        out += autodiff.hvp(f, X[:, None, :], V[:, None, :])[:, 0, :]
    return out / index.shape[0]


def hessian_operator(problem: Problem, X: np.ndarray, memory_mb: float, index=None):
    """V (R, d) ↦ ∇²f(x_r)·v_r for every replicate r, for many V at one X (as
    :func:`hessian_vector`, also for a subset ``index``).

    For a linear model (``problem.linear``, :data:`LINEAR`) the curvature weights ℓ''(zᵢ) of
    each chunk of samples are computed once, and each product is two matrix products per
    chunk. Otherwise each chunk's gradient computation is recorded once, and each product is
    then one backward sweep over that record (reverse over reverse: the VJP of ∇f with
    cotangent v is Hv, H being symmetric), about 3x cheaper per product than a
    forward-over-reverse ``hvp`` that evaluates f again. What is kept stays
    under ``memory_mb``; blocks beyond it are computed again for each product (the same
    operations, so the same bits)."""
    R = X.shape[0]
    full = index is None
    index = np.arange(problem.n) if full else np.asarray(index)
    m = index.shape[0]
    linear = _linear_model(problem)
    make = functools.partial(_gradient_vjp, problem) if linear is None else linear.hessian
    rows_per, samples_per = blocks(problem, R, m, memory_mb, factor=MAX_FACTOR)
    if linear is not None:
        rows_per = _whole_blocks(rows_per, R)
    records, used = [], 0  # (rows, batch, operator or None: made again when needed)
    for rows in _chunks(R, rows_per):
        for sl in _chunks(m, samples_per):
            batch = _shared(problem, sl if full else index[sl])
            op = None
            if used < memory_mb * 2**20:
                op = make(X[rows], batch)
                used += op.nbytes()
            records.append((rows, batch, op))

    def apply(V: np.ndarray) -> np.ndarray:
        out = np.zeros_like(X)
        for rows, batch, op in records:
            if op is None:
                op = make(X[rows], batch)
            out[rows] += op(V[rows])
        return out / m

    return apply


def _gradient_vjp(problem: Problem, X: np.ndarray, batch):
    """V (R, d) ↦ the VJP of X ↦ ∇ Σ loss(X, batch) with cotangent V, recorded once: the
    problem's fused gradient (a shorter record, no loss values) when it has one, else the
    traced gradient (the same bits either way); ``.nbytes()`` is the record's size."""
    if FUSED and problem.grad is not None:
        _, fused_vjp = autodiff.vjp(lambda Z: problem.grad(Z, batch), X)

        def vjp_fn(V):
            return fused_vjp(V)[0]

        vjp_fn.nbytes = fused_vjp.nbytes
        return vjp_fn
    _, traced_vjp = autodiff.vjp(lambda Z: _summed_loss_grad(Z, problem.loss, batch), X[:, None, :])

    def vjp_fn(V):
        return traced_vjp(V[:, None, :])[0][:, 0, :]

    vjp_fn.nbytes = traced_vjp.nbytes
    return vjp_fn


class Extremes(NamedTuple):
    """What :func:`lanczos` found at X (R, d): λmax and λmin of each replicate's Hessian (R,),
    their Ritz vectors (R, 2, d) (a warm start for the next estimate point), and the number of
    Hessian-vector products it took."""

    L: np.ndarray
    mu: np.ndarray
    vectors: np.ndarray
    steps: int


def lanczos(
    problem: Problem,
    X: np.ndarray,
    memory_mb: float,
    iters: int,
    rngs: Sequence[np.random.Generator],
    samples: int = 0,
    subset_rng: np.random.Generator | None = None,
    *,
    tol: float = 0.0,
    start: np.ndarray | None = None,
) -> Extremes:
    """λmax and λmin of ∇²f(x_r) for every replicate (the estimates of the local smoothness L
    and strong-convexity μ), with their Ritz vectors.

    Lanczos with full reorthogonalization, vectorized over replicates: up to k = min(d, iters)
    Hessian-vector products build an orthonormal Krylov basis Q_r (k × d) per replicate, and the
    extreme eigenvalues of Q_r H_r Q_rᵀ are returned (exact when k = d). Every product is a
    replay of the Hessian operator recorded once at X (:func:`hessian_operator`).

    - ``tol`` > 0: each replicate stops as soon as both its extreme Ritz pairs (θ, u) have a
      residual ‖H u − θ u‖ ≤ tol · max|θ| (then an eigenvalue lies within that distance of θ,
      and typically within its square over the spectral gap), so that its value does not depend
      on the other replicates; the products go on while any replicate needs them (``steps``).
      0 runs all k products.
    - ``start`` (R, 2, d): the Ritz vectors of a previous estimate point (a warm start): the
      Krylov space then starts from their sum plus a random direction of a tenth of its weight
      (so that a new extreme direction can still be found); replicate r's random vectors come
      from its own generator ``rngs[r]``.

    With ``samples`` = m (0 < m < n), H is the Hessian Ĥ of a uniform random subset of m samples
    drawn without replacement by ``subset_rng`` and shared by all replicates (so that each
    product is one matrix product over the subset, and replicate r's value does not depend on
    R). E[Ĥ] = H, and since λmax is convex and λmin concave in the matrix (Jensen),
    E[λmax(Ĥ)] ≥ L and E[λmin(Ĥ)] ≤ μ: the subset errs on the side that makes step-size
    conditions stricter and bounds looser, never the reverse on average."""
    R, d = X.shape
    index = None
    m = subsample_size(samples, problem.n)
    if m < problem.n:
        index = np.sort(subset_rng.choice(problem.n, size=m, replace=False))
    k = min(d, iters)
    Q, HQ = np.zeros((R, k, d)), np.zeros((R, k, d))

    def orthonormalize(w, j):
        for _ in range(2):
            basis = Q[:, : j + 1]
            w = w - _times(np.swapaxes(basis, 1, 2), _times(basis, w))
        return w

    def unit(v):
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    hessian = hessian_operator(problem, X, memory_mb, index)
    q = unit(np.stack([rng.normal(size=d) for rng in rngs]))
    if start is not None:
        warm = np.nan_to_num(np.asarray(start, dtype=float).sum(axis=1))
        norm = np.linalg.norm(warm, axis=1, keepdims=True)
        ok = (norm > 0).ravel()
        q[ok] = unit(warm[ok] / norm[ok] + 0.1 * q[ok])
    stop = np.full(R, k)  # each replicate's own count, so that its value does not depend on R
    # T[r, i, l] = q_i·Hq_l, filled in a row and a column per product
    T = np.zeros((R, k, k))
    L, mu, vectors = np.empty(R), np.empty(R), np.empty((R, 2, d))
    for j in range(k):
        Q[:, j] = q
        HQ[:, j] = hessian(q)
        T[:, : j + 1, j] = _times(Q[:, : j + 1], HQ[:, j])
        T[:, j, :j] = _times(HQ[:, :j], Q[:, j])
        if j == k - 1:
            break
        if tol > 0:  # only the replicates still going (a replicate's test is its own)
            going = np.flatnonzero(stop == k)
            done, theta, U = _converged(
                Q[going, : j + 1], HQ[going, : j + 1], T[going, : j + 1, : j + 1], tol
            )
            rows = going[done]
            stop[rows] = j + 1
            L[rows], mu[rows], vectors[rows] = theta[done, 0], theta[done, 1], U[done]
            if (stop < k).all():
                break
        w = orthonormalize(HQ[:, j], j)
        norm = np.linalg.norm(w, axis=1)
        scale = np.abs(HQ[:, j]).max(axis=1) + 1e-300
        stuck = ~(norm > 1e-10 * scale)
        if stuck.any():  # an invariant subspace: restart from a fresh random direction
            fresh = np.zeros((R, d))
            for r in np.flatnonzero(stuck):
                fresh[r] = rngs[r].normal(size=d)
            w[stuck] = orthonormalize(fresh, j)[stuck]
            norm = np.linalg.norm(w, axis=1)
        q = w / norm[:, None]
    rows = stop == k  # the replicates that used all k products (the others are filled in)
    if rows.any():
        theta, Y = _ritz(T[rows])
        L[rows], mu[rows] = theta[:, -1], theta[:, 0]
        vectors[rows] = np.swapaxes(np.matmul(np.swapaxes(Q[rows], 1, 2), Y[:, :, [-1, 0]]), 1, 2)
    return Extremes(L, mu, vectors, int(stop.max()))


def _times(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    """M_r·v_r for M (R, i, j) and v (R, j): (R, i), one matrix-vector product per replicate
    (a BLAS call per replicate: several times faster than einsum here)."""
    return np.matmul(M, v[:, :, None])[:, :, 0]


def _ritz(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ritz values (R, j) ascending and their coordinates (R, j, j) in the basis Q (R, j, d),
    from T = (q_i·Hq_l) (R, j, j), symmetrized."""
    return np.linalg.eigh(0.5 * (T + np.swapaxes(T, 1, 2)))


def _converged(Q: np.ndarray, HQ: np.ndarray, T: np.ndarray, tol: float):
    """For the basis Q (R, j, d), HQ its products and T = (q_i·Hq_l) (R, j, j): (R,) bool, both
    extreme Ritz pairs of a replicate have a residual ≤ tol · max|θ| (a replicate whose values
    are not finite, e.g. a diverged one, counts as converged); the extreme Ritz values
    (R, 2) (largest, smallest) and their Ritz vectors (R, 2, d)."""
    theta, Y = _ritz(T)
    ends = Y[:, :, [-1, 0]]  # (R, j, 2)
    U = np.matmul(np.swapaxes(Q, 1, 2), ends)  # (R, d, 2)
    HU = np.matmul(np.swapaxes(HQ, 1, 2), ends)
    extremes = theta[:, [-1, 0]]
    residual = np.linalg.norm(HU - extremes[:, None, :] * U, axis=1)  # (R, 2)
    scale = np.abs(theta).max(axis=1, keepdims=True)
    done = ((residual <= tol * scale) | ~np.isfinite(residual)).all(axis=1)
    return done, extremes, np.swapaxes(U, 1, 2)
