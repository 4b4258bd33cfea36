"""Time-to-first-spike (TTFS) training on exact spike times (docs/spike-times.md).

Inputs are latency codes at continuous times (:func:`memsnn.data.latency_times`): a 2-D point's
coordinates ``(x, y, 1 - x, 1 - y)`` (Yin-Yang) spike at ``t_early + v (t_late - t_early)``, image
pixels at ``t_late - v (t_late - t_early)`` (bright first, black silent), plus bias inputs at fixed
times. The network is a stack of dense layers of LIF neurons behind exponential current synapses
(``neuron="lif"``), or of SPICEprop MIF neurons behind alpha synapses (``neuron="mif"``; the spike
is the membrane's upward crossing of 30 mV), simulated with ``spike_timing="exact"``: gradients
flow through the first spike times of every layer (the crossing located inside its step, the sent
impulses corrected for it).

The class is the output neuron that fires first. A neuron that does not fire has no spike time to
differentiate, so the loss sees every silent neuron's time continued past the end ``T`` of the run
by its distance to the threshold, ``t = T + silent_slope tau (1 - max_t v / theta)`` (the same
times decide the class). Two losses (``loss``):

* ``"mse"`` (the default for point inputs, as jaxsnn's Yin-Yang examples): squared distance of the first spike
  times to target times, ``sum_k ((min(t_k, 2 tau_mem) - t*_k) / tau_mem)^2`` with
  ``t*_label = 1.0 tau``, ``t*_other = 1.2 tau`` for LIF (``target_times``; jaxsnn's 0.9 / 1.1 for
  MIF): every output neuron is kept firing, near its target;
* ``"ce"`` (the default for image inputs; Göltz et al. 2021, Wunderlich & Pehle 2021): cross-entropy
  ``CE(softmax(-t / (xi tau)), label)``, plus the optional regularisers
  ``alpha (exp(t_label / (beta tau)) - 1)`` (the right neuron early) and
  ``gamma max(0, 1 - max_t v_label / theta)`` (a silent label neuron towards its threshold) and
  ``gamma_hidden mean_j max(0, 1 - max_t v_j / theta)`` over the hidden neurons ``j`` that did not
  fire (a silent hidden neuron has no spike time, so no gradient reaches it otherwise).

``tau`` is the synaptic time constant. Without the continued times (``silent_slope=0``), the
cross-entropy drives the wrong-class neurons later until they fall silent, where they get no
gradient when they are the label of other samples, and training collapses (Yin-Yang: 75 % after
one epoch, 45 % after three; docs/spike-times.md).

It is ``memsnn train --method ttfs`` (:data:`memsnn.training.METHODS`)::

    memsnn train --method ttfs --dataset yinyang            # 4+1 -> 120 -> 3 LIF
    memsnn train --method ttfs --dataset yinyang --neuron mif
    memsnn train --method ttfs --dataset mnist --data full --inputs images --hidden 350 --lr 3e-3
"""

from __future__ import annotations

import argparse
import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..arrays import Dense
from ..data.encoders import latency_times, spike_time_impulses
from ..integrators import Euler
from ..network import Layer, Network
from ..neurons import LIF
from ..presets import MILLIAMP, SPICEPROP_DT, spiceprop_mif
from ..simulate import simulate
from ..synapses import AlphaSynapse, ExponentialSynapse
from ._config import JsonConfig
from ._method import Method, cli_type
from .learner import failed_where_nonfinite

__all__ = ["TTFSConfig", "TTFSNet", "TTFS", "build_ttfs", "ttfs_loss", "ttfs_predict", "ttfs_trainable"]

NEURONS = ("lif", "mif")
_MIF_UNIT = 0.01 * MILLIAMP  # a MIF weight of 1 is 10 uA
_MIF_BOUND = 4.0  # |weight| < 40 uA per synapse
INPUTS = ("points", "images")
LOSSES = ("mse", "ce")
# LIF weights for latency-coded images: with the points' scales every hidden neuron fires within 1.6 ms
# of the first bright pixels (the sum over ~150 of them), the same for every image.
IMAGE_INIT_MEAN, IMAGE_INIT_STD = (1.0, 5.5), (3.6, 8.8)


