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

import threading
import time
from pathlib import Path

from hydra.core.utils import JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sgdlab.console import fail, log_traceback, one_line, say

__all__ = ["Report"]


class Report(Callback):
    """Writes the report of a run or a sweep once it has finished (see the module docstring).

    A failure here is one line on stderr (the traceback goes to the run's log file, if any)
    and makes the command exit 1; the datasets are already written, and ``sgdlab-report DIR``
    retries the report.
    """

    def __init__(self, alpha: float = 0.05) -> None:
        self.alpha = alpha

    def on_run_end(self, config: DictConfig, job_return=None, **kwargs) -> None:
        """Report the single run whose dataset the job just wrote."""
        if job_return is None or job_return.status != JobStatus.COMPLETED:
            return
        out_dir = Path(job_return.hydra_cfg.hydra.runtime.output_dir)
        if not (out_dir / config.output).is_file():
            return  # the job failed (and said so)
        self._report(lambda: _run_report(out_dir / config.output, out_dir, self.alpha))

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        """Import what the report needs (plotting, statistics) in the background while the
        jobs run: this process only waits for its workers then."""
        threading.Thread(target=_import_report, daemon=True, name="sgdlab-report-imports").start()

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        """Collect and report the sweep in ``config.hydra.sweep.dir``."""
        sweep_dir = Path(config.hydra.sweep.dir)
        self._report(lambda: _sweep_report(sweep_dir, config.get("output"), self.alpha))

    @staticmethod
    def _report(write) -> None:
        start = time.perf_counter()
        try:
            verdict, html = write()
        except Exception as err:  # noqa: BLE001 - the runs are written; say why the report is not
            typed = not isinstance(err, OSError | ValueError)  # those say what went wrong
            why = f"{type(err).__name__}: {one_line(err)}" if typed else one_line(err)
            log_traceback(f"the report failed: {why}")
            fail(f"the report failed: {one_line(why)} (sgdlab-report DIR retries it)")
            return
        say(f"  {verdict}", f"  report: {html} ({time.perf_counter() - start:.1f} s)")


def _import_report() -> None:
    try:
        from . import collect, figures, report  # noqa: F401
    except Exception:  # noqa: BLE001 - the report imports them again, and says what fails
        pass


def _run_report(dataset: Path, out_dir: Path, alpha: float) -> tuple[str, Path]:
    from sgdlab import progress
    from sgdlab.io import read_dataset

    from .report import verdict_of, write_run_report

    with progress.phases(["checks", "figures", "report"]) as phase:
        paths = write_run_report(read_dataset(dataset), out_dir, alpha=alpha, phase=phase)
    return verdict_of(paths), paths["report_html"]


def _sweep_report(sweep_dir: Path, output: str | None, alpha: float) -> tuple[str, Path]:
    from sgdlab import progress
    from sgdlab.io import write_dataset

    from .collect import collect
    from .report import verdict_of, write_sweep_report

    with progress.phases(["collect", "checks, figures and report"]) as phase:
        phase("collect")
        sweep = collect(sweep_dir, output)
        write_dataset(sweep, sweep_dir / "sweep.nc")
        phase("checks, figures and report")
        paths = write_sweep_report(sweep, sweep_dir, alpha=alpha)
    return verdict_of(paths), paths["report_html"]
