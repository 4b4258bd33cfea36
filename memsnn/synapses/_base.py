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


class AbstractSpiceSynapse(AbstractSynapse):
    """A synapse with a SPICE form: it writes its own ngspice netlist fragment (:mod:`memsnn.export`).

    As :class:`~memsnn.neurons.AbstractSpiceNeuron`: exportable synapses subclass this; the
    methods act on one synapse (scalar parameters); signal ``s`` of synapse ``i`` is node ``s_i``.
    Currents are carried as node voltages, ``1 V = options.current_scale`` A, and the synaptic
    current is injected into the membrane node ``v_{index}``.
    """

    @abc.abstractmethod
    def spice_lines(self, index: int, impulse_ref: str, options) -> list[str]:
        """Netlist lines of synapse ``index``, which drives the membrane node ``v_{index}``.

        Args:
            index: the neuron's number in the netlist.
            impulse_ref: node that the capacitor of the node the impulses jump returns to
                (``"0"`` without impulses; see :meth:`spice_impulse`).
            options: the :class:`~memsnn.export.TransientOptions` (``current_scale``,
                ``state_capacitance``).
        """

    @abc.abstractmethod
    def spice_signals(self, options) -> dict[str, tuple[float, float]]:
        """Signal name -> (SI units per node volt, value at t = 0) of the nodes ``{name}_{index}``."""

    @abc.abstractmethod
    def spice_impulse(self, options) -> tuple[str, float]:
        """The signal that an impulse jumps, and its node-volt jump per ampere of weight."""
