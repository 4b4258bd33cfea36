"""A feed-forward stack of layers as one ODE system with event maps (docs/architecture.md).

A :class:`Layer` is a row of components (:mod:`memsnn.components`), each with a named slot in the
:class:`LayerState`: a synapse array, a synapse, a neuron, and optionally a plasticity rule and an
energy meter. The :class:`Network` owns the state pytree and the vector field; integrators see only
``(t, state, drive)``. At grid points the events happen in this order: input arrives at the first
layer (:meth:`Network.inject`, inside the integrator's step, see
:class:`~memsnn.integrators.AbstractIntegrator`), then every layer's spikes are read, its reset
applied and the spikes forwarded to the next layer (:meth:`Network.fire`).

Synapse arrays are read only at events (impulse arrival, spike forwarding, and once per grid step
for a current drive): the vector field never reads an array, it receives the first layer's drive as
a current ``(n,)`` that :func:`memsnn.simulate` has already passed through the array.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .arrays import AbstractPlasticArray, AbstractSynapseArray
from .components import AbstractEnergyMeter, AbstractPlasticity, empty_state
from .neurons import AbstractNeuron
from .synapses import AbstractSynapse


class LayerState(NamedTuple):
    """State of one layer, one slot per component (``None`` where there is none).

    The leaves are ordered array, synapse, neuron, plasticity, energy: the order in which the
    Gauss-Seidel integrator (:class:`~memsnn.integrators.SpicepropEuler`) updates them.
    """

    array: Any
    synapse: Any
    neuron: Any
    plasticity: Any
    energy: Any


NetworkState = tuple  # tuple[LayerState, ...], one per layer


def _split(key, n):
    return (None,) * n if key is None else tuple(jax.random.split(key, n))


# A layer's plasticity events draw their noise (a crossbar's write noise) from the layer's key of
# the grid step, the one its array's read uses, folded with these tags: streams of their own,
# per step, per layer and per event, and the read noise is the same as without them.
_PRESYNAPTIC, _POSTSYNAPTIC = 0x505245, 0x504F5354


def _event_key(key, tag: int):
    return None if key is None else jax.random.fold_in(key, tag)


class SpikeTiming(NamedTuple):
    """What :meth:`Network.fire` needs to place spikes inside the step that just ended
    (``simulate(..., spike_timing="exact")``, docs/spike-times.md).

    Attributes:
        t: the grid time at the end of the step (s).
        drive: the current into the first layer's membrane over the step (A), or ``None``.
        start: per layer, the threshold function ``g`` at the start of the step ``(n,)``.
        end: per layer, ``g`` at the end of the step's own flow (before its impulses) ``(n,)``.
        lag: per layer ``(n,)``, how long before ``t`` the neuron crossed its threshold (s), as
            the integrator located it: ``dt`` for a neuron already above it at the start of the
            step (after a reset), 0 for a crossing caused by the impulses at the end of the step.
        crossed: per layer ``(n,)`` bool, or ``None``: the neurons that an integrator stopping at
            threshold crossings (``Diffrax(..., events=True)``) found crossing at ``t``. They spike
            whatever ``neuron.spikes`` reads (the root lies within the root finder's tolerance, on
            either side of the threshold).
        events: an event run (static ``bool``): the arrays are read at ``t`` itself
            (``read(..., t=t)``, ``on_spikes(..., t=t)``), so that delayed spikes arrive at ``t``
            plus their delays.
    """

    t: Any
    drive: Any
    start: tuple
    end: tuple
    lag: tuple
    crossed: tuple | None = None
    events: bool = False


class Layer(eqx.Module):
    """One layer: ``array`` maps pre-synaptic activity to weights, ``synapse`` filters them into
    current, ``neuron`` integrates it; ``plasticity`` and ``energy`` are optional.

    Without a synapse (``synapse=None``), impulses land on the membrane as charge.
    """

    array: AbstractSynapseArray
    synapse: AbstractSynapse | None
    neuron: AbstractNeuron
    plasticity: AbstractPlasticity | None = None
    energy: AbstractEnergyMeter | None = None

    def __check_init__(self):
        kinds = (("array", AbstractSynapseArray), ("synapse", AbstractSynapse), ("neuron", AbstractNeuron),
                 ("plasticity", AbstractPlasticity), ("energy", AbstractEnergyMeter))
        for slot, kind in kinds:
            value = getattr(self, slot)
            if value is None and slot in ("array", "neuron"):
                raise TypeError(f"Layer: {slot} is required, got None.")
            if value is not None and not isinstance(value, kind):
                raise TypeError(f"Layer: {slot} must be a memsnn {kind.__name__} (e.g. "
                                f"{_EXAMPLES[slot]}), got {type(value).__name__}.")
        if self.plasticity is not None and not isinstance(self.array, AbstractPlasticArray):
            raise TypeError(f"Layer: a plasticity rule changes the array's weights, so the array must be plastic "
                            f"(a memsnn.arrays.AbstractPlasticArray such as memsnn.arrays.PlasticDense or a "
                            f"memsnn.crossbar.Crossbar), got {type(self.array).__name__}.")

    @property
    def size(self) -> int:
        return self.array.n_outputs

    @property
    def stochastic(self) -> bool:
        """Whether a component of the layer draws noise (then :func:`memsnn.simulate` needs a key)."""
        return any(c is not None and c.stochastic for c in self._components())

    @property
    def hoistable(self) -> bool:
        """Whether the array's reads are a fixed linear map (so they can run outside the time loop)."""
        return self.array.linear_time_invariant and self.plasticity is None

    def _components(self):
        return (self.array, self.synapse, self.neuron, self.plasticity, self.energy)

    def init_state(self, key: PRNGKeyArray | None = None, *, events: bool = False) -> LayerState:
        """State at t = 0; ``events``: for an event run (the array's :meth:`init_event_state`)."""
        keys = _split(key, 5)
        state = LayerState(*(empty_state() if c is None else c.init_state(self.size, key=k)
                             for c, k in zip(self._components(), keys)))
        if events:
            state = state._replace(array=self.array.init_event_state(self.size, key=keys[0]))
        return state

    def synaptic_current(self, state: LayerState) -> Float[Array, " n"]:
        """Current (A) from the synapse into the membrane (zeros without a synapse)."""
        if self.synapse is None:
            return jnp.zeros_like(self.neuron.membrane_potential(state.neuron))
        return self.synapse.current(state.synapse)

    def membrane_current(self, state: LayerState, drive: Float[Array, " n"] | None) -> Float[Array, " n"]:
        current = self.synaptic_current(state)
        return current if drive is None else current + drive

    def vector_field(self, t, state: LayerState, drive: Float[Array, " n"] | None) -> LayerState:
        """d(state)/dt; ``drive`` is a current (A) into the membrane that has already passed the array."""
        current = self.membrane_current(state, drive)

        def field(component, s, inputs):
            return s if component is None else component.vector_field(t, s, inputs)

        return LayerState(
            array=self.array.vector_field(t, state.array, None),
            synapse=field(self.synapse, state.synapse, None),
            neuron=self.neuron.vector_field(t, state.neuron, current),
            plasticity=field(self.plasticity, state.plasticity, None),
            energy=field(self.energy, state.energy, (self, state, current)),
        )

    def linear_coefficient(self, state: LayerState, drive: Float[Array, " n"] | None) -> LayerState:
        """Each component's :meth:`~memsnn.components.AbstractComponent.linear_coefficient` (1/s),
        a pytree like ``state`` (the diagonal linear part of :meth:`vector_field`)."""
        current = self.membrane_current(state, drive)

        def coefficient(component, s, inputs):
            return s if component is None else component.linear_coefficient(s, inputs)

        return LayerState(
            array=self.array.linear_coefficient(state.array, None),
            synapse=coefficient(self.synapse, state.synapse, None),
            neuron=self.neuron.linear_coefficient(state.neuron, current),
            plasticity=coefficient(self.plasticity, state.plasticity, None),
            energy=coefficient(self.energy, state.energy, (self, state, current)),
        )

    def read(self, state: LayerState, presynaptic: Float[Array, " n_in"], key=None) -> Float[Array, " n"]:
        """Read the array: the drive ``(n,)`` for pre-synaptic activity ``(n_in,)`` (an event)."""
        return self.array(presynaptic, state.array, key=key)

    def read_into(self, state: LayerState, presynaptic: Float[Array, " n_in"], key=None, lag=None, t=None):
        """Read the array as an event that may change its state (a delay line, recurrent spikes):
        ``(drive, lagged, state)``, see :meth:`~memsnn.arrays.AbstractSynapseArray.read` (``t``:
        event runs)."""
        if t is None:
            drive, lagged, array_state = self.array.read(presynaptic, state.array, key=key, lag=lag)
        else:
            drive, lagged, array_state = self.array.read(presynaptic, state.array, key=key, lag=lag, t=t)
        return drive, lagged, state._replace(array=array_state)

    def deliver(self, state: LayerState, t) -> LayerState:
        """Event runs: the impulses the array held back that arrive by time ``t`` (s) arrive."""
        drive, array_state = self.array.deliver(state.array, t)
        state = state._replace(array=array_state)
        return state if drive is None else self.receive(state, drive)

    def receive(self, state: LayerState, weight: Float[Array, " n"],
                presynaptic: Float[Array, " n_in"] | None = None, key: PRNGKeyArray | None = None) -> LayerState:
        """Impulses of weight ``weight`` (the array's output, A; C without a synapse) arrive.

        ``presynaptic`` (the activity before the array) is what a plasticity rule sees; ``key``:
        the layer's noise key of this grid step (the rule's event gets its own stream of it).
        """
        if self.synapse is None:
            state = state._replace(neuron=self.neuron.on_impulse(state.neuron, weight))
        else:
            state = state._replace(synapse=self.synapse.on_impulse(state.synapse, weight))
        if self.plasticity is not None and presynaptic is not None:
            plast, array = self.plasticity.on_presynaptic(state.plasticity, self.array, state.array, presynaptic,
                                                          key=_event_key(key, _PRESYNAPTIC))
            state = state._replace(plasticity=plast, array=array)
        return state

    def receive_early(self, state: LayerState, weight: Float[Array, " n"], lagged: Float[Array, " n"], t,
                      presynaptic: Float[Array, " n_in"] | None = None, key: PRNGKeyArray | None = None
                      ) -> LayerState:
        """:meth:`receive` for impulses that arrived before the grid time ``t``: ``lagged`` is the
        array's output for the presynaptic activity weighted by each input's lag (s).

        To first order in the lags (exact for linear dynamics to that order): the state gains
        ``sum_j lag_j (f(y + D_j) - f(y)) = J_f D_lag``, the vector field's change over the time the
        impulses were early (docs/spike-times.md).
        """
        new = self.receive(state, weight, presynaptic, key)
        _, delta = jax.jvp(lambda w: self.receive(state, w), (weight,), (lagged,))
        _, correction = jax.jvp(lambda y: self.vector_field(t, y, None), (new,), (delta,))
        return jax.tree.map(jnp.add, new, correction)

    def threshold(self, state: LayerState) -> Float[Array, " n"]:
        """The neuron's threshold function ``g`` ``(n,)`` (a spike is its upward crossing of 0)."""
        return self.neuron.threshold_function(state.neuron)

    def threshold_rate(self, state: LayerState, field: LayerState) -> Float[Array, " n"]:
        """``dg/dt`` ``(n,)`` of the threshold function along the layer's vector field ``field``."""
        return jax.jvp(self.neuron.threshold_function, (state.neuron,), (field.neuron,))[1]

    def fire(self, state: LayerState, timing=None, key: PRNGKeyArray | None = None):
        """Read the spikes and apply the neuron's reset (and the plasticity rule's spike map).

        ``timing`` (exact spike timing, docs/spike-times.md): ``(t, drive, g_start, lag, crossed)`` of the
        step that just ended (see :class:`SpikeTiming`; ``crossed`` may be ``None``). A spike is then an upward crossing of the threshold
        function (or, for neurons with a reset, a neuron still above it after its reset), the reset acts
        ``lag`` before the grid point (to first order in the lag), and the result is
        ``(state, spikes, lags)``; without it ``(state, spikes)``. ``key``: the layer's noise key of
        this grid step (the plasticity rule's event gets its own stream of it).
        """
        if timing is not None:
            return self._fire_at(state, *timing, key=key)
        spikes = self.neuron.spikes(state.neuron)
        state = state._replace(neuron=self.neuron.on_spike(state.neuron, spikes))
        if self.plasticity is not None:
            plast, array = self.plasticity.on_postsynaptic(state.plasticity, self.array, state.array, spikes,
                                                           self.neuron.membrane_potential(state.neuron),
                                                           key=_event_key(key, _POSTSYNAPTIC))
            state = state._replace(plasticity=plast, array=array)
        return state, spikes

    def _fire_at(self, state: LayerState, t, drive, g_start, lag, crossed=None, *, key=None):
        flag = self.neuron.spikes(state.neuron)
        if crossed is not None:
            flag = jnp.where(crossed, jnp.ones_like(flag), flag)
        resets = self.neuron.has_event_rule
        event = (flag > 0) & ((g_start < 0) | resets) if resets else (flag > 0) & (g_start < 0)
        spikes = jnp.where(event, flag, jnp.zeros_like(flag))
        lag = jnp.where(event, lag, jnp.zeros_like(lag))
        neuron = self.neuron.on_spike(state.neuron, spikes)
        if resets:
            # The reset happened lag before t: y+ = J(y) + lag (f(J(y)) - J'(y) f(y)), first order in the lag.
            current = self.membrane_current(state, drive)
            field = lambda n: self.neuron.vector_field(t, n, current)  # noqa: E731
            _, moved = jax.jvp(lambda n: self.neuron.on_spike(n, spikes), (state.neuron,), (field(state.neuron),))
            change = jax.tree.map(jnp.subtract, field(neuron), moved)
            neuron = jax.tree.map(lambda x, d: x + lag * d, neuron, change)
        state = state._replace(neuron=neuron)
        if self.plasticity is not None:
            plast, array = self.plasticity.on_postsynaptic(state.plasticity, self.array, state.array, spikes,
                                                           self.neuron.membrane_potential(state.neuron),
                                                           key=_event_key(key, _POSTSYNAPTIC))
            state = state._replace(plasticity=plast, array=array)
        return state, spikes, lag

    def decay_rate(self, state: LayerState, drive, *, samples: int = 1,
                   residual: bool = False) -> Float[Array, " samples"]:
        """Largest local decay rate (1/s) of the layer's components, per sample (see
        :meth:`Network.decay_rate`); with ``residual`` the rates left beside the linear parts
        (:meth:`~memsnn.components.AbstractComponent.residual_decay_rate`)."""
        current = self.membrane_current(state, drive)

        def rate(component, s, inputs):
            return component.residual_decay_rate(s, inputs) if residual else component.decay_rate(s, inputs)

        rates = [rate(self.neuron, state.neuron, current), rate(self.array, state.array, None)]
        for component, s in ((self.synapse, state.synapse), (self.plasticity, state.plasticity)):
            if component is not None:
                rates.append(rate(component, s, None))
        if self.energy is not None:
            rates.append(rate(self.energy, state.energy, (self, state, current)))
        return jnp.max(jnp.stack([_per_sample(r, samples) for r in rates]), axis=0)


