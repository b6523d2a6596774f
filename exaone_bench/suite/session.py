"""The state of one pytest run: the resolved setup, the runner, results, MLflow and the report."""
from __future__ import annotations

import dataclasses
import gc
import json
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from exaone_bench.config.setup import Setup
from exaone_bench.core.cache import atomic_write_text
from exaone_bench.core.paths import data_dir
from exaone_bench.core.validate import one_line
from exaone_bench.evidence.records import (
    BaselineResult,
    FloorResult,
    LayerCurveResult,
    ReferenceResult,
    VariantResult,
)
from exaone_bench.report import beside
from exaone_bench.report.render import publish
from exaone_bench.suite.order import read_durations, record_durations

STALE_RUN_SECONDS = 24 * 3600  # scratch of a run killed before its end is removed by a later run


INCOMPLETE = "incomplete"  # the parent run's tag when the run was interrupted (the report says so)


@dataclass
class BenchSession:
    """Kept in `config.stash`; on xdist the controller's instance gathers every worker's results.

    Only the controller talks to MLflow: results arrive from workers inside test reports and
    are logged as child runs of one parent run the moment they arrive.
    """

    setup: Setup
    rootdir: Path
    is_worker: bool = False
    progress: bool = False
    worker: str = "main"  # xdist's worker id (its progress file's name), or main for -n 0
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])  # the controller's, on every worker
    results: list[VariantResult] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    durations: dict = field(default_factory=dict)  # node id -> seconds of its call, this run
    started: float = field(default_factory=time.time)
    _runner: object = None
    _tracker: object = None
    _tags: dict = field(default_factory=dict)
    _base_config: object = None
    _run_ids: dict = field(default_factory=dict)  # variant name -> future of its MLflow run id
    _writer: object = None  # the one thread that writes to MLflow (see `_write`)
    _writes: list = field(default_factory=list)
    latency_seconds: float | None = None  # the last stage before the report: a benchmark prints it
    gpus: list[str] | None = None  # at the controller: each xdist worker's GPU (devices.plan), or None
    _display: object = None  # at the controller: progress.LiveDisplay
    baseline: BaselineResult | None = None  # as the session's end read it (None: no item finished, or it failed)
    curve: LayerCurveResult | None = None  # evaluation.layer_curve, measured at the session's end
    end_failed: str = ""  # the one line of an error that stopped the session's end

    def base_config(self):
        """The base model's config for checking specs at collection; None until the model is on disk."""
        if self._base_config is None:
            from exaone_bench.base_models.load import cached_config

            self._base_config = cached_config(self.setup.model, self.setup.trust_remote_code) or False
        return self._base_config or None

    @property
    def runner(self):
        if self._runner is None:
            from exaone_bench.pipeline.runner import Runner

            self._runner = Runner(self.setup, self.progress, self.run_dir)
            # The pipeline frees each model with gc.collect() (a model in a reference cycle holds its weights until
            # then). A full collection walks every object the imports made (torch, transformers, MLflow), at a
            # fraction of a second each time: moved to the permanent generation, they are no longer walked.
            gc.freeze()
        return self._runner

    @property
    def run_dir(self) -> Path:
        """Scratch space this run's workers share (seeds of identical models); removed at the end."""
        return data_dir() / "cache" / "runs" / self.run_id

    def run_variant(self, experiment, variant, nodeid: str = "") -> VariantResult:
        """Run one item; this process's progress file says which, and where it is, meanwhile."""
        from exaone_bench.suite.progress import WorkerProgress

        runner = self.runner
        if runner.fitter.live is None:
            runner.fitter.live = WorkerProgress(self.run_dir, self.worker)
        live = runner.fitter.live
        live.item(nodeid, f"{experiment.name}[{variant.id}]")
        try:
            return runner.run_variant(experiment, variant)
        finally:
            live.idle()

    # -- live progress (controller) ------------------------------------------------------------
    def start_progress(self, nodeids: list[str], reporter, workers: int, interval: float | None) -> None:
        """Show where every worker is every `interval` seconds (progress.py) on pytest's terminal, from the first
        collection on; `None`: the default for this terminal, 0: never."""
        from exaone_bench.suite.progress import LiveDisplay, LiveOutput, default_interval

        if reporter is None or not nodeids:
            return
        interval = default_interval(reporter.isatty()) if interval is None else interval
        if interval <= 0:
            return
        if self._display is None:
            shipped = Path(self.setup.path).parent / "durations.json" if self.setup.path else None
            self._display = LiveDisplay(self.run_dir, read_durations(shipped), workers, LiveOutput(reporter), interval,
                                        took=self.durations)
        self._display.start(nodeids)

    def resolution(self, bounds: dict[str, dict]) -> str:
        """One line, before anything runs: which bounds (variant -> {metric: Expectation}) lie inside the seed-noise floor
        of this setup's cached baseline, or that the floor is known once the baseline is trained."""
        from exaone_bench.pipeline.baseline import cached_noise_floor

        floor = cached_noise_floor(self.setup)
        if floor is None:
            return ("exaone-bench: this setup's resolution (the baseline's seed-noise floor) is known once its baseline "
                    "is trained; the report lists the bounds inside it")
        close = [f"{name} {m} {end}" for name, expect in bounds.items() for m, e in expect.items() if m in floor
                 for end in e.inside(floor[m])]
        head = ("exaone-bench: this setup resolves deltas of about " + ", ".join(f"{m} ±{v:.3f}" for m, v in floor.items())
                + " (its cached baseline against itself); ")
        return head + (f"{len(close)} bound(s) lie inside it and are decided only by an effect beyond it: "
                       + "; ".join(close) if close else "no bound of these items lies inside it")

    def item_finished(self, nodeid: str) -> None:
        if self._display is not None:
            self._display.finished(nodeid)

    def stop_progress(self) -> None:
        if self._display is not None:
            self._display.stop()

    @property
    def stamp(self) -> str:
        """When the run started, and its id: two runs started in the same second get their own report directory."""
        return time.strftime("%Y%m%d-%H%M%S", time.localtime(self.started)) + f"-{self.run_id[:6]}"

    @property
    def reports_dir(self) -> Path:
        return self.rootdir / self.setup.reports

    # -- MLflow ------------------------------------------------------------------------------
    @property
    def tracker(self):
        if self._tracker is None:
            from exaone_bench.core import machine
            from exaone_bench.evidence.tracking import Tracker, git_commit, tracking_uri

            self._tracker = Tracker(tracking_uri(self.setup.tracking_uri, self.rootdir))
            self._tags = {"setup_hash": self.setup.hash, "git_commit": git_commit(self.rootdir),
                          "machine": machine.summary(machine.describe())}  # what its times and float bits depend on
            self._tracker.start_parent(f"session {self.stamp}", self.setup.flat(), self.setup.as_dict(), self._tags)
        return self._tracker

    def start_writer(self) -> None:
        """Start the MLflow writer thread before the first item's report. `Thread.start` waits for the new thread: a
        SIGINT landing in that wait, inside the first `record`, would lose the first result and leave the interrupted
        run without a report; before any item it loses nothing (plugin._stop_thread_pools mends the pool)."""
        if self._writer is None:
            from concurrent.futures import ThreadPoolExecutor

            self._writer = ThreadPoolExecutor(1, thread_name_prefix="exaone-bench-mlflow")
            self._writer.submit(lambda: None).result()

    def _write(self, fn, *args):
        """Run an MLflow write on the session's one writer thread, in arrival order; returns its future.

        On xdist a worker starts its next variant only once the controller has handled the last
        one's report, and the first write (importing mlflow, opening sqlite) takes seconds.
        """
        self.start_writer()  # started at collection already (plugin): a no-op here
        future = self._writer.submit(fn, *args)
        self._writes.append(future)
        return future

    def _flush(self) -> None:
        """Wait for every write so far; the first that failed raises here."""
        writes, self._writes = self._writes, []
        for future in writes:
            future.result()

    def record(self, result: VariantResult) -> None:
        self._run_ids[result.name] = self._write(lambda: self.tracker.log_result(result, self._tags))
        self.results.append(result)  # after its write is queued: an interrupt between leaves no result without a run

    def measure_latency(self, baseline: BaselineResult) -> None:
        """Latency of the baseline and every variant, measured now, interleaved, nothing else running."""
        from exaone_bench.pipeline import end_of_run

        t0 = time.perf_counter()
        ms = end_of_run.latencies(self.runner.timer, baseline.config, self.results)
        self.latency_seconds = round(time.perf_counter() - t0, 1)
        baseline.params["inference_latency_ms"] = ms[0]
        for r, m in zip(self.results, ms[1:]):
            r.params["inference_latency_ms"] = m
            r.speedup = ms[0] / m
            self.tracker.log_latency(self._run_ids[r.name].result(), r)

    def noise_floor(self) -> dict[str, float]:
        """The baseline's seed-noise floor of a delta, once the session's end has read the baseline."""
        return self.baseline.noise_floor if self.baseline is not None else {}

    def record_failure(self, name: str, stage: str, error: str, reason: str = "") -> None:
        """A crashed item (or baseline): its whole report, and its one line for the report and the terminal."""
        self.failures.append({"name": name, "error": error, "reason": reason})
        self._write(lambda: self.tracker.log_failure(name, stage, error, self._tags, reason))

    def finish(self, interrupted: bool, say=None) -> Path | None:
        """Log baseline, floors and comparison models, write results.json and the report from MLflow, close the parent.

        `say(text)`: each stage as it starts (after the last item, minutes may pass before the report).
        """
        if not self._writes and not self.results and not self.failures:  # nothing was recorded
            return None
        say = say or (lambda text: None)
        try:
            self._flush()
            baseline = self.baseline = self._baseline()
            references = []
            if baseline is not None:
                say(f"session end: latency of {len(self.results) + 1} models, interleaved, nothing else running")
                self.measure_latency(baseline)
                self.tracker.log_result(baseline, self._tags)
                for name, metrics in baseline.floors.items():
                    self.tracker.log_result(FloorResult(name=f"floor:{name}", metrics=metrics), self._tags)
                from exaone_bench.pipeline import end_of_run

                references = end_of_run.comparison_rows(self.setup, self.runner.fitter, self.runner.measures, say)
                for row in references:
                    self.tracker.log_result(row, self._tags)
                if not interrupted:  # minutes of forward passes: an interrupted session ends now
                    curve = end_of_run.layer_curve(self.setup, self.runner.load_base, self.runner.measures,
                                                   self.runner.split.texts["train"], say)
                    if curve is not None:
                        self.tracker.log_result(curve, self._tags)
                        self.curve = curve
            if interrupted:  # the report says so: its rows are the items that finished
                self.tracker.client.set_tag(self.tracker.parent_id, INCOMPLETE, "interrupted")
            self._flush()
            self.write_results(baseline, references, interrupted)
            readme = self.write_report()
        except BaseException:
            if self._tracker is not None:
                self._tracker.end_parent("FAILED")
            raise
        self.tracker.end_parent("KILLED" if interrupted else "FINISHED" if baseline is not None else "FAILED")
        return readme

    def _baseline(self) -> BaselineResult | None:
        """A copy of the runner's baseline (latency is written into its params); None when no item finished.

        Every item needs the baseline, so after a finished item it is read from the cache; when every item
        failed it is not trained again here (it would fail again, minutes later, as a traceback at the session's end),
        and a baseline that cannot be read becomes a failure row of its own.
        """
        if not self.results:
            return None
        try:
            cached = self.runner.baseline()
        except Exception as e:  # noqa: BLE001 - the report and MLflow still close; the reason is named there
            self.record_failure("baseline", "baseline", f"{type(e).__name__}: {e}", one_line(e))
            return None
        return dataclasses.replace(cached, params=dict(cached.params))

    def close(self) -> None:
        """At the controller's end, whatever happened: keep the durations, drop this run's scratch."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)
        if self.durations:
            record_durations(self.durations)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        runs = self.run_dir.parent
        stale = [d for d in runs.iterdir() if time.time() - d.stat().st_mtime > STALE_RUN_SECONDS] if runs.is_dir() else []
        for old in stale:
            shutil.rmtree(old, ignore_errors=True)

    def write_results(self, baseline: BaselineResult | None, references: list[ReferenceResult], interrupted: bool = False) -> Path:
        """reports/latest/results.json: the setup, the baseline with its floors, the comparison models, every variant
        and post-training row."""
        doc = {"setup": self.setup.as_dict(), "setup_path": self.setup.path, "setup_hash": self.setup.hash,
               "mlflow_run_id": self.tracker.parent_id, "machine": self._tags["machine"], "started": self.started,
               "finished": time.time(),
               "latency_seconds": self.latency_seconds, "incomplete": interrupted,
               "baseline": baseline.to_dict() if baseline is not None else None, "references": [r.to_dict() for r in references],
               "variants": [r.to_dict() for r in sorted(self.results, key=lambda r: r.name) if r.stage != "post_training"],
               "post_training": [r.to_dict() for r in sorted(self.results, key=lambda r: r.name) if r.stage == "post_training"],
               "layer_curve": self.curve.to_dict() if self.curve is not None else None, "failed": self.failures}
        path = self.reports_dir / "latest" / "results.json"
        atomic_write_text(path, json.dumps(doc, indent=2, default=str) + "\n")
        return path

    def write_report(self) -> Path:
        """Rendered from what MLflow holds, exactly as `exaone-bench report` does later."""
        doc = beside.attach(self.tracker.read_session(self.tracker.parent_id), self.rootdir)
        run_dir = publish(doc, self.reports_dir, self.stamp)
        for f in sorted(run_dir.iterdir()):
            self.tracker.client.log_artifact(self.tracker.parent_id, str(f), "report")
        return run_dir / "README.md"
