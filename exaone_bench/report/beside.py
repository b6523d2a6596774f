"""The report's comparison with another study: per strategy both ran, which cuts were cheap in each, and whether the
two studies agree.

The setup's `beside:` names the other study's results.json (for SmolLM2's study, the default
exaone-tiny study's reports/latest/results.json, which `make train` writes). Per strategy, each
study's cheapest single-factor cut after recovery and whether any of its cuts stays within
CAN_GO of its baseline; for drop_layers also where in depth its cheapest and its costliest cut
sit. "Agree" means the same answer in both, which the section says in words with the numbers.
"""
from __future__ import annotations

import json
from pathlib import Path
from statistics import mean

from tabulate import tabulate

from exaone_bench.compression.registry import words
from exaone_bench.evidence.records import BaselineResult, VariantResult, from_dict

CAN_GO = -0.02  # a cut within two points of accuracy of its recovered baseline "can go"


def attach(doc: dict, root: Path, where: str | None = None) -> dict:
    """`doc` with another study read from `root`: `where`, else the setup's `beside:` (a missing file is said, not
    fatal)."""
    where = where or (doc["setup"] or {}).get("beside")
    if not where:
        return doc
    path = Path(root) / where
    if not path.is_file():
        return {**doc, "beside": {"path": where, "doc": None}}
    raw = json.loads(path.read_text())
    other = {"setup": raw["setup"], "baseline": BaselineResult.from_dict(raw["baseline"]),
             "variants": [from_dict(v) for v in raw["variants"]]}
    return {**doc, "beside": {"path": where, "doc": other}}


def single_factor(variants: list[VariantResult]) -> dict[str, list[VariantResult]]:
    """strategy -> the study's one-strategy compression variants."""
    out: dict[str, list[VariantResult]] = {}
    for r in variants:
        if r.stage == "compression" and len(r.removed) == 1:
            out.setdefault(r.strategy, []).append(r)
    return out


def depth(r: VariantResult, layers: int) -> str:
    """Where a drop_layers cut sits: early, middle or late (the mean position of its layers in depth)."""
    at = mean(i / max(layers - 1, 1) for i in r.removed[0]["removed"]["layers"])
    return "late" if at >= 2 / 3 else "early" if at <= 1 / 3 else "middle"


def _cut(r: VariantResult) -> str:
    return f"`{r.variant_id}` ({words(r.removed[0])}): {r.delta_params_pct:+.0f} % params, Δ accuracy {r.deltas['accuracy']:+.3f}"


def _name(study: dict) -> str:
    s = study["setup"]
    return f"{s['model']} ({'its task model' if s.get('original') == 'task' else 'the pretrained LM'}, " \
           f"recovery {s['training']['steps']} steps)"


def section(doc: dict) -> list[str]:
    """The markdown lines of the section (none when the setup names no other study)."""
    beside = doc.get("beside")
    if not beside:
        return []
    other = beside["doc"]
    if other is None:
        return ["## Beside another study", "", f"The setup names `{beside['path']}` to set beside this study, and it is not there: run that "
                        "study first (for the default exaone-tiny study, `make train`).", ""]
    mine, theirs = single_factor(doc["variants"]), single_factor(other["variants"])
    rows, depths, agree, differ = [], [], [], []
    for strategy in sorted(set(mine) & set(theirs)):
        a, b = (max(rs, key=lambda r: r.deltas["accuracy"]) for rs in (mine[strategy], theirs[strategy]))
        here, there = a.deltas["accuracy"] >= CAN_GO, b.deltas["accuracy"] >= CAN_GO
        same = here == there
        if strategy == "drop_layers":
            n_here, n_there = (d["baseline"].params["number_of_layers"] for d in (doc, other))
            a_worst, b_worst = (min(rs, key=lambda r: r.deltas["accuracy"]) for rs in (mine[strategy], theirs[strategy]))
            where = (depth(a, n_here), depth(b, n_there), depth(a_worst, n_here), depth(b_worst, n_there))
            same = same and where[0] == where[1] and where[2] == where[3]
            depths += [f"drop_layers: the cheapest cut removes {where[0]} layers here and {where[1]} layers there; the "
                      f"costliest removes {where[2]} layers here ({a_worst.deltas['accuracy']:+.3f}) and {where[3]} "
                      f"there ({b_worst.deltas['accuracy']:+.3f}).", ""]
        rows.append([strategy, _cut(a), _cut(b), "yes" if here else "no", "yes" if there else "no",
                     "agree" if same else "differ"])
        (agree if same else differ).append(strategy)
    only = sorted(set(mine) ^ set(theirs))
    lines = ["## Beside another study", "",
             f"This study: {_name(doc)}. Beside it: {_name(other)}, from `{beside['path']}`. Per strategy both ran, "
             f"each study's cheapest single-factor cut after recovery, and whether a cut stays within "
             f"{-CAN_GO:.2f} of accuracy of its baseline (\"can go\").", "",
             tabulate(rows, headers=["strategy", "cheapest here", "cheapest there", "can go here", "can go there", ""],
                      tablefmt="github", disable_numparse=True), "", *depths]
    lines += [f"Agree: {', '.join(agree) or 'none'}. Differ: {', '.join(differ) or 'none'}."
              + (f" Run by one study only: {', '.join(only)}." if only else ""), ""]
    return lines
