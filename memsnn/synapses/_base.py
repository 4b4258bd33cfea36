"""The synapse interface: a linear filter from impulse inputs to a membrane current."""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
from jaxtyping import Array, Float

SynapseState = Any


class AbstractSynapse(eqx.Module):
    """A bank of ``n`` current synapses (one per post-synaptic neuron, one sample).

    An impulse of weight ``w`` (A) arriving at time ``t`` is a jump of the state (:meth:`inject`);
    between impulses the state follows :meth:`vector_field`; :meth:`current` (A) drives the membrane.
    """

    @abc.abstractmethod
    def init_state(self, n: int) -> SynapseState: ...

    @abc.abstractmethod
    def vector_field(self, state: SynapseState) -> SynapseState:
        """d(state)/dt (A/s)."""

    @abc.abstractmethod
    def inject(self, state: SynapseState, weight: Float[Array, " n"]) -> SynapseState:
        """State just after impulses of total weight ``weight`` (A) arrive."""

    @abc.abstractmethod
    def current(self, state: SynapseState) -> Float[Array, " n"]:
        """Synaptic current into the membrane (A)."""

    @abc.abstractmethod
    def sequential_step(self, state: SynapseState, weight: Float[Array, " n"], dt: float) -> SynapseState:
        """One Gauss-Seidel step with the impulse added after the decay (the SPICEprop ordering)."""

    @abc.abstractmethod
    def decay_rate(self) -> Float[Array, "..."]:
        """Largest decay rate (1/s) of the linear filter."""
