"""SpikeProp (Bohte, Kok & La Poutré 2002): error backpropagation on output spike times.

The network of the paper: layers of spike-response neurons whose connections each consist of
``k`` delayed terminals (sub-synapses with delays ``d_1..d_k`` and weights of their own). A
neuron's potential is::

    v_j(t) = sum_i sum_k w_ijk eps(t - t_i - d_k),       eps(s) = s / tau exp(1 - s / tau)  (s > 0)

and it fires when ``v_j`` reaches ``theta``; only the first spike of each neuron is used. The error
is ``E = 1/2 sum_outputs (t_out - t_target)^2`` and SpikeProp's weight change is
``-eta dE/dw`` with ``dt_j/dw = -(dv_j/dw) / (dv_j/dt)`` at the spike (the paper's eq. 11-12).

memsnn writes the same thing with its own parts:

* the connections are one :class:`~memsnn.arrays.DelayedDense` per layer with a terminal axis
  (``weight``, ``delay`` ``(n_out, n_in, k)``);
* ``eps`` is the membrane of a :class:`~memsnn.LIF` (``tau``) behind an
  :class:`~memsnn.ExponentialSynapse` with the same ``tau`` and ``R = e`` (two equal first-order
  filters give ``s/tau exp(1 - s/tau)``); after its first spike a neuron is reset far below its
  threshold (``v_reset = -100 theta``) so that it stays silent for the run, as the paper's
  neurons;
* :func:`memsnn.simulate` with ``spike_timing="exact"`` locates each spike inside its step and
  its gradient is the implicit-function derivative above (docs/spike-times.md): the loss's
  gradient *is* SpikeProp's, backpropagated through the hidden spike times by autodiff
  (``tests/test_spikeprop.py`` checks it against finite differences of the simulated spike time).

Learning rules are optax transformations (:func:`spikeprop_optimizer`): plain SpikeProp
(``optax.sgd``), with momentum, RProp (``optax.rprop``), QuickProp (:func:`quickprop`, Fahlman
1988, written here) and SpikePropAD (:func:`spikeprop_ad`, an adaptive learning rate from the
error and the gradient's norm, written here; see its docstring for what it is and is not).

Trainable delays (Schrauwen & Van Campenhout 2004): ``train_delays=True`` makes every terminal's
delay a parameter too, ``delay = max_delay sigmoid(u)`` (a reparametrisation, not a clip), so fewer
terminals can reach the same accuracy.

Neurons that never fire have no spike time and no gradient (their time is the end of the run).
A network whose outputs are silent at the start cannot learn: :func:`check_outputs_fire` says so
with the remedy (a larger ``init_scale``), and the loss adds ``silent_penalty`` times how far each
silent output stayed below threshold (a gradient that raises it until it fires).

It is ``memsnn train --method spikeprop`` (:data:`memsnn.training.METHODS`) for image data sets
(latency-coded pixels); ``benchmarks/spikeprop_xor.py`` and ``benchmarks/spikeprop_uci.py`` run
the paper's XOR, Iris and Wisconsin breast-cancer experiments through :func:`memsnn.training.fit`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..arrays import AbstractProgrammableArray, DelayedDense
from ..crossbar import Crossbar, preset as crossbar_preset
from ..data.encoders import gaussian_receptive_fields, latency_times, spike_time_impulses
from ..integrators import Euler
from ..network import Layer, Network
from ..neurons import LIF
from ..simulate import simulate
from ..synapses import ExponentialSynapse
from ._config import JsonConfig
from ._method import Method, cli_type
from .layout import cast_floats, check_crossbar_preset
from .learner import GradientLearner, failed_where_nonfinite

__all__ = ["SPIKEPROP", "SpikePropConfig", "SpikePropNet", "build_spikeprop", "check_outputs_fire", "quickprop",
           "spikeprop_ad", "spikeprop_learner", "spikeprop_loss", "spikeprop_optimizer", "spikeprop_predict",
           "spikeprop_trainable"]

RULES = ("sgd", "momentum", "rprop", "quickprop", "ad")


@dataclasses.dataclass(frozen=True)
class SpikePropConfig(JsonConfig):
    """A SpikeProp network (stored in checkpoints as JSON).

    Attributes:
        n_inputs: features; each spikes once at ``t_late - x (t_late - t_early)`` (large values
            early; ``x = 0`` spikes at ``t_late``), plus one bias input per entry of ``bias_times``;
            or, with ``receptive_fields``, as a population. A ``NaN`` feature is a missing value:
            it sends no spike (none of its fields spikes), the rest of the sample is coded as usual.
        receptive_fields: ``m > 0``: each feature is coded by ``m`` Gaussian receptive fields
            (:func:`~memsnn.data.gaussian_receptive_fields`, the paper's population code), field
            response ``r`` spiking at ``t_late - r (t_late - t_early)``: ``n_inputs m`` input
            neurons. 0: one latency spike per feature.
        field_threshold: with ``receptive_fields``: fields whose response is at or below this do
            not spike.
        hidden: hidden layer sizes (XOR: ``(5,)``).
        n_classes: classes; ``single_output=True`` with two classes: one output neuron, class 1 =
            early (the paper's XOR), else one output neuron per class (the label's early, the
            others late; predicted: the first to fire).
        terminals: ``k`` delayed terminals per connection.
        delay_min, delay_max: the terminals' delays, evenly spaced (the paper: 1..16 ms for 16).
        train_delays: also learn each terminal's delay in ``[0, delay_max]`` (``delay_max
            sigmoid(u)``).
        tau: time constant of ``eps`` (s; the paper: 7 ms).
        threshold: ``theta``.
        t_early, t_late: input coding window (s); the paper's XOR: 0 and 6 ms.
        target_early, target_late: output target times (s); the paper's XOR: 10 and 16 ms.
        bias_times: times (s) of the bias inputs.
        dt, n_steps: the grid (the run covers ``n_steps dt``).
        init_scale: initial weights uniform in ``[init_low, 1] * 2 init_scale theta / (n_in k)``
            (``init_low`` < 0 allows inhibitory terminals).
        init_low: see ``init_scale``.
        silent_penalty: weight of ``(theta - max v) / theta`` for outputs that do not fire.
        rule: learning rule, one of :data:`RULES` (see :func:`spikeprop_optimizer`).
        momentum: momentum of ``rule="momentum"``.
        max_step: the largest step of ``rule="rprop"`` (weight units).
        dtype: ``"float32"`` or ``"float64"``.
        crossbar: ``None`` (ideal weights) or a :func:`memsnn.crossbar.preset` name: each layer's
            terminal weights are held by one chip of that preset's devices (a
            :class:`~memsnn.crossbar.ProgrammedCrossbar` of ``n_out`` x ``n_in k`` devices pairs,
            one row per delayed terminal), and every learning step is programmed into them as device
            pulses (:func:`memsnn.training.apply_updates`). The delayed terminals read the weights
            the devices hold (the crossbar's read-time non-idealities, read noise, ADC, wires, are
            not applied by :class:`~memsnn.arrays.DelayedDense`).
        crossbar_w_max: the weight mapped to a device's full conductance range.
    """

    n_inputs: int = 784
    receptive_fields: int = 0
    field_threshold: float = 0.1
    hidden: tuple[int, ...] = (10,)
    n_classes: int = 10
    single_output: bool = False
    terminals: int = 16
    delay_min: float = 1e-3
    delay_max: float = 16e-3
    train_delays: bool = False
    tau: float = 7e-3
    threshold: float = 1.0
    t_early: float = 0.0
    t_late: float = 6e-3
    target_early: float = 10e-3
    target_late: float = 16e-3
    bias_times: tuple[float, ...] = (0.0,)
    dt: float = 0.1e-3
    n_steps: int = 300
    init_scale: float = 2.0
    init_low: float = 0.0
    silent_penalty: float = 1.0
    rule: str = "sgd"
    momentum: float = 0.9
    max_step: float = 50.0
    dtype: str = "float32"
    crossbar: str | None = None
    crossbar_w_max: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "bias_times", tuple(float(b) for b in self.bias_times))
        for name in ("n_inputs", "n_classes", "terminals", "n_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (2 if name == "n_classes" else 1):
                raise ValueError(f"SpikePropConfig: {name} must be a positive integer"
                                 f"{' >= 2' if name == 'n_classes' else ''}, got {value!r}.")
        if isinstance(self.receptive_fields, bool) or not isinstance(self.receptive_fields, int) or not (
                self.receptive_fields == 0 or self.receptive_fields >= 3):
            raise ValueError(f"SpikePropConfig: receptive_fields must be 0 (one latency spike per feature) or an "
                             f"integer >= 3, got {self.receptive_fields!r}.")
        if not 0 <= self.field_threshold < 1:
            raise ValueError(f"SpikePropConfig: field_threshold must lie in [0, 1), got {self.field_threshold!r}.")
        if any(h < 1 for h in self.hidden):
            raise ValueError(f"SpikePropConfig: hidden layer sizes must be >= 1, got {self.hidden}.")
        if self.single_output and self.n_classes != 2:
            raise ValueError(f"SpikePropConfig: single_output needs n_classes=2, got {self.n_classes}.")
        for name in ("tau", "threshold", "dt", "init_scale", "delay_max"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SpikePropConfig: {name} must be > 0, got {getattr(self, name)!r}.")
        if not 0 <= self.delay_min <= self.delay_max:
            raise ValueError(f"SpikePropConfig: need 0 <= delay_min <= delay_max, got {self.delay_min}, "
                             f"{self.delay_max}.")
        if not 0 <= self.t_early < self.t_late:
            raise ValueError(f"SpikePropConfig: need 0 <= t_early < t_late (s), got {self.t_early}, {self.t_late}.")
        run = self.n_steps * self.dt
        if not 0 < self.target_early < self.target_late < run:
            raise ValueError(f"SpikePropConfig: the target times must satisfy 0 < target_early < target_late < the "
                             f"run's end n_steps * dt = {run:g} s, got {self.target_early:g} and "
                             f"{self.target_late:g} s: a target at or beyond the end can never be met (a silent "
                             f"output's time is the end of the run); lengthen the run (n_steps) or move the targets.")
        if any(not 0 <= b < run for b in self.bias_times):
            raise ValueError(f"SpikePropConfig: bias times must lie in [0, {run:g}) s, got {self.bias_times}.")
        if self.delay_max >= run:
            raise ValueError(f"SpikePropConfig: delay_max={self.delay_max:g} s must be shorter than the run "
                             f"({run:g} s).")
        if self.rule not in RULES:
            raise ValueError(f"SpikePropConfig: rule must be one of {RULES}, got {self.rule!r}.")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"SpikePropConfig: dtype must be 'float32' or 'float64', got {self.dtype!r}.")
        if self.crossbar is not None:
            check_crossbar_preset("SpikePropConfig", self.crossbar)
        if not self.crossbar_w_max > 0:
            raise ValueError(f"SpikePropConfig: crossbar_w_max must be > 0, got {self.crossbar_w_max!r}.")

    @property
    def sizes(self) -> tuple[int, ...]:
        outputs = 1 if self.single_output else self.n_classes
        coded = self.n_inputs * (self.receptive_fields or 1)
        return (coded + len(self.bias_times), *self.hidden, outputs)

    def delays(self) -> np.ndarray:
        """The terminals' initial delays ``(k,)`` (s), evenly spaced in ``[delay_min, delay_max]``."""
        return np.linspace(self.delay_min, self.delay_max, self.terminals)


