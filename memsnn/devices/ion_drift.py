"""The HP linear ion drift memristor (Strukov et al. 2008) and its window functions.

A thin film of thickness ``D`` has a doped, conducting layer of width ``w`` in series with an
undoped, insulating one; the boundary drifts with the current at the dopant mobility ``mu_v``.
The state is the normalized width ``x = w / D`` in [0, 1]. Window functions slow the drift near
the film edges and stop it there (Joglekar & Wolf 2009; Biolek, Biolek & Biolkova 2009).
"""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._validation import require_positive, require_resistance_range
from ._base import AbstractMemristor

WindowName = Literal["joglekar", "biolek", "none"]


def joglekar_window(x: Float[ArrayLike, "..."], p: int) -> Float[Array, "..."]:
    """Joglekar window ``1 - (2x - 1)^(2p)`` of a normalized state ``x`` in [0, 1]; zero at 0 and 1."""
    return 1.0 - (2.0 * jnp.asarray(x) - 1.0) ** (2 * p)


def biolek_window(x: Float[ArrayLike, "..."], current: Float[ArrayLike, "..."], p: int) -> Float[Array, "..."]:
    """Biolek window ``1 - (x - stp(-I))^(2p)``, ``stp`` the unit step (``stp(0) = 1``).

    It vanishes only at the edge the current drives towards (``x = 1`` for ``I > 0``, ``x = 0`` for
    ``I < 0``), so, unlike Joglekar's, it lets a device at an edge leave it when the current reverses.
    """
    step = jnp.where(jnp.asarray(current) <= 0, 1.0, 0.0)
    return 1.0 - (jnp.asarray(x) - step) ** (2 * p)


def _check_window(owner: str, window: str, p: int, allowed: tuple[str, ...]) -> None:
    if window not in allowed:
        raise ValueError(f"{owner}: window must be one of {allowed}, got {window!r}.")
    if not isinstance(p, int) or isinstance(p, bool) or p < 1:
        raise ValueError(f"{owner}: window exponent p must be an integer >= 1, got {p!r}.")


class LinearIonDrift(AbstractMemristor):
    """HP linear ion drift memristor.

    ``R(x) = R_on x + R_off (1 - x)``, ``I = V / R(x)``,
    ``dx/dt = (mu_v R_on / D^2) I f(x, I)`` with ``x = w / D`` in [0, 1].

    The window ``f`` is chosen by ``window``: ``"joglekar"`` (default) ``1 - (2x - 1)^(2p)``,
    ``"biolek"`` ``1 - (x - stp(-I))^(2p)``, or ``"none"`` (``f = 1``: the original model, with the
    drift cut to zero at an edge when the current pushes outwards). With a window the derivative
    vanishes at the edges, so explicit Euler with steps small against ``D^2 / (mu_v R_on |I|)``
    keeps ``x`` in [0, 1]; Joglekar's window also holds a device that reaches an edge exactly there.

    Defaults are Strukov et al.'s TiO2 device.

    Attributes:
        R_on: resistance of the fully doped film, ``x = 1`` (Ohm).
        R_off: resistance of the undoped film, ``x = 0`` (Ohm), larger than ``R_on``.
        mu_v: dopant mobility (m^2 / (V s)).
        D: film thickness (m).
        window: ``"joglekar"``, ``"biolek"`` or ``"none"`` (static).
        p: integer window exponent, >= 1 (static).
    """

    R_on: Float[Array, "..."]
    R_off: Float[Array, "..."]
    mu_v: Float[Array, "..."]
    D: Float[Array, "..."]
    window: WindowName = eqx.field(static=True)
    p: int = eqx.field(static=True)

    def __init__(self, R_on=100.0, R_off=16e3, mu_v=1e-14, D=10e-9, window: WindowName = "joglekar", p: int = 1):
        self.R_on = jnp.asarray(R_on, dtype=float)
        self.R_off = jnp.asarray(R_off, dtype=float)
        self.mu_v = jnp.asarray(mu_v, dtype=float)
        self.D = jnp.asarray(D, dtype=float)
        self.window = window
        self.p = p

    def __check_init__(self):
        name = type(self).__name__
        require_resistance_range(name, self.R_on, self.R_off)
        require_positive(name, "mu_v", self.mu_v, "m^2/(V s)")
        require_positive(name, "D", self.D, "m")
        _check_window(name, self.window, self.p, ("joglekar", "biolek", "none"))

    def resistance(self, state: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """``R = R_on x + R_off (1 - x)`` in Ohm."""
        return self.R_on * state + self.R_off * (1.0 - state)

    def conductance(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."] | None = None) -> Float[Array, "..."]:
        """``1 / R(x)`` (S); ohmic, so ``voltage`` is not needed."""
        return 1.0 / self.resistance(state)

    def current(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        return voltage / self.resistance(state)

    def state_derivative(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        state = jnp.asarray(state)
        current = self.current(state, voltage)
        drift = self.mu_v * self.R_on / self.D**2 * current
        if self.window == "joglekar":
            return drift * joglekar_window(state, self.p)
        if self.window == "biolek":
            return drift * biolek_window(state, current, self.p)
        pushing_out = ((state >= 1.0) & (drift > 0)) | ((state <= 0.0) & (drift < 0))
        return jnp.where(pushing_out, 0.0, drift)

    @property
    def state_bounds(self) -> tuple[float, float]:
        return (0.0, 1.0)
