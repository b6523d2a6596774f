"""Loading a base model from a hub id, a local directory or a built-in name.

Every source ends in the same `from_pretrained` call; a built-in name is a local directory that
this project builds (exaone-tiny, SmolLM2 converted from GGUF), so the hub path and the embedded
default share one code path.
"""
from __future__ import annotations

import re
from pathlib import Path

from exaone_bench.base_models.exaone_tiny.recipe import DEFAULT, model_config
from exaone_bench.base_models.exaone_tiny.store import ensure_reference, reference_dir, shipped_dir, shipped_meta
from exaone_bench.base_models.smollm2 import NAME, ensure_smollm2
from exaone_bench.base_models.source import Source, SourceError
from exaone_bench.core.paths import models_dir
from exaone_bench.models.architecture import is_vision_language
from exaone_bench.models.vision_language import text_tower

BUILTIN_NAMES = ("exaone-tiny", "smollm2-135m")


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


ACCEPTED = (
    "a built-in name (" + ", ".join(BUILTIN_NAMES) + "), a local directory holding config.json, "
    "or a hub id such as LGAI-EXAONE/EXAONE-4.0-1.2B"
)


def resolve(source: str | Path, build: bool = True) -> Source:
    """Turn a user-given source into a loadable location, building exaone-tiny if needed."""
    text = str(source)
    if text == "exaone-tiny":
        if build:
            path = ensure_reference(DEFAULT)
        else:
            path = shipped_dir(DEFAULT) if shipped_meta(DEFAULT) is not None else reference_dir(DEFAULT)
        return Source(text, "builtin", str(path))
    if text == "smollm2-135m":
        return Source(text, "builtin", str(ensure_smollm2() if build else models_dir() / NAME))
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise SourceError(f"model source '{text}': directory has no config.json; accepted: {ACCEPTED}")
        return Source(text, "local", str(path.resolve()))
    if path.exists():
        raise SourceError(f"model source '{text}' is a file, not a model directory; accepted: {ACCEPTED}")
    if HUB_ID.match(text) and not text.startswith((".", "/", "~")):
        return Source(text, "hub", text)
    raise SourceError(f"unknown model source '{text}'; accepted: {ACCEPTED}")


def cached_config(source: str | Path, trust_remote_code: bool = False):
    """The source's config if it is on disk already (nothing is built or downloaded), else None.

    exaone-tiny's architecture is fixed by its recipe, so its config is known before it is built:
    a fresh clone checks experiment files at collection, not after a 5-minute reference build.
    """
    from transformers import AutoConfig

    try:
        src = resolve(source, build=False)
        if src.kind != "hub" and not (Path(src.location) / "config.json").is_file():
            if src.name == "exaone-tiny":
                return model_config(DEFAULT)
            return None
        return AutoConfig.from_pretrained(src.location, local_files_only=True, trust_remote_code=trust_remote_code)
    except (SourceError, OSError, ValueError):
        return None


def load_model(source: str | Path, *, dtype: str = "float32", device: str = "cpu",
               trust_remote_code: bool = False, revision: str | None = None):
    """(model, tokenizer, Source) for any accepted source, through `from_pretrained`.

    device "auto" hands placement to accelerate (`device_map="auto"`): a model larger than one
    GPU is spread over the GPUs and, past them, the CPU; without a GPU it lands on the CPU.
    A vision-language model (EXAONE 4.5) comes back as its text tower (vision_language.py).
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText, AutoTokenizer

    src = resolve(source)
    kwargs = {"trust_remote_code": trust_remote_code, "revision": revision}
    placement = {"device_map": "auto"} if device == "auto" else {}
    try:
        config = AutoConfig.from_pretrained(src.location, **kwargs)  # read once, handed to from_pretrained
        auto = AutoModelForImageTextToText if is_vision_language(config) else AutoModelForCausalLM
        model = auto.from_pretrained(src.location, config=config, dtype=getattr(torch, dtype), **placement, **kwargs)
        if is_vision_language(config):  # EXAONE 4.5: the suite works on its text tower
            model = text_tower(model)
        tokenizer = AutoTokenizer.from_pretrained(src.location, **kwargs)
    except OSError as e:
        if src.kind == "hub":
            raise SourceError(
                f"cannot fetch '{src.location}' from the Hugging Face hub ({e.__class__.__name__}: {e}). "
                "Without network access, download it elsewhere and pass the local directory instead."
            ) from e
        raise
    if device != "auto":
        model = model.to(device)
    return model.eval(), tokenizer, src
