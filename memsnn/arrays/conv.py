"""A convolutional synapse array (2-D convolution, optionally followed by average pooling).

It implements :class:`~memsnn.arrays.AbstractSynapseArray` on flattened vectors, so convolutional
layers stack with dense ones in a :class:`~memsnn.Network`: the input ``(C_in * H * W,)`` is
reshaped to channels-first ``(C_in, H, W)``, convolved, pooled and flattened back to
``(C_out * H_out * W_out,)``. Average pooling is linear, so convolution + pooling is one linear
map from presynaptic activity to postsynaptic drive, as a synapse array must be.
"""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._nir import pair, same_padding
from ._base import AbstractSynapseArray


def _conv_output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    if padding == "SAME":
        return -(-size // stride)
    return (size - kernel) // stride + 1


class Conv2d(AbstractSynapseArray):
    """``y = avgpool(conv(x, W) + b)`` on channels-first images flattened to vectors.

    Attributes:
        weight: ``(C_out, C_in, kh, kw)`` kernels (A per unit of input activity).
        bias: ``(C_out,)`` or ``None``; with impulse inputs it is added at every input event.
        in_shape: ``(C_in, H, W)`` of the input image (static).
        stride: convolution stride (static).
        padding: ``"VALID"`` or ``"SAME"`` (static).
        pool: side of the non-overlapping average-pooling window, 1 for none (static); it must
            divide the convolution's output height and width.
    """

    weight: Float[Array, "c_out c_in kh kw"]
    bias: Float[Array, " c_out"] | None
    in_shape: tuple[int, int, int] = eqx.field(static=True)
    stride: int = eqx.field(static=True)
    padding: str = eqx.field(static=True)
    pool: int = eqx.field(static=True)
    linear_time_invariant: ClassVar[bool] = True

    def __init__(self, weight, bias=None, *, in_shape: tuple[int, int, int], stride: int = 1,
                 padding: str = "VALID", pool: int = 1):
        weight = jnp.asarray(weight, dtype=float)
        if weight.ndim != 4:
            raise ValueError(f"Conv2d: weight must be 4-D (C_out, C_in, kh, kw), got shape {weight.shape}.")
        in_shape = tuple(int(s) for s in in_shape)
        if len(in_shape) != 3 or min(in_shape) < 1:
            raise ValueError(f"Conv2d: in_shape must be (C_in, H, W) with positive sizes, got {in_shape}.")
        if in_shape[0] != weight.shape[1]:
            raise ValueError(f"Conv2d: the input has {in_shape[0]} channels (in_shape={in_shape}) but the "
                             f"kernels expect {weight.shape[1]} (weight shape {weight.shape}).")
        if padding not in ("VALID", "SAME"):
            raise ValueError(f"Conv2d: padding must be 'VALID' or 'SAME', got {padding!r}.")
        if int(stride) < 1 or int(pool) < 1:
            raise ValueError(f"Conv2d: stride and pool must be >= 1, got stride={stride}, pool={pool}.")
        if bias is not None:
            bias = jnp.asarray(bias, dtype=float)
            if bias.shape != (weight.shape[0],):
                raise ValueError(f"Conv2d: bias must have shape ({weight.shape[0]},), got {bias.shape}.")
        self.weight, self.bias = weight, bias
        self.in_shape, self.stride, self.padding, self.pool = in_shape, int(stride), padding, int(pool)
        h, w = self.conv_shape[1:]
        if min(h, w) < 1:
            raise ValueError(f"Conv2d: a {weight.shape[2]}x{weight.shape[3]} kernel does not fit the "
                             f"{in_shape[1]}x{in_shape[2]} input with padding {padding!r}.")
        if h % self.pool or w % self.pool:
            raise ValueError(f"Conv2d: pool={self.pool} does not divide the convolution output {h}x{w}.")

    @classmethod
    def uniform(cls, in_shape: tuple[int, int, int], out_channels: int, kernel_size: int, *,
                key: PRNGKeyArray, stride: int = 1, padding: str = "VALID", pool: int = 1,
                use_bias: bool = True, scale: float = 1.0) -> "Conv2d":
        """PyTorch-style init ``U(-sqrt(k), sqrt(k))``, ``k = 1 / (C_in kh kw)``, times ``scale``."""
        c_in = int(in_shape[0])
        bound = scale / math.sqrt(c_in * kernel_size * kernel_size)
        wkey, bkey = jax.random.split(key)
        weight = jax.random.uniform(wkey, (out_channels, c_in, kernel_size, kernel_size), minval=-bound, maxval=bound)
        bias = jax.random.uniform(bkey, (out_channels,), minval=-bound, maxval=bound) if use_bias else None
        return cls(weight, bias, in_shape=in_shape, stride=stride, padding=padding, pool=pool)

    @property
    def conv_shape(self) -> tuple[int, int, int]:
        """``(C_out, H_conv, W_conv)`` before pooling."""
        kh, kw = self.weight.shape[2:]
        return (self.weight.shape[0], _conv_output_size(self.in_shape[1], kh, self.stride, self.padding),
                _conv_output_size(self.in_shape[2], kw, self.stride, self.padding))

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """``(C_out, H_out, W_out)`` after pooling."""
        c, h, w = self.conv_shape
        return (c, h // self.pool, w // self.pool)

    @property
    def n_inputs(self) -> int:
        return math.prod(self.in_shape)

    @property
    def n_outputs(self) -> int:
        return math.prod(self.out_shape)

    def __call__(self, presynaptic: Float[Array, " n_in"], state=None, *, key=None) -> Float[Array, " n_out"]:
        if presynaptic.shape != (self.n_inputs,):
            raise ValueError(f"Conv2d: expected a flattened input of shape ({self.n_inputs},) = "
                             f"prod{self.in_shape}, got {presynaptic.shape}.")
        dtype = jnp.result_type(presynaptic, self.weight)
        image = presynaptic.reshape((1,) + self.in_shape).astype(dtype)
        out = jax.lax.conv_general_dilated(image, self.weight.astype(dtype), (self.stride, self.stride),
                                           self.padding, dimension_numbers=("NCHW", "OIHW", "NCHW"))[0]
        if self.bias is not None:
            out = out + self.bias[:, None, None]
        if self.pool > 1:
            c, h, w = out.shape
            p = self.pool
            out = out.reshape(c, h // p, p, w // p, p).mean(axis=(2, 4))
        return out.reshape(-1)

    nir_node_types: ClassVar[tuple[str, ...]] = ("Conv2d", "AvgPool2d")

    def nir_input_shape(self) -> tuple[int, ...]:
        return tuple(self.in_shape)

    def to_nir(self, nir, layer, in_shape):
        if tuple(in_shape) != tuple(self.in_shape):
            raise ValueError(f"to_nir: layer {layer}'s Conv2d expects images {self.in_shape} but the layer "
                             f"below has neurons of shape {tuple(in_shape)}.")
        kh, kw = self.weight.shape[2:]
        if self.padding == "VALID":
            padding = (0, 0)
        else:
            padding = (same_padding(self.in_shape[1], kh, self.stride), same_padding(self.in_shape[2], kw, self.stride))
            if None in padding:
                raise ValueError(
                    f"to_nir: layer {layer}'s Conv2d pads 'SAME' unevenly (a {kh}x{kw} kernel with stride "
                    f"{self.stride} on a {self.in_shape[1]}x{self.in_shape[2]} input), which NIR's "
                    "symmetric padding cannot express; use an odd kernel with stride 1, or padding='VALID'.")
        bias = np.zeros(self.weight.shape[0]) if self.bias is None else np.asarray(self.bias, dtype=np.float64)
        nodes = [(f"{layer}.conv", nir.Conv2d(input_shape=tuple(self.in_shape[1:]),
                                              weight=np.asarray(self.weight, dtype=np.float64),
                                              stride=self.stride, padding=padding, dilation=1, groups=1, bias=bias))]
        if self.pool > 1:
            p = self.pool
            nodes.append((f"{layer}.pool", nir.AvgPool2d(kernel_size=np.array([p, p]), stride=np.array([p, p]),
                                                         padding=np.array([0, 0]))))
        return nodes, tuple(self.out_shape)

    @classmethod
    def from_nir(cls, nir, nodes, shape, where):
        if [type(node) for _, node in nodes] not in ([nir.Conv2d], [nir.Conv2d, nir.AvgPool2d]):
            return None
        node, pool = nodes[0][1], nodes[1][1] if len(nodes) == 2 else None
        if len(shape) != 3:
            raise ValueError(f"from_nir: {where} is a Conv2d on inputs of shape {shape}; it needs (C, H, W).")
        weight = np.asarray(node.weight, dtype=np.float64)
        if pair(node.dilation, "dilation", where) != (1, 1) or int(node.groups) != 1:
            raise ValueError(f"from_nir: {where} has dilation {node.dilation} and groups {node.groups}; memsnn's "
                             "Conv2d supports dilation 1 and groups 1.")
        sh, sw = pair(node.stride, "stride", where)
        if sh != sw:
            raise ValueError(f"from_nir: {where} has stride ({sh}, {sw}); memsnn's Conv2d has one stride for both "
                             "axes.")
        kh, kw = weight.shape[2:]
        if isinstance(node.padding, str):
            padding = node.padding.upper()
            if padding == "SAME" and sh != 1:
                raise ValueError(f"from_nir: {where} pads 'same' with stride {sh}; NIR defines 'same' for stride 1.")
        else:
            pad = pair(node.padding, "padding", where)
            same = (same_padding(shape[1], kh, sh), same_padding(shape[2], kw, sh))
            if pad == (0, 0):
                padding = "VALID"
            elif pad == same:
                padding = "SAME"
            else:
                raise ValueError(f"from_nir: {where} pads by {pad}; memsnn's Conv2d pads 'VALID' (0) or 'SAME' "
                                 f"({same} here).")
        p = 1
        if pool is not None:
            p, p2 = pair(pool.kernel_size, "kernel_size", where + "'s pooling")
            if (p, p) != (p2, p2) or pair(pool.stride, "stride", where + "'s pooling") != (p, p) \
                    or pair(pool.padding, "padding", where + "'s pooling") != (0, 0):
                raise ValueError(f"from_nir: {where} is followed by AvgPool2d(kernel {pool.kernel_size}, stride "
                                 f"{pool.stride}, padding {pool.padding}); memsnn pools in square, non-overlapping, "
                                 "unpadded windows (kernel = stride).")
        bias = None if node.bias is None else np.asarray(node.bias, dtype=np.float64)
        conv = cls(weight, bias, in_shape=shape, stride=sh, padding=padding, pool=p)
        return conv, tuple(conv.out_shape)
