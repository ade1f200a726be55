"""Hydra callback that ends every ``sgdlab`` command with the theory's verdict.

- after a single run (``on_run_end``): checks, figures and report of that run, written into
  its output directory next to ``run.nc``;
- after a sweep (``on_multirun_end``): the jobs collected into ``sweep.nc``, with the checks,
  figures and report written into the sweep directory.

Registered in ``conf/config.yaml`` (``~hydra.callbacks.report`` on the command line turns it
off)::

    hydra:
      callbacks:
        report:
          _target_: analysis.callback.Report
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from hydra.core.utils import JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sgdlab.cli import say

__all__ = ["Report"]


class Report(Callback):
    """Writes the report of a run or a sweep once it has finished (see the module docstring).

    A failure here is reported on stderr with its traceback but fails neither the run nor the
    sweep (their datasets are already written); ``sgdlab-report DIR`` retries it.
    """

    def __init__(self, alpha: float = 0.05) -> None:
        self.alpha = alpha

    def on_run_end(self, config: DictConfig, job_return=None, **kwargs) -> None:
        """Report the single run whose dataset the job just wrote."""
        if job_return is None or job_return.status != JobStatus.COMPLETED:
            return
        out_dir = Path(job_return.hydra_cfg.hydra.runtime.output_dir)
        self._report(lambda: _run_report(out_dir / config.output, out_dir, self.alpha))

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        """Collect and report the sweep in ``config.hydra.sweep.dir``."""
        sweep_dir = Path(config.hydra.sweep.dir)
        self._report(lambda: _sweep_report(sweep_dir, config.get("output"), self.alpha))

    @staticmethod
    def _report(write) -> None:
        try:
            verdict, html = write()
        except Exception:  # noqa: BLE001 - the runs succeeded; say why the report did not
            print("sgdlab: the report failed:", file=sys.stderr)
            traceback.print_exc()
            return
        say(f"  {verdict}", f"  report: {html}")


def _run_report(dataset: Path, out_dir: Path, alpha: float) -> tuple[str, Path]:
    from sgdlab.io import read_dataset

    from .report import verdict_of, write_run_report

    paths = write_run_report(read_dataset(dataset), out_dir, alpha=alpha)
    return verdict_of(paths), paths["report_html"]


def _sweep_report(sweep_dir: Path, output: str | None, alpha: float) -> tuple[str, Path]:
    from sgdlab.io import write_dataset

    from .collect import collect
    from .report import verdict_of, write_sweep_report

    sweep = collect(sweep_dir, output)
    write_dataset(sweep, sweep_dir / "sweep.nc")
    paths = write_sweep_report(sweep, sweep_dir, alpha=alpha)
    return verdict_of(paths), paths["report_html"]
