"""Memristive integrate-and-fire neuron (docs/mif-neuron.md; Kang et al., TCAS-I 2021)."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._validation import require_in_range, require_less, require_positive
from ..devices import VolatileMSS
from ._base import AbstractNeuron


class MIFState(NamedTuple):
    """State of ``n`` MIF neurons: membrane potential ``v`` (V) and memristor states ``x1``, ``x2``."""

    v: Float[Array, " n"]
    x1: Float[Array, " n"]
    x2: Float[Array, " n"]


class MIF(AbstractNeuron):
    """Membrane capacitor in parallel with two (memristor + battery) branches.

    ``C dv/dt = I - G1 (v - E1) - G2 (v - E2)``, with ``G_k`` the conductance of memristor ``k``
    (state ``x_k``), which sees ``v_k = p_k (v - E_k)``. There is no reset rule: the memristors
    repolarise the membrane. :meth:`spikes` is the flag ``v > spike_threshold``.

    Attributes:
        capacitance: C (F).
        E1, E2: branch batteries (V).
        memristor1, memristor2: the two devices (:class:`~memsnn.devices.VolatileMSS`).
        spike_threshold: level of the binary spike flag (V); it does not act on the dynamics.
        x1_init, x2_init: initial memristor states; ``v`` starts at ``v_init`` (V).
        polarity: ``(p1, p2)``, each +1 or -1 (static).
    """

    capacitance: Float[Array, "..."]
    E1: Float[Array, "..."]
    E2: Float[Array, "..."]
    memristor1: VolatileMSS
    memristor2: VolatileMSS
    spike_threshold: Float[Array, "..."]
    v_init: Float[Array, "..."]
    x1_init: Float[Array, "..."]
    x2_init: Float[Array, "..."]
    polarity: tuple[int, int] = eqx.field(static=True)

    def __init__(
        self,
        capacitance=1e-9,
        E1=0.0,
        E2=0.050,
        memristor1: VolatileMSS | None = None,
        memristor2: VolatileMSS | None = None,
        spike_threshold=0.030,
        v_init=0.0,
        x1_init=0.0238,
        x2_init=0.0238,
        polarity: tuple[int, int] = (1, 1),
    ):
        self.capacitance = jnp.asarray(capacitance, dtype=float)
        self.E1 = jnp.asarray(E1, dtype=float)
        self.E2 = jnp.asarray(E2, dtype=float)
        self.memristor1 = VolatileMSS() if memristor1 is None else memristor1
        self.memristor2 = VolatileMSS() if memristor2 is None else memristor2
        self.spike_threshold = jnp.asarray(spike_threshold, dtype=float)
        self.v_init = jnp.asarray(v_init, dtype=float)
        self.x1_init = jnp.asarray(x1_init, dtype=float)
        self.x2_init = jnp.asarray(x2_init, dtype=float)
        if tuple(polarity) not in {(1, 1), (1, -1), (-1, 1), (-1, -1)}:
            raise ValueError(f"MIF: polarity must be a pair of +1/-1, got {polarity}.")
        self.polarity = tuple(int(p) for p in polarity)

    def __check_init__(self):
        require_positive("MIF", "capacitance", self.capacitance, "F")
        require_in_range("MIF", "x1_init", self.x1_init, 0.0, 1.0)
        require_in_range("MIF", "x2_init", self.x2_init, 0.0, 1.0)
        # A flag level at or below the starting potential would report a spike at every step.
        require_less("MIF", "v_init", self.v_init, "spike_threshold", self.spike_threshold, "V")

    def init_state(self, n: int, *, key=None) -> MIFState:
        ones = jnp.ones((n,))
        return MIFState(v=self.v_init * ones, x1=self.x1_init * ones, x2=self.x2_init * ones)

    def branch_currents(self, state: MIFState) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
        """Currents (A) leaving the membrane node through branch 1 and branch 2."""
        g1 = self.memristor1.conductance(state.x1)
        g2 = self.memristor2.conductance(state.x2)
        return g1 * (state.v - self.E1), g2 * (state.v - self.E2)

    def _device_voltages(self, v):
        p1, p2 = self.polarity
        return p1 * (v - self.E1), p2 * (v - self.E2)

    def vector_field(self, t, state: MIFState, current: Float[Array, " n"]) -> MIFState:
        i1, i2 = self.branch_currents(state)
        v1, v2 = self._device_voltages(state.v)
        return MIFState(
            v=(current - i1 - i2) / self.capacitance,
            x1=self.memristor1.state_derivative(state.x1, v1),
            x2=self.memristor2.state_derivative(state.x2, v2),
        )

    def membrane_potential(self, state: MIFState) -> Float[Array, " n"]:
        return state.v

    def spikes(self, state: MIFState) -> Float[Array, " n"]:
        return (state.v > self.spike_threshold).astype(state.v.dtype)

    def on_impulse(self, state: MIFState, charge: Float[Array, " n"]) -> MIFState:
        return state._replace(v=state.v + charge / self.capacitance)

    def decay_rate(self, state: MIFState, current: Float[Array, " n"]) -> Float[Array, " n"]:
        # The membrane is the stiff part: d(dv/dt)/dv = -(G1 + G2)/C. The memristor states relax at
        # most at 2/tau (both sigmoids <= 1).
        g = self.memristor1.conductance(state.x1) + self.memristor2.conductance(state.x2)
        membrane = g / self.capacitance
        devices = jnp.maximum(2.0 / self.memristor1.tau, 2.0 / self.memristor2.tau)
        return jnp.maximum(membrane, devices)
