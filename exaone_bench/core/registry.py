"""One registry type for every kind of plugin: name -> object, found on first use, entry points included.

Strategies, post-training transforms and importance scores are each a `Registry`. Module plugins
are found, not listed: every module of `package` that declares `NAME`, then every module an
installed distribution names under the entry-point group `group`. Object plugins (scores) are
added by the `register` decorator where they are defined. `refresh()` looks again.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any, Callable, Iterator


class Registry(Mapping):
    """A read-only mapping name -> plugin of one `kind` (the word its errors use)."""

    def __init__(self, kind: str, package: str | None = None, group: str | None = None,
                 validate: Callable[[Any], Any] | None = None):
        self.kind, self.package, self.group, self.validate = kind, package, group, validate
        self._registered: dict[str, Any] = {}
        self._found: dict[str, Any] | None = None

    def register(self, name: str, plugin: Any) -> Any:
        """Add an object plugin under `name` (a score, from its decorator); returns it unchanged."""
        if name in self._registered:
            raise TypeError(f"two {self.kind}s are named {name!r}")
        self._registered[name] = plugin
        self._found = None
        return plugin

    def _discover(self) -> dict[str, Any]:
        found = dict(self._registered)
        modules = []
        if self.package is not None:
            pkg = importlib.import_module(self.package)
            local = [importlib.import_module(f"{self.package}.{m.name}") for m in pkgutil.iter_modules(pkg.__path__)]
            modules += [m for m in local if hasattr(m, "NAME")]  # the rest are shared helpers
        if self.group is not None:
            modules += [ep.load() for ep in entry_points(group=self.group)]
        for module in modules:
            if self.validate is not None:
                self.validate(module)
            if module.NAME in found and found[module.NAME] is not module:
                raise TypeError(f"two {self.kind}s are named {module.NAME!r}: "
                                f"{getattr(found[module.NAME], '__name__', found[module.NAME])}, {module.__name__}")
            found[module.NAME] = module
        return found

    @property
    def found(self) -> dict[str, Any]:
        if self._found is None:
            self._found = self._discover()
        return self._found

    def refresh(self) -> None:
        self._found = None

    def __getitem__(self, name: str) -> Any:
        return self.found[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.found)

    def __len__(self) -> int:
        return len(self.found)
