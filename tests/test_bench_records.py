"""Benchmark records and the page rendered from them: appending, rendering, and the committed page."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # benchmarks/ is a folder of scripts, not a package

import records  # noqa: E402
import render  # noqa: E402


def test_append_writes_one_complete_record_per_call(tmp_path, monkeypatch):
    path = tmp_path / "records.jsonl"
    monkeypatch.setenv("EXAONE_BENCH_RECORDS", str(path))
    first = records.append("demo[--fast]", {"wall_s": 1.5, "mode": "fast"}, "finish in <= 2 s", argv=["--fast"])
    lines = path.read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record == first
    assert record["benchmark"] == "demo[--fast]" and record["argv"] == ["--fast"]
    assert re.fullmatch(r"[0-9a-f]{40}", record["commit"]) and isinstance(record["dirty"], bool)
    assert datetime.fromisoformat(record["date"]).utcoffset().total_seconds() == 0
    assert record["machine"]["matmul_gflops_1thread"] > 0 and record["machine"]["cores"] >= 1
    assert record["figures"] == {"wall_s": 1.5, "mode": "fast"} and record["goal"] == "finish in <= 2 s"

    before = records.machine()
    records.append("demo[--fast]", {"wall_s": 1.7, "mode": "fast"}, "finish in <= 2 s", argv=[],
                   machine_before=before, headline=["wall_s"])
    second = records.read()
    assert len(second) == 2 and second[0] == first
    assert second[1]["machine"]["matmul_gflops_1thread_before"] == before["matmul_gflops_1thread"]
    assert second[1]["headline"] == ["wall_s"]


def test_name_puts_measuring_options_in_brackets():
    assert records.name("bench_suite") == "bench_suite"
    assert records.name("bench_suite", "--cold", "", "-n 0") == "bench_suite[--cold -n 0]"


def test_render_shows_latest_run_history_and_transcribed_runs(tmp_path, monkeypatch):
    path = tmp_path / "records.jsonl"
    monkeypatch.setenv("EXAONE_BENCH_RECORDS", str(path))
    transcribed = {"benchmark": "demo", "argv": [], "commit": "015bb19", "dirty": False, "date": "2026-01-01",
                   "machine": {"cpu": None, "cores": 2, "matmul_gflops_1thread": "60-70"},
                   "figures": {"wall_s": 111.0}, "goal": "finish in <= 200 s", "provenance": "transcribed from a page"}
    path.write_text(json.dumps(transcribed) + "\n")
    records.append("demo", {"wall_s": 222.0, "accuracy": 0.5}, "finish in <= 200 s", argv=["--x"])
    records.append("demo", {"wall_s": 333.0, "accuracy": 0.6}, "finish in <= 200 s", argv=["--y"],
                   headline=["wall_s", "accuracy"])
    page = render.render(records.read(path))

    assert page.startswith(render.HEADER + "\n")
    section = page.split("### `demo`")[1]
    latest, history = section.split("Older runs")
    assert "Goal: finish in <= 200 s." in latest
    assert "`python benchmarks/demo.py --y`" in latest and "| wall_s" in latest and "333.0" in latest
    assert "222.0" not in latest and "222.0" in history and "111.0" in history
    rows = [line for line in history.splitlines() if line.startswith("| 20")]
    assert [("transcribed" in row) for row in rows] == [False, True]  # newest first; the transcribed one marked
    assert "60-70" in rows[1]

    out = tmp_path / "page.md"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "render.py"), "--records", str(path), "--out", str(out)],
                   check=True, capture_output=True)
    assert out.read_text() == page == render.render(records.read(path))


def test_render_gives_each_leaf_of_a_nested_figure_its_own_row():
    figures = {"seed": 0, "averages": {"ema_0.999": {"validation": 0.77, "test": 0.755}, "swa": {}}}
    assert render.flat(figures) == [("seed", 0), ("averages.ema_0.999.validation", 0.77),
                                    ("averages.ema_0.999.test", 0.755), ("averages.swa", {})]


def test_committed_page_is_rendered_from_committed_records():
    recs = records.read(records.RECORDS)
    assert recs, "benchmarks/records.jsonl holds no records"
    assert all("provenance" in r or re.fullmatch(r"[0-9a-f]{40}", r["commit"]) for r in recs)
    assert (ROOT / "docs" / "benchmarks.md").read_text() == render.render(recs), \
        "docs/benchmarks.md is generated: run `python benchmarks/render.py`"
