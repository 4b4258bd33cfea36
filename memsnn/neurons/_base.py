"""The neuron interface: a continuous vector field plus event maps (impulse, spike read and reset)."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

from jaxtyping import Array, Float

from .._nir import NirStep
from ..components import AbstractComponent, State

if TYPE_CHECKING:
    from ..synapses import AbstractSynapse


class AbstractNeuron(AbstractComponent):
    """A population of ``n`` neurons of one kind (one sample, no batch axis; slot ``neuron``).

    Parameters are scalars or ``(n,)`` arrays (device-to-device variation) and broadcast. The
    membrane current ``current`` (A, shape ``(n,)``) is the sum of synaptic current and any direct
    drive; everything is SI. See :mod:`memsnn.components` for the protocol.
    """

    @abc.abstractmethod
    def init_state(self, n: int, *, key=None) -> State:
        """State at t = 0 for ``n`` neurons."""

    @abc.abstractmethod
    def vector_field(self, t, state: State, current: Float[Array, " n"]) -> State:
        """d(state)/dt in SI units per second, at time ``t`` (s), for the membrane current ``current``."""

    @abc.abstractmethod
    def membrane_potential(self, state: State) -> Float[Array, " n"]:
        """Membrane potential (V)."""

    @abc.abstractmethod
    def spikes(self, state: State) -> Float[Array, " n"]:
        """Spike indicator (0/1 as float) read off the state at a grid point."""

    @abc.abstractmethod
    def on_impulse(self, state: State, charge: Float[Array, " n"]) -> State:
        """Impulse input without a synapse: a charge ``charge`` (C) lands on the membrane."""

    def threshold_function(self, state: State) -> Float[Array, " n"]:
        """What the neuron crosses when it spikes: ``g(state)`` ``(n,)``, a spike being an upward
        crossing of 0 (docs/spike-times.md). LIF/IF: ``v - threshold``; conductance LIF:
        ``v - (v_threshold + theta)``; MIF: ``v - spike_threshold``.

        Spike times (``simulate(..., spike_timing="exact")``) locate the crossing of ``g`` inside
        the step. A neuron without a threshold does not override this and gets a clear error.
        """
        raise TypeError(f"{type(self).__name__} has no firing threshold, so it has no spike times: exact spike "
                        "timing (simulate(..., spike_timing='exact'), spike-time losses) needs neurons that state "
                        "what they cross (threshold_function), e.g. memsnn.LIF, memsnn.IF, "
                        "memsnn.neurons.ConductanceLIF or memsnn.MIF.")

    def on_spike(self, state: State, spikes: Float[Array, " n"]) -> State:
        """Event map applied after spikes are read (the reset); the identity for neurons without one (MIF)."""
        return state

    @property
    def has_event_rule(self) -> bool:
        """Whether :meth:`on_spike` changes the state (then spikes must be checked every grid step)."""
        return False

    @abc.abstractmethod
    def decay_rate(self, state: State, current: Float[Array, " n"]) -> Float[Array, " n"]:
        """Largest local decay rate |d f / d y| (1/s): explicit steps are stable while dt * rate < ~2."""

    # NIR (memsnn.export.nir): a neuron kind with a NIR form writes and reads its own node.

    #: The NIR node types (class names) that :meth:`from_nir` reads; empty: no NIR form.
    nir_node_types: ClassVar[tuple[str, ...]] = ()

    def to_nir(self, synapse, shape: tuple[int, ...], step: NirStep):
        """The NIR node of this layer's neurons (of NIR shape ``shape``) behind ``synapse`` (or
        ``None``), converted with ``step``.

        Raises:
            TypeError / ValueError: the neuron (or the pair) has no NIR form; the message says why.
        """
        raise TypeError(f"{step.where} has a {type(self).__name__} neuron; NIR export supports memsnn.LIF and "
                        "memsnn.IF.")

    @classmethod
    def from_nir(cls, node, n: int, step: NirStep, spike_fn) -> "tuple[AbstractSynapse | None, AbstractNeuron]":
        """``(synapse, neuron)`` of a layer of ``n`` neurons from its NIR node (one of
        :attr:`nir_node_types`), the inverse of :meth:`to_nir`; ``spike_fn``: the neurons' spike function."""
        raise TypeError(f"from_nir: {step.where} is a {type(node).__name__}, which {cls.__name__} does not read.")


class AbstractSpiceNeuron(AbstractNeuron):
    """A neuron with a SPICE form: it writes its own ngspice netlist fragment (:mod:`memsnn.export`).

    Exportable neurons subclass this and implement the three methods below beside their vector
    field; a neuron that is not a subclass has no SPICE form, and :mod:`memsnn.export` says so with
    a ``TypeError`` naming the exportable ones. The methods are called on one neuron (scalar
    parameters: the netlist writer slices per-neuron parameters). Node names follow one rule: the
    signal ``s`` of neuron ``i`` is the voltage of node ``s_i`` (the membrane is ``v_i``), in SI
    units times :meth:`spice_signals`' scale. Conventions: docs/devices.md ("SPICE form").
    """

    @abc.abstractmethod
    def spice_lines(self, index: int, impulse_ref: str, options) -> list[str]:
        """Netlist lines of neuron ``index``: its membrane node ``v_{index}`` and its state nodes.

        Args:
            index: the neuron's number in the netlist.
            impulse_ref: node that the membrane capacitor returns to: ``"0"``, or a staircase
                source that steps at each impulse when charge impulses land on the membrane.
            options: the :class:`~memsnn.export.TransientOptions` (``state_capacitance``, the
                capacitor that holds each internal state node).
        """

    @abc.abstractmethod
    def spice_signals(self, options) -> dict[str, tuple[float, float]]:
        """Signal name -> (SI units per node volt, value at t = 0) of the nodes ``{name}_{index}``."""

    @abc.abstractmethod
    def spice_impulse(self, options) -> tuple[str, float]:
        """The signal that an impulse without synapse jumps, and its node-volt jump per coulomb."""
