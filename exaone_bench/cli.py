"""`exaone-bench` command line: data, reference, original, analyze, compress, export-gguf, report."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def cmd_data(args) -> int:
    from exaone_bench.data.split import DataSpec, prepare, split_meta

    spec = DataSpec(source=args.source, seed=args.seed, text_column=args.text_column, label_column=args.label_column,
                    encoding=args.encoding)
    t0 = time.perf_counter()
    out = prepare(spec)
    meta = split_meta(spec)
    print(f"split written to {out} ({time.perf_counter() - t0:.1f}s); {meta['rows']} unique texts")
    for name, counts in meta["counts"].items():
        print(f"  {name:<10} {sum(counts.values()):>6}  " + "  ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


def cmd_reference(args) -> int:
    from exaone_bench.base_models.exaone_tiny.pretrain import Paused
    from exaone_bench.base_models.exaone_tiny.recipe import DEFAULT, MICRO, from_assignments
    from exaone_bench.base_models.exaone_tiny.store import (
        ensure_reference,
        read_meta,
        ship,
        shipped_dir,
        shipped_meta,
        weights_sha256,
    )

    recipe = from_assignments(MICRO if args.micro else DEFAULT, args.set)
    if args.ship:
        try:
            to = ship(Path(args.ship), recipe)
        except ValueError as e:
            print(f"exaone-bench reference --ship: {e}", file=sys.stderr)
            return 2
        print(f"{recipe.name}: shipped {args.ship} at {to} (commit that folder)")
    t0 = time.perf_counter()
    try:
        out = ensure_reference(recipe, rebuild=args.rebuild, device=args.device, steps_per_piece=args.steps_per_piece)
    except Paused as e:
        print(e)
        return 0
    meta = read_meta(out)  # verified by ensure_reference
    weights = weights_sha256(out)
    where = "shipped checkpoint verified" if out == shipped_dir(recipe) else "built here"
    print(f"{recipe.name}: {where} at {out} ({time.perf_counter() - t0:.1f}s; recipe {meta['recipe_hash']}; "
          f"model.safetensors sha256 {weights[:16]})")
    hosts = sorted({p["host"]["gpu"] or p["host"]["cpu"] for p in meta.get("trained_on", [])})
    print(f"  parameters {meta['parameters']:,}; {meta['tokens_seen']:,} tokens; pretraining "
          f"{meta['seconds']['pretraining']}s at {meta['tokens_per_second']:,} tokens/s" + (f" on {', '.join(hosts)}" if hosts else ""))
    for name, v in meta["validation"].items():
        print(f"  {name}: LM loss {v['lm_loss']:.3f} nats vs unigram {v['unigram_loss']:.3f}")
    shipped = shipped_meta(recipe) if out != shipped_dir(recipe) else None
    if shipped is not None:
        same = weights_sha256(shipped_dir(recipe)) == weights
        loss, ship_loss = (m["validation"]["corpus_holdout"]["lm_loss"] for m in (meta, shipped))
        print(f"  vs the shipped checkpoint: {'bit-identical weights' if same else 'other weights'}; corpus hold-out "
              f"LM loss {loss:.4f} here vs {ship_loss:.4f} shipped"
              + ("" if same else " (float kernels differ between machines; identical only on the same one)"))
    return 0


def cmd_compress(args) -> int:
    from exaone_bench.compression.registry import describe
    from exaone_bench.export.checkpoint import compress, from_run, rebuild

    t0 = time.perf_counter()
    if args.from_run:
        removed = from_run(args.from_run, args.out, args.model)
    elif args.replay:
        removed = rebuild(args.model or "exaone-tiny", args.replay, args.out)
    else:
        removed = compress(args.model or "exaone-tiny", args.config, args.out, calibration=args.calibration,
                           seed=args.seed)
    for record in removed:
        print(describe(record))
    print(f"wrote {args.out} ({time.perf_counter() - t0:.1f}s): config.json, model.safetensors, tokenizer, removed.yaml")
    return 0


def cmd_analyze(args) -> int:
    from exaone_bench.analysis.analyze import analyze

    meta = analyze(args.model, args.out, args.format, args.calibration, args.zero_threshold,
                   argv=sys.argv[1:])
    print(f"analyzed {meta['rows']} tensors of {meta['model_id']} in {meta['seconds']}s "
          f"({meta['skipped']} skipped): " + ", ".join(meta["outputs"]))
    return 0


def cmd_export_gguf(args) -> int:
    from exaone_bench.base_models.load import load_model
    from exaone_bench.evaluation.cost import on_disk
    from exaone_bench.export.gguf import export

    t0 = time.perf_counter()
    model, tokenizer, src = load_model(args.model, dtype="float32")
    out = export(model, tokenizer, args.out, args.type)
    back = check_gguf(out, model, tokenizer) if not args.no_check else None
    print(f"wrote {out} ({out.stat().st_size:,} bytes, {args.type}; safetensors {on_disk(model)['safetensors_bytes']:,} "
          f"bytes) from {src.name} in {time.perf_counter() - t0:.1f}s"
          + ("" if back is None else f"; read back by transformers: max |logit difference| {back:.2e}"))
    return 0


def check_gguf(path: Path, model, tokenizer) -> float:
    """Reload the GGUF with transformers and return the largest logit difference on one review."""
    import torch
    from transformers import AutoModelForCausalLM

    back = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    ids = tokenizer("A gripping, beautifully shot film that never quite lands.", return_tensors="pt").input_ids
    with torch.no_grad():
        return float((model.eval()(ids).logits - back(ids).logits).abs().max())


def cmd_report(args) -> int:
    from exaone_bench.evidence.tracking import Tracker, tracking_uri
    from exaone_bench.report import beside
    from exaone_bench.report.render import publish

    tracker = Tracker(tracking_uri(None, Path.cwd()))
    if args.setup_hash:
        doc = tracker.read_merged(args.setup_hash)
        stamp = f"merged-{args.setup_hash}"
        what = f"{len(doc['shards'])} session(s) of setup {args.setup_hash}"
    else:
        passed = []
        if args.run is None:
            run, passed = tracker.last_with_baseline()
        elif not tracker.has_baseline(args.run):  # an unknown id says so first
            raise ValueError(f"session {args.run} has no baseline (it failed or was interrupted before it): name another "
                             "with --run, or leave --run out for the last session that has one")
        else:
            run = args.run
        doc = tracker.read_session(run)
        stamp = doc["run_name"].replace("session ", "") if doc["run_name"] else doc["run_id"]
        what = f"MLflow run {doc['run_id']} ({doc['run_name']}" + (
            f"; the last session with a baseline, {len(passed)} newer without one: {', '.join(passed)})" if passed else ")")
    run_dir = publish(beside.attach(doc, Path.cwd(), args.beside), Path(args.out), stamp)
    print(f"report for {what} ({len(doc['variants'])} variants, {len(doc['post_training'])} post-training rows) "
          f"written to {run_dir / 'README.md'}")
    return 0


def cmd_original(args) -> int:
    """Make the setup's original ready: the LM itself (`original: pretrained`, built when it is exaone-tiny), or the
    teacher's labels and the task model (`original: task`), verified where shipped, else built once; say where."""
    from exaone_bench.base_models.load import resolve
    from exaone_bench.base_models.task_model import TaskModel, check_embedding_layer
    from exaone_bench.base_models.teacher import SHIPPED, Teacher
    from exaone_bench.config.setup import load_setup
    from exaone_bench.data.split import DataSpec, Split

    setup = load_setup(args.setup)
    check_embedding_layer(setup)  # before the teacher's labels take minutes
    if setup.original == "pretrained":  # variants are cut from the LM: it must be here (exaone-tiny: `reference`)
        src = resolve(setup.model)
        print(f"original: the LM {src.name} ({src.kind}, {src.location})")
    if setup.training.teacher is None:
        print(f"{args.setup}: no training.teacher and original: {setup.original}: no teacher or task model to build")
        return 0
    spec = DataSpec.of(setup.data)
    split = Split.load(spec)
    say = (lambda text: print(text, flush=True))
    teacher = Teacher(setup.training.teacher, split, spec.split_dir.name, local=args.rebuild)
    where, meta = _made_ready(teacher, "meta.json", args.rebuild, say)
    print(f"teacher labels: {where}; {meta['teacher']} probe (C {meta['probe']['C']}), {meta['transfer_texts']:,} "
          f"transfer texts; test accuracy {meta['test']['accuracy']:.3f}, precision {meta['test']['precision']:.3f}; "
          f"made on {_made_on(meta['ran_on'])} ({'bf16' if meta['bf16'] else 'fp32'}, {meta['seconds']}s)")
    shipped = Teacher(setup.training.teacher, split, spec.split_dir.name)
    if args.rebuild and shipped.dir.parent == SHIPPED:
        import numpy as np

        here, there = teacher.logits(), shipped.logits()
        same = "identical" if np.array_equal(here, there) else f"largest log-probability difference {np.abs(here - there).max():.4f}"
        print(f"  vs the shipped labels: {same}; test accuracy {shipped.meta()['test']['accuracy']:.3f} shipped")
    if setup.original != "task":
        return 0
    task = TaskModel(setup, split, spec.split_dir.name, local=args.rebuild)
    where, meta = _made_ready(task, "run_meta.json", args.rebuild, say)
    print(f"task model: {where}; {meta['steps']} steps over {meta['transfer_texts']:,} texts; validation accuracy "
          f"{meta['validation']['accuracy']:.3f}, test accuracy {meta['test']['accuracy']:.3f}, precision "
          f"{meta['test']['precision']:.3f}; made on {_made_on(meta['ran_on'])} ({meta['dtype']}, {meta['seconds']}s)")
    shipped = TaskModel(setup, split, spec.split_dir.name)
    if args.rebuild and shipped.dir.parent == SHIPPED:
        from exaone_bench.core.cache import sha256_file

        theirs = shipped.meta()
        same = sha256_file(task.dir / "model.safetensors") == sha256_file(shipped.dir / "model.safetensors")
        print(f"  vs the shipped task model: {'bit-identical weights' if same else 'other weights'}; test accuracy "
              f"{meta['test']['accuracy']:.3f} here vs {theirs['test']['accuracy']:.3f} shipped (made on "
              f"{_made_on(theirs['ran_on'])}; float kernels differ between machines, identical only on the same one)")
    return 0


