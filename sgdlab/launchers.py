"""What a ``hydra/launcher=...`` choice needs before a sweep starts: its Hydra plugin and, for
Slurm, the cluster's commands. Checked by the ``sgdlab`` command before anything is written;
a missing one is a one-line :class:`ConfigError` saying how to get it.

sgdlab's own launcher options (``conf/hydra/launcher/*.yaml``) extend a plugin's option (the
first entry of their ``defaults``), whose needs are in :data:`NEEDS`.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import yaml

from .config import conf_dir
from .errors import require

GROUP = "hydra/launcher"
SUBMITIT = ("hydra_plugins.hydra_submitit_launcher", "pip install 'sgdlab[cluster]'")
RAY = ("hydra_plugins.hydra_ray_launcher", "pip install hydra-ray-launcher")
# a plugin's launcher option -> (its module, how to install it, the commands it runs)
NEEDS = {
    "submitit_local": (*SUBMITIT, ()),
    "submitit_slurm": (*SUBMITIT, ("sbatch", "srun")),
    "ray": (*RAY, ()),
    "ray_aws": (*RAY, ()),
}


def base_option(option: str, config_dirs: list[str] | None = None) -> str:
    """The plugin option that ``option`` extends: the first entry of the ``defaults`` of its
    file in ``conf/hydra/launcher/`` (or in an extra config directory); else ``option``."""
    for folder in [conf_dir(), *map(Path, config_dirs or [])]:
        path = folder / GROUP / f"{option}.yaml"
        try:
            defaults = (yaml.safe_load(path.read_text()) or {}).get("defaults") or []
        except (OSError, yaml.YAMLError, AttributeError):
            continue
        first = next((d for d in defaults if isinstance(d, str) and d != "_self_"), None)
        if first is not None:
            return first
    return option


def check(option: str, config_dirs: list[str] | None = None) -> None:
    """Raise a one-line ConfigError when launcher ``option`` cannot run here."""
    base = base_option(option, config_dirs)
    if base not in NEEDS:
        return
    module, install, commands = NEEDS[base]
    require(importlib.util.find_spec(module) is not None, GROUP, option,
            f"needs Hydra's {module.rpartition('.')[2]} plugin: {install}")  # fmt: skip
    missing = [c for c in commands if shutil.which(c) is None]
    require(not missing, GROUP, option,
            f"needs {' and '.join(missing)} on PATH (run the sweep on the cluster's login "
            "node; hydra/launcher=local_cluster tries the same jobs on this machine)")  # fmt: skip
