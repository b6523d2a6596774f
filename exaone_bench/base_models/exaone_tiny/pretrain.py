"""Pretraining exaone-tiny: its tokenizer, corpus and resumable causal-LM training, recorded with where it ran."""
from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from exaone_bench.base_models.exaone_tiny.recipe import SPECIAL_TOKENS, Recipe, model_config
from exaone_bench.core import machine
from exaone_bench.core.cache import stable_hash, write_checksums
from exaone_bench.core.paths import models_dir
from exaone_bench.data.batches import token_blocks
from exaone_bench.data.corpus import extra_documents, pretraining_documents
from exaone_bench.data.split import DataSpec, split_texts
from exaone_bench.evaluation.lm_loss import lm_loss as evaluate_lm_loss
from exaone_bench.training.optim import decay_groups, lr_multiplier


def train_tokenizer(texts: list[str], vocab_size: int):
    """Byte-level BPE (GPT-2 style) trained on `texts`, wrapped as a PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=2048, **SPECIAL_TOKENS)


def _corpus(recipe: Recipe) -> tuple[list[str], dict[str, int]]:
    groups = pretraining_documents(DataSpec(seed=recipe.split_seed))
    if recipe.extra_corpus:
        groups.update(extra_documents(recipe.extra_corpus))
    texts, sizes = [], {}
    for name, docs in groups.items():
        if recipe.max_corpus_chars:
            kept, total = [], 0
            for d in docs:
                kept.append(d[: recipe.max_corpus_chars - total])
                total += len(kept[-1])
                if total >= recipe.max_corpus_chars:
                    break
            docs = kept
        repeats = recipe.train_split_repeats if name == "train_split" else 1
        texts.extend(docs * repeats)
        sizes[name] = sum(map(len, docs)) * repeats
    return texts, sizes


def unigram_loss(train: torch.Tensor, held: torch.Tensor, vocab_size: int) -> float:
    """Cross-entropy (nats/token) of an add-one unigram model fit on `train`, scored on `held`."""
    counts = torch.bincount(train.flatten(), minlength=vocab_size).double() + 1.0
    logp = (counts / counts.sum()).log()
    # Score the positions an LM is scored on (all but the first of each block).
    return float(-logp[held[:, 1:].flatten()].mean())


def lm_loss(model, blocks: torch.Tensor, batch_size: int = 64) -> float:
    """Mean next-token cross-entropy (nats) of `model` over fixed-length `blocks` (evaluate.lm_loss)."""
    return evaluate_lm_loss(model, [blocks[i : i + batch_size] for i in range(0, len(blocks), batch_size)])


RESUME = "resume.pt"


def resume_dir(recipe: Recipe) -> Path:
    """Where an unfinished pretraining run of `recipe` keeps its state between pieces."""
    return models_dir() / f"{recipe.name}.resume"


def _load_resume(path: Path, recipe: Recipe) -> dict | None:
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state if state.get("recipe_hash") == recipe.hash else None  # another recipe's state is ignored


def pretrain(model, train: torch.Tensor, recipe: Recipe, progress: bool = True, state_dir: Path | None = None,
             checkpoint_every: int = 200, stop_after: int | None = None) -> dict:
    """Causal-LM pretraining for `recipe.steps` steps from a fixed seed, resumable in pieces.

    With `state_dir`, every `checkpoint_every` steps the weights, the optimizer's moments, the
    batch generator's state (the data position) and the losses so far go to state_dir/resume.pt,
    written atomically; a later call with the same recipe continues from the last one, so on the
    same machine a run in pieces ends with the same weights as one uninterrupted run.
    `stop_after` ends this piece after that many steps (a run longer than one sitting).
    Returns the losses and the pieces (steps, seconds, host) that made them.
    """
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(recipe.seed)
    opt = torch.optim.AdamW(decay_groups(model, recipe.weight_decay), lr=recipe.lr, betas=(0.9, 0.95))
    state_path = state_dir / RESUME if state_dir is not None else None
    state = _load_resume(state_path, recipe) if state_path is not None else None
    losses, pieces, first = [], [], 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        losses, pieces, first = list(state["losses"]), list(state["pieces"]), int(state["step"])
    device = next(model.parameters()).device
    last = recipe.steps if stop_after is None else min(recipe.steps, first + stop_after)
    piece = {"from_step": first, "to_step": first, "seconds": 0.0, "host": host()}
    model.train()
    start = time.perf_counter()
    bar = tqdm(range(first, last), desc=f"pretrain {recipe.name}", disable=not progress, mininterval=1.0,
               initial=first, total=recipe.steps)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = recipe.lr * lr_multiplier(step, recipe.steps, recipe.warmup_steps, "cosine", recipe.min_lr_ratio)
        x = train[torch.randint(len(train), (recipe.batch_size,), generator=gen)].to(device)
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        piece["to_step"], piece["seconds"] = step + 1, round(time.perf_counter() - start, 1)
        if step % 10 == 0 or step == recipe.steps - 1:
            done = (step + 1 - first) * recipe.batch_size * recipe.seq_len
            bar.set_postfix(loss=f"{losses[-1]:.3f}", tok_s=f"{done / (time.perf_counter() - start):,.0f}")
        if state_path is not None and ((step + 1) % checkpoint_every == 0 or step + 1 == last):
            state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = state_path.with_suffix(".tmp")
            torch.save({"recipe_hash": recipe.hash, "step": step + 1, "model": model.state_dict(),
                        "optimizer": opt.state_dict(), "generator": gen.get_state(), "losses": losses,
                        "pieces": [*pieces, piece]}, tmp)
            os.replace(tmp, state_path)  # a kill mid-write leaves the previous state whole
    return {"losses": losses, "pieces": [*pieces, piece], "finished": last == recipe.steps}


def host() -> dict:
    """Where a piece of pretraining ran: float bits differ between CPUs (and GPUs)."""
    return {"cpu": machine.cpu_name(), "avx512_bf16": "avx512_bf16" in machine.bf16_flags(),
            "threads": torch.get_num_threads(), "gpu": machine.gpu()}


def _versions() -> dict[str, str]:
    import tokenizers
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__}


class Paused(RuntimeError):
    """Pretraining stopped after its piece; the same call again resumes from the saved state."""


def build(recipe: Recipe, out: Path, progress: bool = True, device: str = "cpu", steps_per_piece: int | None = None,
          checkpoint_every: int = 200) -> dict:
    """Train the tokenizer, pretrain the model (resumably) and save both plus run_meta.json into `out`.

    Raises `Paused` when `steps_per_piece` ends this call before the recipe's last step.
    """
    from transformers import Exaone4ForCausalLM

    t0 = time.perf_counter()
    texts, sizes = _corpus(recipe)
    corpus_sha = stable_hash(texts, 64)
    tokenizer = train_tokenizer(texts, recipe.vocab_size)
    blocks = token_blocks(tokenizer, texts, recipe.seq_len)
    order = torch.randperm(len(blocks), generator=torch.Generator().manual_seed(recipe.seed))
    n_held = max(1, int(len(blocks) * recipe.holdout_fraction))
    held, train = blocks[order[:n_held]], blocks[order[n_held:]]
    reviews = token_blocks(tokenizer, split_texts("validation", DataSpec(seed=recipe.split_seed)), recipe.seq_len)
    t_data = time.perf_counter() - t0

    torch.manual_seed(recipe.seed)
    model = Exaone4ForCausalLM(model_config(recipe, tokenizer)).to(device)
    run = pretrain(model, train, recipe, progress, resume_dir(recipe), checkpoint_every, steps_per_piece)
    if not run["finished"]:
        raise Paused(f"{recipe.name}: pretraining paused at step {run['pieces'][-1]['to_step']} of {recipe.steps}; "
                     f"state in {resume_dir(recipe)}; run the same command again to resume")
    model = model.cpu()
    losses, seconds = run["losses"], sum(p["seconds"] for p in run["pieces"])
    tokens = recipe.steps * recipe.batch_size * recipe.seq_len
    meta = {
        "recipe": asdict(recipe),
        "recipe_hash": recipe.hash,
        "seed": recipe.seed,
        "versions": _versions(),
        "trained_on": run["pieces"],
        "corpus": {"sha256": corpus_sha, "chars_by_group": sizes,
                   "train_tokens": int(train.numel()), "holdout_tokens": int(held.numel())},
        "parameters": sum(p.numel() for p in model.parameters()),
        "tokens_seen": tokens,
        "epochs": round(tokens / max(1, train.numel()), 2),
        "final_train_loss": float(np.mean(losses[-20:])),
        "validation": {
            "corpus_holdout": {"lm_loss": lm_loss(model, held), "unigram_loss": unigram_loss(train, held, recipe.vocab_size)},
            "review_validation_split": {"lm_loss": lm_loss(model, reviews) if len(reviews) else None,
                                        "unigram_loss": unigram_loss(train, reviews, recipe.vocab_size) if len(reviews) else None},
        },
        "seconds": {"data_and_tokenizer": round(t_data, 1), "pretraining": round(seconds, 1)},
        "tokens_per_second": round(tokens / max(seconds, 1e-9)),
        "loss_curve": [round(float(np.mean(losses[i : i + 20])), 4) for i in range(0, len(losses), 20)],
    }
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "run_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    write_checksums(out, sorted(p.name for p in out.iterdir() if p.is_file()))
    return meta
