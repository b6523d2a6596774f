"""The state of one pytest run: the resolved setup, the runner, and every result for the report."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .spec import Setup


@dataclass
class BenchSession:
    """Kept in `config.stash`; on xdist the controller's instance gathers every worker's results."""

    setup: Setup
    rootdir: Path
    is_worker: bool = False
    progress: bool = False
    results: list[dict] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    _runner: object = None

    @property
    def runner(self):
        if self._runner is None:
            from .runner import Runner

            self._runner = Runner(self.setup, self.progress)
        return self._runner

    def run_variant(self, experiment, variant) -> dict:
        return self.runner.run_variant(experiment, variant)

    @property
    def results_dir(self) -> Path:
        return self.rootdir / "reports" / "latest"

    def write_results(self) -> Path | None:
        """reports/latest/results.json: the setup, the baseline with its floors, and every variant."""
        if not self.results:
            return None
        baseline = self.runner.baseline()
        baseline = {k: v for k, v in baseline.items() if k not in ("preds", "train_logits")}
        doc = {"setup": self.setup.as_dict(), "setup_path": self.setup.path, "setup_hash": self.setup.hash,
               "started": self.started, "finished": time.time(), "baseline": baseline,
               "variants": sorted(self.results, key=lambda r: r["name"])}
        self.results_dir.mkdir(parents=True, exist_ok=True)
        path = self.results_dir / "results.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2, default=str) + "\n")
        tmp.replace(path)
        return path
