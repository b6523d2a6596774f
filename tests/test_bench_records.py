"""Benchmark records and the page rendered from them: appending, rendering, and the committed page."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

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


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="reads the CPU from /proc/cpuinfo (Linux)")
def test_the_machine_is_named_from_cpuinfo_the_same_way_by_records_runs_and_shipped_files():
    """One reading of the CPU for benchmark records, session tags and shipped `ran_on` fields, so they agree."""
    from exaone_bench.core import machine

    text = Path("/proc/cpuinfo").read_text()
    name = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name"))
    flags = next(line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags"))
    units = [f for f in ("amx_bf16", "avx512_bf16") if f in flags]
    assert machine.cpu_name() == name and machine.bf16_flags() == units
    here = machine.describe()
    assert here["cores"] >= 1 and here["bf16_units"] == units
    assert machine.summary(here).startswith(f"{name}, {here['cores']} cores, ")
    seen = records.machine()
    assert (seen["cpu"], seen["cores"], seen["amx"], seen["avx512_bf16"]) == (
        name, here["cores"], "amx_bf16" in units, "avx512_bf16" in units)
    assert machine.summary({"cpu": "AMD EPYC", "cores": 2, "bf16_units": [], "torch": "2.13.0+cpu", "gpu": None}) == \
        "AMD EPYC, 2 cores, no bf16 units, torch 2.13.0+cpu"
    assert machine.summary({"cpu": "Intel(R) Xeon(R)", "cores": 16, "bf16_units": ["amx_bf16", "avx512_bf16"],
                            "torch": "2.13.0", "gpu": "NVIDIA H100"}) == \
        "Intel(R) Xeon(R), 16 cores, amx_bf16/avx512_bf16, torch 2.13.0, GPU NVIDIA H100"


def test_verdicts_of_two_reports_are_paired_and_a_flip_is_named():
    """The cross-machine comparison reads `judge`'s own lines (after and before recovery) and the report's machine."""
    import bench_verdicts_across_machines as across

    from exaone_bench.config.verdict import Expectation, judge
    from exaone_bench.report.render import machines

    bound = {"accuracy": Expectation("accuracy", min_delta=-0.02)}

    def report(machine: str, cis: dict[str, tuple[float, float]]) -> str:
        lines = ["# exaone-bench report", "", machines({"tags": {"machine": machine}}), ""]
        for name, (lo, hi) in cis.items():
            mean = (lo + hi) / 2
            lines.append("- " + judge(name, bound, {"accuracy": 0.75 + mean}, {"accuracy": 0.75},
                                      {"accuracy": {"ci_low": lo, "ci_high": hi}})[1])
        return "\n".join(lines) + "\n"

    a = report("AMD EPYC, 2 cores, avx512_bf16, torch 2.13.0+cpu",
               {"drop_layers[last2]": (-0.01, 0.01), "drop_layers[last2] before recovery": (-0.01, 0.0),
                "reduce_mlp[keep-25]": (-0.03, -0.01), "trim_vocab[top-2048]": (-0.05, -0.03)})
    b = report("Intel(R) Xeon(R) Processor, 2 cores, amx_bf16/avx512_bf16, torch 2.13.0+cpu",
               {"drop_layers[last2]": (-0.012, 0.01), "drop_layers[last2] before recovery": (-0.01, 0.0),
                "reduce_mlp[keep-25]": (-0.01, 0.0), "trim_vocab[top-2048]": (-0.01, 0.0), "final[x]": (0, 0.01)})
    assert across.machine_of(a) == "AMD EPYC, 2 cores, avx512_bf16, torch 2.13.0+cpu"
    assert across.machine_of(b).startswith("Intel(R) Xeon(R) Processor, 2 cores")
    assert across.machine_of("Machine: not recorded (a session logged before sessions named their machine).") is None
    va, vb = across.verdicts(a), across.verdicts(b)
    assert va["drop_layers[last2] before recovery"] == ("confirmed", -0.005)
    assert va["trim_vocab[top-2048]"] == ("rejected", -0.04)
    out = across.compare(va, vb)
    assert out["items"] == 4 and out["only_in_one"] == ["final[x]"] and out["agree"] == 2
    assert out["to_or_from_inconclusive"] == {"reduce_mlp[keep-25]": "inconclusive -> confirmed"}
    assert out["opposite"] == {"trim_vocab[top-2048]": "rejected -> confirmed"}
    assert out["decided"] == [3, 4]
    assert out["largest_delta_move"][0] == "trim_vocab[top-2048]"
    assert abs(out["largest_delta_move"][1] - 0.035) < 1e-9
