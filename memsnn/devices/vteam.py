"""VTEAM, the voltage threshold adaptive memristor model (Kvatinsky et al., IEEE TCAS-II 2015; docs/devices.md)."""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._validation import require_less, require_positive, require_resistance_range
from ._base import AbstractMemristor
from .._spice import number
from .ion_drift import _check_window, joglekar_window

# exp(-exp(z)) is exactly 0 in every float format beyond z = 30; capping z there keeps exp(z)
# finite, so the gradient -exp(z) exp(-exp(z)) is 0, not inf * 0 = NaN.
_WINDOW_EXPONENT_CAP = 30.0


def _threshold_rate(voltage, threshold, k, alpha):
    """``k (V/threshold - 1)^alpha`` where ``V/threshold > 1`` (beyond the threshold), else 0.

    The base is replaced by 1 outside the active side before the power is taken (the "double
    where"), so a fractional ``alpha`` never meets a negative base: no NaN in the value, in the
    gradient for ``alpha`` (log of the base), or in the gradient for ``V``.
    """
    overdrive = voltage / threshold - 1.0
    active = overdrive > 0
    safe = jnp.where(active, overdrive, 1.0)
    return jnp.where(active, k * safe**alpha, 0.0)


def _gompertz_slope(z, w_c):
    """``|d/dw exp(-exp(z))| = exp(z - exp(z)) / w_c`` for ``z = +-(w - a)/w_c`` (1/m)."""
    z = jnp.minimum(z, _WINDOW_EXPONENT_CAP)
    return jnp.exp(z - jnp.exp(z)) / w_c


