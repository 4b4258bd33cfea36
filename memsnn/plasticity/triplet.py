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

**Delayed arrays.** On an array whose connections delay their impulses by ``m_oj`` grid steps
(:class:`~memsnn.arrays.DelayedPlastic`, ``delay_taps=array.delay_taps``) the rule runs as Brian 1's
STDP on a ``DelayConnection`` (what Diehl & Cook's code does): the pre-synaptic traces jump when
input ``j`` spikes, and synapse ``(i, j)`` reads them as they were ``m_ij`` steps ago (the trace of
the spike train as it arrives there); the depression of a pre spike sent at step ``s`` uses ``o1_i``
at its arrival ``s + m_ij`` and is requested ``delay_taps - 1`` steps after ``s``, when every
connection's arrival has passed (Brian 1: ``max_delay`` after the spike). The rule keeps the last
``delay_taps`` steps of ``r1``, ``o1`` and of the depression amplitudes in its state.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._validation import require_positive
from ..components import AbstractPlasticity
from .pair import (Interaction, WeightDependence, at_columns, bump, check_array, check_choice, check_n_inputs, depends,
                   scaled, updated_at_spikes)

__all__ = ["TripletSTDP", "TripletTraces", "PFISTER_GERSTNER_VISUAL_CORTEX"]


def _held(state):
    """Zeros like ``state`` (``None`` fields stay ``None``): the rate of what only events change."""
    return jax.tree.map(jnp.zeros_like, state)

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
    ``depress (n_inputs,)``, requested with the step's potentiation (see :mod:`memsnn.plasticity.pair`).

    On a delayed array (``delay_taps > 0``, else ``None``): ``r1_history``, ``o1_history``,
    ``depress_history`` hold ``r1`` (after the step's jumps), ``o1`` (before the step's post spikes)
    and the depression amplitudes of the last ``delay_taps`` steps in a ring indexed by
    ``step mod delay_taps`` (``step``: grid steps so far, an exact float); ``depress`` is then the
    amplitudes of the spikes sent ``delay_taps - 1`` steps ago, the ones depressed now."""

    r1: Float[Array, " n_in"]
    r2: Float[Array, " n_in"]
    o1: Float[Array, " n"]
    o2: Float[Array, " n"]
    o1_at_spike: Float[Array, " n"]
    depress: Float[Array, " n_in"]
    r1_history: Float[Array, "taps n_in"] | None = None
    o1_history: Float[Array, "taps n"] | None = None
    depress_history: Float[Array, "taps n_in"] | None = None
    step: Float[Array, ""] | None = None


class TripletSTDP(AbstractPlasticity):
    """Triplet STDP (module docstring for the equations).

    Attributes:
        n_inputs: number of inputs of the layer's array.
        a2_plus, a3_plus, a2_minus, a3_minus: pair and triplet amplitudes (weight units), >= 0.
        tau_plus, tau_minus, tau_x, tau_y: trace time constants (s) of r1, o1, r2, o2.
        interaction: ``"all"`` or ``"nearest"``.
        weight_dependence: ``"additive"`` or ``"multiplicative"``; ``w_max`` its soft bound.
        delay_taps: 0, or the layer's delayed array's ``delay_taps`` (module docstring).
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
    delay_taps: int = eqx.field(static=True)

    def __init__(self, n_inputs: int, *, a2_plus=5e-10, a3_plus=6.2e-3, a2_minus=7e-3, a3_minus=2.3e-4,
                 tau_plus=16.8e-3, tau_minus=33.7e-3, tau_x=101e-3, tau_y=125e-3, interaction: Interaction = "all",
                 weight_dependence: WeightDependence = "additive", w_max=1.0, delay_taps: int = 0):
        self.n_inputs = check_n_inputs("TripletSTDP", n_inputs)
        check_choice("TripletSTDP", "interaction", interaction, ("all", "nearest"))
        check_choice("TripletSTDP", "weight_dependence", weight_dependence, ("additive", "multiplicative"))
        f = lambda x: jnp.asarray(x, dtype=float)  # noqa: E731
        self.a2_plus, self.a3_plus, self.a2_minus, self.a3_minus = map(f, (a2_plus, a3_plus, a2_minus, a3_minus))
        self.tau_plus, self.tau_minus, self.tau_x, self.tau_y = map(f, (tau_plus, tau_minus, tau_x, tau_y))
        self.interaction, self.weight_dependence, self.w_max = interaction, weight_dependence, float(w_max)
        if isinstance(delay_taps, bool) or int(delay_taps) != delay_taps or delay_taps < 0:
            raise ValueError(f"TripletSTDP: delay_taps must be an integer >= 0 (the delayed array's delay_taps, 0 "
                             f"without delays), got {delay_taps!r}.")
        self.delay_taps = int(delay_taps)

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
    def diehl_cook(cls, n_inputs: int, *, nu_pre=1e-4, nu_post=1e-2, w_max=1.0, delay_taps: int = 0
                   ) -> "TripletSTDP":
        """Diehl & Cook 2015's rule: minimal, nearest-spike, pre trace 20 ms, post traces 20 and
        40 ms, ``w -= nu_pre o1`` at a pre spike and ``w += nu_post r1 o2`` at a post spike
        (``delay_taps``: on their delayed input array, module docstring)."""
        return cls(n_inputs, a2_plus=0.0, a3_plus=nu_post, a2_minus=nu_pre, a3_minus=0.0, tau_plus=20e-3,
                   tau_minus=20e-3, tau_x=20e-3, tau_y=40e-3, interaction="nearest", w_max=w_max,
                   delay_taps=delay_taps)

    def init_state(self, n, *, key=None) -> TripletTraces:
        pre, post = jnp.zeros((self.n_inputs,)), jnp.zeros((n,))
        traces = TripletTraces(r1=pre, r2=pre, o1=post, o2=post, o1_at_spike=post, depress=pre)
        if not self.delay_taps:
            return traces
        taps = self.delay_taps
        return traces._replace(r1_history=jnp.zeros((taps, self.n_inputs)), o1_history=jnp.zeros((taps, n)),
                               depress_history=jnp.zeros((taps, self.n_inputs)), step=jnp.zeros(()))

    def vector_field(self, t, state: TripletTraces, inputs):
        return _held(state)._replace(r1=-state.r1 / self.tau_plus, r2=-state.r2 / self.tau_x,
                                     o1=-state.o1 / self.tau_minus, o2=-state.o2 / self.tau_y)

    def decay_rate(self, state, inputs):
        return jnp.max(1.0 / jnp.stack([self.tau_plus, self.tau_minus, self.tau_x, self.tau_y]))

    def linear_coefficient(self, state: TripletTraces, inputs):
        """``-1/tau`` of each exponential trace, 0 for the held values (1/s)."""
        def rate(x, tau):
            return jnp.broadcast_to(-1.0 / tau, x.shape)
        return _held(state)._replace(r1=rate(state.r1, self.tau_plus), r2=rate(state.r2, self.tau_x),
                                     o1=rate(state.o1, self.tau_minus), o2=rate(state.o2, self.tau_y))

    def residual_decay_rate(self, state, inputs):
        return jnp.zeros(())

    def on_presynaptic(self, state: TripletTraces, array, array_state, presynaptic, *, key=None):
        check_array("TripletSTDP", array, self.n_inputs, self.delay_taps)
        s = (presynaptic > 0).astype(state.r1.dtype)
        # r2 before its own jump; the depression is requested with the step's potentiation.
        depress = s * (self.a2_minus + self.a3_minus * state.r2)
        state = state._replace(r1=bump(state.r1, s, self.interaction), r2=bump(state.r2, s, self.interaction),
                               o1_at_spike=state.o1, depress=depress)
        if self.delay_taps:
            # This step into the ring; the spikes sent delay_taps - 1 steps ago (the oldest row,
            # next step's slot) have arrived on every connection: their depression is requested now.
            taps = self.delay_taps
            slot = jnp.mod(state.step, taps).astype(jnp.int32)
            oldest = jnp.mod(state.step + 1, taps).astype(jnp.int32)
            history = state.depress_history.at[slot].set(depress)
            state = state._replace(r1_history=state.r1_history.at[slot].set(state.r1),
                                   o1_history=state.o1_history.at[slot].set(state.o1),
                                   depress_history=history, depress=history[oldest],
                                   step=state.step + 1)
        return state, array_state

    def on_postsynaptic(self, state: TripletTraces, array, array_state, spikes, membrane_potential, *, key=None):
        per_neuron = spikes * (self.a2_plus + self.a3_plus * state.o2)

        def seen(columns):
            """``(o1 at the arrival, r1 as it arrived)`` per synapse ``(n, n_in | k)``; ``r1`` is
            ``None`` for ``columns`` (:func:`~memsnn.plasticity.pair.updated_at_spikes` changes
            columns alone only at a step without post-synaptic spikes: nothing is potentiated)."""
            if not self.delay_taps:
                return state.o1_at_spike[:, None], None if columns is not None else state.r1[None, :]
            taps, now = self.delay_taps, state.step - 1  # on_presynaptic counted this step
            m = array.delay_steps if columns is None else array.delay_steps.at[:, columns].get(mode="fill",
                                                                                                  fill_value=0)
            # Sent at now - (taps - 1), arrived at now - (taps - 1) + m: o1 in ring slot
            # (now + 1 + m) mod taps; r1 as it arrived, in slot (now - m) mod taps. Read as
            # gathers of one element per synapse (a sum over the taps of selections reads the
            # whole (n, n_in) taps times: ~10x slower on the CPU).
            now = now.astype(jnp.int32)
            arrival = jnp.mod(now + 1 + m, taps)
            o1 = state.o1_history[arrival, jnp.arange(m.shape[0])[:, None]]
            if columns is not None:
                return o1, None
            sent = jnp.mod(now - m, taps)
            return o1, state.r1_history[sent, jnp.arange(m.shape[1])[None, :]]

        def change(at, columns):
            o1, r1 = seen(columns)
            depress = scaled(o1 * at_columns(state.depress, columns)[None, :], depends(self, array, at, -1, columns))
            if r1 is None:
                return -depress
            potentiate = scaled(per_neuron[:, None] * r1, depends(self, array, at, +1, columns))
            return potentiate - depress

        array_state = updated_at_spikes(self, array, array_state, change, state.depress != 0, spikes != 0, key)
        state = state._replace(o1=bump(state.o1, spikes, self.interaction), o2=bump(state.o2, spikes, self.interaction),
                               o1_at_spike=jnp.zeros_like(state.o1_at_spike), depress=jnp.zeros_like(state.depress))
        return state, array_state
