"""Device non-idealities as small composable transforms on conductances (docs/crossbar.md).

Each non-ideality is an :class:`AbstractNonideality`: a pure transform of :class:`Conductances`
at two moments,

* :meth:`~AbstractNonideality.programmed` once, when the crossbar is programmed (finite levels,
  device-to-device programming noise, stuck-at faults), with a PRNG ``key``;
* :meth:`~AbstractNonideality.read` at every read, ``t`` seconds after programming (drift,
  cycle-to-cycle read noise drawn fresh with each read's ``key``);

and :meth:`~AbstractNonideality.voltage`, the cell's I-V nonlinearity as an effective voltage.
They compose with :func:`chain`, in order, like optax transforms. With ``key=None`` a stochastic
transform returns its noise-free mean (a deterministic, "typical" crossbar).

In the ``reference`` scheme only ``positive`` holds programmable devices; the reference
conductance in ``negative`` is left untouched by every transform here.
"""

from __future__ import annotations

import math
from typing import Callable, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, PRNGKeyArray

from .mapping import ConductanceMapping, Conductances

__all__ = [
    "AbstractNonideality", "Chain", "chain", "FiniteLevels", "ProgrammingNoise", "ReadNoise", "StuckAt", "Drift",
    "IVNonlinearity", "global_drift_compensation",
]


def _devices(g: Conductances, mapping: ConductanceMapping, fn: Callable, key) -> Conductances:
    """Apply ``fn(values, key)`` to every programmable device (both of a pair; only ``positive``
    against a reference), with independent keys."""
    if key is None:
        k_pos = k_neg = None
    else:
        k_pos, k_neg = jax.random.split(key)
    positive = fn(g.positive, k_pos)
    negative = fn(g.negative, k_neg) if mapping.differential else g.negative
    return Conductances(positive, negative)


def _straight_through(exact, transformed):
    """``transformed`` in the forward pass, the gradient of ``exact`` in the backward pass."""
    return exact + jax.lax.stop_gradient(transformed - exact)


