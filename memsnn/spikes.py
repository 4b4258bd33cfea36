"""Spike functions with surrogate gradients, for surrogate-gradient training of LIF / IF networks.

A spike function maps the distance to threshold ``x = v - threshold`` (V) to a spike in {0, 1}.
Forward it is the exact Heaviside step ``x >= 0``; its derivative, which is zero almost
everywhere, is replaced by a smooth (or box) bump of unit area centred on the threshold, so that
gradients flow through spikes (Neftci, Mostafa and Zenke 2019). ``slope`` sets how sharp the bump
is, in 1/V::

    from memsnn import LIF
    from memsnn.spikes import fast_sigmoid, surrogate
    neuron = LIF(spike_fn=fast_sigmoid(slope=25.0))
    neuron = LIF(spike_fn=surrogate("arctan", 2.0))

The functions are equinox modules whose only fields are static Python floats: they are hashable,
so they can be static fields of a neuron, and two equal spike functions do not trigger a retrace.
The surrogate derivatives are those of snnTorch (``snntorch.surrogate``) for the same slope.
"""

from __future__ import annotations

import abc
import functools
import math
import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = [
    "SURROGATES",
    "SpikeFunction",
    "arctan",
    "fast_sigmoid",
    "sigmoid",
    "straight_through",
    "surrogate",
    "triangular",
]


# The spike-function object is static (hashable, no array leaves), so it is a non-differentiable
# argument: its surrogate derivative is the only thing the JVP needs from it.
@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _spike(spike_fn: "SpikeFunction", x):
    return (x >= 0).astype(x.dtype)


@_spike.defjvp
def _spike_jvp(spike_fn, primals, tangents):
    (x,), (dx,) = primals, tangents
    return _spike(spike_fn, x), spike_fn.derivative(x) * dx


def _check_slope(owner: str, slope) -> float:
    if isinstance(slope, bool) or not isinstance(slope, numbers.Real) or not math.isfinite(slope) or slope <= 0:
        raise ValueError(
            f"{owner}: slope must be a finite number > 0 (1/V, how sharp the surrogate derivative "
            f"is), got {slope!r}."
        )
    return float(slope)


class SpikeFunction(eqx.Module):
    """Heaviside step forward, surrogate derivative :meth:`derivative` backward.

    Call it on ``x = v - threshold`` of any shape; it returns 0/1 of the same shape and dtype.

    Attributes:
        slope: sharpness of the surrogate derivative (1/V), > 0. Static.
    """

    slope: float = eqx.field(static=True)

    def __check_init__(self):
        _check_slope(type(self).__name__, self.slope)

    def __call__(self, x: Float[Array, "..."]) -> Float[Array, "..."]:
        return _spike(self, jnp.asarray(x))

    @abc.abstractmethod
    def derivative(self, x: Float[Array, "..."]) -> Float[Array, "..."]:
        """The surrogate d spike / d x (1/V) used in place of the Dirac delta."""


class FastSigmoid(SpikeFunction):
    """SuperSpike (Zenke and Ganguli 2018): ``1 / (1 + slope |x|)^2``, the derivative of the
    fast sigmoid ``x / (1 + slope |x|)`` up to a factor (as in snnTorch, peak 1 at threshold)."""

    def derivative(self, x):
        return 1.0 / (1.0 + self.slope * jnp.abs(x)) ** 2


class Arctan(SpikeFunction):
    """Arctangent (Fang et al. 2021): ``(slope / 2) / (1 + (pi slope x / 2)^2)``, unit area."""

    def derivative(self, x):
        return (self.slope / 2) / (1.0 + (jnp.pi / 2 * self.slope * x) ** 2)


class Sigmoid(SpikeFunction):
    """Logistic: ``slope * sigma(slope x) * (1 - sigma(slope x))``, unit area."""

    def derivative(self, x):
        # sigma(z) sigma(-z) rather than sigma(z) (1 - sigma(z)): no cancellation in the tails.
        z = self.slope * x
        return self.slope * jax.nn.sigmoid(z) * jax.nn.sigmoid(-z)


class Triangular(SpikeFunction):
    """Triangle (Esser et al. 2016, Bellec et al. 2018): ``slope * max(0, 1 - slope |x|)``,
    half-width ``1 / slope``, unit area."""

    def derivative(self, x):
        return self.slope * jnp.maximum(0.0, 1.0 - self.slope * jnp.abs(x))


class StraightThrough(SpikeFunction):
    """Straight-through estimator of a binary activation (Bengio et al. 2013; Yin et al. 2017,
    "Algorithm and hardware design of discrete-time spiking neural networks based on back
    propagation with binary activations"): the gradient of the hard sigmoid
    ``clip(slope x + 1/2, 0, 1)``, i.e. ``slope`` on ``|x| <= 1 / (2 slope)``, zero outside."""

    def derivative(self, x):
        return jnp.where(jnp.abs(x) <= 0.5 / self.slope, self.slope, 0.0).astype(jnp.result_type(x))


def fast_sigmoid(slope: float = 25.0) -> SpikeFunction:
    """SuperSpike / fast-sigmoid surrogate (snnTorch's default, ``slope=25``)."""
    return FastSigmoid(_check_slope("fast_sigmoid", slope))


def arctan(slope: float = 2.0) -> SpikeFunction:
    """Arctangent surrogate (snnTorch ``atan``, ``alpha=2``)."""
    return Arctan(_check_slope("arctan", slope))


def sigmoid(slope: float = 25.0) -> SpikeFunction:
    """Logistic-sigmoid surrogate (snnTorch ``sigmoid``, ``slope=25``)."""
    return Sigmoid(_check_slope("sigmoid", slope))


def triangular(slope: float = 1.0) -> SpikeFunction:
    """Triangular surrogate of half-width ``1 / slope``."""
    return Triangular(_check_slope("triangular", slope))


def straight_through(slope: float = 1.0) -> SpikeFunction:
    """Straight-through estimator of a binary activation: a box of width ``1 / slope``."""
    return StraightThrough(_check_slope("straight_through", slope))


SURROGATES = {
    "fast_sigmoid": fast_sigmoid,
    "superspike": fast_sigmoid,
    "arctan": arctan,
    "atan": arctan,
    "sigmoid": sigmoid,
    "triangular": triangular,
    "straight_through": straight_through,
    "ste": straight_through,
}


def surrogate(name: str, slope: float | None = None) -> SpikeFunction:
    """The spike function called ``name`` (see :data:`SURROGATES`), with its default slope if ``None``.

    Raises:
        ValueError: for an unknown name or a slope that is not a finite number > 0.
    """
    key = str(name).lower().replace("-", "_")
    if key not in SURROGATES:
        raise ValueError(f"surrogate: unknown spike function {name!r}; choose from {sorted(SURROGATES)}.")
    factory = SURROGATES[key]
    return factory() if slope is None else factory(slope)