def _logit(p):
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


class SpikePropNet(eqx.Module):
    """Weights (and delay parameters) of a SpikeProp network; the :class:`~memsnn.Network` is built
    from them per call.

    Attributes:
        weights: per layer ``(n_out, n_in, k)`` (units of the threshold per unit of ``eps``), or
            (``config.crossbar``) a :class:`~memsnn.arrays.AbstractProgrammableArray`
            ``(n_out, n_in k)`` holding them (:meth:`terminal_weights`).
        delay_params: per layer ``(n_out, n_in, k)``: the delays ``delay_max sigmoid(u)`` when
            ``train_delays``, else the fixed delays (s) themselves, ``(1, 1, k)`` when every
            connection has the same ones (:func:`build_spikeprop`; any shape that broadcasts to
            the weights' is read as such).
        config: the :class:`SpikePropConfig` (static).
    """

    weights: tuple
    delay_params: tuple
    config: SpikePropConfig = eqx.field(static=True)

    def delays(self) -> tuple:
        c = self.config
        if c.train_delays:
            return tuple(c.delay_max * jax.nn.sigmoid(u) for u in self.delay_params)
        return self.delay_params

    def terminal_weights(self) -> tuple:
        """Per layer the weights ``(n_out, n_in, k)``; of a layer held by devices, those they hold."""
        k = self.config.terminals
        return tuple(w.weights(w.held_state).reshape(w.n_outputs, -1, k) if isinstance(w, AbstractProgrammableArray)
                     else w for w in self.weights)

    def network(self) -> Network:
        c = self.config
        dtype = jnp.dtype(c.dtype)
        neuron = LIF(tau=c.tau, resistance=math.e, threshold=c.threshold, v_reset=-100.0 * c.threshold, reset="zero")
        cast = lambda tree: jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, tree)  # noqa: E731
        layers = [Layer(DelayedDense(w, d, dt=c.dt, max_delay=c.delay_max * (1 + 1e-6)), cast(ExponentialSynapse(c.tau)),
                        cast(neuron)) for w, d in zip(self.terminal_weights(), self.delays())]
        return Network(layers)

    def stimulus(self, features: Float[Array, "batch n_inputs"]):
        c = self.config
        if features.ndim != 2 or features.shape[1] != c.n_inputs:
            raise ValueError(f"SpikePropNet: inputs must be (batch, {c.n_inputs}), got shape {features.shape}.")
        features = features.astype(jnp.dtype(c.dtype))
        # A missing value (NaN) sends no spike: coded as 0, then its inputs' times set to +inf.
        missing = jnp.isnan(features)
        features = jnp.clip(jnp.where(missing, 0.0, features), 0.0, 1.0)
        threshold = None
        if c.receptive_fields:
            features = gaussian_receptive_fields(features, c.receptive_fields).astype(jnp.dtype(c.dtype))
            missing = jnp.repeat(missing, c.receptive_fields, axis=1)
            threshold = c.field_threshold
        times = latency_times(features, t_early=c.t_early, t_late=c.t_late, larger_earlier=True,
                              threshold=threshold, bias_times=c.bias_times)
        silent = jnp.pad(missing, ((0, 0), (0, times.shape[1] - missing.shape[1])))  # bias inputs always spike
        return spike_time_impulses(jnp.where(silent, jnp.inf, times), dt=c.dt, n_steps=c.n_steps)

    def run(self, features, *, throw: bool = True):
        """``(first spike times of every layer (tuple of (B, n)), max v of the outputs / theta - 1)``;
        a silent neuron's time is the end of the run; failed samples NaN (``throw=False``)."""
        c = self.config
        trace = simulate(self.network(), self.stimulus(features), dt=c.dt, n_steps=c.n_steps, solver=Euler(),
                         spike_timing="exact", record=("spike_times", "membrane_potential"), throw=throw)
        times = tuple(trace.failed_as_nan(trace.first_spike_times(i)) for i in range(len(self.weights)))
        peak = trace.failed_as_nan(jnp.max(trace.membrane_potential[-1], axis=1)) / c.threshold - 1.0
        return times, peak


