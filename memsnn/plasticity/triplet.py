"""Triplet STDP (Pfister & Gerstner 2006), minimal and full models.

Two traces per side, each decaying exponentially (the rule's state)::

    pre  r1 (tau_plus), r2 (tau_x);    post  o1 (tau_minus), o2 (tau_y)

    pre spike of j:   w_ij -= o1_i (a2_minus + a3_minus r2_j),   then r1_j, r2_j jump
    post spike of i:  w_ij += r1_j (a2_plus  + a3_plus  o2_i),   then o1_i, o2_i jump

where ``r2`` and ``o2`` are read *before* their own spike's jump ("epsilon" in the paper). The
jump is ``+1`` (all-to-all) or a reset to 1 (nearest-spike). The minimal model has
``a3_minus = 0`` (and ``a2_plus`` ~ 0 for the visual cortex data); the full model all four terms.
Because potentiation grows with the post-synaptic rate (through ``o2``), the rule reproduces the
frequency dependence of the pairing protocol (Sjoestroem, Turrigiano & Nelson 2001): post-pre pairs
depress at low pairing frequencies and potentiate at high ones.

Diehl & Cook (2015) learn with the minimal nearest-spike model (``a2_plus = 0``, their ``nu_post``
is ``a3_plus``, ``nu_pre`` is ``a2_minus``): :meth:`TripletSTDP.diehl_cook`.

Weight changes go through ``array.updated`` (see :mod:`memsnn.plasticity.pair`), additive or with
soft bounds like :class:`~memsnn.plasticity.PairSTDP`.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._validation import require_positive
from ..components import AbstractPlasticity
from .pair import (Interaction, WeightDependence, at_columns, bump, check_array, check_choice, check_n_inputs, depends,
                   scaled, updated_at_spikes)

__all__ = ["TripletSTDP", "TripletTraces", "PFISTER_GERSTNER_VISUAL_CORTEX"]

# Pfister & Gerstner 2006, Table 4 (visual cortex, fitted to Sjoestroem et al. 2001), times in s.
# tau_plus = 16.8 ms and tau_minus = 33.7 ms in every set; tau_x is unused by the minimal models.
PFISTER_GERSTNER_VISUAL_CORTEX = {
    ("all", "full"): dict(tau_x=101e-3, tau_y=125e-3, a2_plus=5e-10, a3_plus=6.2e-3, a2_minus=7e-3, a3_minus=2.3e-4),
    ("all", "minimal"): dict(tau_x=101e-3, tau_y=114e-3, a2_plus=5e-10, a3_plus=6.5e-3, a2_minus=7.1e-3,
                             a3_minus=0.0),
    ("nearest", "full"): dict(tau_x=714e-3, tau_y=40e-3, a2_plus=8.8e-11, a3_plus=5.3e-2, a2_minus=6.6e-3,
                              a3_minus=3.1e-3),
    ("nearest", "minimal"): dict(tau_x=714e-3, tau_y=40e-3, a2_plus=8.8e-11, a3_plus=5.3e-2, a2_minus=8e-3,
                                 a3_minus=0.0),
}


class TripletTraces(NamedTuple):
    """State of :class:`TripletSTDP`: traces ``r1``, ``r2`` ``(n_inputs,)``; ``o1``, ``o2`` ``(n,)``;
    and the depression of this grid step's pre-synaptic spikes, ``o1_at_spike (n,)`` times
    ``depress (n_inputs,)``, requested with the step's potentiation (see :mod:`memsnn.plasticity.pair`)."""

    r1: Float[Array, " n_in"]
    r2: Float[Array, " n_in"]
    o1: Float[Array, " n"]
    o2: Float[Array, " n"]
    o1_at_spike: Float[Array, " n"]
    depress: Float[Array, " n_in"]