@dataclasses.dataclass(frozen=True)
class TTFSConfig(JsonConfig):
    """Everything that defines a TTFS network (stored in checkpoints as JSON).

    Attributes:
        inputs: ``"points"`` (Yin-Yang: 4 coordinates, ``larger_earlier=False``) or ``"images"``
            (784 pixels, bright first, pixels <= ``pixel_threshold`` silent).
        n_inputs, n_classes: features and classes (defaults: 4 and 3, Yin-Yang; 784 and 10 for
            ``inputs="images"``: set them).
        hidden: hidden layer sizes.
        neuron: ``"lif"`` or ``"mif"``.
        tau_mem, tau_syn: LIF membrane and synaptic time constants (s); for MIF, ``tau_syn`` is the
            alpha synapse's (1 ms, the SPICEprop preset).
        threshold: LIF firing threshold (a.u.; ``R = 1``).
        v_reset: LIF reset potential after a spike (a.u.); the default ``-1000`` makes every neuron
            fire at most once per sample, as the TTFS derivations (and jaxsnn) assume; ``0`` for
            ``inputs="images"`` (neurons fire again; with ``gamma_hidden = 1``: MNIST validation
            87.6 % after one epoch of 10,000 images against 84.3 % for fire-once neurons without it,
            docs/spike-times.md).
        dt, n_steps: the grid (LIF default 0.5 ms x 40 = 20 ms = 4 tau_syn; MIF 10 us x 400 = 4 ms).
            The spike times are located inside the steps, so a coarse grid costs little accuracy
            (Yin-Yang, 20 epochs: 93.5 % validation at 0.25 ms, 92.6 % at 0.5 ms, cross-entropy).
        substeps: explicit Euler steps per grid step (LIF 1; MIF 2, stable while the memristors
            switch on above ~60 mV).
        t_early, t_late: the input code's time window (s).
        bias_times: times (s) of the bias inputs, one input each.
        pixel_threshold: ``inputs="images"``: pixels at or below it do not spike.
        loss: ``"mse"`` (target times; the default for ``inputs="points"``) or ``"ce"`` (cross-entropy; the
            default for ``inputs="images"``: with ten classes the target times barely separate the label,
            MNIST validation 50.8 % after one epoch of 10,000 images against 82.6 %,
            ``benchmarks/results/spike_times_mnist_lif_probe_*.json``).
        target_times: ``(label, other)`` target first-spike times of ``loss="mse"``, in units of
            ``tau_syn``: LIF ``(1.0, 1.2)`` (Yin-Yang validation, 3 seeds, 60 epochs: 97.9 % against
            97.1 % for jaxsnn's ``(0.9, 1.1)``, docs/spike-times.md), MIF ``(0.9, 1.1)``.
        xi: softmax temperature of ``loss="ce"`` in units of ``tau_syn`` (default 0.4; 0.2 for
            ``inputs="images"``).
        alpha, beta: the early-label regulariser ``alpha (exp(t_label / (beta tau_syn)) - 1)``.
        gamma: weight of the silent-label regulariser.
        gamma_hidden: weight of the silent-hidden regulariser: the mean over all hidden neurons of
            ``max(0, 1 - max_t v / theta)`` for those that did not fire on the sample, 0 for those
            that did (``theta``: each layer's threshold). Without it a hidden neuron silent on a
            sample gets no gradient from it, and one silent on every sample never learns again.
            Default 0; 1 for LIF with ``inputs="images"`` (MNIST: 21 % of the hidden neurons dead
            after one epoch without it, none with it; validation 87.2 % against 84.3 %).
        silent_slope: a silent neuron's time is ``T + silent_slope tau_syn (1 - max_t v / theta)``
            (``0``: ``T``, no gradient).
        init_mean, init_std: weights drawn from ``N(mean, std) / sqrt(fan_in)`` in the layer's unit
            (LIF: the threshold; the defaults are jaxsnn's Yin-Yang example's 3.0 +- 1.6 per input
            synapse (5 inputs) and 0.5 +- 0.8 per hidden synapse (120 hidden); MIF: 10 uA, each synapse's weight bounded smoothly to +-40 uA,
            ``40 tanh(w / 4)`` uA, which keeps explicit Euler stable: docs/mif-neuron.md section 6),
            per layer from the first. LIF with ``inputs="images"``: ``(1.0, 5.5)`` +- ``(3.6, 8.8)``
            (``IMAGE_INIT_MEAN``, ``IMAGE_INIT_STD``): at initialisation about half of the hidden
            neurons fire on an MNIST digit, at a median 5.5 ms, where the points' scales make every one
            fire within 1.6 ms.
        dtype: ``"float32"`` or ``"float64"``.
    """

    inputs: str = "points"
    n_inputs: int = 4
    n_classes: int = 3
    hidden: tuple[int, ...] = (120,)
    neuron: str = "lif"
    tau_mem: float = 10e-3
    tau_syn: float = 5e-3
    threshold: float = 1.0
    v_reset: float | None = None
    dt: float | None = None
    n_steps: int | None = None
    t_early: float | None = None
    t_late: float | None = None
    bias_times: tuple[float, ...] | None = None
    pixel_threshold: float = 0.1
    loss: str | None = None
    target_times: tuple[float, float] | None = None
    xi: float | None = None
    alpha: float = 0.0
    beta: float = 2.0
    gamma: float = 0.0
    gamma_hidden: float | None = None
    silent_slope: float = 1.0
    init_mean: tuple[float, ...] | None = None
    init_std: tuple[float, ...] | None = None
    substeps: int | None = None
    dtype: str = "float32"

    def __post_init__(self):
        for name, allowed in (("inputs", INPUTS), ("neuron", NEURONS), ("dtype", ("float32", "float64")),
                              ("loss", LOSSES + (None,))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"TTFSConfig: {name} must be one of {allowed}, got {getattr(self, name)!r}.")
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        mif = self.neuron == "mif"
        images = self.inputs == "images" and not mif
        defaults = {"dt": SPICEPROP_DT if mif else 0.5e-3, "n_steps": 400 if mif else 40,
                    "t_early": 0.0, "t_late": 2e-3 if mif else 2 * self.tau_syn,
                    "bias_times": (0.0,), "init_mean": (0.4, 0.15) if mif else (6.7, 5.5),
                    "init_std": (0.4, 0.3) if mif else (3.6, 8.8), "substeps": 2 if mif else 1,
                    "v_reset": -1000.0, "gamma_hidden": 0.0, "loss": "mse", "xi": 0.4, "target_times": (0.9, 1.1) if mif else (1.0, 1.2)}
        if images:  # MNIST: chosen on a validation split (docs/spike-times.md, "Latency-coded MNIST")
            defaults.update(init_mean=IMAGE_INIT_MEAN, init_std=IMAGE_INIT_STD, loss="ce", xi=0.2, v_reset=0.0,
                            gamma_hidden=1.0)
        if mif:
            object.__setattr__(self, "tau_syn", 1e-3)
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        for name in ("bias_times", "init_mean", "init_std"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        if self.n_inputs < 1 or self.n_classes < 2 or any(h < 1 for h in self.hidden):
            raise ValueError(f"TTFSConfig: need n_inputs >= 1, n_classes >= 2 and positive hidden sizes, got "
                             f"{self.n_inputs}, {self.n_classes}, {self.hidden}.")
        for name in ("tau_mem", "tau_syn", "threshold", "dt", "xi", "beta"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TTFSConfig: {name} must be > 0, got {getattr(self, name)}.")
        if not 0 <= self.t_early < self.t_late < self.n_steps * self.dt:
            raise ValueError(f"TTFSConfig: need 0 <= t_early < t_late < n_steps * dt = {self.n_steps * self.dt:g} s "
                             f"(the inputs must arrive within the run), got t_early={self.t_early}, "
                             f"t_late={self.t_late}.")
        if isinstance(self.substeps, bool) or int(self.substeps) != self.substeps or self.substeps < 1:
            raise ValueError(f"TTFSConfig: substeps must be a positive integer, got {self.substeps!r}.")
        if len(self.init_mean) < 1 or len(self.init_std) < 1:
            raise ValueError("TTFSConfig: init_mean and init_std need at least one value.")
        object.__setattr__(self, "target_times", tuple(float(v) for v in self.target_times))
        if len(self.target_times) != 2 or not 0 < self.target_times[0] < self.target_times[1]:
            raise ValueError(f"TTFSConfig: target_times must be (correct, wrong) with 0 < correct < wrong (in units "
                             f"of tau_syn), got {self.target_times}.")
        if not self.gamma_hidden >= 0:
            raise ValueError(f"TTFSConfig: gamma_hidden must be >= 0, got {self.gamma_hidden}.")
        if not self.silent_slope >= 0:
            raise ValueError(f"TTFSConfig: silent_slope must be >= 0, got {self.silent_slope}.")

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.n_inputs + len(self.bias_times), *self.hidden, self.n_classes)


class TTFSNet(eqx.Module):
    """Dense weights of a TTFS network (the :class:`~memsnn.Network` is built from them per call).

    Attributes:
        weights: per layer ``(n_out, n_in)`` in units of the threshold (LIF) or of 1 mA (MIF).
        config: the :class:`TTFSConfig` (static).
    """

    weights: tuple
    config: TTFSConfig = eqx.field(static=True)

    def __init__(self, config: TTFSConfig, *, key: PRNGKeyArray):
        dtype = jnp.dtype(config.dtype)
        sizes = config.sizes
        keys = jax.random.split(key, len(sizes) - 1)
        weights = []
        for i, (n_in, n_out, k) in enumerate(zip(sizes[:-1], sizes[1:], keys)):
            mean = config.init_mean[min(i, len(config.init_mean) - 1)]
            std = config.init_std[min(i, len(config.init_std) - 1)]
            weights.append(((mean + std * jax.random.normal(k, (n_out, n_in))) / jnp.sqrt(n_in)).astype(dtype))
        self.weights = tuple(weights)
        self.config = config

    def network(self) -> Network:
        c = self.config
        if c.neuron == "lif":
            synapse, neuron = ExponentialSynapse(c.tau_syn), LIF(tau=c.tau_mem, threshold=c.threshold, v_reset=c.v_reset,
                                                                 reset="zero")
            weights = self.weights
        else:
            synapse, neuron = AlphaSynapse(c.tau_syn), spiceprop_mif()
            weights = tuple(_MIF_UNIT * _MIF_BOUND * jnp.tanh(w / _MIF_BOUND) for w in self.weights)
        dtype = jnp.dtype(c.dtype)
        cast = lambda tree: jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, tree)  # noqa: E731
        return Network([Layer(Dense(w), cast(synapse), cast(neuron)) for w in weights])

    def stimulus(self, features: Float[Array, "batch n_inputs"]):
        c = self.config
        if features.ndim != 2 or features.shape[1] != c.n_inputs:
            raise ValueError(f"TTFSNet: inputs must be (batch, {c.n_inputs}), got shape {features.shape}.")
        features = jnp.clip(features.astype(jnp.dtype(c.dtype)), 0.0, 1.0)
        images = c.inputs == "images"
        times = latency_times(features, t_early=c.t_early, t_late=c.t_late, larger_earlier=images,
                              threshold=c.pixel_threshold if images else None, bias_times=c.bias_times)
        # The latest input time: a pixel above the threshold spikes before t_late - threshold * span.
        latest = c.t_late - (c.pixel_threshold * (c.t_late - c.t_early) if images else 0.0)
        return spike_time_impulses(times.astype(features.dtype), dt=c.dt, n_steps=c.n_steps,
                                   t_max=max((latest,) + c.bias_times))

    def __call__(self, features, *, throw: bool = True):
        """``(first spike times (B, n_classes), max of the output threshold function (B, n_classes))``,
        failed samples NaN (``throw=False``)."""
        times, peak, _ = _forward(self, features, throw=throw)
        return times, peak


