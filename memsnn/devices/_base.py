"""The memristor interface that every device model implements (docs/devices.md)."""

from __future__ import annotations

import abc

import equinox as eqx
from jaxtyping import Array, ArrayLike, Float


class AbstractMemristor(eqx.Module):
    """A one-state-variable memristor: ``dx/dt = f(x, V)``, ``I = g(x, V)``.

    Device parameters are array fields (pytree leaves), so they can be differentiated and trained.
    All quantities are SI: volts, amperes, siemens, seconds. Methods are elementwise: ``state`` and
    ``voltage`` broadcast against each other and against the parameters.

    A device model is a final subclass implementing every abstract method below: the equations
    (:meth:`state_derivative`, :meth:`current`, :meth:`conductance`, :attr:`state_bounds`), the
    stiffness that explicit integrators need (:meth:`relaxation_rate`), and the same equations as
    ngspice expressions (:meth:`spice_state_derivative`, :meth:`spice_current`), written beside the
    JAX ones so that the two cannot drift apart. See docs/devices.md ("Adding a device").
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

    @abc.abstractmethod
    def relaxation_rate(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """Upper bound (1/s) on ``|d f / d x|`` of ``f = dx/dt`` at this voltage, on the way to the bound.

        The bound covers the states from ``state`` to the state bound that ``voltage`` drives it
        towards (at constant voltage), so that a window or a stop that steepens near a bound is
        counted before an explicit step jumps into it. An explicit Euler step ``dt`` of the state
        stays within :attr:`state_bounds` and does not oscillate while ``dt * relaxation_rate <= 1``;
        it is linearly stable while ``dt * relaxation_rate < 2``.

        Returns:
            The broadcast shape of ``state`` and ``voltage``; 0 where the state does not move.
        """

    @abc.abstractmethod
    def spice_state_derivative(self, state: str, voltage: str) -> str:
        """ngspice B-source expression of ``dx/dt`` (state units per second).

        Args:
            state: expression of the state variable in its own units (e.g. ``"V(x1_0)"``).
            voltage: expression of the voltage across the device (V), e.g. ``"(V(v_0)-0.05)"``.

        Only standard B-source functions are used (``exp``, ``tanh``, ``pow``, ``min``, ``max``,
        ``u``, the ternary ``c ? a : b``); parameters must be scalars (one device).
        """

    @abc.abstractmethod
    def spice_current(self, state: str, voltage: str) -> str:
        """ngspice B-source expression of the device current (A) for ``voltage`` across it.

        Arguments as :meth:`spice_state_derivative`.
        """
