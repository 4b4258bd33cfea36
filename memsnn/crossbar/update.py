"""A device's response to identical programming pulses: NeuroSim's nonlinear LTP/LTD curves.

The conductance after ``p`` identical pulses from ``g_min`` (docs/crossbar.md, "Pulse update";
Chen, Peng, Yu, "NeuroSim: A circuit-level macro model for benchmarking neuro-inspired
architectures in online learning", IEEE TCAD 37, 3067 (2018); MLP_NeuroSim's ``NonlinearWeight``):

    G(p) = B (1 - exp(-p / A)) + g_min,   B = (g_max - g_min) / (1 - exp(-P / A)),   0 <= p <= P,

so ``G(0) = g_min`` and ``G(P) = g_max`` (``P = n_pulses``). Potentiation (LTP) walks up its curve
(``A = a_ltp`` > 0: fast at first, then saturating); depression (LTD) walks down its own curve
(``A = a_ltd``, negative in NeuroSim's convention: the conductance falls fast from ``g_max``). A
device at conductance ``G`` sits at position ``p(G) = -A ln(1 - (G - g_min) / B)`` of the curve it
is about to move on. ``A = inf`` is the linear device. Cycle-to-cycle write noise adds
``sigma_c2c sqrt(n) xi`` after ``n`` pulses (NeuroSim's ``sigmaCtoC``), then the result is held
inside ``[g_min, g_max]``.

How many pulses a requested change gets: ``round(|change| / step)`` (``rounding="nearest"``: a
change below half a pulse is lost, every time), or ``floor(|change| / step + u)`` with ``u``
uniform in ``[0, 1)`` (``rounding="stochastic"``: the expected number of pulses is the requested
``|change| / step``, so many small requests add up on average; stochastic rounding as in
Gupta et al., ICML 2015, and the stochastic pulse trains of Gokmen & Vlasov, Front. Neurosci. 2016).

What ``|change| / step`` counts: ``counting="nominal"`` divides by the nominal (linear) step, as a
controller that does not know the device's state does; on a nonlinear device the same number of
pulses then moves a device near the fast end of its curve several times further than near the
slow end (NeuroSim's device near ``g_min``: an LTP pulse ~4x the nominal step, an LTD pulse ~1/13
of it), so small requests of both signs add up to a drift. ``counting="curve"`` counts along the
device's own noise-free curve from its present conductance, ``|p(G + change) - p(G)|`` (the
positions of :meth:`pulses_for`): the change a pulse count gives is then the request (on average,
with stochastic rounding), wherever the device sits. It needs the conductance before the write
(a read before the write, or the controller's record of it).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

__all__ = ["PulseUpdate"]

# MLP_NeuroSim V3.0 getParamA: normalised A (units of P) of the nonlinearity label NL = 4.22.
_NEUROSIM_A_NL_4_22 = 0.249748


class PulseUpdate(eqx.Module):
    """Identical-pulse programming of a device with nonlinear, asymmetric LTP/LTD (NeuroSim form).

    Attributes:
        g_min, g_max: conductance range (S).
        n_pulses: pulses ``P`` from ``g_min`` to ``g_max`` (the number of levels minus one).
        a_ltp, a_ltd: curve parameters ``A`` (pulses) of potentiation and depression; ``inf`` is
            linear. NeuroSim: ``a_ltp > 0``, ``a_ltd < 0``.
        sigma_c2c: cycle-to-cycle write noise (S per sqrt(pulse)), >= 0.
        v_write: write pulse amplitude (V); pulse_width: its duration (s). The energy of one pulse
            into a device at conductance ``G`` is ``v_write^2 G pulse_width`` (:meth:`pulse_energy`).
        rounding: ``"nearest"`` or ``"stochastic"``: how a requested change becomes a whole number
            of pulses (:meth:`pulse_count`).
        counting: ``"nominal"`` (``|change| / step``) or ``"curve"`` (along the device's curve
            from its conductance; module docstring).
    """

    g_min: float = eqx.field(static=True)
    g_max: float = eqx.field(static=True)
    n_pulses: int = eqx.field(static=True)
    a_ltp: float = eqx.field(static=True)
    a_ltd: float = eqx.field(static=True)
    sigma_c2c: float = eqx.field(static=True)
    v_write: float = eqx.field(static=True)
    pulse_width: float = eqx.field(static=True)
    rounding: str = eqx.field(static=True)
    counting: str = eqx.field(static=True)

    def __init__(self, g_min: float, g_max: float, n_pulses: int, *, a_ltp: float = math.inf,
                 a_ltd: float = math.inf, sigma_c2c: float = 0.0, v_write: float = 2.0, pulse_width: float = 100e-9,
                 rounding: str = "nearest", counting: str = "nominal"):
        self.g_min, self.g_max = float(g_min), float(g_max)
        if not (math.isfinite(self.g_min) and math.isfinite(self.g_max) and 0 <= self.g_min < self.g_max):
            raise ValueError(f"PulseUpdate: need 0 <= g_min < g_max (S), got {g_min!r}, {g_max!r}.")
        if isinstance(n_pulses, bool) or not float(n_pulses).is_integer() or int(n_pulses) < 1:
            raise ValueError(f"PulseUpdate: n_pulses must be an integer >= 1, got {n_pulses!r}.")
        self.n_pulses = int(n_pulses)
        for name, a in (("a_ltp", a_ltp), ("a_ltd", a_ltd)):
            if math.isnan(float(a)) or float(a) == 0.0:
                raise ValueError(f"PulseUpdate: {name} must be non-zero (inf for a linear device), got {a!r}.")
        self.a_ltp, self.a_ltd = float(a_ltp), float(a_ltd)
        self.sigma_c2c = float(sigma_c2c)
        if not (math.isfinite(self.sigma_c2c) and self.sigma_c2c >= 0):
            raise ValueError(f"PulseUpdate: sigma_c2c must be >= 0 S, got {sigma_c2c!r}.")
        self.v_write, self.pulse_width = float(v_write), float(pulse_width)
        if not (self.v_write > 0 and self.pulse_width > 0):
            raise ValueError(f"PulseUpdate: v_write and pulse_width must be > 0, got {v_write!r}, {pulse_width!r}.")
        if rounding not in ("nearest", "stochastic"):
            raise ValueError(f"PulseUpdate: rounding must be 'nearest' or 'stochastic', got {rounding!r}.")
        self.rounding = rounding
        if counting not in ("nominal", "curve"):
            raise ValueError(f"PulseUpdate: counting must be 'nominal' or 'curve', got {counting!r}.")
        self.counting = counting

    @classmethod
    def neurosim(cls) -> "PulseUpdate":
        """MLP_NeuroSim V3.0's default ``RealDevice``: ``g_min = 4.76e-7 S``, ``g_max = 1e-5 S``,
        31 pulses, nonlinearity labels +4.22 / -4.22 (``A = ±0.249748 * 31``), cycle-to-cycle
        sigma 0.5 % of the range, 2 V / 80 ns write pulses (read at 0.5 V)."""
        return cls(4.76e-7, 1e-5, 31, a_ltp=_NEUROSIM_A_NL_4_22 * 31, a_ltd=-_NEUROSIM_A_NL_4_22 * 31,
                   sigma_c2c=0.005 * (1e-5 - 4.76e-7), v_write=2.0, pulse_width=80e-9)

    @property
    def step(self) -> float:
        """The nominal (linear) conductance change of one pulse, ``(g_max - g_min) / n_pulses`` (S)."""
        return (self.g_max - self.g_min) / self.n_pulses

    def pulse_count(self, change: Float[Array, "..."], *, key: PRNGKeyArray | None = None,
                    g: Float[Array, "..."] | None = None) -> Float[Array, "..."]:
        """The whole number of pulses (>= 0) for a requested conductance change ``change`` (S):
        ``round(r)``, or with ``rounding="stochastic"`` and a ``key`` ``floor(r + u)``,
        ``u ~ U[0, 1)`` (expected value ``r``; ``key=None``: nearest), where ``r = |change| / step``
        (``counting="nominal"``) or, with ``counting="curve"``, the pulses along the device's
        noise-free curve from the present conductances ``g`` (S, required then) to ``g + change``
        (clipped to ``[g_min, g_max]``)."""
        if self.counting == "curve":
            if g is None:
                raise ValueError("PulseUpdate.pulse_count: counting='curve' needs the devices' present conductances g.")
            ratio = jnp.abs(self.pulses_for(g, jnp.clip(g + change, self.g_min, self.g_max)))
        else:
            ratio = jnp.abs(change) / self.step
        if self.rounding == "nearest" or key is None:
            return jnp.round(ratio)
        return jnp.floor(ratio + jax.random.uniform(key, jnp.shape(ratio), jnp.result_type(ratio)))

    def _curve(self, p, a):
        span = self.g_max - self.g_min
        if math.isinf(a):
            return self.g_min + span * p / self.n_pulses
        b = span / (1.0 - math.exp(-self.n_pulses / a))
        return b * (1.0 - jnp.exp(-p / a)) + self.g_min

    def _position(self, g, a):
        span = self.g_max - self.g_min
        g = jnp.clip(g, self.g_min, self.g_max)
        if math.isinf(a):
            return (g - self.g_min) / span * self.n_pulses
        b = span / (1.0 - math.exp(-self.n_pulses / a))
        return -a * jnp.log1p(-(g - self.g_min) / b)

    def _noise(self, g, n_pulses, key):
        if key is None or self.sigma_c2c == 0.0:
            return g
        xi = jax.random.normal(key, jnp.shape(g), jnp.result_type(g))
        return g + self.sigma_c2c * jnp.sqrt(jnp.abs(n_pulses)) * xi

    def _moved(self, g, n_pulses, a, sign):
        # Noise-free: ``n_pulses`` (>= 0) along the curve of shape ``a``, up (sign 1) or down (-1).
        return self._curve(jnp.clip(self._position(g, a) + sign * n_pulses, 0.0, self.n_pulses), a)

    def potentiate(self, g: Float[Array, "..."], n_pulses, *, key: PRNGKeyArray | None = None) -> Float[Array, "..."]:
        """Conductances (S) after ``n_pulses`` (>= 0, broadcast against ``g``) LTP pulses; ``key``
        draws the cycle-to-cycle noise (``None``: noise-free)."""
        n_pulses = jnp.maximum(jnp.asarray(n_pulses, dtype=jnp.result_type(g, float)), 0.0)
        out = self._noise(self._moved(g, n_pulses, self.a_ltp, 1.0), n_pulses, key)
        return jnp.clip(out, self.g_min, self.g_max)

    def depress(self, g: Float[Array, "..."], n_pulses, *, key: PRNGKeyArray | None = None) -> Float[Array, "..."]:
        """Conductances (S) after ``n_pulses`` (>= 0) LTD pulses (see :meth:`potentiate`)."""
        n_pulses = jnp.maximum(jnp.asarray(n_pulses, dtype=jnp.result_type(g, float)), 0.0)
        out = self._noise(self._moved(g, n_pulses, self.a_ltd, -1.0), n_pulses, key)
        return jnp.clip(out, self.g_min, self.g_max)

    def programmed(self, g: Float[Array, "..."], change: Float[Array, "..."], *,
                   key: PRNGKeyArray | None = None) -> Float[Array, "..."]:
        """Conductances (S) after writing a requested change ``change`` (S, broadcast against ``g``):
        :meth:`pulse_count` LTP pulses where ``change > 0`` (:meth:`potentiate`), LTD pulses where
        ``change < 0`` (:meth:`depress`), the devices with ``change == 0`` untouched. ``key`` draws
        the stochastic pulse counts and the cycle-to-cycle noise, one normal number per device
        written (``None``: noise-free, nearest rounding); noise-free, it is the arithmetic of
        ``potentiate`` / ``depress`` (bitwise op by op; compiled, XLA's fusion may round the curve
        differently, by ~1e-6 of a pulse)."""
        k_count, k_noise = (None, None) if key is None else tuple(jax.random.split(key))
        n = self.pulse_count(change, key=k_count, g=g)
        n = jnp.maximum(jnp.asarray(n, dtype=jnp.result_type(g, float)), 0.0)
        # Both directions noise-free, then one noise draw for the direction each device takes.
        up, down = self._moved(g, n, self.a_ltp, 1.0), self._moved(g, n, self.a_ltd, -1.0)
        moved = jnp.clip(self._noise(jnp.where(change > 0, up, down), n, k_noise), self.g_min, self.g_max)
        return jnp.where(change != 0, moved, g)

    def pulses_for(self, g_from: Float[Array, "..."], g_to: Float[Array, "..."]) -> Float[Array, "..."]:
        """Signed number of pulses (not rounded) that moves a device from ``g_from`` to ``g_to``
        (S, clipped to the range) along the noise-free curves: > 0 LTP pulses, < 0 LTD pulses."""
        up = self._position(g_to, self.a_ltp) - self._position(g_from, self.a_ltp)
        down = self._position(g_to, self.a_ltd) - self._position(g_from, self.a_ltd)
        return jnp.where(jnp.asarray(g_to) >= jnp.asarray(g_from), up, down)

    def pulse_energy(self, g: Float[Array, "..."]) -> Float[Array, "..."]:
        """Energy (J) of one write pulse into a device at conductance ``g`` (S): ``v_write^2 g pulse_width``."""
        return self.v_write**2 * jnp.asarray(g) * self.pulse_width
