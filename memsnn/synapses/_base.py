"""The synapse interface: a linear filter from impulse inputs to a membrane current."""

from __future__ import annotations

import abc

from jaxtyping import Array, Float

from ..components import AbstractComponent, State


class AbstractSynapse(AbstractComponent):
    """A bank of ``n`` current synapses (one per post-synaptic neuron, one sample; slot ``synapse``).

    An impulse of weight ``w`` (A) arriving at time ``t`` is a jump of the state (:meth:`on_impulse`);
    between impulses the state follows :meth:`vector_field` (``inputs`` is ``None``);
    :meth:`current` (A) drives the membrane. See :mod:`memsnn.components` for the protocol.
    """

    @abc.abstractmethod
    def init_state(self, n: int, *, key=None) -> State: ...

    @abc.abstractmethod
    def vector_field(self, t, state: State, inputs=None) -> State:
        """d(state)/dt (A/s)."""

    @abc.abstractmethod
    def on_impulse(self, state: State, weight: Float[Array, " n"]) -> State:
        """State just after impulses of total weight ``weight`` (A) arrive."""

    @abc.abstractmethod
    def current(self, state: State) -> Float[Array, " n"]:
        """Synaptic current into the membrane (A)."""

    @abc.abstractmethod
    def decay_rate(self, state: State = None, inputs=None) -> Float[Array, "..."]:
        """Largest decay rate (1/s) of the linear filter."""
