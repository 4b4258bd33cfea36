"""Writing device equations as ngspice behavioural-source (B-source) expressions.

A device's SPICE expressions are built from the same parameters as its JAX equations, one device
(scalar parameters) at a time; the netlist writer slices per-neuron parameters before calling.
"""

from __future__ import annotations

import jax
import numpy as np


def number(owner: object, name: str, value) -> str:
    """The scalar parameter ``value`` as the shortest text that reads back as the same float64.

    Raises:
        ValueError: ``value`` is not one concrete number (an array of per-device values, or a tracer).
    """
    if isinstance(value, jax.core.Tracer):
        raise ValueError(f"{type(owner).__name__}: {name} is traced; SPICE expressions need concrete values "
                         "(write netlists outside jit/grad).")
    arr = np.asarray(value, dtype=float)
    if arr.size != 1:
        raise ValueError(f"{type(owner).__name__}: {name} has shape {arr.shape}; a SPICE expression describes "
                         "one device, so give scalar parameters (memsnn.export slices per-neuron parameters).")
    return repr(float(arr.reshape(())))


def sigmoid(z: str) -> str:
    """Logistic sigmoid of the expression ``z`` through tanh, which cannot overflow."""
    return f"(0.5+0.5*tanh(0.5*({z})))"
