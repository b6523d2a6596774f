"""Lets `pytest experiments/` work from a plain checkout where the package is not installed."""
from importlib.metadata import entry_points

if not any(ep.value == "exaone_bench.suite.plugin" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["exaone_bench.suite.plugin"]
