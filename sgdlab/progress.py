"""Progress on a terminal: which phase a run is in (simulate, estimates, checks, figures,
report), steps per second and the time left, drawn by tqdm on stderr, and nothing at all when
stderr is not a terminal (a log file, a pipe, a test)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["on_terminal", "phases", "steps"]


def on_terminal() -> bool:
    """Whether progress is shown: stderr is a terminal."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


@contextmanager
def steps(total: int) -> Iterator[Callable[[int, bool], None] | None]:
    """A bar over the ``total`` steps of a run: yields ``update(done, estimating)`` (steps done
    so far, and whether σ², L and μ are being estimated at this one), or None off a terminal."""
    if not on_terminal():
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc="simulate", unit="step", file=sys.stderr, leave=False,
              dynamic_ncols=True, mininterval=0.2) as bar:  # fmt: skip

        def update(done: int, estimating: bool = False) -> None:
            bar.set_description("estimates" if estimating else "simulate", refresh=estimating)
            bar.update(done - bar.n)

        yield update


@contextmanager
def phases(names: list[str]) -> Iterator[Callable[[str], None]]:
    """A bar over the named phases (e.g. checks, figures, report): yields ``start(name)``,
    which a caller calls as each phase begins (a no-op off a terminal)."""
    if not on_terminal():
        yield lambda name: None
        return
    from tqdm import tqdm

    layout = "{desc} {n_fmt}/{total_fmt} [{elapsed}]"
    with tqdm(total=len(names), unit="phase", file=sys.stderr, leave=False,
              dynamic_ncols=True, bar_format=layout) as bar:  # fmt: skip
        seen: list[str] = []

        def start(name: str) -> None:
            if seen:
                bar.update(1)
            seen.append(name)
            bar.set_description(name)

        yield start
