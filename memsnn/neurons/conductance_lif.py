"""Conductance-based LIF neurons with an adaptive threshold, and a population with lateral inhibition.

:class:`ConductanceLIF` is the neuron of Diehl & Cook (2015) (and of most STDP models): the input
changes a conductance rather than injecting a charge,

    tau dv/dt = (v_rest - v) + g_exc (E_exc - v) + g_inh (E_inh - v) + R I,
    dg_exc/dt = -g_exc / tau_exc,    dg_inh/dt = -g_inh / tau_inh,
    dtheta/dt = -theta / tau_theta,

with a spike when ``v > v_threshold + theta`` outside the refractory period; the spike resets
``v`` to ``v_reset``, holds it there for ``refractory`` seconds (with ``clamp_refractory=False``
it integrates on and only spikes are blocked) and raises the threshold by ``theta_plus``
(homeostasis: a neuron that fires a lot becomes harder to fire). Conductances are
in units of the leak conductance (dimensionless), as in Diehl & Cook's code: an input impulse of
weight ``w`` (the synapse array's output) is a jump ``g_exc += w``.

:class:`InhibitedPopulation` is Diehl & Cook's excitatory population together with its
inhibitory partner population: excitatory neuron ``i`` drives inhibitory neuron ``i`` (one to
one), and every inhibitory spike raises the inhibitory conductance of all *other* excitatory
neurons (lateral inhibition, a soft winner-take-all).

Why one neuron component and not two layers: a :class:`~memsnn.Network` is feed-forward (spikes go
from layer ``i`` to layer ``i + 1`` only), and lateral inhibition is a loop, excitatory ->
inhibitory -> excitatory. Expressed as the event map of one population (both populations' states
are the slot's state; the inhibitory neurons are simulated, not replaced by an instantaneous
winner-take-all), the loop closes inside :meth:`InhibitedPopulation.on_spike` with the same
one-grid-step delay per connection as a clock-driven simulator (Brian2) has, and the network stays
feed-forward: input -> (plastic array) -> inhibited population.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._validation import require_positive
from ._base import AbstractNeuron

__all__ = ["ConductanceLIF", "ConductanceLIFState", "InhibitedPopulation", "InhibitedPopulationState"]

# A refractory neuron is one with more than this left of its refractory period (s). The countdown is
# integrated by the solver (Euler: exactly ``dt`` per step up to rounding), so a period of k grid
# steps ends after k steps instead of k + 1 because of a rounding residue of ~1e-12 s.
_REFRACTORY_EPS = 1e-7


class ConductanceLIFState(NamedTuple):
    """State of ``n`` conductance-based LIF neurons, each ``(n,)``.

    Attributes:
        v: membrane potential (V).
        g_exc, g_inh: excitatory and inhibitory conductances, in units of the leak conductance.
        theta: adaptive threshold offset (V), added to ``v_threshold``.
        refractory: time left of the refractory period (s); ``<= 0`` outside it.
    """

    v: Float[Array, " n"]
    g_exc: Float[Array, " n"]
    g_inh: Float[Array, " n"]
    theta: Float[Array, " n"]
    refractory: Float[Array, " n"]


class ConductanceLIF(AbstractNeuron):
    """Conductance-based leaky integrate-and-fire neuron with an adaptive threshold (module docstring).

    The defaults are Diehl & Cook's excitatory neurons (their code's ``v_thresh_e - offset`` is
    ``v_threshold`` = -72 mV, and their training starts from ``theta_init`` = 20 mV, so the first
    spikes need -52 mV).

    Attributes:
        tau: membrane time constant (s).
        v_rest, v_reset, v_threshold: rest, reset and base threshold potentials (V).
        e_exc, e_inh: reversal potentials of the excitatory and inhibitory conductances (V).
        tau_exc, tau_inh: decay times of the conductances (s).
        refractory: refractory period (s), during which the neuron cannot spike.
        clamp_refractory: ``True`` (default): ``v`` is also held at ``v_reset`` during the
            refractory period (no integration). ``False``: ``v`` integrates from ``v_reset`` as
            outside it and only the spike is blocked, as Diehl & Cook's Brian 1 code does for its
            excitatory neurons (their reset is a statement list, which Brian 1 does not clamp; only
            spikes within ``refractory`` are dropped), so a neuron driven hard fires again right
            at the end of the period.
        theta_plus: threshold increase per spike (V); 0 turns the adaptation off (testing).
        tau_theta: decay time of the threshold increase (s).
        theta_init: ``theta`` at t = 0 (V), scalar or ``(n,)``.
        resistance: membrane resistance for a current drive (Ohm): ``R I`` is in volts.
    """

    tau: Float[Array, "..."]
    v_rest: Float[Array, "..."]
    v_reset: Float[Array, "..."]
    v_threshold: Float[Array, "..."]
    e_exc: Float[Array, "..."]
    e_inh: Float[Array, "..."]
    tau_exc: Float[Array, "..."]
    tau_inh: Float[Array, "..."]
    refractory: Float[Array, "..."]
    theta_plus: Float[Array, "..."]
    tau_theta: Float[Array, "..."]
    theta_init: Float[Array, "..."]
    resistance: Float[Array, "..."]
    clamp_refractory: bool = eqx.field(static=True)

    def __init__(self, tau=100e-3, v_rest=-65e-3, v_reset=-65e-3, v_threshold=-72e-3, e_exc=0.0, e_inh=-100e-3,
                 tau_exc=1e-3, tau_inh=2e-3, refractory=5e-3, theta_plus=0.05e-3, tau_theta=1e4, theta_init=20e-3,
                 resistance=1.0, clamp_refractory: bool = True):
        as_float = lambda x: jnp.asarray(x, dtype=float)  # noqa: E731
        self.tau, self.v_rest, self.v_reset, self.v_threshold = map(as_float, (tau, v_rest, v_reset, v_threshold))
        self.e_exc, self.e_inh, self.tau_exc, self.tau_inh = map(as_float, (e_exc, e_inh, tau_exc, tau_inh))
        self.refractory, self.theta_plus, self.tau_theta = map(as_float, (refractory, theta_plus, tau_theta))
        self.theta_init, self.resistance = as_float(theta_init), as_float(resistance)
        if not isinstance(clamp_refractory, bool):
            raise ValueError(f"ConductanceLIF: clamp_refractory must be True or False, got {clamp_refractory!r}.")
        self.clamp_refractory = clamp_refractory

    def __check_init__(self):
        for name in ("tau", "tau_exc", "tau_inh", "tau_theta", "resistance"):
            require_positive("ConductanceLIF", name, getattr(self, name), "s" if name.startswith("tau") else "Ohm")

    @classmethod
    def diehl_cook_inhibitory(cls) -> "ConductanceLIF":
        """Diehl & Cook's inhibitory neurons: tau 10 ms, rest -60 mV, reset -45 mV, threshold
        -40 mV, E_inh -85 mV, refractory 2 ms, no adaptation."""
        return cls(tau=10e-3, v_rest=-60e-3, v_reset=-45e-3, v_threshold=-40e-3, e_inh=-85e-3, refractory=2e-3,
                   theta_plus=0.0, theta_init=0.0)

    def init_state(self, n: int, *, key=None) -> ConductanceLIFState:
        zeros = jnp.zeros((n,))
        return ConductanceLIFState(v=zeros + self.v_rest, g_exc=zeros, g_inh=zeros, theta=zeros + self.theta_init,
                                   refractory=zeros)

    def vector_field(self, t, state: ConductanceLIFState, current):
        free = state.refractory <= _REFRACTORY_EPS
        integrates = self._integrates(free)
        drive = (self.v_rest - state.v + state.g_exc * (self.e_exc - state.v) + state.g_inh * (self.e_inh - state.v)
                 + self.resistance * current)
        return ConductanceLIFState(
            v=jnp.where(integrates, drive / self.tau, 0.0),
            g_exc=-state.g_exc / self.tau_exc,
            g_inh=-state.g_inh / self.tau_inh,
            theta=-state.theta / self.tau_theta,
            # The countdown stops at 0 instead of running negative for ever (float32 would lose it).
            refractory=jnp.where(free, 0.0, -1.0) + 0.0 * state.refractory,
        )

    def _integrates(self, free):
        """Where ``v`` integrates: outside the refractory period, or everywhere without the clamp."""
        return free if self.clamp_refractory else jnp.ones_like(free)

    def membrane_potential(self, state):
        return state.v

    def spikes(self, state):
        fires = (state.v > self.v_threshold + state.theta) & (state.refractory <= _REFRACTORY_EPS)
        return fires.astype(state.v.dtype)

    def threshold_function(self, state):
        """``v - (v_threshold + theta)`` (V): a spike is its upward crossing of 0 (outside the
        refractory period)."""
        return state.v - (self.v_threshold + state.theta)

    def on_spike(self, state, spikes):
        return state._replace(v=jnp.where(spikes > 0, self.v_reset, state.v),
                              theta=state.theta + self.theta_plus * spikes,
                              refractory=jnp.where(spikes > 0, self.refractory, jnp.maximum(state.refractory, 0.0)))

    @property
    def has_event_rule(self) -> bool:
        return True

    def on_impulse(self, state, weight):
        """An input impulse of weight ``weight`` (units of the leak conductance) opens excitatory
        conductance; negative weights open inhibitory conductance."""
        return state._replace(g_exc=state.g_exc + jnp.maximum(weight, 0.0),
                              g_inh=state.g_inh + jnp.maximum(-weight, 0.0))

    def decay_rate(self, state, current):
        membrane = (1.0 + state.g_exc + state.g_inh) / self.tau
        rate = jnp.maximum(membrane, jnp.maximum(1.0 / self.tau_exc, 1.0 / self.tau_inh))
        return jnp.broadcast_to(rate, state.v.shape)

    def linear_coefficient(self, state, current):
        """``-(1 + g_exc + g_inh) / tau`` for ``v`` (0 while refractory with the clamp, where ``v`` is held),
        ``-1 / tau_exc``, ``-1 / tau_inh``, ``-1 / tau_theta``, and 0 for the countdown (1/s):
        the whole field is linear in each variable, so exponential Euler solves every one exactly
        for conductances frozen over the step."""
        free = state.refractory <= _REFRACTORY_EPS
        shape = state.v.shape
        return ConductanceLIFState(
            v=jnp.where(self._integrates(free), -(1.0 + state.g_exc + state.g_inh) / self.tau, 0.0),
            g_exc=jnp.broadcast_to(-1.0 / self.tau_exc, shape),
            g_inh=jnp.broadcast_to(-1.0 / self.tau_inh, shape),
            theta=jnp.broadcast_to(-1.0 / self.tau_theta, shape),
            refractory=jnp.zeros_like(state.refractory),
        )

    def residual_decay_rate(self, state, current):
        """0: :meth:`linear_coefficient` holds every decay of the field."""
        return jnp.zeros_like(state.v)


class InhibitedPopulationState(NamedTuple):
    """State of an :class:`InhibitedPopulation`: both populations' states, ``(n,)`` leaves each."""

    excitatory: ConductanceLIFState
    inhibitory: ConductanceLIFState


