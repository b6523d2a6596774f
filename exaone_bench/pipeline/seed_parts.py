"""Seeds shared between processes: each seed part of a model is built once, by whoever gets to it first.

A part is a directory of JSON fields, numpy arrays and checksums, written atomically; a model is
known by its fingerprint (config, vocabulary and weights), so two variants that build the same
model, or two xdist workers that need the same baseline, train its seeds once between them.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock, Timeout

from exaone_bench.core.cache import atomic_dir, verify_checksums, write_checksums


def shared_seeds(root: Path, seeds: list[int], build, wait: bool = True) -> list[dict]:
    """The seed parts under `root/<seed>/`, each built once by whichever process gets to it first.

    First pass: build every seed no other process holds (a held lock is skipped, not waited on),
    so two workers that need the same model train different seeds side by side. Second pass: wait
    for the rest. `build(dir, seed)` writes one part; an absent or corrupt part is (re)built.
    With wait=False only the first pass runs and nothing is read back.
    """
    parts: dict[int, dict | None] = {}
    for blocking in (False, True) if wait else (False,):
        for seed in [x for x in seeds if x not in parts]:
            d = root / str(seed)
            d.parent.mkdir(parents=True, exist_ok=True)
            try:
                with FileLock(str(d) + ".lock", timeout=-1 if blocking else 0):
                    if not verify_checksums(d):
                        build(d, seed)
                    parts[seed] = read_part(d) if wait else None
            except Timeout:  # another process is building this seed: take the next one
                continue
    return [parts[seed] for seed in seeds] if wait else []


WEIGHTS = "classifier.safetensors"  # a part's fine-tuned weights, when it keeps them


def write_part(d: Path, part: dict) -> None:
    """One seed's result, atomically: JSON fields, numpy arrays (predictions, logits), checksums.

    A part with `state` (a state dict) also keeps the classifier's weights as safetensors.
    """
    part = dict(part)
    arrays = {k: part.pop(k) for k in ("preds", "train_logits") if k in part}
    state = part.pop("state", None)
    with atomic_dir(d) as tmp:
        (tmp / "part.json").write_text(json.dumps(part, indent=2) + "\n")
        np.savez(tmp / "arrays.npz", **arrays)
        files = ["part.json", "arrays.npz"]
        if state is not None:
            from safetensors.torch import save_file

            save_file(state, str(tmp / WEIGHTS))  # tensors are separate copies (no tied names)
            files.append(WEIGHTS)
        write_checksums(tmp, files)


def read_part(d: Path) -> dict:
    """A part as written; `weights` is the path of its kept classifier weights, when it has them."""
    part = json.loads((d / "part.json").read_text())
    arrays = np.load(d / "arrays.npz")
    out = {**part, **{k: arrays[k] for k in arrays.files}}
    if (d / WEIGHTS).is_file():
        out["weights"] = str(d / WEIGHTS)
    return out


def model_fingerprint(causal_lm, tokenizer, *context) -> str | None:
    """sha256 of a model's config, vocabulary and weights, plus `context`: equal only for the same model.

    The directory it was loaded from is not part of it: the same model from two data dirs is one
    model. None when some weights are offloaded (meta tensors under a device map): such a model
    is not shared.
    """
    state = causal_lm.state_dict()
    if any(t.is_meta for t in state.values()):
        return None
    config = {k: v for k, v in causal_lm.config.to_dict().items() if k != "_name_or_path"}
    h = hashlib.sha256(json.dumps([config, tokenizer.get_vocab(), context],
                                  sort_keys=True, default=str).encode())
    for name, tensor in state.items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]
