"""A teacher: a real pretrained LM made into a classifier of the setup's task, and its soft labels over the transfer set.

The teacher reads each text once (its last real token's final hidden state, frozen) and a
logistic-regression probe, fitted on the training split and its strength chosen on validation,
turns those features into log-probabilities. It labels the transfer set (data/augment.py: the
training texts and their augmented copies; with `sampled`, texts the teacher LM writes itself,
base_models/sampled.py; with `unlabelled`, real sentences of the task's domain, data/unlabelled.py), never a
validation or test text; its test accuracy is
measured for the report only. The labels are a one-time job: computed where bf16 units make it
fast (recorded in meta.json), cached by the hash of everything that made them, checksummed, and
shipped for the default setup so that every machine distils from the very same numbers.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from exaone_bench.base_models import sampled
from exaone_bench.base_models.load import load_model
from exaone_bench.config.setup import TeacherSetup
from exaone_bench.core.cache import atomic_dir, located, sha256_file, shipped_or_built, stable_hash, write_checksums
from exaone_bench.core.machine import bf16_units, ran_on
from exaone_bench.core.paths import data_dir
from exaone_bench.data.augment import Augmentation, transfer_set
from exaone_bench.data.split import Split
from exaone_bench.data.unlabelled import IMDB, draw
from exaone_bench.evaluation.classification import classification_metrics

SAMPLED = "sampled.txt.gz"  # the texts the teacher LM wrote, one per line, beside the labels computed from them
SHIPPED = Path(__file__).parent / "shipped"  # one-time outputs committed with the package, verified by checksum
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # the probe's inverse regularisation, chosen on validation


def augmentation(spec: TeacherSetup) -> Augmentation:
    return Augmentation(spec.copies, spec.drop, spec.swap, spec.ngram, spec.seed)


def key(spec: TeacherSetup, split_name: str) -> str:
    """What the labels depend on: the teacher, the split, the transfer set (a local unlabelled file by its checksum)
    and how it is read."""
    keyed = {"teacher": spec.keyed(), "split": split_name, "c_grid": C_GRID, "version": 1}
    local = Path(spec.unlabelled_source).expanduser()
    if spec.unlabelled and spec.unlabelled_source != IMDB and local.is_file():
        keyed["unlabelled_sha256"] = sha256_file(local)
    return stable_hash(keyed)


def unlabelled_texts(spec: TeacherSetup, split: Split) -> list[str]:
    """The real in-domain texts the spec adds to the transfer set (none unless `unlabelled`), never a held-out text."""
    if not spec.unlabelled:
        return []
    return draw(spec.unlabelled_source, spec.unlabelled, spec.seed, split.texts["validation"] + split.texts["test"])


@torch.no_grad()
def features(causal_lm, tokenizer, texts: list[str], max_length: int, batch_size: int, bf16: bool,
             on_batch: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(n, hidden) fp32: the final hidden state at each text's last real token (texts sorted by length)."""
    backbone = getattr(causal_lm, causal_lm.base_model_prefix)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    ids = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
    order = np.argsort([len(x) for x in ids], kind="stable")
    out = np.zeros((len(texts), causal_lm.config.hidden_size), dtype=np.float32)
    device = next(causal_lm.parameters()).device
    for i in range(0, len(order), batch_size):
        index = order[i : i + batch_size]
        rows = [ids[j] or [tokenizer.eos_token_id] for j in index]
        width = max(len(r) for r in rows)
        x = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(x)
        for k, r in enumerate(rows):
            x[k, : len(r)], mask[k, : len(r)] = torch.tensor(r), 1
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            h = backbone(input_ids=x.to(device), attention_mask=mask.to(device)).last_hidden_state
        last = (mask.sum(1) - 1).to(device)
        out[index] = h[torch.arange(len(rows), device=device), last].float().cpu().numpy()
        if on_batch is not None:
            on_batch(min(i + batch_size, len(order)), len(order))
    return out


