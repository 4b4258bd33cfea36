"""ANN-to-SNN conversion: train a ReLU (or QCFS) network, run it as integrate-and-fire neurons.

The ANN is the network of :mod:`memsnn.training.surrogate` with its spiking neurons replaced by an
activation: ``a_l = act(array_l(a_{l-1}))``, where each array is a :class:`memsnn.Dense` or a
:class:`memsnn.arrays.Conv2d` (convolution, bias, then average pooling: pooling is linear, so it is
part of the array and comes before the activation). The last array gives the logits. Optional batch
normalisation sits between an array and its activation and is folded into the array's weights and
bias when the network is converted (:func:`fold_batch_norm`).

Conversion (Rueckauer et al. 2017, "Conversion of continuous-valued deep networks to efficient
event-driven networks"; Diehl et al. 2015) builds a :class:`memsnn.Network` of IF (or LIF) neurons
with the same arrays, simulated by :func:`memsnn.simulate` on a grid of ``dt = 1`` (one step = one
unit of time, capacitance 1). A hidden layer ``l`` gets a scale ``lambda_l``, an estimate of the
largest activation it must represent:

* ``"model"``: the bound from the weights alone (max weight sum, Diehl et al. 2015):
  ``lambda_l = max_j (sum_i max(W_ji, 0) lambda_{l-1} + max(b_j, 0))`` with ``lambda_0 = 1``
  (images in [0, 1]); a convolution sums over its kernel, pooling does not raise the bound;
* ``"max"``: the largest activation of the layer over the calibration images;
* ``"percentile"``: the ``p``-th percentile (``p = 99.9`` by default) of all the layer's
  activations (every neuron, every image, zeros included, as SpikingJelly's ``"99.9%"``);
* ``"qcfs"``: the trained threshold of the QCFS activation (below).

Two equivalent ways of using the scales (``balance``): ``"threshold"`` (threshold balancing) keeps
the trained weights, gives layer ``l`` the threshold ``lambda_l`` and spikes of amplitude
``lambda_l`` (the next array is multiplied by it); ``"weights"`` (weight normalisation) divides the
weights and bias of layer ``l`` by ``lambda_l`` and multiplies the weights by ``lambda_{l-1}``, with
thresholds 1. The IF neuron is linear, so both give the same spikes (up to rounding).

With reset by subtraction the firing rate of an IF neuron driven by a constant per-step input
``z`` is ``r = clip(z / theta, 0, 1)`` up to ``1 / T`` after ``T`` steps (the rate identity), so the
rates of layer ``l`` approximate ``a_l / lambda_l``. The output layer does not fire: it integrates
its input (membrane = sum over steps of ``W s + b``), and the prediction is its largest membrane.
Options: reset ``"subtract"`` or ``"zero"``; initial membrane ``"zero"`` or ``"half"`` (theta / 2,
which makes the expected quantisation error zero, Bu et al. 2022); input ``"analog"`` (the image as a
constant current at every step) or ``"rate"`` (Bernoulli spikes with probability = intensity).

QCFS (Bu et al., ICLR 2022, "Optimal ANN-SNN conversion for high-accuracy and ultra-low-latency
spiking neural networks"): the quantization clip-floor-shift activation

    h(z) = lambda / L * clip(floor(z L / lambda + 1/2), 0, L)

with a trainable threshold ``lambda`` per layer and ``L`` levels (straight-through gradient of the
floor). Its SNN uses ``theta = lambda`` and a membrane starting at ``theta / 2``; ``L`` can be set
to the number of levels of a crossbar.

It is ``memsnn train --method conversion``: the ANN is trained by the shared loop (per-epoch test
accuracy = the ANN's); after the last epoch the network is calibrated on training images, converted
and simulated on the test set at every ``eval_steps`` T; the table goes to ``OUT/conversion.json``
and the converted network to ``OUT/converted.eqx`` (``memsnn evaluate OUT/converted.eqx --steps T``).
In Python::

    from memsnn.training import train
    from memsnn.training.conversion import calibrate, evaluate_snn
    result = train("conversion", "mnist", source="full", epochs=8, model={"activation": "qcfs"})
    model = calibrate(result.model, train_images)
    table = evaluate_snn(model, test_images, test_labels, steps=(4, 8, 16, 32))
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._validation import check_setting
from ..arrays import Conv2d, Dense
from ..data import rate as rate_code
from ..network import Layer, Network
from ..neurons import IF, LIF
from ..neurons.lif import LIFState
from ..simulate import simulate
from ..stimulus import Current
from ._config import JsonConfig
from ._method import Method, cli_type
from .learner import failed_where_nonfinite
from .layout import Layout, cast_floats, layout_arrays

__all__ = [
    "CONVERSION",
    "CONVERTED_NAME",
    "RESULTS_NAME",
    "ConversionConfig",
    "ConversionNet",
    "activation_scales",
    "build_conversion",
    "calibrate",
    "convert_and_evaluate",
    "conversion_trainable",
    "conversion_loss",
    "conversion_predict",
    "conversion_scales",
    "evaluate_snn",
    "fold_batch_norm",
    "model_based_scales",
    "qcfs",
    "run_snn",
    "snn_network",
    "with_settings",
]

ARCHITECTURES = ("dense", "conv")
ACTIVATIONS = ("relu", "qcfs")
NORMALISATIONS = ("model", "max", "percentile", "qcfs")
BALANCES = ("threshold", "weights")
NEURONS = ("if", "lif")
RESETS = ("subtract", "zero")
INITIAL_MEMBRANES = ("zero", "half")
ENCODINGS = ("analog", "rate")
DEFAULT_EVAL_STEPS = (4, 8, 16, 32, 64, 128)
# Spikes kept in memory per simulated batch (floats): the layer-wise run records every layer's
# spikes, (batch, T, n) each, so the batch is cut to stay under this.
_SPIKE_BUDGET = 2**24


# --------------------------------------------------------------------------------------------
# The QCFS activation
# --------------------------------------------------------------------------------------------


@jax.custom_jvp
def _floor_ste(x):
    return jnp.floor(x)


@_floor_ste.defjvp
def _floor_ste_jvp(primals, tangents):
    # Straight-through: the floor passes gradients unchanged (Bu et al. 2022).
    (x,), (dx,) = primals, tangents
    return jnp.floor(x), dx


def qcfs(z: Float[Array, "..."], threshold: Float[Array, "..."], levels: int) -> Float[Array, "..."]:
    """Quantization clip-floor-shift activation ``lambda / L * clip(floor(z L / lambda + 1/2), 0, L)``.

    Written as ``lambda * floor(clip(z / lambda, 0, 1) L + 1/2) / L`` (the same values), as in Bu
    et al.'s code, so that the gradient reaches ``lambda`` through the clip and the straight-through
    floor.

    Args:
        z: pre-activations, any shape.
        threshold: ``lambda`` > 0 (broadcasts against ``z``).
        levels: ``L`` >= 1, the number of non-zero output levels.
    """
    x = jnp.clip(z / threshold, 0.0, 1.0)
    return threshold * _floor_ste(x * levels + 0.5) / levels


# --------------------------------------------------------------------------------------------
# Config and model
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ConversionConfig(JsonConfig):
    """Everything that defines a conversion network (stored in checkpoints as JSON).

    Attributes:
        architecture, image_shape, hidden, conv_channels, kernel_size, pool, n_classes: the
            network, as :class:`~memsnn.training.surrogate.SurrogateConfig` (default ``"conv"``,
            ``16C5-AP2-32C5-AP2-FC10``).
        activation: ``"relu"`` or ``"qcfs"``.
        levels: ``L`` of QCFS (quantisation levels of every hidden layer).
        qcfs_threshold: initial ``lambda`` of QCFS (trained).
        batch_norm: batch normalisation after each hidden array (folded when converting).
        normalisation: ``"model"``, ``"max"``, ``"percentile"`` or ``"qcfs"`` (module docstring);
            ``None``: ``"qcfs"`` for the QCFS activation, else ``"percentile"``.
        percentile: ``p`` of ``"percentile"``, in (0, 100].
        balance: ``"threshold"`` or ``"weights"``.
        neuron: ``"if"`` or ``"lif"`` (leaky, ``beta`` per step: conversion assumes no leak).
        beta: LIF decay per step, in (0, 1).
        reset: ``"subtract"`` or ``"zero"``.
        initial_membrane: ``"zero"`` or ``"half"`` (theta / 2); ``None``: ``"half"`` for QCFS, else
            ``"zero"``.
        encoding: ``"analog"`` (constant current) or ``"rate"`` (Bernoulli spikes).
        calibration_samples: training images used for the data-based scales (and batch-norm
            statistics).
        n_steps: ``None``: :func:`conversion_predict` is the ANN's; ``T``: the converted SNN
            simulated for ``T`` steps.
        eval_steps: the T values at which ``memsnn train`` evaluates the SNN after training.
        calibrated: set by :func:`calibrate` (not an option): the model's scales and batch-norm
            statistics are its own, so its SNN can be simulated.
        dtype: ``"float32"`` or ``"float64"``.
    """

    architecture: str = "conv"
    image_shape: tuple[int, int, int] = (1, 28, 28)
    hidden: tuple[int, ...] = (500,)
    conv_channels: tuple[int, ...] = (16, 32)
    kernel_size: int = 5
    pool: int = 2
    n_classes: int = 10
    activation: str = "qcfs"
    levels: int = 8
    qcfs_threshold: float = 2.0
    batch_norm: bool = False
    normalisation: str | None = None
    percentile: float = 99.9
    balance: str = "threshold"
    neuron: str = "if"
    beta: float = 0.99
    reset: str = "subtract"
    initial_membrane: str | None = None
    encoding: str = "analog"
    calibration_samples: int = 10000
    n_steps: int | None = None
    eval_steps: tuple[int, ...] = DEFAULT_EVAL_STEPS
    calibrated: bool = False
    dtype: str = "float32"

    def __post_init__(self):
        for name in ("image_shape", "hidden", "conv_channels", "eval_steps"):
            object.__setattr__(self, name, tuple(int(h) for h in getattr(self, name)))
        if self.normalisation is None:
            object.__setattr__(self, "normalisation", "qcfs" if self.activation == "qcfs" else "percentile")
        if self.initial_membrane is None:
            object.__setattr__(self, "initial_membrane", "half" if self.activation == "qcfs" else "zero")
        choices = {"architecture": ARCHITECTURES, "activation": ACTIVATIONS, "normalisation": NORMALISATIONS,
                   "balance": BALANCES, "neuron": NEURONS, "reset": RESETS, "initial_membrane": INITIAL_MEMBRANES,
                   "encoding": ENCODINGS, "dtype": ("float32", "float64")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"ConversionConfig: {name} must be one of {allowed}, got {getattr(self, name)!r}.")
        if self.normalisation == "qcfs" and self.activation != "qcfs":
            raise ValueError("ConversionConfig: normalisation='qcfs' uses the trained QCFS thresholds, so it needs "
                             f"activation='qcfs' (got {self.activation!r}); for a ReLU network choose 'model', "
                             "'max' or 'percentile'.")
        owner = "ConversionConfig"
        check_setting(owner, "levels", self.levels, low=1, integer=True, hint="QCFS quantisation levels")
        check_setting(owner, "qcfs_threshold", self.qcfs_threshold, low=0, low_open=True)
        check_setting(owner, "percentile", self.percentile, low=0, high=100, low_open=True)
        check_setting(owner, "beta", self.beta, low=0, high=1, low_open=True, hint="LIF decay per step")
        if self.beta == 1:
            raise ValueError("ConversionConfig: beta must be < 1 for a LIF neuron, got 1 (beta = 1 is the IF "
                             "neuron: neuron='if').")
        check_setting(owner, "calibration_samples", self.calibration_samples, low=1, integer=True)
        check_setting(owner, "n_steps", self.n_steps, low=1, integer=True, allow_none=True,
                      hint="SNN time steps; None evaluates the ANN")
        if not self.eval_steps or min(self.eval_steps) < 1:
            raise ValueError(f"ConversionConfig: eval_steps must be positive step counts, got {self.eval_steps}.")
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ValueError(f"ConversionConfig: image_shape must be (C, H, W), got {self.image_shape}.")
        if any(h < 1 for h in self.hidden + self.conv_channels) or self.n_classes < 2:
            raise ValueError("ConversionConfig: layer sizes must be positive and n_classes >= 2, got "
                             f"hidden={self.hidden}, conv_channels={self.conv_channels}, n_classes={self.n_classes}.")

    @property
    def n_inputs(self) -> int:
        c, h, w = self.image_shape
        return c * h * w

    @property
    def needs_calibration(self) -> bool:
        """Whether the SNN needs :func:`calibrate` first (data-based or model-based scales, batch norm)."""
        return self.normalisation != "qcfs" or self.batch_norm

    def check_calibrated(self, owner: str) -> None:
        """Raise a ``ValueError`` saying what to do if the SNN cannot be simulated yet."""
        if self.needs_calibration and not self.calibrated:
            raise ValueError(f"{owner}: the network has not been calibrated (its {self.normalisation} scales"
                             f"{' and batch-norm statistics' if self.batch_norm else ''} come from training "
                             "images), so its SNN cannot be simulated. Evaluate the converted network that "
                             "`memsnn train --method conversion` writes (OUT/converted.eqx), or call "
                             "memsnn.training.conversion.calibrate(model, train_images) first.")


_CALIBRATION_SETTINGS = ("normalisation", "percentile", "calibration_samples")


def _channels(array) -> int:
    """Batch-norm features of an array's output: channels of a convolution, neurons of a dense layer."""
    return array.out_shape[0] if isinstance(array, Conv2d) else array.n_outputs