def _forward(model: TTFSNet, features, *, throw: bool = True):
    """``(times, peak, hidden_gap)``: the output layer's first spike times and ``max_t v / level - 1``
    (``(B, n_classes)``), and for every hidden neuron (all hidden layers, ``(B, sum(hidden))``) its
    distance below the threshold, ``max(0, 1 - max_t v / level)``, if it did not fire, else 0."""
    c = model.config
    network = model.network()
    trace = simulate(network, model.stimulus(features), dt=c.dt, n_steps=c.n_steps,
                     solver=Euler(substeps=c.substeps),
                     spike_timing="exact", record=("spike_times", "membrane_potential"), throw=throw)
    end = c.n_steps * c.dt
    peaks, gaps = [], []
    for i, layer in enumerate(network.layers):
        level = c.threshold if c.neuron == "lif" else layer.neuron.spike_threshold
        peaks.append(trace.failed_as_nan(jnp.max(trace.membrane_potential[i], axis=1)) / level - 1.0)
        if i < len(network.layers) - 1:
            fired = trace.first_spike_times(i) < end
            gaps.append(jnp.where(fired, 0.0, jnp.maximum(-peaks[-1], 0.0)))
    times = trace.failed_as_nan(trace.first_spike_times(-1))
    return times, peaks[-1], jnp.concatenate(gaps, axis=-1)


