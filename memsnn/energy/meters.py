"""Energy meters: the power of a layer's circuit, integrated as part of the state (docs/energy.md).

A meter is an :class:`~memsnn.components.AbstractEnergyMeter` in the ``energy`` slot of a
:class:`~memsnn.Layer`. Its state is the energy (J) each part of the circuit has taken up so far and
its vector field is their power (W), so the integrator that steps the neuron also integrates the
energy: Euler, the SPICEprop scheme and every diffrax solver compute it the same way, and a gradient
of the energy with respect to a device parameter is the gradient of the simulated circuit.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

from ..components import AbstractEnergyMeter
from ..neurons import MIF

__all__ = ["MIFEnergy", "MIFEnergyState"]


class MIFEnergyState(NamedTuple):
    """Energy (J) taken up by each part of ``n`` MIF neurons since t = 0, each ``(n,)``.

    Sign convention: positive = energy the part absorbed (passive sign convention).

    Attributes:
        memristor1, memristor2: Joule heat of the memristors, ``int v_k I_k dt`` with ``v_k`` the
            voltage across device ``k`` and ``I_k`` its current (>= 0 for passive devices).
        battery1, battery2: energy absorbed by the branch batteries, ``int E_k i_k dt`` with
            ``i_k`` the branch current leaving the membrane node (negative: the battery supplied).
        capacitor: energy stored in the membrane capacitor, ``int v C dv/dt dt``
            (``C (v(t)^2 - v(0)^2) / 2`` in continuous time).
        synapse: energy the synaptic current source delivered to the membrane, ``int I v dt``.

    The circuit's balance, exact in continuous time: ``synapse = capacitor + memristor1 +
    memristor2 + battery1 + battery2`` (what the solver's error leaves of it measures the solver).
    """

    memristor1: Float[Array, " n"]
    memristor2: Float[Array, " n"]
    battery1: Float[Array, " n"]
    battery2: Float[Array, " n"]
    capacitor: Float[Array, " n"]
    synapse: Float[Array, " n"]

    def dissipated(self) -> Float[Array, " n"]:
        """Heat (J): the memristors' Joule heat, the only resistive parts of the circuit."""
        return self.memristor1 + self.memristor2

    def supplied(self) -> Float[Array, " n"]:
        """Energy (J) the sources delivered: the synaptic current source and the batteries
        (``= dissipated + capacitor``)."""
        return self.synapse - self.battery1 - self.battery2


class MIFEnergy(AbstractEnergyMeter):
    """Power of every part of a MIF neuron's circuit (:class:`~memsnn.MIF`), integrated (J).

    State :class:`MIFEnergyState`. The synaptic current enters as an ideal current source (its
    circuit is abstracted), so its share is the energy it delivered to the membrane node. An
    impulse that lands on the membrane as charge (a layer without a synapse) is a jump of ``v``,
    not a power, and is not metered: put a synapse in front of the neuron to meter the input.

    Use: ``memsnn.Layer(array, synapse, memsnn.MIF(...), energy=MIFEnergy())``; the energy is in
    ``trace.final_state[i].energy`` after :func:`memsnn.simulate`.
    """

    def init_state(self, n: int, *, key=None) -> MIFEnergyState:
        zero = jnp.zeros((n,))
        return MIFEnergyState(zero, zero, zero, zero, zero, zero)

    def vector_field(self, t, state: MIFEnergyState, inputs) -> MIFEnergyState:
        """Power (W) of each part; ``inputs = (layer, layer_state, membrane_current)``."""
        layer, layer_state, current = inputs
        neuron = layer.neuron
        if not isinstance(neuron, MIF):
            raise TypeError(f"MIFEnergy meters the circuit of a memsnn.MIF neuron, but the layer's neuron is a "
                            f"{type(neuron).__name__}; remove energy= from that Layer or give it a MIF.")
        s = layer_state.neuron
        i1, i2 = neuron.branch_currents(s)  # leaving the membrane node (A)
        v = s.v
        # Device voltage p_k (v - E_k) times device current p_k i_k = (v - E_k) i_k (p_k^2 = 1).
        return MIFEnergyState(
            memristor1=(v - neuron.E1) * i1,
            memristor2=(v - neuron.E2) * i2,
            battery1=neuron.E1 * i1,
            battery2=neuron.E2 * i2,
            capacitor=v * (current - i1 - i2),
            synapse=v * current,
        )
