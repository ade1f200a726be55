"""``compose(overrides) -> DictConfig``: the CLI's config composition, without the CLI."""

from __future__ import annotations

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .config import GROUPS, conf_dir, group_options, register
from .errors import ConfigError


def check_group_choices(overrides: list[str]) -> None:
    """Raise a one-line :class:`ConfigError` for ``group=option`` naming an unknown option."""
    for item in overrides:
        key, sep, value = item.lstrip("+~").partition("=")
        key = key.split("@")[0]
        if not sep or key not in GROUPS:
            continue
        valid = group_options(key)
        for option in value.split(","):
            option = option.strip()
            if option and option != "null" and option not in valid:
                raise ConfigError(f"{key}={option!r}: unknown option; choose one of {valid}")


def compose(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """Compose the run config exactly as the ``sgdlab`` CLI does, e.g.
    ``compose(["problem=logistic", "sampler=reshuffle", "optimizer.lr=0.05", "replicates=16"])``.

    Returns the resolved config (without the ``hydra`` node); unknown options, unknown keys and
    wrong types raise a one-line :class:`ConfigError`."""
    overrides = [str(o) for o in overrides]
    check_group_choices(overrides)
    register()
    try:
        with initialize_config_dir(str(conf_dir()), version_base="1.3", job_name="sgdlab"):
            cfg = hydra_compose("config", overrides=overrides)
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(one_line(err)) from None
    return cfg


def one_line(err: BaseException) -> str:
    """A one-line message from a Hydra/OmegaConf error: its first line, then its cause's."""
    parts = []
    while err is not None and len(parts) < 2:
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        if lines:
            parts.append(lines[0].rstrip("."))
        err = err.__cause__
    return ": ".join(parts) if parts else "invalid configuration"
