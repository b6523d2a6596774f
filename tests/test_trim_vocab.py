"""trim_vocab on the micro reference's real byte-level BPE tokenizer: same tokens, new ids."""
from __future__ import annotations

import copy
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from exaone_bench.compression.calibration import Calibration
from exaone_bench.compression.registry import apply, replay
from exaone_bench.compression.strategies.trim_vocab import _merge_parents, _with_ancestors, required_ids
from exaone_bench.core.validate import SpecError
from exaone_bench.data.split import split_texts


@pytest.fixture(scope="module")
def base(micro_reference):
    return AutoModelForCausalLM.from_pretrained(micro_reference).eval(), AutoTokenizer.from_pretrained(micro_reference)


@pytest.fixture(scope="module")
def texts(micro_reference):
    return split_texts("train")[:400]


@pytest.fixture(scope="module")
def trimmed(base, texts):
    model, tok = copy.deepcopy(base[0]), base[1]
    calib = Calibration(texts=texts, tokenizer=tok)
    removed = apply(model, {"trim_vocab": {"min_count": 2}}, calib)
    return model, calib.tokenizer, removed


def test_text_maps_to_the_same_tokens(base, trimmed, texts):
    _, old_tok = base
    _, new_tok, removed = trimmed
    kept = removed[0]["kept"]["token_ids"]
    kept_set, exact = set(kept), 0
    for text in texts[:200] + ["Zebras? ünïcödé and 💥 never seen in training"]:
        old = old_tok(text, add_special_tokens=False).input_ids
        new = new_tok(text, add_special_tokens=False).input_ids
        if kept_set.issuperset(old):  # every old token survived: the encoding is the same, renumbered
            assert [kept[i] for i in new] == old
            exact += 1
        assert new_tok.decode(new) == text  # a dropped token falls back to smaller kept pieces
    assert exact > 150
    assert new_tok.eos_token == old_tok.eos_token and new_tok.eos_token_id == kept.index(old_tok.eos_token_id)


def test_logits_equal_base_logits_on_kept_rows(base, trimmed, texts):
    model0, old_tok = base
    model, new_tok, removed = trimmed
    kept = removed[0]["kept"]["token_ids"]
    new_ids = new_tok(texts[0], return_tensors="pt", add_special_tokens=False).input_ids
    old_ids = torch.tensor([[kept[i] for i in new_ids[0]]])
    with torch.no_grad():
        a, b = model(new_ids).logits, model0(old_ids).logits[..., kept]
    assert (a - b).abs().max() < 1e-5
    assert model.config.vocab_size == len(kept) < 512 and model.lm_head.weight is model.model.embed_tokens.weight


def test_round_trip_and_replay(base, trimmed, tmp_path, texts):
    model, new_tok, removed = trimmed
    model.save_pretrained(tmp_path)
    new_tok.save_pretrained(tmp_path)
    reloaded, tok2 = AutoModelForCausalLM.from_pretrained(tmp_path).eval(), AutoTokenizer.from_pretrained(tmp_path)
    ids = tok2(texts[1], return_tensors="pt").input_ids
    assert torch.equal(ids, new_tok(texts[1], return_tensors="pt").input_ids)
    with torch.no_grad():
        assert torch.equal(model(ids).logits, reloaded(ids).logits)
    cached = reloaded.generate(ids[:, :4], max_new_tokens=6, do_sample=False)
    assert torch.equal(cached, reloaded.generate(ids[:, :4], max_new_tokens=6, do_sample=False, use_cache=False))
    rebuilt, calib = copy.deepcopy(base[0]), Calibration(tokenizer=base[1])
    replay(rebuilt, removed, calib)
    assert all(torch.equal(v, rebuilt.state_dict()[k]) for k, v in model.state_dict().items())
    assert calib.tokenizer.get_vocab() == new_tok.get_vocab()


def test_size_keeps_the_most_frequent(base, texts):
    model, tok = copy.deepcopy(base[0]), base[1]
    calib = Calibration(texts=texts, tokenizer=tok)
    removed = apply(model, {"trim_vocab": {"size": 300}}, calib)
    assert model.config.vocab_size <= 300
    kept = set(removed[0]["kept"]["token_ids"])
    assert required_ids(tok) <= kept
    # a prefix of the tokens by frequency, with ancestors, that the next token would overflow
    parents = _merge_parents(json.loads(tok.backend_tokenizer.to_str()))
    freq = removed[0]["scores"]["token_frequency"]
    order = sorted(range(len(freq)), key=lambda i: -freq[i])
    first_out = next(n for n, i in enumerate(order) if i not in kept)
    assert set(order[:first_out]) <= kept and _with_ancestors(kept, parents) == kept
    assert len(_with_ancestors(kept | {order[first_out]}, parents)) > 300


@pytest.mark.parametrize("spec, message", [
    ({"keep_ids": list(range(4, 500))}, "would drop"),
    ({"size": 10}, "size: 10 is out of range"),
    ({"min_count": 0}, "min_count: 0 is out of range"),
    ({"min_count": 1, "size": 300}, "exactly one of min_count, size or keep_ids"),
    ({"min_count": 1, "by": "tf_idf"}, "unknown score 'tf_idf'"),
])
def test_trim_vocab_errors_leave_the_model_untouched(base, texts, spec, message):
    model = copy.deepcopy(base[0])
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        apply(model, {"trim_vocab": spec}, Calibration(texts=texts, tokenizer=base[1]))
    assert model.config.vocab_size == 512 and model.model.embed_tokens.weight.shape[0] == 512
