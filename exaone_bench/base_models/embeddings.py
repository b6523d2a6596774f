"""A teacher's token embeddings as a student's input embeddings: mapped through the text, projected to the width.

Kim 2014 and Tang et al. 2019 give a small classifier pretrained word vectors; here the teacher's
input embeddings play that part. Each student token is decoded to its text and read by the
teacher's tokenizer; its vector is the mean of the teacher's rows for those tokens. The mapped
matrix is projected onto its top principal components (the student's width) and rescaled to the
student's own row norms, so the layers above see inputs of the scale they were trained on.
Special tokens keep the student's own rows.
"""
from __future__ import annotations

import torch


@torch.no_grad()
def mapped(student_tokenizer, student_embeddings: torch.Tensor, teacher_tokenizer,
           teacher_embeddings: torch.Tensor) -> torch.Tensor:
    """(student vocab, student width): the teacher's embedding of each student token's text, projected."""
    vocab, width = student_embeddings.shape
    special = set(student_tokenizer.all_special_ids)
    rows, found = torch.zeros(vocab, teacher_embeddings.shape[1]), torch.zeros(vocab, dtype=torch.bool)
    for i in range(vocab):
        if i in special:
            continue
        text = student_tokenizer.decode([i])
        ids = teacher_tokenizer(text, add_special_tokens=False)["input_ids"]
        if ids:
            rows[i], found[i] = teacher_embeddings[ids].float().mean(0), True
    centred = rows[found] - rows[found].mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)  # principal directions of the mapped rows
    projected = centred @ v[:width].T
    own = student_embeddings.float()
    scale = own[found].norm(dim=1).mean() / projected.norm(dim=1).mean()
    out = own.clone()
    out[found] = projected * scale
    return out.to(student_embeddings.dtype)
