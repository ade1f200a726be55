"""analysis: the theory side of sgdlab. It reads run datasets and never runs optimizers.

- :mod:`analysis.bounds`: one function per convergence theorem, and the registry ``BOUNDS``;
- :mod:`analysis.constants`: the constants a run measures (L, μ, σ², G², M, Δ, ...);
- :mod:`analysis.assumptions`: each theorem's assumptions checked on a run;
- :mod:`analysis.quantities`: how each bounded quantity is measured from a run;
- :mod:`analysis.stats`: Bonferroni t confidence bounds, bootstrap and Markov tests (§9);
- :mod:`analysis.checks`: ``check(ds) -> (checks, constants)``, the bound checks;
- :mod:`analysis.collect`: merge a Hydra multirun directory into one dataset;
- :mod:`analysis.plots` / :mod:`analysis.figures`: the figures; :mod:`analysis.report`: the
  ``sgdlab-report`` command and ``write_run_report``; :mod:`analysis.callback`: the Hydra
  callback ``Report``.
"""

from .assumptions import assess
from .bounds import BOUNDS
from .checks import check, check_all, summarize
from .collect import cells, collect

__all__ = [
    "BOUNDS",
    "assess",
    "cells",
    "check",
    "check_all",
    "check_sweep",
    "collect",
    "summarize",
    "write_run_report",
    "write_sweep_report",
]


def __getattr__(name: str):
    """``check_sweep``, ``write_run_report``, ``write_sweep_report`` from :mod:`analysis.report`,
    imported on first use (so ``python -m analysis.report`` does not import it twice)."""
    if name in ("check_sweep", "write_run_report", "write_sweep_report"):
        from . import report

        return getattr(report, name)
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")
