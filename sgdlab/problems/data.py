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

from pathlib import Path

import numpy as np

from ..errors import ConfigError, require

SOURCES = ("synthetic", "breast_cancer", "digits")


def load(cfg) -> tuple[np.ndarray, np.ndarray]:
    """Features (n, p) float64 and integer labels (n,) in 0..k−1 for ``cfg`` (the problem node)."""
    source = str(cfg.data)
    if source == "synthetic":
        X, y = _synthetic(int(cfg.n), int(cfg.d), int(cfg.seed))
    elif source in ("breast_cancer", "digits"):
        X, y = _sklearn(source)
    else:
        X, y = _file(Path(source).expanduser(), str(cfg.label))
    require(
        X.ndim == 2 and X.shape[0] >= 2,
        "problem.data",
        source,
        "needs a 2-D feature table with at least 2 samples",
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
    if cfg.standardize:
        sd = X.std(axis=0)
        X = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
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
    allowed = f"{', '.join(SOURCES)}, or a path to a .csv or .npz file"
    require(path.suffix.lower() in (".csv", ".npz"), key, str(path), f"must be one of {allowed}")
    require(path.is_file(), key, str(path), "file not found")
    if path.suffix.lower() == ".npz":
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
        except (ValueError, OSError) as err:
            if isinstance(err, ConfigError):
                raise
            raise ConfigError(f"{key}={str(path)!r}: malformed .npz file ({err})") from None
        require(y.ndim == 1, key, str(path), f"labels {label!r} must be a 1-D array")
        return X, y
    try:
        header = path.read_text().splitlines()[0].split(",")
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except (ValueError, IndexError, OSError) as err:
        raise ConfigError(
            f"{key}={str(path)!r}: malformed CSV (needs a header row and numeric rows: {err})"
        ) from None
    header = [h.strip() for h in header]
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
