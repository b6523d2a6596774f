"""Where exaone-tiny's checkpoint lives: shipped with the package and verified, or built here and cached.

A shipped checkpoint (checkpoints/<name>/, checksummed) is verified instead of pretrained; otherwise
the checkpoint is built once (pretrain.py) under data/models/<name>/, keyed by a hash of its recipe.
`ship` copies one built here into the package, the only way a checkpoint gets there.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path

from exaone_bench.base_models.exaone_tiny.pretrain import build, resume_dir
from exaone_bench.base_models.exaone_tiny.recipe import DEFAULT, Recipe
from exaone_bench.core.cache import atomic_dir, verify_checksums, write_checksums
from exaone_bench.core.paths import models_dir

SHIPPED = Path(__file__).parent / "checkpoints"  # committed checkpoints, one folder per recipe name


def shipped_dir(recipe: Recipe = DEFAULT) -> Path:
    return SHIPPED / recipe.name


def shipped_meta(recipe: Recipe = DEFAULT) -> dict | None:
    """run_meta.json of the committed checkpoint of exactly this recipe, else None.

    A shipped checkpoint whose files fail their checksums is an error, never a silent rebuild:
    the suite's numbers are meant to come from those very weights.
    """
    return checkpoint_meta(shipped_dir(recipe), recipe, corrupt_is_error=True)


def checkpoint_meta(directory: Path, recipe: Recipe, corrupt_is_error: bool = False) -> dict | None:
    """run_meta.json of the checkpoint in `directory` if it was built from `recipe` and its checksums hold."""
    meta_path = directory / "run_meta.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("recipe_hash") != recipe.hash:
        return None
    if not verify_checksums(directory):
        if corrupt_is_error:
            raise RuntimeError(f"{directory}: files do not match checksums.json; restore them with git "
                               "(git checkout -- that folder) or rebuild with `exaone-bench reference --rebuild`")
        return None
    return meta


def read_meta(directory: Path) -> dict:
    """run_meta.json of a checkpoint `ensure_reference` has just verified (not hashed again)."""
    return json.loads((directory / "run_meta.json").read_text())


def weights_sha256(directory: Path) -> str:
    """model.safetensors's sha256 as checksums.json records it (read after `checkpoint_meta` verified it)."""
    return json.loads((directory / "checksums.json").read_text())["model.safetensors"]


def reference_dir(recipe: Recipe = DEFAULT) -> Path:
    """Where a checkpoint built on this machine lives (the shipped one stays in the package)."""
    return models_dir() / recipe.name


def cached_meta(recipe: Recipe = DEFAULT) -> dict | None:
    """run_meta.json of a verified checkpoint built here from exactly this recipe, else None."""
    return checkpoint_meta(reference_dir(recipe), recipe)


def ensure_reference(recipe: Recipe = DEFAULT, rebuild: bool = False, progress: bool = True, device: str = "cpu",
                     steps_per_piece: int | None = None) -> Path:
    """The checkpoint directory for `recipe`: the shipped one when it verifies, else one built here.

    `rebuild` pretrains from the recipe into data/models/<name> (resuming a paused run of the
    same recipe) even when a checkpoint is shipped; loading "exaone-tiny" still takes the shipped
    one, so that every machine compresses the same weights.
    """
    from filelock import FileLock

    if not rebuild and shipped_meta(recipe) is not None:
        return shipped_dir(recipe)
    out = reference_dir(recipe)
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if rebuild or cached_meta(recipe) is None:
            with atomic_dir(out) as tmp:
                build(recipe, tmp, progress, device, steps_per_piece)
            shutil.rmtree(resume_dir(recipe), ignore_errors=True)
    return out


def ship(directory: Path, recipe: Recipe = DEFAULT) -> Path:
    """Copy the checkpoint built in `directory` into the package as `recipe`'s shipped one (checkpoints/<name>/).

    The checkpoint may be a candidate built under its own name (`--set ...` builds exaone-tiny-<hash>):
    a recipe's name names folders and never reaches the weights, so a candidate whose every other field
    equals `recipe`'s ships as `recipe`, its run_meta.json keeping what it was built as (`built_as`).
    A checkpoint of another recipe, or one whose files fail their checksums, is refused.
    """
    directory = Path(directory)
    meta_path = directory / "run_meta.json"
    if not meta_path.is_file():
        raise ValueError(f"{directory}: no run_meta.json; not a checkpoint built by `exaone-bench reference`")
    meta = json.loads(meta_path.read_text())
    try:
        built = Recipe(**{**meta["recipe"], "extra_corpus": tuple(meta["recipe"]["extra_corpus"])})
    except TypeError as e:  # a field this version's Recipe lacks, or lacks one it has
        raise ValueError(f"{directory}: its run_meta.json recipe does not fit this version's Recipe ({e})") from e
    if checkpoint_meta(directory, built) is None:  # its recipe hash and checksums, as every verified checkpoint's
        raise ValueError(f"{directory}: its files do not match checksums.json or its recipe hash; rebuild it")
    if replace(built, name=recipe.name) != recipe:
        ours, theirs = asdict(recipe), asdict(built)
        differ = ", ".join(f"{k} {theirs[k]!r} (recipe: {ours[k]!r})" for k in ours if k != "name" and ours[k] != theirs[k])
        raise ValueError(f"{directory}: built from another recipe than {recipe.name}'s: {differ}")
    with atomic_dir(shipped_dir(recipe)) as tmp:
        for f in sorted(directory.iterdir()):
            if f.is_file() and f.name != "checksums.json":
                shutil.copyfile(f, tmp / f.name)
        if built.name != recipe.name:
            meta.update(recipe=asdict(recipe), recipe_hash=recipe.hash,
                        built_as={"name": built.name, "recipe_hash": built.hash})
            (tmp / "run_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        write_checksums(tmp, sorted(p.name for p in tmp.iterdir() if p.is_file()))
    return shipped_dir(recipe)
