"""A feed-forward stack of layers (synapse array -> synapse -> neuron) as one ODE system.

The network owns the state pytree and the vector field; integrators only see ``(state, drive)``.
Between grid points every layer follows its continuous dynamics; at grid points three kinds of
discrete events happen, always in this order: external impulses arrive (:meth:`inject`), and
spikes are read, reset and forwarded to the next layer (:meth:`propagate_spikes`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .arrays import AbstractSynapseArray
from .neurons import AbstractNeuron
from .synapses import AbstractSynapse


class LayerState(NamedTuple):
    """State of one layer: ``synapse`` (a zero-size array without a synapse) and ``neuron``."""

    synapse: Any
    neuron: Any


NetworkState = tuple  # tuple[LayerState, ...], one per layer


def _no_synapse():
    # A zero-size array rather than an empty tuple: diffrax/equinox loop buffers reject empty
    # subtrees, and a zero-size leaf costs nothing.
    return jnp.zeros((0,))


class Layer(eqx.Module):
    """``array`` maps pre-synaptic activity to weights, ``synapse`` filters them into current.

    Without a synapse (``synapse=None``), impulses land on the membrane as charge.
    """

    array: AbstractSynapseArray
    synapse: AbstractSynapse | None
    neuron: AbstractNeuron

    @property
    def size(self) -> int:
        return self.array.n_outputs

    def init_state(self) -> LayerState:
        syn = _no_synapse() if self.synapse is None else self.synapse.init_state(self.size)
        return LayerState(syn, self.neuron.init_state(self.size))

    def synaptic_current(self, state: LayerState) -> Float[Array, " n"]:
        if self.synapse is None:
            return jnp.zeros_like(self.neuron.membrane_potential(state.neuron))
        return self.synapse.current(state.synapse)

    def receive(self, state: LayerState, presynaptic: Float[Array, " n_in"]) -> LayerState:
        """Impulses of amplitude ``presynaptic`` arrive through the array."""
        weight = self.array(presynaptic)
        if self.synapse is None:
            return LayerState(state.synapse, self.neuron.inject_charge(state.neuron, weight))
        return LayerState(self.synapse.inject(state.synapse, weight), state.neuron)


class Network(eqx.Module):
    """A feed-forward stack of :class:`Layer`; the external stimulus enters the first layer.

    Shapes are for one sample; :func:`memsnn.simulate` vmaps over the batch.
    """

    layers: tuple[Layer, ...]

    def __init__(self, layers):
        layers = tuple(layers)
        if not layers:
            raise ValueError("Network: give at least one Layer.")
        for i, (prev, nxt) in enumerate(zip(layers[:-1], layers[1:])):
            if prev.size != nxt.array.n_inputs:
                raise ValueError(
                    f"Network: layer {i} has {prev.size} neurons but layer {i + 1}'s array expects "
                    f"{nxt.array.n_inputs} inputs."
                )
        self.layers = layers

    @property
    def n_inputs(self) -> int:
        return self.layers[0].array.n_inputs

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].size

    @property
    def needs_grid_events(self) -> bool:
        """Whether spikes must be read on every grid step (resets, or spikes feeding a next layer)."""
        return len(self.layers) > 1 or any(layer.neuron.has_event_rule for layer in self.layers)

    def init_state(self) -> NetworkState:
        return tuple(layer.init_state() for layer in self.layers)

    def _membrane_currents(self, state: NetworkState, drive):
        currents = [layer.synaptic_current(s) for layer, s in zip(self.layers, state)]
        if drive is not None:
            currents[0] = currents[0] + self.layers[0].array(drive)
        return currents

    def vector_field(self, state: NetworkState, drive: Float[Array, " n_in"] | None) -> NetworkState:
        """d(state)/dt; ``drive`` is a current (A) into the first layer's array, or ``None``."""
        out = []
        for layer, s, current in zip(self.layers, state, self._membrane_currents(state, drive)):
            dsyn = s.synapse if layer.synapse is None else layer.synapse.vector_field(s.synapse)
            out.append(LayerState(dsyn, layer.neuron.vector_field(s.neuron, current)))
        return tuple(out)

    def inject(self, state: NetworkState, impulse: Float[Array, " n_in"]) -> NetworkState:
        """External impulses arrive at the first layer."""
        return (self.layers[0].receive(state[0], impulse),) + tuple(state[1:])

    def propagate_spikes(self, state: NetworkState) -> tuple[NetworkState, tuple]:
        """Read spikes of every layer, apply resets, forward spikes as impulses to the next layer."""
        state = list(state)
        spikes = []
        for i, layer in enumerate(self.layers):
            s = layer.neuron.spikes(state[i].neuron)
            spikes.append(s)
            state[i] = LayerState(state[i].synapse, layer.neuron.reset(state[i].neuron, s))
            if i + 1 < len(self.layers):
                state[i + 1] = self.layers[i + 1].receive(state[i + 1], s)
        return tuple(state), tuple(spikes)

    def sequential_step(self, state: NetworkState, impulse, drive, dt: float) -> NetworkState:
        """One Gauss-Seidel step in the SPICEprop order: synapse (a, then I), membrane, devices.

        ``impulse`` (or ``None``) is added to the first synapse after its decay, as the reference
        code does; spikes from layer ``i`` reach layer ``i + 1`` within the same step.
        """
        out = []
        presyn = impulse
        for i, layer in enumerate(self.layers):
            s = state[i]
            current = jnp.zeros_like(layer.neuron.membrane_potential(s.neuron))
            if i == 0 and drive is not None:
                current = current + layer.array(drive)
            weight = layer.array(presyn) if presyn is not None else jnp.zeros_like(current)
            if layer.synapse is None:
                neuron_state = layer.neuron.inject_charge(s.neuron, weight) if presyn is not None else s.neuron
                syn = s.synapse
            else:
                syn = layer.synapse.sequential_step(s.synapse, weight, dt)
                current = current + layer.synapse.current(syn)
                neuron_state = s.neuron
            neuron_state = layer.neuron.sequential_step(neuron_state, current, dt)
            out.append(LayerState(syn, neuron_state))
            presyn = layer.neuron.spikes(neuron_state) if i + 1 < len(self.layers) else None
        return tuple(out)

    def decay_rate(self, state: NetworkState, drive) -> Float[Array, ""]:
        """Largest local decay rate (1/s) over all layers: explicit steps need ``dt * rate < ~2``."""
        rates = []
        for layer, s, current in zip(self.layers, state, self._membrane_currents(state, drive)):
            rates.append(jnp.max(layer.neuron.decay_rate(s.neuron, current)))
            if layer.synapse is not None:
                rates.append(jnp.max(jnp.asarray(layer.synapse.decay_rate())))
        return jnp.max(jnp.stack(rates))


def tree_axpy(a, x, y):
    """``a * x + y`` over matching pytrees."""
    return jax.tree.map(lambda xi, yi: a * xi + yi, x, y)
