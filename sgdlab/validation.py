"""Checks on a composed config, run before any work: each failure is a one-line ConfigError
naming the key and what is allowed. Checks that need the data (b ≤ n, finite data, file
format) run when the problem is built, still before the first step."""

from __future__ import annotations

import dataclasses
import math
import os

from omegaconf import OmegaConf

from .config import SCHEMAS, SgdlabConfig
from .dataset import VARIABLES
from .errors import require
from .optimizers import OPTIMIZERS
from .problems import PROBLEMS
from .samplers import SAMPLERS
from .schedules import SCHEDULES


def _positive(cfg, key: str, integer: bool = False) -> None:
    value = _get(cfg, key)
    kind = "integer" if integer else "finite number"
    ok = isinstance(value, int | float) and math.isfinite(value) and value > 0
    require(ok, key, value, f"must be a positive {kind}")


def _in_range(cfg, key: str, lo: float, hi: float, text: str) -> None:
    value = _get(cfg, key)
    require(isinstance(value, int | float) and lo <= value <= hi, key, value, text)


def _get(cfg, key: str):
    node = cfg
    for part in key.split("."):
        node = node[part]
    return node


def _known_keys(node, schema: type, prefix: str, where: str) -> None:
    """Refuse a key that ``schema`` (a config dataclass) does not have, such as a misspelt one
    added with ``+key=value`` (Hydra's ``+`` bypasses the schema); nested dataclasses too.
    ``where`` names the node in the message."""
    fields = {f.name: f for f in dataclasses.fields(schema)}
    for key in node:
        if key not in fields:
            require(False, f"{prefix}{key}", OmegaConf.select(node, key, default="???"),
                    f"not a key of {where}; its keys are {sorted(fields)}")  # fmt: skip
        kind = fields[key].default_factory
        if kind is not dataclasses.MISSING and dataclasses.is_dataclass(kind):
            _known_keys(node[key], kind, f"{prefix}{key}.", f"{prefix}{key}")


def _missing(key: str) -> None:
    """The one-line error for ``key``, whose value is the missing value ``???``."""
    require(False, key, "???", "needs a value (??? marks a value still to be set)")


def check_config(cfg) -> None:
    """Raise ConfigError for the first invalid value of ``cfg`` (a composed config)."""
    # unknown keys first (a misspelt +key=??? is misspelt, not missing), then missing values
    _known_keys(cfg, SgdlabConfig, "", "the config")
    for group, table in (
        ("problem", PROBLEMS),
        ("optimizer", OPTIMIZERS),
        ("schedule", SCHEDULES),
        ("sampler", SAMPLERS),
    ):
        if OmegaConf.is_missing(cfg[group], "name"):
            _missing(f"{group}.name")
        name = cfg[group].name
        require(name in table, f"{group}.name", name, f"choose one of {sorted(table)}")
        _known_keys(cfg[group], SCHEMAS[group][name], f"{group}.", f"{group}={name}")
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        _missing(missing[0])
    _positive(cfg, "replicates", integer=True)
    _positive(cfg, "steps", integer=True)
    _positive(cfg, "batch_size", integer=True)
    _positive(cfg, "optimizer.lr")
    _positive(cfg, "memory_mb")
    _in_range(cfg, "divergence_factor", 1.0, math.inf, "must be a number > 1")
    require(cfg.seed >= 0, "seed", cfg.seed, "must be a non-negative integer")
    require(cfg.x0 in ("default", "random"), "x0", cfg.x0, "choose one of ['default', 'random']")
    output = str(cfg.output)
    plain_name = output == os.path.basename(output) and "\\" not in output
    require(
        plain_name and output.endswith(".nc") and output != ".nc",
        "output",
        output,
        "must be a file name ending in .nc, without a directory: it is written into the job's "
        "Hydra output directory (set hydra.run.dir / hydra.sweep.dir to move that)",
    )
    opt = cfg.optimizer
    if "beta" in opt:
        _in_range(cfg, "optimizer.beta", 0.0, 1.0 - 1e-12, "momentum β must be in [0, 1)")
    for key in ("beta1", "beta2", "decay"):
        if key in opt:
            _in_range(cfg, f"optimizer.{key}", 0.0, 1.0 - 1e-12, "must be in [0, 1)")
    if "eps" in opt:
        _positive(cfg, "optimizer.eps")
    if "inner" in opt:
        require(opt.inner >= 0, "optimizer.inner", opt.inner, "must be ≥ 0 (0 = one epoch)")
    sched = cfg.schedule
    if "gamma" in sched:
        _positive(cfg, "schedule.gamma")
    if "factor" in sched:
        _in_range(cfg, "schedule.factor", 1e-300, 1.0, "must be in (0, 1]")
    if "every" in sched:
        _positive(cfg, "schedule.every", integer=True)
    log = cfg.log
    for key in (
        "every",
        "max_params",
        "estimates.every",
        "estimates.sigma_samples",
        "estimates.hessian_samples",
    ):
        require(_get(log, key) >= 0, f"log.{key}", _get(log, key), "must be ≥ 0")
    require(log.num >= 1, "log.num", log.num, "must be ≥ 1")
    require(log.estimates.num >= 0, "log.estimates.num", log.estimates.num, "must be ≥ 0")
    _positive(cfg, "log.estimates.lanczos_iters", integer=True)
    tol = log.estimates.lanczos_tol
    require(0 <= tol < 1, "log.estimates.lanczos_tol", tol, "must be in [0, 1)")
    check_memory(cfg)
    kinds = ["none", "full", "tail"]
    require(
        cfg.averaging.kind in kinds, "averaging.kind", cfg.averaging.kind, f"choose one of {kinds}"
    )
    _in_range(cfg, "averaging.tail", 1e-12, 1.0, "must be in (0, 1]")
    require(
        cfg.early_stopping.patience >= 0,
        "early_stopping.patience",
        cfg.early_stopping.patience,
        "must be ≥ 0 (0 = off)",
    )
    _in_range(cfg, "early_stopping.holdout", 1e-12, 1.0 - 1e-12, "must be in (0, 1)")
    require(
        cfg.early_stopping.patience == 0 or cfg.log.enabled,
        "early_stopping.patience",
        cfg.early_stopping.patience,
        "counts logged steps without a better held-out loss, so it needs log.enabled=true",
    )


