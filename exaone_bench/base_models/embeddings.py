"""A teacher's knowledge of words as a student's input embeddings: one vector per student token, projected to its width.

Kim 2014 and Tang et al. 2019 give a small classifier pretrained word vectors; here the teacher
plays that part, read one of two ways:
- `mapped`: each student token is decoded to its text and read by the teacher's tokenizer; its
  vector is the mean of the teacher's *input* embedding rows for those tokens.
- `contextual`: the teacher reads the training texts; a student token's vector is the teacher's
  hidden state at one layer, averaged over every place the token occurs (the teacher tokens
  whose characters overlap it). Static vectors distilled from a contextual model this way beat
  word2vec and GloVe on word-similarity benchmarks (Bommasani et al. 2020). A token the texts
  never use is read alone.
- `teacher_glove`: the mapped rows side by side with GloVe's word vectors (data/word_vectors.py),
  each token's GloVe vector averaged over the words of the training texts it is part of (the
  word itself when the token is a whole word; a token the texts never use: the words of its own
  text). Kim 2014's static word2vec vectors took a CNN on this task from 76.1 to 81.0, and Tang et
  al. 2019 started their distilled student from such vectors: a word-level table from 6 B tokens
  beside the LM's sub-word rows. Each part is scaled to unit mean row norm before they are joined,
  so neither outweighs the other by its units.
Either matrix is projected onto its top principal components (the student's width) and rescaled
to the student's own row norms, so the layers above see inputs of the scale they were trained
on. Special tokens keep the student's own rows.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch

from exaone_bench.data.word_vectors import glove, words


@torch.no_grad()
def mapped(student_tokenizer, student_embeddings: torch.Tensor, teacher_tokenizer,
           teacher_embeddings: torch.Tensor) -> torch.Tensor:
    """(student vocab, student width): the teacher's input embedding of each student token's text, projected."""
    return projected(*mapped_rows(student_tokenizer, student_embeddings.shape[0], teacher_tokenizer, teacher_embeddings),
                     student_embeddings)


@torch.no_grad()
def mapped_with_glove(student_tokenizer, student_embeddings: torch.Tensor, teacher_tokenizer,
                      teacher_embeddings: torch.Tensor, texts: list[str]) -> torch.Tensor:
    """(student vocab, student width): the mapped teacher rows and each token's GloVe vector, joined, projected."""
    vocab = student_embeddings.shape[0]
    teacher_rows, teacher_found = mapped_rows(student_tokenizer, vocab, teacher_tokenizer, teacher_embeddings)
    glove_rows, glove_found = word_vector_rows(student_tokenizer, vocab, texts)
    return projected(*side_by_side([(teacher_rows, teacher_found), (glove_rows, glove_found)]), student_embeddings)


def mapped_rows(student_tokenizer, vocab: int, teacher_tokenizer,
                teacher_embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(vocab, teacher width) and which rows were found: each student token's text read by the teacher's input rows."""
    special = set(student_tokenizer.all_special_ids)
    rows, found = torch.zeros(vocab, teacher_embeddings.shape[1]), torch.zeros(vocab, dtype=torch.bool)
    for i in range(vocab):
        if i in special:
            continue
        ids = teacher_tokenizer(student_tokenizer.decode([i]), add_special_tokens=False)["input_ids"]
        if ids:
            rows[i], found[i] = teacher_embeddings[ids].float().mean(0), True
    return rows, found


def word_vector_rows(student_tokenizer, vocab: int, texts: list[str],
                     lookup: Callable[[set[str]], tuple[dict, np.ndarray]] = glove) -> tuple[torch.Tensor, torch.Tensor]:
    """(vocab, dims) and which rows were found: each token's word vector (`lookup`: GloVe's table for a set of words),
    averaged over the words it is part of in `texts`, a word counted once per use; a token the texts never use
    takes the words of its own text."""
    special = set(student_tokenizer.all_special_ids)
    spans = [words(t) for t in texts]
    alone = {i: words(student_tokenizer.decode([i])) for i in range(vocab) if i not in special}
    index, table = lookup({w for text in spans for w, *_ in text} | {w for ws in alone.values() for w, *_ in ws})
    table = torch.from_numpy(table).double()
    sums, counts = torch.zeros(vocab, table.shape[1], dtype=torch.float64), torch.zeros(vocab)
    enc = student_tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)  # one batched call
    for ws, ids, offsets in zip(spans, enc["input_ids"], enc["offset_mapping"]):
        ws = [(index[w], a, b) for w, a, b in ws if w in index]
        for token, (a, b) in zip(ids, offsets):
            over = [row for row, c, d in ws if c < b and a < d]
            if over and token not in special:
                sums[token] += table[over].mean(0)
                counts[token] += 1
    found = counts > 0
    rows = (sums / counts.clamp(min=1)[:, None]).float()
    for i, ws in alone.items():
        known = [index[w] for w, *_ in ws if w in index]
        if not found[i] and known:
            rows[i], found[i] = table[known].mean(0).float(), True
    return rows, found


def side_by_side(parts: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Row blocks joined column-wise, each at unit mean norm over its found rows (a row a part lacks is zeros there);
    a row is found when any part found it."""
    blocks = []
    for rows, found in parts:
        rows = torch.where(found[:, None], rows, torch.zeros_like(rows))
        blocks.append(rows / rows[found].norm(dim=1).mean())
    return torch.cat(blocks, dim=1), torch.stack([found for _, found in parts]).any(0)


