"""Choosing a neuron's device parameters for target spike counts: an objective with no gradient.

The SPICEprop MIF neuron (:func:`memsnn.presets.spiceprop_mif`) behind its alpha synapse is driven
by trains of input impulses (a weight every ``gap`` steps); its spike count in a run is the number
of upward crossings of its spike flag (``v > spike_threshold``). How many impulses of a train make
a spike depends on the memristors that repolarise the membrane (on and off resistance, switching
threshold): the neuron's refractoriness and depolarisation block are device properties. The design
problem: choose those parameters so that the neuron fires a target number of spikes for each
train. A count is an integer, flat almost everywhere in the parameters and jumping in between, so
no gradient helps; an evolution strategy (:class:`~memsnn.training.evolution.EvolutionLearner`
through :func:`~memsnn.training.fit`, the whole population one vmapped :func:`memsnn.simulate`) can.

The parameters are searched in the unconstrained coordinates of :mod:`memsnn.devices.bounds`
(``s = 0`` the device as built; every ``s`` a device inside its physical range), so a candidate
cannot leave the range. A candidate whose explicit step is unstable on some train
(``simulate(throw=False)``) has a NaN loss, which the learner ranks last.

    model = spike_count_design(("memristor1.R_on", "memristor1.R_off", "memristor1.V_on"))
    learner = EvolutionLearner.create(model, spike_count_loss, spike_count_predict,
                                      algorithm="CMA_ES", population_size=16, std_init=1.0,
                                      trainable=model.trainable())
    result = fit(model, learner, (trains, target_counts), None, epochs=40, batch_size=len(trains))
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ..arrays import Identity
from ..devices.bounds import DEVICE_BOUNDS, Bound, constrain, unconstrain, zero_coordinates
from ..integrators import AbstractIntegrator, SpicepropEuler
from ..network import Layer, Network
from ..neurons import MIF
from ..presets import spiceprop_mif
from ..simulate import simulate
from ..stimulus import Impulses
from ..synapses import AlphaSynapse
from ..training.learner import FAILED

__all__ = ["SpikeCountDesign", "regular_trains", "spike_count_design", "spike_count_loss", "spike_count_predict"]


def _bounds(parameters: tuple[str, ...]) -> dict[str, Bound]:
    out = {}
    for name in parameters:
        bound = DEVICE_BOUNDS.get(name, DEVICE_BOUNDS.get(name.rsplit(".", 1)[-1]))
        if bound is None:
            raise ValueError(f"spike_count_design: no physical range for {name!r}; choose parameters named like "
                             f"'memristor1.R_on', 'memristor2.V_on', 'capacitance' (ranges: {sorted(DEVICE_BOUNDS)}).")
        out[name] = bound
    return out


class SpikeCountDesign(eqx.Module):
    """A MIF neuron and its alpha synapse, with the coordinates of the device parameters searched.

    Attributes:
        synapse, neuron: the devices as built (``s = 0``).
        coordinates: shaped like ``(synapse, neuron)``: an array (the coordinate ``s``) for every
            searched parameter, ``None`` elsewhere.
        parameters: the searched parameters, dotted attribute paths such as
            ``"memristor1.R_on"`` (each with a range in :data:`~memsnn.devices.bounds.DEVICE_BOUNDS`).
        dt: grid step (s).
        solver: the integrator (default the SPICEprop ordering of Euler at ``dt``).
    """

    synapse: AlphaSynapse
    neuron: MIF
    coordinates: Any
    parameters: tuple[str, ...] = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    solver: AbstractIntegrator

    def devices(self) -> tuple[AlphaSynapse, MIF]:
        """``(synapse, neuron)`` with the searched parameters at their coordinates."""
        return constrain((self.synapse, self.neuron), self.coordinates, _bounds(self.parameters))

    def values(self) -> dict[str, float]:
        """The searched parameters' values (SI units), by name (concrete models only)."""
        neuron = self.devices()[1]
        return {name: float(_leaf(neuron, name.split("."))) for name in self.parameters}

    def with_values(self, values: dict[str, float]) -> "SpikeCountDesign":
        """This model with the searched parameters set to ``values`` (SI units, inside their ranges)."""
        unknown = sorted(set(values) - set(self.parameters))
        if unknown:
            raise ValueError(f"SpikeCountDesign.with_values: {unknown} are not searched parameters {self.parameters}.")
        target = self.neuron
        for name, value in values.items():
            parts = name.split(".")
            target = eqx.tree_at(lambda n, parts=parts: _leaf(n, parts), target, jnp.asarray(value, dtype=float))
        s = unconstrain((self.synapse, self.neuron), (self.synapse, target), _bounds(self.parameters))
        return eqx.tree_at(lambda m: m.coordinates, self, s, is_leaf=lambda x: x is None)

    def trainable(self):
        """Filter spec of :class:`~memsnn.training.evolution.EvolutionLearner`: the coordinates only."""
        spec = jax.tree.map(lambda _: False, self)
        return eqx.tree_at(lambda m: m.coordinates, spec, jax.tree.map(lambda _: True, self.coordinates),
                           is_leaf=lambda x: x is None)

    def counts(self, trains: Float[Array, "B n_steps"], *, throw: bool = True) -> Float[Array, " B"]:
        """Spike counts ``(B,)`` for input trains ``(B, n_steps)`` (impulse weight in A at each step;
        the neuron's alpha synapse turns it into current). A train whose simulation failed
        (``throw=False``) counts NaN."""
        if trains.ndim != 2:
            raise ValueError(f"SpikeCountDesign.counts: trains must be (batch, n_steps), got shape {trains.shape}.")
        synapse, neuron = self.devices()
        network = Network([Layer(Identity(1), synapse, neuron)])
        trace = simulate(network, Impulses(trains[:, :, None]), dt=self.dt, n_steps=trains.shape[1],
                         solver=self.solver, record=("spikes",), throw=throw)
        flag = trace.spikes[0][:, :, 0]
        rising = jnp.maximum(jnp.diff(flag, axis=1, prepend=jnp.zeros_like(flag[:, :1])), 0.0)
        return trace.failed_as_nan(jnp.sum(rising, axis=1))


