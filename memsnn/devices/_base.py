"""The memristor interface that every device model implements."""

from __future__ import annotations

import abc

import equinox as eqx
from jaxtyping import Array, ArrayLike, Float


class AbstractMemristor(eqx.Module):
    """A one-state-variable memristor: ``dx/dt = f(x, V)``, ``I = g(x, V)``.

    Device parameters are array fields (pytree leaves), so they can be differentiated and trained.
    All quantities are SI: volts, amperes, siemens, seconds. Methods are elementwise: ``state`` and
    ``voltage`` broadcast against each other and against the parameters.
    """

    @abc.abstractmethod
    def state_derivative(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """Time derivative of the internal state, in state units per second."""

    @abc.abstractmethod
    def current(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """Current through the device in amperes for the voltage ``voltage`` (V) across it."""

    @abc.abstractmethod
    def conductance(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """Chord conductance ``I / V`` in siemens (the limit as V -> 0 at V = 0)."""

    @property
    @abc.abstractmethod
    def state_bounds(self) -> tuple[float, float]:
        """Closed interval that the state variable stays in."""