def probe(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray):
    """Logistic regression on standardised features, C chosen by validation accuracy (first best wins)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    best, scores = None, {}
    for c in C_GRID:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        model.fit(train_x, train_y)
        scores[c] = float((model.predict(val_x) == val_y).mean())
        if best is None or scores[c] > scores[best[0]]:
            best = (c, model)
    return best[1], best[0], scores


def labels_dir(spec: TeacherSetup, split_name: str, local: bool = False) -> Path:
    """The shipped labels when present (unless `local`: a rebuild), else this machine's cache."""
    return located(SHIPPED, data_dir() / "cache" / "teachers", f"teacher-{key(spec, split_name)}", local)


def features_path(labels: Path) -> Path:
    """Where this machine keeps a teacher's transfer-set features: a local cache beside, never in, the shipped labels."""
    return data_dir() / "cache" / "teacher-features" / f"{labels.name}.npy"


def _save_features(path: Path, feats: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, feats.astype(np.float16))
    tmp.replace(path)


def _reader(spec: TeacherSetup):
    """The teacher LM, its tokenizer and source, and whether it reads in bf16 (the spec's dtype; auto: where fast)."""
    causal_lm, tokenizer, src = load_model(spec.source)
    torch.set_num_threads(spec.threads or torch.get_num_threads())
    return causal_lm, tokenizer, src, bf16_units() if spec.dtype == "auto" else spec.dtype == "bfloat16"


class _Progress:
    """Live lines while the teacher reads or writes: texts done, rate and ETA, every `batches` batches and at the end."""

    def __init__(self, what: str, total: int, batch_size: int, say: Callable[[str], None], batches: int = 40):
        self.what, self.total, self.every, self.say = what, total, batch_size * batches, say
        self.seen, self.started = 0, time.perf_counter()

    def at(self, seen: int) -> None:
        step, self.seen = seen - self.seen, seen
        if seen and (seen == self.total or (step and seen % self.every < step)):
            rate = seen / (time.perf_counter() - self.started)
            self.say(f"{self.what}: {seen:,}/{self.total:,} texts, {rate:,.0f} texts/s, ETA {(self.total - seen) / rate:,.0f} s")


def build(spec: TeacherSetup, split: Split, split_name: str, out: Path, say: Callable[[str], None] = print,
          found: list[str] | None = None) -> Path:
    """Features of the transfer set, validation and test; the probe; its labels and test metrics, into `out`.

    `found`: the spec's unlabelled texts when the caller has drawn them already (`Teacher.unlabelled`).
    """
    t0 = time.perf_counter()
    texts = transfer_set(split.texts["train"], augmentation(spec))
    causal_lm, tokenizer, src, bf16 = _reader(spec)
    written = []
    if spec.sampled:  # new texts of the task's kind, appended after the rule-based copies
        writing = _Progress(f"teacher {src.name} writes", spec.sampled, spec.batch_size, say, batches=10)  # slower than reading
        written = sampled.sample(causal_lm, tokenizer, split.texts["train"], spec.sampled, spec.seed, spec.sample_tokens,
                                 spec.batch_size, bf16, lambda k, n: writing.at(k))
        texts = texts + written
    found = unlabelled_texts(spec, split) if found is None else found
    if found:
        say(f"teacher {src.name}: {len(found):,} unlabelled texts of {spec.unlabelled_source} added to the transfer set")
    texts = texts + found
    parts = {"transfer": texts, "validation": split.texts["validation"], "test": split.texts["test"]}
    progress = _Progress(f"teacher {src.name}", sum(len(v) for v in parts.values()), spec.batch_size, say)
    feats = {}
    for name, part in parts.items():
        done = progress.seen
        feats[name] = features(causal_lm, tokenizer, part, spec.max_length, spec.batch_size, bf16,
                               lambda k, n, done=done: progress.at(done + k))
    _save_features(features_path(out), feats["transfer"])
    n_train = len(split.texts["train"])
    model, c, scores = probe(feats["transfer"][:n_train], split.labels["train"], feats["validation"], split.labels["validation"])
    logits = model.predict_log_proba(feats["transfer"]).astype(np.float32)
    test = classification_metrics(split.labels["test"], model.predict_log_proba(feats["test"]))
    validation = classification_metrics(split.labels["validation"], model.predict_log_proba(feats["validation"]))
    meta = {"teacher": src.name, "spec": spec.model_dump(), "split": split_name, "transfer_texts": len(texts),
            "sampled_texts": len(written), "unlabelled_texts": len(found),
            "train_texts": n_train, "probe": {"kind": "logistic regression on standardised last-token features",
                                              "C": c, "validation_accuracy_by_C": scores},
            "validation": validation, "test": test, "bf16": bf16, "seconds": round(time.perf_counter() - t0, 1),
            "ran_on": ran_on(torch.get_num_threads())}
    with atomic_dir(out) as tmp:
        np.savez_compressed(tmp / "labels.npz", logits=logits.astype(np.float16))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        if written:
            _write_lines(tmp / SAMPLED, written)
        write_checksums(tmp, ["labels.npz", "meta.json"] + ([SAMPLED] if written else []))
    return out


