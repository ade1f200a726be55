"""sgdlab: SGD variants on finite-sum problems, R vectorized replicates per run, and every
quantity a convergence theorem assumes, logged in an xarray dataset.

Python API: :func:`compose` (overrides → config, as the CLI composes it) and :func:`run`
(config or overrides → ``xarray.Dataset``). CLI: ``sgdlab`` (see ``sgdlab --help``).
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("sgdlab")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

from .api import run  # noqa: E402
from .compose import compose  # noqa: E402
from .errors import ConfigError  # noqa: E402
from .io import read_dataset, write_dataset  # noqa: E402

__all__ = ["ConfigError", "__version__", "compose", "read_dataset", "run", "write_dataset"]