class VTEAM(AbstractMemristor):
    """Voltage threshold adaptive memristor (VTEAM).

    The state ``w`` in ``[w_on, w_off]`` (m) moves only beyond a threshold voltage::

        dw/dt = k_off (V/V_off - 1)^alpha_off f_off(w)   for V > V_off > 0   (towards w_off, R_off)
              = k_on  (V/V_on  - 1)^alpha_on  f_on(w)    for V < V_on  < 0   (towards w_on,  R_on)
              = 0                                         otherwise

    with ``k_off > 0`` and ``k_on < 0``. ``resistance`` chooses ``R(w)``: ``"linear"``
    ``R_on + (R_off - R_on) u`` or ``"exponential"`` ``R_on exp(lambda u)``, ``lambda = ln(R_off/R_on)``,
    with ``u = (w - w_on) / (w_off - w_on)``; ``I = V / R(w)``.

    ``window`` chooses ``f_on, f_off``: ``"vteam"`` (default) uses the paper's
    ``f_off = exp(-exp((w - a_off)/w_c))``, ``f_on = exp(-exp(-(w - a_on)/w_c))``. These do not
    vanish at the bounds, so the outward motion is also scaled by ``clip(distance to the bound / w_c,
    0, 1)``: a continuous stop, zero at and beyond the bound, which keeps explicit Euler steps that
    move less than ``w_c`` inside ``[w_on, w_off]`` (a hard cut would let one step overshoot, and its
    discontinuity would stall adaptive solvers). ``"joglekar"`` uses ``1 - (2u - 1)^(2p)`` for both.
    An explicit Euler step ``dt`` moves less than ``w_c`` and stays in bounds while
    ``dt * relaxation_rate(w, V) <= 1``; a larger step can jump over the stop, and the state then stays
    outside its bounds (``f = 0`` there), so check the step with :meth:`relaxation_rate` (a MIF does:
    :func:`memsnn.simulate` reports such a step as unstable).

    The defaults are illustrative and symmetric (a 3 nm film, ±0.3 V thresholds, cubic
    overdrive, a full switch in about 2.5 ms at ±1 V), not a fit of a particular device.

    Attributes:
        R_on: resistance at ``w = w_on`` (Ohm).
        R_off: resistance at ``w = w_off`` (Ohm), larger than ``R_on``.
        V_on: on-switching threshold (V), < 0.
        V_off: off-switching threshold (V), > 0.
        k_on: on-switching rate (m/s), < 0.
        k_off: off-switching rate (m/s), > 0.
        alpha_on: on-switching overdrive exponent, > 0.
        alpha_off: off-switching overdrive exponent, > 0.
        a_on: position where ``f_on`` falls to 1/e (m), ``"vteam"`` window.
        a_off: position where ``f_off`` falls to 1/e (m), ``"vteam"`` window.
        w_c: width of the ``"vteam"`` windows and of the bound stop (m), > 0.
        w_on: lower state bound (m, static).
        w_off: upper state bound (m, static), larger than ``w_on``.
        resistance: ``"linear"`` or ``"exponential"`` (static).
        window: ``"vteam"`` or ``"joglekar"`` (static).
        p: integer Joglekar exponent, >= 1 (static).
    """

    R_on: Float[Array, "..."]
    R_off: Float[Array, "..."]
    V_on: Float[Array, "..."]
    V_off: Float[Array, "..."]
    k_on: Float[Array, "..."]
    k_off: Float[Array, "..."]
    alpha_on: Float[Array, "..."]
    alpha_off: Float[Array, "..."]
    a_on: Float[Array, "..."]
    a_off: Float[Array, "..."]
    w_c: Float[Array, "..."]
    w_on: float = eqx.field(static=True)
    w_off: float = eqx.field(static=True)
    resistance: Literal["linear", "exponential"] = eqx.field(static=True)
    window: Literal["vteam", "joglekar"] = eqx.field(static=True)
    p: int = eqx.field(static=True)

    def __init__(
        self,
        R_on=100.0,
        R_off=10e3,
        V_on=-0.3,
        V_off=0.3,
        k_on=-1e-7,
        k_off=1e-7,
        alpha_on=3.0,
        alpha_off=3.0,
        w_on: float = 0.0,
        w_off: float = 3e-9,
        a_on=None,
        a_off=None,
        w_c=1e-10,
        resistance: Literal["linear", "exponential"] = "linear",
        window: Literal["vteam", "joglekar"] = "vteam",
        p: int = 1,
    ):
        """``a_on`` and ``a_off`` default to ``w_on`` and ``w_off``."""
        self.R_on = jnp.asarray(R_on, dtype=float)
        self.R_off = jnp.asarray(R_off, dtype=float)
        self.V_on = jnp.asarray(V_on, dtype=float)
        self.V_off = jnp.asarray(V_off, dtype=float)
        self.k_on = jnp.asarray(k_on, dtype=float)
        self.k_off = jnp.asarray(k_off, dtype=float)
        self.alpha_on = jnp.asarray(alpha_on, dtype=float)
        self.alpha_off = jnp.asarray(alpha_off, dtype=float)
        self.w_on = float(w_on)
        self.w_off = float(w_off)
        self.a_on = jnp.asarray(self.w_on if a_on is None else a_on, dtype=float)
        self.a_off = jnp.asarray(self.w_off if a_off is None else a_off, dtype=float)
        self.w_c = jnp.asarray(w_c, dtype=float)
        self.resistance = resistance
        self.window = window
        self.p = p

    def __check_init__(self):
        name = type(self).__name__
        require_resistance_range(name, self.R_on, self.R_off)
        require_positive(name, "V_off", self.V_off, "V")
        require_less(name, "V_on", self.V_on, "0", 0.0, "V")
        require_positive(name, "k_off", self.k_off, "m/s")
        require_less(name, "k_on", self.k_on, "0", 0.0, "m/s")
        require_positive(name, "alpha_on", self.alpha_on)
        require_positive(name, "alpha_off", self.alpha_off)
        require_positive(name, "w_c", self.w_c, "m")
        require_less(name, "w_on", self.w_on, "w_off", self.w_off, "m")
        if self.resistance not in ("linear", "exponential"):
            raise ValueError(f"{name}: resistance must be 'linear' or 'exponential', got {self.resistance!r}.")
        _check_window(name, self.window, self.p, ("vteam", "joglekar"))

    def _normalized(self, state):
        return (jnp.asarray(state) - self.w_on) / (self.w_off - self.w_on)

    def memristance(self, state: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """Resistance ``R(w)`` in Ohm, linear or exponential in ``w`` between ``R_on`` and ``R_off``."""
        u = self._normalized(state)
        if self.resistance == "linear":
            return self.R_on + (self.R_off - self.R_on) * u
        return self.R_on * jnp.exp(u * jnp.log(self.R_off / self.R_on))

    def conductance(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."] | None = None) -> Float[Array, "..."]:
        """``1 / R(w)`` (S); ohmic, so ``voltage`` is not needed."""
        return 1.0 / self.memristance(state)

    def current(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        return voltage / self.memristance(state)

    def state_derivative(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        state = jnp.asarray(state)
        rate_off = _threshold_rate(voltage, self.V_off, self.k_off, self.alpha_off)
        rate_on = _threshold_rate(voltage, self.V_on, self.k_on, self.alpha_on)
        if self.window == "joglekar":
            return (rate_off + rate_on) * joglekar_window(self._normalized(state), self.p)
        f_off = jnp.exp(-jnp.exp(jnp.minimum((state - self.a_off) / self.w_c, _WINDOW_EXPONENT_CAP)))
        f_on = jnp.exp(-jnp.exp(jnp.minimum((self.a_on - state) / self.w_c, _WINDOW_EXPONENT_CAP)))
        stop_off = jnp.clip((self.w_off - state) / self.w_c, 0.0, 1.0)
        stop_on = jnp.clip((state - self.w_on) / self.w_c, 0.0, 1.0)
        return rate_off * f_off * stop_off + rate_on * f_on * stop_on

    def relaxation_rate(self, state: Float[ArrayLike, "..."], voltage: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        """Bound on ``|df/dw|`` (1/s) from ``w`` to the bound the voltage drives it to (see the base class).

        ``"vteam"`` window, towards ``w_off``: ``k (V/V_off - 1)^alpha`` times the sum of the largest
        slope of ``f_off`` on the way, ``exp(z - exp(z)) / w_c`` (at most ``1/(e w_c)``, at ``z = 0``),
        and the stop's ``f_off / w_c`` at the start of the stop ramp: at most twice the largest
        ``|df/dw|`` on the way. Towards ``w_on`` alike. ``"joglekar"``: exact, ``|k (..)^alpha| 4p /
        (w_off - w_on)``, the window's slope at the bound.
        """
        state = jnp.asarray(state)
        rate_off = _threshold_rate(voltage, self.V_off, self.k_off, self.alpha_off)
        rate_on = -_threshold_rate(voltage, self.V_on, self.k_on, self.alpha_on)
        if self.window == "joglekar":
            slope = 4.0 * self.p / (self.w_off - self.w_on)
            return (rate_off + rate_on) * slope + 0.0 * state
        w_c = self.w_c
        # Off-switching: the state climbs from w to w_off; z = (w - a_off)/w_c climbs too.
        w_lo = jnp.minimum(state, self.w_off)
        z_off = jnp.clip(0.0, (w_lo - self.a_off) / w_c, (self.w_off - self.a_off) / w_c)
        ramp_off = jnp.maximum(w_lo, self.w_off - w_c)
        f_off = jnp.exp(-jnp.exp(jnp.minimum((ramp_off - self.a_off) / w_c, _WINDOW_EXPONENT_CAP)))
        off = rate_off * (_gompertz_slope(z_off, w_c) + f_off / w_c)
        # On-switching: the state falls from w to w_on; z = (a_on - w)/w_c climbs.
        w_hi = jnp.maximum(state, self.w_on)
        z_on = jnp.clip(0.0, (self.a_on - w_hi) / w_c, (self.a_on - self.w_on) / w_c)
        ramp_on = jnp.minimum(w_hi, self.w_on + w_c)
        f_on = jnp.exp(-jnp.exp(jnp.minimum((self.a_on - ramp_on) / w_c, _WINDOW_EXPONENT_CAP)))
        on = rate_on * (_gompertz_slope(z_on, w_c) + f_on / w_c)
        return off + on

    def spice_state_derivative(self, state: str, voltage: str) -> str:
        n = lambda name, value: number(self, name, value)  # noqa: E731

        def rate(k, threshold, alpha):
            # max(., 0) is the double where: zero on the inactive side, no negative base for pow.
            return f"{n('k', k)}*pow(max({voltage}/{n('V', threshold)}-1,0),{n('alpha', alpha)})"

        rate_off = rate(self.k_off, self.V_off, self.alpha_off)
        rate_on = rate(self.k_on, self.V_on, self.alpha_on)
        if self.window == "joglekar":
            u = f"(({state}-{n('w_on', self.w_on)})/{n('w_off - w_on', self.w_off - self.w_on)})"
            return f"({rate_off}+{rate_on})*(1-pow(abs(2*{u}-1),{2 * self.p}))"
        w_c, cap = n("w_c", self.w_c), n("cap", _WINDOW_EXPONENT_CAP)
        f_off = f"exp(-exp(min(({state}-{n('a_off', self.a_off)})/{w_c},{cap})))"
        f_on = f"exp(-exp(min(({n('a_on', self.a_on)}-{state})/{w_c},{cap})))"
        stop_off = f"min(max(({n('w_off', self.w_off)}-{state})/{w_c},0),1)"
        stop_on = f"min(max(({state}-{n('w_on', self.w_on)})/{w_c},0),1)"
        return f"({rate_off}*{f_off}*{stop_off}+{rate_on}*{f_on}*{stop_on})"

    def spice_current(self, state: str, voltage: str) -> str:
        n = lambda name, value: number(self, name, value)  # noqa: E731
        u = f"(({state}-{n('w_on', self.w_on)})/{n('w_off - w_on', self.w_off - self.w_on)})"
        if self.resistance == "linear":
            r = f"({n('R_on', self.R_on)}+{n('R_off - R_on', self.R_off - self.R_on)}*{u})"
        else:
            r = f"({n('R_on', self.R_on)}*exp({u}*{n('ln(R_off/R_on)', jnp.log(self.R_off / self.R_on))}))"
        return f"{voltage}/{r}"

    @property
    def state_bounds(self) -> tuple[float, float]:
        return (self.w_on, self.w_off)
