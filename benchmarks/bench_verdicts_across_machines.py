"""One setup's verdicts from two machines side by side: which agree, which moved to or from inconclusive, which flipped.

Float kernels differ between CPUs (docs/internals.md), so the same suite run elsewhere trains other last bits and may
move a verdict to or from inconclusive; a bound confirmed on one machine and rejected on the other would mean an
interval does not hold what it claims. This reads two rendered reports (each README prints one verdict line per
variant and phase, `judge`'s words, and names its machine), by default the committed `reports/latest` (`git show`;
or a file) against this checkout's, and appends a record naming both machines with each verdict pair and how far
each delta moved. A report from before reports named their machine needs `--committed-machine`.

    python benchmarks/bench_verdicts_across_machines.py [--committed HEAD:reports/latest/README.md | FILE]
        [--committed-machine TEXT] [--here reports/latest/README.md]
"""
from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path

import records

from exaone_bench.config.verdict import VERDICT_TEXT

GOAL = "no verdict confirmed on one CPU and rejected on another: the suite's intervals hold across machines"
LINE = re.compile(r"^- (?P<name>\S+?)(?P<before> before recovery)?: (?P<body>.*) -> (?P<text>"
                  + "|".join(re.escape(t) for t in VERDICT_TEXT.values()) + r")$")
WORDS = {text: verdict for verdict, text in VERDICT_TEXT.items()}
DELTA = re.compile(r"\(delta ([+-]\d+\.\d+), CI")


def verdicts(readme: str) -> dict[str, tuple[str, float | None]]:
    """Each verdict line of a report: 'name' (after recovery) or 'name before recovery' -> (verdict, first delta)."""
    out = {}
    for line in readme.splitlines():
        m = LINE.match(line)
        if m:
            delta = DELTA.search(m["body"])
            out[m["name"] + (m["before"] or "")] = (WORDS[m["text"]], float(delta[1]) if delta else None)
    return out


def machine_of(readme: str) -> str | None:
    """The machine a report names (render.machines' line), or None for a report from before they named one."""
    m = re.search(r"^Machines?: (.+?)\.(?: Times|$)", readme, flags=re.M)
    return m[1] if m and "not recorded" not in m[1] else None


def compare(a: dict, b: dict) -> dict:
    """Verdict pairs of the items both reports decided on: agreement, moves to or from inconclusive, opposites."""
    shared = sorted(set(a) & set(b))
    pairs = {k: (a[k][0], b[k][0]) for k in shared}
    moved = {k: abs(a[k][1] - b[k][1]) for k in shared if a[k][1] is not None and b[k][1] is not None}
    return {"items": len(shared), "only_in_one": sorted(set(a) ^ set(b)),
            "agree": sum(x == y for x, y in pairs.values()),
            "to_or_from_inconclusive": {k: f"{x} -> {y}" for k, (x, y) in pairs.items()
                                        if x != y and "inconclusive" in (x, y)},
            "opposite": {k: f"{x} -> {y}" for k, (x, y) in pairs.items() if {x, y} == {"confirmed", "rejected"}},
            "decided": [sum(p[i] != "inconclusive" for p in pairs.values()) for i in (0, 1)],
            "largest_delta_move": max(moved.items(), key=lambda kv: kv[1], default=(None, 0.0))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--committed", default="HEAD:reports/latest/README.md",
                   help="the other machine's report: REV:PATH (git show) or a file")
    p.add_argument("--committed-machine", help="its machine, where the report does not name one")
    p.add_argument("--here", default="reports/latest/README.md")
    args = p.parse_args()
    machine = records.machine()
    theirs = Path(args.committed).read_text() if Path(args.committed).is_file() else subprocess.run(
        ["git", "show", args.committed], cwd=records.ROOT, capture_output=True, text=True, check=True).stdout
    ours = (records.ROOT / args.here).read_text()  # an absolute --here replaces ROOT
    machines = [machine_of(theirs) or args.committed_machine, machine_of(ours)]
    if None in machines:
        unnamed = args.committed if machines[0] is None else args.here
        raise SystemExit(f"name the machine of {unnamed}: its report does not")
    figures = {"machines": machines, **compare(verdicts(theirs), verdicts(ours))}
    figures["largest_delta_move"] = {"item": figures["largest_delta_move"][0],
                                     "points": round(100 * figures["largest_delta_move"][1], 1)}
    figures["opposites"] = len(figures["opposite"])
    for key in ("items", "agree", "decided", "opposite", "to_or_from_inconclusive", "largest_delta_move"):
        print(f"{key}: {figures[key]}")
    records.append(records.name("bench_verdicts_across_machines"), figures, GOAL, machine_before=machine,
                   headline=["items", "agree", "opposites"])


if __name__ == "__main__":
    main()
