"""Exponentially decaying current synapse."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

from .._validation import require_positive
from ._base import AbstractSynapse


class ExponentialState(NamedTuple):
    """Synaptic current ``I`` (A)."""

    I: Float[Array, " n"]


class ExponentialSynapse(AbstractSynapse):
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
