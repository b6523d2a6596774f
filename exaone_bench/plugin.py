"""pytest plugin entry point (pytest11): hooks only. Experiment collection lands with the suite."""
from __future__ import annotations


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: end-to-end tests that take minutes")
