"""Classification data sources for ``logistic`` and ``mlp``, chosen by ``problem.data``.

- ``synthetic``: features aᵢ ~ N(0, I_d), labels yᵢ ~ Bernoulli(σ(aᵢᵀw)) with w ~ N(0, 4/d·I);
- ``breast_cancer`` / ``digits``: scikit-learn's bundled data sets (digits as binary: digit ≥ 5),
  when scikit-learn is installed (optional extra ``datasets``);
- a path to a ``.csv`` file (header row; the label column is named ``problem.label``, every
  other column is a feature) or an ``.npz`` file (features in array ``X``, labels in array
  ``problem.label``).

Labels are mapped to 0, …, k−1 in sorted order; features are standardized when
``problem.standardize`` is true. Every check fails with a one-line :class:`ConfigError`.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np

from ..errors import ConfigError, require

SOURCES = ("synthetic", "breast_cancer", "digits")
TINY_SD = 1e-150  # a varying feature with a smaller standard deviation: its squares underflow
ALLOWED_SOURCES = f"must be one of {', '.join(SOURCES)}, or a path to a .csv or .npz file"


def load(cfg) -> tuple[np.ndarray, np.ndarray]:
    """Features (n, p) float64 and integer labels (n,) in 0..k−1 for ``cfg`` (the problem node)."""
    source = str(cfg.data)
    if source == "synthetic":
        X, y = _synthetic(int(cfg.n), int(cfg.d), int(cfg.seed))
    elif source in ("breast_cancer", "digits"):
        X, y = _sklearn(source)
    else:
        require(bool(source.strip()), "problem.data", source, ALLOWED_SOURCES)
        X, y = _file(Path(source).expanduser(), str(cfg.label))
    require(
        X.ndim == 2 and X.shape[0] >= 2 and X.shape[1] >= 1,
        "problem.data",
        source,
        "needs a 2-D feature table with at least 2 samples and at least 1 feature column",
    )
    require(
        X.shape[0] == y.shape[0],
        "problem.data",
        source,
        f"features have {X.shape[0]} rows but labels have {y.shape[0]}; lengths must match",
    )
    require(
        bool(np.all(np.isfinite(X))),
        "problem.data",
        source,
        "features contain NaN or infinite values; only finite data is allowed",
    )
    require(
        bool(np.all(np.isfinite(y))),
        "problem.data",
        source,
        "labels contain NaN or infinite values; only finite labels are allowed",
    )
    classes, labels = np.unique(y, return_inverse=True)
    require(classes.size >= 2, "problem.data", source, "labels must take at least 2 values")
    with np.errstate(over="ignore", invalid="ignore"):
        mean, sd, norms = X.mean(axis=0), X.std(axis=0), (X * X).sum(axis=1)
    bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(sd)))
    require(
        bad.size == 0 and bool(np.all(np.isfinite(norms))),
        "problem.data",
        source,
        f"feature scale overflows float64 (feature column(s) {bad[:5].tolist() or 'all'}: "
        f"largest |value| {np.abs(X).max():.3g}; their mean, standard deviation or squared "
        "norm is infinite); rescale the features",
    )
    tiny = np.flatnonzero((np.ptp(X, axis=0) > 0) & ~(sd > TINY_SD))
    require(
        tiny.size == 0,
        "problem.data",
        source,
        f"feature scale underflows float64 (feature column(s) {tiny[:5].tolist()} vary, but "
        f"their standard deviation is below {TINY_SD:g}: their squares vanish); rescale them",
    )
    if cfg.standardize:
        X = (X - mean) / np.where(sd > 0, sd, 1.0)
    return np.ascontiguousarray(X, dtype=float), labels.astype(np.int64)


def _synthetic(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    require(n >= 2, "problem.n", n, "must be an integer ≥ 2")
    require(d >= 1, "problem.d", d, "must be a positive integer")
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d) * 2.0 / np.sqrt(d)
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-X @ w))).astype(float)
    return X, y


def _sklearn(name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        import sklearn.datasets as skd
    except ImportError:
        raise ConfigError(
            f"problem.data={name!r}: needs scikit-learn (pip install 'sgdlab[datasets]'); "
            "or use 'synthetic' or a .csv/.npz path"
        ) from None
    if name == "breast_cancer":
        X, y = skd.load_breast_cancer(return_X_y=True)
    else:
        X, y = skd.load_digits(return_X_y=True)
        y = (y >= 5).astype(float)
    return np.asarray(X, dtype=float), np.asarray(y, dtype=float)


def _file(path: Path, label: str) -> tuple[np.ndarray, np.ndarray]:
    key = "problem.data"
    require(path.suffix.lower() in (".csv", ".npz"), key, str(path), ALLOWED_SOURCES)
    require(path.is_file(), key, str(path), "file not found")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        require(False, key, str(path), "permission denied (the file is not readable)")
    except OSError as err:
        require(False, key, str(path), f"cannot be read ({err.strerror or one_line(err)})")
    if path.suffix.lower() == ".npz":
        return _npz(path, label)
    return _csv(path, label)


def _npz(path: Path, label: str) -> tuple[np.ndarray, np.ndarray]:
    key = "problem.data"
    require(zipfile.is_zipfile(path), key, str(path), "not a valid .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            require(
                "X" in names and label in names,
                key,
                str(path),
                f"an .npz file needs arrays 'X' and {label!r} (problem.label); found {names}",
            )
            X, y = np.asarray(z["X"], dtype=float), np.asarray(z[label], dtype=float)
    except (ValueError, TypeError, OSError, zipfile.BadZipFile) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(
            f"{key}={str(path)!r}: malformed .npz file; needs numeric arrays 'X' and {label!r} "
            f"({one_line(err)})"
        ) from None
    require(y.ndim == 1, key, str(path), f"labels {label!r} must be a 1-D array")
    return X, y


def _csv(path: Path, label: str) -> tuple[np.ndarray, np.ndarray]:
    key = "problem.data"
    try:
        lines = path.read_text().splitlines()
    except (ValueError, OSError) as err:  # UnicodeDecodeError is a ValueError
        raise ConfigError(f"{key}={str(path)!r}: unreadable CSV ({one_line(err)})") from None
    require(bool(lines) and bool(lines[0].strip()), key, str(path),
            "CSV is empty; needs a header row and numeric rows")  # fmt: skip
    header = [h.strip() for h in lines[0].split(",")]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except (ValueError, IndexError) as err:
        reason = one_line(err).split("; use `usecols`")[0]  # numpy's hint names its own API
        raise ConfigError(
            f"{key}={str(path)!r}: malformed CSV (needs a header row and numeric rows: {reason})"
        ) from None
    require(table.shape[0] > 0, key, str(path),
            "CSV has no data rows (only a header); needs numeric rows below it")  # fmt: skip
    require(
        label in header,
        key,
        str(path),
        f"CSV has no label column {label!r} (problem.label); columns are {header}",
    )
    require(
        table.shape[1] == len(header),
        key,
        str(path),
        f"CSV rows have {table.shape[1]} values but the header names {len(header)}",
    )
    j = header.index(label)
    return np.delete(table, j, axis=1), table[:, j]


def one_line(err: BaseException) -> str:
    """The first line of ``err``'s message (loaders' messages can span lines)."""
    lines = str(err).strip().splitlines()
    return lines[0].strip() if lines else type(err).__name__
