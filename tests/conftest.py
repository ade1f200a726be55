"""Shared test fixtures."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _environment_restored():
    """Each test leaves the process environment as it found it: ``sgdlab.cli.main`` run in
    this process puts the sweep's pid and its jobs' BLAS thread counts into ``os.environ``
    (for its workers), which the subprocesses of later tests would inherit."""
    before = dict(os.environ)
    yield
    for key in set(os.environ) - set(before):
        del os.environ[key]
    os.environ.update(before)
