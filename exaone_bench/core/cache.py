"""On-disk cache primitives: content hashes, checksums and atomic directory writes."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so large checkpoints never sit in memory."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def stable_hash(obj: Any, length: int = 12) -> str:
    """Short hash of a JSON-able object with sorted keys: the key of every cache entry."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp dir beside `final`; rename it into place only if the block succeeds.

    An interrupted build leaves at most a stray `.tmp-*` folder, never a half-written `final`.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a file through a temp file beside it and a rename: readers see the old or the new, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_checksums(directory: Path, names: list[str], out: str = "checksums.json") -> dict[str, str]:
    """Record the sha256 of each named file in `directory/out` and return the mapping."""
    sums = {name: sha256_file(directory / name) for name in names}
    (directory / out).write_text(json.dumps(sums, indent=2, sort_keys=True) + "\n")
    return sums


def verify_checksums(directory: Path, out: str = "checksums.json") -> bool:
    """True when every file listed in `directory/out` exists with the recorded sha256."""
    listing = directory / out
    if not listing.is_file():
        return False
    try:
        sums = json.loads(listing.read_text())
    except json.JSONDecodeError:
        return False
    return all((directory / n).is_file() and sha256_file(directory / n) == s for n, s in sums.items())


def located(shipped_root: Path, cache_root: Path, name: str, local: bool = False) -> Path:
    """Where the one-time output `name` lives: its shipped copy when there is one (unless `local`: a rebuild
    here), else this machine's cache."""
    shipped = shipped_root / name
    return shipped if shipped.is_dir() and not local else cache_root / name


def shipped_or_built(directory: Path, shipped: bool, build: Callable[[], Any], rebuild: bool = False) -> Path:
    """`directory` checked against its checksums: a shipped one is never rebuilt (a mismatch is an error to
    restore with git); a cache one is built once, under a file lock shared by every process that needs it
    (`rebuild`: built again even when it checks out; the copy there is replaced only once the build succeeds)."""
    from filelock import FileLock

    if shipped:
        if rebuild:
            raise ValueError(f"{directory}: a shipped copy is never rebuilt in place; rebuild into the cache")
        if not verify_checksums(directory):
            raise RuntimeError(f"{directory}: files do not match checksums.json; restore them with git")
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(directory) + ".lock"):
        if rebuild or not verify_checksums(directory):  # the build writes through atomic_dir: the old copy stays until it succeeds
            build()
    return directory
