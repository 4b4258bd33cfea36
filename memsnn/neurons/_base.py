"""The neuron interface: a continuous vector field plus an optional event rule (spike and reset)."""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
from jaxtyping import Array, Float

NeuronState = Any  # a pytree of arrays, each of shape (n,)


class AbstractNeuron(eqx.Module):
    """A population of ``n`` neurons of one kind (one sample, no batch axis).

    Parameters are scalars or ``(n,)`` arrays (device-to-device variation) and broadcast. The
    membrane current ``current`` (A, shape ``(n,)``) is the sum of synaptic current and any direct
    drive; everything is SI.
    """

    @abc.abstractmethod
    def init_state(self, n: int) -> NeuronState:
        """State at t = 0 for ``n`` neurons."""

    @abc.abstractmethod
    def vector_field(self, state: NeuronState, current: Float[Array, " n"]) -> NeuronState:
        """d(state)/dt in SI units per second."""

    @abc.abstractmethod
    def membrane_potential(self, state: NeuronState) -> Float[Array, " n"]:
        """Membrane potential (V)."""

    @abc.abstractmethod
    def spikes(self, state: NeuronState) -> Float[Array, " n"]:
        """Spike indicator (0/1 as float) read off the state at a grid point."""

    def reset(self, state: NeuronState, spikes: Float[Array, " n"]) -> NeuronState:
        """Event rule applied after a spike; the identity for neurons without one (MIF)."""
        return state

    @property
    def has_event_rule(self) -> bool:
        """Whether :meth:`reset` changes the state (then spikes must be checked every grid step)."""
        return False

    def inject_charge(self, state: NeuronState, charge: Float[Array, " n"]) -> NeuronState:
        """Impulse input without a synapse: a charge ``charge`` (C) lands on the membrane."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot take impulse input without a synapse; give the layer a "
            "synapse (AlphaSynapse, ExponentialSynapse)."
        )

    @abc.abstractmethod
    def decay_rate(self, state: NeuronState, current: Float[Array, " n"]) -> Float[Array, " n"]:
        """Largest local decay rate |d f / d y| (1/s): explicit steps are stable while dt * rate < ~2."""

    def sequential_step(self, state: NeuronState, current: Float[Array, " n"], dt: float) -> NeuronState:
        """One Gauss-Seidel explicit step (the SPICEprop ordering); plain Euler unless overridden."""
        deriv = self.vector_field(state, current)
        return type(state)(*(s + dt * d for s, d in zip(state, deriv)))
