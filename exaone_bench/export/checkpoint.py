"""Build one compressed variant from a base model and write it as a stock HF checkpoint.

The directory holds config.json, model.safetensors and the tokenizer, so that
`AutoModelForCausalLM.from_pretrained(DIR)` loads it offline, plus `removed.yaml` (what went,
what stayed, the scores that chose it) and the variant YAML it was built from.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from exaone_bench.base_models.load import load_model
from exaone_bench.compression.calibration import Calibration, calibration_for
from exaone_bench.compression.registry import STRATEGIES, apply, describe, replay
from exaone_bench.config.metrics import NAMES
from exaone_bench.config.schema import read_yaml
from exaone_bench.core.cache import atomic_dir
from exaone_bench.core.validate import SpecError, check_keys
from exaone_bench.evidence.records import VariantResult
from exaone_bench.models.architecture import full_model

VARIANT_KEYS = ("compression", "id", "description")


def read_variant_file(path: str | Path) -> dict:
    """The `compression:` block of a VARIANT.yaml, checked for unknown keys."""
    path = Path(path)
    doc = read_yaml(path)
    check_keys(doc, VARIANT_KEYS, str(path))
    if "compression" not in doc:
        raise SpecError(f"{path}: needs a 'compression:' block mapping a strategy to its spec; "
                        f"strategies: {list(STRATEGIES)}")
    return doc["compression"]


def save_variant(model, tokenizer, removed: list[dict], out: Path, provenance: dict, variant_file: Path | None = None):
    """Write the checkpoint, tokenizer, removed.yaml and the variant file atomically."""
    with atomic_dir(out) as tmp:
        full_model(model).save_pretrained(tmp)  # EXAONE 4.5: the whole model, its vision tower untouched
        tokenizer.save_pretrained(tmp)
        doc = {**provenance, "removed": removed}
        (tmp / "removed.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=120))
        if variant_file is not None:
            shutil.copy(variant_file, tmp / Path(variant_file).name)


def compress(source: str, variant_file: str | Path, out: str | Path, calibration: int = 32,
             seq_len: int = 64, seed: int = 0) -> list[dict]:
    """Load `source`, apply the variant file's compression, save to `out`; return the records."""
    compression = read_variant_file(variant_file)
    model, tokenizer, src = load_model(source)
    calib = calibration_for(tokenizer, calibration, seq_len, seed)
    removed = apply(model, compression, calib, where=str(variant_file))
    provenance = {"base": {"source": src.name, "kind": src.kind, "location": src.location},
                  "compression": compression,
                  "calibration": {"samples": calibration, "seq_len": seq_len, "seed": seed, "split": "train"}}
    save_variant(model, calib.tokenizer, removed, Path(out), provenance, Path(variant_file))
    return removed


def rebuild(source: str, removed_yaml: str | Path, out: str | Path) -> list[dict]:
    """Replay a removed.yaml on its base model: the identical variant, without scoring again."""
    doc = yaml.safe_load(Path(removed_yaml).read_text())
    model, tokenizer, _ = load_model(source)
    calib = Calibration(tokenizer=tokenizer)
    replay(model, doc["removed"], calib)
    save_variant(model, calib.tokenizer, doc["removed"], Path(out), {k: v for k, v in doc.items() if k != "removed"})
    return doc["removed"]


LICENSE_NOTE = ("EXAONE weights are released under LG AI Research's EXAONE AI Model License (non-commercial); "
                "a compressed derivative inherits that license. exaone-tiny and this code carry no such "
                "restriction beyond the project's own license.")


def model_card(result: VariantResult, base: str) -> str:
    """A short README.md for an exported variant: base, what was removed, metrics, license note."""
    m, d, p = result.metrics, result.deltas, result.params
    lines = [f"# {result.name}", "", f"Compressed from `{base}` by exaone-bench.", "", "## Removed", ""]
    lines += [f"- {describe(rec)}" for rec in result.removed]
    lines += ["", "## Metrics (test split, mean ± sd over seeds)", "",
              *[f"- {k}: {m[k]:.4f} ± {m.get(k + '_sd', 0):.4f}" + (f" (Δ vs baseline {d[k]:+.4f})" if k in d else "")
                for k in NAMES],
              f"- parameters: {p['total_parameters']:,}; size {p['model_size_mb']:.2f} MB; "
              f"latency {p['inference_latency_ms']:.2f} ms", "",
              f"Verdict: {result.message}", "", "## License", "", LICENSE_NOTE, ""]
    return "\n".join(lines)


def from_run(run_id: str, out: str | Path, model: str | None = None) -> list[dict]:
    """Rebuild a variant logged in MLflow by replaying its removed.yaml on its base model."""
    import json

    from exaone_bench.evidence.tracking import Tracker, tracking_uri

    tracker = Tracker(tracking_uri(None, Path.cwd()))
    run = tracker.client.get_run(run_id)
    result = tracker.read_result(run_id)
    parent = run.data.tags.get("mlflow.parentRunId")
    setup = json.loads(Path(tracker.client.download_artifacts(parent, "setup.json")).read_text()) if parent else {}
    base = model or setup.get("model")
    if not base:
        raise SpecError(f"run {run_id}: no base model recorded; pass --model")
    loaded, tokenizer, src = load_model(base)
    calib = Calibration(tokenizer=tokenizer)
    if not isinstance(result, VariantResult):
        raise SpecError(f"run {run_id}: a {result.stage} run, not a compressed variant")
    replay(loaded, result.removed, calib)
    provenance = {"base": {"source": src.name, "kind": src.kind, "location": src.location},
                  "compression": result.compression, "mlflow_run_id": run_id}
    save_variant(loaded, calib.tokenizer, result.removed, Path(out), provenance)
    (Path(out) / "README.md").write_text(model_card(result, src.name))
    return result.removed
