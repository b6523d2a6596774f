"""A randomly initialised model built from the real EXAONE-4.0-1.2B config (1,279,391,488 params).

Used by the benchmarks: `build()` in memory (fp32), or `python random_exaone.py DIR` to save it
as bf16 safetensors, like the released checkpoint.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from transformers import Exaone4Config, Exaone4ForCausalLM

CONFIG = Path(__file__).parent / "exaone-4.0-1.2b.config.json"


def build(seed: int = 0, device: str = "cpu") -> Exaone4ForCausalLM:
    """Allocated on `device` without the slow default init, then filled with N(0, 0.02) weights and unit norms."""
    cfg = json.loads(CONFIG.read_text())
    for key in ("architectures", "torch_dtype", "transformers_version"):
        cfg.pop(key, None)
    with torch.device("meta"):
        model = Exaone4ForCausalLM(Exaone4Config(**cfg))
    model.to_empty(device=device)
    gen = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02, generator=gen) if p.dim() > 1 else p.fill_(1.0)
    model.tie_weights()
    return model.eval()


if __name__ == "__main__":
    model = build()
    model.to(torch.bfloat16).save_pretrained(sys.argv[1])
    print(sum(p.numel() for p in model.parameters()), "parameters saved to", sys.argv[1])
