"""Where generated data, models and reports live: `./data` unless EXAONE_BENCH_DATA says otherwise."""
from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Root of generated data and the model cache (git-ignored)."""
    return Path(os.environ.get("EXAONE_BENCH_DATA", "data")).resolve()


def models_dir() -> Path:
    return data_dir() / "models"
