"""Alpha-current synapse (docs/mif-neuron.md, eq. 2)."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

from .._validation import require_positive
from ._base import AbstractSynapse


class AlphaState(NamedTuple):
    """Auxiliary current ``a`` (A) and synaptic current ``I`` (A)."""

    a: Float[Array, " n"]
    I: Float[Array, " n"]


class AlphaSynapse(AbstractSynapse):
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