def build_spikeprop(config: SpikePropConfig | dict, *, key: PRNGKeyArray) -> SpikePropNet:
    """A fresh network: weights uniform in ``[init_low, 1] 2 init_scale theta / (n_in k)``, the
    terminals' delays evenly spaced in ``[delay_min, delay_max]``; with ``crossbar``, the weights
    programmed into one chip per layer."""
    c = config if isinstance(config, SpikePropConfig) else SpikePropConfig.from_dict(config)
    dtype = jnp.dtype(c.dtype)
    sizes = c.sizes
    keys = jax.random.split(key, len(sizes) - 1)
    weights, delays = [], []
    for n_in, n_out, k in zip(sizes[:-1], sizes[1:], keys):
        scale = 2.0 * c.init_scale * c.threshold / (n_in * c.terminals)
        weights.append((scale * jax.random.uniform(k, (n_out, n_in, c.terminals), minval=c.init_low)).astype(dtype))
        # Fixed delays are shared by every connection: kept (1, 1, k), the delay line is read once per
        # input and terminal instead of once per connection (n_out times less work per step).
        d = np.broadcast_to(c.delays(), (n_out, n_in, c.terminals)) if c.train_delays else c.delays()[None, None]
        delays.append(jnp.asarray(_logit(d / c.delay_max) if c.train_delays else d, dtype))
    if c.crossbar is not None:
        # One chip per layer, programmed with the same initial weights (its programming noise from key).
        pieces = crossbar_preset(c.crossbar, w_max=c.crossbar_w_max)._asdict()
        weights = [cast_floats(Crossbar(w.reshape(w.shape[0], -1), **pieces).programmed(key=jax.random.fold_in(k, 1)),
                               dtype) for w, k in zip(weights, keys)]
    return SpikePropNet(tuple(weights), tuple(delays), c)


