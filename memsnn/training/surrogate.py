"""Surrogate-gradient training of LIF / IF spiking networks (dense and convolutional).

The network is a :class:`memsnn.Network` simulated by :func:`memsnn.simulate` with explicit Euler
on a grid of ``dt = 1`` (one time step = one unit), with ``R = tau`` so that each step is the
discrete-time update of snnTorch's ``Leaky`` neuron::

    v[k+1] = beta v[k] + W s_in[k],   beta = 1 - dt / tau          (LIF; IF: beta = 1)
    s[k+1] = H(v[k+1] - threshold)    (surrogate derivative backward, :mod:`memsnn.spikes`)
    reset by subtraction, to zero, or none

Architectures: ``"dense"`` (e.g. 784-1000-10, as in the snnTorch tutorial) and ``"conv"``
(``12C5-AP2-64C5-AP2-FC10`` by default: :class:`memsnn.arrays.Conv2d` with average pooling).
Inputs: ``"direct"`` (the image as a constant current at every step: the first layer's array is
then applied once, outside the time loop) or ``"rate"`` (Bernoulli spikes). Two ways of integrating
rate-coded inputs, after Yin et al. (2017), "Algorithm and hardware design of discrete-time spiking
neural networks based on back propagation with binary activations":

* ``integration="continuous"``: one simulation over the whole input; the membrane carries over
  from step to step (temporal inputs);
* ``integration="discontinuous"``: the membrane restarts from rest at the start of every window of
  ``window`` steps (``window=1``: every step is an independent binary-activation network, and the
  output spikes of all windows are counted together).

Readout and losses: ``"ce_count"`` (cross-entropy of the output spike counts), ``"ce_membrane"``
(cross-entropy of the output membrane at every step, summed over steps: the snnTorch tutorial) and
``"mse_rate"`` (mean squared error between output firing rates and target rates). Predictions are
the class with the most output spikes (``readout="count"``) or the highest mean output membrane
(``readout="membrane"``).

On memristive crossbars. ``crossbar="realistic"`` (any :func:`memsnn.crossbar.preset` name; dense
architecture) makes every layer's weights a :class:`memsnn.crossbar.Crossbar` with that preset's
non-idealities: hardware-aware training, the gradient flowing through them. Every call with a
``key`` (each training step, each evaluation batch) programs one chip (programming noise and faults,
:func:`memsnn.crossbar.deploy.program`) and reads it once (read noise, and each tile's exact IR-drop
map, :func:`~memsnn.crossbar.deploy.one_read`); the whole batch and all time steps share that read,
as they share a chip, so memory stays that of the ideal network plus one chip.

It is ``memsnn train --method surrogate`` (:data:`memsnn.training.METHODS`); in Python::

    from memsnn.training import train
    result = train("surrogate", "mnist", source="full", epochs=20, model={"hidden": [1000]})
"""

from __future__ import annotations

import argparse
import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..crossbar.deploy import one_read, program
from ..data import rate as rate_code
from ..network import Layer, Network
from ..neurons import IF, LIF
from ..simulate import simulate
from ..spikes import SURROGATES, surrogate
from ..stimulus import Current
from ._config import JsonConfig
from ._method import Method, cli_type
from .learner import failed_where_nonfinite
from .layout import Layout, add_crossbar_argument, cast_floats, check_crossbar_preset, layout_arrays
from .spiceprop import summed_nll

__all__ = [
    "ARCHITECTURES",
    "LOSSES",
    "SurrogateConfig",
    "SurrogateNet",
    "build_surrogate",
    "surrogate_loss",
    "surrogate_predict",
    "surrogate_trainable",
]

ARCHITECTURES = ("dense", "conv")
NEURONS = ("lif", "if")
ENCODINGS = ("direct", "rate")
INTEGRATIONS = ("continuous", "discontinuous")
READOUTS = ("count", "membrane")
LOSSES = ("ce_count", "ce_membrane", "mse_rate")
RESETS = ("subtract", "zero", "none")
OUTPUTS = ("spiking", "integrator")


