"""Ideal synapse arrays: a dense weight matrix and the identity."""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._nir import per_neuron
from ._base import AbstractSynapseArray


class Dense(AbstractSynapseArray):
    """``y = W x (+ b)`` with ``W`` of shape ``(n_out, n_in)``; linear, time-invariant, no state.

    Attributes:
        weight: ``(n_out, n_in)`` (A per unit of input activity).
        bias: ``(n_out,)`` or ``None``. With impulse inputs the bias is added at every input event, at its grid point
            (with exact spike timing: lag 0, :meth:`lagged_drive`).
    """

    weight: Float[Array, "n_out n_in"]
    bias: Float[Array, " n_out"] | None
    linear_time_invariant: ClassVar[bool] = True

    def __init__(self, weight: Float[Array, "n_out n_in"], bias: Float[Array, " n_out"] | None = None):
        weight = jnp.asarray(weight, dtype=float)
        if weight.ndim != 2:
            raise ValueError(f"Dense: weight must be 2-D (n_out, n_in), got shape {weight.shape}.")
        if bias is not None:
            bias = jnp.asarray(bias, dtype=float)
            if bias.shape != (weight.shape[0],):
                raise ValueError(f"Dense: bias must have shape ({weight.shape[0]},), got {bias.shape}.")
        self.weight = weight
        self.bias = bias

    @classmethod
    def uniform(cls, n_in: int, n_out: int, *, key: PRNGKeyArray, scale: float = 1.0, use_bias: bool = False) -> "Dense":
        """PyTorch-style init ``U(-sqrt(k), sqrt(k))``, ``k = 1/n_in``, times ``scale``."""
        for name, n in (("n_in", n_in), ("n_out", n_out)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"Dense.uniform: {name} must be a positive integer (a layer size), got {n!r}.")
        bound = scale / math.sqrt(n_in)
        wkey, bkey = jax.random.split(key)
        weight = jax.random.uniform(wkey, (n_out, n_in), minval=-bound, maxval=bound)
        bias = jax.random.uniform(bkey, (n_out,), minval=-bound, maxval=bound) if use_bias else None
        return cls(weight, bias)

    @property
    def n_inputs(self) -> int:
        return self.weight.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.weight.shape[0]

    def __call__(self, presynaptic, state=None, *, key=None):
        out = self.weight @ presynaptic
        return out if self.bias is None else out + self.bias

    def lagged_drive(self, presynaptic, lag, state=None, *, key=None):
        # The bias arrives with each event at its grid point (lag 0): only the weights see the lags.
        return self.weight @ (presynaptic * lag)

    nir_node_types: ClassVar[tuple[str, ...]] = ("Affine", "Linear")

    def to_nir(self, nir, layer, in_shape):
        nodes = []
        if len(in_shape) > 1:  # behind a convolution: its neurons flattened
            nodes.append((f"{layer}.flatten", nir.Flatten(input_type={"input": np.array(in_shape)}, start_dim=0,
                                                          end_dim=-1)))
        weight = np.asarray(self.weight, dtype=np.float64)
        node = (nir.Linear(weight=weight) if self.bias is None
                else nir.Affine(weight=weight, bias=np.asarray(self.bias, dtype=np.float64)))
        return nodes + [(f"{layer}.linear", node)], (self.n_outputs,)

    @classmethod
    def from_nir(cls, nir, nodes, shape, where):
        if [type(node) for _, node in nodes] not in ([nir.Affine], [nir.Linear]):
            return None
        first = nodes[0][1]
        weight = np.asarray(first.weight, dtype=np.float64)
        if len(shape) != 1 or weight.ndim != 2 or weight.shape[1] != shape[0]:
            raise ValueError(f"from_nir: {where} has a weight of shape {weight.shape} for inputs of shape {shape} "
                             "(a dense layer after a convolution needs a Flatten in front of it).")
        bias = np.asarray(first.bias, dtype=np.float64) if isinstance(first, nir.Affine) else None
        return cls(weight, bias), (weight.shape[0],)


class Identity(AbstractSynapseArray):
    """One-to-one connection of ``n`` inputs to ``n`` neurons with an optional common gain.

    ``gain=None`` passes the input through untouched (no multiply, no dtype promotion).
    """

    size: int = eqx.field(static=True)
    gain: Float[Array, ""] | None
    linear_time_invariant: ClassVar[bool] = True

    def __init__(self, size: int, gain=1.0):
        self.size = int(size)
        self.gain = None if gain is None else jnp.asarray(gain, dtype=float)

    @property
    def n_inputs(self) -> int:
        return self.size

    @property
    def n_outputs(self) -> int:
        return self.size

    def __call__(self, presynaptic, state=None, *, key=None):
        return presynaptic if self.gain is None else self.gain * presynaptic

    def tiled(self, copies: int) -> "Identity":
        return Identity(self.size * copies, gain=self.gain)

    nir_node_types: ClassVar[tuple[str, ...]] = ("Scale",)

    def to_nir(self, nir, layer, in_shape):
        gain = 1.0 if self.gain is None else np.asarray(self.gain, dtype=np.float64)
        return [(f"{layer}.scale", nir.Scale(scale=per_neuron(gain, in_shape)))], in_shape

    @classmethod
    def from_nir(cls, nir, nodes, shape, where):
        if [type(node) for _, node in nodes] != [nir.Scale]:
            return None
        scale = np.asarray(nodes[0][1].scale, dtype=np.float64).reshape(-1)
        n = math.prod(shape)
        if scale.size not in (1, n):
            raise ValueError(f"from_nir: {where} scales {scale.size} values for inputs of shape {shape}.")
        if np.all(scale == scale[0]):
            return cls(n, gain=float(scale[0])), shape
        # Different gains per neuron: a diagonal dense layer.
        return Dense(jnp.diag(jnp.asarray(np.broadcast_to(scale, (n,))))), shape