class ConversionNet(eqx.Module):
    """The ANN to convert: synapse arrays, QCFS thresholds, batch norm and conversion scales.

    Attributes:
        arrays: one :class:`~memsnn.Dense` / :class:`~memsnn.arrays.Conv2d` per layer (the last
            gives the logits).
        thresholds: per hidden layer, QCFS ``lambda`` (a scalar; trained with ``activation="qcfs"``).
        bn_scale, bn_shift: per hidden layer, batch-norm ``gamma`` and ``beta`` ``(channels,)``
            (empty tuples without batch norm).
        bn_mean, bn_var: per hidden layer, population mean and variance of the pre-activations
            ``(channels,)``, set by :func:`calibrate` (variance -1 before: the ANN then normalises
            with the statistics of the batch it is given).
        scales: per hidden layer, the conversion scale ``lambda_l``, set by :func:`calibrate` (0
            before).
        config: the :class:`ConversionConfig` (static).
    """

    arrays: tuple
    thresholds: tuple
    bn_scale: tuple
    bn_shift: tuple
    bn_mean: tuple
    bn_var: tuple
    scales: tuple
    config: ConversionConfig = eqx.field(static=True)

    def __init__(self, config: ConversionConfig, *, key: PRNGKeyArray):
        dtype = jnp.dtype(config.dtype)
        # The layers of the surrogate-gradient network, with the same sizes (one definition of them).
        arrays = cast_floats(layout_arrays(Layout.of(config), key), dtype)
        hidden = arrays[:-1]
        self.arrays = arrays
        self.thresholds = tuple(jnp.asarray(config.qcfs_threshold, dtype) for _ in hidden)
        widths = [_channels(a) for a in hidden] if config.batch_norm else []
        self.bn_scale = tuple(jnp.ones((n,), dtype) for n in widths)
        self.bn_shift = tuple(jnp.zeros((n,), dtype) for n in widths)
        # Unset until calibrate(): a negative variance and a zero scale (finite, so that the
        # training loop's NaN guard does not mistake them for a diverged run).
        self.bn_mean = tuple(jnp.zeros((n,), dtype) for n in widths)
        self.bn_var = tuple(jnp.full((n,), -1.0, dtype) for n in widths)
        self.scales = tuple(jnp.zeros((), dtype) for _ in hidden)
        self.config = config

    def _normalise(self, i: int, z: Float[Array, "batch n"], array) -> Float[Array, "batch n"]:
        """Batch norm of hidden layer ``i``: population statistics once calibrated, else the batch's."""
        c = _channels(array)
        per_channel = z.reshape(z.shape[0], c, -1)
        batch_mean = jnp.mean(per_channel, axis=(0, 2))
        batch_var = jnp.var(per_channel, axis=(0, 2))
        unset = self.bn_var[i] < 0
        mean = jnp.where(unset, batch_mean, self.bn_mean[i])
        var = jnp.where(unset, batch_var, self.bn_var[i])
        scale = self.bn_scale[i] / jnp.sqrt(var + _BN_EPS)
        out = (per_channel - mean[None, :, None]) * scale[None, :, None] + self.bn_shift[i][None, :, None]
        return out.reshape(z.shape)

    def activations(self, images: Float[Array, "batch n_inputs"]) -> tuple:
        """Per layer, the ANN's outputs ``(batch, n)``: activations of hidden layers, then the logits."""
        c = self.config
        if images.ndim != 2 or images.shape[1] != c.n_inputs:
            raise ValueError(f"ConversionNet: images must be (batch, {c.n_inputs}) (flattened {c.image_shape}), "
                             f"got shape {images.shape}.")
        x = images.astype(jnp.dtype(c.dtype))
        outputs = []
        for i, array in enumerate(self.arrays):
            z = jax.vmap(array)(x)
            if i == len(self.arrays) - 1:
                outputs.append(z)
                break
            if c.batch_norm:
                z = self._normalise(i, z, array)
            x = qcfs(z, self.thresholds[i], c.levels) if c.activation == "qcfs" else jax.nn.relu(z)
            outputs.append(x)
        return tuple(outputs)

    def __call__(self, images: Float[Array, "batch n_inputs"]) -> Float[Array, "batch n_classes"]:
        """The ANN's logits."""
        return self.activations(images)[-1]


