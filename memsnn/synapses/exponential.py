"""Exponentially decaying current synapse."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

from .._validation import require_positive
from .._spice import number
from ._base import AbstractSpiceSynapse


class ExponentialState(NamedTuple):
    """Synaptic current ``I`` (A)."""

    I: Float[Array, " n"]


class ExponentialSynapse(AbstractSpiceSynapse):
    """``dI/dt = -I/tau_s + sum_j w_j delta(t - t_j)``: each impulse of weight ``w`` (A) adds ``w``.

    Attributes:
        tau_s: time constant (s).
    """

    tau_s: Float[Array, "..."]

    def __init__(self, tau_s=5e-3):
        self.tau_s = jnp.asarray(tau_s, dtype=float)

    def __check_init__(self):
        require_positive("ExponentialSynapse", "tau_s", self.tau_s, "s")

    def init_state(self, n: int, *, key=None) -> ExponentialState:
        return ExponentialState(I=jnp.zeros((n,)))

    def vector_field(self, t, state: ExponentialState, inputs=None) -> ExponentialState:
        return ExponentialState(I=-state.I / self.tau_s)

    def on_impulse(self, state: ExponentialState, weight) -> ExponentialState:
        return ExponentialState(I=state.I + weight)

    def current(self, state: ExponentialState):
        return state.I

    def decay_rate(self, state=None, inputs=None):
        return 1.0 / self.tau_s

    # --- SPICE form (memsnn.export) -----------------------------------------------------------------

    def spice_lines(self, index: int, impulse_ref: str, options) -> list[str]:
        """Node ``isyn_i``: ``Cs`` to ``impulse_ref`` || ``tau_s / Cs`` (``dI/dt = -I / tau_s``); a
        VCCS of ``current_scale`` S injects ``I`` into ``v_i``."""
        i, cs = index, options.state_capacitance
        n = lambda name, value: number(self, name, value)  # noqa: E731
        return [f"Ci_{i} isyn_{i} {impulse_ref} {n('Cs', cs)} IC=0",
                f"Ri_{i} isyn_{i} 0 {n('tau_s / Cs', self.tau_s / cs)}",
                f"Gsyn_{i} 0 v_{i} isyn_{i} 0 {n('current_scale', options.current_scale)}"]

    def spice_signals(self, options) -> dict[str, tuple[float, float]]:
        return {"isyn": (options.current_scale, 0.0)}

    def spice_impulse(self, options) -> tuple[str, float]:
        return "isyn", 1.0 / options.current_scale
