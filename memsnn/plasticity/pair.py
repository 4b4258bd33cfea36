"""Pair-based STDP: all-to-all or nearest-neighbour spike interaction, additive or soft-bound.

Every spike of input ``j`` leaves a pre-synaptic trace ``x_j`` and every spike of neuron ``i`` a
post-synaptic trace ``y_i`` that decay exponentially (the rule's state, integrated by the solver)::

    dx/dt = -x / tau_plus,    dy/dt = -y / tau_minus,

    pre spike of j:   w_ij -= a_minus f_-(w_ij) y_i,   then x_j -> x_j + 1  (all-to-all)
                                                                or  x_j -> 1  (nearest)
    post spike of i:  w_ij += a_plus  f_+(w_ij) x_j,   then y_i -> y_i + 1  or  y_i -> 1

so a single pair with ``s = t_post - t_pre`` changes the weight by ``a_plus exp(-s / tau_plus)``
for ``s >= 0`` and ``-a_minus exp(s / tau_minus)`` for ``s < 0`` (the classic window of Bi & Poo
1998, in the form of Song, Miller & Abbott 2000). With all-to-all interaction every earlier
spike of the partner contributes (the traces add up); with nearest-neighbour interaction
(``interaction="nearest"``, the trace reset of Morrison, Diesmann & Gerstner 2008, "symmetric
nearest-spike") only the latest one does.

Weight dependence: ``"additive"`` (``f_+ = f_- = 1``; the array's hard bounds keep the weights in
range) or ``"multiplicative"`` (soft bounds, ``f_+ = (w_max - w) / w_max``, ``f_- = w / w_max``,
van Rossum, Bi & Turrigiano 2000 / Guetig et al. 2003 with mu = 1): changes shrink as a weight
approaches a bound, so weights settle inside ``[0, w_max]`` instead of piling up at the bounds.

The rule changes weights only through ``array.updated(array_state, delta)``: on a
:class:`~memsnn.arrays.PlasticDense` the change is exact (then clipped), on a memristive crossbar it
becomes programming of the devices with their own update law. Within one grid step the input
arrives before the layer's spikes are read, so a pre and a post spike on the same step count as
pre-before-post (``s = 0``, potentiation). The depression of the step's pre-synaptic spikes is
computed when they arrive (with the post-synaptic trace of that moment) and requested together
with the step's potentiation, in one ``updated`` call after the spikes are read: one pass over the
weight matrix per grid step instead of two (the slowest part of a simulation that learns), and one
programming event per step for a crossbar. Only the clipping at the hard bounds can tell the
difference.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from .._validation import _concrete, require_positive
from ..arrays import AbstractPlasticArray
from ..components import AbstractPlasticity

__all__ = ["PairSTDP", "PairTraces"]

Interaction = Literal["all", "nearest"]
WeightDependence = Literal["additive", "multiplicative"]


def check_choice(owner: str, name: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{owner}: {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}.")


def check_n_inputs(owner: str, n_inputs) -> int:
    if isinstance(n_inputs, bool) or not isinstance(n_inputs, int) or n_inputs < 1:
        raise ValueError(f"{owner}: n_inputs must be a positive integer (the array's number of inputs, "
                         f"array.n_inputs), got {n_inputs!r}.")
    return n_inputs


def check_array(owner: str, array, n_inputs: int, delay_taps: int | None = None) -> None:
    """Trace-time check that the rule was built for this array (clear error instead of a shape error).

    ``delay_taps``: the steps of trace history the rule keeps for an array with per-connection
    delays (``array.delay_taps``); ``None``: the rule does not read delayed arrays."""
    if not isinstance(array, AbstractPlasticArray):
        raise TypeError(f"{owner}: the layer's array must be a memsnn.arrays.AbstractPlasticArray, "
                        f"got {type(array).__name__}.")
    if array.n_inputs != n_inputs:
        raise ValueError(f"{owner}: the rule was built for n_inputs={n_inputs} but the layer's array has "
                         f"{array.n_inputs} inputs; build it with n_inputs=array.n_inputs.")
    if delay_taps is None and array.delay_taps:
        raise ValueError(f"{owner}: the layer's array delays its inputs ({type(array).__name__}), which this rule "
                         "does not read; use TripletSTDP(..., delay_taps=array.delay_taps) or an array without delays.")
    if delay_taps is not None and delay_taps != array.delay_taps:
        raise ValueError(f"{owner}: the rule keeps delay_taps={delay_taps} steps of trace history but the layer's "
                         f"array has delay_taps={array.delay_taps}; build the rule with delay_taps=array.delay_taps.")


def bump(trace: Float[Array, " n"], spikes: Float[Array, " n"], interaction: str) -> Float[Array, " n"]:
    """A trace after ``spikes`` (0/1): ``+1`` per spike (all-to-all) or reset to 1 (nearest)."""
    if interaction == "nearest":
        return jnp.where(spikes > 0, 1.0, trace).astype(trace.dtype)
    return trace + spikes


def depends(rule, array, array_state, sign: int, columns=None):
    """``f_+`` (``sign=+1``) or ``f_-`` (``sign=-1``) of the current weights ``(n, n_in)`` (or of
    the ``columns`` only, see :func:`at_columns`), ``None`` if additive."""
    if rule.weight_dependence == "additive":
        return None
    w = at_columns(array.weights(array_state), columns)
    return (rule.w_max - w) / rule.w_max if sign > 0 else w / rule.w_max


def scaled(change, factor):
    return change if factor is None else change * factor


def at_columns(x: Float[Array, "... n_in"], columns: Int[Array, " k"] | None) -> Float[Array, "... k"]:
    """``x`` at the input indices ``columns`` (an index ``n_in`` pads: 0 there); all of ``x`` for ``None``."""
    return x if columns is None else x.at[..., columns].get(mode="fill", fill_value=0)


# The change a pair or triplet rule requests at a grid step without post-synaptic spikes is the
# depression of that step's pre-synaptic spikes: a few columns of the weight matrix (Diehl & Cook's
# 784 Poisson inputs: ~3 spikes per 0.5 ms step, 12 at the brightest re-presentation). Up to this
# many columns are changed alone (array.updated_columns); a step with more, or with a
# post-synaptic spike (a whole row changes), takes the full update. Arrays with at most twice as
# many inputs always take the full update (it costs no more).
SPARSE_COLUMNS = 32


def updated_at_spikes(rule, array, array_state, change, pre_spiked: Bool[Array, " n_in"],
                      post_spiked: Bool[Array, " n"], key: PRNGKeyArray | None = None):
    """``array.updated(array_state, change(array_state, None))``, the same state, changing only the
    columns of ``pre_spiked`` when no neuron spiked (``post_spiked``) and they are at most
    :data:`SPARSE_COLUMNS`.

    ``change(state, columns)`` is the rule's requested change at ``state``: ``(n, n_in)`` for
    ``columns=None``, the columns ``columns`` ``(k,)`` (padded with ``n_in``) otherwise; outside
    ``pre_spiked`` it must be zero when ``post_spiked`` is all false (the depression of a
    pre-synaptic spike; potentiation needs a post-synaptic one). The saving is in a run of one
    network instance (:func:`memsnn.simulate` runs a batch of one unvmapped); under ``vmap`` the
    full update's loop is masked over the whole batch.

    ``key``: the write noise of the step (passed to ``updated`` / ``updated_columns``; whichever
    of the two runs draws from it).
    """
    n_in = pre_spiked.shape[-1]
    if n_in <= 2 * SPARSE_COLUMNS:
        return array.updated(array_state, change(array_state, None), key=key)
    sparse = ~jnp.any(post_spiked) & (jnp.sum(pre_spiked) <= SPARSE_COLUMNS)
    # Either the columns alone (all indices n_in, nothing changed, when the step is not sparse) ...
    columns = jnp.where(sparse, jnp.nonzero(pre_spiked, size=SPARSE_COLUMNS, fill_value=n_in)[0], n_in)
    array_state = array.updated_columns(array_state, columns, change(array_state, columns), key=key)
    # ... or the full update: a loop of zero or one pass rather than a lax.cond, whose operands XLA
    # copies (the weight matrix at every step) where a loop updates its carry in place.
    def full(carry):
        state, _ = carry
        return array.updated(state, change(state, None), key=key), jnp.zeros((), bool)

    state, _ = jax.lax.while_loop(lambda carry: carry[1], full, (array_state, ~sparse))
    return state


class PairTraces(NamedTuple):
    """State of :class:`PairSTDP`: traces ``pre`` ``(n_inputs,)`` and ``post`` ``(n,)``
    (dimensionless), and the depression of this grid step's pre-synaptic spikes, ``depress``
    ``(n, n_inputs)`` rank one as ``post_at_spike (n,)`` times ``pre_spikes (n_inputs,)``: requested
    with the step's potentiation after the spikes are read."""

    pre: Float[Array, " n_in"]
    post: Float[Array, " n"]
    post_at_spike: Float[Array, " n"]
    pre_spikes: Float[Array, " n_in"]


