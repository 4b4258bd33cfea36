"""The synapse-array interface, shared by the ideal dense array and memristive crossbars."""

from __future__ import annotations

import abc

import equinox as eqx
from jaxtyping import Array, Float


class AbstractSynapseArray(eqx.Module):
    """Maps one sample's pre-synaptic activity ``(n_in,)`` to post-synaptic drive ``(n_out,)``.

    For impulse inputs the output is a synaptic weight (A, added to the synapse state); for current
    inputs it is a current (A). A memristive crossbar implements the same call with conductances.
    """

    @property
    @abc.abstractmethod
    def n_inputs(self) -> int: ...

    @property
    @abc.abstractmethod
    def n_outputs(self) -> int: ...

    @abc.abstractmethod
    def __call__(self, presynaptic: Float[Array, " n_in"]) -> Float[Array, " n_out"]: ...
