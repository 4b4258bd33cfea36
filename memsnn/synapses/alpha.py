"""Alpha-current synapse (docs/mif-neuron.md, eq. 2)."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

from .._validation import require_positive
from .._spice import number
from ._base import AbstractSpiceSynapse


class AlphaState(NamedTuple):
    """Auxiliary current ``a`` (A) and synaptic current ``I`` (A)."""

    a: Float[Array, " n"]
    I: Float[Array, " n"]


class AlphaSynapse(AbstractSpiceSynapse):
    """``da/dt = -a/tau_a + sum_j w_j delta(t - t_j)``, ``dI/dt = (a - I)/tau_a``.

    One impulse of weight ``w`` at t = 0 gives ``I(t) = w (t/tau_a) exp(-t/tau_a)``, peak ``w/e``
    at ``t = tau_a``.

    Attributes:
        tau_a: time constant (s).
    """

    tau_a: Float[Array, "..."]

    def __init__(self, tau_a=1e-3):
        self.tau_a = jnp.asarray(tau_a, dtype=float)

    def __check_init__(self):
        require_positive("AlphaSynapse", "tau_a", self.tau_a, "s")

    def init_state(self, n: int, *, key=None) -> AlphaState:
        return AlphaState(a=jnp.zeros((n,)), I=jnp.zeros((n,)))

    def vector_field(self, t, state: AlphaState, inputs=None) -> AlphaState:
        return AlphaState(a=-state.a / self.tau_a, I=(state.a - state.I) / self.tau_a)

    def on_impulse(self, state: AlphaState, weight) -> AlphaState:
        return state._replace(a=state.a + weight)

    def current(self, state: AlphaState):
        return state.I

    def decay_rate(self, state=None, inputs=None):
        return 1.0 / self.tau_a

    # --- SPICE form (memsnn.export) -----------------------------------------------------------------

    def spice_lines(self, index: int, impulse_ref: str, options) -> list[str]:
        """Node ``a_i`` (``Cs`` to ``impulse_ref`` || ``tau_a / Cs``: ``da/dt = -a / tau_a``) drives
        node ``isyn_i`` (the same RC to ground) through a VCCS of ``Cs / tau_a`` S
        (``dI/dt = (a - I) / tau_a``); a VCCS of ``current_scale`` S injects ``I`` into ``v_i``."""
        i, cs = index, options.state_capacitance
        n = lambda name, value: number(self, name, value)  # noqa: E731
        r = n("tau_a / Cs", self.tau_a / cs)
        return [f"Ca_{i} a_{i} {impulse_ref} {n('Cs', cs)} IC=0", f"Ra_{i} a_{i} 0 {r}",
                f"Ga_{i} 0 isyn_{i} a_{i} 0 {n('Cs / tau_a', cs / self.tau_a)}",
                f"Ci_{i} isyn_{i} 0 {n('Cs', cs)} IC=0", f"Ri_{i} isyn_{i} 0 {r}",
                f"Gsyn_{i} 0 v_{i} isyn_{i} 0 {n('current_scale', options.current_scale)}"]

    def spice_signals(self, options) -> dict[str, tuple[float, float]]:
        return {"a": (options.current_scale, 0.0), "isyn": (options.current_scale, 0.0)}

    def spice_impulse(self, options) -> tuple[str, float]:
        return "a", 1.0 / options.current_scale
