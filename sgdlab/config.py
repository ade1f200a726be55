"""Config schemas (types only) registered in Hydra's ConfigStore; the values live in ``conf/``.

Each YAML file in ``conf/<group>/<option>.yaml`` starts from its schema here
(``defaults: [/<group>_<option>_schema@_here_, _self_]``) and sets every value, so each
default has exactly one home (the YAML) while a wrong type or an unknown key fails at compose
time. :func:`conf_dir` finds the YAML tree both in a source checkout and in an installed package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

# ---- problems -------------------------------------------------------------------------------


@dataclass
class MeanConfig:
    """``problem=mean``: f(x) = (1/n) Σᵢ ½(x − aᵢ)² on n drawn points."""

    name: str = MISSING
    n: int = MISSING
    seed: int = MISSING


@dataclass
class Lsq1dConfig:
    """``problem=lsq1d``: 1-D least squares ½(aᵢx − bᵢ)² (a, b given or drawn)."""

    name: str = MISSING
    n: int = MISSING
    seed: int = MISSING
    a: Any = MISSING  # list of floats or null (drawn)
    b: Any = MISSING


@dataclass
class LeastSquaresConfig:
    """``problem=least_squares``: ½(aᵢᵀx − bᵢ)² with condition number ``cond``."""

    name: str = MISSING
    n: int = MISSING
    d: int = MISSING
    cond: float = MISSING
    noise: float = MISSING
    seed: int = MISSING


@dataclass
class LogisticConfig:
    """``problem=logistic``: L2-regularized logistic regression on ``data``."""

    name: str = MISSING
    data: str = MISSING
    label: str = MISSING
    standardize: bool = MISSING
    n: int = MISSING
    d: int = MISSING
    lam: float = MISSING
    seed: int = MISSING


@dataclass
class MLPConfig(LogisticConfig):
    """``problem=mlp``: a one-hidden-layer network on the same data sources as logistic."""

    hidden: int = MISSING


@dataclass
class CustomProblemConfig:
    """``problem=custom``: your own per-example loss, data and initial parameters
    (see ``sgdlab.problems.custom``)."""

    name: str = MISSING
    loss: str = MISSING
    data: str = MISSING
    init: str = MISSING
    solve: bool = MISSING
    label: str = MISSING
    standardize: bool = MISSING
    seed: int = MISSING


# ---- optimizers -----------------------------------------------------------------------------


@dataclass
class SGDConfig:
    """``optimizer=sgd``; every optimizer has a ``name`` and base step size ``lr``."""

    name: str = MISSING
    lr: float = MISSING


@dataclass
class MomentumConfig(SGDConfig):
    """``optimizer=momentum`` / ``nesterov``: momentum β (``beta``)."""

    beta: float = MISSING


@dataclass
class AdagradConfig(SGDConfig):
    """``optimizer=adagrad``: damping ε (``eps``)."""

    eps: float = MISSING


@dataclass
class RMSPropConfig(SGDConfig):
    """``optimizer=rmsprop``: decay ρ (``decay``) and damping ε (``eps``)."""

    decay: float = MISSING
    eps: float = MISSING


@dataclass
class AdamConfig(SGDConfig):
    """``optimizer=adam``: moment decays β₁, β₂ and damping ε."""

    beta1: float = MISSING
    beta2: float = MISSING
    eps: float = MISSING


@dataclass
class SVRGConfig(SGDConfig):
    """``optimizer=svrg``: steps between snapshots (``inner``)."""

    inner: int = MISSING  # steps between snapshots; 0 = one epoch (n/b steps)


@dataclass
class CustomOptimizerConfig(SGDConfig):
    """``optimizer=custom``: ``make`` (module:function) called with ``params`` builds it."""

    make: str = MISSING
    params: Any = MISSING  # a dict of keyword arguments for make


# ---- schedules and samplers -----------------------------------------------------------------


@dataclass
class ScheduleConfig:
    """A step-size schedule without parameters (constant, inverse_sqrt, horizon_sqrt)."""

    name: str = MISSING


@dataclass
class InverseTimeConfig(ScheduleConfig):
    """``schedule=inverse_time``: η_t = η₀γ/(γ + t)."""

    gamma: float = MISSING


@dataclass
class StepDecayConfig(ScheduleConfig):
    """``schedule=step_decay``: η_t = η₀·factor^⌊t/every⌋."""

    factor: float = MISSING
    every: int = MISSING


@dataclass
class CustomScheduleConfig(ScheduleConfig):
    """``schedule=custom``: ``fn`` (module:function), η_t = fn(t, lr, horizon)."""

    fn: str = MISSING


@dataclass
class SamplerConfig:
    """An index sampler, chosen by ``name`` (see ``sgdlab.samplers``)."""

    name: str = MISSING


# ---- top level ------------------------------------------------------------------------------


@dataclass
class EstimatesConfig:
    """``log.estimates``: the grid and accuracy of σ², L_local and μ_local."""

    every: int = MISSING
    geometric: bool = MISSING
    num: int = MISSING
    lanczos_iters: int = MISSING
    lanczos_tol: float = MISSING
    sigma_samples: int = MISSING
    hessian_samples: int = MISSING


@dataclass
class LogConfig:
    """``log``: which steps are logged, and whether the iterate x is."""

    enabled: bool = MISSING
    every: int = MISSING
    geometric: bool = MISSING
    num: int = MISSING
    max_params: int = MISSING
    running_average: bool = MISSING
    estimates: EstimatesConfig = field(default_factory=EstimatesConfig)


@dataclass
class AveragingConfig:
    """``averaging``: Polyak–Ruppert iterate averaging (none, full or tail)."""

    kind: str = MISSING
    tail: float = MISSING


@dataclass
class EarlyStoppingConfig:
    """``early_stopping``: patience on a held-out loss, and the holdout fraction."""

    patience: int = MISSING
    holdout: float = MISSING


@dataclass
class SgdlabConfig:
    """The top-level run config (``conf/config.yaml``) with its four groups."""

    replicates: int = MISSING
    steps: int = MISSING
    batch_size: int = MISSING
    seed: int = MISSING
    x0: str = MISSING
    memory_mb: float = MISSING
    divergence_factor: float = MISSING
    output: str = MISSING
    resume: bool = MISSING
    log: LogConfig = field(default_factory=LogConfig)
    averaging: AveragingConfig = field(default_factory=AveragingConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    problem: Any = MISSING
    optimizer: Any = MISSING
    schedule: Any = MISSING
    sampler: Any = MISSING


SCHEMAS: dict[str, dict[str, type]] = {
    "problem": {
        "mean": MeanConfig,
        "lsq1d": Lsq1dConfig,
        "least_squares": LeastSquaresConfig,
        "logistic": LogisticConfig,
        "mlp": MLPConfig,
        "custom": CustomProblemConfig,
    },
    "optimizer": {
        "sgd": SGDConfig,
        "momentum": MomentumConfig,
        "nesterov": MomentumConfig,
        "adagrad": AdagradConfig,
        "rmsprop": RMSPropConfig,
        "adam": AdamConfig,
        "svrg": SVRGConfig,
        "custom": CustomOptimizerConfig,
    },
    "schedule": {
        "constant": ScheduleConfig,
        "inverse_time": InverseTimeConfig,
        "inverse_sqrt": ScheduleConfig,
        "horizon_sqrt": ScheduleConfig,
        "step_decay": StepDecayConfig,
        "custom": CustomScheduleConfig,
    },
    "sampler": {
        name: SamplerConfig for name in ("with_replacement", "reshuffle", "shuffle_once", "cyclic")
    },
}


def register() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent)."""
    cs = ConfigStore.instance()
    cs.store(name="sgdlab_schema", node=SgdlabConfig)
    for group, table in SCHEMAS.items():
        for name, node in table.items():
            cs.store(name=f"{group}_{name}_schema", node=node)


def conf_dir() -> Path:
    """The directory holding ``config.yaml`` and the config groups: ``sgdlab/conf`` in an
    installed package, ``<repo>/conf`` in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"sgdlab: no conf/config.yaml next to {here}")


def as_dirs(config_dir) -> list:
    """Extra config directories as a list: ``config_dir`` may be None, one path or a list."""
    if config_dir is None:
        return []
    return [config_dir] if isinstance(config_dir, (str, os.PathLike)) else list(config_dir)


def group_options(group: str, config_dir=None) -> list[str]:
    """The options of config group ``group``: the YAML files in ``conf/<group>/`` and in
    ``<dir>/<group>/`` for each extra config directory ``config_dir`` (None, a path or a list
    of paths: the CLI's ``--config-dir`` and ``hydra.searchpath``)."""
    dirs = [conf_dir(), *map(Path, as_dirs(config_dir))]
    return sorted({p.stem for d in dirs for p in (d / group).glob("*.yaml")})


GROUPS = ("problem", "optimizer", "schedule", "sampler", "experiment")
