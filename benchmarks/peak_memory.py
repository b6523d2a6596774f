"""Peak resident memory of a block of code, sampled by a background thread (psutil RSS)."""
from __future__ import annotations

import threading
import time

import psutil


class PeakRSS:
    """`with PeakRSS() as p: ...` then p.peak (bytes) and p.start (bytes at entry)."""

    def __init__(self, interval: float = 0.005):
        self.interval, self.proc = interval, psutil.Process()
        self.peak = self.start = 0
        self._stop = threading.Event()

    def _watch(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self):
        self.start = self.peak = self.proc.memory_info().rss
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)