@dataclasses.dataclass(frozen=True)
class SurrogateConfig(JsonConfig):
    """Everything that defines a surrogate-gradient network (stored in checkpoints as JSON).

    Attributes:
        architecture: ``"dense"`` or ``"conv"``.
        image_shape: ``(C, H, W)`` of one input image (the flattened input has ``C H W`` features).
        hidden: dense hidden layer sizes (``"dense"``), e.g. ``(1000,)`` for 784-1000-10.
        conv_channels: output channels of the convolutional layers (``"conv"``); each is a
            ``kernel_size`` convolution (valid padding) followed by ``pool x pool`` average pooling,
            then a dense readout.
        kernel_size, pool: see ``conv_channels``.
        n_classes: output neurons.
        neuron: ``"lif"`` or ``"if"`` (no leak).
        beta: membrane decay per step (LIF), in (0, 1): ``tau = dt / (1 - beta)``.
        threshold: firing threshold (> 0, membrane units).
        reset: ``"subtract"``, ``"zero"`` or ``"none"``.
        reset_delay: snnTorch's reset timing (``Leaky``'s default): the threshold of a spike is
            subtracted one step later, undecayed (LIF with ``reset="subtract"`` only).
        detach_reset: no gradient through the reset (as snnTorch).
        surrogate, slope: the spike function (:func:`memsnn.spikes.surrogate`).
        learn_beta, learn_threshold: also train the per-neuron decay / threshold.
        encoding: ``"direct"`` (constant current) or ``"rate"`` (Bernoulli spikes, probability =
            intensity per step).
        n_steps: simulated steps per sample.
        integration, window: see the module docstring.
        output: ``"spiking"`` (the output layer fires like the others) or ``"integrator"`` (it is
            a leaky integrator that never fires, without reset, whose membrane is the readout: the
            usual choice for high-accuracy convolutional SNNs; needs ``readout="membrane"`` and
            ``loss="ce_membrane"``).
        readout: ``"count"`` or ``"membrane"`` (what :func:`surrogate_predict` uses).
        loss: ``"ce_count"``, ``"ce_membrane"`` or ``"mse_rate"``.
        correct_rate, incorrect_rate: target firing rates (spikes per step) of ``"mse_rate"``.
        checkpoint_every: time-step checkpointing of the backward pass (see :func:`memsnn.simulate`).
        layerwise: simulate one layer at a time over all steps (see :meth:`SurrogateNet._simulate`)
            instead of the whole network step by step. Same numbers; layer-wise is ~10x faster for
            convolutional layers, slower for the dense 784-1000-10. ``None``: layer-wise for
            ``"conv"`` only.
        unroll: time steps per iteration of the simulation loop (see :func:`memsnn.simulate`).
        crossbar: ``None`` (ideal weights) or a crossbar preset name (:func:`memsnn.crossbar.preset`):
            every layer a memristive crossbar (``"dense"`` architecture only).
        crossbar_w_max: the weight mapped to a device's full conductance range (with
            ``crossbar``); larger weights saturate when programmed.
        dtype: ``"float32"`` or ``"float64"``.
    """

    architecture: str = "dense"
    image_shape: tuple[int, int, int] = (1, 28, 28)
    hidden: tuple[int, ...] = (1000,)
    conv_channels: tuple[int, ...] = (12, 64)
    kernel_size: int = 5
    pool: int = 2
    n_classes: int = 10
    neuron: str = "lif"
    beta: float = 0.95
    threshold: float = 1.0
    reset: str = "subtract"
    reset_delay: bool = False
    detach_reset: bool = False
    surrogate: str = "fast_sigmoid"
    slope: float = 25.0
    learn_beta: bool = False
    learn_threshold: bool = False
    encoding: str = "direct"
    n_steps: int = 25
    integration: str = "continuous"
    window: int = 1
    output: str = "spiking"
    readout: str = "count"
    loss: str = "ce_membrane"
    correct_rate: float = 0.8
    incorrect_rate: float = 0.2
    checkpoint_every: int | None = None
    layerwise: bool | None = None
    unroll: int = 5
    crossbar: str | None = None
    crossbar_w_max: float = 0.5
    dtype: str = "float32"

    def __post_init__(self):
        for name in ("image_shape", "hidden", "conv_channels"):
            object.__setattr__(self, name, tuple(int(h) for h in getattr(self, name)))
        choices = {"architecture": ARCHITECTURES, "neuron": NEURONS, "encoding": ENCODINGS,
                   "integration": INTEGRATIONS, "output": OUTPUTS, "readout": READOUTS, "loss": LOSSES, "reset": RESETS,
                   "dtype": ("float32", "float64")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"SurrogateConfig: {name} must be one of {allowed}, got {getattr(self, name)!r}.")
        surrogate(self.surrogate, self.slope)  # raises a clear error for a bad name or slope
        if not self.threshold > 0:
            raise ValueError(f"SurrogateConfig: threshold must be > 0, got {self.threshold}.")
        if self.neuron == "lif" and not 0 <= self.beta < 1:
            raise ValueError(f"SurrogateConfig: beta must lie in [0, 1) for a LIF neuron, got {self.beta} "
                             "(beta = 1 is the IF neuron: neuron='if').")
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ValueError(f"SurrogateConfig: image_shape must be (C, H, W), got {self.image_shape}.")
        if any(h < 1 for h in self.hidden + self.conv_channels) or self.n_classes < 2:
            raise ValueError("SurrogateConfig: layer sizes must be positive and n_classes >= 2, got "
                             f"hidden={self.hidden}, conv_channels={self.conv_channels}, n_classes={self.n_classes}.")
        if self.n_steps < 1 or self.unroll < 1:
            raise ValueError(f"SurrogateConfig: n_steps and unroll must be >= 1, got {self.n_steps}, {self.unroll}.")
        if self.integration == "continuous" and self.window != 1:
            raise ValueError(f"SurrogateConfig: window={self.window} applies to integration='discontinuous' (the "
                             "membrane restarts from rest every window steps); with continuous integration there "
                             "are no windows. Give integration='discontinuous' (--integration discontinuous) or "
                             "leave window out.")
        if self.integration == "discontinuous" and (self.window < 1 or self.n_steps % self.window):
            raise ValueError(f"SurrogateConfig: window={self.window} must be >= 1 and divide n_steps={self.n_steps}.")
        if self.output == "integrator" and (self.readout, self.loss) != ("membrane", "ce_membrane"):
            raise ValueError("SurrogateConfig: output='integrator' never fires, so it needs readout='membrane' "
                             f"and loss='ce_membrane', got readout={self.readout!r}, loss={self.loss!r}.")
        if self.reset_delay and (self.neuron != "lif" or self.reset != "subtract"):
            raise ValueError("SurrogateConfig: reset_delay needs neuron='lif' and reset='subtract'.")
        if not self.crossbar_w_max > 0:
            raise ValueError(f"SurrogateConfig: crossbar_w_max must be > 0, got {self.crossbar_w_max}.")
        if self.crossbar is not None:
            check_crossbar_preset("SurrogateConfig", self.crossbar)
            if self.architecture != "dense":
                raise ValueError(f"SurrogateConfig: crossbar={self.crossbar!r} needs architecture='dense' (the "
                                 "convolutional layers have no crossbar mapping yet), got architecture="
                                 f"{self.architecture!r}.")

    @property
    def n_inputs(self) -> int:
        c, h, w = self.image_shape
        return c * h * w


