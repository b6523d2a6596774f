"""LoRA recovery (`training.recovery: lora`) through peft: adapters trained by the one loop, merged before evaluation.

Full fine-tuning of every weight does not fit where the large EXAONE models are compressed
(EXAONE-4.0-32B's weights, gradients and AdamW moments exceed one 80 GB GPU); LLM-Pruner and the
healing experiments of Gromov et al. recover with LoRA instead. The classifier's decoder linear
maps get rank-r adapters (`peft.LoraConfig`), the score head trains in full (`modules_to_save`),
everything else is frozen; the same loop, seeds and metrics run on the model peft wraps, and the
adapters are merged into the weights (`merge_and_unload`) before anything is evaluated, so every
downstream measure (size, latency, export, post-training transforms) sees a plain model.
"""
from __future__ import annotations

import contextlib


def wrap(model, lora):
    """(peft model, the classifier inside it with adapters injected): train the latter, merge the former."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=list(lora.target_modules), modules_to_save=["score"])
    peft_model = get_peft_model(model, config)
    return peft_model, peft_model.base_model.model


def merged(peft_model):
    """The plain classifier with every adapter folded into its weights (no peft module left)."""
    return peft_model.merge_and_unload()


def training_state(model) -> dict:
    """What training holds beside the weights: trainable parameters and the bytes of their gradients and AdamW moments."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    n = sum(p.numel() for p in trainable)
    return {"trainable_parameters": n,
            "optimizer_state_bytes": 3 * sum(p.numel() * p.element_size() for p in trainable)}  # grad + 2 moments


@contextlib.contextmanager
def cuda_peak(device):
    """Peak CUDA memory (MB) allocated inside the block, in the dict yielded; empty on a CPU."""
    import torch

    out: dict = {}
    cuda = torch.cuda.is_available() and str(device).startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    yield out
    if cuda:
        out["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


__all__ = ["cuda_peak", "merged", "training_state", "wrap"]
