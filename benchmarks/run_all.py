"""Run every benchmark in this folder (``python3 dev.py bench [--quick]``)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(HERE))
    for path in sorted(HERE.glob("bench_*.py")):
        print(f"\n===== {path.stem} =====", flush=True)
        importlib.import_module(path.stem).main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