_BN_EPS = 1e-5


def build_conversion(config: ConversionConfig | dict, *, key: PRNGKeyArray) -> ConversionNet:
    """A freshly initialised :class:`ConversionNet` (PyTorch-style uniform weights, with biases)."""
    if isinstance(config, dict):
        config = ConversionConfig.from_dict(config)
    return ConversionNet(config, key=key)


def with_settings(model: ConversionNet, **changes) -> ConversionNet:
    """The same trained network with other conversion settings, e.g. ``normalisation="max"``,
    ``balance="weights"``, ``n_steps=16`` (settings that change the leaves, such as the layer
    sizes or ``batch_norm``, are refused).

    Changing ``normalisation``, ``percentile`` or ``calibration_samples`` marks the network as not
    calibrated: call :func:`calibrate` again.
    """
    if set(changes) & set(_CALIBRATION_SETTINGS):
        changes = {"calibrated": False, **changes}
    config = dataclasses.replace(model.config, **changes)
    like = jax.eval_shape(lambda: ConversionNet(config, key=jax.random.key(0)))
    leaves = jax.tree.leaves(model)
    if [jnp.shape(x) for x in leaves] != [x.shape for x in jax.tree.leaves(like)]:
        raise ValueError(f"with_settings: {sorted(changes)} change the network's parameters; only conversion and "
                         "simulation settings can change on a trained network.")
    return jax.tree.unflatten(jax.tree.structure(like), leaves)