class SurrogateNet(eqx.Module):
    """Synapse arrays and per-neuron decay and threshold of a stack of LIF / IF layers.

    The :class:`memsnn.Network` is rebuilt from these leaves at every call (:meth:`network`), so
    that ``beta`` and ``threshold`` can be trained directly, with the input gain kept at 1.

    Attributes:
        arrays: one synapse array per layer (:class:`~memsnn.Dense` / :class:`~memsnn.arrays.Conv2d`).
        beta: per layer, ``(n,)`` decay per step (unused for IF).
        threshold: per layer, ``(n,)`` firing thresholds.
        config: the :class:`SurrogateConfig` (static).
    """

    arrays: tuple
    beta: tuple
    threshold: tuple
    config: SurrogateConfig = eqx.field(static=True)

    def __init__(self, config: SurrogateConfig, *, key: PRNGKeyArray):
        dtype = jnp.dtype(config.dtype)
        arrays = layout_arrays(Layout.of(config), key, crossbar=config.crossbar, crossbar_w_max=config.crossbar_w_max)
        self.arrays = cast_floats(arrays, dtype)
        self.beta = tuple(jnp.full((a.n_outputs,), config.beta, dtype) for a in arrays)
        self.threshold = tuple(jnp.full((a.n_outputs,), config.threshold, dtype) for a in arrays)
        self.config = config

    def network(self) -> Network:
        """The network simulated with ``dt = 1``: LIF with ``tau = R = 1 / (1 - beta)``, or IF."""
        c = self.config
        spike_fn = surrogate(c.surrogate, c.slope)
        layers = []
        for i, (array, beta, threshold) in enumerate(zip(self.arrays, self.beta, self.threshold)):
            reset = c.reset
            if c.output == "integrator" and i == len(self.arrays) - 1:
                # A threshold no membrane reaches: the output layer integrates without firing.
                reset, threshold = "none", jnp.full_like(threshold, jnp.finfo(threshold.dtype).max)
            # Clipped like snnTorch's beta.clamp(0, 1), short of 1 so that tau stays finite.
            if c.neuron == "lif":
                tau = 1.0 / (1.0 - jnp.clip(beta, 0.0, 1.0 - 1e-6))
                neuron = LIF(tau=tau, resistance=tau, threshold=threshold, reset=reset, spike_fn=spike_fn,
                             reset_delay=c.reset_delay and reset == "subtract", detach_reset=c.detach_reset)
            else:
                neuron = IF(capacitance=1.0, threshold=threshold, reset=reset, spike_fn=spike_fn,
                            detach_reset=c.detach_reset)
            layers.append(Layer(array, None, cast_floats(neuron, threshold.dtype)))
        return Network(layers)

    def stimulus(self, images: Float[Array, "batch n_inputs"]) -> Current:
        """The input drive: ``(batch, n_inputs)`` constant, or ``(batch, n_steps, n_inputs)`` spikes."""
        c = self.config
        if images.ndim != 2 or images.shape[1] != c.n_inputs:
            raise ValueError(f"SurrogateNet: images must be (batch, {c.n_inputs}) (flattened {c.image_shape}), "
                             f"got shape {images.shape}.")
        images = images.astype(jnp.dtype(c.dtype))
        if c.encoding == "direct":
            if c.integration == "continuous":
                return Current(images)
            return Current(jnp.broadcast_to(images[:, None], (images.shape[0], c.n_steps, c.n_inputs)))
        # The loss is a function of (model, images, labels) only, so the spikes are drawn from a key
        # derived from the batch itself: the same images always give the same spike trains.
        seed = jax.lax.bitcast_convert_type(jnp.sum(images, dtype=jnp.float32), jnp.uint32)
        key = jax.random.fold_in(jax.random.key(0), seed)
        return Current(rate_code(images, c.n_steps, key).astype(images.dtype))

    def _simulate(self, stim: Current, n_steps: int, key: PRNGKeyArray | None = None,
                  throw: bool = True) -> tuple[tuple, tuple]:
        model = self
        if key is not None and self.config.crossbar is not None:
            # One chip per call, shared by the whole batch and all time steps: programmed once
            # (programming noise, faults) and read once (read noise; the wires' IR drop solved
            # exactly as each tile's linear map), as a chip is. No crossbar state or IR-drop
            # factorisation is then copied per sample or per step (issue 26: per-sample chips
            # asked for 178 GiB at batch 128 with the "realistic" preset).
            k_program, k_read, key = jax.random.split(key, 3)
            model = one_read(program(self, key=k_program), key=k_read)
        network = model.network()
        options = dict(dt=1.0, n_steps=n_steps, checkpoint_every=self.config.checkpoint_every,
                       unroll=min(self.config.unroll, n_steps))
        layerwise = self.config.architecture == "conv" if self.config.layerwise is None else self.config.layerwise
        # Layer-wise: each layer runs over all steps on its own, driven by the spikes of the layer
        # below, so simulate applies its array to all steps in one product outside the time loop
        # and the scan is left with elementwise work only (~10x faster for conv layers).
        trace = simulate(network, stim, record=("membrane_potential", "spikes"), layerwise=layerwise, key=key,
                         throw=throw, **options)
        if throw:
            return trace.spikes, trace.membrane_potential
        return tuple(tuple(trace.failed_as_nan(x) for x in per_layer) for per_layer in (trace.spikes,
                                                                                          trace.membrane_potential))

    def run(self, images: Float[Array, "batch n_inputs"], *, key: PRNGKeyArray | None = None,
            throw: bool = True) -> tuple[tuple, tuple]:
        """Simulate a batch: per layer, spikes and membrane potentials ``(batch, n_steps, n)``.

        With discontinuous integration every window of ``window`` steps is simulated from rest
        (as a separate sample) and the windows are put back in order. ``throw``: as in
        :func:`memsnn.simulate`; with ``False`` a failed sample's outputs are NaN instead.
        """
        c = self.config
        stim = self.stimulus(images)
        if c.integration == "continuous":
            return self._simulate(stim, c.n_steps, key, throw)
        batch = images.shape[0]
        windows = stim.amplitude.reshape(batch * (c.n_steps // c.window), c.window, c.n_inputs)
        spikes, membranes = self._simulate(Current(windows), c.window, key, throw)
        return tuple(tuple(x.reshape(batch, c.n_steps, -1) for x in per_layer) for per_layer in (spikes, membranes))

    def __call__(self, images: Float[Array, "batch n_inputs"], *, key: PRNGKeyArray | None = None,
                 throw: bool = True):
        """Output spikes and membrane potentials, each ``(batch, n_steps, n_classes)`` (``throw``: see :meth:`run`)."""
        spikes, membranes = self.run(images, key=key, throw=throw)
        return spikes[-1], membranes[-1]


def build_surrogate(config: SurrogateConfig | dict, *, key: PRNGKeyArray) -> SurrogateNet:
    """A freshly initialised :class:`SurrogateNet` (PyTorch-style uniform weights, with biases)."""
    if isinstance(config, dict):
        config = SurrogateConfig.from_dict(config)
    return SurrogateNet(config, key=key)


def _predict_from(config: SurrogateConfig, spikes, membrane):
    if config.readout == "membrane":
        return jnp.argmax(jnp.mean(membrane, axis=1), axis=-1)
    # Ties in the spike count (often: no output spike at all) go to the higher mean membrane; the
    # tie-breaker lies in (0, 1), so it never overrides a difference of one spike.
    return jnp.argmax(jnp.sum(spikes, axis=1) + jax.nn.sigmoid(jnp.mean(membrane, axis=1)), axis=-1)


def surrogate_loss(model: SurrogateNet, images: Float[Array, "batch n_inputs"],
                   labels: Int[Array, " batch"], *, key: PRNGKeyArray | None = None, throw: bool = True
                   ) -> tuple[Float[Array, ""], Int[Array, " batch"]]:
    """Batch-mean loss (``model.config.loss``) and predicted classes ``(batch,)`` (``key``: the
    model's noise, unused by the ideal network; ``throw=False``: a failed simulation makes the loss
    NaN instead of raising)."""
    c = model.config
    spikes, membrane = model(images, key=key, throw=throw)
    labels = labels.astype(jnp.int32)
    if c.loss == "ce_count":
        log_p = jax.nn.log_softmax(jnp.sum(spikes, axis=1), axis=-1)
        loss = -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], axis=-1))
    elif c.loss == "ce_membrane":
        loss = summed_nll(membrane, labels)
    else:
        target = jnp.where(jax.nn.one_hot(labels, c.n_classes, dtype=bool), c.correct_rate, c.incorrect_rate)
        loss = jnp.mean((jnp.mean(spikes, axis=1) - target) ** 2)
    return loss, _predict_from(c, spikes, membrane)


