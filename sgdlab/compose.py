"""``compose(overrides) -> DictConfig``: the CLI's config composition, without the CLI.

Overrides are read by Hydra's own ``OverridesParser`` (:func:`parse`), so every override
syntax, sweeps included (``a,b``, ``choice(…)``, ``range(…)``, ``glob(…)``), means here what
it means to Hydra. ``config_dir`` is the CLI's ``--config-dir``: a directory of extra config
group options (e.g. ``experiment/mine.yaml``) searched after the built-in ``conf/``; a
``hydra.searchpath=[file://dir,pkg://package]`` override adds more, as it does for Hydra.
"""

from __future__ import annotations

import copy
import itertools
import os

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.override_parser.types import Glob, Override, OverrideType
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .config import GROUPS, as_dirs, conf_dir, group_options, register
from .errors import ConfigError, require


def parse(overrides: list[str] | tuple[str, ...]) -> list[Override]:
    """Hydra's parse of ``overrides``; a syntax error is a one-line :class:`ConfigError`."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser, parsed = OverridesParser.create(), []
    for item in map(str, overrides):
        try:
            parsed += parser.parse_overrides([item])
        except HydraException as err:
            lines = [ln for ln in str(err).splitlines() if ln.strip()]
            why = next((ln for ln in lines if not ln.startswith(("Error parsing", "See "))), "")
            raise ConfigError(
                f"override {item!r}: {why}; write key=value, a sweep such as key=a,b, "
                "+key=value or ~key (Hydra's override grammar)"
            ) from None
    return parsed


def extra_dir(config_dir: str | None) -> str | None:
    """The absolute path of ``--config-dir`` (None if not given); it must be a directory."""
    if config_dir is None:
        return None
    path = os.path.abspath(str(config_dir))  # as Hydra reads --config-dir
    require(os.path.isdir(path), "--config-dir", str(config_dir), "must be an existing directory")
    return path


SEARCHPATH = "hydra.searchpath"


def searchpath_dirs(parsed: list[Override]) -> list[str]:
    """The directories that ``hydra.searchpath=[...]`` overrides name: ``file://dir`` (relative
    to the working directory, as for Hydra) or ``pkg://package`` (a Python package's folder)."""
    import importlib.resources

    dirs = []
    for o in parsed:
        if o.key_or_group != SEARCHPATH or o.is_delete():
            continue
        entries = o.value() if isinstance(o.value(), list) else [o.value()]
        for entry in map(str, entries):
            scheme, _, where = entry.partition("://")
            if scheme == "file":
                path = os.path.abspath(where)
            elif scheme == "pkg":
                try:
                    path = str(importlib.resources.files(where.replace("/", ".")))
                except (ModuleNotFoundError, TypeError):
                    path = ""
            else:
                path = ""
            allowed = "entries must be file://<existing dir> or pkg://<importable package>"
            require(os.path.isdir(path), SEARCHPATH, entry, allowed)
            dirs.append(path)
    return dirs


def config_dirs(config_dir, parsed: list[Override]) -> list[str]:
    """Every extra config directory, absolute: ``config_dir`` (None, a path or a list: the
    CLI's ``--config-dir``) and then those of ``hydra.searchpath`` overrides in ``parsed``."""
    return [extra_dir(d) for d in as_dirs(config_dir)] + searchpath_dirs(parsed)


def values(override: Override, config_dir: str | None = None) -> list[str]:
    """The values ``override`` assigns, as strings: its one value, or every choice of a sweep
    (a ``glob`` matched against the group's options); interval sweeps cannot be enumerated."""
    if not override.is_sweep_override():
        return [override.get_value_element_as_str()]
    key = override.get_key_element()
    if isinstance(override.value(), Glob):
        return override.value().filter(group_options(override.key_or_group, config_dir))
    require(
        override.is_discrete_sweep(),
        key,
        override.input_line.partition("=")[2],
        "is an interval sweep; the basic sweeper needs a,b / choice(…) / range(…) / glob(…)",
    )
    return list(override.sweep_string_iterator())


def check_group_choices(parsed: list[Override], config_dir: str | None = None) -> None:
    """Raise a one-line :class:`ConfigError` for ``group=option`` (or a sweep over options)
    naming an unknown option, or a ``glob`` matching none."""
    for o in parsed:
        group = o.key_or_group
        if group not in GROUPS or o.is_delete():
            continue
        valid = group_options(group, config_dir)
        chosen = values(o, config_dir)
        require(
            bool(chosen), group, o.input_line.partition("=")[2], f"matches no option of {valid}"
        )
        # null is refused too: Hydra cannot take it from the command line (for experiment, the
        # default, leave the override out)
        none = " (for no experiment, leave the override out)" if group == "experiment" else ""
        for option in chosen:
            require(option in valid, group, option, f"unknown option; choose one of {valid}{none}")


