"""Unsupervised MNIST with STDP: Diehl & Cook (2015), learned inside the simulated circuit.

The network (docs/plasticity.md): 784 Poisson inputs -> a plastic array -> ``n_neurons``
conductance-based excitatory neurons with adaptive thresholds, each paired with an inhibitory
neuron that inhibits all the other excitatory ones
(:class:`~memsnn.neurons.InhibitedPopulation`); the array learns with Diehl & Cook's rule
(:meth:`memsnn.plasticity.TripletSTDP.diehl_cook`). Per training image, as in their code:

1. the weights onto each excitatory neuron are normalised to sum to ``weight_sum`` (78);
2. the image is shown for ``t_image`` (350 ms) as Poisson spike trains of rate
   ``intensity * max_rate`` (63.75 Hz for a white pixel); with fewer than ``min_spikes`` (5)
   excitatory spikes it is shown again with the rate raised by one half of the first (their
   ``input_intensity += 1`` from 2);
3. between presentations the neurons and the rule's traces are reset to rest, keeping the
   learned weights, and the adaptive thresholds decay over the 150 ms rest: what their 150 ms
   without input does (in closed form instead of 300 more time steps; their membrane, tau 100 ms,
   is then within a quarter of its deviation from rest, here exactly at rest).

Learning is sequential: one network instance, whose final state (weights, thresholds) is the
``initial_state`` of the next image's :func:`memsnn.simulate`. After training each neuron is
labelled with the class it responds to most (responses with learning and adaptation off) and an
image is classified by the labelled groups' mean spike counts.

``memsnn train --method stdp`` runs it through the shared loop :func:`memsnn.training.fit` with
:class:`StdpLearner` (progress bar, checkpoints, resume); a batch of ``B`` images is ``B``
sequential presentations inside one jitted step.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..arrays import AbstractPlasticArray, DelayedPlastic, Dense, PlasticDense
from ..crossbar import Crossbar, preset as crossbar_preset
from ..network import Layer, LayerState, Network
from ..neurons import ConductanceLIF, InhibitedPopulation
from ..plasticity import TripletSTDP
from ..integrators import RESULTS, Euler, ExponentialEuler
from ..simulate import simulate
from ..stimulus import Impulses
from ._config import JsonConfig
from .layout import add_crossbar_argument, add_old_crossbar_aliases, check_crossbar_preset, crossbar_from_args, \
    migrated_crossbar_keys
from ._method import Method, cli_type
from .learner import AbstractLearner
from .predict import Predict, image_keys

__all__ = ["STDP", "DiehlCookNet", "StdpConfig", "StdpLearner", "assign_labels", "build_stdp", "learn_images",
           "image_keys", "responses", "stdp_predict"]



@dataclasses.dataclass(frozen=True)
class StdpConfig(JsonConfig):
    """Everything that defines a Diehl & Cook network (stored in checkpoints as JSON).

    Attributes:
        n_neurons: excitatory neurons (as many inhibitory ones).
        n_inputs, n_classes: input pixels and classes.
        dt: time step (s).
        t_image: presentation time of one image (s).
        t_rest: time without input after each presentation (s): the neurons and traces are reset
            to rest and the adaptive thresholds decay by ``exp(-t_rest / tau_theta)``.
        max_rate: Poisson rate (Hz) of a pixel of intensity 1 at the first presentation.
        min_spikes: fewer excitatory spikes than this and the image is shown again, brighter.
        max_presentations: at most this many presentations per image.
        weight_sum: sum of the weights onto each excitatory neuron after normalisation.
        w_max: upper bound of a weight (units of the leak conductance).
        w_init: initial weights are uniform in ``[0, w_init]`` (Diehl & Cook: ~0.3).
        nu_pre, nu_post: learning rates of the rule (:meth:`~memsnn.plasticity.TripletSTDP.diehl_cook`).
        theta_plus: threshold increase per spike (V) during training.
        w_exc_inh, w_inh_exc: the lateral-inhibition weights.
        crossbar: ``None`` (ideal weights, :class:`~memsnn.arrays.PlasticDense`) or a
            :func:`memsnn.crossbar.preset` name: a :class:`memsnn.crossbar.Crossbar` of that preset's
            devices (``--crossbar PRESET``, the crossbar option of every method). Configs written
            before it (``array``, ``crossbar_preset``) are migrated on read (:meth:`from_dict`).
        assignment_decay: per-image decay of the running class responses that label the neurons
            during training (1/window; Diehl & Cook relabel from the last 10,000 images).
        unroll: time steps per loop iteration (see :func:`memsnn.simulate`).
        integrator: ``"exponential"`` (default: :class:`~memsnn.integrators.ExponentialEuler`,
            exact on the conductance-based membrane's decay, stable through any burst of
            inhibition) or ``"euler"`` (explicit Euler, as Diehl & Cook's Brian code; unstable
            when ~24 inhibitory neurons fire at once). docs/plasticity.md compares them.
            Checkpoints written before the option were trained with ``"euler"`` and read as such.
        clamp_refractory: ``True``: an excitatory neuron's membrane is held at the reset during
            its 5 ms refractory period. ``False``: it integrates on and only spikes are blocked,
            what Diehl & Cook's Brian 1 code does (:class:`~memsnn.neurons.ConductanceLIF`,
            ``clamp_refractory``). Configs written before the option read as ``True``.
        input_delay: 0 (every input impulse arrives on the step it is sent) or the longest delay
            (s) of the input connections: each connection gets its own delay, uniform in
            ``[0, input_delay)``, counted in whole steps (Diehl & Cook: 10 ms,
            :class:`~memsnn.arrays.DelayedPlastic`; the rule reads its traces at the arrivals,
            :class:`~memsnn.plasticity.TripletSTDP`). Configs written before it read as 0.
        carry_rest: ``False``: each presentation starts with the excitatory membranes and the
            rule's traces at rest. ``True``: with what the ``t_rest`` without input leaves of them
            (their Brian code simulates it: a membrane keeps ``exp(-150/100)`` = 22 % of its
            deviation from rest, the 40 ms trace 2.4 %), in closed form. Configs written before it
            read as ``False``.
    """

    n_neurons: int = 100
    n_inputs: int = 784
    n_classes: int = 10
    dt: float = 0.5e-3
    t_image: float = 0.35
    t_rest: float = 0.15
    max_rate: float = 63.75
    min_spikes: int = 5
    max_presentations: int = 6
    weight_sum: float = 78.0
    w_max: float = 1.0
    w_init: float = 0.3
    nu_pre: float = 1e-4
    nu_post: float = 1e-2
    theta_plus: float = 0.05e-3
    w_exc_inh: float = 10.4
    w_inh_exc: float = 17.0
    crossbar: str | None = None
    assignment_decay: float = 1e-4
    unroll: int = 1
    integrator: str = "exponential"
    clamp_refractory: bool = True
    input_delay: float = 0.0
    carry_rest: bool = False

    @classmethod
    def from_dict(cls, d: dict) -> "StdpConfig":
        """The config of ``d`` (all settings, or some with the others at their defaults).

        The old ``array`` / ``crossbar_preset`` keys become ``crossbar``; a complete config
        without ``integrator`` (a checkpoint's, written before it existed) was run with ``"euler"``.
        """
        d = migrated_crossbar_keys(d, cls.__name__)
        if "integrator" not in d and _WRITTEN_BY_EVERY_VERSION <= set(d):
            d = {**d, "integrator": "euler"}
        if "clamp_refractory" not in d and _WRITTEN_BY_EVERY_VERSION <= set(d):
            d = {**d, "clamp_refractory": True}
        return super().from_dict(d)

    def __post_init__(self):
        if self.crossbar is not None:
            check_crossbar_preset("StdpConfig", self.crossbar)
        for name in ("n_neurons", "n_inputs", "n_classes", "min_spikes", "max_presentations", "unroll"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"StdpConfig: {name} must be a positive integer, got {value!r}.")
        for name in ("dt", "t_image", "max_rate", "weight_sum", "w_max", "w_init"):
            if not getattr(self, name) > 0:
                raise ValueError(f"StdpConfig: {name} must be > 0, got {getattr(self, name)!r}.")
        if self.n_steps < 1:
            raise ValueError(f"StdpConfig: t_image={self.t_image!r} s is shorter than one time step dt={self.dt!r} s "
                             f"(it would show each image for {self.n_steps} steps); give a longer t_image (--t-image) "
                             "or a smaller dt (--dt).")
        if not (isinstance(self.input_delay, (int, float)) and not isinstance(self.input_delay, bool)
                and 0 <= self.input_delay < self.t_image):
            raise ValueError(f"StdpConfig: input_delay must be a number of seconds in [0, t_image={self.t_image}), "
                             f"got {self.input_delay!r}.")
        if not isinstance(self.carry_rest, bool):
            raise ValueError(f"StdpConfig: carry_rest must be true or false, got {self.carry_rest!r}.")
        if not isinstance(self.clamp_refractory, bool):
            raise ValueError(f"StdpConfig: clamp_refractory must be true or false, got {self.clamp_refractory!r}.")
        if self.integrator not in _INTEGRATORS:
            raise ValueError(f"StdpConfig: integrator must be one of {sorted(_INTEGRATORS)}, got {self.integrator!r}.")
        if not 0 <= self.assignment_decay < 1:
            raise ValueError(f"StdpConfig: assignment_decay must lie in [0, 1), got {self.assignment_decay!r}.")
        if self.max_rate * self.dt * _brightest(self) > 1:
            raise ValueError(f"StdpConfig: max_rate * dt must stay below 1 at the brightest presentation (a "
                             f"Bernoulli draw per step), got max_rate={self.max_rate} Hz, dt={self.dt} s.")

    @property
    def n_steps(self) -> int:
        return int(round(self.t_image / self.dt))


_INTEGRATORS = {"euler": Euler(), "exponential": ExponentialEuler()}
# Settings that every StdpConfig.to_dict has written: a dict holding them all is a checkpoint's.
_WRITTEN_BY_EVERY_VERSION = frozenset({"n_neurons", "n_inputs", "n_classes", "dt", "t_image", "max_rate", "min_spikes",
                                       "max_presentations", "weight_sum", "w_max", "w_init", "nu_pre", "nu_post",
                                       "theta_plus", "w_exc_inh", "w_inh_exc", "assignment_decay", "unroll"})


def _brightest(config: StdpConfig) -> float:
    """Rate scale of the last allowed presentation (each retry adds half of the first rate)."""
    return 1.0 + (config.max_presentations - 1) / 2.0


def _make_array(config: StdpConfig, weight, key) -> AbstractPlasticArray:
    if config.crossbar is None:
        array = PlasticDense(weight, w_min=0.0, w_max=config.w_max)
    else:
        # Weights in [0, w_max] on differential pairs of the preset's devices; the rule's changes are
        # programmed with the devices' own pulse response (e.g. NeuroSim's nonlinear LTP/LTD).
        array = Crossbar(weight, **crossbar_preset(config.crossbar, w_max=config.w_max)._asdict())
    if not config.input_delay:
        return array
    delay = jax.random.uniform(key, weight.shape, maxval=config.input_delay)
    return DelayedPlastic(array, delay, dt=config.dt, max_delay=config.input_delay)


class DiehlCookNet(eqx.Module):
    """A Diehl & Cook network and what it learned.

    Attributes:
        config: the :class:`StdpConfig`.
        array: the plastic input array (``n_neurons``, ``n_inputs``).
        neuron: the excitatory/inhibitory population (:class:`~memsnn.neurons.InhibitedPopulation`).
        rule: the learning rule.
        array_state: the array's learned state (weights, or device conductances of a crossbar).
        theta: ``(n_neurons,)`` learned adaptive threshold offsets (V).
        assignments: ``(n_neurons,)`` the class each neuron is labelled with (-1: none, a neuron
            that never responded while labelling).
    """

    config: StdpConfig = eqx.field(static=True)
    array: AbstractPlasticArray
    neuron: InhibitedPopulation
    rule: TripletSTDP
    array_state: Any
    theta: Float[Array, " n"]
    assignments: Int[Array, " n"]

    def network(self, learning: bool = True) -> Network:
        """The network of one sample: with the rule and adaptation (training) or without (testing)."""
        if learning:
            return Network([Layer(self.array, None, self.neuron, plasticity=self.rule)])
        frozen = eqx.tree_at(lambda p: p.excitatory.theta_plus, self.neuron, jnp.zeros(()))
        # Testing reads the learned weights through an ideal linear array: simulate then applies
        # it to all time steps at once (one matmul) instead of step by step; with input delays,
        # through the same delays.
        ideal = Dense(self.array.weights(self.array_state))
        if self.array.delay_taps:
            ideal = eqx.tree_at(lambda a: a.array, self.array, PlasticDense(ideal.weight))
        return Network([Layer(ideal, None, frozen)])

    def weights(self) -> Float[Array, "n_neurons n_inputs"]:
        """The learned weights (for a crossbar: the weights its conductances represent)."""
        return self.array.weights(self.array_state)


def build_stdp(config: StdpConfig | dict, *, key: PRNGKeyArray) -> DiehlCookNet:
    """A fresh Diehl & Cook network: uniform random weights, thresholds at ``theta_init``."""
    config = config if isinstance(config, StdpConfig) else StdpConfig.from_dict(config)
    weight = jax.random.uniform(key, (config.n_neurons, config.n_inputs), maxval=config.w_init)
    array = _make_array(config, weight, jax.random.fold_in(key, 1))
    excitatory = ConductanceLIF(theta_plus=config.theta_plus, clamp_refractory=config.clamp_refractory)
    neuron = InhibitedPopulation(excitatory, w_exc_inh=config.w_exc_inh, w_inh_exc=config.w_inh_exc)
    rule = TripletSTDP.diehl_cook(config.n_inputs, nu_pre=config.nu_pre, nu_post=config.nu_post, w_max=config.w_max,
                                  delay_taps=array.delay_taps)
    return DiehlCookNet(config, array, neuron, rule, array.init_state(config.n_neurons),
                        jnp.full((config.n_neurons,), excitatory.theta_init),
                        jnp.zeros((config.n_neurons,), jnp.int32))


def _spike_cap(config: StdpConfig, scale: float) -> int:
    """Spikes drawn per pixel: the mean of the brightest pixel at ``scale`` plus 7 standard
    deviations (a pixel runs out with probability < 1e-11)."""
    mean = config.n_steps * min(config.max_rate * config.dt * scale, 1.0)
    return int(math.ceil(mean + 7.0 * math.sqrt(mean) + 4))


def _poisson(key, images, scale, config: StdpConfig, cap: int):
    """``(B, n_steps, n_inputs)`` 0/1 spike trains, a spike at each step with probability
    ``rate dt`` (``rate = image * max_rate * scale``), independently.

    Drawn as geometric inter-spike intervals (the exact distribution of the gaps of a Bernoulli
    process), ``cap`` per pixel, instead of one draw per pixel and step: ~20x fewer random numbers.
    """
    p = jnp.clip(images * (config.max_rate * config.dt) * scale[:, None], 0.0, 1.0)  # (B, F)
    u = jax.random.uniform(key, (images.shape[0], cap, images.shape[1]), minval=jnp.finfo(jnp.float32).tiny,
                           maxval=1.0)
    # Gap G >= 1 with P(G = k) = (1 - p)^(k - 1) p; silent pixels (p = 0) get gaps past the end.
    log_q = jnp.log1p(-jnp.minimum(p, 1.0 - 1e-7))[:, None, :]
    gaps = jnp.where(p[:, None, :] > 0, jnp.floor(jnp.log(u) / jnp.minimum(log_q, -1e-30)) + 1.0, config.n_steps + 1.0)
    steps = jnp.cumsum(jnp.minimum(gaps, config.n_steps + 1.0), axis=1) - 1.0
    steps = jnp.where(steps < config.n_steps, steps, config.n_steps).astype(jnp.int32)  # n_steps: dropped
    batch = jnp.arange(images.shape[0])[:, None, None]
    pixel = jnp.arange(images.shape[1])[None, None, :]
    out = jnp.zeros((images.shape[0], config.n_steps, images.shape[1]), jnp.float32)
    return out.at[batch, steps, pixel].set(1.0, mode="drop")


def _normalised(model: DiehlCookNet, array_state, key):
    """The array state with each neuron's incoming weights scaled to sum to ``weight_sum``,
    requested through the array's own update law (``key``: its write noise, if any)."""
    w = model.array.weights(array_state)
    total = jnp.sum(w, axis=1, keepdims=True)
    target = w * (model.config.weight_sum / jnp.maximum(total, 1e-12))
    return model.array.updated(array_state, target - w, key=key)


def _rested(model: DiehlCookNet, final: LayerState | None):
    """``(v, traces)`` that the next presentation starts from: the excitatory membranes ``(n,)``
    (V) and the rule's state, after the ``t_rest`` without input that follows the presentation
    whose final layer state is ``final`` (``None``: a fresh start, at rest).

    At rest, unless ``config.carry_rest``: then each membrane keeps ``exp(-t_rest / tau)`` of its
    deviation from rest and each trace ``exp(-t_rest / tau_trace)`` of itself, what their 150 ms
    without input leaves (the conductances, ~1-2 ms, and the inhibitory membranes, 10 ms, are gone;
    the first milliseconds, while the conductances decay, are taken as pure leak)."""
    n = model.config.n_neurons
    excitatory, rule = model.neuron.excitatory, model.rule
    traces = rule.init_state(n)
    v = model.neuron.init_state(n).excitatory.v
    if final is None or not model.config.carry_rest:
        return v, traces
    t = model.config.t_rest
    left = final.plasticity
    v = excitatory.v_rest + (final.neuron.excitatory.v - excitatory.v_rest) * jnp.exp(-t / excitatory.tau)
    return v, traces._replace(r1=left.r1 * jnp.exp(-t / rule.tau_plus), r2=left.r2 * jnp.exp(-t / rule.tau_x),
                              o1=left.o1 * jnp.exp(-t / rule.tau_minus), o2=left.o2 * jnp.exp(-t / rule.tau_y))


def learn_images(model: DiehlCookNet, images: Float[Array, "B n_inputs"], key: PRNGKeyArray
                 ) -> tuple[DiehlCookNet, Float[Array, "B n_neurons"], Int[Array, " B"], Int[Array, " B"]]:
    """Learn from ``images`` in order (intensities in [0, 1]), one network instance throughout.

    Returns:
        ``(model, counts, presentations, result)``: the model with the new weights and thresholds,
        each image's excitatory spike counts ``(B, n_neurons)`` (of its last presentation), the
        number of presentations it took, and the :class:`~memsnn.RESULTS` code of its last
        presentation. The network is integrated at ``dt`` with ``config.integrator``: explicit
        Euler (``"euler"``, as Diehl & Cook's Brian code) or exponential Euler (``"exponential"``,
        docs/plasticity.md). Under explicit Euler a burst of inhibition (``g_inh`` above ~400
        leak conductances at 0.5 ms, 24 inhibitory spikes at once) exceeds the stability bound
        for a step or two: the membrane overshoots below ``E_inh`` and can bounce above threshold
        (with 400 neurons this set off spike storms that silenced the network). Such presentations
        are not stopped but counted (``RESULTS.unstable_step``), and one whose state stopped being
        finite is discarded. Exponential Euler relaxes the membrane towards its momentary
        equilibrium exactly, stable for any ``g_inh``, and reports no unstable step.
    """
    config = model.config
    network = model.network(learning=True)
    n = config.n_neurons
    first_cap, last_cap = _spike_cap(config, 1.0), _spike_cap(config, _brightest(config))
    # The rest after a presentation, in closed form: the thresholds decay; the rest of the
    # neurons' and the rule's state is back at rest, or (carry_rest) keeps what the rest leaves.
    rest_decay = jnp.exp(-config.t_rest / model.neuron.excitatory.tau_theta)
    at_rest = _rested(model, None)

    def one_image(carry, inputs):
        array_state, theta, rested = carry
        image, image_key = inputs

        def present(loop):
            array_state, theta, rested, _, shown, _ = loop
            v, traces = rested
            # Nothing is in flight at the start of a presentation (the rest is longer than any delay).
            array_state = model.array.rested(array_state)
            array_state = _normalised(model, array_state, jax.random.fold_in(image_key, 1000 + shown))
            neuron = model.neuron.init_state(n)
            neuron = neuron._replace(excitatory=neuron.excitatory._replace(theta=theta, v=v))
            state = (LayerState(array_state, None, neuron, traces, None),)
            state = jax.tree.map(lambda x: x[None], state)
            draw_key = jax.random.fold_in(image_key, shown)
            # Retries are brighter: they draw more spikes per pixel (a cond, not a vmap: one image).
            spikes = jax.lax.cond(shown == 0,
                                  lambda: _poisson(draw_key, image[None], jnp.ones((1,)), config, first_cap),
                                  lambda: _poisson(draw_key, image[None], (1 + shown / 2.0)[None], config, last_cap))
            # A stochastic array (write noise of a crossbar) draws its noise from the image's key.
            noise = jax.random.fold_in(draw_key, 1) if network.stochastic else None
            trace = simulate(network, Impulses(spikes), dt=config.dt, n_steps=config.n_steps, initial_state=state,
                             record="spikes", unroll=config.unroll, throw=False, key=noise,
                             solver=_INTEGRATORS[config.integrator])
            final = jax.tree.map(lambda x: x[0], trace.final_state[0])
            counts = jnp.sum(trace.spikes[0][0], axis=0)
            theta = final.neuron.excitatory.theta * rest_decay
            return final.array, theta, _rested(model, final), counts, shown + 1, trace.result[0]

        def again(loop):
            counts, shown = loop[3], loop[4]
            return (shown == 0) | ((jnp.sum(counts) < config.min_spikes) & (shown < config.max_presentations))

        start = (array_state, theta, rested, jnp.zeros((n,)), jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))
        new_array, new_theta, new_rested, counts, shown, result = jax.lax.while_loop(again, present, start)
        # A presentation whose state stopped being finite is dropped (reported in ``result``), so
        # that one bad image cannot poison the learned weights.
        finite = result != RESULTS.nonfinite_state
        keep = lambda new, old: jnp.where(finite, new, old)  # noqa: E731
        array_state, rested = jax.tree.map(keep, (new_array, new_rested), (array_state, rested))
        theta = jnp.where(finite, new_theta, theta)
        return (array_state, theta, rested), (counts, shown, result)

    keys = jax.random.split(key, images.shape[0])
    # Each call starts at rest (with carry_rest, what the rest carries is not kept between calls).
    (array_state, theta, _), (counts, shown, result) = jax.lax.scan(one_image, (model.array_state, model.theta,
                                                                                at_rest), (images, keys))
    model = eqx.tree_at(lambda m: (m.array_state, m.theta), model, (array_state, theta))
    return model, counts, shown, result


