"""The metastable-switch family: KNOWM's mean metastable switch and the MIF's volatile variant.

Both are populations of switches that flip on with probability sigma((V - V_on)/V_T) and off with
sigma((V_off_eff - V)/V_T); ``x`` in [0, 1] is the fraction that is on, ``G = x/R_on + (1-x)/R_off``.
They differ only in where switching off starts: below ``-V_off`` for KNOWM (non-volatile), below
``+V_off`` for the MIF's device (volatile: it relaxes off at V = 0). Equations and presets:
docs/devices.md.
"""

from __future__ import annotations

import abc

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._validation import require_in_range, require_positive, require_resistance_range
from ._base import AbstractMemristor
from .._spice import number, sigmoid


# |d| above which exp(d / 2) in sigmoid_pair would overflow float32 (88.7): the two switching
# thresholds more than 150 thermal voltages apart. DEVICE_BOUNDS keep |d| below 100.
MAX_THRESHOLD_SEPARATION = 150.0


@jax.custom_jvp
def sigmoid_pair(z, d):
    """``(sigmoid(z), sigmoid(-z - d))`` from one exponential, elementwise (``|d| <= 150``).

    The metastable switch's on and off rates are two logistic functions of the same voltage, their
    thresholds ``d`` widths apart. With the midpoint ``c = z + d/2``, ``r = exp(-|c|)`` (never
    overflows) and ``k = exp(d/2)`` (a function of the parameters only)::

        c >= 0:  sigmoid(z) = 1 / (1 + r k),   sigmoid(-z - d) = r / (r + k)
        c <  0:  the two swapped

    which halves the exponentials per device and step against two ``jax.nn.sigmoid`` calls. The
    derivative is the logistic's own, ``s (1 - s)``, from the values (``custom_jvp``: no
    derivative of the branches).
    """
    c = z + 0.5 * d
    r = jnp.exp(-jnp.abs(c))
    k = jnp.exp(0.5 * d)
    near, far = 1.0 / (1.0 + r * k), r / (r + k)
    upper = c >= 0
    return jnp.where(upper, near, far), jnp.where(upper, far, near)


@sigmoid_pair.defjvp
def _sigmoid_pair_jvp(primals, tangents):
    z, d = primals
    dz, dd = tangents
    on, off = sigmoid_pair(z, d)
    return (on, off), (on * (1.0 - on) * dz, -off * (1.0 - off) * (dz + dd))


class AbstractMetastableSwitch(AbstractMemristor):
    """Shared state equation, conductance and checks of the metastable-switch memristors.

    Attributes:
        R_on: on resistance (Ohm).
        R_off: off resistance (Ohm), larger than ``R_on``.
        V_on: on-switching threshold (V).
        V_off: off-switching threshold (V); its sign convention is the subclass's.
        V_T: (effective) thermal voltage setting the width of the switching sigmoids (V).
        tau: time constant of the switch population (s).
    """

    R_on: Float[Array, "..."]
    R_off: Float[Array, "..."]
    V_on: Float[Array, "..."]
    V_off: Float[Array, "..."]
    V_T: Float[Array, "..."]
    tau: Float[Array, "..."]

    def _set_parameters(self, R_on, R_off, V_on, V_off, V_T, tau):
        self.R_on = jnp.asarray(R_on, dtype=float)
        self.R_off = jnp.asarray(R_off, dtype=float)
        self.V_on = jnp.asarray(V_on, dtype=float)
        self.V_off = jnp.asarray(V_off, dtype=float)
        self.V_T = jnp.asarray(V_T, dtype=float)
        self.tau = jnp.asarray(tau, dtype=float)

    def __check_init__(self):
        name = type(self).__name__
        require_resistance_range(name, self.R_on, self.R_off)
        require_positive(name, "V_T", self.V_T, "V")
        require_positive(name, "tau", self.tau, "s")
        # sigmoid_pair's limit (exp of half of it must fit float32).
        separation = (self.V_on - self.off_switching_voltage()) / self.V_T
        require_in_range(name, "(V_on - off switching voltage) / V_T", separation,
                         -MAX_THRESHOLD_SEPARATION, MAX_THRESHOLD_SEPARATION)

    @abc.abstractmethod
    def off_switching_voltage(self) -> Float[Array, "..."]:
        """Voltage (V) below which the switches turn off."""

    def switching_probabilities(self, voltage: Float[ArrayLike, "..."]) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
        """``(sigma((V - V_on)/V_T), sigma((V_off_eff - V)/V_T))``: the rates (per ``tau``) at which a
        switch turns on and off at ``voltage`` (V), both from one exponential (:func:`sigmoid_pair`)."""
        inverse_width = 1.0 / self.V_T
        return sigmoid_pair((voltage - self.V_on) * inverse_width,
                            (self.V_on - self.off_switching_voltage()) * inverse_width)

    def state_derivative(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        switch_on, switch_off = self.switching_probabilities(voltage)
        return ((1.0 - state) * switch_on - state * switch_off) * (1.0 / self.tau)

    def relaxation_rate(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """``(sigma_on + sigma_off) / tau`` (1/s): exact, since ``f`` is linear in ``x``."""
        on, off = self.switching_probabilities(voltage)
        return jnp.broadcast_to((on + off) / self.tau, jnp.broadcast_shapes(jnp.shape(state), jnp.shape(on)))

    def spice_state_derivative(self, state: str, voltage: str) -> str:
        n = lambda name, value: number(self, name, value)  # noqa: E731
        v_t = n("V_T", self.V_T)
        on = sigmoid(f"({voltage}-{n('V_on', self.V_on)})/{v_t}")
        off = sigmoid(f"({n('V_off', self.off_switching_voltage())}-{voltage})/{v_t}")
        return f"((1-{state})*{on}-{state}*{off})/{n('tau', self.tau)}"

    def spice_current(self, state: str, voltage: str) -> str:
        g = f"({state}/{number(self, 'R_on', self.R_on)}+(1-{state})/{number(self, 'R_off', self.R_off)})"
        return f"{g}*{voltage}"

    def conductance(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."] | None = None) -> Float[Array, "..."]:
        """``G = x / R_on + (1 - x) / R_off`` (S); ohmic, so ``voltage`` is not needed."""
        return state / self.R_on + (1.0 - state) / self.R_off

    def current(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        return self.conductance(state) * voltage

    @property
    def state_bounds(self) -> tuple[float, float]:
        return (0.0, 1.0)