def _write_lines(path: Path, lines: list[str]) -> None:
    """One text per line, gzip without a timestamp: the same texts give the same bytes (and checksum)."""
    import gzip

    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write("".join(line + "\n" for line in lines).encode("utf-8"))


def _read_lines(path: Path) -> list[str]:
    import gzip

    return gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()


class Teacher:
    """The soft labels of one teacher over one split's transfer set: verified, or built once here."""

    def __init__(self, spec: TeacherSetup, split: Split, split_name: str, local: bool = False):
        # local: this machine's cache even where labels are shipped (`exaone-bench original --rebuild`)
        self.spec, self.split, self.split_name = spec, split, split_name
        self.dir = labels_dir(spec, split_name, local)
        self._logits = self._texts = self._unlabelled = None

    def ensure(self, say: Callable[[str], None] = print, rebuild: bool = False) -> Path:
        """The labels' directory, checked against its checksums; built when absent or asked to (never over a shipped one)."""
        if rebuild:
            self._logits = self._texts = None
        return shipped_or_built(self.dir, self.dir.parent == SHIPPED,
                                lambda: build(self.spec, self.split, self.split_name, self.dir, say, self.unlabelled()),
                                rebuild)

    def unlabelled(self) -> list[str]:
        """The spec's real unlabelled texts, drawn once per Teacher (a build and `transfer_texts` both ask)."""
        if self._unlabelled is None:
            self._unlabelled = unlabelled_texts(self.spec, self.split)
        return self._unlabelled

    def meta(self) -> dict:
        return json.loads((self.ensure() / "meta.json").read_text())

    def logits(self) -> np.ndarray:
        """(transfer texts, labels) fp32 log-probabilities; the first rows are the training texts in split order
        (verified and read once per Teacher: gold() and the task model both ask)."""
        if self._logits is None:
            self._logits = np.load(self.ensure() / "labels.npz")["logits"].astype(np.float32)
        return self._logits

    def features(self, say: Callable[[str], None] = print) -> np.ndarray:
        """(transfer texts, hidden) fp32: the teacher's last-token features, read again here once when not cached."""
        path = features_path(self.dir)
        if not path.is_file():
            texts, spec = self.transfer_texts(), self.spec
            causal_lm, tokenizer, src, bf16 = _reader(spec)
            progress = _Progress(f"teacher {src.name} features", len(texts), spec.batch_size, say)
            _save_features(path, features(causal_lm, tokenizer, texts, spec.max_length, spec.batch_size, bf16,
                                          lambda k, n: progress.at(k)))
        return np.load(path).astype(np.float32)

    def transfer_texts(self) -> list[str]:
        """The training texts, their rule-based copies, the texts the teacher LM wrote (`sampled`), then the real
        unlabelled ones (`unlabelled`); made once per Teacher (a build and a feature read both ask)."""
        if self._texts is None:
            texts = transfer_set(self.split.texts["train"], augmentation(self.spec))
            texts += _read_lines(self.ensure() / SAMPLED) if self.spec.sampled else []
            self._texts = texts + self.unlabelled()
        return list(self._texts)

    def gold(self) -> np.ndarray:
        """The student's gold label of each transfer text: a copy keeps its source text's label; a text the teacher LM
        wrote or an unlabelled one has none, so the teacher's own choice stands in (pseudo-labelling)."""
        train = self.split.labels["train"]
        copied = np.tile(train, self.spec.copies + 1)
        return np.concatenate([copied, self.logits()[len(copied):].argmax(1)]).astype(train.dtype)
