"""Memristive integrate-and-fire neuron (docs/mif-neuron.md; Kang et al., TCAS-I 2021)."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._validation import require_in_range, require_less, require_positive
from ..devices import AbstractMemristor, VolatileMSS
from .._spice import number, state_scale
from ._base import AbstractSpiceNeuron


class MIFState(NamedTuple):
    """State of ``n`` MIF neurons: membrane potential ``v`` (V) and memristor states ``x1``, ``x2``."""

    v: Float[Array, " n"]
    x1: Float[Array, " n"]
    x2: Float[Array, " n"]


class MIF(AbstractSpiceNeuron):
    """Membrane capacitor in parallel with two (memristor + battery) branches.

    ``C dv/dt = I - G1 (v - E1) - G2 (v - E2)``, with ``G_k`` the conductance of memristor ``k``
    (state ``x_k``), which sees ``v_k = p_k (v - E_k)``. There is no reset rule: the memristors
    repolarise the membrane. :meth:`spikes` is the flag ``v > spike_threshold``.

    Attributes:
        capacitance: C (F).
        E1, E2: branch batteries (V).
        memristor1, memristor2: the two devices, any :class:`~memsnn.devices.AbstractMemristor`
            (default :class:`~memsnn.devices.VolatileMSS`; docs/devices.md).
        spike_threshold: level of the binary spike flag (V); it does not act on the dynamics.
        x1_init, x2_init: initial memristor states, in each device's state units and within its
            ``state_bounds``; ``v`` starts at ``v_init`` (V).
        polarity: ``(p1, p2)``, each +1 or -1 (static).
    """

    capacitance: Float[Array, "..."]
    E1: Float[Array, "..."]
    E2: Float[Array, "..."]
    memristor1: AbstractMemristor
    memristor2: AbstractMemristor
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
        memristor1: AbstractMemristor | None = None,
        memristor2: AbstractMemristor | None = None,
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
        # In each device's own state units (a fraction, VTEAM's metres, a logit).
        require_in_range("MIF", "x1_init", self.x1_init, *self.memristor1.state_bounds)
        require_in_range("MIF", "x2_init", self.x2_init, *self.memristor2.state_bounds)
        # A flag level at or below the starting potential would report a spike at every step.
        require_less("MIF", "v_init", self.v_init, "spike_threshold", self.spike_threshold, "V")

    def init_state(self, n: int, *, key=None) -> MIFState:
        ones = jnp.ones((n,))
        return MIFState(v=self.v_init * ones, x1=self.x1_init * ones, x2=self.x2_init * ones)

    def branch_currents(self, state: MIFState) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
        """Currents (A) leaving the membrane node through branch 1 and branch 2."""
        # Through the devices' own I(x, V): also right for non-ohmic ones (Yakopcic, generalized MSS).
        (v1, v2), (p1, p2) = self._device_voltages(state.v), self.polarity
        return p1 * self.memristor1.current(state.x1, v1), p2 * self.memristor2.current(state.x2, v2)

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

    def threshold_function(self, state: MIFState) -> Float[Array, " n"]:
        """``v - spike_threshold`` (V): the MIF's spike is the membrane's upward crossing of its spike
        threshold (docs/mif-neuron.md); the memristors, not a reset, bring it back down."""
        return state.v - self.spike_threshold

    def on_impulse(self, state: MIFState, charge: Float[Array, " n"]) -> MIFState:
        return state._replace(v=state.v + charge / self.capacitance)

    def decay_rate(self, state: MIFState, current: Float[Array, " n"]) -> Float[Array, " n"]:
        # The membrane: d(dv/dt)/dv = -(g1 + g2)/C with the differential conductances g_k = dI_k/dV
        # (the chord conductance G_k for ohmic devices; p_k^2 = 1).
        v1, v2 = self._device_voltages(state.v)
        ones = jnp.ones_like(state.v)
        _, g1 = jax.jvp(lambda u: self.memristor1.current(state.x1, u), (v1,), (ones,))
        _, g2 = jax.jvp(lambda u: self.memristor2.current(state.x2, u), (v2,), (ones,))
        membrane = jnp.abs(g1 + g2) / self.capacitance
        # A device state must not step past its bound (where some models stop and stay outside):
        # that needs monotone Euler steps, h * rate <= 1, half the linear-stability limit (~2) that
        # the step check applies; hence the factor 2 (docs/devices.md).
        devices = 2.0 * jnp.maximum(self.memristor1.relaxation_rate(state.x1, v1),
                                    self.memristor2.relaxation_rate(state.x2, v2))
        return jnp.maximum(membrane, devices)

    # --- SPICE form (memsnn.export; docs/devices.md) ---------------------------------------------

    def spice_lines(self, index: int, impulse_ref: str, options) -> list[str]:
        """Membrane capacitor on ``v_i``; per branch ``k`` a B-source drawing ``p_k I_k(x_k, v_k)``
        and the state node ``xk_i`` (``state_scale`` state units per volt) on a capacitor charged by
        ``dx_k/dt``, both written by the device itself (:meth:`AbstractMemristor.spice_current`)."""
        i, cs = index, options.state_capacitance
        v = f"V(v_{i})"
        lines = [f"Cm_{i} v_{i} {impulse_ref} {number(self, 'capacitance', self.capacitance)} "
                 f"IC={number(self, 'v_init', self.v_init)}"]
        branches = zip((self.memristor1, self.memristor2), (self.E1, self.E2), self.polarity,
                       (self.x1_init, self.x2_init))
        for k, (device, battery, p, x_init) in enumerate(branches, start=1):
            scale = state_scale(device)
            x = f"V(x{k}_{i})" if scale == 1.0 else f"({number(self, 'scale', scale)}*V(x{k}_{i}))"
            sign = "" if p > 0 else "-"
            vk = f"({sign}({v}-{number(self, f'E{k}', battery)}))"
            lines += [
                f"B{k}_{i} v_{i} 0 I={sign}({device.spice_current(x, vk)})",
                f"Cx{k}_{i} x{k}_{i} 0 {number(self, 'cs', cs)} IC={number(self, f'x{k}_init', x_init / scale)}",
                f"Bx{k}_{i} 0 x{k}_{i} I={number(self, 'cs', cs / scale)}*({device.spice_state_derivative(x, vk)})",
            ]
        return lines

    def spice_signals(self, options) -> dict[str, tuple[float, float]]:
        return {"v": (1.0, float(self.v_init)), "x1": (state_scale(self.memristor1), float(self.x1_init)),
                "x2": (state_scale(self.memristor2), float(self.x2_init))}

    def spice_impulse(self, options) -> tuple[str, float]:
        return "v", 1.0 / float(self.capacitance)