def responses(model: DiehlCookNet, images: Float[Array, "B n_inputs"], keys: PRNGKeyArray, *,
              retry_batch: int | None = None) -> Float[Array, "B n"]:
    """Excitatory spike counts ``(B, n_neurons)`` with learning and adaptation off (the learned
    thresholds ``model.theta`` fixed), of the last presentation of each image.

    The images are independent network instances (nothing is learned), simulated as one batch by
    the same :func:`memsnn.simulate` (one time loop, the batch vectorised). An image that gives
    fewer than ``min_spikes`` spikes is shown again, brighter, as in training; only those images
    are simulated again, gathered into batches of ``retry_batch`` (default ``ceil(B / 4)``).

    Args:
        model: the learned network.
        images: ``(B, n_inputs)`` intensities in [0, 1].
        keys: ``(B,)`` one PRNG key per image: image ``i``'s spike trains depend on ``keys[i]`` and
            the image only, so its counts are the same in any batch (``keys[i:i + 1]`` alone).
        retry_batch: images per batch of re-presentations.
    """
    config = model.config
    network = model.network(learning=False)
    batch = images.shape[0]
    if keys.shape != (batch,):
        raise ValueError(f"responses: keys must hold one PRNG key per image, shape ({batch},), got {keys.shape} "
                         "(jax.random.split(key, len(images))).")
    retry = max(1, -(-batch // 4)) if retry_batch is None else min(int(retry_batch), batch)
    if retry < 1:
        raise ValueError(f"responses: retry_batch must be a positive integer, got {retry_batch!r}.")
    # Every instance starts at rest with the learned thresholds.
    neuron = model.neuron.init_state(config.n_neurons)
    neuron = neuron._replace(excitatory=neuron.excitatory._replace(theta=model.theta))
    one = (network.init_state()[0]._replace(neuron=neuron),)
    caps = [_spike_cap(config, 1.0 + k / 2.0) for k in range(config.max_presentations)]

    def present(imgs, image_keys, shown):
        """Counts ``(b, n)`` of presentation number ``shown`` (a scalar, the same for all)."""
        b = imgs.shape[0]
        state = jax.tree.map(lambda x: jnp.broadcast_to(x, (b,) + x.shape), one)
        draw_keys = jax.vmap(lambda k: jax.random.fold_in(k, shown))(image_keys)
        scale = jnp.ones((1,)) * (1 + shown / 2.0)

        def draw(cap):
            # One image at a time (vmapped): the draw does not depend on the batch.
            return jax.vmap(lambda k, im: _poisson(k, im[None], scale, config, cap)[0])(draw_keys, imgs)

        # As many spikes per pixel as presentation ``shown`` needs (static shapes).
        spikes = jax.lax.switch(shown, [lambda cap=cap: draw(cap) for cap in caps])
        # throw=False: see learn_images on Euler's stability bound during bursts of inhibition.
        trace = simulate(network, Impulses(spikes), dt=config.dt, n_steps=config.n_steps, record="spikes",
                         unroll=config.unroll, throw=False, initial_state=state,
                         solver=_INTEGRATORS[config.integrator])
        return jnp.sum(trace.spikes[0], axis=1)

    def needs(counts):
        return jnp.sum(counts, axis=1) < config.min_spikes

    def again(loop):
        counts, shown = loop
        return (shown < config.max_presentations) & jnp.any(needs(counts))

    def show_again(loop):
        # Every image that still needs a presentation has had ``shown`` of them.
        counts, shown = loop
        need = needs(counts)
        order = jnp.nonzero(need, size=batch + retry, fill_value=batch)[0]  # those images first
        n_need = jnp.sum(need)

        def chunk(inner):
            counts, start = inner
            idx = jax.lax.dynamic_slice(order, (start,), (retry,))
            safe = jnp.minimum(idx, batch - 1)
            new = present(images[safe], keys[safe], shown)
            return counts.at[idx].set(new, mode="drop"), start + retry

        counts, _ = jax.lax.while_loop(lambda inner: inner[1] < n_need, chunk, (counts, jnp.zeros((), jnp.int32)))
        return counts, shown + 1

    counts = present(images, keys, jnp.zeros((), jnp.int32))
    counts, _ = jax.lax.while_loop(again, show_again, (counts, jnp.ones((), jnp.int32)))
    return counts


def label_from(rates: Float[Array, "n_classes n"]) -> Int[Array, " n"]:
    """Each neuron's class: the one with its highest mean response ``rates[c, i]`` (spikes per
    image); -1 (no class) for a neuron that responded to no class, as in Diehl & Cook's
    evaluation script (``assignments`` start at -1 and take a class only for a rate above 0), so
    that silent neurons do not dilute class 0's mean in :func:`classify`."""
    return jnp.where(jnp.max(rates, axis=0) > 0, jnp.argmax(rates, axis=0), -1).astype(jnp.int32)


def classify(assignments: Int[Array, " n"], counts: Float[Array, "B n"], n_classes: int) -> Int[Array, " B"]:
    """Diehl & Cook's vote: the class whose labelled neurons fire most on average (``counts``:
    spikes per neuron of each image; neurons labelled -1 take no part)."""
    members = jax.nn.one_hot(assignments, n_classes)  # (n, C)
    size = jnp.sum(members, axis=0)
    mean = (counts @ members) / jnp.maximum(size, 1.0)
    return jnp.argmax(jnp.where(size > 0, mean, -1.0), axis=1).astype(jnp.int32)


def assign_labels(model: DiehlCookNet, images, labels, *, batch_size: int = 250, key=None) -> DiehlCookNet:
    """Label every neuron with the class it responds to most over ``(images, labels)`` (frozen).

    Image ``i`` is shown with the key ``fold_in(key, i)`` (:func:`image_keys`): the labels do not
    depend on ``batch_size``.
    """
    import numpy as np
    key = jax.random.key(1) if key is None else key
    run = eqx.filter_jit(responses)
    sums = np.zeros((model.config.n_classes, model.config.n_neurons))
    seen = np.zeros((model.config.n_classes,))
    for start in range(0, len(labels), batch_size):
        idx = np.arange(start, start + batch_size) % len(labels)
        counts = np.asarray(run(model, jnp.asarray(images[idx]), image_keys(key, idx)))
        stop = min(start + batch_size, len(labels)) - start
        np.add.at(sums, labels[idx][:stop], counts[:stop])
        np.add.at(seen, labels[idx][:stop], 1.0)
    rates = sums / np.maximum(seen, 1.0)[:, None]
    return eqx.tree_at(lambda m: m.assignments, model, label_from(jnp.asarray(rates)))


def stdp_predict(model: DiehlCookNet, images, *, key, throw: bool = True):
    """Predicted classes ``(B,)`` of ``images`` ``(B, n_inputs)`` (learning off).

    ``key``: ``(B,)`` keys, one per image (:func:`image_keys` of the images' indices in the data
    set, as :func:`~memsnn.training.evaluate` passes them), or one key: image ``i`` of ``images``
    then gets ``fold_in(key, i)``. Either way an image's prediction depends on its key only, not on
    the batch it is in.

    ``throw`` has no effect: the network's runs tolerate Euler's stability bound during bursts of
    inhibition by design (see :func:`learn_images`), so no failure is raised or reported.
    """
    keys = image_keys(key, jnp.arange(images.shape[0])) if key.shape == () else key
    return classify(model.assignments, responses(model, images, keys), model.config.n_classes)


# --------------------------------------------------------------------------------------------
# The learner and the method `memsnn train --method stdp` (listed in memsnn.training.methods.METHODS)
# --------------------------------------------------------------------------------------------


class StdpLearner(AbstractLearner):
    """Diehl & Cook's learning as an :class:`~memsnn.training.AbstractLearner` for :func:`~memsnn.training.fit`.

    A training batch of ``B`` images is ``B`` presentations in order inside one jitted step
    (:func:`learn_images`), so the progress bar, checkpoints (model and label statistics, at the
    end of every epoch) and resume of the shared loop apply unchanged. Each neuron is labelled,
    after every batch, with the class of its highest mean response over the recent training
    images (``rates``, decayed by ``config.assignment_decay`` per image). The metric ``acc`` is
    Diehl & Cook's running training accuracy: each image classified, before it is learned, by the
    labels of the previous batch.

    The state is ``{"rates": (n_classes, n), "seen": (n_classes,)}``: decayed sums of the spike
    counts and of the images per class.
    """

    def init(self, model: DiehlCookNet):
        config = model.config
        return {"rates": jnp.zeros((config.n_classes, config.n_neurons)), "seen": jnp.zeros((config.n_classes,))}

    def updated(self, model: DiehlCookNet):
        spec = jax.tree.map(lambda _: False, model)
        return eqx.tree_at(lambda m: (m.array_state, m.theta, m.assignments), spec,
                           replace=(jax.tree.map(lambda _: True, model.array_state), True, True))

    def step(self, model, state, images, labels, key, *, throw=True):
        # throw has no effect: unstable presentations are counted in the metric "unstable".
        config = model.config
        # The labels before this batch classify its images (from the responses they caused).
        assignments = model.assignments
        model, counts, shown, result = learn_images(model, images, key)
        predictions = classify(assignments, counts, config.n_classes)
        decay = (1.0 - config.assignment_decay) ** images.shape[0]
        onehot = jax.nn.one_hot(labels, config.n_classes, dtype=counts.dtype)
        rates = state["rates"] * decay + onehot.T @ counts
        seen = state["seen"] * decay + jnp.sum(onehot, axis=0)
        model = eqx.tree_at(lambda m: m.assignments, model, label_from(rates / jnp.maximum(seen, 1.0)[:, None]))
        metrics = {"acc": jnp.mean(predictions == labels), "spikes": jnp.mean(jnp.sum(counts, axis=1)),
                   "presentations": jnp.mean(shown.astype(counts.dtype)),
                   "unstable": jnp.mean((result > 0).astype(counts.dtype))}
        return model, {"rates": rates, "seen": seen}, metrics

    def evaluate(self, model, images, key, *, throw=True):
        return stdp_predict(model, images, key=key, throw=throw)

    def predictor(self):
        # Keyed per image: the test accuracy does not depend on the evaluation batch size.
        return Predict(self.evaluate, per_image_keys=True)


def _stdp_loss(model, images, labels, *, key, throw=True):
    raise ValueError("stdp: Diehl & Cook's network learns without a loss; train it with StdpLearner "
                     "(memsnn train --method stdp does).")


def _arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--neurons", type=cli_type(int, low=1, integer=True), metavar="N",
                       help="excitatory neurons (default 100; the paper: 100, 400, 1600, 6400)")
    add_crossbar_argument(group, "the input synapses", training="learn on them with the rule")
    add_old_crossbar_aliases(group)
    group.add_argument("--t-image", type=cli_type(float, low=0, low_open=True), metavar="S",
                       help="presentation time per image in s (default 0.35)")
    group.add_argument("--dt", type=cli_type(float, low=0, low_open=True), metavar="S",
                       help="time step in s (default 0.5e-3)")
    group.add_argument("--clamp-refractory", action=argparse.BooleanOptionalAction, default=None,
                       help="hold the excitatory membranes at the reset during the refractory period (default "
                            "yes); --no-clamp-refractory: they integrate on and only spikes are blocked, as in "
                            "Diehl & Cook's Brian 1 code")
    group.add_argument("--input-delay", type=cli_type(float, low=0), metavar="S",
                       help="input connections delayed by uniform [0, S) s each (Diehl & Cook's code: 0.01); "
                            "default 0, no delays")
    group.add_argument("--carry-rest", action=argparse.BooleanOptionalAction, default=None,
                       help="start each presentation with what the 150 ms rest leaves of the membranes and traces "
                            "(Diehl & Cook's simulated rest; default: at rest)")
    group.add_argument("--integrator", choices=sorted(_INTEGRATORS),
                       help="euler (explicit, as Diehl & Cook's code; unstable in bursts of inhibition) or "
                            "exponential (exact on the membrane's decay); default " + StdpConfig.integrator)


def _config_from_args(args: argparse.Namespace) -> dict:
    given = {"n_neurons": getattr(args, "neurons", None), "t_image": getattr(args, "t_image", None),
             "dt": getattr(args, "dt", None), "integrator": getattr(args, "integrator", None),
             "clamp_refractory": getattr(args, "clamp_refractory", None),
             "input_delay": getattr(args, "input_delay", None), "carry_rest": getattr(args, "carry_rest", None)}
    return {**{k: v for k, v in given.items() if v is not None}, **crossbar_from_args(args, "stdp")}


STDP = Method(
    name="stdp",
    summary="unsupervised STDP learning inside the simulated circuit (Diehl & Cook 2015), labels by response",
    model_config=lambda overrides: StdpConfig.from_dict(overrides).to_dict(),
    build=build_stdp,
    loss=_stdp_loss,
    predict=Predict(stdp_predict, per_image_keys=True),
    trainable=lambda model: StdpLearner().updated(model),
    add_arguments=_arguments,
    config_from_args=_config_from_args,
    # One pass over the training set (the paper's protocol for 100 and 400 neurons); lr, schedule,
    # weight_decay and clip_norm are not used. An epoch of 60,000 images takes half an hour and
    # more: the run is saved every 5,000 images too (--save-every).
    defaults={"epochs": 1, "batch_size": 50, "lr": 1e-3, "schedule": "constant", "weight_decay": 0.0,
              "clip_norm": None, "eval_batch_size": 50, "save_every": 5000},
    learner=lambda model, config: StdpLearner(),
    # Learning is one image after another: one CPU device and one XLA thread (docs/plasticity.md,
    # "Speed on a CPU").
    cpu_cores=1,
)
