"""pytest plugin (pytest11 entry point): experiments/*.yaml become test items. Hooks only.

`pytest experiments/ -k drop_layers` collects each variant of experiments/drop_layers.yaml as
`drop_layers[<variant id>]`, builds it, fine-tunes it under the fixed setup and asserts the
file's expectation against the cached baseline. State lives in one BenchSession in config.stash.
"""
from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import pytest

from exaone_bench.compression.registry import STRATEGIES
from exaone_bench.config.setup import load_setup
from exaone_bench.config.verdict import VERDICT_TEXT
from exaone_bench.core.validate import NotApplicable, SpecError, one_line
from exaone_bench.evidence.records import from_dict
from exaone_bench.suite import devices
from exaone_bench.suite.collect import load_experiment
from exaone_bench.suite.order import longest_first, read_durations
from exaone_bench.suite.session import BenchSession

session_key = pytest.StashKey[BenchSession]()


RESULT = "exaone_bench_result"


VARIANT = "exaone_bench_variant"


STAGE = "exaone_bench_stage"
REASON = "exaone_bench_reason"  # a crashed item's one line: the exception's type and message


RUN_ID = "exaone_bench_run_id"


GPU = "exaone_bench_gpu"  # the CUDA_VISIBLE_DEVICES entry of one worker (devices.py)


def pytest_addoption(parser):
    group = parser.getgroup("exaone-bench")
    group.addoption("--setup", default=None, help="setup YAML (default: experiments/setup.yaml)")
    group.addoption("--model", default=None, help="override the setup's model source")
    group.addoption("--device", default=None, choices=("cpu", "cuda", "auto"), help="override the setup's device")
    group.addoption("--dtype", default=None, choices=("float32", "bfloat16"), help="override the setup's dtype")
    group.addoption("--quick", action="store_true", help="one seed instead of the setup's seeds")
    group.addoption("--bench-progress", action="store_true", help="show fine-tune progress bars")
    group.addoption("--bench-progress-every", type=float, default=None, metavar="SECONDS",
                    help="show where every worker is this often (default 2, redrawn in place, on a terminal; 60 otherwise; 0: never)")


def _setup_path(config) -> Path | None:
    if config.getoption("--setup"):
        return Path(config.getoption("--setup"))
    default = Path(config.rootpath) / "experiments" / "setup.yaml"
    return default if default.is_file() else None


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: end-to-end tests that take minutes")
    # library noise stays out of the user's terminal: MLflow's sqlalchemy deprecation (its INFO lines: tracking.py)
    config.addinivalue_line("filterwarnings", "ignore:The ``noload`` loader strategy:DeprecationWarning")
    config.addinivalue_line("markers", "final: the combined experiment (experiments/final.yaml)")
    config.addinivalue_line("markers", "compression: a single-factor experiment")
    config.addinivalue_line("markers", "post_training: a transform of fine-tuned models (experiments/post_training.yaml)")
    for name in STRATEGIES:
        config.addinivalue_line("markers", f"{name}: variants of the {name} strategy")
    path = _setup_path(config)
    if path is None:
        return
    if not config.getoption("--bench-progress"):  # transformers' loading and saving bars (read when it is imported)
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    worker = getattr(config, "workerinput", None)
    if worker is not None and worker.get(GPU) is not None:  # before anything initialises CUDA
        os.environ[devices.ENV] = worker[GPU]
    try:
        setup = load_setup(path, model=config.getoption("--model"), device=config.getoption("--device"),
                           dtype=config.getoption("--dtype"))
    except SpecError as e:
        raise pytest.UsageError(str(e)) from e
    if config.getoption("--quick"):
        setup.training.seeds = 1
    gpus = None
    if worker is None:  # every location the setup names, and a GPU per worker, checked once before anything runs
        from exaone_bench.suite.preflight import check

        workers = getattr(config.option, "numprocesses", None)
        try:
            check(setup, Path(config.rootpath))
            gpus = devices.plan(setup.device, workers if isinstance(workers, int) else 0)
        except SpecError as e:
            raise pytest.UsageError(str(e)) from e
    bench = BenchSession(setup, Path(config.rootpath), worker is not None, config.getoption("--bench-progress"),
                         worker["workerid"] if worker is not None else "main")
    bench.gpus = gpus
    if worker is not None:
        bench.run_id = worker.get(RUN_ID, bench.run_id)  # absent: the worker shares nothing
    config.stash[session_key] = bench
    config.pluginmanager.register(ResultHooks(bench), "exaone-bench-results")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist, at the controller: every worker gets the controller's run id (their shared scratch) and its GPU."""
    if session_key in node.config.stash:
        bench = node.config.stash[session_key]
        node.workerinput[RUN_ID] = bench.run_id
        if bench.gpus:
            node.workerinput[GPU] = bench.gpus[devices.worker_index(node.gateway.id)]


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    """Variants run longest first by their last durations; other items keep their places.

    A wrapper: the order is set after every other plugin has selected (`-k`, pytest-split's shard),
    so a shard is chosen from the collection order, the same on every machine, never from this
    machine's own durations.
    """
    result = yield
    if session_key not in config.stash:
        return result
    setup = config.stash[session_key].setup
    shipped = Path(setup.path).parent / "durations.json" if setup.path else None
    slots = [i for i, item in enumerate(items) if isinstance(item, VariantItem)]
    for i, item in zip(slots, longest_first([items[i] for i in slots], read_durations(shipped))):
        items[i] = item
    return result


