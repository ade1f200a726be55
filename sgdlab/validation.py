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


def check_memory(cfg, total: int | None = None) -> None:
    """Refuse, before anything is allocated, a run whose logged arrays alone need more memory
    than the machine has (``total`` bytes; its RAM by default): at least 8 bytes for each
    (replicate, step) variable at each logged step, for each step size η_t, and a few (R, d)
    arrays. The message names the memory needed."""
    total = _physical_memory() if total is None else total
    if total is None:
        return
    R, T, log = int(cfg.replicates), int(cfg.steps), cfg.log
    logged = T // int(log.every) + 2 if log.enabled and int(log.every) > 0 else 2
    per_step = sum(dims == ("replicate", "step") for dims, _, _ in VARIABLES.values())
    d = int(cfg.problem.d) if "d" in cfg.problem and isinstance(cfg.problem.d, int) else 1
    need = 8.0 * (R * logged * per_step + (T + 1) + 6 * R * d)
    key, value = ("replicates", R) if R * logged * per_step >= T else ("steps", T)
    require(
        need <= total,
        key,
        value,
        f"the run needs at least {_gb(need)} of memory for its logged arrays (R={R} "
        f"replicates × {logged} logged steps × {per_step} variables, and T={T} step sizes), "
        f"more than this machine's {_gb(total)}; lower replicates, steps or log.every",
    )


def check_problem_fit(cfg, n_train: int) -> None:
    """Checks that need the number of (training) samples n."""
    require(
        cfg.batch_size <= n_train,
        "batch_size",
        cfg.batch_size,
        f"must be between 1 and n = {n_train} (the number of training samples)",
    )
