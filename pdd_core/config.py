"""Configuration records <-> plain dicts (JSON/TOML) through one ``cattrs`` converter.

Every settings object of the framework (grids, systems, schemes) is a frozen ``attrs``
class, so a whole pipeline can be written to and rebuilt from a file. ``to_dict`` /
``from_dict`` round-trip exactly; ``tagged`` adds the registry name so a record can be
rebuilt without knowing its class in advance, and a field annotated ``registered(REGISTRY)``
holds the part itself while its file form is that tagged table.
"""

from __future__ import annotations

from typing import Any, TypeVar

import cattrs

from pdd_core.errors import ConfigError, PDDError, bad_argument
from pdd_core.registry import Registry

T = TypeVar("T")

converter = cattrs.Converter(forbid_extra_keys=True)


# Strict scalars: cattrs would call bool("False") (True), int(2.5) (2) and float(True) (1.0), so a
# mistyped setting silently became another one. A bool must be a bool, an int an int (not a bool),
# a float any real number (not a bool).
def _structure_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected true or false, got {value!r}")


def _structure_int(value: Any, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected an integer, got {value!r}")


def _structure_float(value: Any, _: type) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a number, got {value!r}")


converter.register_structure_hook(bool, _structure_bool)
converter.register_structure_hook(int, _structure_int)
converter.register_structure_hook(float, _structure_float)


def to_dict(record: Any) -> dict[str, Any]:
    """Unstructure a configuration record into JSON/TOML-ready builtins."""
    return converter.unstructure(record)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Structure ``data`` into ``cls``; errors name the offending keys and the fix."""
    try:
        return converter.structure(data, cls)
    except cattrs.BaseValidationError as error:
        own = _own_error(error)
        if own is not None:  # our validators already say what is wrong and how to fix it
            raise ConfigError(str(own)) from None
        details = "; ".join(cattrs.transform_error(error))
        raise bad_argument(cls.__name__, data, f"cannot be structured ({details})", f"pass the fields of {cls.__name__} with valid values", kind=ConfigError) from None
    except (TypeError, ValueError) as error:
        raise bad_argument(cls.__name__, data, f"cannot be structured ({error})", f"pass the fields of {cls.__name__} with valid values", kind=ConfigError) from None


def _own_error(error: BaseException) -> PDDError | None:
    """The first project error inside a (nested) cattrs validation error, if any."""
    if isinstance(error, PDDError):
        return error
    for inner in getattr(error, "exceptions", ()):
        found = _own_error(inner)
        if found is not None:
            return found
    return None


def tagged(record: Any, registry: Registry) -> dict[str, Any]:
    """``{"name": <registry name>, **fields}``: a record that rebuilds itself by name."""
    return {"name": registry.name_of(type(record)), **to_dict(record)}


def from_tagged(data: dict[str, Any], registry: Registry) -> Any:
    """Inverse of :func:`tagged`."""
    if not isinstance(data, dict) or "name" not in data:
        raise bad_argument("config", data, f"a tagged {registry.kind[:-1]} config needs a 'name' key", f"add name = one of {registry.names()}", kind=ConfigError)
    fields = {key: value for key, value in data.items() if key != "name"}
    return from_dict(registry.get(data["name"]), fields)


def registered(registry: Registry) -> type:
    """The annotation of a config field that holds any part of ``registry`` as an object.

    The field's value is the part itself (e.g. a ``Carosso``); in a file it is the tagged table
    ``{name = "carosso", alpha = 0.1}``, so the registry turns the string into the object at the
    config boundary (an open tagged union: plug-ins extend it by registering).
    """
    marker = type(f"Registered{registry.kind.title()}", (), {"__doc__": f"Any registered {registry.kind[:-1]}, stored tagged."})

    def structure(value: Any, _: type) -> Any:
        return value if not isinstance(value, dict) else from_tagged(value, registry)

    converter.register_structure_hook(marker, structure)
    converter.register_unstructure_hook(marker, lambda part: tagged(part, registry))
    return marker
