"""What makes a labelled table usable for the split: each problem is one line naming the file, the row or column, and the fix.

A bring-your-own file is checked here before anything loads a model (the session's preflight
calls `split.checked`, as `prepare` does before it writes the split), so a wrong file ends the run
in one line, not minutes later as a traceback from inside an item. Rows are named 1-based as the user sees them: the data row
of a CSV (the header is not a row) or the line of a JSONL file.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from exaone_bench.data.source import DataError

SHOWN = 3  # rows named in a message; the count says how many there are


def _rows(index) -> str:
    rows = [str(int(i) + 1) for i in index]
    more = f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else ""
    return f"row{'s' if len(rows) > 1 else ''} {', '.join(rows[:SHOWN])}{more}"


def _short(text: str, n: int = 40) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")


def columns(frame: pd.DataFrame, origin: str, text: str, label: str) -> pd.DataFrame:
    """The two columns the split needs, renamed to `text` and `label`; a file without them says which to map."""
    missing = [c for c in (text, label) if c not in frame.columns]
    if missing:
        found = [str(c) for c in frame.columns]
        hint = (f"set data.text_column and data.label_column in the setup (e.g. text_column: {found[0]}, "
                f"label_column: {found[1]})" if len(found) >= 2 else "the file needs a text and a label column")
        raise DataError(f"{origin}: missing column(s) {missing}; found {found}: rename them or {hint}")
    return frame[[text, label]].set_axis(["text", "label"], axis=1)


def labels(frame: pd.DataFrame, origin: str, column: str) -> pd.Series:
    """The label column as strings (names or integer ids): never empty, never floats, never a mix of kinds."""
    values = frame["label"]
    empty = values.isna() | values.astype(str).str.strip().eq("")
    if empty.any():
        raise DataError(f"{origin}: column '{column}': {_rows(values.index[empty])} "
                        f"{'have' if empty.sum() > 1 else 'has'} no label; give every row one, or drop it")
    kinds = values.map(_kind)
    if (kinds == "float").any():
        first = values.index[kinds == "float"][0]
        raise DataError(f"{origin}: column '{column}' holds floats ({values[first]!r} in {_rows([first])}): a class "
                        "label is an integer id or a name; write 1 rather than 1.0")
    if kinds.nunique() > 1:
        seen = {k: values.index[kinds == k][0] for k in sorted(kinds.unique())}
        raise DataError(f"{origin}: column '{column}' mixes integer ids and names ("
                        + ", ".join(f"{values[i]!r} in {_rows([i])}" for i in seen.values())
                        + "): use one kind for every row")
    return pd.Series([str(int(v)) if k == "int" else str(v).strip() for v, k in zip(values, kinds)], index=values.index)


def _kind(value) -> str:
    """'int', 'float' or 'name': a CSV cell is a string, a JSON value keeps its type."""
    if isinstance(value, (bool, np.bool_)):
        return "name"
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, numbers.Real):
        return "float"
    text = str(value).strip()
    for kind, parse in (("int", int), ("float", float)):
        try:
            parse(text)
            return kind
        except ValueError:
            pass
    return "name"


def texts(frame: pd.DataFrame, origin: str, column: str) -> pd.DataFrame:
    """The table with its texts as strings, once every text has words and no text carries two labels."""
    empty = frame["text"].isna() | frame["text"].astype(str).str.strip().eq("")
    if empty.any():
        raise DataError(f"{origin}: column '{column}': {_rows(frame.index[empty])} "
                        f"{'are' if empty.sum() > 1 else 'is'} empty or whitespace: drop "
                        f"{'them' if empty.sum() > 1 else 'it'} or give {'them' if empty.sum() > 1 else 'it'} text")
    frame = frame.assign(text=frame["text"].astype(str))
    per_text = frame.groupby("text")["label"].nunique()
    clashes = per_text[per_text > 1]
    if len(clashes):
        first = clashes.index[0]
        rows = frame.index[frame["text"] == first]
        more = f" ({len(clashes)} texts do)" if len(clashes) > 1 else ""
        raise DataError(f"{origin}: the text {_short(first)} carries two labels "
                        f"({', '.join(sorted(frame.loc[rows, 'label'].unique()))}) in {_rows(rows)}{more}: "
                        "keep the row with the right label")
    return frame


def classes(frame: pd.DataFrame, origin: str, validation_fraction: float, test_fraction: float) -> None:
    """At least two classes, each with enough rows that the stratified split puts one in validation and in test."""
    counts = frame["label"].value_counts()
    if len(counts) < 2:
        raise DataError(f"{origin}: needs at least two classes, found {sorted(counts.index)}: a classifier needs "
                        "rows of another class")
    need = math.ceil(1 / min(validation_fraction, test_fraction))
    small = counts[counts < need]
    if len(small):
        names = ", ".join(f"'{k}' ({v} rows)" for k, v in small.items())
        raise DataError(f"{origin}: class{'es' if len(small) > 1 else ''} {names} "
                        f"{'have' if len(small) > 1 else 'has'} too few rows: the stratified split needs at least "
                        f"{need} per class (1 / the smaller of the validation and test fractions) so that validation "
                        "and test each hold one; add rows or drop the class")


def check(frame: pd.DataFrame, origin: str, text: str = "text", label: str = "label",
          validation_fraction: float = 0.1, test_fraction: float = 0.1) -> pd.DataFrame:
    """The table with `text` and `label` (strings) after every check, duplicates of a text with one label kept once."""
    if frame.empty:
        raise DataError(f"{origin}: has no rows")
    frame = columns(frame, origin, text, label).reset_index(drop=True)
    frame = frame.assign(label=labels(frame, origin, label))
    frame = texts(frame, origin, text).drop_duplicates(subset="text", keep="first")
    classes(frame, origin, validation_fraction, test_fraction)
    return frame.reset_index(drop=True)
