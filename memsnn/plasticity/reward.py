"""Reward-modulated STDP: Florian 2007 (MSTDP, MSTDPET) and Izhikevich 2007.

The pair-STDP change of a grid step, ``zeta_ij`` (:mod:`memsnn.plasticity.pair`: ``a_plus x_j`` at a
post spike of ``i``, ``-a_minus y_i`` at a pre spike of ``j``), is not applied; it is gated by a
reward signal ``r`` (the rule's state):

* MSTDP (``tau_eligibility=None``, Florian 2007): ``dw/dt = gamma r zeta``, i.e. at every spike
  event ``dw = gamma r zeta``.
* MSTDPET (``tau_eligibility`` > 0, Florian 2007; Izhikevich 2007's eligibility trace ``c``):
  ``de/dt = -e / tau_eligibility + zeta``, ``dw/dt = gamma r e``: a change that happened up to
  ~``tau_eligibility`` ago is credited when the reward comes (the distal-reward problem).

The reward channel is the rule's state ``reward`` (one scalar per network instance): set it between
runs with :func:`set_reward` on a ``Trace.final_state`` and continue with
``simulate(..., initial_state=...)`` (a reward that follows an episode, as in reinforcement
learning), or at t = 0 with ``RewardSTDP(initial_reward=...)``. With ``tau_reward`` the reward
decays like Izhikevich's dopamine concentration (``dd/dt = -d / tau_d``, a pulse = a jump of
``reward``); without it, it is held (Florian's ``r(t)`` piecewise constant).

With ``r = 0`` nothing changes: the rule requests a zero change, which leaves weights in the
array's bounds exactly where they are.

**Baseline** (``baseline_rate``, the "reward prediction" of Frémaux, Sprekeler & Gerstner 2010;
Williams 1992's REINFORCE baseline): the weights follow ``dw = gamma e (r - b)`` instead of
``gamma e r``, where ``b`` is a running mean of the rewards delivered so far. Each delivery with
:func:`set_reward` stores the modulator ``r - b`` and then moves ``b`` towards ``r`` by
``baseline_rate`` (``b <- b + baseline_rate (r - b)``). Without it (``None``), rewards that are
always positive (a reward only for a correct answer) reinforce whatever the neurons did, correct
or not; with it, only better-than-usual outcomes potentiate and worse ones depress.

With an eligibility trace the weight change is continuous: the rule integrates
``gamma r e`` over each grid step in its state (``pending``, integrated by the solver with
everything else) and requests it from the array once per step, after the spikes are read.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._validation import require_positive
from ..components import AbstractPlasticity
from .pair import check_array, check_n_inputs

__all__ = ["RewardSTDP", "RewardTraces", "set_reward"]


class RewardTraces(NamedTuple):
    """State of :class:`RewardSTDP`.

    Attributes:
        pre, post: STDP traces ``(n_inputs,)``, ``(n,)``.
        reward: the reward signal ``r``, ``()`` (dimensionless).
        eligibility: ``(n, n_inputs)`` eligibility trace ``e`` (``None`` for MSTDP).
        pending: ``(n, n_inputs)`` ``gamma r e`` integrated since the last request (``None`` for MSTDP).
        post_at_spike, pre_spikes: this grid step's pre-synaptic events (see :mod:`memsnn.plasticity.pair`).
        baseline: the running mean ``b`` of the delivered rewards, ``()`` (``None`` without a baseline).
        baseline_rate: how far ``b`` moves towards each delivered reward, ``()`` (``None`` without).
    """

    pre: Float[Array, " n_in"]
    post: Float[Array, " n"]
    reward: Float[Array, ""]
    eligibility: Float[Array, "n n_in"] | None
    pending: Float[Array, "n n_in"] | None
    post_at_spike: Float[Array, " n"]
    pre_spikes: Float[Array, " n_in"]
    baseline: Float[Array, ""] | None = None
    baseline_rate: Float[Array, ""] | None = None


class RewardSTDP(AbstractPlasticity):
    """Reward-modulated pair STDP (module docstring for the equations).

    Attributes:
        n_inputs: number of inputs of the layer's array.
        a_plus, a_minus, tau_plus, tau_minus: the STDP window (all-to-all traces).
        learning_rate: ``gamma`` (weight units per unit reward per unit ``zeta``; MSTDPET: per s).
        tau_eligibility: eligibility time constant (s), ``None`` for MSTDP.
        tau_reward: decay time of the reward (s), ``None`` to hold it.
        initial_reward: ``r`` at t = 0 of a fresh state.
        baseline_rate: in ``(0, 1]``: subtract a running mean of the rewards (module docstring);
            ``None``: no baseline (``dw = gamma e r``).
        initial_baseline: ``b`` of a fresh state (with ``baseline_rate``).
    """

    n_inputs: int = eqx.field(static=True)
    a_plus: Float[Array, ""]
    a_minus: Float[Array, ""]
    tau_plus: Float[Array, ""]
    tau_minus: Float[Array, ""]
    learning_rate: Float[Array, ""]
    tau_eligibility: Float[Array, ""] | None
    tau_reward: Float[Array, ""] | None
    initial_reward: Float[Array, ""]
    baseline_rate: Float[Array, ""] | None
    initial_baseline: Float[Array, ""]

    def __init__(self, n_inputs: int, *, a_plus=1.0, a_minus=1.05, tau_plus=20e-3, tau_minus=20e-3, learning_rate=0.01,
                 tau_eligibility=None, tau_reward=None, initial_reward=0.0, baseline_rate=None, initial_baseline=0.0):
        self.n_inputs = check_n_inputs("RewardSTDP", n_inputs)
        f = lambda x: None if x is None else jnp.asarray(x, dtype=float)  # noqa: E731
        self.a_plus, self.a_minus, self.tau_plus, self.tau_minus = map(f, (a_plus, a_minus, tau_plus, tau_minus))
        self.learning_rate, self.tau_eligibility, self.tau_reward = map(f, (learning_rate, tau_eligibility, tau_reward))
        self.initial_reward = f(initial_reward)
        self.baseline_rate, self.initial_baseline = f(baseline_rate), f(initial_baseline)

    def __check_init__(self):
        for name in ("tau_plus", "tau_minus", "tau_eligibility", "tau_reward"):
            if getattr(self, name) is not None:
                require_positive("RewardSTDP", name, getattr(self, name), "s")
        if self.baseline_rate is not None and not isinstance(self.baseline_rate, jax.core.Tracer):
            if not 0 < float(self.baseline_rate) <= 1:
                raise ValueError(f"RewardSTDP: baseline_rate must lie in (0, 1] (the fraction of the way the "
                                 f"baseline moves towards each reward), got {float(self.baseline_rate)}; None "
                                 "for no baseline.")

    @classmethod
    def izhikevich(cls, n_inputs: int, **overrides) -> "RewardSTDP":
        """Izhikevich 2007's parameters: A+ = 1, A- = 1.5, tau = 20 ms, eligibility 1 s, dopamine
        decay 200 ms (weights in his units, mV per spike; scale ``learning_rate`` to yours)."""
        params = dict(a_plus=1.0, a_minus=1.5, tau_plus=20e-3, tau_minus=20e-3, learning_rate=1.0,
                      tau_eligibility=1.0, tau_reward=0.2)
        return cls(n_inputs, **{**params, **overrides})

    @property
    def eligible(self) -> bool:
        """Whether the rule has an eligibility trace (MSTDPET) or applies ``gamma r zeta`` at once (MSTDP)."""
        return self.tau_eligibility is not None

    def init_state(self, n, *, key=None) -> RewardTraces:
        pre, post = jnp.zeros((self.n_inputs,)), jnp.zeros((n,))
        matrix = jnp.zeros((n, self.n_inputs)) if self.eligible else None
        baseline = None if self.baseline_rate is None else self.initial_baseline
        return RewardTraces(pre=pre, post=post, reward=self.initial_reward, eligibility=matrix, pending=matrix,
                            post_at_spike=post, pre_spikes=pre, baseline=baseline, baseline_rate=self.baseline_rate)

    def vector_field(self, t, state: RewardTraces, inputs):
        zero = jnp.zeros_like
        decayed = zero(state.reward) if self.tau_reward is None else -state.reward / self.tau_reward
        eligibility = pending = None
        if self.eligible:
            eligibility = -state.eligibility / self.tau_eligibility
            pending = self.learning_rate * state.reward * state.eligibility
        constant = lambda x: None if x is None else zero(x)  # noqa: E731
        return RewardTraces(pre=-state.pre / self.tau_plus, post=-state.post / self.tau_minus, reward=decayed,
                            eligibility=eligibility, pending=pending, post_at_spike=zero(state.post_at_spike),
                            pre_spikes=zero(state.pre_spikes), baseline=constant(state.baseline),
                            baseline_rate=constant(state.baseline_rate))

    def decay_rate(self, state, inputs):
        rates = [1.0 / self.tau_plus, 1.0 / self.tau_minus]
        rates += [1.0 / tau for tau in (self.tau_eligibility, self.tau_reward) if tau is not None]
        return jnp.max(jnp.stack(rates))

    def on_presynaptic(self, state: RewardTraces, array, array_state, presynaptic, *, key=None):
        check_array("RewardSTDP", array, self.n_inputs)
        s = (presynaptic > 0).astype(state.pre.dtype)
        return state._replace(pre=state.pre + s, post_at_spike=state.post, pre_spikes=s), array_state

    def on_postsynaptic(self, state: RewardTraces, array, array_state, spikes, membrane_potential, *, key=None):
        zeta = (self.a_plus * spikes[:, None] * state.pre[None, :]
                - self.a_minus * state.post_at_spike[:, None] * state.pre_spikes[None, :])
        zero = jnp.zeros_like
        state = state._replace(post=state.post + spikes, post_at_spike=zero(state.post_at_spike),
                               pre_spikes=zero(state.pre_spikes))
        if self.eligible:
            array_state = array.updated(array_state, state.pending, key=key)
            return state._replace(eligibility=state.eligibility + zeta, pending=zero(state.pending)), array_state
        return state, array.updated(array_state, self.learning_rate * state.reward * zeta, key=key)


def set_reward(network_state: tuple, layer: int, reward) -> tuple:
    """``network_state`` (a batched ``Trace.final_state``) with layer ``layer``'s reward set to
    ``reward`` (a scalar for every network instance, or ``(batch,)``), to continue with
    ``simulate(..., initial_state=...)``.

    With a baseline (``RewardSTDP(baseline_rate=...)``) this is one delivery: the stored modulator
    is ``reward - b``, then ``b`` moves towards ``reward`` by ``baseline_rate``.

    Raises:
        TypeError: that layer's rule is not a :class:`RewardSTDP` (its state has no reward).
    """
    layer_state = network_state[layer]
    if not isinstance(layer_state.plasticity, RewardTraces):
        raise TypeError(f"set_reward: layer {layer} has no reward-modulated rule (its plasticity state is "
                        f"{type(layer_state.plasticity).__name__}); use memsnn.plasticity.RewardSTDP there.")
    traces = layer_state.plasticity
    old = traces.reward
    reward = jnp.broadcast_to(jnp.asarray(reward, old.dtype), old.shape)
    if traces.baseline is None:
        plasticity = traces._replace(reward=reward)
    else:
        b = traces.baseline
        plasticity = traces._replace(reward=reward - b, baseline=b + traces.baseline_rate * (reward - b))
    return tuple(s._replace(plasticity=plasticity) if i == layer else s for i, s in enumerate(network_state))