def _targets(c: SpikePropConfig, labels, dtype):
    labels = labels.astype(jnp.int32)
    if c.single_output:
        return jnp.where(labels == 1, c.target_early, c.target_late)[:, None].astype(dtype)
    onehot = jax.nn.one_hot(labels, c.n_classes, dtype=dtype)
    return onehot * c.target_early + (1 - onehot) * c.target_late


def _predict(c: SpikePropConfig, t_out):
    if c.single_output:
        return (t_out[:, 0] < 0.5 * (c.target_early + c.target_late)).astype(jnp.int32)
    return jnp.argmin(t_out, axis=-1).astype(jnp.int32)


def spikeprop_loss(model: SpikePropNet, features, labels, *, key=None, throw: bool = True):
    """``(loss, predictions)``: the batch mean of ``E = 1/2 sum_outputs ((t_out - t_target) / 1 ms)^2``
    (ms^2), plus ``silent_penalty`` times ``(theta - max v) / theta`` of each silent output."""
    c = model.config
    times, peak = model.run(features, throw=throw)
    t_out = times[-1]
    target = _targets(c, labels, t_out.dtype)
    error = 0.5 * jnp.sum(((t_out - target) / 1e-3) ** 2, axis=-1)
    silent = c.silent_penalty * jnp.sum(jnp.maximum(-peak, 0.0), axis=-1)
    return jnp.mean(error + silent), failed_where_nonfinite(_predict(c, t_out), t_out)