_EXAMPLES = {"array": "memsnn.Dense", "synapse": "memsnn.AlphaSynapse", "neuron": "memsnn.MIF",
             "plasticity": "a subclass of memsnn.components.AbstractPlasticity",
             "energy": "a subclass of memsnn.components.AbstractEnergyMeter"}


class Network(eqx.Module):
    """A feed-forward stack of :class:`Layer`; the external stimulus enters the first layer.

    Shapes are for one sample; :func:`memsnn.simulate` vmaps over the batch.
    """

    layers: tuple[Layer, ...]

    def __init__(self, layers):
        layers = tuple(layers)
        if not layers:
            raise ValueError("Network: give at least one Layer.")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Network: layer {i} must be a memsnn.Layer, got {type(layer).__name__}.")
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
    def stochastic(self) -> bool:
        """Whether some component draws noise: :func:`memsnn.simulate` then needs a ``key``."""
        return any(layer.stochastic for layer in self.layers)

    @property
    def needs_grid_events(self) -> bool:
        """Whether something must happen at every grid point: spikes feeding a next layer, resets,
        plasticity, or array reads that change over time (state or noise)."""
        return (len(self.layers) > 1 or self.stochastic
                or any(layer.neuron.has_event_rule or not layer.hoistable for layer in self.layers))

    def init_state(self, key: PRNGKeyArray | None = None, *, events: bool = False) -> NetworkState:
        """State at t = 0; ``events``: for an event run (``Diffrax(..., events=True)``), where arrays
        with delays hold their pending spikes."""
        return tuple(layer.init_state(k, events=events)
                     for layer, k in zip(self.layers, _split(key, len(self.layers))))

    def next_arrival(self, state: NetworkState):
        """Event runs: the earliest time (s, a scalar) at which an impulse held back by an array (a
        delay) arrives; ``+inf`` when none is pending."""
        times = [t for t in (layer.array.next_arrival(s.array) for layer, s in zip(self.layers, state))
                 if t is not None]
        if not times:
            return jnp.asarray(jnp.inf, jax.tree.leaves(state)[0].dtype)
        return jnp.min(jnp.stack(times))

    def deliver(self, state: NetworkState, t) -> NetworkState:
        """Event runs: every impulse held back by an array that arrives by time ``t`` (s) arrives."""
        return tuple(layer.deliver(s, t) for layer, s in zip(self.layers, state))

    def vector_field(self, t, state: NetworkState, drive: Float[Array, " n"] | None) -> NetworkState:
        """d(state)/dt at time ``t`` (s); ``drive`` is a current (A) into the first layer's membrane
        (already through its array), or ``None``."""
        return tuple(layer.vector_field(t, s, drive if i == 0 else None)
                     for i, (layer, s) in enumerate(zip(self.layers, state)))

    def linear_coefficient(self, state: NetworkState, drive: Float[Array, " n"] | None) -> NetworkState:
        """The diagonal linear coefficients (1/s) of :meth:`vector_field`, a pytree like ``state``
        (what :class:`~memsnn.integrators.ExponentialEuler` integrates exactly; zeros where a
        component declares none)."""
        return tuple(layer.linear_coefficient(s, drive if i == 0 else None)
                     for i, (layer, s) in enumerate(zip(self.layers, state)))

    def inject(self, state: NetworkState, weight: Float[Array, " n"],
               presynaptic: Float[Array, " n_in"] | None = None, lagged=None, t=None,
               key: PRNGKeyArray | None = None) -> NetworkState:
        """External impulses of weight ``weight`` (the first array's output) arrive at the first layer.

        ``lagged`` (exact timing): the array's output weighted by how long before ``t`` each impulse
        arrived (see :meth:`Layer.receive_early`). ``key``: the first layer's noise key of this grid
        step (``keys[0]`` of :meth:`fire`), for its plasticity rule.
        """
        if lagged is None:
            return (self.layers[0].receive(state[0], weight, presynaptic, key),) + tuple(state[1:])
        return (self.layers[0].receive_early(state[0], weight, lagged, t, presynaptic, key),) + tuple(state[1:])

    def fire(self, state: NetworkState, keys=None, timing: SpikeTiming | None = None):
        """Read spikes of every layer, apply resets, forward the spikes as impulses to the next layer.

        ``keys[i]`` is layer ``i``'s noise key of this grid step: its array's read noise, and the
        streams of its plasticity rule's events folded from it (``None``: deterministic).
        Returns ``(state, spikes)``. With ``timing`` (a :class:`SpikeTiming`, exact spike timing)
        every spike also has its lag before the grid point, the resets and the forwarded impulses act
        at the spike times (to first order in the lag), and it returns ``(state, spikes, lags)``.
        """
        state = list(state)
        spikes, lags = [], []
        pending = None if timing is None else list(timing.lag)
        for i, layer in enumerate(self.layers):
            own = None if keys is None else keys[i]
            if timing is None:
                state[i], s = layer.fire(state[i], key=own)
            else:
                state[i], s, lag = layer.fire(state[i], (timing.t, timing.drive if i == 0 else None,
                                                         timing.start[i], pending[i],
                                                         None if timing.crossed is None else timing.crossed[i]),
                                              key=own)
                lags.append(lag)
            spikes.append(s)
            if i + 1 < len(self.layers):
                nxt = self.layers[i + 1]
                key = None if keys is None else keys[i + 1]
                if timing is None:
                    weight, _, state[i + 1] = nxt.read_into(state[i + 1], s, key)
                    state[i + 1] = nxt.receive(state[i + 1], weight, s, key)
                else:
                    weight, lagged, state[i + 1] = nxt.read_into(state[i + 1], s, key, lag,
                                                                 timing.t if timing.events else None)
                    state[i + 1] = nxt.receive_early(state[i + 1], weight, lagged, timing.t, s, key)
                    # A neuron that the early impulses carried over its threshold crossed it after the
                    # earliest of them arrived: back along its slope now, at most that far.
                    g = nxt.threshold(state[i + 1])
                    rate = nxt.threshold_rate(state[i + 1], nxt.vector_field(timing.t, state[i + 1], None))
                    pushed = (timing.end[i + 1] < 0) & (g >= 0) & (rate > 0)
                    back = jnp.clip(g / jnp.where(pushed, rate, 1.0), 0.0, jnp.max(lag))
                    pending[i + 1] = jnp.where(pushed, back, pending[i + 1])
        # Arrays that keep spikes for their next read (recurrence, feedback from a later layer).
        spikes, lags = tuple(spikes), (tuple(lags) if timing is not None else None)
        for i, layer in enumerate(self.layers):
            if timing is not None and timing.events:
                array = layer.array.on_spikes(state[i].array, spikes, lags, i, t=timing.t)
            else:
                array = layer.array.on_spikes(state[i].array, spikes, lags, i)
            state[i] = state[i]._replace(array=array)
        if timing is None:
            return tuple(state), spikes
        return tuple(state), spikes, lags

    def thresholds(self, state: NetworkState) -> tuple:
        """Each layer's threshold function ``g`` (a spike is its upward crossing of 0)."""
        return tuple(layer.threshold(s) for layer, s in zip(self.layers, state))

    def threshold_rates(self, t, state: NetworkState, drive) -> tuple:
        """Each layer's ``dg/dt`` along the network's vector field at ``t``."""
        field = self.vector_field(t, state, drive)
        return tuple(layer.threshold_rate(s, f) for layer, s, f in zip(self.layers, state, field))

    def read_spikes(self, state: NetworkState) -> tuple:
        """Each layer's spike flags, without applying any event map."""
        return tuple(layer.neuron.spikes(s.neuron) for layer, s in zip(self.layers, state))

    def decay_rate(self, state: NetworkState, drive, *, samples: int = 1,
                   residual: bool = False) -> Float[Array, " samples"]:
        """Largest local decay rate (1/s) over all layers, ``(samples,)``: explicit steps need ``dt * rate < ~2``.

        ``residual``: the rates left once the components' linear parts are integrated exactly
        (:class:`~memsnn.integrators.ExponentialEuler`'s stability check).

        ``samples`` is the number of samples folded into each population (``simulate(fold_batch=True)``:
        a layer of ``samples * n`` neurons, sample-major). A per-neuron rate is then reduced per
        sample, not over the whole population: on a batch sharded over devices, a reduction over
        the population would be one collective per time step (on 2 CPU devices, it made the
        SPICEprop training step slower than on one).
        """
        return jnp.max(jnp.stack([layer.decay_rate(s, drive if i == 0 else None, samples=samples, residual=residual)
                                  for i, (layer, s) in enumerate(zip(self.layers, state))]), axis=0)


def _per_sample(rate, samples: int) -> Float[Array, " samples"]:
    """A component's decay rate (a scalar, or one per neuron of ``samples`` sample-major blocks)
    reduced to its largest value per sample."""
    rate = jnp.asarray(rate)
    if rate.ndim == 1 and rate.size % samples == 0:  # per neuron
        return jnp.max(rate.reshape(samples, -1), axis=1)
    # A scalar, or not per neuron (e.g. per synapse): the same bound for every sample.
    return jnp.broadcast_to(jnp.max(rate), (samples,))


def tree_axpy(a, x, y):
    """``a * x + y`` over matching pytrees."""
    return jax.tree.map(lambda xi, yi: a * xi + yi, x, y)
