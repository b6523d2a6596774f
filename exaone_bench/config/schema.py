"""Reading YAML and building typed schemas from it: unknown keys and wrong values fail naming the key."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from exaone_bench.core.validate import SpecError, check_keys


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def read_yaml(path: str | Path) -> Any:
    """A YAML file's content (safe loader); unreadable or malformed files name themselves."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise SpecError(f"{path}: cannot be read as YAML ({e})") from e


def _build(cls, raw: Any, where: str):
    """Instantiate a dataclass from a mapping: unknown keys and wrong types fail with the key named."""
    if raw is None:
        raw = {}
    check_keys(raw, [f.name for f in dataclasses.fields(cls)], where)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        value = raw[f.name]
        sub = f.metadata.get("schema")
        if sub is not None:
            value = _build(sub, value, f"{where}.{f.name}")
        kwargs[f.name] = value
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if check is not None:
        check(where)
    return obj


def _nested(cls):
    return dataclasses.field(default_factory=cls, metadata={"schema": cls})


def _build_list(cls, raw: Any, where: str) -> list:
    """A YAML list of mappings, each built as `cls` (already-built items pass through)."""
    if not isinstance(raw, list):
        raise SpecError(f"{where}: expected a list, got {raw!r}")
    return [item if isinstance(item, cls) else _build(cls, item, f"{where}[{i}]") for i, item in enumerate(raw)]
