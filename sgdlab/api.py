"""``run(cfg_or_overrides) -> xarray.Dataset``: one run, from a config or a list of overrides."""

from __future__ import annotations

import xarray as xr
from omegaconf import DictConfig

from .compose import compose
from .dataset import to_dataset
from .runner import prepare, simulate


def run(
    cfg_or_overrides: DictConfig | list[str] | tuple[str, ...] = (), progress=None
) -> xr.Dataset:
    """Run the experiment of ``cfg_or_overrides`` (a composed config, or overrides for
    :func:`sgdlab.compose`) and return its dataset; nothing is written to disk. Bad input raises
    :class:`sgdlab.ConfigError` before any work. ``progress``: see :func:`sgdlab.runner.simulate`
    (the ``sgdlab`` command passes a terminal progress bar)."""
    if isinstance(cfg_or_overrides, DictConfig):
        cfg, overrides = cfg_or_overrides, _hydra_overrides()
    else:
        overrides = [str(o) for o in cfg_or_overrides]
        cfg = compose(overrides)
    plan = prepare(cfg)
    return to_dataset(plan, simulate(plan, progress), overrides)


def _hydra_overrides() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return list(HydraConfig.get().overrides.task)
    return []