class InhibitedPopulation(AbstractNeuron):
    """Excitatory neurons with one inhibitory partner each and lateral inhibition (module docstring).

    The layer's input, spikes and membrane potential are the excitatory population's. At every grid
    step, after the excitatory spikes are read: each spike opens ``w_exc_inh`` of excitatory
    conductance on its inhibitory partner; the inhibitory spikes are read and reset; each opens
    ``w_inh_exc`` of inhibitory conductance on every excitatory neuron except its own partner.
    Defaults: Diehl & Cook (10.4 and 17.0).

    Attributes:
        excitatory, inhibitory: the two populations (:class:`ConductanceLIF`).
        w_exc_inh: excitatory -> inhibitory weight, one to one (units of the leak conductance).
        w_inh_exc: inhibitory -> excitatory weight, to all but the partner.
    """

    excitatory: ConductanceLIF
    inhibitory: ConductanceLIF
    w_exc_inh: Float[Array, ""]
    w_inh_exc: Float[Array, ""]

    def __init__(self, excitatory: ConductanceLIF | None = None, inhibitory: ConductanceLIF | None = None,
                 w_exc_inh=10.4, w_inh_exc=17.0):
        self.excitatory = ConductanceLIF() if excitatory is None else excitatory
        self.inhibitory = ConductanceLIF.diehl_cook_inhibitory() if inhibitory is None else inhibitory
        for name, value in (("excitatory", self.excitatory), ("inhibitory", self.inhibitory)):
            if not isinstance(value, ConductanceLIF):
                raise TypeError(f"InhibitedPopulation: {name} must be a memsnn.neurons.ConductanceLIF, "
                                f"got {type(value).__name__}.")
        self.w_exc_inh = jnp.asarray(w_exc_inh, dtype=float)
        self.w_inh_exc = jnp.asarray(w_inh_exc, dtype=float)

    def init_state(self, n: int, *, key=None) -> InhibitedPopulationState:
        return InhibitedPopulationState(self.excitatory.init_state(n), self.inhibitory.init_state(n))

    def vector_field(self, t, state, current):
        return InhibitedPopulationState(self.excitatory.vector_field(t, state.excitatory, current),
                                        self.inhibitory.vector_field(t, state.inhibitory, jnp.zeros_like(current)))

    def membrane_potential(self, state):
        return state.excitatory.v

    def spikes(self, state):
        return self.excitatory.spikes(state.excitatory)

    def threshold_function(self, state):
        """The excitatory population's (the layer's spikes are theirs)."""
        return self.excitatory.threshold_function(state.excitatory)

    def on_spike(self, state, spikes):
        exc = self.excitatory.on_spike(state.excitatory, spikes)
        inh = state.inhibitory
        inh_spikes = self.inhibitory.spikes(inh)
        inh = self.inhibitory.on_spike(inh, inh_spikes)
        inh = inh._replace(g_exc=inh.g_exc + self.w_exc_inh * spikes)
        exc = exc._replace(g_inh=exc.g_inh + self.w_inh_exc * (jnp.sum(inh_spikes) - inh_spikes))
        return InhibitedPopulationState(exc, inh)

    @property
    def has_event_rule(self) -> bool:
        return True

    def on_impulse(self, state, weight):
        return state._replace(excitatory=self.excitatory.on_impulse(state.excitatory, weight))

    def decay_rate(self, state, current):
        return jnp.maximum(self.excitatory.decay_rate(state.excitatory, current),
                           self.inhibitory.decay_rate(state.inhibitory, jnp.zeros_like(current)))

    def linear_coefficient(self, state, current):
        return InhibitedPopulationState(self.excitatory.linear_coefficient(state.excitatory, current),
                                        self.inhibitory.linear_coefficient(state.inhibitory, jnp.zeros_like(current)))

    def residual_decay_rate(self, state, current):
        return jnp.maximum(self.excitatory.residual_decay_rate(state.excitatory, current),
                           self.inhibitory.residual_decay_rate(state.inhibitory, jnp.zeros_like(current)))