# --------------------------------------------------------------------------------------------
# Scales and calibration
# --------------------------------------------------------------------------------------------


def fold_batch_norm(array, scale, shift, mean, var, eps: float = _BN_EPS):
    """The array followed by batch norm, as one array: ``W' = W g``, ``b' = (b - mean) g + shift``
    with ``g = scale / sqrt(var + eps)`` per output channel (per neuron for a dense layer).

    Average pooling is linear and per channel, so it commutes with the per-channel affine map.
    """
    gain = scale / jnp.sqrt(var + eps)
    bias = jnp.zeros_like(gain) if array.bias is None else array.bias
    weight = array.weight * gain.reshape((-1,) + (1,) * (array.weight.ndim - 1))
    new_bias = (bias - mean) * gain + shift
    if array.bias is None:
        array = eqx.tree_at(lambda a: a.bias, array, new_bias, is_leaf=lambda x: x is None)
    else:
        array = eqx.tree_at(lambda a: a.bias, array, new_bias)
    return eqx.tree_at(lambda a: a.weight, array, weight)


def _folded_arrays(model: ConversionNet) -> tuple:
    """The arrays with batch norm folded in (the arrays themselves without batch norm)."""
    if not model.config.batch_norm:
        return model.arrays
    if any(bool(jnp.any(v < 0)) for v in model.bn_var):
        raise ValueError("conversion: the batch-norm statistics were never computed; call "
                         "memsnn.training.conversion.calibrate(model, train_images) first.")
    hidden = tuple(fold_batch_norm(a, *p) for a, *p in zip(model.arrays[:-1], model.bn_scale, model.bn_shift,
                                                              model.bn_mean, model.bn_var))
    return hidden + model.arrays[-1:]


def model_based_scales(model: ConversionNet, input_max: float = 1.0) -> tuple[float, ...]:
    """Per hidden layer, the largest activation the weights allow (max weight sum, Diehl et al. 2015).

    ``lambda_l = max_j (sum_i max(W_ji, 0) lambda_{l-1} + max(b_j, 0))``, ``lambda_0 = input_max``;
    for a convolution ``j`` is an output channel and ``i`` runs over its kernel; average pooling
    cannot exceed its largest input. A bound for ReLU; for QCFS the activation is also <= lambda.
    """
    bound, scales = float(input_max), []
    for array in _folded_arrays(model)[:-1]:
        w = np.asarray(array.weight).reshape(array.weight.shape[0], -1)
        b = np.zeros(w.shape[0]) if array.bias is None else np.asarray(array.bias)
        bound = float(np.max(np.maximum(w, 0).sum(axis=1) * bound + np.maximum(b, 0)))
        scales.append(bound)
    return tuple(scales)


def _batches(images, batch_size: int):
    for start in range(0, len(images), batch_size):
        yield jnp.asarray(images[start:start + batch_size])


def _stat(values: np.ndarray, normalisation: str, percentile: float) -> float:
    if normalisation == "max":
        return float(values.max())
    return float(np.percentile(values, percentile))


def activation_scales(model: ConversionNet, images, *, normalisation: str | None = None,
                      percentile: float | None = None, batch_size: int = 500) -> tuple[float, ...]:
    """Per hidden layer, the data-based scale: the max or ``p``-th percentile of its activations.

    Args:
        model: the ANN (with its batch-norm statistics, if it has batch norm).
        images: ``(N, n_inputs)`` calibration images (training images, in [0, 1]).
        normalisation: ``"max"`` or ``"percentile"`` (default: the model's).
        percentile: ``p`` in (0, 100] (default: the model's).
        batch_size: images per ANN forward pass.
    """
    normalisation = normalisation or model.config.normalisation
    percentile = model.config.percentile if percentile is None else percentile
    if normalisation not in ("max", "percentile"):
        raise ValueError(f"activation_scales: normalisation must be 'max' or 'percentile', got {normalisation!r}.")
    check_setting("activation_scales", "percentile", percentile, low=0, high=100, low_open=True)
    forward = eqx.filter_jit(lambda m, x: m.activations(x)[:-1])
    per_layer = [[] for _ in model.arrays[:-1]]
    for x in _batches(np.asarray(images), batch_size):
        for store, a in zip(per_layer, forward(model, x)):
            store.append(np.asarray(a).ravel())
    return tuple(_stat(np.concatenate(s), normalisation, percentile) for s in per_layer)