def surrogate_predict(model: SurrogateNet, images: Float[Array, "batch n_inputs"], *,
                      key: PRNGKeyArray | None = None, throw: bool = True) -> Int[Array, " batch"]:
    """Predicted classes ``(batch,)`` (``model.config.readout``; ``throw=False``: a sample whose
    simulation failed gets :data:`~memsnn.training.learner.FAILED`)."""
    spikes, membrane = model(images, key=key, throw=throw)
    return failed_where_nonfinite(_predict_from(model.config, spikes, membrane), membrane)


def surrogate_trainable(model: SurrogateNet):
    """Filter spec: all weights and biases, plus ``beta`` / ``threshold`` if the config says so."""
    spec = jax.tree.map(lambda _: False, model)
    spec = eqx.tree_at(lambda m: m.arrays, spec, replace=jax.tree.map(eqx.is_inexact_array, model.arrays))
    if model.config.learn_beta and model.config.neuron == "lif":
        spec = eqx.tree_at(lambda m: m.beta, spec, replace=tuple(True for _ in model.beta))
    if model.config.learn_threshold:
        spec = eqx.tree_at(lambda m: m.threshold, spec, replace=tuple(True for _ in model.threshold))
    return spec


# --------------------------------------------------------------------------------------------
# The method `memsnn train --method surrogate` (listed in memsnn.training.methods.METHODS)
# --------------------------------------------------------------------------------------------