def spikeprop_predict(model: SpikePropNet, features, *, key=None, throw: bool = True) -> Int[Array, " batch"]:
    """The class of the output spike times (the first output to fire; one output: early = 1)."""
    times, _ = model.run(features, throw=throw)
    return failed_where_nonfinite(_predict(model.config, times[-1]), times[-1])


def spikeprop_trainable(model: SpikePropNet):
    """Filter spec: the weights, and the delay parameters with ``train_delays``."""
    spec = jax.tree.map(lambda _: False, model)
    spec = eqx.tree_at(lambda m: m.weights, spec, replace=tuple(True for _ in model.weights))
    if model.config.train_delays:
        spec = eqx.tree_at(lambda m: m.delay_params, spec, replace=tuple(True for _ in model.delay_params))
    return spec


def check_outputs_fire(model: SpikePropNet, features, *, fraction: float = 0.5) -> None:
    """Raise if the output neurons are silent for more than ``fraction`` of ``features`` (``(B, F)``).

    Raises:
        ValueError: naming the silent outputs and the remedy: SpikeProp has no gradient for a
            neuron that does not fire.
    """
    c = model.config
    times, _ = model.run(jnp.asarray(features))
    end = c.n_steps * c.dt
    silent = np.asarray(times[-1] >= end - 0.5 * c.dt).mean(axis=0)
    bad = [int(i) for i in np.flatnonzero(silent > fraction)]
    if bad:
        hidden = [f"{float(np.asarray(t >= end - 0.5 * c.dt).mean()):.0%}" for t in times[:-1]]
        raise ValueError(f"SpikeProp: output neuron(s) {bad} never fire for more than {fraction:.0%} of the "
                         f"{len(features)} samples (silent fraction of hidden neurons per layer: {hidden}). A "
                         f"neuron that does not fire has no spike time and no gradient, so SpikeProp cannot "
                         f"train it. Remedy: a larger init_scale (now {c.init_scale}), fewer inhibitory "
                         f"terminals (init_low >= 0), a longer run (n_steps), or a larger silent_penalty "
                         f"(now {c.silent_penalty}), which pushes silent outputs towards the threshold.")