def _physical_memory() -> int | None:
    """This machine's RAM in bytes (None where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _gb(nbytes: float) -> str:
    return f"{nbytes / 2**30:,.3g} GiB"


# (R, d) arrays a run keeps besides the logged ones: x, its update, g, h, the noise, ∇f, the
# average, up to three of optimizer state, SVRG's snapshot and its gradient, and a spare.
ITERATE_ARRAYS = 12


def _grid_size(T: int, every: int, geometric: bool, num: int) -> int:
    """The number of steps of ``sgdlab.grids.log_grid`` (at most), without making it."""
    return T // int(every) + 2 if int(every) > 0 else (int(num) + 1 if geometric else 2)


def _int(node, key: str) -> int | None:
    value = node.get(key) if key in node else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def memory_needed(cfg, problem=None) -> list[tuple[str, object, float, str]]:
    """The memory a run needs that ``memory_mb`` does not chunk, as (key, value, bytes, what)
    terms, ``key=value`` being the setting that scales the term: the logged (replicate, step)
    arrays (and x_t and the gradient error when d ≤ log.max_params), the T + 1 step sizes, the
    (R, d) iterates and optimizer state, the Lanczos basis (R, k, d), the step's minibatch
    (R × b samples on the tape) and the data (n samples). ``problem`` (built) gives n, d and the
    floats per sample; without it, d and n come from the config when it has them."""
    R, T, b, log = int(cfg.replicates), int(cfg.steps), int(cfg.batch_size), cfg.log
    logged = 2
    if log.enabled:
        e = log.estimates
        logged = min(T + 1, _grid_size(T, log.every, log.geometric, log.num)
                     + _grid_size(T, e.every, e.geometric, e.num))  # fmt: skip
    per_step = sum(dims == ("replicate", "step") for dims, _, _ in VARIABLES.values())
    if problem is not None:
        n, d, fps = problem.n, problem.d, problem.floats_per_sample
        data = sum(v.nbytes for v in problem.data.values())
    else:
        n, d, fps = _int(cfg.problem, "n"), _int(cfg.problem, "d") or 1, 0
        synthetic = str(cfg.problem.get("data", "synthetic")) == "synthetic"
        data = 8.0 * n * (d + 1) if n and synthetic else 0.0
    per_step += 2 * d if d <= int(log.max_params) else 0
    k = min(d, int(log.estimates.lanczos_iters)) if log.enabled else 0
    return [
        ("replicates", R, 8.0 * R * logged * per_step, f"{logged} logged steps"),
        ("steps", T, 24.0 * (T + 1), "step sizes"),
        ("replicates", R, 8.0 * R * d * (ITERATE_ARRAYS + 3 * k), f"d={d} iterates, Lanczos"),
        ("batch_size", b, 8.0 * R * b * fps, "minibatch"),
        ("problem.n", n, float(data), "data"),
    ]


def check_memory(cfg, problem=None, total: int | None = None) -> None:
    """Refuse, before the run allocates its arrays, a run whose memory that cannot be chunked
    (:func:`memory_needed`) exceeds the machine's (``total`` bytes; its RAM by default), or
    whose ``memory_mb`` is below one replicate's block of a full-data pass. The one-line message
    names the memory needed and the setting that needs most of it."""
    if problem is not None:
        from . import estimators as est  # the block sizes of the chunked passes

        m_b = est.blocks(problem, 1, problem.n, cfg.memory_mb)[1]  # m_b: the problem's alone
        block = est.MAX_FACTOR * m_b * problem.floats_per_sample * 8
        require(
            cfg.memory_mb * 2**20 >= block,
            "memory_mb",
            cfg.memory_mb,
            f"a full-data pass needs at least {block / 2**20:,.3g} MB (one replicate × a chunk "
            f"of {m_b} samples × {problem.floats_per_sample} floats × {est.MAX_FACTOR}); "
            f"raise memory_mb",
        )
    total = _physical_memory() if total is None else total
    if total is None:
        return
    terms = memory_needed(cfg, problem)
    need = sum(t[2] for t in terms)
    key, value, _, _ = max(terms, key=lambda t: t[2])
    parts = ", ".join(f"{what} {_gb(size)}" for _, _, size, what in terms if size >= need / 100)
    require(
        need <= total,
        key,
        value,
        f"the run needs at least {_gb(need)} of memory beyond the chunked full-data passes "
        f"({parts}; R={int(cfg.replicates)} replicates, T={int(cfg.steps)} steps), more than "
        f"this machine's {_gb(total)}; lower replicates, steps, batch_size or log.every",
    )


def check_problem_fit(cfg, n_train: int) -> None:
    """Checks that need the number of (training) samples n."""
    require(
        cfg.batch_size <= n_train,
        "batch_size",
        cfg.batch_size,
        f"must be between 1 and n = {n_train} (the number of training samples)",
    )
