"""Name -> part registries: where names from the edge become objects.

The core never looks a part up by a literal name (tests/test_architecture.py): names come from
the edge (command-line flags, config files, the system named in a dataset file) and the
applications turn them into parts here. ``SYSTEMS``, ``SCHEMES`` and ``INTEGRATORS`` hold
classes; ``SAMPLERS`` holds :class:`pdd_core.sampler_recipe.SamplerRecipe` objects (how
``--sampler NAME`` is built from the command-line options); ``METRICS`` holds
:class:`pdd_core.metrics.metric.Metric` objects (what ``pdd evaluate`` computes beside its
built-in metrics); ``OBJECTIVES`` holds the objective records' classes
(:class:`pdd_core.training.objective_config.ObjectiveConfig`). A plug-in adds parts by calling ``register`` or by exposing an entry point in
the group ``pdd.<kind>`` (e.g. ``pdd.samplers``) that points at the entry; the built-in parts are
entry points too (pyproject.toml), so a registry is complete in a fresh interpreter
(docs/guide.md, "Plug-ins").
"""

from __future__ import annotations

from importlib import metadata
from typing import Callable, TypeVar

from pdd_core.errors import ConfigError, bad_argument

T = TypeVar("T")


class Registry:
    """A named collection of parts of one kind (classes of systems, schemes, integrators; sampler recipes; metrics)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, type] = {}
        self._plugins_loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator (or call on an object): ``@SCHEMES.register("carosso")``, ``SAMPLERS.register("pc")(recipe)``."""

        def decorate(cls: T) -> T:
            existing = self._entries.get(name)
            if existing is not None and existing is not cls:
                raise bad_argument("name", name, f"a {self.kind} with this name is already registered ({_label(existing)})", "choose another name", kind=ConfigError)
            self._entries[name] = cls
            return cls

        return decorate

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for entry in metadata.entry_points(group=f"pdd.{self.kind}"):
            self._entries.setdefault(entry.name, _load(entry))

    def get(self, name: str):
        """The class registered as ``name``; a clear error lists the known names otherwise."""
        self._load_plugins()
        if name not in self._entries:
            raise bad_argument(self.kind[:-1] if self.kind.endswith("s") else self.kind, name, f"unknown {self.kind[:-1]}", f"use one of {sorted(self._entries)}", kind=ConfigError)
        return self._entries[name]

    def name_of(self, cls: type) -> str:
        """The registered name of ``cls``."""
        self._load_plugins()
        for name, entry in self._entries.items():
            if entry is cls:
                return name
        raise bad_argument("cls", _label(cls), f"not a registered {self.kind[:-1]}", f"decorate it with @{self.kind.upper()}.register(name)", kind=ConfigError)

    def has(self, cls: type) -> bool:
        """Whether ``cls`` is registered (under any name)."""
        self._load_plugins()
        return any(entry is cls for entry in self._entries.values())

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._entries)


def _load(entry: metadata.EntryPoint):
    """The object an entry point names; a plug-in that fails to import is named in one line."""
    try:
        return entry.load()
    except Exception as error:  # any failure of someone else's import: say which entry point and why
        where = f"{entry.group}: {entry.name} = {entry.value}"
        raise bad_argument("entry point", where, f"cannot be loaded ({type(error).__name__}: {error})", "fix or uninstall the package that declares it", kind=ConfigError) from None


def _label(entry) -> str:
    return getattr(entry, "__qualname__", type(entry).__qualname__)


SYSTEMS = Registry("systems")
SCHEMES = Registry("schemes")
SAMPLERS = Registry("samplers")
INTEGRATORS = Registry("integrators")
METRICS = Registry("metrics")
OBJECTIVES = Registry("objectives")
