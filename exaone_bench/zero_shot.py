"""Zero-shot accuracy through lm-evaluation-harness, on a local harness task written from the split's test set.

A training-free measure of damage beside the LM loss: each review is scored by the log-likelihood
of every label word after a prompt (`output_type: multiple_choice`, as the harness's own
`glue/sst2` does), and the most likely word is the prediction. The task is a YAML file and a
JSONL file in one directory (`dataset_path: json` with local `data_files`), so nothing is fetched,
and the harness's own CLI reads the same task with `--include_path DIR`.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

def prompt(choices: list[str]) -> str:
    """The harness's doc_to_text (a Jinja template over the review's `text`), naming the label words."""
    return "{{text}}\nQuestion: Is it " + " or ".join(choices) + "?\nAnswer:"


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


def accuracy(causal_lm, tokenizer, task_dir: Path, name: str, batch_size: int = 64) -> dict:
    """{"accuracy", "stderr"} of `causal_lm` on the local task, as the harness computes and reports them."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=causal_lm, tokenizer=tokenizer, batch_size=batch_size)
    out = simple_evaluate(model=lm, tasks=[name], task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
                          bootstrap_iters=100, log_samples=False, verbosity="ERROR")
    row = out["results"][name]
    return {"accuracy": float(row["acc,none"]), "stderr": float(row.get("acc_stderr,none", float("nan")))}


__all__ = ["accuracy", "prompt", "write_task"]