def cmd_cuts(args) -> int:
    """Each structural variant of the experiment files cut from the setup's original and read before any recovery,
    on the validation split: the figures a motivation cites (pipeline/cuts.py)."""
    from transformers.utils import logging as hf_logging

    from exaone_bench.base_models.load import cached_config
    from exaone_bench.config.setup import load_setup
    from exaone_bench.pipeline import cuts
    from exaone_bench.pipeline.runner import Runner
    from exaone_bench.suite.collect import load_experiment

    hf_logging.disable_progress_bar()  # one line per variant, not a loading bar per copy of the original
    setup = load_setup(args.setup)
    files = args.experiments or sorted(p for p in Path(args.setup).parent.glob("*.yaml") if p.name != "setup.yaml")
    runner = Runner(setup)
    source = runner.original.dir if runner.original is not None else setup.model
    # the shapes each spec is checked against (and what it cannot cut), from config.json alone where it is on disk
    config = cached_config(source, setup.trust_remote_code) or runner.load_base()[0].config
    items = []
    for path in files:
        experiment = load_experiment(path, config)
        if experiment.stage == "post_training":
            print(f"{path}: skipped: a post-training file transforms fine-tuned classifiers, not the original")
            continue
        for v in experiment.variants:
            if v.not_applicable:
                print(f"{experiment.name}[{v.id}]: skipped: {v.not_applicable}")
            else:
                items.append((f"{experiment.name}[{v.id}]", v.compression))
    print(f"cut from {source}, read on the {args.split} split before any recovery "
          f"(majority class {cuts.majority(runner.split, args.split):.3f}):", flush=True)
    rows = []
    for row in cuts.read(items, setup=setup, split=runner.split, load_base=runner.load_base, head=runner.head,
                         measures=runner.measures, split_name=args.split):
        rows.append(row)
        read = [f"{m} {row.metrics[m]:.3f}" for m in ("accuracy", "precision") if m in row.metrics]
        print(f"  {row.name}: " + ", ".join([*read, f"LM loss {row.lm_loss:.3f}"]), flush=True)
    print(cuts.table(rows, () if runner.head is None else ("accuracy", "precision")))
    return 0