def _check_fraction(owner: str, name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{owner}: {name} must be a fraction in [0, 1], got {value!r}.")
    return value


def _check_nonnegative(owner: str, name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{owner}: {name} must be a finite number >= 0, got {value!r}.")
    return value


class AbstractNonideality(eqx.Module):
    """A device non-ideality: transforms of the conductances at programming and at each read.

    Every method defaults to the identity, so a concrete non-ideality overrides only the moments
    it acts at. ``stochastic`` says whether it draws noise (then callers must pass keys for a
    noisy result; ``key=None`` gives the noise-free mean).
    """

    stochastic: ClassVar[bool] = False

    def programmed(self, g: Conductances, mapping: ConductanceMapping, *,
                   key: PRNGKeyArray | None = None) -> Conductances:
        """The conductances (S) a device array reaches when programmed to target ``g``."""
        return g

    def read(self, g: Conductances, mapping: ConductanceMapping, *, t: float | Float[Array, ""],
             key: PRNGKeyArray | None = None) -> Conductances:
        """The conductances (S) seen by a read ``t`` seconds after programming (state ``g``)."""
        return g

    def voltage(self, v: Float[Array, "..."]) -> Float[Array, "..."]:
        """The effective voltage (V) whose product with ``G`` is the cell current at applied ``v``
        (identity for an ohmic cell)."""
        return v


class Chain(AbstractNonideality):
    """Non-idealities applied in order (the first one's output feeds the second); see :func:`chain`."""

    nonidealities: tuple[AbstractNonideality, ...]

    def __init__(self, *nonidealities: AbstractNonideality):
        flat = []
        for item in nonidealities:
            if not isinstance(item, AbstractNonideality):
                raise TypeError(f"chain: expected memsnn.crossbar non-idealities, got {type(item).__name__}.")
            flat.extend(item.nonidealities if isinstance(item, Chain) else (item,))
        self.nonidealities = tuple(flat)

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        return any(n.stochastic for n in self.nonidealities)

    def _keys(self, key):
        if key is None:
            return [None] * len(self.nonidealities)
        return list(jax.random.split(key, max(len(self.nonidealities), 1)))

    def programmed(self, g, mapping, *, key=None):
        for item, k in zip(self.nonidealities, self._keys(key)):
            g = item.programmed(g, mapping, key=k)
        return g

    def read(self, g, mapping, *, t, key=None):
        for item, k in zip(self.nonidealities, self._keys(key)):
            g = item.read(g, mapping, t=t, key=k)
        return g

    def voltage(self, v):
        for item in self.nonidealities:
            v = item.voltage(v)
        return v


def chain(*nonidealities: AbstractNonideality) -> Chain:
    """Compose non-idealities, applied in the order given (e.g. ``chain(FiniteLevels(16),
    ProgrammingNoise(0.02), StuckAt(0.005, 0.005), Drift.pcm(), ReadNoise(0.02))``)."""
    return Chain(*nonidealities)


class FiniteLevels(AbstractNonideality):
    """Programming reaches only ``levels`` conductances, equally spaced in ``[g_min, g_max]``:
    ``G -> g_min + round((G - g_min) / step) step``, ``step = (g_max - g_min) / (levels - 1)``.

    Gradients pass straight through (the identity), as in quantisation-aware training.
    """

    levels: int = eqx.field(static=True)

    def __init__(self, levels: int):
        if isinstance(levels, bool) or not float(levels).is_integer() or int(levels) < 2:
            raise ValueError(f"FiniteLevels: levels must be an integer >= 2 (a device has at least two "
                             f"states), got {levels!r}.")
        self.levels = int(levels)

    def programmed(self, g, mapping, *, key=None):
        step = (mapping.g_max - mapping.g_min) / (self.levels - 1)

        def quantise(x, _):
            q = mapping.g_min + jnp.round((jnp.clip(x, mapping.g_min, mapping.g_max) - mapping.g_min) / step) * step
            return _straight_through(x, q)

        return _devices(g, mapping, quantise, None)


class ProgrammingNoise(AbstractNonideality):
    """Device-to-device programming error, drawn once at programming: ``G -> max(G + sigma(G) xi, 0)``
    with ``xi ~ N(0, 1)`` per device and

        ``sigma(G) = relative (g_max - g_min) + 1e-6 (g_max / reference_g_max) sum_k c_k (G / g_max)^k``.

    The polynomial (``coefficients`` ``c_k`` in uS, fitted at ``reference_g_max`` in S) is aihwkit's
    form; :meth:`pcm` and :meth:`reram` hold aihwkit's fits (docs/crossbar.md, "Presets").

    Attributes:
        relative: sigma as a fraction of the conductance range (>= 0).
        coefficients: polynomial coefficients ``c_0, c_1, ...`` in uS (may be empty).
        reference_g_max: ``g_max`` (S) the polynomial was fitted at.
    """

    relative: float = eqx.field(static=True)
    coefficients: tuple[float, ...] = eqx.field(static=True)
    reference_g_max: float = eqx.field(static=True)
    stochastic: ClassVar[bool] = True

    def __init__(self, relative: float = 0.0, *, coefficients: tuple[float, ...] = (),
                 reference_g_max: float = 25e-6):
        self.relative = _check_nonnegative("ProgrammingNoise", "relative", relative)
        self.coefficients = tuple(float(c) for c in coefficients)
        self.reference_g_max = float(reference_g_max)
        if not self.reference_g_max > 0:
            raise ValueError(f"ProgrammingNoise: reference_g_max must be > 0 S, got {reference_g_max!r}.")

    @classmethod
    def pcm(cls) -> "ProgrammingNoise":
        """aihwkit ``PCMLikeNoiseModel``: ``sigma = 0.26348 + 1.9650 g - 1.1731 g^2`` uS,
        ``g = G / g_max``, fitted at ``g_max = 25 uS`` (Nandakumar et al., ICECS 2019)."""
        return cls(coefficients=(0.26348, 1.9650, -1.1731), reference_g_max=25e-6)

    @classmethod
    def reram(cls) -> "ProgrammingNoise":
        """aihwkit ``ReRamWan2022NoiseModel`` (1 s after programming): a 4th-order polynomial in uS
        fitted to Wan et al., Nature 608, 504 (2022), at ``g_max = 40 uS``."""
        return cls(coefficients=(0.348, 16.030, -43.853, 45.393, -16.815), reference_g_max=40e-6)

    def sigma(self, g: Float[Array, "..."], mapping: ConductanceMapping) -> Float[Array, "..."]:
        """The standard deviation (S) of the programming error at target conductance ``g`` (S)."""
        sigma = jnp.full_like(g, self.relative * (mapping.g_max - mapping.g_min))
        if self.coefficients:
            x = g / mapping.g_max
            poly = sum(c * x**k for k, c in enumerate(self.coefficients))
            sigma = sigma + 1e-6 * (mapping.g_max / self.reference_g_max) * poly
        return jnp.maximum(sigma, 0.0)

    def programmed(self, g, mapping, *, key=None):
        if key is None:
            return g

        def noisy(x, k):
            return jnp.maximum(x + self.sigma(jax.lax.stop_gradient(x), mapping) * jax.random.normal(k, x.shape, x.dtype), 0.0)

        return _devices(g, mapping, noisy, key)


class ReadNoise(AbstractNonideality):
    """Cycle-to-cycle read noise, drawn fresh at every read: ``G -> G + |G| sigma xi``.

    ``kind="relative"``: ``sigma`` is the constant ``relative``.
    ``kind="pcm"``: aihwkit's accumulated 1/f noise of PCM, ``sigma(t) = Q_s sqrt(ln((t + t_read) /
    (2 t_read)))``, ``Q_s = min(0.0088 / max((|G| / g_max)^0.65, 1e-3), 0.2)``, ``t_read = 250 ns``
    (``t`` = seconds since programming).

    Attributes:
        relative: relative sigma of ``kind="relative"`` (>= 0).
        kind: ``"relative"`` or ``"pcm"``.
        t_read: read duration of the 1/f model (s).
    """

    relative: float = eqx.field(static=True)
    kind: str = eqx.field(static=True)
    t_read: float = eqx.field(static=True)
    stochastic: ClassVar[bool] = True

    def __init__(self, relative: float = 0.0, *, kind: str = "relative", t_read: float = 250e-9):
        if kind not in ("relative", "pcm"):
            raise ValueError(f"ReadNoise: kind must be 'relative' or 'pcm', got {kind!r}.")
        self.relative = _check_nonnegative("ReadNoise", "relative", relative)
        self.kind = kind
        self.t_read = float(t_read)
        if not self.t_read > 0:
            raise ValueError(f"ReadNoise: t_read must be > 0 s, got {t_read!r}.")

    @classmethod
    def pcm(cls) -> "ReadNoise":
        """aihwkit ``PCMLikeNoiseModel`` read (1/f) noise (Nandakumar et al., ICECS 2019)."""
        return cls(kind="pcm")

    def sigma(self, g: Float[Array, "..."], mapping: ConductanceMapping, t) -> Float[Array, "..."]:
        """Relative standard deviation of a read of conductance ``g`` (S) at ``t`` s after programming."""
        if self.kind == "relative":
            return jnp.full_like(g, self.relative)
        q_s = jnp.minimum(0.0088 / jnp.maximum((jnp.abs(g) / mapping.g_max) ** 0.65, 1e-3), 0.2)
        t = jnp.asarray(t, dtype=g.dtype)
        return q_s * jnp.sqrt(jnp.maximum(jnp.log((t + self.t_read) / (2 * self.t_read)), 0.0))

    def read(self, g, mapping, *, t, key=None):
        if key is None:
            return g

        def noisy(x, k):
            sigma = self.sigma(jax.lax.stop_gradient(x), mapping, t)
            return x + jnp.abs(jax.lax.stop_gradient(x)) * sigma * jax.random.normal(k, x.shape, x.dtype)

        return _devices(g, mapping, noisy, key)


class StuckAt(AbstractNonideality):
    """Stuck-at faults, drawn at programming: each device is independently stuck at ``g_min``
    (SA0) with probability ``p_sa0`` and at ``g_max`` (SA1) with probability ``p_sa1``.

    ``fault_aware=True``: programming knows the faults (write-verify finds a device that does not
    move) and maps around them: the healthy partner of a stuck device in a differential pair is
    programmed to ``clip(a -/+ d, g_min, g_max)`` so that the pair keeps its programmed difference
    ``d`` (:meth:`~memsnn.crossbar.ConductanceMapping.compensate_stuck`; Xia et al., DAC 2017;
    Jin et al., DATE 2020; docs/crossbar.md). The compensated pair keeps the programming error
    (levels, noise) that the transforms before this one gave it, the error a healthy pair has.
    Place it after :class:`FiniteLevels` and :class:`ProgrammingNoise` in a chain. The fault map
    is the same with and without ``fault_aware`` for the same key (the same chip). No effect in
    the ``reference`` scheme (no partner device).

    Attributes:
        p_sa0, p_sa1: fault fractions in ``[0, 1]`` with ``p_sa0 + p_sa1 <= 1``.
        fault_aware: compensate each stuck device with its healthy partner (differential pairs).
    """

    p_sa0: float = eqx.field(static=True)
    p_sa1: float = eqx.field(static=True)
    fault_aware: bool = eqx.field(static=True)
    stochastic: ClassVar[bool] = True

    def __init__(self, p_sa0: float = 0.0, p_sa1: float = 0.0, *, fault_aware: bool = False):
        self.p_sa0 = _check_fraction("StuckAt", "p_sa0", p_sa0)
        self.p_sa1 = _check_fraction("StuckAt", "p_sa1", p_sa1)
        if self.p_sa0 + self.p_sa1 > 1.0:
            raise ValueError(f"StuckAt: p_sa0 + p_sa1 must be <= 1, got {self.p_sa0} + {self.p_sa1}.")
        if not isinstance(fault_aware, (bool, np.bool_)):
            raise TypeError(f"StuckAt: fault_aware must be True or False, got {fault_aware!r}.")
        self.fault_aware = bool(fault_aware)

    def faults(self, shape: tuple[int, ...], dtype, mapping: ConductanceMapping,
               key: PRNGKeyArray) -> tuple[Bool[Array, "..."], Float[Array, "..."]]:
        """Draw one device array's faults: ``(stuck, value)``, whether each device is stuck and the
        conductance (S) it is stuck at (``g_min`` for SA0, ``g_max`` for SA1; 0 where healthy)."""
        u = jax.random.uniform(key, shape, dtype)
        sa0 = u < self.p_sa0
        sa1 = (u >= self.p_sa0) & (u < self.p_sa0 + self.p_sa1)
        value = jnp.where(sa0, mapping.g_min, jnp.where(sa1, mapping.g_max, 0.0)).astype(dtype)
        return sa0 | sa1, value

    def programmed(self, g, mapping, *, key=None):
        if key is None:
            return g
        k_pos, k_neg = jax.random.split(key)
        stuck_pos, at_pos = self.faults(g.positive.shape, g.positive.dtype, mapping, k_pos)
        if mapping.differential:
            stuck_neg, at_neg = self.faults(g.negative.shape, g.negative.dtype, mapping, k_neg)
        else:
            stuck_neg, at_neg = jnp.zeros_like(stuck_pos), g.negative
        if self.fault_aware:
            return mapping.compensate_stuck(g, stuck_pos, stuck_neg, Conductances(at_pos, at_neg))
        return Conductances(jnp.where(stuck_pos, at_pos, g.positive), jnp.where(stuck_neg, at_neg, g.negative))


class Drift(AbstractNonideality):
    """Conductance drift after programming: ``G(t) = G0 (t / t0)^(-nu)`` for ``t > t0``, ``G0`` before.

    ``kind="constant"``: ``nu ~ |N(nu, nu_std)|`` per device.
    ``kind="pcm"``: aihwkit's PCM statistics, depending on ``g = |G0| / g_max`` (floored at 1e-7):
    ``mu = clip(-0.0155 ln g + 0.0244, 0.049, 0.1)``, ``sigma = clip(-0.0125 ln g - 0.0059, 0.008,
    0.045)``, ``nu = |mu + sigma xi|``.

    The exponents are a property of the manufactured chip, fixed for all of its reads: they are
    drawn from ``seed`` (not from each read's key), so every read of the same chip drifts alike.
    ``t`` is seconds since programming.

    Attributes:
        nu: mean drift exponent (``kind="constant"``).
        t0: the reference time (s) at which ``G = G0`` (aihwkit: 20 s).
        nu_std: spread of the drift exponent (``kind="constant"``).
        kind: ``"constant"`` or ``"pcm"``.
        seed: seed of the chip's exponents.
    """

    nu: float = eqx.field(static=True)
    nu_std: float = eqx.field(static=True)
    t0: float = eqx.field(static=True)
    kind: str = eqx.field(static=True)
    seed: int = eqx.field(static=True)

    def __init__(self, nu: float = 0.0, t0: float = 20.0, nu_std: float = 0.0, *, kind: str = "constant",
                 seed: int = 0):
        if kind not in ("constant", "pcm"):
            raise ValueError(f"Drift: kind must be 'constant' or 'pcm', got {kind!r}.")
        self.nu = _check_nonnegative("Drift", "nu", nu)
        self.nu_std = _check_nonnegative("Drift", "nu_std", nu_std)
        self.t0 = float(t0)
        if not (math.isfinite(self.t0) and self.t0 > 0):
            raise ValueError(f"Drift: t0 must be > 0 s, got {t0!r}.")
        self.kind = kind
        self.seed = int(seed)

    @classmethod
    def pcm(cls, *, seed: int = 0) -> "Drift":
        """aihwkit ``PCMLikeNoiseModel`` drift (t0 = 20 s; Nandakumar et al., ICECS 2019)."""
        return cls(t0=20.0, kind="pcm", seed=seed)

    def exponents(self, g: Float[Array, "..."], mapping: ConductanceMapping, key: PRNGKeyArray) -> Float[Array, "..."]:
        """The drift exponents ``nu`` of devices programmed to ``g`` (S), drawn with ``key``."""
        xi = jax.random.normal(key, g.shape, g.dtype)
        if self.kind == "constant":
            return jnp.abs(self.nu + self.nu_std * xi)
        rel = jnp.maximum(jnp.abs(g) / mapping.g_max, 1e-7)
        mu = jnp.clip(-0.0155 * jnp.log(rel) + 0.0244, 0.049, 0.1)
        sigma = jnp.clip(-0.0125 * jnp.log(rel) - 0.0059, 0.008, 0.045)
        return jnp.abs(mu + sigma * xi)

    def read(self, g, mapping, *, t, key=None):
        chip = jax.random.PRNGKey(self.seed)
        t = jnp.asarray(t, dtype=g.positive.dtype)
        ratio = jnp.maximum(t, self.t0) / self.t0

        def drift(x, k):
            nu = self.exponents(jax.lax.stop_gradient(x), mapping, k)
            return x * ratio ** (-nu)

        return _devices(g, mapping, drift, chip)


class IVNonlinearity(AbstractNonideality):
    """A cell whose current is ``I = G sinh(a V) / a`` (ohmic, ``G V``, for ``|a V| << 1``):
    the effective conductance at read voltage ``V`` is ``G sinh(a V) / (a V)``.

    The sinh form is the standard fit of tunnelling-barrier memristive cells (Yang et al., Nature
    Nanotech. 3, 429 (2008); the Yakopcic model's ``I ~ sinh(b V)``). It acts on the voltage each
    cell sees; with wire resistance the solver applies it at the driver voltage (exact without
    IR drop, first-order with it; docs/crossbar.md).

    Attributes:
        a: nonlinearity (1/V), > 0.
    """

    a: float = eqx.field(static=True)

    def __init__(self, a: float):
        a = float(a)
        if not (math.isfinite(a) and a > 0):
            raise ValueError(f"IVNonlinearity: a must be > 0 (1/V), got {a!r}.")
        self.a = a

    def voltage(self, v):
        return jnp.sinh(self.a * v) / self.a


def global_drift_compensation(programmed_weight: Float[Array, "n_out n_in"],
                              read_weight: Float[Array, "n_out n_in"]) -> Float[Array, ""]:
    """aihwkit's global drift compensation factor: ``alpha = sum_j |sum_i W0_ji| / sum_j |sum_i W(t)_ji|``.

    The chip reads its array once with all inputs at 1 right after programming (``W0``) and again
    at inference time (``W(t)``); multiplying the outputs by ``alpha`` undoes the average drift.
    Both arguments are effective weights ``(n_out, n_in)``.
    """
    reference = jnp.sum(jnp.abs(jnp.sum(programmed_weight, axis=1)))
    now = jnp.sum(jnp.abs(jnp.sum(read_weight, axis=1)))
    return reference / jnp.where(now > 0, now, 1.0)
