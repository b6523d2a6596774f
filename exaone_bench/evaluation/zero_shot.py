"""Zero-shot accuracy through lm-evaluation-harness, on a local harness task written from the split's test set.

A training-free measure of damage beside the LM loss: each review is scored by the log-likelihood
of every label word after a prompt (`output_type: multiple_choice`, as the harness's own
`glue/sst2` does), and the most likely word is the prediction. The task is a YAML file and a
JSONL file in one directory (`dataset_path: json` with local `data_files`), so nothing is fetched,
and the harness's own CLI reads the same task with `--include_path DIR`.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import yaml
from filelock import FileLock

from exaone_bench.core.cache import stable_hash, verify_checksums, write_checksums
from exaone_bench.core.paths import data_dir


def prompt(choices: list[str]) -> str:
    """The harness's doc_to_text (a Jinja template over the review's `text`), naming the label words."""
    return "{{text}}\nQuestion: Is it " + " or ".join(choices) + "?\nAnswer:"


def split_task(source: str, texts: list[str], labels, choices: list[str]) -> tuple[Path, str]:
    """(include path, task name) of a split's test set as a harness task under data/cache/tasks/.

    Written once per content (texts, labels, label words, prompt) and shared by every worker: the
    checksums are written last, so a task left half-written by a killed run is written again.
    """
    labels = [int(y) for y in labels]
    name = re.sub(r"\W", "_", Path(source).stem) + "_test"
    key = stable_hash({"texts": texts, "labels": labels, "prompt": prompt(choices), "choices": choices})
    out = data_dir() / "cache" / "tasks" / f"{name}-{key}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if not verify_checksums(out):
            write_task(out, name, texts, labels, choices)
            write_checksums(out, [f"{name}.yaml", f"{name}.jsonl"])
    return out, name


def write_task(out: Path, name: str, texts: list[str], labels, choices: list[str]) -> Path:
    """Write `<out>/<name>.yaml` and its `test.jsonl`; return the directory (the harness's include path)."""
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"{name}.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": int(y)}) + "\n" for t, y in zip(texts, labels)))
    task = {
        "task": name, "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": str(data.resolve())}},
        "output_type": "multiple_choice", "test_split": "test",
        "doc_to_text": prompt(choices),
        "doc_to_target": "label", "doc_to_choice": list(choices),
        "metric_list": [{"metric": "acc"}], "metadata": {"version": 1.0},
    }
    (out / f"{name}.yaml").write_text(yaml.safe_dump(task, sort_keys=False))
    return out


def evaluate(causal_lm, tokenizer, tasks: dict[str, str], batch_size: int = 64) -> dict[str, dict[str, float]]:
    """Every task's metrics as the harness reports them: {task: {"acc": .., "acc_stderr": .., ...}}.

    `tasks` maps a task name to the directory holding its YAML (its include path): only those
    directories are indexed, not the harness's own tasks (seconds, and their data would be fetched).
    One harness call scores them all in batches of `batch_size` requests.
    """
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=sorted({str(p) for p in tasks.values()}), include_defaults=False)
    # the harness sets a pad token on the tokenizer it is given: the caller's stays as it was
    lm = HFLM(pretrained=causal_lm, tokenizer=copy.deepcopy(tokenizer), batch_size=batch_size)
    out = simple_evaluate(model=lm, tasks=list(tasks), task_manager=manager, bootstrap_iters=100,
                          log_samples=False, verbosity="ERROR")
    rows = {}
    for name in tasks:  # "acc,none" -> "acc": the filter is named only when it is not the default
        rows[name] = {key.replace(",none", "").replace(",", "_"): float(value)
                      for key, value in out["results"][name].items()
                      if "," in key and isinstance(value, (int, float)) and not isinstance(value, bool)}
    return rows


def accuracy(causal_lm, tokenizer, task_dir: Path, name: str, batch_size: int = 64) -> dict:
    """{"accuracy", "stderr"} of `causal_lm` on the local task, as the harness computes and reports them."""
    row = evaluate(causal_lm, tokenizer, {name: str(task_dir)}, batch_size)[name]
    return {"accuracy": row["acc"], "stderr": row.get("acc_stderr", float("nan"))}


__all__ = ["accuracy", "evaluate", "prompt", "split_task", "write_task"]
