"""Linear quantization of trained weights into ``2n + 1`` levels symmetric about zero.

A trained weight matrix is normalised by a scale ``s`` (per matrix), clipped to ``[-1, 1]`` and
rounded to the nearest of the ``2n + 1`` levels ``k / n``, ``k = -n .. n`` (Hwang, Kim & Park 2021,
"Quantized Weight Transfer Method Using Spike-Timing-Dependent Plasticity for Hardware Spiking
Neural Network", Appl. Sci. 11(5):2059)::

    k = sign(w) * min(floor(n |w| / s + 1/2), n)        (integer level, -n .. n)
    w_q = k * s / n                                      (quantized weight, same units as w)

Rounding is half away from zero, so the quantizer is odd: ``q(-w) = -q(w)``, and the dead zone
around zero is ``|w| < s / (2n)``. With ``n = 1`` the weights become ternary ``{-s, 0, +s}``.

The scale ``s`` is the normalisation:

* ``"max"``: ``s = max |w|``: nothing is clipped;
* ``"mse"``: the ``s`` (searched on a grid of fractions of ``max |w|``) that minimises the mean
  squared quantization error ``mean (w_q - w)^2``: it clips a few large weights and narrows the dead
  zone, which matters at small ``n`` (for ``n = 1`` it lands near the ternary rule of thumb of
  Li et al. 2016, threshold ``~0.7 mean |w|``);
* a positive number: that scale.

Quantization-aware training (:func:`fake_quantize`) uses the same rounding in the forward pass with
a straight-through gradient, and learns the scale (LSQ, Esser et al. 2020, "Learned Step Size
Quantization"): plain post-training ternary quantization of an MLP loses many points, a few epochs
of fine-tuning through the quantizer win them back.

The integer levels are what the hardware stores (:mod:`memsnn.crossbar.weight_transfer` programs
one level map at a time); the scale is a read-out gain.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

__all__ = ["Quantized", "quantize", "quantization_scale", "fake_quantize", "MAX_LEVELS"]

# The paper sweeps n = 1 .. 7 (3 to 15 levels); more would need finer pulse offsets than a device
# resolves, and int8 levels would stop being exact.
MAX_LEVELS = 7


class Quantized(NamedTuple):
    """A quantized weight matrix.

    Attributes:
        levels: integer levels ``k`` in ``-n .. n``, the shape of the weights (int32).
        scale: the normalisation ``s`` (weight units): ``k = n`` stands for ``s``.
        n: number of non-zero levels of each sign (``2n + 1`` levels in all).
    """

    levels: Int[Array, "..."]
    scale: float
    n: int

    @property
    def weights(self) -> Float[Array, "..."]:
        """The quantized weights ``k s / n`` (weight units)."""
        return self.levels * (self.scale / self.n)

    @property
    def step(self) -> float:
        """The weight of one level, ``s / n``."""
        return self.scale / self.n


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"quantize: n (non-zero levels per sign) must be an integer 1 .. {MAX_LEVELS}, "
                        f"got {n!r} of type {type(n).__name__}.")
    if not 1 <= n <= MAX_LEVELS:
        raise ValueError(f"quantize: n must be in 1 .. {MAX_LEVELS} (2n + 1 = 3 .. {2 * MAX_LEVELS + 1} levels), "
                         f"got {n}.")
    return int(n)


def _check_weights(weights) -> np.ndarray:
    w = np.asarray(weights)
    if w.size == 0:
        raise ValueError(f"quantize: the weight array is empty (shape {w.shape}).")
    if not np.issubdtype(w.dtype, np.floating) and not np.issubdtype(w.dtype, np.integer):
        raise TypeError(f"quantize: weights must be real numbers, got dtype {w.dtype}.")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"quantize: the weights hold {int(np.sum(~np.isfinite(w)))} NaN/inf values; "
                         "quantize a trained, finite weight matrix.")
    if not np.any(w != 0):
        raise ValueError("quantize: every weight is zero, so there is no scale to normalise by.")
    return w.astype(np.float64)


def _levels(w: np.ndarray, scale: float, n: int) -> np.ndarray:
    k = np.minimum(np.floor(n * np.abs(w) / scale + 0.5), n)
    return (np.sign(w) * k).astype(np.int32)


def quantization_scale(weights, n: int, method: str = "mse", *, grid: int = 200) -> float:
    """The normalisation ``s`` of :func:`quantize` for ``method`` ``"max"`` or ``"mse"``.

    Args:
        weights: the weight array (any shape).
        n: non-zero levels per sign.
        method: ``"max"`` (``max |w|``) or ``"mse"`` (minimum mean squared error over ``grid``
            scales ``max |w| * j / grid``, ``j = 1 .. grid``).
        grid: number of candidate scales for ``"mse"``.
    """
    n = _check_n(n)
    w = _check_weights(weights)
    w_max = float(np.max(np.abs(w)))
    if method == "max":
        return w_max
    if method != "mse":
        raise ValueError(f"quantization_scale: method must be 'max' or 'mse' (or pass a number to quantize), "
                         f"got {method!r}.")
    # A subsample keeps the search cheap on large matrices; the error curve is smooth in s.
    flat = w.ravel()
    if flat.size > 200_000:
        flat = np.random.default_rng(0).choice(flat, 200_000, replace=False)
    candidates = w_max * np.arange(1, grid + 1) / grid
    errors = [np.mean((_levels(flat, s, n) * (s / n) - flat) ** 2) for s in candidates]
    return float(candidates[int(np.argmin(errors))])


def quantize(weights, n: int, scale: str | float = "mse") -> Quantized:
    """Normalise ``weights`` and quantize them linearly into ``2n + 1`` levels symmetric about zero.

    Args:
        weights: a trained weight array (any shape, finite, not all zero).
        n: non-zero levels of each sign, ``1 .. 7`` (``n = 1``: ternary).
        scale: ``"max"``, ``"mse"`` (see the module docstring) or the scale itself (> 0, weight
            units).

    Returns:
        :class:`Quantized` with integer ``levels`` ``-n .. n`` and the ``scale``.

    Example::

        q = quantize(w, 1, "max")       # levels in {-1, 0, 1}; |w| < max|w| / 2 -> 0
        w_hat = q.weights               # {-max|w|, 0, max|w|}
    """
    n = _check_n(n)
    w = _check_weights(weights)
    if isinstance(scale, str):
        s = quantization_scale(w, n, scale)
    else:
        s = float(scale)
        if not np.isfinite(s) or s <= 0:
            raise ValueError(f"quantize: scale must be 'max', 'mse' or a positive number, got {scale!r}.")
    return Quantized(jnp.asarray(_levels(w, s, n)), s, n)


@jax.custom_jvp
def _round_half_away(x):
    return jnp.sign(x) * jnp.floor(jnp.abs(x) + 0.5)


@_round_half_away.defjvp
def _round_half_away_jvp(primals, tangents):
    # Straight-through: the rounding passes gradients unchanged.
    (x,), (dx,) = primals, tangents
    return _round_half_away(x), dx


def fake_quantize(weights: Float[Array, "..."], n: int, scale: Float[Array, ""]) -> Float[Array, "..."]:
    """Quantized weights ``k s / n`` with gradients, for quantization-aware training.

    The forward value equals ``quantize(weights, n, scale).weights`` (same clipping and rounding,
    half away from zero). The derivative treats the rounding as the identity (straight-through
    estimator): it is 1 for weights inside ``[-s, s]`` and 0 for clipped ones; the derivative in
    ``scale`` is that of learned step size quantization (LSQ), ``k / n - w / s`` inside the range and
    ``sign(w)`` outside, so the scale can be trained with the weights.

    Args:
        weights: weight array (any shape).
        n: non-zero levels per sign, ``1 .. 7`` (static).
        scale: the normalisation ``s`` (> 0), a scalar array (trainable).
    """
    n = _check_n(n)
    step = scale / n
    return _round_half_away(jnp.clip(weights / step, -n, n)) * step