def _batch_norm_statistics(model: ConversionNet, images, batch_size: int) -> ConversionNet:
    """Population mean and variance of every batch-normalised pre-activation over ``images``,
    layer by layer (each layer's statistics are used for the layers above it)."""
    for i in range(len(model.arrays) - 1):
        @eqx.filter_jit
        def pre_activation(m, x, i=i):
            # Layer i's input comes from the layers below, already normalised with population stats.
            a = x if i == 0 else m.activations(x)[i - 1]
            z = jax.vmap(m.arrays[i])(a)
            per_channel = z.reshape(z.shape[0], _channels(m.arrays[i]), -1)
            return jnp.sum(per_channel, axis=(0, 2)), jnp.sum(per_channel ** 2, axis=(0, 2)), per_channel.shape[2]
        total, total_sq, count = 0.0, 0.0, 0
        for x in _batches(np.asarray(images), batch_size):
            s, s2, n = pre_activation(model, x)
            total, total_sq, count = total + np.asarray(s, np.float64), total_sq + np.asarray(s2, np.float64), \
                count + int(n) * x.shape[0]
        mean = total / count
        var = np.maximum(total_sq / count - mean ** 2, 0.0)
        dtype = model.bn_mean[i].dtype
        model = eqx.tree_at(lambda m: (m.bn_mean[i], m.bn_var[i]), model,
                            (jnp.asarray(mean, dtype), jnp.asarray(var, dtype)))
    return model


def calibrate(model: ConversionNet, images, *, batch_size: int = 500) -> ConversionNet:
    """The model with its population batch-norm statistics and its conversion scales set.

    Args:
        model: the trained ANN.
        images: ``(N, n_inputs)`` training images; the first ``config.calibration_samples`` are used.

    Returns:
        The model with ``bn_mean``/``bn_var`` (batch norm) and ``scales`` (the normalisation of
        ``config.normalisation``: data-based, model-based or the QCFS thresholds) filled in.
    """
    c = model.config
    images = np.asarray(images)
    if images.ndim != 2 or images.shape[1] != c.n_inputs or len(images) == 0:
        raise ValueError(f"calibrate: images must be (N >= 1, {c.n_inputs}), got shape {images.shape}.")
    images = images[: c.calibration_samples]
    if c.batch_norm:
        model = _batch_norm_statistics(model, images, batch_size)
    if c.normalisation in ("max", "percentile"):
        scales = activation_scales(model, images, batch_size=batch_size)
    elif c.normalisation == "model":
        scales = model_based_scales(model)
    else:
        scales = tuple(float(t) for t in model.thresholds)
    dtype = jnp.dtype(c.dtype)
    model = eqx.tree_at(lambda m: m.scales, model, tuple(jnp.asarray(s, dtype) for s in scales))
    return with_settings(model, calibrated=True)


def conversion_scales(model: ConversionNet) -> tuple:
    """The ``lambda_l`` the conversion uses: the QCFS thresholds (``"qcfs"``, always current) or the
    scales stored by :func:`calibrate` (traced arrays: usable under ``jit``)."""
    if model.config.normalisation == "qcfs":
        return model.thresholds
    return model.scales


# --------------------------------------------------------------------------------------------
# The converted SNN
# --------------------------------------------------------------------------------------------


def _scaled(array, weight_gain, bias_gain):
    array = eqx.tree_at(lambda a: a.weight, array, array.weight * weight_gain)
    if array.bias is not None:
        array = eqx.tree_at(lambda a: a.bias, array, array.bias * bias_gain)
    return array


def _folded_arrays_traced(model: ConversionNet) -> tuple:
    # Like _folded_arrays, without the eager check (under jit, conversion_predict checks with error_if).
    if not model.config.batch_norm:
        return model.arrays
    hidden = tuple(fold_batch_norm(a, *p) for a, *p in zip(model.arrays[:-1], model.bn_scale, model.bn_shift,
                                                              model.bn_mean, model.bn_var))
    return hidden + model.arrays[-1:]


def snn_network(model: ConversionNet, scales=None) -> tuple[Network, tuple]:
    """The converted :class:`memsnn.Network` and each layer's initial membrane potential.

    Args:
        model: the ANN (calibrated if it uses batch norm or a data-based normalisation).
        scales: per hidden layer ``lambda_l`` (default: :func:`conversion_scales`).
        throw: as in :func:`memsnn.simulate`; with ``False`` a failed sample's outputs are NaN.

    Returns:
        ``(network, v0)``: the network (``dt = 1``, capacitance 1; the output layer integrates
        without firing) and per layer the initial membrane (a scalar V).
    """
    c = model.config
    scales = conversion_scales(model) if scales is None else tuple(scales)
    arrays = _folded_arrays_traced(model)
    dtype = jnp.dtype(c.dtype)
    layers, v0, previous = [], [], jnp.asarray(1.0, dtype)  # lambda_0 = 1: inputs in [0, 1]
    for i, array in enumerate(arrays):
        if i == len(arrays) - 1:
            # Read out by the membrane: a neuron whose threshold nothing reaches, without reset.
            array = _scaled(array, previous, 1.0)
            neuron = IF(threshold=jnp.finfo(dtype).max, reset="none")
            layers.append(Layer(array, None, cast_floats(neuron, dtype)))
            v0.append(jnp.zeros((), dtype))
            break
        lam = jnp.asarray(scales[i], dtype)
        if c.balance == "threshold":
            array, threshold = _scaled(array, previous, 1.0), lam
        else:
            array, threshold = _scaled(array, previous / lam, 1.0 / lam), jnp.ones((), dtype)
        if c.neuron == "if":
            neuron = IF(threshold=threshold, reset=c.reset)
        else:
            tau = 1.0 / (1.0 - c.beta)  # per-step decay beta with dt = 1 and R = tau
            neuron = LIF(tau=tau, resistance=tau, threshold=threshold, reset=c.reset)
        layers.append(Layer(array, None, cast_floats(neuron, dtype)))
        v0.append(threshold / 2 if c.initial_membrane == "half" else jnp.zeros((), dtype))
        previous = lam  # a spike of this layer stands for lambda_l of activation
    return Network(layers), tuple(v0)