def _arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--architecture", choices=ARCHITECTURES, help="dense (default) or conv")
    group.add_argument("--hidden", type=cli_type(int, low=1, integer=True), nargs="+", metavar="N",
                       help="dense hidden sizes (default 1000)")
    group.add_argument("--conv-channels", type=cli_type(int, low=1, integer=True), nargs="+", metavar="C",
                       help="channels of the conv layers (default 12 64: 12C5-AP2-64C5-AP2-FC10)")
    group.add_argument("--neuron", choices=NEURONS, help="lif (default) or if")
    group.add_argument("--beta", type=cli_type(float, low=0, high=1), help="LIF decay per step (default 0.95)")
    group.add_argument("--threshold", type=cli_type(float, low=0, low_open=True), help="firing threshold (default 1)")
    group.add_argument("--reset", choices=RESETS, help="reset mechanism (default subtract)")
    group.add_argument("--reset-delay", action="store_true", default=None,
                       help="snnTorch's reset timing (subtraction one step later, undecayed)")
    group.add_argument("--surrogate", choices=sorted(SURROGATES), help="spike function (default fast_sigmoid)")
    group.add_argument("--slope", type=cli_type(float, low=0, low_open=True), help="surrogate slope (default 25)")
    group.add_argument("--learn-beta", action="store_true", default=None, help="train the decay too")
    group.add_argument("--learn-threshold", action="store_true", default=None, help="train the threshold too")
    group.add_argument("--encoding", choices=ENCODINGS, help="direct current (default) or rate spikes")
    group.add_argument("--steps", type=cli_type(int, low=1, integer=True), metavar="T",
                       help="time steps per image (default 25)")
    group.add_argument("--integration", choices=INTEGRATIONS, help="continuous (default) or discontinuous")
    group.add_argument("--window", type=cli_type(int, low=1, integer=True),
                       help="steps per window of discontinuous integration (default 1)")
    group.add_argument("--output", choices=OUTPUTS,
                       help="spiking output layer (default) or a non-firing leaky integrator read by its membrane")
    group.add_argument("--readout", choices=READOUTS, help="count (default) or membrane")
    group.add_argument("--loss", choices=LOSSES, help="ce_membrane (default), ce_count or mse_rate")
    group.add_argument("--checkpoint-every", type=cli_type(int, low=0, integer=True), metavar="K",
                       help="keep one state per K steps for the backward pass (default: all; 0 = all)")
    group.add_argument("--dtype", choices=("float32", "float64"), help="floating point type (default float32)")
    add_crossbar_argument(group, "every layer (dense architecture)")


