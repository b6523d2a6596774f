"""Reading YAML and validating it into typed schemas (pydantic v2): every error is one line naming the key.

A schema is a `Schema` subclass: unknown keys are refused (`extra="forbid"`), types are strict (a
bool is not an int, a string is not a number), and a field's own rules are validators that raise
`ValueError` with the words the user reads. `build` turns pydantic's first error into one
`SpecError` line, `<file>.<key path>: <what is wrong>`, before anything trains. A validator that
names a key below the one it checks starts its message with `.key: `.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from exaone_bench.core.validate import SpecError

S = TypeVar("S", bound="Schema")


class Schema(BaseModel):
    """A block of YAML the user writes: strict types, no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=False)


def read_yaml(path: str | Path) -> Any:
    """A YAML file's content (safe loader); unreadable or malformed files name themselves."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise SpecError(f"{path}: cannot be read ({e.strerror or type(e).__name__})") from e
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise SpecError(f"{path}: is not valid YAML ({at}{getattr(e, 'problem', None) or ' '.join(str(e).split())})") from e


def build(cls: type[S], raw: Any, where: str) -> S:
    """Validate `raw` (a mapping, or None for every default) as `cls`; the first error becomes one SpecError line."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected a mapping, got {type(raw).__name__} {raw!r}")
    try:
        return cls.model_validate(raw)
    except ValidationError as e:
        raise SpecError(_one_line(cls, e, where)) from None


def _path(where: str, loc: tuple) -> str:
    out = where
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _fields_at(cls: type[BaseModel], loc: tuple) -> list[str]:
    """The keys a schema allows at `loc` (the parent of an unknown key)."""
    model = cls
    for part in loc:
        if isinstance(part, int):
            continue
        ann = model.model_fields[part].annotation
        args = getattr(ann, "__args__", ())
        model = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return sorted(name for name, field in model.model_fields.items() if not field.exclude)  # `path` is ours, not a key


MESSAGES = {
    "int_type": "expected an integer, got {input!r}",
    "bool_type": "expected true or false, got {input!r}",
    "float_type": "expected a number, got {input!r}",
    "string_type": "expected a string, got {input!r}",
    "list_type": "expected a list, got {input!r}",
    "dict_type": "expected a mapping, got {input!r}",
    "model_type": "expected a mapping, got {input!r}",
    "missing": "missing required key",
    "greater_than_equal": "{input!r} is out of range (at least {ge})",
    "less_than_equal": "{input!r} is out of range (at most {le})",
}


def _one_line(cls: type[BaseModel], error: ValidationError, where: str) -> str:
    errors = error.errors()
    e = next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])  # a misspelt key explains the rest
    loc, kind = tuple(e["loc"]), e["type"]
    if kind == "extra_forbidden":
        parent = loc[:-1]
        unknown = sorted(str(x["loc"][-1]) for x in error.errors()
                         if x["type"] == "extra_forbidden" and tuple(x["loc"][:-1]) == parent)
        return f"{_path(where, parent)}: unknown key(s) {unknown}; allowed: {_fields_at(cls, parent)}"
    if kind == "value_error":  # a validator's own words; ".key: ..." names a key below the one validated
        text = str(e["ctx"]["error"])
        return f"{_path(where, loc)}{text}" if text.startswith(".") else f"{_path(where, loc)}: {text}"
    if kind == "literal_error":
        expected = e["ctx"]["expected"].replace("'", "").replace(" or ", ", ")
        return f"{_path(where, loc)}: {e['input']!r} is not one of {expected}"
    if kind in MESSAGES:
        return f"{_path(where, loc)}: {MESSAGES[kind].format(input=e.get('input'), **e.get('ctx', {}))}"
    return f"{_path(where, loc)}: {e['msg']} (got {e.get('input')!r})"