def _stimulus(model: ConversionNet, images, n_steps: int, key) -> Current:
    c = model.config
    images = images.astype(jnp.dtype(c.dtype))
    if c.encoding == "analog":
        return Current(images)
    if key is None:
        # Deterministic given the batch (as surrogate.py): the same images, the same spike trains.
        seed = jax.lax.bitcast_convert_type(jnp.sum(images, dtype=jnp.float32), jnp.uint32)
        key = jax.random.fold_in(jax.random.key(0), seed)
    return Current(rate_code(images, n_steps, key).astype(images.dtype))


def _simulate(model: ConversionNet, images, n_steps: int, key, record: tuple, scales=None, throw: bool = True):
    """One :func:`memsnn.simulate` run of the converted network (``initial_membrane`` applied)."""
    c = model.config
    if images.ndim != 2 or images.shape[1] != c.n_inputs:
        raise ValueError(f"conversion: images must be (batch, {c.n_inputs}) (flattened {c.image_shape}), "
                         f"got shape {images.shape}.")
    check_setting("conversion", "n_steps", n_steps, low=1, integer=True, hint="SNN time steps")
    network, v0 = snn_network(model, scales)
    initial = None
    if c.initial_membrane == "half":
        state = tuple(s._replace(neuron=LIFState(v=jnp.full_like(s.neuron.v, v)))
                      for s, v in zip(network.init_state(), v0))
        initial = jax.tree.map(lambda x: jnp.broadcast_to(x, (images.shape[0],) + x.shape), state)
    # Layer-wise: each convolution is applied to all steps at once, outside the time loop.
    return simulate(network, _stimulus(model, images, n_steps, key), dt=1.0, n_steps=int(n_steps), record=record,
                    layerwise=c.architecture == "conv", initial_state=initial, throw=throw)


def run_snn(model: ConversionNet, images: Float[Array, "batch n_inputs"], n_steps: int, *,
            key: PRNGKeyArray | None = None, record_spikes: bool = False, scales=None, throw: bool = True):
    """Simulate the converted network on a batch for ``n_steps`` steps.

    Args:
        model: the ANN (calibrated if it needs to be: see :func:`calibrate`).
        images: ``(batch, n_inputs)`` in [0, 1].
        n_steps: T.
        key: spike trains of rate-coded input (default: derived from the batch).
        record_spikes: also return the hidden layers' spikes.
        scales: per hidden layer ``lambda_l`` (default: :func:`conversion_scales`).
        throw: as in :func:`memsnn.simulate`; with ``False`` a failed sample's outputs are NaN.

    Returns:
        ``(membrane, spikes)``: the output layer's membrane after the last step ``(batch,
        n_classes)`` (the sum over steps of its input: about T times the ANN's logits), and, with
        ``record_spikes``, per hidden layer the spikes ``(batch, n_steps, n)`` (else ``None``).
    """
    trace = _simulate(model, images, n_steps, key, ("spikes",) if record_spikes else (), scales, throw)
    membrane, spikes = trace.final_state[-1].neuron.v, (trace.spikes[:-1] if record_spikes else None)
    if throw:
        return membrane, spikes
    return trace.failed_as_nan(membrane), (None if spikes is None else tuple(map(trace.failed_as_nan, spikes)))


