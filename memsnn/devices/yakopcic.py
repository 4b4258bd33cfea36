"""The Yakopcic generalized memristor model (Yakopcic et al., IEEE EDL 2011; IEEE TCAD 2013; docs/devices.md)."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validation import require_in_range, require_less, require_positive
from ._base import AbstractMemristor
from .._spice import number


def sinhc(z: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
    """``sinh(z) / z``, equal to 1 at ``z = 0``, finite with finite gradients everywhere.

    The double ``where`` keeps the division away from ``z = 0`` in both the value and its gradient;
    below ``|z| < 1e-4`` the series ``1 + z^2/6`` is exact to float64 rounding.
    """
    z = jnp.asarray(z)
    small = jnp.abs(z) < 1e-4
    z_safe = jnp.where(small, 1.0, z)
    return jnp.where(small, 1.0 + z * z / 6.0, jnp.sinh(z_safe) / z_safe)


class Yakopcic(AbstractMemristor):
    """Yakopcic memristor: a sinh I-V law, threshold drive and a state-dependent window.

    ``I = a1 x sinh(b V)`` for ``V >= 0``, ``a2 x sinh(b V)`` for ``V < 0``; ``dx/dt = eta g(V) f(x)``::

        g(V) = A_p (exp(V) - exp(V_p))      for V >  V_p
             = -A_n (exp(-V) - exp(V_n))    for V < -V_n
             = 0                            otherwise

        f(x) = exp(-alpha_p (x - x_p)) w_p(x)  if eta V > 0 and x >= x_p,  w_p = (x_p - x)/(1 - x_p) + 1
             = exp(alpha_n (x + x_n - 1)) w_n(x)  if eta V <= 0 and x <= 1 - x_n,  w_n = x / (1 - x_n)
             = 1                               otherwise

    with ``x`` in [0, 1]. As in the paper, voltages enter ``exp`` in volts. ``w_p`` vanishes at
    ``x = 1`` and ``w_n`` at ``x = 0``, so the state stops at the bound it is driven towards.

    Defaults are the published fit to the Oblea et al. Ag-chalcogenide device (2011 paper and its
    SPICE model).

    Attributes:
        a1: current scale for ``V >= 0`` (A).
        a2: current scale for ``V < 0`` (A).
        b: sinh slope (1/V).
        V_p: positive switching threshold (V), >= 0.
        V_n: magnitude of the negative switching threshold (V), >= 0.
        A_p: positive switching rate (1/s).
        A_n: negative switching rate (1/s).
        x_p: state beyond which positive motion slows, in [0, 1).
        x_n: ``1 - x_n`` is the state below which negative motion slows, ``x_n`` in [0, 1).
        alpha_p: decay rate of positive motion beyond ``x_p`` (>= 0).
        alpha_n: decay rate of negative motion below ``1 - x_n`` (>= 0).
        eta: +1 or -1, direction of state motion relative to the voltage (static).
    """

    a1: Float[Array, "..."]
    a2: Float[Array, "..."]
    b: Float[Array, "..."]
    V_p: Float[Array, "..."]
    V_n: Float[Array, "..."]
    A_p: Float[Array, "..."]
    A_n: Float[Array, "..."]
    x_p: Float[Array, "..."]
    x_n: Float[Array, "..."]
    alpha_p: Float[Array, "..."]
    alpha_n: Float[Array, "..."]
    eta: int = eqx.field(static=True)

    def __init__(
        self,
        a1=0.17,
        a2=0.17,
        b=0.05,
        V_p=0.16,
        V_n=0.15,
        A_p=4000.0,
        A_n=4000.0,
        x_p=0.3,
        x_n=0.5,
        alpha_p=1.0,
        alpha_n=5.0,
        eta: int = 1,
    ):
        self.a1 = jnp.asarray(a1, dtype=float)
        self.a2 = jnp.asarray(a2, dtype=float)
        self.b = jnp.asarray(b, dtype=float)
        self.V_p = jnp.asarray(V_p, dtype=float)
        self.V_n = jnp.asarray(V_n, dtype=float)
        self.A_p = jnp.asarray(A_p, dtype=float)
        self.A_n = jnp.asarray(A_n, dtype=float)
        self.x_p = jnp.asarray(x_p, dtype=float)
        self.x_n = jnp.asarray(x_n, dtype=float)
        self.alpha_p = jnp.asarray(alpha_p, dtype=float)
        self.alpha_n = jnp.asarray(alpha_n, dtype=float)
        self.eta = eta

    def __check_init__(self):
        name = type(self).__name__
        require_positive(name, "a1", self.a1, "A")
        require_positive(name, "a2", self.a2, "A")
        require_positive(name, "b", self.b, "1/V")
        require_positive(name, "A_p", self.A_p, "1/s")
        require_positive(name, "A_n", self.A_n, "1/s")
        for field in ("V_p", "V_n", "alpha_p", "alpha_n"):
            require_in_range(name, field, getattr(self, field), 0.0, np.inf)
        for field in ("x_p", "x_n"):
            require_in_range(name, field, getattr(self, field), 0.0, 1.0)
            require_less(name, field, getattr(self, field), "1", 1.0)
        if isinstance(self.eta, bool) or self.eta not in (1, -1):
            raise ValueError(f"{name}: eta must be +1 or -1 (the direction of state motion), got {self.eta!r}.")

    def _scale(self, voltage):
        return jnp.where(jnp.asarray(voltage) >= 0, self.a1, self.a2)

    def current(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        return self._scale(voltage) * state * jnp.sinh(self.b * voltage)

    def conductance(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """Chord conductance ``I / V = a x b sinh(b V)/(b V)`` (S); ``a x b`` at ``V = 0`` (``a = a1``)."""
        return self._scale(voltage) * state * self.b * sinhc(self.b * voltage)

    def drive(self, voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """Threshold function ``g(V)`` (1/s), zero between ``-V_n`` and ``V_p``."""
        voltage = jnp.asarray(voltage)
        positive = self.A_p * (jnp.exp(voltage) - jnp.exp(self.V_p))
        negative = -self.A_n * (jnp.exp(-voltage) - jnp.exp(self.V_n))
        return jnp.where(voltage > self.V_p, positive, jnp.where(voltage < -self.V_n, negative, 0.0))

    def window(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """Window ``f(x)`` for the direction of motion that ``eta V`` sets (dimensionless)."""
        x = jnp.asarray(state)
        rising = self.eta * jnp.asarray(voltage) > 0
        f_p = jnp.exp(-self.alpha_p * (x - self.x_p)) * ((self.x_p - x) / (1.0 - self.x_p) + 1.0)
        f_n = jnp.exp(self.alpha_n * (x + self.x_n - 1.0)) * (x / (1.0 - self.x_n))
        return jnp.where(rising, jnp.where(x >= self.x_p, f_p, 1.0), jnp.where(x <= 1.0 - self.x_n, f_n, 1.0))

    def state_derivative(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        return self.eta * self.drive(voltage) * self.window(state, voltage)

    def relaxation_rate(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """``|g(V)| max |f'|`` (1/s) from ``x`` to the bound the voltage drives it to (see the base class).

        Exact: ``|f_p'| = exp(-alpha_p (x - x_p)) (alpha_p w_p + 1/(1 - x_p))`` falls as ``x`` rises
        and ``|f_n'| = exp(alpha_n (x + x_n - 1)) (alpha_n x + 1)/(1 - x_n)`` rises with ``x``, so the
        largest slope on the way is where the window starts (``x_p``, ``1 - x_n``) or at ``x`` if
        the state is already past it; ``f = 1`` before that has slope 0.
        """
        x = jnp.asarray(state)
        rising = self.eta * jnp.asarray(voltage) > 0
        xr = jnp.maximum(x, self.x_p)
        slope_p = jnp.exp(-self.alpha_p * (xr - self.x_p)) * (
            self.alpha_p * ((self.x_p - xr) / (1.0 - self.x_p) + 1.0) + 1.0 / (1.0 - self.x_p))
        xf = jnp.minimum(x, 1.0 - self.x_n)
        slope_n = jnp.exp(self.alpha_n * (xf + self.x_n - 1.0)) * (self.alpha_n * xf + 1.0) / (1.0 - self.x_n)
        return jnp.abs(self.drive(voltage)) * jnp.where(rising, slope_p, slope_n)

    def spice_state_derivative(self, state: str, voltage: str) -> str:
        n = lambda name, value: number(self, name, value)  # noqa: E731
        x, v = state, voltage
        v_p, v_n, x_p, x_n = n("V_p", self.V_p), n("V_n", self.V_n), n("x_p", self.x_p), n("x_n", self.x_n)
        drive = (f"(({v}>{v_p})?({n('A_p', self.A_p)}*(exp({v})-exp({v_p}))):"
                 f"(({v}<-{v_n})?(-{n('A_n', self.A_n)}*(exp(-{v})-exp({v_n}))):0))")
        f_p = f"(exp(-{n('alpha_p', self.alpha_p)}*({x}-{x_p}))*(({x_p}-{x})/(1-{x_p})+1))"
        f_n = f"(exp({n('alpha_n', self.alpha_n)}*({x}+{x_n}-1))*({x}/(1-{x_n})))"
        window = f"(({self.eta}*{v}>0)?(({x}>={x_p})?{f_p}:1):(({x}<=1-{x_n})?{f_n}:1))"
        return f"{self.eta}*{drive}*{window}"

    def spice_current(self, state: str, voltage: str) -> str:
        n = lambda name, value: number(self, name, value)  # noqa: E731
        return f"(({voltage}>=0)?{n('a1', self.a1)}:{n('a2', self.a2)})*{state}*sinh({n('b', self.b)}*{voltage})"

    @property
    def state_bounds(self) -> tuple[float, float]:
        return (0.0, 1.0)