def pytest_collect_file(file_path: Path, parent):
    """An experiment file is a YAML file in the setup's `experiments` directory (experiments/ by default): another
    model's study (experiments/smollm2/) runs under its own setup and never under the default's."""
    if file_path.suffix not in (".yaml", ".yml") or file_path.name == "setup.yaml" or session_key not in parent.config.stash:
        return None
    setup = parent.config.stash[session_key].setup
    if file_path.parent.resolve() != (Path(parent.config.rootpath) / setup.experiments).resolve():
        return None
    # A broken experiment file is a collection error naming file, variant and key; the other
    # files must still run. Only suites get this: a unit-test run keeps pytest's default.
    parent.config.option.continue_on_collection_errors = True
    return ExperimentFile.from_parent(parent, path=file_path)


class ExperimentFile(pytest.File):
    """One experiment YAML; each variant is one item."""

    def collect(self):
        bench = self.config.stash[session_key]
        try:
            experiment = load_experiment(self.path, bench.base_config())
            bounded = [v.id for v in experiment.variants if v.expect_before]
            if bounded and bench.setup.original != "task":
                raise SpecError(f"{self.path}[{bounded[0]}].expect.before_recovery: bounds the task model's head right "
                                f"after the cut, but {bench.setup.path or 'the setup'} cuts from the pretrained LM "
                                "(original: pretrained); set original: task or drop the bound")
        except SpecError as e:
            raise self.CollectError(str(e)) from e
        for variant in experiment.variants:
            item = VariantItem.from_parent(self, name=f"{experiment.name}[{variant.id}]",
                                           experiment=experiment, variant=variant)
            # -k also matches marker names: the final stage must not answer to `-k drop_layers`.
            factors = list(variant.compression) if experiment.stage == "compression" else []
            for mark in [experiment.stage, *factors, *variant.marks]:
                item.add_marker(mark)
            if variant.not_applicable:  # e.g. prune_experts on a dense model: nothing to cut
                item.add_marker(pytest.mark.skip(reason=f"{item.name} does not apply to this model ({variant.not_applicable})"))
            yield item


class ExpectationFailed(AssertionError):
    """The variant's mean metrics broke the expectation: the hypothesis is rejected."""


class VariantItem(pytest.Item):
    def __init__(self, *, experiment, variant, **kwargs):
        super().__init__(**kwargs)
        self.experiment, self.variant = experiment, variant
        self.user_properties += [(VARIANT, self.name), (STAGE, experiment.stage)]

    def runtest(self):
        session = self.config.stash[session_key]
        try:
            result = session.run_variant(self.experiment, self.variant, self.nodeid)
        except NotApplicable as e:  # the base config was unknown at collection (e.g. a hub id fetched now)
            pytest.skip(f"{self.name} does not apply to this model ({e})")
        except Exception as e:
            self.user_properties.append((REASON, one_line(e)))
            raise
        self.user_properties.append((RESULT, json.dumps(result.to_dict(), default=str)))
        before = getattr(result, "before_recovery_verdict", "")
        if "rejected" in (result.verdict, before):  # either the recovered model's bounds or the cut's own
            raise ExpectationFailed("\n".join(m for m in (result.message, getattr(result, "before_recovery_message", "")) if m))

    def repr_failure(self, excinfo, style=None):
        from exaone_bench.base_models.source import SourceError
        from exaone_bench.data.source import DataError

        if isinstance(excinfo.value, (ExpectationFailed, SpecError, DataError, SourceError)):  # a message, no traceback
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        # a line number (0: the file), which pytest needs to report a skipped item
        return self.path, 0, f"{self.name}: {self.experiment.hypothesis[:60]}"


