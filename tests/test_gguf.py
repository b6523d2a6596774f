"""GGUF export: a tiny real Llama and the micro model's byte-level BPE tokenizer, written and read back by transformers."""
from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from exaone_bench.cli import main
from exaone_bench.core.validate import SpecError
from exaone_bench.export.gguf import export, reason_not_offered

TEXT = "A gripping, beautifully shot film that never quite lands."


@pytest.mark.parametrize("dtype, atol", [("f32", 0.0), ("f16", 1e-2), ("q8_0", 5e-2)])
def test_llama_round_trips_through_gguf(tiny_llama_dir, tmp_path, dtype, atol):
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    path = export(model, tokenizer, tmp_path / f"m-{dtype}.gguf", dtype)
    back = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=path.name, dtype=torch.float32).eval()
    back_tokenizer = AutoTokenizer.from_pretrained(tmp_path, gguf_file=path.name)
    ids = tokenizer(TEXT, return_tensors="pt").input_ids
    assert back_tokenizer(TEXT, add_special_tokens=False).input_ids == ids[0].tolist()
    assert back.config.num_key_value_heads == 2 and back.config.tie_word_embeddings  # no output.weight: tied
    with torch.no_grad():
        diff = (model(ids).logits - back(ids).logits).abs().max().item()
    assert diff <= atol and (dtype == "f32" or diff > 0)


def test_cli_exports_and_checks_a_compress_output(tiny_llama_dir, tmp_path, capsys):
    assert main(["export-gguf", "--model", str(tiny_llama_dir), "--out", str(tmp_path / "m.gguf"), "--type", "f32"]) == 0
    out = capsys.readouterr().out
    assert "read back by transformers: max |logit difference| 0.00e+00" in out and (tmp_path / "m.gguf").stat().st_size > 0


def test_exaone4_is_refused_with_the_reason(tiny_exaone, micro_reference, tmp_path, capsys):
    reason = reason_not_offered(tiny_exaone.config)
    assert reason.startswith("`exaone4` is not among the architectures transformers reads GGUF files of (llama,")
    with pytest.raises(SpecError, match="GGUF export: `exaone4`"):
        export(tiny_exaone, AutoTokenizer.from_pretrained(micro_reference), tmp_path / "x.gguf")
    assert main(["export-gguf", "--model", str(micro_reference), "--out", str(tmp_path / "x.gguf")]) == 2
    assert "export-gguf: error: GGUF export: `exaone4`" in capsys.readouterr().err
