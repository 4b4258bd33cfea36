"""The synapse-array interface, shared by the ideal dense array and memristive crossbars."""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx

from jaxtyping import Array, Float, PRNGKeyArray

from ..components import AbstractComponent, State


class AbstractSynapseArray(AbstractComponent):
    """Maps one sample's pre-synaptic activity ``(n_in,)`` to post-synaptic drive ``(n_out,)``.

    For impulse inputs the output is a synaptic weight (A, added to the synapse state); for current
    inputs it is a current (A). A read is an event at a grid point: with a current input the result
    is held over the following grid step (sample and hold).

    The array is a component (:mod:`memsnn.components`): its state (slot ``array``, e.g. device
    conductances) may follow a vector field and be changed by plasticity; stochastic arrays (read
    noise) receive a PRNG ``key`` at every read.

    ``linear_time_invariant`` declares that the read is a fixed linear map of ``presynaptic`` that
    depends neither on the state nor on a key: :func:`memsnn.simulate` then applies it to all of a
    stimulus's time steps at once, outside the time loop.
    """

    linear_time_invariant: eqx.AbstractClassVar[bool]

    @property
    @abc.abstractmethod
    def n_inputs(self) -> int: ...

    @property
    @abc.abstractmethod
    def n_outputs(self) -> int: ...

    @abc.abstractmethod
    def __call__(self, presynaptic: Float[Array, " n_in"], state: State = None, *,
                 key: PRNGKeyArray | None = None) -> Float[Array, " n_out"]:
        """The drive ``(n_out,)`` for ``presynaptic`` activity ``(n_in,)``; ``state`` is the slot's
        state (``None`` for stateless arrays), ``key`` the read's noise key (stochastic arrays)."""

    def tiled(self, copies: int) -> "AbstractSynapseArray | None":
        """This array for ``copies`` independent copies of its neurons side by side, or ``None``
        when it cannot be split that way (it mixes its inputs). ``simulate(..., fold_batch=True)``
        uses it to run a batch as one population; elementwise arrays override it."""
        return None


class AbstractPlasticArray(AbstractSynapseArray):
    """A synapse array whose weights are its state, so that a plasticity rule can change them.

    The ideal version stores weights; a memristive crossbar stores device conductances and turns a
    requested weight change into programming of its devices (their own update law, bounds and
    noise). A plasticity rule (:class:`~memsnn.components.AbstractPlasticity`) only ever asks for a
    change through :meth:`updated`, so the same rule runs on ideal and on memristive synapses.

    Reads depend on the state, so plastic arrays are never linear-time-invariant.
    """

    linear_time_invariant: ClassVar[bool] = False

    @abc.abstractmethod
    def weights(self, state: State) -> Float[Array, "n_out n_in"]:
        """The effective signed weight matrix ``(n_out, n_in)`` that ``state`` represents now."""

    @abc.abstractmethod
    def updated(self, state: State, delta: Float[Array, "n_out n_in"], *,
                key: PRNGKeyArray | None = None) -> State:
        """The state after a requested weight change ``delta`` ``(n_out, n_in)`` (same units as
        :meth:`weights`), applied through the array's update law: the change reached may differ
        from ``delta`` (bounds, device nonlinearity, finite levels, write noise drawn with ``key``)."""
