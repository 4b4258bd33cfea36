"""KNOWM mean metastable switch (MMSS) memristors: the plain model and the generalized one.

A KNOWM device is a population of metastable switches that flip on or off with probabilities set
by Boltzmann-like sigmoids of the applied voltage; ``x`` in [0, 1] is the mean fraction that is
on (Nugent & Molter 2014, "AHaH computing"; Molter & Nugent 2016, "The generalized metastable
switch memristor model"). The generalized model adds a Schottky diode in parallel, which gives the
exponential, rectifying part of measured I-V curves. Equations and presets: docs/devices.md.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validation import require_in_range
from ._base import AbstractMemristor
from ._mss import AbstractMetastableSwitch
from .._spice import number


def exprel(z: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
    """``expm1(z) / z``, equal to 1 at ``z = 0``, finite with finite gradients everywhere.

    The double ``where`` keeps the division away from ``z = 0`` in both the value and its gradient;
    below ``|z| < 1e-6`` the two-term series ``1 + z/2`` is exact to float64 rounding.
    """
    z = jnp.asarray(z)
    small = jnp.abs(z) < 1e-6
    z_safe = jnp.where(small, 1.0, z)
    return jnp.where(small, 1.0 + 0.5 * z, jnp.expm1(z_safe) / z_safe)


class MeanMetastableSwitch(AbstractMetastableSwitch):
    """KNOWM mean metastable switch (MMSS), a non-volatile bipolar memristor.

    ``dx/dt = [(1 - x) sigma((V - V_on)/V_T) - x (1 - sigma((V + V_off)/V_T))] / tau``,
    ``G = x / R_on + (1 - x) / R_off``, ``I = G V``. ``x`` in [0, 1] is the fraction of switches
    that are on. Switching on needs ``V`` above ``V_on``; switching off needs ``V`` below ``-V_off``.
    Between the two the state barely moves, so the device keeps its conductance without drive
    (compare :class:`~memsnn.devices.VolatileMSS`, which relaxes off at ``V = 0``).

    Defaults are typical KNOWM-model values: 500 Ohm / 1.5 kOhm, 0.27 V thresholds, the room
    temperature thermal voltage 26 mV and a 0.1 ms time constant.

    Attributes:
        R_on: on resistance (Ohm).
        R_off: off resistance (Ohm), larger than ``R_on``.
        V_on: on-switching threshold (V), normally > 0.
        V_off: magnitude of the off-switching threshold (V), normally > 0: switching off happens
            below ``-V_off``.
        V_T: thermal voltage setting the width of the switching sigmoids (V).
        tau: time constant of the switch population (s).
    """

    def __init__(self, R_on=500.0, R_off=1500.0, V_on=0.27, V_off=0.27, V_T=0.026, tau=1e-4):
        self._set_parameters(R_on, R_off, V_on, V_off, V_T, tau)

    def off_switching_voltage(self):
        return -self.V_off


class GeneralizedMSS(AbstractMemristor):
    """KNOWM generalized metastable switch: an MMSS in parallel with a Schottky diode.

    ``I = phi G(x) V + (1 - phi) I_s(V)`` with the MMSS conductance ``G`` and state equation
    (see :class:`MeanMetastableSwitch`, held as ``switch``) and the diode current
    ``I_s = alpha_f (exp(beta_f V) - 1) - alpha_r (exp(-beta_r V) - 1)``.

    Molter & Nugent write ``I_s = alpha_f exp(beta_f V) - alpha_r exp(-beta_r V)``; the two forms
    are the same when ``alpha_f = alpha_r`` (as in their fits, and in the defaults here), and the
    form with the ``-1`` keeps ``I(V = 0) = 0`` (a pinched loop) for any ``alpha_f, alpha_r``.

    The Schottky defaults are illustrative, not a device fit: saturation currents of 0.1 uA and
    slopes of 8 /V (with ``phi = 0.9``) keep the diode below 0.1 % of the memristive current at
    0.5 V, a few percent at 1 V, and make it dominate above about 1.5 V (at x = 0.5).

    Attributes:
        switch: the memristive part, a :class:`MeanMetastableSwitch`.
        phi: weight of the memristive current, in [0, 1] (1 = plain MMSS).
        alpha_f: forward saturation current of the diode (A).
        beta_f: forward exponent of the diode (1/V).
        alpha_r: reverse saturation current of the diode (A).
        beta_r: reverse exponent of the diode (1/V).
    """

    switch: MeanMetastableSwitch
    phi: Float[Array, "..."]
    alpha_f: Float[Array, "..."]
    beta_f: Float[Array, "..."]
    alpha_r: Float[Array, "..."]
    beta_r: Float[Array, "..."]

    def __init__(
        self,
        R_on=500.0,
        R_off=1500.0,
        V_on=0.27,
        V_off=0.27,
        V_T=0.026,
        tau=1e-4,
        phi=0.9,
        alpha_f=1e-7,
        beta_f=8.0,
        alpha_r=1e-7,
        beta_r=8.0,
    ):
        self.switch = MeanMetastableSwitch(R_on=R_on, R_off=R_off, V_on=V_on, V_off=V_off, V_T=V_T, tau=tau)
        self.phi = jnp.asarray(phi, dtype=float)
        self.alpha_f = jnp.asarray(alpha_f, dtype=float)
        self.beta_f = jnp.asarray(beta_f, dtype=float)
        self.alpha_r = jnp.asarray(alpha_r, dtype=float)
        self.beta_r = jnp.asarray(beta_r, dtype=float)

    def __check_init__(self):
        name = type(self).__name__
        require_in_range(name, "phi", self.phi, 0.0, 1.0)
        for field in ("alpha_f", "beta_f", "alpha_r", "beta_r"):
            require_in_range(name, field, getattr(self, field), 0.0, np.inf)

    def schottky_current(self, voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """Diode current ``alpha_f (exp(beta_f V) - 1) - alpha_r (exp(-beta_r V) - 1)`` in A."""
        return self.alpha_f * jnp.expm1(self.beta_f * voltage) - self.alpha_r * jnp.expm1(-self.beta_r * voltage)

    def state_derivative(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        return self.switch.state_derivative(state, voltage)

    def current(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        return self.phi * self.switch.current(state, voltage) + (1.0 - self.phi) * self.schottky_current(voltage)

    def relaxation_rate(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        return self.switch.relaxation_rate(state, voltage)

    def spice_state_derivative(self, state: str, voltage: str) -> str:
        return self.switch.spice_state_derivative(state, voltage)

    def spice_current(self, state: str, voltage: str) -> str:
        n = lambda name, value: number(self, name, value)  # noqa: E731
        # exp(z) - 1 rather than expm1 (not a B-source function): the rounding is ~1e-16 of exp(z)
        # and the diode current is zero at V = 0 exactly either way.
        diode = (f"({n('alpha_f', self.alpha_f)}*(exp({n('beta_f', self.beta_f)}*{voltage})-1)"
                 f"-{n('alpha_r', self.alpha_r)}*(exp(-{n('beta_r', self.beta_r)}*{voltage})-1))")
        phi = n("phi", self.phi)
        return f"({phi}*{self.switch.spice_current(state, voltage)}+(1-{phi})*{diode})"

    def conductance(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """Chord conductance ``I / V`` (S); at ``V = 0`` its limit ``phi G + (1 - phi)(alpha_f beta_f + alpha_r beta_r)``.

        The diode part is ``alpha_f beta_f exprel(beta_f V) + alpha_r beta_r exprel(-beta_r V)``,
        which is finite and smooth through ``V = 0`` (no 0/0, no NaN gradient).
        """
        diode = self.alpha_f * self.beta_f * exprel(self.beta_f * voltage) + self.alpha_r * self.beta_r * exprel(
            -self.beta_r * voltage
        )
        return self.phi * self.switch.conductance(state) + (1.0 - self.phi) * diode

    @property
    def state_bounds(self) -> tuple[float, float]:
        return self.switch.state_bounds
