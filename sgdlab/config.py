"""Config schemas (types only) registered in Hydra's ConfigStore; the values live in ``conf/``.

Each YAML file in ``conf/<group>/<option>.yaml`` starts from its schema here
(``defaults: [/<group>_<option>_schema@_here_, _self_]``) and sets every value, so each
default has exactly one home (the YAML) while a wrong type or an unknown key fails at compose
time. :func:`conf_dir` finds the YAML tree both in a source checkout and in an installed package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

# ---- problems -------------------------------------------------------------------------------


@dataclass
class MeanConfig:
    name: str = MISSING
    n: int = MISSING
    seed: int = MISSING


@dataclass
class Lsq1dConfig:
    name: str = MISSING
    n: int = MISSING
    seed: int = MISSING
    a: Any = MISSING  # list of floats or null (drawn)
    b: Any = MISSING


@dataclass
class LeastSquaresConfig:
    name: str = MISSING
    n: int = MISSING
    d: int = MISSING
    cond: float = MISSING
    noise: float = MISSING
    seed: int = MISSING


@dataclass
class LogisticConfig:
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
    hidden: int = MISSING


# ---- optimizers -----------------------------------------------------------------------------


@dataclass
class SGDConfig:
    name: str = MISSING
    lr: float = MISSING


@dataclass
class MomentumConfig(SGDConfig):
    beta: float = MISSING


@dataclass
class AdagradConfig(SGDConfig):
    eps: float = MISSING


@dataclass
class RMSPropConfig(SGDConfig):
    decay: float = MISSING
    eps: float = MISSING


@dataclass
class AdamConfig(SGDConfig):
    beta1: float = MISSING
    beta2: float = MISSING
    eps: float = MISSING


@dataclass
class SVRGConfig(SGDConfig):
    inner: int = MISSING  # steps between snapshots; 0 = one epoch (n/b steps)


# ---- schedules and samplers -----------------------------------------------------------------


@dataclass
class ScheduleConfig:
    name: str = MISSING


@dataclass
class InverseTimeConfig(ScheduleConfig):
    gamma: float = MISSING


@dataclass
class StepDecayConfig(ScheduleConfig):
    factor: float = MISSING
    every: int = MISSING


@dataclass
class SamplerConfig:
    name: str = MISSING


# ---- top level ------------------------------------------------------------------------------


@dataclass
class EstimatesConfig:
    every: int = MISSING
    geometric: bool = MISSING
    num: int = MISSING
    lanczos_iters: int = MISSING
    sigma_samples: int = MISSING


@dataclass
class LogConfig:
    enabled: bool = MISSING
    every: int = MISSING
    geometric: bool = MISSING
    num: int = MISSING
    max_params: int = MISSING
    estimates: EstimatesConfig = field(default_factory=EstimatesConfig)


@dataclass
class AveragingConfig:
    kind: str = MISSING
    tail: float = MISSING


@dataclass
class EarlyStoppingConfig:
    patience: int = MISSING
    holdout: float = MISSING


@dataclass
class SgdlabConfig:
    replicates: int = MISSING
    steps: int = MISSING
    batch_size: int = MISSING
    seed: int = MISSING
    x0: str = MISSING
    memory_mb: float = MISSING
    divergence_factor: float = MISSING
    output: str = MISSING
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
    },
    "optimizer": {
        "sgd": SGDConfig,
        "momentum": MomentumConfig,
        "nesterov": MomentumConfig,
        "adagrad": AdagradConfig,
        "rmsprop": RMSPropConfig,
        "adam": AdamConfig,
        "svrg": SVRGConfig,
    },
    "schedule": {
        "constant": ScheduleConfig,
        "inverse_time": InverseTimeConfig,
        "inverse_sqrt": ScheduleConfig,
        "horizon_sqrt": ScheduleConfig,
        "step_decay": StepDecayConfig,
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


def group_options(group: str) -> list[str]:
    """The options of config group ``group`` (the YAML files in ``conf/<group>/``)."""
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))


GROUPS = ("problem", "optimizer", "schedule", "sampler", "experiment")
