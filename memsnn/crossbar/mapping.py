"""Signed weights to device conductances and back (docs/crossbar.md, "Mapping")."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from .._validation import _concrete

__all__ = ["Conductances", "ConductanceMapping", "SCHEMES"]

SCHEMES = ("differential", "reference")


class Conductances(NamedTuple):
    """The conductances (S) of a crossbar's devices, each ``(n_out, n_in)`` (the weight's layout).

    Attributes:
        positive: ``G+``, the device of each weight (``differential``: the positive one of the pair).
        negative: ``G-``: the negative device of each pair (``differential``), or the constant
            reference conductance ``g_ref`` broadcast to the same shape (``reference`` scheme).
    """

    positive: Float[Array, "n_out n_in"]
    negative: Float[Array, "n_out n_in"]


class ConductanceMapping(eqx.Module):
    """How a signed weight is held by devices with conductances in ``[g_min, g_max]`` (S).

    ``scheme="differential"`` (two devices per weight): ``G+ = g_min + k max(w, 0)``,
    ``G- = g_min + k max(-w, 0)``, ``k = (g_max - g_min) / w_max``, ``w = (G+ - G-) / k``.

    ``scheme="reference"`` (one device per weight against a reference column of constant
    ``g_ref = (g_min + g_max) / 2``): ``G = g_ref + k w``, ``k = (g_max - g_min) / (2 w_max)``,
    ``w = (G - g_ref) / k``; :class:`Conductances` then holds ``G`` and ``g_ref``.

    In both, an output current difference ``I+ - I-`` read at voltage ``v_read`` is the weighted
    sum ``k v_read (W x)``: :attr:`scale` is ``k`` (S per unit weight).

    Attributes:
        g_min, g_max: the devices' conductance range (S), ``0 <= g_min < g_max``.
        scheme: ``"differential"`` or ``"reference"``.
        w_max: the weight magnitude mapped to the full range (weight units, > 0).
    """

    g_min: float = eqx.field(static=True)
    g_max: float = eqx.field(static=True)
    scheme: str = eqx.field(static=True)
    w_max: float = eqx.field(static=True)

    def __init__(self, g_min: float, g_max: float, *, scheme: str = "differential", w_max: float = 1.0):
        g_min, g_max, w_max = float(g_min), float(g_max), float(w_max)
        if not (np.isfinite(g_min) and np.isfinite(g_max) and 0.0 <= g_min < g_max):
            raise ValueError(f"ConductanceMapping: need 0 <= g_min < g_max (S), got g_min={g_min}, g_max={g_max}.")
        if not (np.isfinite(w_max) and w_max > 0):
            raise ValueError(f"ConductanceMapping: w_max must be > 0, got {w_max}.")
        if scheme not in SCHEMES:
            raise ValueError(f"ConductanceMapping: scheme must be one of {SCHEMES}, got {scheme!r}.")
        self.g_min, self.g_max, self.scheme, self.w_max = g_min, g_max, scheme, w_max

    @property
    def scale(self) -> float:
        """``k`` (S per unit weight): conductance difference per unit of weight."""
        span = self.g_max - self.g_min
        return span / self.w_max if self.scheme == "differential" else span / (2.0 * self.w_max)

    @property
    def g_ref(self) -> float:
        """The reference conductance (S) of the ``reference`` scheme, ``(g_min + g_max) / 2``."""
        return 0.5 * (self.g_min + self.g_max)

    @property
    def differential(self) -> bool:
        """Whether both conductances of a weight are programmable devices (else ``negative`` is
        the fixed reference, which non-idealities and programming leave alone)."""
        return self.scheme == "differential"

    def to_conductances(self, weight: Float[Array, "n_out n_in"], *, saturate: bool = False) -> Conductances:
        """Target conductances (S) for ``weight`` ``(n_out, n_in)``.

        Args:
            weight: signed weights in ``[-w_max, w_max]``.
            saturate: clip weights beyond ``±w_max`` to the conductance range (what programming a
                real device does; :class:`~memsnn.crossbar.Crossbar` uses it, so that training may
                move weights past the range and gradients there are zero). With ``False`` (the
                default) weights out of range are an error when their values are known (eager).
        """
        weight = jnp.asarray(weight)
        if not jnp.issubdtype(weight.dtype, jnp.floating):
            weight = weight.astype(float)
        if saturate:
            weight = jnp.clip(weight, -self.w_max, self.w_max)
        else:
            concrete = _concrete(weight)
            if concrete is not None:
                worst = float(np.max(np.abs(concrete))) if concrete.size else 0.0
                if not np.isfinite(worst) or worst > self.w_max * (1 + 1e-12):
                    raise ValueError(
                        f"ConductanceMapping.to_conductances: weights must lie in [-w_max, w_max] = "
                        f"[-{self.w_max:g}, {self.w_max:g}], got max |w| = {worst:g}. Raise w_max (the weight "
                        f"mapped to g_max), scale the weights, or pass saturate=True to clip them.")
        k = self.scale
        if self.scheme == "differential":
            positive = self.g_min + k * jnp.maximum(weight, 0.0)
            negative = self.g_min + k * jnp.maximum(-weight, 0.0)
        else:
            positive = self.g_ref + k * weight
            negative = jnp.full_like(weight, self.g_ref)
        return Conductances(positive, negative)

    def to_weight(self, conductances: Conductances) -> Float[Array, "n_out n_in"]:
        """The signed weight ``(G+ - G-) / k`` that ``conductances`` hold (no range check: read-out
        conductances with noise may leave ``[g_min, g_max]``)."""
        return (conductances.positive - conductances.negative) / self.scale

    def check(self, conductances: Conductances) -> Conductances:
        """Raise ``ValueError`` if concrete ``conductances`` leave ``[g_min, g_max]``; return them."""
        for name, value in zip(("positive", "negative"), conductances):
            concrete = _concrete(value)
            if concrete is None or concrete.size == 0:
                continue
            low, high = float(np.min(concrete)), float(np.max(concrete))
            tol = 1e-9 * self.g_max
            if not (np.isfinite(low) and np.isfinite(high)) or low < self.g_min - tol or high > self.g_max + tol:
                raise ValueError(
                    f"ConductanceMapping: {name} conductances must lie in [g_min, g_max] = [{self.g_min:g}, "
                    f"{self.g_max:g}] S, got values in [{low:g}, {high:g}] S. Conductances are in siemens "
                    f"(1 uS = 1e-6 S); clip them or widen the mapping's range.")
        return conductances

    def clip(self, conductances: Conductances) -> Conductances:
        """``conductances`` held inside ``[g_min, g_max]`` (the reference of the ``reference``
        scheme is left as it is)."""
        positive = jnp.clip(conductances.positive, self.g_min, self.g_max)
        negative = jnp.clip(conductances.negative, self.g_min, self.g_max) if self.differential else conductances.negative
        return Conductances(positive, negative)

    def compensate_stuck(self, target: Conductances, stuck_positive: Bool[Array, "n_out n_in"],
                         stuck_negative: Bool[Array, "n_out n_in"], stuck_at: Conductances) -> Conductances:
        """Fault-tolerant mapping of a differential pair with a stuck device (Xia et al., DAC 2017;
        Jin et al., DATE 2020; docs/crossbar.md): the healthy partner is reprogrammed to keep the
        pair's difference.

        The pair's target difference is ``d = target.positive - target.negative`` (S). If ``G+`` is
        stuck at ``a``, the partner's new target is ``G- = clip(a - d, g_min, g_max)``; if ``G-`` is
        stuck at ``a``, ``G+ = clip(a + d, g_min, g_max)``. The pair then holds ``d`` exactly
        unless the clip bites (an SA0 device on the side of the weight's sign: the pair holds
        ``0`` instead of ``d``, the best it can). A pair with both devices stuck stays as it is.

        Args:
            target: the conductances (S) the pairs should hold, ``(n_out, n_in)`` each.
            stuck_positive, stuck_negative: which devices are stuck (detected faults).
            stuck_at: the conductances (S) of the stuck devices (read only where stuck).

        Returns:
            New targets: stuck devices at their stuck value, a healthy partner of one stuck device
            at its compensating value, all others at ``target``. Differentiable in ``target``
            (hardware-aware training learns through the compensation). The ``reference`` scheme
            has no partner device: the stuck devices are set and nothing is compensated.
        """
        positive = jnp.where(stuck_positive, stuck_at.positive, target.positive)
        if not self.differential:
            return Conductances(positive, target.negative)
        negative = jnp.where(stuck_negative, stuck_at.negative, target.negative)
        d = target.positive - target.negative
        only_pos = stuck_positive & ~stuck_negative
        only_neg = stuck_negative & ~stuck_positive
        negative = jnp.where(only_pos, jnp.clip(stuck_at.positive - d, self.g_min, self.g_max), negative)
        positive = jnp.where(only_neg, jnp.clip(stuck_at.negative + d, self.g_min, self.g_max), positive)
        return Conductances(positive, negative)