@torch.no_grad()
def contextual(student_tokenizer, student_embeddings: torch.Tensor, teacher_lm, teacher_tokenizer, texts: list[str],
               layer: int, batch_size: int = 64, bf16: bool = False,
               on_batch: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """(student vocab, student width): the teacher's layer-`layer` states averaged over each student token's occurrences."""
    rows, found = contextual_rows(student_tokenizer, len(student_embeddings), teacher_lm, teacher_tokenizer, texts, layer,
                                  batch_size, bf16, on_batch)
    return projected(rows, found, student_embeddings)


@torch.no_grad()
def contextual_rows(student_tokenizer, vocab: int, teacher_lm, teacher_tokenizer, texts: list[str], layer: int,
                    batch_size: int = 64, bf16: bool = False,
                    on_batch: Callable[[int, int], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(vocab, teacher hidden) fp32 and which rows were found: each token's mean teacher state, before projection."""
    special = set(student_tokenizer.all_special_ids)
    sums, counts = torch.zeros(vocab, teacher_lm.config.hidden_size, dtype=torch.float64), torch.zeros(vocab)
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        student = student_tokenizer(chunk, add_special_tokens=False, return_offsets_mapping=True)
        states, spans = _states(teacher_lm, teacher_tokenizer, chunk, layer, bf16)
        for k in range(len(chunk)):
            teacher_spans = spans[k]
            for token, (a, b) in zip(student["input_ids"][k], student["offset_mapping"][k]):
                over = [j for j, (c, d) in enumerate(teacher_spans) if c < b and a < d]
                if over and token not in special:
                    sums[token] += states[k, over].double().mean(0)
                    counts[token] += 1
        if on_batch is not None:
            on_batch(min(start + batch_size, len(texts)), len(texts))
    found = counts > 0
    rows = (sums / counts.clamp(min=1)[:, None]).float()
    alone = [i for i in range(vocab) if not found[i] and i not in special and student_tokenizer.decode([i]).strip()]
    for start in range(0, len(alone), batch_size):  # tokens the texts never use: read alone
        ids = alone[start : start + batch_size]
        states, spans = _states(teacher_lm, teacher_tokenizer, [student_tokenizer.decode([i]) for i in ids], layer, bf16)
        for k, i in enumerate(ids):
            if spans[k]:
                rows[i], found[i] = states[k, : len(spans[k])].mean(0), True
    return rows, found


def _states(teacher_lm, teacher_tokenizer, texts: list[str], layer: int, bf16: bool):
    """The teacher's hidden states at `layer` (batch, tokens, hidden) fp32, and each text's token character spans."""
    if teacher_tokenizer.pad_token_id is None:  # padding needs a token: set on a copy, the caller's stays as it was
        teacher_tokenizer = copy.deepcopy(teacher_tokenizer)
        teacher_tokenizer.pad_token = teacher_tokenizer.eos_token
    enc = teacher_tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, padding=True,
                            padding_side="right", return_tensors="pt")  # positions as when each text is read alone
    spans = [[(int(a), int(b)) for (a, b), m in zip(offsets, mask) if m] for offsets, mask in
             zip(enc["offset_mapping"], enc["attention_mask"])]
    backbone = getattr(teacher_lm, teacher_lm.base_model_prefix)
    layers = backbone.layers
    # the residual stream entering layer `layer` (or the final norm): read by a hook, the layers above never run
    reader = layers[layer] if layer < len(layers) else backbone.norm
    seen = {}

    def read(module, args, kwargs):
        seen["h"] = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]

    handle = reader.register_forward_pre_hook(read, with_kwargs=True)
    backbone.layers = layers[: layer + 1]
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            backbone(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    finally:
        backbone.layers = layers
        handle.remove()
    return seen["h"].float(), spans


def projected(rows: torch.Tensor, found: torch.Tensor, student_embeddings: torch.Tensor) -> torch.Tensor:
    """The found rows on their top principal directions (the student's width), at the student's mean row norm."""
    width = student_embeddings.shape[1]
    centred = rows[found] - rows[found].mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)  # principal directions of the teacher's rows
    low = centred @ v[:width].T
    own = student_embeddings.float()
    out = own.clone()
    out[found] = low * (own[found].norm(dim=1).mean() / low.norm(dim=1).mean())
    return out.to(student_embeddings.dtype)