# --------------------------------------------------------------------------------------------
# Learning rules as optax transformations
# --------------------------------------------------------------------------------------------


class QuickPropState(NamedTuple):
    previous_grad: optax.Updates
    previous_step: optax.Updates


def quickprop(learning_rate: float, *, max_growth: float = 1.75, add_gradient: bool = True
              ) -> optax.GradientTransformation:
    """QuickProp (Fahlman 1988) as an optax transformation.

    Each parameter's step fits a parabola through the last two gradients:
    ``step = g / (g_prev - g) * step_prev``, bounded by ``max_growth |step_prev|`` (mu); where the
    previous step was zero (the first step, or the parabola is not usable) it takes the gradient
    step ``-learning_rate g``. The result is the update (to add to the parameters).
    """

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return QuickPropState(zeros, zeros)

    def update(grads, state, params=None):
        def one(g, g_prev, step_prev):
            denom = g_prev - g
            # The parabola's minimum; a flat difference (no curvature seen) grows the step by max_growth.
            ratio = jnp.where(denom != 0, g / jnp.where(denom == 0, 1.0, denom), max_growth)
            bound = max_growth * jnp.abs(step_prev)
            quad = jnp.clip(ratio * step_prev, -bound, bound)
            # While the slope keeps its sign, Fahlman adds the gradient term.
            if add_gradient:
                quad = quad + jnp.where(g * g_prev > 0, -learning_rate * g, 0.0)
            return jnp.where(step_prev == 0, -learning_rate * g, quad)

        steps = jax.tree.map(one, grads, state.previous_grad, state.previous_step)
        return steps, QuickPropState(grads, steps)

    return optax.GradientTransformation(init, update)


def spikeprop_ad(mu: float | optax.Schedule = 0.5, *, eps: float = 1e-6, max_learning_rate: float = 1.0
                 ) -> optax.GradientTransformationExtraArgs:
    """An adaptive learning rate for SpikeProp from the error and the gradient (an optax transform).

    Shrestha & Song (2015, "Adaptive learning rate of SpikeProp based on weight convergence
    analysis", SpikePropAD) bound the learning rate so that a step cannot overshoot the error:
    for a squared error ``E``, a step ``-eta g`` lowers ``E`` to first order by ``eta |g|^2``, so
    ``eta = mu E / |g|^2`` (``0 < mu < 2``) is the largest rate that does not overshoot. This is
    that rate, per step, for the whole parameter set (the paper's is per neuron), capped at
    ``max_learning_rate``: the Polyak step of the squared error with minimum 0. Needs the loss:
    ``update(grads, state, params, value=loss)`` (:class:`~memsnn.training.GradientLearner` passes
    it).

    ``mu`` may be an optax schedule of the step count (e.g. ``optax.cosine_decay_schedule``): a
    classification error whose minimum is well above 0 (target times no weight reaches) keeps the
    Polyak step large, and the accuracy hops from epoch to epoch; a decaying ``mu`` settles it.
    """
    scheduled = callable(mu)  # a constant mu keeps the empty state (checkpoints written before stay loadable)

    def init(params):
        return optax.ScaleByScheduleState(count=jnp.zeros([], jnp.int32)) if scheduled else optax.EmptyState()

    def update(grads, state, params=None, *, value=None, **extra):
        if value is None:
            raise ValueError("spikeprop_ad: the update needs the loss value (update(..., value=loss)).")
        norm2 = sum(jnp.sum(g ** 2) for g in jax.tree.leaves(grads))
        rate = jnp.minimum((mu(state.count) if scheduled else mu) * value / (norm2 + eps), max_learning_rate)
        if scheduled:
            state = optax.ScaleByScheduleState(count=optax.safe_increment(state.count))
        return jax.tree.map(lambda g: -rate * g, grads), state

    return optax.GradientTransformationExtraArgs(init, update)