def _made_ready(thing, meta_file: str, rebuild: bool, say) -> tuple[str, dict]:
    """Verify or build a Teacher's labels or a TaskModel (`rebuild`: build it again here); where it is, and its meta."""
    from exaone_bench.base_models.teacher import SHIPPED

    t0 = time.perf_counter()
    directory = thing.ensure(say, rebuild=rebuild)
    where = "rebuilt here" if rebuild else "shipped, verified" if directory.parent == SHIPPED else "built or cached here"
    return f"{where} at {directory} ({time.perf_counter() - t0:.1f}s)", json.loads((directory / meta_file).read_text())


def _made_on(ran: dict) -> str:
    return ran.get("cuda") or ran.get("processor") or "an unrecorded machine"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exaone-bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="fetch + verify + split the dataset; print split sizes")
    p.add_argument("--source", default="rotten_tomatoes", help="rotten_tomatoes or a local .csv/.jsonl")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--text-column", default="text", help="a local file's text column (the setup's data.text_column)")
    p.add_argument("--label-column", default="label", help="its label column (data.label_column)")
    p.add_argument("--encoding", default="utf-8", help="its encoding (data.encoding)")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("reference", help="verify the shipped exaone-tiny, or rebuild it from its recipe")
    p.add_argument("--rebuild", action="store_true",
                   help="pretrain from the recipe into data/models/exaone-tiny (resumes a paused run) and compare with the shipped one")
    p.add_argument("--micro", action="store_true", help="the seconds-long micro recipe (smoke test)")
    p.add_argument("--device", default="cpu", help="where to pretrain: cpu, cuda, cuda:1 ...")
    p.add_argument("--steps-per-piece", type=int, default=None,
                   help="stop after this many steps (state saved); the same command again resumes")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a candidate recipe: override a recipe field (e.g. steps=15000, extra_corpus=brown_corpus,moby_dick); "
                        "it builds into data/models/<name>-<hash>, beside the default")
    p.add_argument("--ship", metavar="DIR", default=None,
                   help="copy the checkpoint built in DIR into the package as this recipe's shipped one "
                        "(a candidate built with --set ships as the recipe it equals, name aside)")
    p.set_defaults(func=cmd_reference)

    p = sub.add_parser("original", help="verify the setup's teacher labels and task model, or build them once")
    p.add_argument("--setup", default="experiments/setup.yaml", help="the setup whose original is verified or built")
    p.add_argument("--rebuild", action="store_true",
                   help="build the teacher labels and task model again on this machine (data/), even where shipped, "
                        "and compare with the shipped ones")
    p.set_defaults(func=cmd_original)

    p = sub.add_parser("cuts", help="each variant cut from the original, read before recovery on validation")
    p.add_argument("experiments", nargs="*", help="experiment files (default: every one beside the setup)")
    p.add_argument("--setup", default="experiments/setup.yaml", help="the setup whose original is cut")
    p.add_argument("--split", choices=("validation", "test"), default="validation",
                   help="where the head is read (validation: a motivation's figures leave the test split unseen)")
    p.set_defaults(func=cmd_cuts)

    p = sub.add_parser("analyze", help="per-parameter table (+ per-layer redundancy with --calibration N)")
    p.add_argument("--model", default="exaone-tiny", help="hub id, local directory or built-in name")
    p.add_argument("--out", required=True, help="table file (.csv or .parquet); plots and analysis.md beside it")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument("--calibration", type=int, default=0, help="training-split blocks for redundancy scores")
    p.add_argument("--zero-threshold", type=float, default=1e-8, help="|x| at or below counts as zero")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("compress", help="apply one compression spec; write an HF checkpoint + removed.yaml")
    p.add_argument("--model", default=None,
                   help="hub id, local directory or built-in name (default: exaone-tiny; with --from-run: the run's base)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--config", help="VARIANT.yaml holding one compression: block")
    group.add_argument("--replay", help="a removed.yaml to rebuild on --model without scoring again")
    group.add_argument("--from-run", help="an MLflow run id of a logged variant: replay it and write a model card")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--calibration", type=int, default=32, help="training-split blocks for scores (0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_compress)

    p = sub.add_parser("export-gguf", help="write a Llama-family model (SmolLM2, EXAONE 3.x) as GGUF and read it back")
    p.add_argument("--model", required=True, help="hub id, local directory (e.g. a compress output) or built-in name")
    p.add_argument("--out", required=True, help="the .gguf file to write")
    p.add_argument("--type", choices=("f32", "f16", "q8_0"), default="f16", help="tensor type of the matrices")
    p.add_argument("--no-check", action="store_true", help="skip reloading the file with transformers")
    p.set_defaults(func=cmd_export_gguf)

    p = sub.add_parser("report", help="regenerate the markdown report from MLflow alone")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--run", default=None, help="parent (session) run id; default: the latest session with a baseline")
    which.add_argument("--setup-hash", default=None,
                       help="merge every session of this setup hash (the shards of a split suite) into one report")
    p.add_argument("--out", default="reports", help="reports directory (writes <stamp>/ and latest/)")
    p.add_argument("--beside", default=None, metavar="RESULTS_JSON",
                   help="another study's results.json to set beside this one (default: the setup's `beside:`)")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as e:  # our DataError/SourceError/SpecError: a message, not a traceback
        print(f"exaone-bench {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
