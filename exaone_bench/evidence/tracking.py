"""MLflow tracking: the only module that imports mlflow.

One parent run per pytest session, one child run per baseline, floor and variant, all written
through `MlflowClient` with explicit run ids: a child is created, filled and terminated in one
call, so no run is ever left RUNNING, and on xdist the controller logs every worker's results
under the same parent as they arrive. Default store: `sqlite:///mlflow.db` at the project root.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from exaone_bench.config.metrics import NAMES as METRICS
from exaone_bench.evidence.records import (LayerCurveResult, ModelResult, PostTrainingResult, ReferenceResult, Result,
                                           VariantResult)
from exaone_bench.evidence.records import from_dict as result_from_dict

EXPERIMENT = "exaone-bench"


LATENCY = "latency.json"  # a variant's latency, logged after its run (Tracker.log_latency)


PARAM_LIMIT = 500  # conservative: longer values go to artifacts, never truncated silently


def tracking_uri(setup_uri: str | None, rootdir: Path) -> str:
    """MLFLOW_TRACKING_URI wins, then the setup's tracking_uri, then sqlite at the project root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or setup_uri or f"sqlite:///{Path(rootdir).resolve() / 'mlflow.db'}"


def git_commit(rootdir: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=rootdir, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def flatten(prefix: str, value, out: dict) -> dict:
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value
    return out


class Tracker:
    """A session's MLflow parent run and the child runs under it."""

    def __init__(self, uri: str, experiment: str = EXPERIMENT):
        import logging

        from mlflow.tracking import MlflowClient

        # MLflow's INFO lines (creating tables, migrations) and its artifact download bars are not the
        # user's business; warnings still show
        for name in ("mlflow", "alembic"):
            logging.getLogger(name).setLevel(logging.WARNING)
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

        # the client only: mlflow.set_tracking_uri would also export MLFLOW_TRACKING_URI to every
        # later subprocess of this one (a test's suite runs would log into another test's store)
        self.uri = uri
        self.client = MlflowClient(uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
        self.parent_id: str | None = None

    # -- parent ---------------------------------------------------------------------------
    def start_parent(self, name: str, setup_flat: dict, setup_doc: dict, tags: dict) -> str:
        run = self.client.create_run(self.experiment_id, run_name=name, tags={**tags, "experiment_stage": "session"})
        self.parent_id = run.info.run_id
        self._params(self.parent_id, {f"setup.{k}": v for k, v in setup_flat.items()})
        self._json_artifact(self.parent_id, "setup.json", setup_doc)
        return self.parent_id

    def end_parent(self, status: str) -> None:
        if self.parent_id is not None:
            self.client.set_terminated(self.parent_id, status=status)

    # -- children -------------------------------------------------------------------------
    def log_result(self, result: Result, tags: dict) -> str:
        """One finished model (baseline, floor or variant) as a FINISHED child run."""
        variant = isinstance(result, VariantResult)
        run = self.client.create_run(self.experiment_id, run_name=result.name, tags={
            "mlflow.parentRunId": self.parent_id, "compression_type": result.strategy,
            "variant_name": result.name, "experiment_stage": result.stage,
            "hypothesis": result.hypothesis[:5000] if variant else "",
            "verdict": result.verdict if variant else "n/a",
            **({"before_recovery_verdict": result.before_recovery_verdict}
               if variant and result.before_recovery_verdict else {}), **tags})
        rid = run.info.run_id
        try:
            self._fill(rid, result)
        except Exception as e:
            self.client.set_tag(rid, "error", f"{type(e).__name__}: {e}"[:5000])
            self.client.set_terminated(rid, status="FAILED")
            raise
        self.client.set_terminated(rid, status="FINISHED")
        return rid

    def log_latency(self, rid: str, result: VariantResult) -> None:
        """Latency, measured at the session's end, as a step of its own on the variant's finished run.

        The run's metrics.json stays as it was logged; `latency.json` (and a param and metrics)
        are added beside it, and `read_result` puts the two together.
        """
        latency = {"inference_latency_ms": result.params["inference_latency_ms"], "speedup": result.speedup}
        self.client.log_param(rid, "inference_latency_ms", latency["inference_latency_ms"])
        self.client.log_metric(rid, "inference_latency_ms", latency["inference_latency_ms"])
        self.client.log_metric(rid, "speedup", latency["speedup"])
        self._json_artifact(rid, LATENCY, latency)

    def log_failure(self, name: str, stage: str, error: str, tags: dict, reason: str = "") -> str:
        """A variant that crashed: a FAILED child run with the error (and its one-line reason) as tags."""
        run = self.client.create_run(self.experiment_id, run_name=name, tags={
            "mlflow.parentRunId": self.parent_id, "variant_name": name, "experiment_stage": stage,
            "verdict": "crashed", "error": error[-5000:], "reason": reason[:5000], **tags})
        self.client.set_terminated(run.info.run_id, status="FAILED")
        return run.info.run_id

    def _fill(self, rid: str, result: Result) -> None:
        from mlflow.entities import Metric

        metrics, params, per_seed = {}, {}, []
        for m in METRICS:
            if m in result.metrics:
                metrics[m] = result.metrics[m]
                metrics[f"{m}_sd"] = result.metrics.get(f"{m}_sd", 0.0)
        if isinstance(result, (ModelResult, ReferenceResult)):
            params.update(result.params)  # the runner's shape and cost columns
            per_seed = result.per_seed
            for m, ci in result.level_ci.items():
                metrics[f"{m}_ci_low"], metrics[f"{m}_ci_high"] = ci.ci_low, ci.ci_high
            metrics.update(result.zero_shot)  # zero_shot_accuracy(_stderr), lm_eval.<task>.<metric>
        if isinstance(result, ModelResult):
            metrics["lm_loss_before_recovery"], metrics["base_lm_loss"] = result.lm_loss_before_recovery, result.base_lm_loss
            metrics.update({f"before_recovery_{m}": v for m, v in result.before_recovery.items()})
        if isinstance(result, PostTrainingResult):
            params.update({f"post_training.{k}": v for k, v in flatten("", result.post_training, {}).items()})
            params["post_training.target"] = result.target
            metrics.update({f"source_{m}": result.source_metrics[m] for m in METRICS if m in result.source_metrics})
        if isinstance(result, VariantResult):
            params.update({f"compression.{k}": v for k, v in flatten("", result.compression, {}).items()})
            metrics.update({f"delta_{m}": result.deltas[m] for m in METRICS if m in result.deltas})
            for m, ci in result.ci.items():
                metrics[f"delta_{m}_ci_low"], metrics[f"delta_{m}_ci_high"] = ci.ci_low, ci.ci_high
            metrics.update({f"delta_before_recovery_{m}": v for m, v in result.before_recovery_deltas.items()})
            for m, ci in result.before_recovery_ci.items():
                metrics[f"delta_before_recovery_{m}_ci_low"] = ci.ci_low
                metrics[f"delta_before_recovery_{m}_ci_high"] = ci.ci_high
        self._params(rid, params)
        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, 0) for k, v in metrics.items()]
        for seed, per in enumerate(per_seed):  # per-seed values as steps
            batch += [Metric(f"{m}_per_seed", float(per[m]), now, seed) for m in METRICS if m in per]
        if isinstance(result, LayerCurveResult):  # each rule's LM loss with the layers removed as the step
            batch += [Metric("lm_loss_no_layer_removed", result.base_loss, now, 0)]
            batch += [Metric(f"lm_loss_removed_by_{p['rule']}", p["loss"], now, p["k"]) for p in result.points]
        self.client.log_batch(rid, metrics=batch)
        self._json_artifact(rid, "metrics.json", result.to_dict())
        if isinstance(result, VariantResult):
            self._text_artifact(rid, "removed.yaml", yaml.safe_dump(result.removed, sort_keys=False, default_flow_style=None))
            variant = {"id": result.variant_id, "compression": result.compression, "expect": result.expect}
            if isinstance(result, PostTrainingResult):
                variant.update(target=result.target, post_training=result.post_training)
                self._text_artifact(rid, "transform.yaml", yaml.safe_dump(result.transform, sort_keys=False,
                                                                          default_flow_style=None))
            self._text_artifact(rid, "variant.yaml", yaml.safe_dump(variant, sort_keys=False))
        if isinstance(result, (ModelResult, ReferenceResult)) and result.training.get("loss_curves"):
            self._curve(rid, result.name, result.training["loss_curves"])

    def _params(self, rid: str, params: dict) -> None:
        from mlflow.entities import Param

        short, long = {}, {}
        for k, v in params.items():
            text = json.dumps(v) if isinstance(v, (list, dict)) else str(v)
            (long if len(text) > PARAM_LIMIT else short)[k] = text
        for k in long:
            short[k] = "(too long for a param: see artifact long_params.json)"
        items = [Param(k[:250], v) for k, v in short.items()]
        for i in range(0, len(items), 90):
            self.client.log_batch(rid, params=items[i : i + 90])
        if long:
            self._json_artifact(rid, "long_params.json", long)

    def _json_artifact(self, rid: str, name: str, doc) -> None:
        self._text_artifact(rid, name, json.dumps(doc, indent=2, default=str, sort_keys=True))

    def _text_artifact(self, rid: str, name: str, text: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_text(text)
            self.client.log_artifact(rid, str(path))

    def _curve(self, rid: str, name: str, curves: list[list[float]]) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.2))
        for seed, curve in enumerate(curves):
            ax.plot(curve, label=f"seed {seed}", lw=1)
        ax.set(title=f"training loss: {name}", xlabel="step (subsampled)", ylabel="loss")
        ax.legend(fontsize=7)
        fig.tight_layout()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "training_curve.png"
            fig.savefig(path, dpi=100)
            self.client.log_artifact(rid, str(path))
        plt.close(fig)

    # -- reading back -----------------------------------------------------------------------
    def latest_parent(self) -> str:
        return self.parents(1)[0]

    def parents(self, n: int = 10_000) -> list[str]:
        """The last `n` session (parent) runs, newest first."""
        runs = self.client.search_runs([self.experiment_id], "tags.experiment_stage = 'session'",
                                       order_by=["attributes.start_time DESC"], max_results=n)
        if not runs:
            raise ValueError(f"no exaone-bench session runs in {self.uri}")
        return [r.info.run_id for r in runs]

    def _parent(self, parent_id: str):
        """The session's parent run; an id this store does not hold is a one-line error."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_run(parent_id)
        except MlflowException as e:
            raise ValueError(f"no run '{parent_id}' in {self.uri}") from e

    def has_baseline(self, parent_id: str) -> bool:
        """Whether a session logged its baseline (a failed or interrupted one may not have)."""
        self._parent(parent_id)
        return bool(self.client.search_runs([self.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}' and "
                                            "tags.experiment_stage = 'baseline' and attributes.status = 'FINISHED'",
                                            max_results=1))

    def last_with_baseline(self) -> tuple[str, list[str]]:
        """The newest session that has a baseline, and the newer ones passed over (failed or interrupted before it)."""
        parents = self.parents()
        for i, pid in enumerate(parents):
            if self.has_baseline(pid):
                return pid, parents[:i]
        raise ValueError(f"none of the {len(parents)} session(s) in {self.uri} has a baseline (the newest, "
                         f"{parents[0]}, failed or was interrupted before it): run the suite again")

    def sessions(self, setup_hash: str) -> list[str]:
        """Every session (parent) run of one setup hash, oldest first: the shards of a suite split over machines."""
        runs = self.client.search_runs([self.experiment_id], f"tags.experiment_stage = 'session' and "
                                       f"tags.setup_hash = '{setup_hash}'", order_by=["attributes.start_time ASC"],
                                       max_results=10_000)
        if not runs:
            raise ValueError(f"no exaone-bench session runs with setup hash {setup_hash} in {self.uri}")
        return [r.info.run_id for r in runs]

    def read_merged(self, setup_hash: str) -> dict:
        """One document from every session of `setup_hash` (each shard's runs): a row logged by several
        sessions is taken from the latest; the baseline, trained once per setup hash, is the latest's."""
        docs = [self.read_session(rid) for rid in self.sessions(setup_hash)]
        merged = {**docs[-1], "run_id": ",".join(d["run_id"] for d in docs), "shards": [d["run_id"] for d in docs],
                  "machines": [d["tags"].get("machine", "") for d in docs]}
        for key in ("references", "variants", "post_training"):
            rows = {r.name: r for d in docs for r in d[key]}
            merged[key] = sorted(rows.values(), key=lambda r: r.name)
        done = {r.name for key in ("variants", "post_training") for r in merged[key]}
        failed = {f["name"]: f for d in docs for f in d["failed"] if f["name"] not in done}
        merged["failed"] = sorted(failed.values(), key=lambda f: f["name"] or "")
        bases = [d["baseline"] for d in docs if d["baseline"] is not None]
        if not bases:
            raise ValueError(f"no session of setup {setup_hash} in {self.uri} has a baseline (each failed or was "
                             "interrupted before it): run the suite again")
        merged["baseline"] = bases[-1]
        merged["layer_curve"] = next((d["layer_curve"] for d in reversed(docs) if d["layer_curve"] is not None), None)
        return merged

    def read_result(self, run_id: str) -> Result:
        """One child run's record as logged (metrics.json), with its latency step when it has one."""
        result = result_from_dict(json.loads(Path(self.client.download_artifacts(run_id, "metrics.json")).read_text()))
        if any(a.path == LATENCY for a in self.client.list_artifacts(run_id)):
            latency = json.loads(Path(self.client.download_artifacts(run_id, LATENCY)).read_text())
            result.params["inference_latency_ms"] = latency["inference_latency_ms"]
            result.speedup = latency["speedup"]
        return result

    def read_session(self, parent_id: str | None = None) -> dict:
        """Everything the report needs, from MLflow alone: setup, the baseline, comparison, variant and post-training
        records, failures."""
        parent_id = parent_id or self.latest_parent()
        parent = self._parent(parent_id)
        setup = json.loads(Path(self.client.download_artifacts(parent_id, "setup.json")).read_text())
        children = self.client.search_runs([self.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'",
                                           max_results=10_000)
        doc = {"run_id": parent_id, "run_name": parent.info.run_name, "setup": setup,
               "setup_hash": parent.data.tags.get("setup_hash", ""),
               "tags": dict(parent.data.tags), "baseline": None, "references": [], "variants": [], "post_training": [],
               "layer_curve": None, "failed": []}
        for run in children:
            stage = run.data.tags.get("experiment_stage")
            if run.info.status == "FAILED":
                doc["failed"].append({"name": run.data.tags.get("variant_name"), "error": run.data.tags.get("error", ""),
                                      "reason": run.data.tags.get("reason", "")})
                continue
            result = self.read_result(run.info.run_id)
            if stage == "baseline":
                doc["baseline"] = result
            elif stage == "reference":
                doc["references"].append(result)
            elif stage in ("compression", "final"):
                doc["variants"].append(result)
            elif stage == "post_training":  # rows of their own: never candidates for the best compressed model
                doc["post_training"].append(result)
            elif stage == "layer_curve":
                doc["layer_curve"] = result
        doc["variants"].sort(key=lambda r: r.name)
        doc["post_training"].sort(key=lambda r: r.name)
        doc["references"].sort(key=lambda r: r.name)
        doc["failed"].sort(key=lambda r: r["name"] or "")
        return doc