def spikeprop_optimizer(rule: str, learning_rate: float, *, momentum: float = 0.9, max_step: float = 50.0):
    """The optax transformation of a SpikeProp learning rule.

    * ``"sgd"``: SpikeProp, ``dw = -eta dE/dw``;
    * ``"momentum"``: with momentum (``optax.sgd(eta, momentum)``);
    * ``"rprop"``: RProp (``optax.rprop(eta)``, Riedmiller & Braun 1993): per-parameter steps
      from the sign of the gradient, at most ``max_step`` (optax's default 50; on XOR a cap of 0.01
      converged less often, benchmarks/spikeprop_xor.py);
    * ``"quickprop"``: :func:`quickprop`;
    * ``"ad"``: :func:`spikeprop_ad` (``learning_rate`` is its ``mu``).
    """
    if rule == "sgd":
        return optax.sgd(learning_rate)
    if rule == "momentum":
        return optax.sgd(learning_rate, momentum=momentum)
    if rule == "rprop":
        return optax.rprop(learning_rate, max_step_size=max_step)
    if rule == "quickprop":
        return quickprop(learning_rate)
    if rule == "ad":
        return spikeprop_ad(learning_rate)
    raise ValueError(f"spikeprop_optimizer: rule must be one of {RULES}, got {rule!r}.")


def spikeprop_learner(model: SpikePropNet, config: dict) -> GradientLearner:
    """A :class:`~memsnn.training.GradientLearner` with the config's rule at the run's ``lr``."""
    c = model.config
    return GradientLearner(spikeprop_loss, spikeprop_predict,
                           spikeprop_optimizer(c.rule, config["optimizer"]["lr"], momentum=c.momentum,
                                               max_step=c.max_step),
                           spikeprop_trainable(model))


def _arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--hidden", type=cli_type(int, low=1, integer=True), nargs="+", metavar="N",
                       help="hidden layer sizes (default 10)")
    group.add_argument("--terminals", type=cli_type(int, low=1, integer=True), metavar="K",
                       help="delayed terminals per connection (default 16)")
    group.add_argument("--train-delays", action="store_true", default=None, help="also learn the delays")
    group.add_argument("--rule", choices=RULES, help="learning rule (default sgd: plain SpikeProp)")


def _config_from_args(args: argparse.Namespace) -> dict:
    given = {"hidden": getattr(args, "hidden", None), "terminals": getattr(args, "terminals", None),
             "train_delays": getattr(args, "train_delays", None), "rule": getattr(args, "rule", None)}
    return {k: v for k, v in given.items() if v is not None}


SPIKEPROP = Method(
    name="spikeprop",
    summary="SpikeProp (Bohte et al. 2002): delayed terminals, exact output spike times, optax rules",
    model_config=lambda overrides: SpikePropConfig.from_dict(overrides).to_dict(),
    build=build_spikeprop,
    loss=spikeprop_loss,
    predict=spikeprop_predict,
    trainable=spikeprop_trainable,
    add_arguments=_arguments,
    config_from_args=_config_from_args,
    defaults={"epochs": 5, "batch_size": 50, "lr": 1e-3, "schedule": "constant", "weight_decay": 0.0,
              "clip_norm": None, "eval_batch_size": 200},
    learner=spikeprop_learner,
    spike_timing="exact",
)