def _snn_batch(model: ConversionNet, n_steps: int, limit: int = 1000) -> int:
    """Images per simulation so that the recorded spikes and membranes stay within ``_SPIKE_BUDGET``
    floats: the largest divisor of ``limit`` (a batch size) that fits."""
    neurons = 2 * sum(a.n_outputs for a in model.arrays)
    fits = max(1, _SPIKE_BUDGET // (n_steps * neurons))
    return max(d for d in range(1, min(fits, limit) + 1) if limit % d == 0)


def conversion_loss(model: ConversionNet, images: Float[Array, "batch n_inputs"], labels: Int[Array, " batch"],
                    *, key: PRNGKeyArray | None = None, throw: bool = True
                    ) -> tuple[Float[Array, ""], Int[Array, " batch"]]:
    """Cross-entropy of the ANN's logits (batch mean) and its predicted classes ``(batch,)``
    (the ANN is not simulated: ``throw`` has nothing to report)."""
    logits = model(images)
    log_p = jax.nn.log_softmax(logits, axis=-1)
    loss = -jnp.mean(jnp.take_along_axis(log_p, labels.astype(jnp.int32)[:, None], axis=-1))
    return loss, jnp.argmax(logits, axis=-1)


def conversion_predict(model: ConversionNet, images: Float[Array, "batch n_inputs"], *,
                       key: PRNGKeyArray | None = None, throw: bool = True) -> Int[Array, " batch"]:
    """Predicted classes ``(batch,)``: the ANN's (``config.n_steps`` is ``None``) or the converted
    SNN's after ``config.n_steps`` steps (the largest output membrane). ``throw=False``: a sample
    whose simulation failed gets :data:`~memsnn.training.learner.FAILED`."""
    c = model.config
    if c.n_steps is None:
        return jnp.argmax(model(images), axis=-1)
    c.check_calibrated("conversion_predict")  # static: raised while tracing, before anything runs
    batch = images.shape[0]
    chunk = _snn_batch(model, c.n_steps, limit=batch)
    # In chunks of images (one compiled simulation, run by lax.map) to bound the memory.
    keys = jax.random.split(jax.random.key(0) if key is None else key, batch // chunk)
    parts = images.reshape(batch // chunk, chunk, -1)
    def predict(a):
        membrane = run_snn(model, a[0], c.n_steps, key=a[1] if key is not None else None, throw=throw)[0]
        return failed_where_nonfinite(jnp.argmax(membrane, axis=-1), membrane)

    return jax.lax.map(predict, (parts, keys)).reshape(batch)


def conversion_trainable(model: ConversionNet):
    """Filter spec: weights and biases, batch-norm scale and shift, and the QCFS thresholds."""
    spec = jax.tree.map(lambda _: False, model)
    spec = eqx.tree_at(lambda m: m.arrays, spec, replace=jax.tree.map(eqx.is_inexact_array, model.arrays))
    spec = eqx.tree_at(lambda m: (m.bn_scale, m.bn_shift), spec,
                       replace=(tuple(True for _ in model.bn_scale), tuple(True for _ in model.bn_shift)))
    if model.config.activation == "qcfs":
        spec = eqx.tree_at(lambda m: m.thresholds, spec, replace=tuple(True for _ in model.thresholds))
    return spec


# --------------------------------------------------------------------------------------------
# Evaluation at several T
# --------------------------------------------------------------------------------------------


def evaluate_snn(model: ConversionNet, images, labels, *, steps=None, key: PRNGKeyArray | None = None,
                 progress: bool = False) -> list[dict]:
    """Test accuracy and per-layer firing rates of the converted SNN at each T in ``steps``.

    The whole run is simulated once for ``max(steps)`` steps; the accuracy at T reads the output
    membrane after T steps (the same as a run of T steps: the network is causal).

    Args:
        model: a calibrated :class:`ConversionNet` (see :func:`calibrate`).
        images, labels: ``(N, n_inputs)`` and ``(N,)`` NumPy arrays.
        steps: T values (default ``config.eval_steps``).
        key: spike trains of rate-coded input (default: derived from each batch).
        progress: show a progress bar.

    Returns:
        One dict per T: ``steps``, ``accuracy``, ``firing_rates`` (per hidden layer, spikes per
        neuron per step averaged over the images and the T steps), ``seconds_per_image`` (wall
        time of the simulation of all ``max(steps)`` steps per simulated image, after a warm-up
        call that compiles; the same for every row).
    """
    c = model.config
    steps = tuple(int(t) for t in (c.eval_steps if steps is None else steps))
    if not steps or min(steps) < 1:
        raise ValueError(f"evaluate_snn: steps must be positive integers, got {steps}.")
    images, labels = np.asarray(images), np.asarray(labels)
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"evaluate_snn: {len(images)} images and {len(labels)} labels; give as many of each (>= 1).")
    c.check_calibrated("evaluate_snn")
    t_max = max(steps)
    batch = _snn_batch(model, t_max)
    marks = jnp.asarray(steps) - 1

    @eqx.filter_jit
    def run(m, x, k):
        trace = _simulate(m, x, t_max, k, ("spikes", "membrane_potential"))
        membrane, spikes = trace.membrane_potential[-1], trace.spikes[:-1]
        predictions = jnp.argmax(membrane[:, marks], axis=-1)  # (batch, len(steps))
        counts = tuple(jnp.cumsum(jnp.sum(s, axis=(0, 2)))[marks] / s.shape[2] for s in spikes)
        return predictions, counts

    correct = np.zeros(len(steps))
    rates = np.zeros((len(steps), len(model.arrays) - 1))
    seconds, n = 0.0, len(images)
    from tqdm.auto import tqdm

    starts = range(0, n, batch)
    warm_key = None if key is None else jax.random.fold_in(key, 0)
    jax.block_until_ready(run(model, jnp.asarray(images[np.arange(batch) % n]), warm_key))  # compile
    for b, start in enumerate(tqdm(starts, desc=f"SNN T<={t_max}", disable=not progress, leave=False)):
        idx = np.arange(start, start + batch) % n  # pad the last batch: one compiled shape
        k = None if key is None else jax.random.fold_in(key, b)
        tic = time.perf_counter()
        predictions, counts = jax.block_until_ready(run(model, jnp.asarray(images[idx]), k))
        seconds += time.perf_counter() - tic
        predictions = np.asarray(predictions)
        keep = min(batch, n - start)
        correct += np.sum(predictions[:keep] == labels[start:start + keep, None], axis=0)
        # Rates over the padded batch; padding repeats real images, a negligible bias on the mean.
        rates += np.stack([np.asarray(cnt) for cnt in counts], axis=1) * keep / batch
    return [{"steps": t, "accuracy": float(correct[j] / n),
             "firing_rates": [float(r / n / t) for r in rates[j]],
             "seconds_per_image": seconds / (len(starts) * batch)} for j, t in enumerate(steps)]


# --------------------------------------------------------------------------------------------
# After training: calibrate, convert, evaluate at every T (memsnn train --method conversion)
# --------------------------------------------------------------------------------------------

CONVERTED_NAME = "converted.eqx"
RESULTS_NAME = "conversion.json"


def convert_and_evaluate(model: ConversionNet, train_images, test_images, test_labels, *, steps=None,
                         progress: bool = False) -> tuple[ConversionNet, dict]:
    """Calibrate ``model`` on training images, then test the ANN and its SNN at each T.

    Returns:
        ``(calibrated model, report)``; the report holds ``ann_accuracy``, ``scales`` (``lambda_l``
        per hidden layer), the settings of the conversion and ``snn`` (one row per T, see
        :func:`evaluate_snn`).
    """
    c = model.config
    model = calibrate(model, train_images)
    predict = eqx.filter_jit(lambda m, x: jnp.argmax(m(x), axis=-1))
    predictions = np.concatenate([np.asarray(predict(model, x)) for x in _batches(np.asarray(test_images), 1000)])
    report = {
        "ann_accuracy": float(np.mean(predictions == np.asarray(test_labels))),
        "n_test": int(len(test_labels)),
        "scales": [float(s) for s in conversion_scales(model)],
        "settings": {k: getattr(c, k) for k in ("activation", "levels", "normalisation", "percentile", "balance",
                                                 "neuron", "reset", "initial_membrane", "encoding",
                                                 "calibration_samples")},
        "snn": evaluate_snn(model, test_images, test_labels, steps=steps, progress=progress),
    }
    return model, report


def _after_training(result, *, config: dict, train_data, test_data, out_dir, progress: bool):
    """``memsnn train --method conversion``, once the ANN is trained: convert, evaluate, save.

    Writes ``OUT/conversion.json`` (the accuracy table) and ``OUT/converted.eqx`` (the calibrated
    network, evaluated as the SNN at the largest T by ``memsnn evaluate``), prints the table, and
    returns the :class:`~memsnn.training.loop.FitResult` with the calibrated model.
    """
    from .checkpoint import save_checkpoint

    done = result.history[-1]["epoch"] if result.history else 0
    if test_data is None or done < config["epochs"]:
        return result  # stopped early: convert when the run is complete
    model, report = convert_and_evaluate(result.model, train_data[0], *test_data, progress=progress)
    c = model.config
    print(f"ANN test accuracy {100 * report['ann_accuracy']:.2f}%; converted SNN ({c.normalisation} normalisation, "
          f"{c.encoding} input, reset by {c.reset}, initial membrane {c.initial_membrane}):")
    print("     T  accuracy  firing rate per hidden layer (spikes/step)")
    for row in report["snn"]:
        rates = " ".join(f"{r:.3f}" for r in row["firing_rates"])
        print(f"  {row['steps']:4d}  {100 * row['accuracy']:7.2f}%  {rates}")
    if out_dir is None:
        return dataclasses.replace(result, model=model)
    out = Path(out_dir)
    (out / RESULTS_NAME).write_text(json.dumps(report, indent=2) + "\n")
    converted = {**config, "model": {**config["model"], "n_steps": max(c.eval_steps), "calibrated": True}}
    path = save_checkpoint(out / CONVERTED_NAME, model, None,
                           {"config": converted, "epoch": done, "history": result.history, "conversion": report})
    print(f"conversion table: {out / RESULTS_NAME}; converted SNN: {path} "
          f"(memsnn evaluate {path} --steps T)")
    return dataclasses.replace(result, model=model, checkpoint=path)


def _arguments(group: argparse._ArgumentGroup) -> None:
    positive = cli_type(int, low=1, integer=True)
    group.add_argument("--architecture", choices=ARCHITECTURES, help="conv (default) or dense")
    group.add_argument("--hidden", type=positive, nargs="+", metavar="N", help="dense hidden sizes (default 500)")
    group.add_argument("--conv-channels", type=positive, nargs="+", metavar="C",
                       help="channels of the conv layers (default 16 32: 16C5-AP2-32C5-AP2-FC10)")
    group.add_argument("--activation", choices=ACTIVATIONS, help="qcfs (default, Bu et al. 2022) or relu")
    group.add_argument("--levels", type=positive, metavar="L", help="QCFS quantisation levels (default 8)")
    group.add_argument("--qcfs-threshold", type=cli_type(float, low=0, low_open=True), metavar="LAMBDA",
                       help="initial QCFS threshold lambda, trained (default 2)")
    group.add_argument("--batch-norm", action="store_true", default=None,
                       help="batch normalisation after each hidden layer (folded into the weights)")
    group.add_argument("--normalisation", choices=NORMALISATIONS,
                       help="scales of the conversion: qcfs (the trained thresholds; default with qcfs), "
                            "percentile (default with relu), max, or model (max weight sum)")
    group.add_argument("--percentile", type=cli_type(float, low=0, high=100, low_open=True), metavar="P",
                       help="percentile of --normalisation percentile (default 99.9)")
    group.add_argument("--balance", choices=BALANCES,
                       help="threshold (thresholds = scales, default) or weights (weights divided by the scales)")
    group.add_argument("--neuron", choices=NEURONS, help="if (default) or lif")
    group.add_argument("--beta", type=cli_type(float, low=0, high=1, low_open=True),
                       help="LIF decay per step (default 0.99)")
    group.add_argument("--reset", choices=RESETS, help="subtract (default) or zero")
    group.add_argument("--initial-membrane", choices=INITIAL_MEMBRANES,
                       help="zero or half the threshold (default: half with qcfs, else zero)")
    group.add_argument("--encoding", choices=ENCODINGS, help="analog constant current (default) or rate spikes")
    group.add_argument("--calibration-samples", type=positive, metavar="N",
                       help="training images for the data-based scales (default 10000)")
    group.add_argument("--eval-steps", type=positive, nargs="+", metavar="T",
                       help="T values at which the SNN is tested after training (default 4 8 16 32 64 128)")
    group.add_argument("--dtype", choices=("float32", "float64"), help="floating point type (default float32)")


def _config_from_args(args: argparse.Namespace) -> dict:
    names = ("architecture", "hidden", "conv_channels", "activation", "levels", "qcfs_threshold", "batch_norm",
             "normalisation", "percentile", "balance", "neuron", "beta", "reset", "initial_membrane", "encoding",
             "calibration_samples", "eval_steps", "dtype")
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


CONVERSION = Method(
    name="conversion",
    summary="train a ReLU/QCFS ANN, convert it to IF neurons and test the SNN at several T",
    model_config=lambda overrides: ConversionConfig.from_dict(overrides).to_dict(),
    build=build_conversion,
    loss=conversion_loss,
    predict=conversion_predict,
    trainable=conversion_trainable,
    add_arguments=_arguments,
    config_from_args=_config_from_args,
    defaults={"epochs": 8, "batch_size": 128, "lr": 1e-3, "schedule": "cosine", "weight_decay": 0.0,
              "clip_norm": None, "eval_batch_size": 1000},
    after_training=_after_training,
)