def _config_from_args(args: argparse.Namespace) -> dict:
    names = ("architecture", "hidden", "conv_channels", "neuron", "beta", "threshold", "reset", "reset_delay",
             "surrogate", "slope", "learn_beta", "learn_threshold", "encoding", "integration", "window",
             "output", "readout", "loss", "crossbar", "dtype")
    config = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    if getattr(args, "steps", None) is not None:
        config["n_steps"] = args.steps
    if getattr(args, "checkpoint_every", None) is not None:
        config["checkpoint_every"] = args.checkpoint_every or None  # 0 means "store everything"
    return config


SURROGATE = Method(
    name="surrogate",
    summary="BPTT through LIF/IF spiking networks with surrogate spike gradients (dense or conv)",
    model_config=lambda overrides: SurrogateConfig.from_dict(overrides).to_dict(),
    build=build_surrogate,
    loss=surrogate_loss,
    predict=surrogate_predict,
    trainable=surrogate_trainable,
    add_arguments=_arguments,
    config_from_args=_config_from_args,
    defaults={"epochs": 20, "batch_size": 128, "lr": 5e-4, "schedule": "cosine", "weight_decay": 0.0,
              "clip_norm": None, "eval_batch_size": 1000},
    keeps_time_steps=lambda config: True,  # reverse mode through the time loop
)
