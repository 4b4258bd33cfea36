"""The HP linear ion drift memristor (Strukov et al. 2008) and its window functions.

A thin film of thickness ``D`` has a doped, conducting layer of width ``w`` in series with an
undoped, insulating one; the boundary drifts with the current at the dopant mobility ``mu_v``.
The state is the normalized width ``x = w / D`` in [0, 1]. Window functions slow the drift near
the film edges and stop it there (Joglekar & Wolf 2009; Biolek, Biolek & Biolkova 2009).
Equations, presets and the SPICE form: docs/devices.md.
"""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._validation import require_positive, require_resistance_range
from ._base import AbstractMemristor
from .._spice import number, sigmoid

WindowName = Literal["joglekar", "biolek", "none"]
Coordinate = Literal["fraction", "logit"]
# Samples per group of the fixed grid of states that LinearIonDrift.relaxation_rate searches.
_PATH_SAMPLES = 64


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

    ``coordinate`` chooses what the state variable is. ``"fraction"`` (default): ``x`` itself.
    ``"logit"`` (Joglekar window only): ``s = ln(x / (1 - x))``, integrated as
    ``ds/dt = (mu_v R_on / D^2) I q(x)`` with the polynomial ``q = W / (x (1 - x)) =
    4 sum_{k<p} (2x - 1)^(2k)``. Joglekar's window has simple zeros at the edges, so the exact ``x``
    only approaches them exponentially and leaves again when the current reverses; in the fraction
    coordinate float64 rounds ``x`` to exactly 1 (or 0) within ``|1 - x| < 1.1e-16`` and the device
    then sticks there for ever. The logit keeps that distance (``1 - x = sigmoid(-s)``) to any
    precision, so driven devices come back as the exact solution does. Start a logit device with
    :meth:`state_from_fraction`; its :attr:`state_bounds` are infinite.

    Defaults are Strukov et al.'s TiO2 device.

    Attributes:
        R_on: resistance of the fully doped film, ``x = 1`` (Ohm).
        R_off: resistance of the undoped film, ``x = 0`` (Ohm), larger than ``R_on``.
        mu_v: dopant mobility (m^2 / (V s)).
        D: film thickness (m).
        window: ``"joglekar"``, ``"biolek"`` or ``"none"`` (static).
        p: integer window exponent, >= 1 (static).
        coordinate: ``"fraction"`` or ``"logit"`` (static): the state variable, see above.
    """

    R_on: Float[Array, "..."]
    R_off: Float[Array, "..."]
    mu_v: Float[Array, "..."]
    D: Float[Array, "..."]
    window: WindowName = eqx.field(static=True)
    p: int = eqx.field(static=True)
    coordinate: Coordinate = eqx.field(static=True)

    def __init__(self, R_on=100.0, R_off=16e3, mu_v=1e-14, D=10e-9, window: WindowName = "joglekar", p: int = 1,
                 coordinate: Coordinate = "fraction"):
        self.R_on = jnp.asarray(R_on, dtype=float)
        self.R_off = jnp.asarray(R_off, dtype=float)
        self.mu_v = jnp.asarray(mu_v, dtype=float)
        self.D = jnp.asarray(D, dtype=float)
        self.window = window
        self.p = p
        self.coordinate = coordinate

    def __check_init__(self):
        name = type(self).__name__
        require_resistance_range(name, self.R_on, self.R_off)
        require_positive(name, "mu_v", self.mu_v, "m^2/(V s)")
        require_positive(name, "D", self.D, "m")
        _check_window(name, self.window, self.p, ("joglekar", "biolek", "none"))
        if self.coordinate not in ("fraction", "logit"):
            raise ValueError(f"{name}: coordinate must be 'fraction' or 'logit', got {self.coordinate!r}.")
        if self.coordinate == "logit" and self.window != "joglekar":
            raise ValueError(
                f"{name}: coordinate='logit' needs window='joglekar' (got {self.window!r}): with the Biolek "
                "window or none the state reaches or leaves an edge at a finite rate, which the logit "
                "cannot carry. Use coordinate='fraction' with those windows."
            )

    def fraction(self, state: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """The normalized width ``x = w / D`` in [0, 1] of a state in this device's coordinate."""
        state = jnp.asarray(state, dtype=float)
        return jax.nn.sigmoid(state) if self.coordinate == "logit" else state

    def state_from_fraction(self, x: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """The state (in this device's coordinate) of a device at normalized width ``x``."""
        x = jnp.asarray(x, dtype=float)
        return jnp.log(x) - jnp.log1p(-x) if self.coordinate == "logit" else x

    def resistance(self, state: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """``R = R_on x + R_off (1 - x)`` in Ohm."""
        x = self.fraction(state)
        return self.R_on * x + self.R_off * (1.0 - x)

    def conductance(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."] | None = None) -> Float[Array, "..."]:
        """``1 / R(x)`` (S); ohmic, so ``voltage`` is not needed."""
        return 1.0 / self.resistance(state)

    def current(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        return voltage / self.resistance(state)

    def state_derivative(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        state = jnp.asarray(state)
        current = self.current(state, voltage)
        drift = self.mu_v * self.R_on / self.D**2 * current
        if self.coordinate == "logit":
            z = 2.0 * jax.nn.sigmoid(state) - 1.0
            return drift * 4.0 * sum(z ** (2 * k) for k in range(self.p))
        if self.window == "joglekar":
            return drift * joglekar_window(state, self.p)
        if self.window == "biolek":
            return drift * biolek_window(state, current, self.p)
        pushing_out = ((state >= 1.0) & (drift > 0)) | ((state <= 0.0) & (drift < 0))
        return jnp.where(pushing_out, 0.0, drift)

    def relaxation_rate(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """Largest ``|df/dx|`` (1/s) from the state to the edge the current drives it to (base class).

        ``f`` is smooth in the state but its slope is not monotone on the way (the window and
        ``1/R(x)`` pull in different directions), so the exact local slope (forward-mode autodiff)
        is taken at the state and at the states of a fixed grid that lie on the way to the edge
        (64 uniform, and 64 towards each edge at distances falling geometrically from 0.1 to 1e-16);
        the largest is returned. A sampled maximum of a smooth function: within a few percent of
        the true one.
        """
        x = self.fraction(state)
        x, voltage = jnp.broadcast_arrays(x, jnp.asarray(voltage, dtype=x.dtype))
        edge = jnp.where(voltage > 0, 1.0, 0.0)
        low, high = jnp.minimum(x, edge)[..., None], jnp.maximum(x, edge)[..., None]
        # Fixed fractions: uniform, and geometric towards each edge, which resolves a peak at any
        # scale (e.g. at 1 - x ~ R_on / R_off, where 1/R(x) takes over from the window). Kept
        # strictly inside: the window="none" cut makes the slope 0 on an edge, the logit is infinite.
        tail = jnp.logspace(-1, -16, _PATH_SAMPLES)
        grid = jnp.concatenate([jnp.linspace(0.0, 1.0, _PATH_SAMPLES), tail, 1.0 - tail])
        path = jnp.concatenate([x[..., None], jnp.broadcast_to(grid, x.shape + grid.shape)], axis=-1)
        on_path = (path >= low) & (path <= high)
        path = jnp.clip(path, 1e-300, 1.0 - 2.0**-53)
        if self.coordinate == "logit":
            path = self.state_from_fraction(path)
        v = voltage[..., None]
        _, slope = jax.jvp(lambda s: self.state_derivative(s, v), (path,), (jnp.ones_like(path),))
        return jnp.max(jnp.where(on_path, jnp.abs(slope), 0.0), axis=-1)

    def spice_state_derivative(self, state: str, voltage: str) -> str:
        n = lambda name, value: number(self, name, value)  # noqa: E731
        drift = f"{n('mu_v R_on / D^2', self.mu_v * self.R_on / self.D**2)}*{self.spice_current(state, voltage)}"
        if self.coordinate == "logit":
            z = f"(2*{sigmoid(state)}-1)"
            q = "+".join(["1"] + [f"pow(abs({z}),{2 * k})" for k in range(1, self.p)])
            return f"{drift}*4*({q})"
        if self.window == "joglekar":
            return f"{drift}*(1-pow(abs(2*{state}-1),{2 * self.p}))"
        if self.window == "biolek":
            # stp(-I): I has the sign of V (R > 0), and stp(0) = 1.
            return f"{drift}*(1-pow(abs({state}-(({voltage}<=0)?1:0)),{2 * self.p}))"
        return f"(({state}>=1)?(({voltage}>0)?0:{drift}):(({state}<=0)?(({voltage}<0)?0:{drift}):{drift}))"

    def spice_current(self, state: str, voltage: str) -> str:
        x = sigmoid(state) if self.coordinate == "logit" else state
        return f"{voltage}/({number(self, 'R_on', self.R_on)}*{x}+{number(self, 'R_off', self.R_off)}*(1-{x}))"

    @property
    def state_bounds(self) -> tuple[float, float]:
        return (-float("inf"), float("inf")) if self.coordinate == "logit" else (0.0, 1.0)
