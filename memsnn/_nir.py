"""What a component needs to write and read its own NIR node(s) (:mod:`memsnn.export.nir`).

NIR (the optional ``nir`` package) is passed in, never imported here, so components stay free of
the extra. :class:`NirStep` carries the time step conversion of one layer; the helpers turn
memsnn's parameters (scalars or per-neuron arrays) into NIR's per-neuron arrays and back.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

# Thresholds from here up are never reached (float32's largest value, so in any precision).
UNREACHABLE = float(np.finfo(np.float32).max)


@dataclasses.dataclass(frozen=True)
class NirStep:
    """One layer's conversion between memsnn time and a NIR graph's time.

    Attributes:
        nir: the ``nir`` module.
        dt: the step (s) memsnn simulates the network with.
        scale: ``nir_dt / dt``: every time constant of the graph is memsnn's times ``scale``.
        spike_driven: the layer is driven by impulses (spikes, or an :class:`~memsnn.Impulses`
            stimulus), which a NIR reader holds as ``weight / dt`` for one step; ``False``: by a
            :class:`~memsnn.Current`.
        where: the layer or node, for error messages (``"to_nir: layer 2"``, ``"node '1.neuron'"``).
    """

    nir: Any
    dt: float
    scale: float
    spike_driven: bool
    where: str


def per_neuron(value, shape: tuple[int, ...]) -> np.ndarray:
    """A scalar or ``(n,)`` parameter as a float64 array of the neurons' NIR shape."""
    return np.broadcast_to(np.asarray(value, dtype=np.float64).reshape(-1), (math.prod(shape),)).reshape(shape).copy()


def never_fires(threshold) -> bool:
    """Whether no membrane can reach ``threshold``: a ``reset="none"`` layer is then a readout (the
    surrogate training's integrator output uses the largest float); otherwise it fires without
    resetting."""
    return bool(np.all(np.asarray(threshold, dtype=np.float64) >= UNREACHABLE))


def parameter(name: str, value, n: int, where: str):
    """A NIR parameter as a scalar (one value for all neurons) or an ``(n,)`` array."""
    value = np.asarray(value, dtype=np.float64).reshape(-1)
    if value.size == 1:
        return float(value[0])
    if value.size != n:
        raise ValueError(f"from_nir: {where}'s {name} has {value.size} values for {n} neurons.")
    return value


def pair(value, what: str, where: str) -> tuple[int, int]:
    """One or two integers of a NIR node (stride, padding, kernel size) as a pair."""
    value = np.asarray(value).reshape(-1)
    if value.size == 1:
        value = np.repeat(value, 2)
    if value.size != 2:
        raise ValueError(f"from_nir: {where}'s {what} must be one or two integers, got {value.tolist()}.")
    return int(value[0]), int(value[1])


def same_padding(size: int, kernel: int, stride: int) -> int | None:
    """The symmetric padding equal to JAX's ``"SAME"``, or ``None`` where SAME pads unevenly."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return None if total % 2 else total // 2