class TripletSTDP(AbstractPlasticity):
    """Triplet STDP (module docstring for the equations).

    Attributes:
        n_inputs: number of inputs of the layer's array.
        a2_plus, a3_plus, a2_minus, a3_minus: pair and triplet amplitudes (weight units), >= 0.
        tau_plus, tau_minus, tau_x, tau_y: trace time constants (s) of r1, o1, r2, o2.
        interaction: ``"all"`` or ``"nearest"``.
        weight_dependence: ``"additive"`` or ``"multiplicative"``; ``w_max`` its soft bound.
    """

    n_inputs: int = eqx.field(static=True)
    a2_plus: Float[Array, ""]
    a3_plus: Float[Array, ""]
    a2_minus: Float[Array, ""]
    a3_minus: Float[Array, ""]
    tau_plus: Float[Array, ""]
    tau_minus: Float[Array, ""]
    tau_x: Float[Array, ""]
    tau_y: Float[Array, ""]
    interaction: str = eqx.field(static=True)
    weight_dependence: str = eqx.field(static=True)
    w_max: float = eqx.field(static=True)

    def __init__(self, n_inputs: int, *, a2_plus=5e-10, a3_plus=6.2e-3, a2_minus=7e-3, a3_minus=2.3e-4,
                 tau_plus=16.8e-3, tau_minus=33.7e-3, tau_x=101e-3, tau_y=125e-3, interaction: Interaction = "all",
                 weight_dependence: WeightDependence = "additive", w_max=1.0):
        self.n_inputs = check_n_inputs("TripletSTDP", n_inputs)
        check_choice("TripletSTDP", "interaction", interaction, ("all", "nearest"))
        check_choice("TripletSTDP", "weight_dependence", weight_dependence, ("additive", "multiplicative"))
        f = lambda x: jnp.asarray(x, dtype=float)  # noqa: E731
        self.a2_plus, self.a3_plus, self.a2_minus, self.a3_minus = map(f, (a2_plus, a3_plus, a2_minus, a3_minus))
        self.tau_plus, self.tau_minus, self.tau_x, self.tau_y = map(f, (tau_plus, tau_minus, tau_x, tau_y))
        self.interaction, self.weight_dependence, self.w_max = interaction, weight_dependence, float(w_max)

    def __check_init__(self):
        for name in ("tau_plus", "tau_minus", "tau_x", "tau_y"):
            require_positive("TripletSTDP", name, getattr(self, name), "s")
        require_positive("TripletSTDP", "w_max", self.w_max)

    @classmethod
    def pfister_gerstner(cls, n_inputs: int, model: Literal["minimal", "full"] = "minimal",
                         interaction: Interaction = "all", **overrides) -> "TripletSTDP":
        """The visual-cortex parameters of Pfister & Gerstner 2006 (Table 4) for ``model`` and
        ``interaction``; ``overrides`` change single parameters."""
        check_choice("TripletSTDP.pfister_gerstner", "model", model, ("minimal", "full"))
        check_choice("TripletSTDP.pfister_gerstner", "interaction", interaction, ("all", "nearest"))
        params = dict(PFISTER_GERSTNER_VISUAL_CORTEX[(interaction, model)], tau_plus=16.8e-3, tau_minus=33.7e-3)
        return cls(n_inputs, interaction=interaction, **{**params, **overrides})

    @classmethod
    def diehl_cook(cls, n_inputs: int, *, nu_pre=1e-4, nu_post=1e-2, w_max=1.0) -> "TripletSTDP":
        """Diehl & Cook 2015's rule: minimal, nearest-spike, pre trace 20 ms, post traces 20 and
        40 ms, ``w -= nu_pre o1`` at a pre spike and ``w += nu_post r1 o2`` at a post spike."""
        return cls(n_inputs, a2_plus=0.0, a3_plus=nu_post, a2_minus=nu_pre, a3_minus=0.0, tau_plus=20e-3,
                   tau_minus=20e-3, tau_x=20e-3, tau_y=40e-3, interaction="nearest", w_max=w_max)

    def init_state(self, n, *, key=None) -> TripletTraces:
        pre, post = jnp.zeros((self.n_inputs,)), jnp.zeros((n,))
        return TripletTraces(r1=pre, r2=pre, o1=post, o2=post, o1_at_spike=post, depress=pre)

    def vector_field(self, t, state: TripletTraces, inputs):
        return TripletTraces(r1=-state.r1 / self.tau_plus, r2=-state.r2 / self.tau_x, o1=-state.o1 / self.tau_minus,
                             o2=-state.o2 / self.tau_y, o1_at_spike=jnp.zeros_like(state.o1_at_spike),
                             depress=jnp.zeros_like(state.depress))

    def decay_rate(self, state, inputs):
        return jnp.max(1.0 / jnp.stack([self.tau_plus, self.tau_minus, self.tau_x, self.tau_y]))

    def linear_coefficient(self, state: TripletTraces, inputs):
        """``-1/tau`` of each exponential trace, 0 for the held values (1/s)."""
        def rate(x, tau):
            return jnp.broadcast_to(-1.0 / tau, x.shape)
        return TripletTraces(r1=rate(state.r1, self.tau_plus), r2=rate(state.r2, self.tau_x),
                             o1=rate(state.o1, self.tau_minus), o2=rate(state.o2, self.tau_y),
                             o1_at_spike=jnp.zeros_like(state.o1_at_spike), depress=jnp.zeros_like(state.depress))

    def residual_decay_rate(self, state, inputs):
        return jnp.zeros(())

    def on_presynaptic(self, state: TripletTraces, array, array_state, presynaptic, *, key=None):
        check_array("TripletSTDP", array, self.n_inputs)
        s = (presynaptic > 0).astype(state.r1.dtype)
        # r2 before its own jump; the depression is requested with the step's potentiation.
        depress = s * (self.a2_minus + self.a3_minus * state.r2)
        state = state._replace(r1=bump(state.r1, s, self.interaction), r2=bump(state.r2, s, self.interaction),
                               o1_at_spike=state.o1, depress=depress)
        return state, array_state

    def on_postsynaptic(self, state: TripletTraces, array, array_state, spikes, membrane_potential, *, key=None):
        per_neuron = spikes * (self.a2_plus + self.a3_plus * state.o2)

        def change(at, columns):
            depress = scaled(state.o1_at_spike[:, None] * at_columns(state.depress, columns)[None, :],
                             depends(self, array, at, -1, columns))
            potentiate = scaled(per_neuron[:, None] * at_columns(state.r1, columns)[None, :],
                                depends(self, array, at, +1, columns))
            return potentiate - depress

        array_state = updated_at_spikes(self, array, array_state, change, state.depress != 0, spikes != 0, key)
        state = state._replace(o1=bump(state.o1, spikes, self.interaction), o2=bump(state.o2, spikes, self.interaction),
                               o1_at_spike=jnp.zeros_like(state.o1_at_spike), depress=jnp.zeros_like(state.depress))
        return state, array_state
