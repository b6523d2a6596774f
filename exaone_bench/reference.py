"""Build and pretrain exaone-tiny: a real Exaone4ForCausalLM with EXAONE-4.0-1.2B's proportions.

EXAONE-4.0-1.2B: hidden 2048, 30 layers, 32 query / 8 KV heads (4 per group), head_dim 64,
MLP 4096 (2 x hidden), tied embeddings, QK-norm and post-norms, all-global attention.
exaone-tiny keeps every ratio and shrinks the widths so that pretraining fits minutes on 2 CPU
cores. The checkpoint is cached under data/models/<name>/ by a hash of its recipe.
"""
from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .cache import atomic_dir, stable_hash, verify_checksums, write_checksums
from .data import DataSpec, pretraining_documents, prepare, token_blocks
from .paths import models_dir

SPECIAL_TOKENS = {"pad_token": "[PAD]", "bos_token": "[BOS]", "eos_token": "[EOS]", "unk_token": "[UNK]"}


@dataclass(frozen=True)
class Recipe:
    """Everything that determines the reference checkpoint; its hash keys the cache."""

    name: str = "exaone-tiny"
    vocab_size: int = 4096          # byte-level BPE trained on the pretraining corpus
    hidden_size: int = 192
    num_hidden_layers: int = 8
    num_attention_heads: int = 8
    num_key_value_heads: int = 2    # 4 query heads per KV head, as in EXAONE-4.0-1.2B
    head_dim: int = 24
    intermediate_size: int = 384    # 2 x hidden, as in EXAONE-4.0-1.2B
    max_position_embeddings: int = 512
    seq_len: int = 128
    batch_size: int = 32
    steps: int = 320
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 20
    weight_decay: float = 0.1
    seed: int = 0
    split_seed: int = 0             # seed of the fixed data split whose train texts join the corpus
    train_split_repeats: int = 2    # in-domain review text counts twice in the corpus
    holdout_fraction: float = 0.02  # corpus blocks held out for the validation LM loss
    max_corpus_chars: int = 0       # 0: whole corpus; >0 truncates each group (micro recipes)

    @property
    def hash(self) -> str:
        return stable_hash(asdict(self))


DEFAULT = Recipe()
# Seconds on 2 cores: for tests of the whole build path, not for quality.
MICRO = Recipe(name="exaone-micro", vocab_size=512, hidden_size=32, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, head_dim=8, intermediate_size=64,
               seq_len=32, batch_size=8, steps=8, warmup_steps=2, max_corpus_chars=20_000)


def model_config(recipe: Recipe, tokenizer=None):
    """The Exaone4Config for a recipe; special-token ids come from the tokenizer when given."""
    from transformers import Exaone4Config

    ids = {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
    if tokenizer is not None:
        ids = {k: tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS[k.replace("_id", "")]) for k in ids}
    return Exaone4Config(
        vocab_size=recipe.vocab_size,
        hidden_size=recipe.hidden_size,
        intermediate_size=recipe.intermediate_size,
        num_hidden_layers=recipe.num_hidden_layers,
        num_attention_heads=recipe.num_attention_heads,
        num_key_value_heads=recipe.num_key_value_heads,
        head_dim=recipe.head_dim,
        max_position_embeddings=recipe.max_position_embeddings,
        sliding_window=None,  # all-global attention, like the 1.2B model
        layer_types=["full_attention"] * recipe.num_hidden_layers,
        tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
        **ids,
    )


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


