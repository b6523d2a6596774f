"""Checks at session start that every location a setup names can be used, before anything builds or trains.

A missing or malformed data file (data/checks.py), label words for another dataset, a model
source that is not there, or a report or MLflow location that cannot be written would otherwise
surface minutes later, once per item, as tracebacks. Each
check here fails with one line naming the setup key (or environment variable) and the path.
Nothing is loaded, built or downloaded: a hub id is accepted as written (it is fetched later).
"""
from __future__ import annotations

import os
from pathlib import Path

from exaone_bench.core.validate import SpecError


def check(setup, rootdir: Path) -> None:
    """Raise SpecError on the first unusable location of `setup` (run from `rootdir`)."""
    from exaone_bench.base_models.load import resolve
    from exaone_bench.base_models.source import SourceError
    from exaone_bench.core.paths import data_dir
    from exaone_bench.data.source import ROTTEN_TOMATOES
    from exaone_bench.evidence.tracking import tracking_uri

    where = setup.path or "setup"
    if setup.data.source != ROTTEN_TOMATOES:
        path = Path(setup.data.source).expanduser()
        if not path.is_file():
            raise SpecError(f"{where}: data.source: '{setup.data.source}' does not exist (a .csv or .jsonl file with "
                            f"text and label columns, or {ROTTEN_TOMATOES})")
        if not os.access(path, os.R_OK):
            raise SpecError(f"{where}: data.source: '{setup.data.source}' is not readable")
        if path.suffix not in (".csv", ".jsonl", ".json"):
            raise SpecError(f"{where}: data.source: '{setup.data.source}' is a {path.suffix or 'suffix-less'} file; "
                            "use .csv or .jsonl")
    sources = [("model", setup.model)] + [(f"compare[{i}].source", c.source) for i, c in enumerate(setup.compare)]
    for key, source in sources:
        try:
            resolve(source, build=False)
        except SourceError as e:
            raise SpecError(f"{where}: {key}: {e}") from e
    if setup.reads_teacher_layer:  # task_model imports the training stack: seconds a collection need not spend
        from exaone_bench.base_models.task_model import check_embedding_layer

        check_embedding_layer(setup)
    if not (Path(rootdir) / setup.experiments).is_dir():
        raise SpecError(f"{where}: experiments: '{setup.experiments}' is not a directory under {rootdir} (the directory of "
                        "this setup's experiment files)")
    writable(Path(rootdir) / setup.reports, f"{where}: reports ('{setup.reports}', the reports directory)")
    writable(data_dir(), "EXAONE_BENCH_DATA (the data and cache directory)" if os.environ.get("EXAONE_BENCH_DATA")
             else f"{where}: the data directory")
    uri = tracking_uri(setup.tracking_uri, rootdir)
    key = "MLFLOW_TRACKING_URI" if os.environ.get("MLFLOW_TRACKING_URI") else f"{where}: tracking_uri"
    if uri.startswith("sqlite:///"):
        writable(Path(uri.removeprefix("sqlite:///")).parent, f"{key} ({uri})")
    elif uri.startswith("file:") or "://" not in uri:
        writable(Path(uri.removeprefix("file://").removeprefix("file:")), f"{key} ({uri})")
    data(setup, where)


def data(setup, where: str) -> None:
    """A bring-your-own data file read and checked row by row (data/checks.py; nothing is written), then the settings
    that depend on the data: one label word per class, and a local model whose tokenizer can read the texts."""
    from exaone_bench.data.source import ROTTEN_TOMATOES, RT_LABELS, DataError
    from exaone_bench.data.split import DataSpec, checked, label_order

    spec = DataSpec.of(setup.data)
    try:  # the built-in source is a checksummed package file whose labels are known: it is read only when needed
        table = None if spec.source == ROTTEN_TOMATOES else checked(spec)[1]
    except DataError as e:
        raise SpecError(f"{where}: data.source: {e}") from e
    names = label_order(RT_LABELS if table is None else table["label"].unique())
    if setup.evaluation.zero_shot.enabled:
        try:
            setup.evaluation.zero_shot.words_for(names)
        except ValueError as e:
            raise SpecError(f"{where}: evaluation.zero_shot.choices: {e} (data.source {setup.data.source})") from e
    unread = unknown_share(setup.model, lambda: (checked(spec)[1] if table is None else table)["text"].head(UNK_TEXTS).tolist())
    if unread > MAX_UNKNOWN:
        raise SpecError(f"{where}: model: the tokenizer of '{setup.model}' reads {unread:.0%} of the data's tokens as "
                        "<unk>: this model cannot read data.source's texts; use a model whose vocabulary covers them")


UNK_TEXTS, MAX_UNKNOWN = 200, 0.5


def unknown_share(source: str, texts) -> float:
    """The share of <unk> tokens when a local model's tokenizer reads the first texts; 0 for a tokenizer without an
    unknown token (byte-level BPE reads anything) and for built-in or hub models (checked when they are loaded)."""
    from exaone_bench.base_models.load import resolve

    src = resolve(source, build=False)
    if src.kind != "local" or not any((Path(src.location) / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")):
        return 0.0
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(src.location)
    if tokenizer.unk_token_id is None:
        return 0.0
    ids = [i for ids in tokenizer(texts(), add_special_tokens=False)["input_ids"] for i in ids]
    return sum(i == tokenizer.unk_token_id for i in ids) / max(len(ids), 1)


def writable(path: Path, what: str) -> None:
    """`path`, or the nearest folder above it that exists, must be a writable directory."""
    probe = Path(path).expanduser().resolve()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise SpecError(f"{what}: '{path}' cannot be written ({probe} is "
                        f"{'not a directory' if not probe.is_dir() else 'not writable'})")


__all__ = ["check", "data", "writable"]
