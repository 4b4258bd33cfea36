"""The memristor of the memristive integrate-and-fire neuron (docs/mif-neuron.md, eq. 1b-1c).

It is the KNOWM mean metastable switch with the sign of ``V_off`` flipped: the device switches off
whenever the voltage across it falls below ``+V_off``, which makes it volatile (it relaxes back
towards off without drive). That volatility is what resets the MIF neuron after a spike.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._validation import require_less, require_positive
from ._base import AbstractMemristor


class VolatileMSS(AbstractMemristor):
    """Volatile mean-metastable-switch memristor used by the MIF neuron.

    ``dx/dt = [(1 - x) sigma((V - V_on)/V_T) - x sigma((V_off - V)/V_T)] / tau``,
    ``G = x / R_on + (1 - x) / R_off``. ``x`` in [0, 1] is the fraction of switched-on channels.

    Attributes:
        R_on: on resistance (Ohm).
        R_off: off resistance (Ohm), larger than ``R_on``.
        V_on: on-switching threshold (V).
        V_off: off-switching threshold (V).
        V_T: effective thermal voltage setting the width of the switching sigmoid (V).
        tau: state time constant (s).
    """

    R_on: Float[Array, "..."]
    R_off: Float[Array, "..."]
    V_on: Float[Array, "..."]
    V_off: Float[Array, "..."]
    V_T: Float[Array, "..."]
    tau: Float[Array, "..."]

    def __init__(self, R_on=1e3, R_off=1e5, V_on=0.110, V_off=0.005, V_T=0.015, tau=1e-3):
        self.R_on = jnp.asarray(R_on, dtype=float)
        self.R_off = jnp.asarray(R_off, dtype=float)
        self.V_on = jnp.asarray(V_on, dtype=float)
        self.V_off = jnp.asarray(V_off, dtype=float)
        self.V_T = jnp.asarray(V_T, dtype=float)
        self.tau = jnp.asarray(tau, dtype=float)

    def __check_init__(self):
        name = type(self).__name__
        require_positive(name, "R_on", self.R_on, "Ohm")
        require_positive(name, "R_off", self.R_off, "Ohm")
        require_less(name, "R_on", self.R_on, "R_off", self.R_off, "Ohm")
        require_positive(name, "V_T", self.V_T, "V")
        require_positive(name, "tau", self.tau, "s")

    def state_derivative(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        # jax.nn.sigmoid, not 1/(1+exp(-z)): the raw exp overflows for large |z| and poisons gradients.
        switch_on = (1.0 - state) * jax.nn.sigmoid((voltage - self.V_on) / self.V_T)
        switch_off = state * jax.nn.sigmoid((self.V_off - voltage) / self.V_T)
        return (switch_on - switch_off) / self.tau

    def conductance(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."] | None = None) -> Float[Array, "..."]:
        return state / self.R_on + (1.0 - state) / self.R_off

    def current(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        return self.conductance(state) * voltage

    @property
    def state_bounds(self) -> tuple[float, float]:
        return (0.0, 1.0)
