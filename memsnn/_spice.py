"""Numbers and expressions in SPICE text: the one formatter every netlist writer uses.

A device's SPICE expressions are built from the same parameters as its JAX equations, one device
(scalar parameters) at a time; the netlist writer slices per-neuron parameters before calling.
Netlists (memsnn.export, memsnn.crossbar.spice) write every number with :func:`number`.
"""

from __future__ import annotations

import jax
import numpy as np


def number(owner: object, name: str, value) -> str:
    """The scalar parameter ``value`` as the shortest text that reads back as the same float64.

    ``owner`` (the component, or the name of the writer) and ``name`` only name the value in errors.

    Raises:
        ValueError: ``value`` is not one concrete number (an array of per-device values, or a tracer).
    """
    who = owner if isinstance(owner, str) else type(owner).__name__
    if isinstance(value, jax.core.Tracer):
        raise ValueError(f"{who}: {name} is traced; SPICE expressions need concrete values "
                         "(write netlists outside jit/grad).")
    arr = np.asarray(value, dtype=float)
    if arr.size != 1:
        raise ValueError(f"{who}: {name} has shape {arr.shape}; a SPICE expression describes "
                         "one device, so give scalar parameters (memsnn.export slices per-neuron parameters).")
    return repr(float(arr.reshape(())))


def sigmoid(z: str) -> str:
    """Logistic sigmoid of the expression ``z`` through tanh, which cannot overflow."""
    return f"(0.5+0.5*tanh(0.5*({z})))"


def state_scale(device) -> float:
    """State units per node volt for a device's state node: the width of its state interval.

    A state node in volts of order 1 keeps ngspice's absolute tolerances (``vntol``, ``chgtol``)
    meaningful for states like VTEAM's (metres, ~1e-9); unbounded states (a logit) use 1.
    """
    low, high = device.state_bounds
    width = float(high) - float(low)
    return width if np.isfinite(width) and width > 0 else 1.0