class ResultHooks:
    """Hooks that need the session: registered in pytest_configure, like junitxml's LogXML."""

    def __init__(self, bench: BenchSession):
        self.bench = bench
        self.readme = None
        self.said_resolution = False

    def _start_progress(self, config, nodeids) -> None:
        self.bench.start_writer()  # before any item reports: see BenchSession.start_writer
        workers = getattr(config.option, "numprocesses", None)
        self.bench.start_progress(nodeids, config.pluginmanager.get_plugin("terminalreporter"),
                                  workers if isinstance(workers, int) and workers else 1,
                                  config.getoption("--bench-progress-every"))

    def pytest_collection_finish(self, session):
        """-n 0: the live lines start once the items are known (an xdist controller collects nothing)."""
        if not self.bench.is_worker:
            items = [i for i in session.items if isinstance(i, VariantItem)]
            self._start_progress(session.config, [i.nodeid for i in items])
            self._say_resolution(session.config, {i.name: i.variant.expect for i in items})

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        """xdist, at the controller: the first worker's collection starts the live lines."""
        ids = [i for i in ids if ".yaml::" in i]
        self._start_progress(node.config, ids)
        if not self.said_resolution:
            names = {i.split("::")[-1] for i in ids}
            files = sorted({i.split("::")[0] for i in ids})
            try:
                experiments = [load_experiment(Path(node.config.rootpath) / f) for f in files]
            except SpecError:  # the worker's collection said so already
                return
            self._say_resolution(node.config, {f"{e.name}[{v.id}]": v.expect for e in experiments for v in e.variants
                                               if f"{e.name}[{v.id}]" in names})

    def _say_resolution(self, config, bounds: dict) -> None:
        """Before the first item: which bounds this setup can decide (the cached baseline's seed-noise floor)."""
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if bounds and reporter is not None and not self.said_resolution:
            self.said_resolution = True
            reporter.write_line(self.bench.resolution(bounds))

    def pytest_runtest_logreport(self, report):
        """On xdist, reports from every worker arrive here, at the controller: log them at once."""
        if self.bench.is_worker:
            return
        if report.when == "teardown":
            self.bench.item_finished(report.nodeid)
        props = dict(report.user_properties)
        if VARIANT not in props:
            return
        if report.when == "call":
            self.bench.durations[report.nodeid] = report.duration
            if RESULT in props:
                self.bench.record(from_dict(json.loads(props[RESULT])))
                return
        if report.failed and RESULT not in props:
            self.bench.record_failure(props[VARIANT], props.get(STAGE, "compression"), report.longreprtext,
                                      props.get(REASON, ""))

    def pytest_sessionfinish(self, session, exitstatus):
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        if not self.bench.is_worker:
            self.bench.stop_progress()
            try:
                reporter = session.config.pluginmanager.get_plugin("terminalreporter")
                say = (lambda text: reporter.write_line(f"[exaone-bench] {text}")) if reporter is not None else None
                self.readme = self.bench.finish(interrupted=interrupted, say=say)
            except Exception as e:  # noqa: BLE001 - one line and a failing status, never pytest's internal error
                self.bench.end_failed = one_line(e)
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
            finally:
                self.bench.close()
            if self.bench.failures and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED  # a failed baseline is a failure though no item failed
        if interrupted:
            _stop_thread_pools()

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        if self.bench.end_failed:
            terminalreporter.write_line(f"exaone-bench: the session's end failed ({self.bench.end_failed}); its MLflow "
                                        "run is marked FAILED", red=True)
        elif self.readme is not None and self.bench.baseline is None:
            terminalreporter.write_line(f"exaone-bench: no baseline, nothing compared: {len(self.bench.failures)} item(s) "
                                        f"failed; report {os.path.relpath(self.readme, config.rootpath)}", red=True)
        elif self.readme is not None:
            count = {v: sum(r.verdict == v for r in self.bench.results) for v in VERDICT_TEXT}
            for r in self.bench.results:
                if r.verdict == "inconclusive":
                    terminalreporter.write_line(f"INCONCLUSIVE {r.message}")
                if getattr(r, "before_recovery_verdict", "") == "inconclusive":
                    terminalreporter.write_line(f"INCONCLUSIVE {r.before_recovery_message}")
            floor = self.bench.noise_floor()
            if floor:
                terminalreporter.write_line("exaone-bench: this setup resolves deltas of about " + ", ".join(
                    f"{m} ±{v:.3f}" for m, v in floor.items()) + " (the baseline against itself); see the report for "
                    "bounds inside that")
            terminalreporter.write_line(
                f"exaone-bench: {len(self.bench.results)} variant(s): {count['confirmed']} confirmed, "
                f"{count['inconclusive']} inconclusive, {count['rejected']} rejected, "
                f"{len(self.bench.failures)} crashed; setup {self.bench.setup.hash}; "
                f"report {os.path.relpath(self.readme, config.rootpath)}; MLflow {self.bench.tracker.uri}")


def _stop_thread_pools() -> None:
    """After an interrupt, tell every thread pool still alive to let its idle workers exit.

    A SIGINT that lands while a pool starts a worker (`Thread.start` waits for the new thread) leaves that worker
    outside the registry the interpreter's exit handler wakes, and the pool stays referenced by the interrupt's
    traceback, which pytest keeps for its summary: the interpreter would wait for that worker forever at exit.
    `shutdown(wait=False)` wakes each of a pool's workers; work already queued still runs.
    """
    from concurrent.futures import ThreadPoolExecutor

    gc.collect()
    for pool in [o for o in gc.get_objects() if isinstance(o, ThreadPoolExecutor)]:
        pool.shutdown(wait=False)