def build_ttfs(config: TTFSConfig | dict, *, key: PRNGKeyArray) -> TTFSNet:
    """A freshly initialised :class:`TTFSNet`."""
    if isinstance(config, dict):
        config = TTFSConfig.from_dict(config)
    return TTFSNet(config, key=key)


def _predict(times):
    return jnp.argmin(times, axis=-1)


def _effective_times(config: TTFSConfig, times, peak):
    """First spike times, a silent neuron's continued past the end of the run by its distance to the
    threshold: ``T + silent_slope tau_syn (1 - max_t v / theta)`` (``silent_slope = 0``: ``T``)."""
    if config.silent_slope <= 0:
        return times
    end = config.n_steps * config.dt
    return jnp.where(times < end, times, end - config.silent_slope * config.tau_syn * jnp.minimum(peak, 0.0))


def ttfs_loss(model: TTFSNet, features, labels, *, key: PRNGKeyArray | None = None, throw: bool = True):
    """``(loss, predictions)``: the TTFS loss of the module docstring (``key`` unused: no noise)."""
    c = model.config
    times, peak, hidden_gap = _forward(model, features, throw=throw)
    times = _effective_times(c, times, peak)
    labels = labels.astype(jnp.int32)
    if c.loss == "ce":
        logits = -times / (c.xi * c.tau_syn)
        main = -jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), labels[:, None], axis=-1)[:, 0]
    else:  # "mse": squared distance to the target times, in units of tau_mem (jaxsnn's example loss)
        onehot = jax.nn.one_hot(labels, times.shape[-1], dtype=times.dtype)
        target = (c.target_times[0] * onehot + c.target_times[1] * (1 - onehot)) * c.tau_syn
        main = jnp.sum(jnp.square((jnp.minimum(times, 2 * c.tau_mem) - target) / c.tau_mem), axis=-1)
    t_label = jnp.take_along_axis(times, labels[:, None], axis=-1)[:, 0]
    early = c.alpha * (jnp.exp(t_label / (c.beta * c.tau_syn)) - 1.0)
    label_peak = jnp.take_along_axis(peak, labels[:, None], axis=-1)[:, 0]
    silent = c.gamma * jnp.maximum(-label_peak, 0.0)
    if c.gamma_hidden > 0:
        silent = silent + c.gamma_hidden * jnp.mean(hidden_gap, axis=-1)
    loss = jnp.mean(main + early + silent)
    return loss, _predict(times)