def _leaf(tree, parts):
    for part in parts:
        tree = getattr(tree, part)
    return tree


def spike_count_design(parameters: tuple[str, ...] = ("memristor1.R_on", "memristor1.R_off", "memristor1.V_on"),
                       *, neuron: MIF | None = None, tau_a: float = 1e-3, dt: float = 1e-5,
                       solver: AbstractIntegrator | None = None) -> SpikeCountDesign:
    """A :class:`SpikeCountDesign` at ``s = 0``: ``neuron`` (default the SPICEprop MIF) behind an
    alpha synapse of time constant ``tau_a`` (s), its ``parameters`` searched.

    Raises:
        ValueError: a parameter without a physical range, or one outside it.
    """
    parameters = tuple(parameters)
    if not parameters or len(set(parameters)) != len(parameters):
        raise ValueError(f"spike_count_design: give distinct parameter names, got {parameters!r}.")
    bounds = _bounds(parameters)
    neuron = spiceprop_mif() if neuron is None else neuron
    synapse = AlphaSynapse(tau_a)
    # The neuron's parameters only (the synapse's tau_a has a range too, but is not searched).
    coordinates = (zero_coordinates(synapse, {}), zero_coordinates(neuron, bounds))
    found = len(jax.tree.leaves(coordinates[1]))
    if found != len(parameters):
        raise ValueError(f"spike_count_design: the neuron has {found} of the parameters {parameters}; name "
                         "them by their attribute path in the neuron (e.g. 'memristor1.R_on').")
    return SpikeCountDesign(synapse, neuron, coordinates, parameters, float(dt),
                            SpicepropEuler() if solver is None else solver)


def spike_count_loss(model: SpikeCountDesign, trains: Float[Array, "B n_steps"], targets: Int[Array, " B"], *,
                     key=None, throw: bool = True) -> tuple[Float[Array, ""], Int[Array, " B"]]:
    """``(mean |count - target|, counts)`` over the trains (NaN if a simulation failed); ``key``
    unused (the devices are deterministic)."""
    counts = model.counts(trains, throw=throw)
    loss = jnp.mean(jnp.abs(counts - targets.astype(counts.dtype)))
    return loss, _as_predictions(counts)


def spike_count_predict(model: SpikeCountDesign, trains: Float[Array, "B n_steps"], *, key=None,
                        throw: bool = True) -> Int[Array, " B"]:
    """The spike counts ``(B,)`` (:data:`~memsnn.training.learner.FAILED` where a simulation failed)."""
    return _as_predictions(model.counts(trains, throw=throw))


def _as_predictions(counts):
    return jnp.where(jnp.isfinite(counts), jnp.nan_to_num(counts), FAILED).astype(jnp.int32)


def regular_trains(weights, gaps, n_steps: int, *, first: int = 5) -> np.ndarray:
    """Input trains ``(len(weights) * len(gaps), n_steps)``: for every weight (A) and gap (steps,
    >= 1), an impulse of that weight at steps ``first, first + gap, ...`` (weight-major order)."""
    rows = []
    for w in weights:
        for gap in gaps:
            if int(gap) < 1:
                raise ValueError(f"regular_trains: gaps must be >= 1 step, got {gap!r}.")
            row = np.zeros(int(n_steps))
            row[int(first)::int(gap)] = float(w)
            rows.append(row)
    return np.stack(rows)
