"""`exaone-bench analyze`: the per-parameter table, per-layer redundancy, plots and a summary."""
from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import torch

from exaone_bench import __version__
from exaone_bench.analysis.params import TableContext, build_table
from exaone_bench.analysis.safetensors_stream import iter_tensors, tensor_entries
from exaone_bench.base_models.load import load_model, resolve
from exaone_bench.base_models.source import Source, SourceError
from exaone_bench.compression import importance
from exaone_bench.compression.calibration import calibration_for
from exaone_bench.models.architecture import dense_mlps, sparse_blocks


def local_checkpoint(source: str) -> tuple[Source, Path]:
    """The directory holding the checkpoint; a hub id is downloaded (cached) first."""
    src = resolve(source)
    if src.kind != "hub":
        return src, Path(src.location)
    from huggingface_hub import snapshot_download


    try:
        path = snapshot_download(src.location, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"])
    except Exception as e:
        raise SourceError(f"cannot fetch '{src.location}' from the Hugging Face hub ({e.__class__.__name__}); "
                          "pass a local directory instead") from e
    return src, Path(path)


def redundancy(path: Path, calibration: int, seq_len: int = 64, seed: int = 0):
    """Per-layer and per-head importance on `calibration` blocks of the training split."""
    import pandas as pd


    model, tokenizer, _ = load_model(str(path))
    calib = calibration_for(tokenizer, calibration, seq_len, seed)
    bi = importance.block_influence(model, calib)
    ad = importance.angular_distance(model, calib, 1)
    heads = importance.head_importance(model, calib)
    mlp = importance.mlp_channel_importance(model, calib)  # one row per dense MLP
    rep = model.config.num_attention_heads // model.config.num_key_value_heads
    groups = heads.view(len(heads), -1, rep).sum(-1)
    nan = float("nan")
    row = {i: r for (i, _), r in zip(dense_mlps(model), mlp)}
    columns = {
        "layer_index": range(len(bi)),
        "block_influence": bi.tolist(),
        "angular_distance": ad.tolist(),
        "head_importance_mean": heads.mean(1).tolist(),
        "least_important_head": heads.argmin(1).tolist(),
        "least_important_head_score": heads.min(1).values.tolist(),
        "least_important_kv_group": groups.argmin(1).tolist(),
        "mlp_channel_importance_mean": [float(row[i].mean()) if i in row else nan for i in range(len(bi))],
        # share of channels scoring under 10% of the layer's median: candidates for reduce_mlp
        "mlp_channels_below_10pct_median": [float((row[i] < 0.1 * row[i].median()).float().mean()) if i in row else nan
                                            for i in range(len(bi))],
    }
    sparse = [i for i, _ in sparse_blocks(model)]
    if sparse:  # K-EXAONE: how the router spreads the calibration tokens over each layer's experts
        share = dict(zip(sparse, importance.routing_frequency(model, calib)))
        columns["experts_never_routed"] = [int((share[i] == 0).sum()) if i in share else nan for i in range(len(bi))]
        columns["most_routed_expert_share"] = [float(share[i].max()) if i in share else nan for i in range(len(bi))]
    layers = pd.DataFrame(columns)
    del model
    return layers, heads.numpy()


def summary_markdown(table, layers, heads, images: dict[str, str], meta: dict) -> str:
    """analysis.md: the figures, and the most redundant parts named with their scores."""
    mats = table[table["rank"].notna()]
    low_rank = mats.assign(ratio=mats["rank"].astype(float) / mats[["rows", "cols"]].min(axis=1)).nsmallest(5, "ratio")
    lines = [f"# Analysis of `{meta['model_id']}`", "",
             f"{len(table)} tensors, {int(table['numel'].sum()):,} parameters; "
             f"{meta['skipped']} tensor(s) skipped; {meta['seconds']:.1f} s.", ""]
    if meta["tied_embeddings"]:
        lines += ["The lm_head is tied to the embedding and is listed once (the embedding row says so).", ""]
    lines += ["## Spectra", f"![rank per layer]({images['rank']})", "",
              "Lowest rank ratios (rank / min(rows, cols)):", ""]
    lines += [f"- `{r.param_name}`: rank {r.rank} of {min(r.rows, r.cols)} ({r.ratio:.1%}), stable rank {r.stable_rank:.1f}"
              for r in low_rank.itertuples()]
    if layers is not None:
        order = layers.sort_values("block_influence")
        lines += ["", "## Redundancy", f"![block influence]({images['influence']})", "",
                  f"![head importance]({images['heads']})", "",
                  "Most redundant layers by block influence (1 - cos(input, output); lowest first):", ""]
        lines += [f"- layer {int(r.layer_index)}: block influence {r.block_influence:.4f}, "
                  f"angular distance {r.angular_distance:.4f}" for r in order.head(3).itertuples()]
        flat = sorted(((float(v), l, h) for l, row in enumerate(heads) for h, v in enumerate(row)))[:5]
        lines += ["", "Least important heads (|dL/d gate|, lowest first):", ""]
        lines += [f"- layer {l} head {h}: {v:.3g}" for v, l, h in flat]
        lines += ["", f"Most influential layer: {int(order.iloc[-1].layer_index)} "
                  f"(block influence {order.iloc[-1].block_influence:.4f}): the last to remove."]
    return "\n".join(lines) + "\n"


def analyze(source: str, out: str | Path, fmt: str = "csv", calibration: int = 0, zero_threshold: float = 1e-8,
            progress: bool = True, argv: list[str] | None = None) -> dict:
    """Write the table (+ layers table, plots, analysis.md, run_meta.json) and return run_meta."""
    from tqdm.auto import tqdm
    from transformers import AutoConfig

    from exaone_bench.analysis import plots

    t0 = time.perf_counter()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    src, path = local_checkpoint(source)
    config = AutoConfig.from_pretrained(path)
    ctx = TableContext(model_path=str(path), model_id=src.name, revision=getattr(config, "_commit_hash", None),
                       tied_embeddings=bool(getattr(config, "tie_word_embeddings", False)),
                       zero_threshold=zero_threshold)
    skipped: list[dict] = []
    total = len(tensor_entries(path))
    with tqdm(total=total, desc="analyze tensors", unit="tensor", disable=not progress) as bar:
        table = build_table(iter_tensors(path), ctx, bar, skipped)
    if fmt == "parquet":
        table.to_parquet(out, index=False)
    else:
        table.to_csv(out, index=False)
    stem = out.with_suffix("")
    images = {"rank": plots.rank_per_layer(table, Path(f"{stem}_rank.png")).name}
    layers = heads = None
    if calibration > 0:
        layers, heads = redundancy(path, calibration)
        layers.to_csv(f"{stem}_layers.csv", index=False)
        import pandas as pd

        pd.DataFrame(heads, columns=[f"head_{h}" for h in range(heads.shape[1])]).rename_axis("layer_index").to_csv(
            f"{stem}_heads.csv")
        images["influence"] = plots.block_influence(layers, Path(f"{stem}_block_influence.png")).name
        images["heads"] = plots.head_heatmap(heads, Path(f"{stem}_heads.png")).name
    import transformers

    meta = {
        "model_id": src.name, "model_path": str(path), "revision": ctx.revision, "source_kind": src.kind,
        "code_version": __version__, "python": platform.python_version(), "torch": torch.__version__,
        "transformers": transformers.__version__, "device": "cpu", "dtype": "float32 (statistics)",
        "cli_args": argv if argv is not None else sys.argv[1:], "created_at": ctx.created_at,
        "tensors": total, "rows": len(table), "skipped": len(skipped), "skipped_tensors": skipped,
        "tied_embeddings": ctx.tied_embeddings, "zero_threshold": zero_threshold,
        "rank_tolerance": "sigma_max * max(rows, cols) * eps(float32)", "calibration_samples": calibration,
        "outputs": [out.name] + ([f"{stem.name}_layers.csv", f"{stem.name}_heads.csv"] if calibration else [])
                   + list(images.values()) + ["analysis.md"],
    }
    meta["seconds"] = round(time.perf_counter() - t0, 2)
    (out.parent / "analysis.md").write_text(summary_markdown(table, layers, heads, images, meta))
    (out.parent / "run_meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return meta
