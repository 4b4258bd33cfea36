"""Construction-time checks of physical parameters.

Checks run only on concrete values: when JAX rebuilds a module with tracers (inside ``jit`` or
``grad``) the values are not known and the check is skipped, which is what we want, because the
module was already checked when the user built it.
"""

from __future__ import annotations

import jax
import numpy as np


def _concrete(value):
    leaves = jax.tree_util.tree_leaves(value)
    if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
        return None
    return np.asarray(value)


def require_positive(owner: str, name: str, value, unit: str = "") -> None:
    """Raise ``ValueError`` naming ``owner.name`` if any concrete entry of ``value`` is <= 0."""
    arr = _concrete(value)
    if arr is None:
        return
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{owner}: {name} must be finite, got {arr}{unit}.")
    if np.any(arr <= 0):
        raise ValueError(
            f"{owner}: {name} must be > 0, got {arr}{(' ' + unit) if unit else ''}. "
            f"A non-positive {name} is not a physical device; pass a positive value in SI units."
        )


def require_less(owner: str, small: str, small_value, large: str, large_value, unit: str = "") -> None:
    """Raise ``ValueError`` if not ``small_value < large_value`` (elementwise, concrete values only)."""
    a, b = _concrete(small_value), _concrete(large_value)
    if a is None or b is None:
        return
    if np.any(a >= b):
        raise ValueError(
            f"{owner}: {small} ({a}{(' ' + unit) if unit else ''}) must be smaller than {large} "
            f"({b}{(' ' + unit) if unit else ''})."
        )


def require_in_range(owner: str, name: str, value, low: float, high: float) -> None:
    """Raise ``ValueError`` if a concrete ``value`` lies outside ``[low, high]``."""
    arr = _concrete(value)
    if arr is None:
        return
    if np.any(arr < low) or np.any(arr > high) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{owner}: {name} must lie in [{low}, {high}], got {arr}.")


def require_resistance_range(owner: str, R_on, R_off) -> None:
    """The checks every memristor needs: ``0 < R_on < R_off`` (Ohm)."""
    require_positive(owner, "R_on", R_on, "Ohm")
    require_positive(owner, "R_off", R_off, "Ohm")
    require_less(owner, "R_on", R_on, "R_off", R_off, "Ohm")


def check_setting(owner: str, name: str, value, *, low: float | None = None, high: float | None = None,
                  low_open: bool = False, integer: bool = False, allow_none: bool = False, hint: str = ""):
    """Check a numeric setting (a training option, not a device parameter) and return it.

    Args:
        owner: who checks, for the message (e.g. ``"train"``); ``""`` for none.
        name: the setting's name as the caller knows it (``"lr"``, ``"--lr"``).
        value: the value given.
        low, high: the allowed range; ``low_open`` makes the lower bound exclusive.
        integer: the value must be a whole number (``bool`` is not accepted).
        allow_none: ``None`` means "off" or "default" and is accepted.
        hint: appended to the message (what the setting does, typical values).

    Raises:
        ValueError: the value is not a finite number in range; the message says what is allowed.
    """
    if value is None and allow_none:
        return value
    kind = "an integer" if integer else "a number"

    def fmt(bound):
        return str(int(bound)) if integer and float(bound).is_integer() else f"{bound:g}"

    if low is not None and high is not None:
        rule = f"{kind} in {'(' if low_open else '['}{fmt(low)}, {fmt(high)}]"
    elif low is not None:
        rule = f"{kind} {'>' if low_open else '>='} {fmt(low)}"
    else:
        rule = f"{kind} <= {fmt(high)}" if high is not None else kind
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if ok and integer:
        ok = float(value).is_integer()
    if ok:
        number = float(value)
        ok = (np.isfinite(number) and (low is None or (number > low if low_open else number >= low))
              and (high is None or number <= high))
    if not ok:
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}{name} must be {rule}, got {value!r}{'; ' + hint if hint else ''}.")
    return int(value) if integer else value
