"""Loading a user's function named on the command line: ``module:function`` or
``path/to/file.py:function`` (for ``problem.loss``, ``optimizer.make``, ``schedule.fn``...).

Every failure is a one-line :class:`~sgdlab.errors.ConfigError` naming the key, and for an
error raised inside the user's code, its file and line (:func:`user_frame`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path

from .errors import ConfigError, require

FORM = "write module:function or path/to/file.py:function"


def load_function(spec: str, key: str):
    """The callable that ``spec`` (``module:function`` or ``path/to/file.py:function``) names."""
    spec = str(spec)
    where, sep, name = spec.rpartition(":")
    require(bool(sep and where and name.isidentifier()), key, spec, FORM)
    if where.endswith(".py") or "/" in where or os.sep in where:
        module = _load_file(Path(where).expanduser(), key, spec)
    else:
        module = _import(where, key, spec)
    fun = getattr(module, name, None)
    require(fun is not None, key, spec, f"{where} has no attribute {name!r}")
    require(callable(fun), key, spec, f"{where}.{name} is a {type(fun).__name__}, not a function")
    return fun


def _import(module_name: str, key: str, spec: str):
    added = os.getcwd() not in sys.path  # a module next to where sgdlab runs, as for python -m
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001 - any error while importing user code is bad input
        raise ConfigError(
            f"{key}={spec!r}: importing {module_name} failed: {describe(err)}"
        ) from None
    finally:
        if added:
            sys.path.remove(os.getcwd())


def _load_file(path: Path, key: str, spec: str):
    require(path.is_file(), key, spec, f"file {str(path)!r} not found")
    resolved = str(path.resolve())
    name = f"sgdlab_user_{path.stem}_{hashlib.sha1(resolved.encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001
        del sys.modules[name]
        raise ConfigError(f"{key}={spec!r}: running {path} failed: {describe(err)}") from None
    return module


def user_frame(err: BaseException) -> str:
    """``file:line`` of the innermost frame of ``err``'s traceback outside sgdlab, autodiff,
    NumPy and SciPy (the user's code), or '' if there is none."""
    found = ""
    for frame in traceback.extract_tb(err.__traceback__):
        parts = Path(frame.filename).parts
        if not any(p in ("sgdlab", "autodiff", "numpy", "scipy", "importlib") for p in parts[-3:]):
            if "<frozen" not in frame.filename:
                found = f"{frame.filename}:{frame.lineno}"
    return found


def describe(err: BaseException) -> str:
    """``TypeName: message (at file:line)`` on one line."""
    message = " ".join(str(err).split()) or "(no message)"
    where = user_frame(err)
    return f"{type(err).__name__}: {message}" + (f" (at {where})" if where else "")
