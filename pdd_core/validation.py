"""Argument checks shared by every entry point, so bad input fails early and clearly."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pdd_core.errors import DTypeError, ShapeError, bad_argument

if TYPE_CHECKING:
    from pdd_core.grid import Grid

FLOAT_DTYPES = (torch.float32, torch.float64)


def check_field(u: torch.Tensor, grid: "Grid", name: str = "u", *, leading: int = 2) -> None:
    """Require a finite float32/float64 tensor shaped ``[*lead, C, *grid.shape]``.

    ``leading`` is the number of axes before the channel axis (2 for ``[B, T, C, ...]``).
    """
    if not isinstance(u, torch.Tensor):
        raise bad_argument(name, type(u).__name__, "expected a torch.Tensor", "wrap arrays with torch.as_tensor(...)", kind=DTypeError)
    if u.dtype not in FLOAT_DTYPES:
        raise bad_argument(f"{name}.dtype", u.dtype, "only float32 and float64 fields are supported", f"call {name}.float() or {name}.double()", kind=DTypeError)
    expected = leading + 1 + grid.ndim
    layout = "[B, T, C, *space]" if leading == 2 else f"[{leading} leading axes, C, *space]"
    if u.ndim != expected or tuple(u.shape[leading + 1 :]) != grid.shape or u.shape[leading] != grid.channels:
        raise bad_argument(
            f"{name}.shape",
            tuple(u.shape),
            f"expected {layout} with C={grid.channels} and space={grid.shape}",
            "reshape the tensor or build the Grid that matches the data",
            kind=ShapeError,
        )
    if not bool(torch.isfinite(u).all()):
        raise bad_argument(name, "tensor with NaN/inf", "fields must be finite", "check the data or the step that produced it")


def as_lambda(lam, batch: int, name: str = "lam", *, device: torch.device | None = None) -> torch.Tensor:
    """Return λ as a float64 tensor ``[batch]`` after checking it is finite and >= 0.

    A Python number or 0-d tensor is broadcast to every sample; a 1-d tensor must have one
    entry per sample.
    """
    if isinstance(lam, torch.Tensor) and lam.is_complex():
        raise bad_argument(name, lam, "λ must be real", "pass real diffusion scales", kind=DTypeError)
    try:
        values = torch.as_tensor(lam, dtype=torch.float64, device=device)
    except (TypeError, ValueError, RuntimeError) as error:
        raise bad_argument(name, lam, f"not convertible to a float tensor ({error})", "pass a float or a 1-d tensor with one λ per sample", kind=DTypeError) from None
    if values.ndim == 0:
        values = values.expand(batch)
    elif values.ndim != 1 or values.shape[0] != batch:
        raise bad_argument(f"{name}.shape", tuple(values.shape), f"expected a scalar or one λ per sample ([{batch}])", "pass a float or a tensor shaped [B]", kind=ShapeError)
    if not bool(torch.isfinite(values).all()):
        raise bad_argument(name, lam, "λ must be finite", "remove NaN/inf diffusion scales")
    if bool((values < 0).any()):
        raise bad_argument(name, lam, "diffusion scales λ must be >= 0", "pass λ in [0, λ_max]")
    return values.contiguous()


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    """Require a finite real number > 0 (or >= 0 when ``allow_zero``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and abs(value) != float("inf")
    if ok:
        ok = value >= 0 if allow_zero else value > 0
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise bad_argument(name, value, f"must be a finite number {bound}", f"pass {name} {bound}")


def positive(instance, attribute, value) -> None:
    """attrs validator: a finite real number > 0, named by its field."""
    check_positive(attribute.name, value)


def non_negative(instance, attribute, value) -> None:
    """attrs validator: a finite real number >= 0, named by its field."""
    check_positive(attribute.name, value, allow_zero=True)


def check_count(name: str, value: Any, minimum: int, fix: str | None = None) -> int:
    """An integer (Python or NumPy, never a bool) >= ``minimum``, returned as an int."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise bad_argument(name, value, f"must be an integer >= {minimum}", fix or f"pass {name}={minimum} or more")
    return int(value)


def at_least(minimum: int):
    """attrs validator: an integer >= ``minimum``, named by its field."""

    def check(instance, attribute, value) -> None:
        check_count(attribute.name, value, minimum)

    return check


def real_to_float(value: Any) -> Any:
    """attrs converter: a real number (Python or NumPy, never a bool) becomes a float, so configs
    compare and serialise alike; anything else is left for the validator to refuse."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    return value


def finite_float(instance, attribute, value) -> None:
    """attrs validator: a finite float (after :func:`real_to_float`), named by its field."""
    if not isinstance(value, float) or value != value or abs(value) == float("inf"):
        raise bad_argument(attribute.name, value, "must be a finite real number", f"pass a float, e.g. {attribute.name}={attribute.default}")


def check_generator(generator, name: str = "generator") -> torch.Generator:
    """Randomness is always explicit: require a ``torch.Generator``."""
    if not isinstance(generator, torch.Generator):
        raise bad_argument(name, generator, "randomness must come from an explicit torch.Generator", "pass generator=torch.Generator().manual_seed(seed)", kind=DTypeError)
    return generator


# Seeds feed numpy SeedSequence, torch.manual_seed and int64 HDF5 attributes: all hold [0, 2^63).
SEED_LIMIT = 2**63


def check_seed(value, name: str = "seed") -> int:
    """A seed in [0, 2^63), else a clear error before any work is done (a larger one overflows later)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < SEED_LIMIT:
        raise bad_argument(name, value, "must be an integer in [0, 2^63)", f"pass e.g. {name} 0")
    return value
