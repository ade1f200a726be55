"""The problem table: ``problem=<name>`` → a builder ``build(cfg) -> Problem``."""

from __future__ import annotations

from collections.abc import Callable

from . import custom, least_squares, logistic, lsq1d, mean, mlp
from .base import Constants, Problem

PROBLEMS: dict[str, Callable[..., Problem]] = {
    "mean": mean.build,
    "lsq1d": lsq1d.build,
    "least_squares": least_squares.build,
    "logistic": logistic.build,
    "mlp": mlp.build,
    "custom": custom.build,
}


def make_problem(cfg) -> Problem:
    """Build the problem described by the ``problem`` config node (its ``name`` picks the row)."""
    return PROBLEMS[str(cfg.name)](cfg)


__all__ = ["PROBLEMS", "Constants", "Problem", "make_problem"]