@torch.no_grad()
def lm_loss(model, blocks: torch.Tensor, batch_size: int = 64) -> float:
    """Mean next-token cross-entropy (nats) of `model` over `blocks`, weighted by token count."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(blocks), batch_size):
        x = blocks[i : i + batch_size]
        out = model(input_ids=x, labels=x)
        n = x[:, 1:].numel()
        total += float(out.loss) * n
        count += n
    return total / max(count, 1)


def _lr_at(step: int, recipe: Recipe) -> float:
    if step < recipe.warmup_steps:
        return recipe.lr * (step + 1) / recipe.warmup_steps
    progress = (step - recipe.warmup_steps) / max(1, recipe.steps - recipe.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return recipe.lr * (recipe.min_lr_ratio + (1 - recipe.min_lr_ratio) * cosine)


def pretrain(model, train: torch.Tensor, recipe: Recipe, progress: bool = True) -> list[float]:
    """Causal-LM pretraining for a fixed number of steps from a fixed seed; returns the losses."""
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(recipe.seed)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=recipe.lr, betas=(0.9, 0.95),
    )
    model.train()
    losses, tokens, start = [], 0, time.perf_counter()
    bar = tqdm(range(recipe.steps), desc=f"pretrain {recipe.name}", disable=not progress, mininterval=1.0)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, recipe)
        x = train[torch.randint(len(train), (recipe.batch_size,), generator=gen)]
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        tokens += x.numel()
        if step % 10 == 0 or step == recipe.steps - 1:
            bar.set_postfix(loss=f"{losses[-1]:.3f}", tok_s=f"{tokens / (time.perf_counter() - start):,.0f}")
    return losses


def _versions() -> dict[str, str]:
    import tokenizers
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__}


def build(recipe: Recipe, out: Path, progress: bool = True) -> dict:
    """Train the tokenizer, pretrain the model and save both plus run_meta.json into `out`."""
    from transformers import Exaone4ForCausalLM

    t0 = time.perf_counter()
    split_dir = prepare(DataSpec(seed=recipe.split_seed))
    texts, sizes = _corpus(recipe)
    corpus_sha = stable_hash(texts, 64)
    tokenizer = train_tokenizer(texts, recipe.vocab_size)
    blocks = token_blocks(tokenizer, texts, recipe.seq_len)
    order = torch.randperm(len(blocks), generator=torch.Generator().manual_seed(recipe.seed))
    n_held = max(1, int(len(blocks) * recipe.holdout_fraction))
    held, train = blocks[order[:n_held]], blocks[order[n_held:]]
    with open(split_dir / "validation.jsonl", encoding="utf-8") as f:
        review_texts = [json.loads(line)["text"] for line in f]
    reviews = token_blocks(tokenizer, review_texts, recipe.seq_len)
    t_data = time.perf_counter() - t0

    torch.manual_seed(recipe.seed)
    model = Exaone4ForCausalLM(model_config(recipe, tokenizer))
    t1 = time.perf_counter()
    losses = pretrain(model, train, recipe, progress)
    t_train = time.perf_counter() - t1
    meta = {
        "recipe": asdict(recipe),
        "recipe_hash": recipe.hash,
        "seed": recipe.seed,
        "versions": _versions(),
        "corpus": {"sha256": corpus_sha, "chars_by_group": sizes,
                   "train_tokens": int(train.numel()), "holdout_tokens": int(held.numel())},
        "parameters": sum(p.numel() for p in model.parameters()),
        "tokens_seen": recipe.steps * recipe.batch_size * recipe.seq_len,
        "final_train_loss": float(np.mean(losses[-20:])),
        "validation": {
            "corpus_holdout": {"lm_loss": lm_loss(model, held), "unigram_loss": unigram_loss(train, held, recipe.vocab_size)},
            "review_validation_split": {"lm_loss": lm_loss(model, reviews) if len(reviews) else None,
                                        "unigram_loss": unigram_loss(train, reviews, recipe.vocab_size) if len(reviews) else None},
        },
        "seconds": {"data_and_tokenizer": round(t_data, 1), "pretraining": round(t_train, 1)},
        "tokens_per_second": round(recipe.steps * recipe.batch_size * recipe.seq_len / t_train),
        "loss_curve": [round(float(np.mean(losses[i : i + 20])), 4) for i in range(0, len(losses), 20)],
    }
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "run_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    write_checksums(out, sorted(p.name for p in out.iterdir() if p.is_file()))
    return meta


def reference_dir(recipe: Recipe = DEFAULT) -> Path:
    return models_dir() / recipe.name


def cached_meta(recipe: Recipe = DEFAULT) -> dict | None:
    """run_meta.json of a verified checkpoint built from exactly this recipe, else None."""
    out = reference_dir(recipe)
    meta_path = out / "run_meta.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("recipe_hash") != recipe.hash or not verify_checksums(out):
        return None
    return meta


def ensure_reference(recipe: Recipe = DEFAULT, rebuild: bool = False, progress: bool = True) -> Path:
    """The checkpoint directory for `recipe`, built (atomically, under a file lock) if needed."""
    from filelock import FileLock

    out = reference_dir(recipe)
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if rebuild or cached_meta(recipe) is None:
            with atomic_dir(out) as tmp:
                build(recipe, tmp, progress)
    return out


def with_overrides(recipe: Recipe, **overrides) -> Recipe:
    return replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