def compose(
    overrides: list[str] | tuple[str, ...] = (), config_dir: str | None = None
) -> DictConfig:
    """Compose the run config exactly as the ``sgdlab`` CLI does, e.g.
    ``compose(["problem=logistic", "sampler=reshuffle", "optimizer.lr=0.05", "replicates=16"])``;
    ``config_dir`` (a path or a list of paths) adds directories of config groups, like the
    CLI's ``--config-dir``; so does a ``hydra.searchpath=[file://dir,...]`` override.

    Returns the resolved config (without the ``hydra`` node); unknown options, unknown keys and
    wrong types raise a one-line :class:`ConfigError`."""
    overrides = _for_hydra([str(o) for o in overrides], config_dir)
    try:
        cfg = _hydra_compose(overrides)
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException) as err:
        message = one_line(err)
        if "Could not append to config" in message:  # +key=value on a key that exists
            message += "; write ++key=value to set a key whether or not it exists"
        raise ConfigError(message) from None
    return cfg


def _for_hydra(overrides: list[str], config_dir) -> list[str]:
    """``overrides`` with their group choices checked and the config directories (``config_dir``
    and ``hydra.searchpath`` overrides) as one search path override, the schemas registered:
    what Hydra's composition is given."""
    parsed = parse(overrides)
    dirs = config_dirs(config_dir, parsed)
    check_group_choices(parsed, dirs)
    overrides = [o for o, p in zip(overrides, parsed, strict=True) if p.key_or_group != SEARCHPATH]
    if dirs:
        overrides.append(f"{SEARCHPATH}=[{','.join(f'file://{d}' for d in dirs)}]")
    register()
    return overrides


def _hydra_compose(overrides: list[str], with_hydra: bool = False) -> DictConfig:
    """Hydra's composition of ``overrides`` (checked, with the search path), unresolved;
    ``with_hydra``: with Hydra's own node ``hydra``."""
    with initialize_config_dir(str(conf_dir()), version_base="1.3", job_name="sgdlab"):
        return hydra_compose("config", overrides=overrides, return_hydra_config=with_hydra)


def hydra_node(overrides: list[str], config_dir=None) -> DictConfig:
    """The ``hydra`` node (launcher, job environment...) of the command line ``overrides``
    (no sweeps among them), as Hydra will compose it; unresolved."""
    return _hydra_compose(_for_hydra(overrides, config_dir), with_hydra=True).hydra


def _plain(o: Override) -> bool:
    """A ``key=value`` change of an existing key outside the config groups and Hydra's own
    node: Hydra applies it to the composed config, after the defaults."""
    key = o.key_or_group
    return (
        not o.is_sweep_override()
        and o.type == OverrideType.CHANGE
        and o.package is None
        and "/" not in key
        and key not in GROUPS
        and key.split(".")[0] != "hydra"
    )


def compose_many(jobs: list[list[str]], config_dir=None):
    """``compose(job, config_dir)`` for each job of ``jobs``, in order, faster: the jobs that
    differ only in plain ``key=value`` overrides (a sweep over step sizes, seeds, ...) share
    one Hydra composition, to which each job's values are applied as Hydra applies them
    (``OmegaConf.update`` under the schema). Anything else about a job — a group choice, ``+``,
    ``~``, an error — is composed by :func:`compose` itself, so its result and its errors are
    the same."""
    base: dict[tuple, DictConfig] = {}
    for job in jobs:
        parsed = parse(job)
        rest = tuple(str(j) for j, o in zip(job, parsed, strict=True) if not _plain(o))
        plain = [o for o in parsed if _plain(o)]
        try:
            if rest not in base:
                dirs = config_dirs(config_dir, parse(list(rest)))
                check_group_choices(parse(list(rest)), dirs)
                over = [r for r in rest if not r.startswith(SEARCHPATH)]
                if dirs:
                    over.append(f"{SEARCHPATH}=[{','.join(f'file://{d}' for d in dirs)}]")
                register()
                base[rest] = _hydra_compose(over)
            cfg = copy.deepcopy(base[rest])
            for o in plain:
                OmegaConf.update(cfg, o.key_or_group, o.value(), merge=True)
            OmegaConf.resolve(cfg)
        except Exception:  # noqa: BLE001 - compose says what is wrong, in its own words
            cfg = compose(job, config_dir)
        yield cfg


def one_line(err: BaseException) -> str:
    """A one-line message from a Hydra/OmegaConf error: its first line, then its cause's."""
    parts = []
    while err is not None and len(parts) < 2:
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        if lines:
            first = lines[0]
            if first.endswith(":") and len(lines) > 1:  # "... while composing config:" + why
                first = f"{first} {lines[1]}"
            parts.append(first.rstrip("."))
        err = err.__cause__
    return ": ".join(parts) if parts else "invalid configuration"


def expand_sweep(parsed: list[Override], config_dir=None) -> list[list[str]]:
    """Every job's override list of a basic sweep: the cartesian product of the overrides'
    values (a later override of a key replaces an earlier one, as in Hydra's basic sweeper)."""
    choices: dict[str, list[str]] = {}
    for o in parsed:
        key = o.get_key_element()
        if o.is_sweep_override():
            choices[key] = [f"{key}={v}" for v in values(o, config_dir)]
        else:  # written as Hydra's sweeper writes it (the jobs' overrides.yaml)
            choices[key] = [f"{key}={o.get_value_element_as_str()}"]
    return [list(job) for job in itertools.product(*choices.values())]
