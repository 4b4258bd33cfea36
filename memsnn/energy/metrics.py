"""NeuroBench's static and workload metrics, and the usual per-operation energy proxy.

Definitions as in NeuroBench (Yik et al., "NeuroBench: a framework for benchmarking neuromorphic
computing algorithms and systems", Nature Communications 2025):

* **synaptic operations** (effective): per layer, for every input value that is nonzero, one
  operation per nonzero weight it meets. A binary (spike) input is an accumulate (**AC**), an
  analog input a multiply-accumulate (**MAC**). Zero inputs and zero weights cost nothing.
* **activation sparsity**: the fraction of neuron outputs (over neurons and time steps) that are 0.
* **connection sparsity**: the fraction of synaptic weights that are exactly 0.
* **footprint**: bytes of the parameters and buffers a deployed model stores.

The energy proxy prices the operations at 45 nm CMOS numbers (Horowitz, ISSCC 2014), as papers do:
:data:`AC_ENERGY` = 0.9 pJ per AC (32-bit float add) and :data:`MAC_ENERGY` = 4.6 pJ per MAC
(32-bit float multiply 3.7 pJ + add 0.9 pJ).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = ["AC_ENERGY", "MAC_ENERGY", "activation_sparsity", "connection_sparsity", "footprint",
           "proxy_energy", "synaptic_operations"]

AC_ENERGY = 0.9e-12  # J per accumulate (32-bit float add, 45 nm)
MAC_ENERGY = 4.6e-12  # J per multiply-accumulate (32-bit float multiply + add, 45 nm)


def synaptic_operations(inputs: Float[Array, "... n_in"], weight: Float[Array, "n_out n_in"]) -> Float[Array, "..."]:
    """Effective synaptic operations of one dense layer, per leading index of ``inputs``.

    Args:
        inputs: the values arriving at the layer, ``(..., n_in)``: e.g. ``(batch, n_in)`` for one
            read per sample, or ``(batch, n_steps, n_in)`` (then sum over steps yourself).
        weight: ``(n_out, n_in)``.

    Returns:
        ``(...)``: ``sum_i [x_i != 0] * (number of nonzero weights in column i)``. Whether they are
        ACs or MACs depends on the inputs (binary: AC, analog: MAC); see :func:`proxy_energy`.
    """
    fan_out = jnp.sum(weight != 0, axis=0).astype(jnp.result_type(float))
    return jnp.sum((inputs != 0) * fan_out, axis=-1)


def activation_sparsity(activations) -> Float[Array, ""]:
    """Fraction of zeros over every array in ``activations`` (a pytree of neuron outputs)."""
    leaves = [jnp.asarray(a) for a in jax.tree.leaves(activations)]
    zeros = sum(jnp.sum(a == 0) for a in leaves)
    return zeros / sum(a.size for a in leaves)


def connection_sparsity(weights) -> Float[Array, ""]:
    """Fraction of exactly-zero entries over every weight matrix in ``weights`` (a pytree)."""
    return activation_sparsity(weights)


def footprint(model) -> int:
    """Bytes of every array in ``model`` (parameters and buffers, at their stored dtype)."""
    return int(sum(a.size * a.dtype.itemsize for a in jax.tree.leaves(eqx.filter(model, eqx.is_array))))


def proxy_energy(acs, macs, *, ac_energy: float = AC_ENERGY, mac_energy: float = MAC_ENERGY):
    """Energy (J) of ``acs`` accumulates and ``macs`` multiply-accumulates at the proxy prices."""
    return acs * ac_energy + macs * mac_energy