class PairSTDP(AbstractPlasticity):
    """Pair-based STDP (module docstring for the equations).

    Attributes:
        n_inputs: number of inputs of the layer's array (the length of the pre-synaptic trace).
        a_plus, a_minus: potentiation and depression amplitudes (weight units), >= 0 (0 turns that
            side of the rule off).
        tau_plus, tau_minus: time constants of the pre- and post-synaptic traces (s).
        interaction: ``"all"`` (all-to-all) or ``"nearest"`` (nearest-neighbour).
        weight_dependence: ``"additive"`` or ``"multiplicative"`` (soft bounds).
        w_max: the upper soft bound (weight units) of the multiplicative rule.
    """

    n_inputs: int = eqx.field(static=True)
    a_plus: Float[Array, ""]
    a_minus: Float[Array, ""]
    tau_plus: Float[Array, ""]
    tau_minus: Float[Array, ""]
    interaction: str = eqx.field(static=True)
    weight_dependence: str = eqx.field(static=True)
    w_max: float = eqx.field(static=True)

    def __init__(self, n_inputs: int, *, a_plus=0.01, a_minus=0.0105, tau_plus=20e-3, tau_minus=20e-3,
                 interaction: Interaction = "all", weight_dependence: WeightDependence = "additive", w_max=1.0):
        self.n_inputs = check_n_inputs("PairSTDP", n_inputs)
        check_choice("PairSTDP", "interaction", interaction, ("all", "nearest"))
        check_choice("PairSTDP", "weight_dependence", weight_dependence, ("additive", "multiplicative"))
        self.a_plus, self.a_minus = jnp.asarray(a_plus, dtype=float), jnp.asarray(a_minus, dtype=float)
        self.tau_plus, self.tau_minus = jnp.asarray(tau_plus, dtype=float), jnp.asarray(tau_minus, dtype=float)
        self.interaction, self.weight_dependence, self.w_max = interaction, weight_dependence, float(w_max)

    def __check_init__(self):
        for name in ("a_plus", "a_minus"):
            value = _concrete(getattr(self, name))
            if value is not None and not (np.all(np.isfinite(value)) and np.all(value >= 0)):
                raise ValueError(f"PairSTDP: {name} must be a finite amplitude >= 0 (weight units; 0 turns that "
                                 f"side of the rule off), got {value}.")
        for name in ("tau_plus", "tau_minus"):
            require_positive("PairSTDP", name, getattr(self, name), "s")
        require_positive("PairSTDP", "w_max", self.w_max)

    def init_state(self, n, *, key=None) -> PairTraces:
        pre, post = jnp.zeros((self.n_inputs,)), jnp.zeros((n,))
        return PairTraces(pre=pre, post=post, post_at_spike=post, pre_spikes=pre)

    def vector_field(self, t, state: PairTraces, inputs):
        zero = jnp.zeros_like
        return PairTraces(pre=-state.pre / self.tau_plus, post=-state.post / self.tau_minus,
                          post_at_spike=zero(state.post_at_spike), pre_spikes=zero(state.pre_spikes))

    def decay_rate(self, state, inputs):
        return jnp.maximum(1.0 / self.tau_plus, 1.0 / self.tau_minus)

    def linear_coefficient(self, state: PairTraces, inputs):
        """``-1/tau`` of each exponential trace, 0 for the held values (1/s)."""
        zero = jnp.zeros_like
        return PairTraces(pre=jnp.broadcast_to(-1.0 / self.tau_plus, state.pre.shape),
                          post=jnp.broadcast_to(-1.0 / self.tau_minus, state.post.shape),
                          post_at_spike=zero(state.post_at_spike), pre_spikes=zero(state.pre_spikes))

    def residual_decay_rate(self, state, inputs):
        return jnp.zeros(())

    def on_presynaptic(self, state: PairTraces, array, array_state, presynaptic, *, key=None):
        check_array("PairSTDP", array, self.n_inputs)
        pre_spikes = (presynaptic > 0).astype(state.pre.dtype)
        # The depression is requested with the step's potentiation (module docstring).
        return state._replace(pre=bump(state.pre, pre_spikes, self.interaction), post_at_spike=state.post,
                              pre_spikes=pre_spikes), array_state

    def on_postsynaptic(self, state: PairTraces, array, array_state, spikes, membrane_potential, *, key=None):
        def change(at, columns):
            pre_spikes = at_columns(state.pre_spikes, columns)
            depress = self.a_minus * scaled(state.post_at_spike[:, None] * pre_spikes[None, :],
                                            depends(self, array, at, -1, columns))
            potentiate = self.a_plus * scaled(spikes[:, None] * at_columns(state.pre, columns)[None, :],
                                              depends(self, array, at, +1, columns))
            return potentiate - depress

        array_state = updated_at_spikes(self, array, array_state, change, state.pre_spikes != 0, spikes != 0, key)
        zero = jnp.zeros_like
        return state._replace(post=bump(state.post, spikes, self.interaction), post_at_spike=zero(state.post_at_spike),
                              pre_spikes=zero(state.pre_spikes)), array_state
