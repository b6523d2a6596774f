"""Trim the vocabulary to the tokens the fixed dataset uses, and rebuild the tokenizer to match.

`{min_count: 1}` keeps tokens seen at least that often in the training texts; `{size: N}` keeps
the N most frequent. Always kept: special/added tokens, the 256 byte-level symbols (any text still
encodes) and every BPE merge ancestor of a kept token (so the merges still reach it).
Embedding and an untied lm_head lose rows; ids are renumbered in old order; the tokenizer's
vocab, merges and special ids are remapped, so text maps to exactly the old tokens.
"""
from __future__ import annotations

import json

from exaone_bench.compression.calibration import MissingCalibration
from exaone_bench.compression.contract import choose_score
from exaone_bench.compression.importance import compute
from exaone_bench.compression.surgery import keep_rows, retie
from exaone_bench.core.validate import SpecError, as_int, check_keys
from exaone_bench.models.architecture import backbone, is_tied, is_vision_language

NAME = "trim_vocab"


UNITS = ("token",)


REMOVED = ("token_ids", "tokens")


def _tokenizer_json(tokenizer) -> dict:
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    if state["model"]["type"] != "BPE" or state.get("pre_tokenizer", {}) is None:
        raise SpecError(f"trim_vocab supports byte-level BPE tokenizers, not {state['model']['type']}")
    return state


def _merges(state) -> list[tuple[str, str]]:
    return [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in state["model"]["merges"]]


def required_ids(tokenizer) -> set[int]:
    """Ids that must survive: special and added tokens, and the byte-level alphabet."""
    from tokenizers.pre_tokenizers import ByteLevel

    vocab = _tokenizer_json(tokenizer)["model"]["vocab"]
    ids = set(tokenizer.all_special_ids)
    ids |= {i for i in tokenizer.get_added_vocab().values()}
    ids |= {vocab[c] for c in ByteLevel.alphabet() if c in vocab}
    return ids


def _merge_parents(state) -> dict[int, tuple[int, int]]:
    """Token id -> the ids of the two tokens its BPE merge joins."""
    vocab = state["model"]["vocab"]
    return {vocab[a + b]: (vocab[a], vocab[b]) for a, b in _merges(state) if a + b in vocab}


def _with_ancestors(keep: set[int], parents: dict[int, tuple[int, int]]) -> set[int]:
    todo, out = list(keep), set(keep)
    while todo:
        for p in parents.get(todo.pop(), ()):
            if p not in out:
                out.add(p)
                todo.append(p)
    return out


def applies(config) -> str | None:
    """Not on a vision-language model's text tower: its image and video token ids index this vocabulary."""
    if is_vision_language(config):
        return (f"model_type '{config.model_type}': its image and video token ids index this vocabulary, "
                "and remapping them is not built")
    return None


def check(config, spec, where: str) -> None:
    """Validate the spec against the config alone (the tokenizer's own limits are checked in plan)."""
    check_keys(spec, ("min_count", "size", "by", "keep_ids"), where)
    if len({"min_count", "size", "keep_ids"} & set(spec)) != 1:
        raise SpecError(f"{where}: give exactly one of min_count, size or keep_ids")
    choose_score(UNITS, spec.get("by"), f"{where}.by")
    if "min_count" in spec:
        as_int(spec["min_count"], f"{where}.min_count", 1, 10**12)
    elif "size" in spec:
        as_int(spec["size"], f"{where}.size", 1, config.vocab_size - 1)
    elif not isinstance(spec["keep_ids"], list) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < config.vocab_size for i in spec["keep_ids"]):
        raise SpecError(f"{where}.keep_ids: expected a list of token ids in [0, {config.vocab_size - 1}]")


def plan(model, spec, calib, where: str) -> dict:
    size = model.config.vocab_size
    check(model.config, spec, where)
    try:
        texts, tokenizer = calib.require_texts()
    except MissingCalibration as e:
        raise SpecError(f"{where}: {e}") from e
    parents = _merge_parents(_tokenizer_json(tokenizer))
    required = required_ids(tokenizer)
    scores = {}
    if "keep_ids" in spec:
        keep = set(spec["keep_ids"])
        missing = sorted(required - keep)
        if missing:
            names = tokenizer.convert_ids_to_tokens(missing[:8])
            raise SpecError(f"{where}.keep_ids: would drop {len(missing)} special/byte token(s), e.g. {names}")
    else:
        if "size" in spec:  # the special and byte tokens always stay
            as_int(spec["size"], f"{where}.size", len(required), size - 1)
        by = choose_score(UNITS, spec.get("by"), f"{where}.by")
        freq = compute(by, model, calib, where)
        scores[by] = freq.tolist()
        if "min_count" in spec:
            keep = required | set((freq >= spec["min_count"]).nonzero().flatten().tolist())
        else:  # most frequent first, each with its ancestors, until the next would overflow `size`
            keep = _with_ancestors(required, parents)
            for i in freq.argsort(descending=True, stable=True).tolist():
                grown = _with_ancestors({i}, parents) | keep
                if len(grown) > spec["size"]:
                    break
                keep = grown
    keep = sorted(_with_ancestors(keep, parents))
    if len(keep) >= size:
        raise SpecError(f"{where}: keeps all {size} tokens; nothing would be removed")
    return {
        "removed": {"token_ids": sorted(set(range(size)) - set(keep))},
        "kept": {"token_ids": keep},
        "scores": scores,
    }


def remap_tokenizer(tokenizer, keep: list[int]):
    """A new fast tokenizer whose vocab is `keep` renumbered 0..len-1; same token strings."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    state = _tokenizer_json(tokenizer)
    new_id = {old: new for new, old in enumerate(keep)}
    vocab = state["model"]["vocab"]
    state["model"]["vocab"] = {tok: new_id[i] for tok, i in vocab.items() if i in new_id}
    kept = state["model"]["vocab"]
    state["model"]["merges"] = [[a, b] for a, b in _merges(state) if a in kept and b in kept and a + b in kept]
    for added in state.get("added_tokens", []):
        added["id"] = new_id[added["id"]]
    post = state.get("post_processor") or {}
    for special in (post.get("special_tokens") or {}).values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    specials = {k: v for k, v in tokenizer.special_tokens_map.items() if isinstance(v, str)}
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(state)),
                                   model_max_length=tokenizer.model_max_length, **specials)


def cut(model, record, calib=None) -> None:
    keep = record["kept"]["token_ids"]
    new_id = {old: new for new, old in enumerate(keep)}
    emb = backbone(model).embed_tokens
    emb.weight.data = emb.weight.data[keep].contiguous()
    emb.num_embeddings = len(keep)
    if is_tied(model):
        retie(model)
    elif getattr(model, "lm_head", None) is not None:
        keep_rows(model.lm_head, keep)
    for cfg in (model.config, getattr(model, "generation_config", None)):
        for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
            value = getattr(cfg, key, None)
            if isinstance(value, int):
                setattr(cfg, key, new_id.get(value))
            elif isinstance(value, list):
                setattr(cfg, key, [new_id[v] for v in value if v in new_id])
    if getattr(emb, "padding_idx", None) is not None:
        emb.padding_idx = new_id.get(emb.padding_idx)
    if calib is not None and calib.tokenizer is not None:
        calib.tokenizer = remap_tokenizer(calib.tokenizer, keep)


def words(removed: dict) -> str:
    """What the report says this strategy removed: vocabulary rows."""
    return f"{len(removed['token_ids'])} tokens"