def ttfs_predict(model: TTFSNet, features, *, key: PRNGKeyArray | None = None, throw: bool = True
                 ) -> Int[Array, " batch"]:
    """The output neuron that fires first (a silent one: the nearest to its threshold when
    ``silent_slope > 0``); ``throw=False``: a failed sample gets ``FAILED``."""
    times, peak = model(features, throw=throw)
    times = _effective_times(model.config, times, peak)
    return failed_where_nonfinite(_predict(times), times)


def ttfs_trainable(model: TTFSNet):
    """Filter spec: every weight."""
    return jax.tree.map(eqx.is_inexact_array, model)


def _arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--inputs", choices=INPUTS, help="points (Yin-Yang, default) or images (latency-coded pixels)")
    group.add_argument("--n-inputs", type=cli_type(int, low=1, integer=True), help="input features (default 4)")
    group.add_argument("--n-classes", type=cli_type(int, low=2, integer=True), help="classes (default 3)")
    group.add_argument("--hidden", type=cli_type(int, low=1, integer=True), nargs="+", metavar="N",
                       help="hidden layer sizes (default 120)")
    group.add_argument("--neuron", choices=NEURONS, help="lif (default) or mif (SPICEprop memristive neurons)")
    group.add_argument("--loss", choices=LOSSES, help="mse: target first-spike times (default); ce: "
                                                      "cross-entropy on -t")
    group.add_argument("--steps", type=cli_type(int, low=1, integer=True), metavar="T",
                       help="time steps (default 40 of 0.5 ms for LIF, 400 of 10 us for MIF)")
    group.add_argument("--dtype", choices=("float32", "float64"), help="floating point type (default float32)")


def _config_from_args(args: argparse.Namespace) -> dict:
    names = ("inputs", "n_inputs", "n_classes", "hidden", "neuron", "loss", "dtype")
    config = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    if getattr(args, "steps", None) is not None:
        config["n_steps"] = args.steps
    if config.get("inputs") == "images":
        config.setdefault("n_inputs", 784)
        config.setdefault("n_classes", 10)
    return config


TTFS = Method(
    name="ttfs",
    summary="time-to-first-spike: cross-entropy on exact first-spike times of LIF or MIF neurons",
    model_config=lambda overrides: TTFSConfig.from_dict(overrides).to_dict(),
    build=build_ttfs,
    loss=ttfs_loss,
    predict=ttfs_predict,
    trainable=ttfs_trainable,
    add_arguments=_arguments,
    config_from_args=_config_from_args,
    defaults={"epochs": 60, "batch_size": 64, "lr": 1e-2, "schedule": "cosine", "weight_decay": 0.0,
              "clip_norm": 1.0, "eval_batch_size": 1000},
    spike_timing="exact",
)
