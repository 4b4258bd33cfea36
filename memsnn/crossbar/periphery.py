"""Crossbar periphery: the input DAC (activity to read voltages) and the output ADC (docs/crossbar.md).

Both quantise with straight-through gradients: the forward pass rounds, the backward pass uses the
gradient of the unrounded (clipped) value, as in quantisation-aware training. Clipping itself has
its true gradient (zero outside the range).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = ["DAC", "ADC"]


def _round_straight_through(x):
    return x + jax.lax.stop_gradient(jnp.round(x) - x)


def _check_bits(owner: str, bits):
    if bits is None:
        return None
    if isinstance(bits, bool) or not float(bits).is_integer() or not 1 <= int(bits) <= 32:
        raise ValueError(f"{owner}: bits must be an integer in [1, 32] or None (no quantisation), got {bits!r}.")
    return int(bits)


class DAC(eqx.Module):
    """Input activity ``x`` to read voltages: ``v = v_read clip(x / x_max, 0, 1)`` (``signed``:
    ``clip(x / x_max, -1, 1)``), on ``2^bits - 1`` equal steps when ``bits`` is given (``signed``:
    ``2^(bits-1) - 1`` steps per polarity).

    Spikes (``x`` in {0, 1}) are read at ``v_read`` exactly.

    Attributes:
        bits: resolution, or ``None`` for an ideal (continuous) DAC.
        v_read: read voltage (V) of full-scale activity, > 0.
        x_max: the activity mapped to ``v_read`` (> 0).
        signed: whether negative activity is driven as negative voltage.
    """

    bits: int | None = eqx.field(static=True)
    v_read: float = eqx.field(static=True)
    x_max: float = eqx.field(static=True)
    signed: bool = eqx.field(static=True)

    def __init__(self, bits: int | None = None, v_read: float = 0.2, *, x_max: float = 1.0, signed: bool = False):
        self.bits = _check_bits("DAC", bits)
        self.v_read, self.x_max, self.signed = float(v_read), float(x_max), bool(signed)
        if not (math.isfinite(self.v_read) and self.v_read > 0):
            raise ValueError(f"DAC: v_read must be > 0 V, got {v_read!r}.")
        if not (math.isfinite(self.x_max) and self.x_max > 0):
            raise ValueError(f"DAC: x_max must be > 0, got {x_max!r}.")

    def __call__(self, x: Float[Array, "..."]) -> Float[Array, "..."]:
        """Voltages (V), same shape as ``x``."""
        u = jnp.clip(x / self.x_max, -1.0 if self.signed else 0.0, 1.0)
        if self.bits is not None:
            steps = 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1
            if steps < 1:
                raise ValueError("DAC: a signed DAC needs bits >= 2 (one bit is the sign).")
            u = _round_straight_through(u * steps) / steps
        return self.v_read * u


class ADC(eqx.Module):
    """Output currents to digital values: clip to ``[-i_range, i_range]`` (A) and round to
    ``2^bits`` equal levels across it (the step is ``2 i_range / (2^bits - 1)``).

    ``i_range=None`` uses the full scale the caller passes (a crossbar passes the largest current
    its tile can produce, ``n_rows v_read (g_max - g_min)``).

    Attributes:
        bits: resolution, or ``None`` (no rounding; with ``i_range`` the ADC still clips).
        i_range: full-scale current (A), or ``None`` (the caller's full scale).
    """

    bits: int | None = eqx.field(static=True)
    i_range: float | None = eqx.field(static=True)

    def __init__(self, bits: int | None = None, i_range: float | None = None):
        self.bits = _check_bits("ADC", bits)
        if i_range is not None:
            i_range = float(i_range)
            if not (math.isfinite(i_range) and i_range > 0):
                raise ValueError(f"ADC: i_range must be > 0 A (or None), got {i_range!r}.")
        self.i_range = i_range

    @property
    def ideal(self) -> bool:
        return self.bits is None and self.i_range is None

    def __call__(self, current: Float[Array, "..."], full_scale: float | None = None) -> Float[Array, "..."]:
        """The converted currents (A), same shape; ``full_scale`` (A) is used when ``i_range`` is None."""
        if self.ideal:
            return current
        i_range = self.i_range if self.i_range is not None else full_scale
        if i_range is None:
            raise ValueError("ADC: no current range: give ADC(i_range=...) in A, or use it inside a Crossbar, "
                             "which passes its full-scale current.")
        clipped = jnp.clip(current, -i_range, i_range)
        if self.bits is None:
            return clipped
        step = 2.0 * i_range / (2**self.bits - 1)
        # Levels at -i_range + m step, m = 0 .. 2^bits - 1.
        return _round_straight_through((clipped + i_range) / step) * step - i_range
