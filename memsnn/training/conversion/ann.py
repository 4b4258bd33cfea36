"""The ANN that is converted: its config, its layers (the layout of the surrogate network with an
activation, ReLU or QCFS, and optional batch norm), its loss and trained leaves, and batch norm
folded into the arrays."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..._validation import check_setting
from ...arrays import Conv2d
from .._config import JsonConfig
from ..layout import Layout, cast_floats, layout_arrays
from .qcfs import qcfs

__all__ = ["ConversionConfig", "ConversionNet", "batch_norm_features", "build_conversion", "conversion_loss",
           "conversion_trainable", "fold_batch_norm", "folded_arrays", "with_settings"]

ARCHITECTURES = ("dense", "conv")
ACTIVATIONS = ("relu", "qcfs")
NORMALISATIONS = ("model", "max", "percentile", "qcfs")
BALANCES = ("threshold", "weights")
NEURONS = ("if", "lif")
RESETS = ("subtract", "zero")
INITIAL_MEMBRANES = ("zero", "half")
ENCODINGS = ("analog", "rate")
DEFAULT_EVAL_STEPS = (4, 8, 16, 32, 64, 128)
BN_EPS = 1e-5  # batch norm's epsilon, as PyTorch's


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


CALIBRATION_SETTINGS = ("normalisation", "percentile", "calibration_samples")


def batch_norm_features(array) -> int:
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
        widths = [batch_norm_features(a) for a in hidden] if config.batch_norm else []
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
        c = batch_norm_features(array)
        per_channel = z.reshape(z.shape[0], c, -1)
        batch_mean = jnp.mean(per_channel, axis=(0, 2))
        batch_var = jnp.var(per_channel, axis=(0, 2))
        unset = self.bn_var[i] < 0
        mean = jnp.where(unset, batch_mean, self.bn_mean[i])
        var = jnp.where(unset, batch_var, self.bn_var[i])
        scale = self.bn_scale[i] / jnp.sqrt(var + BN_EPS)
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
    if set(changes) & set(CALIBRATION_SETTINGS):
        changes = {"calibrated": False, **changes}
    config = dataclasses.replace(model.config, **changes)
    like = jax.eval_shape(lambda: ConversionNet(config, key=jax.random.key(0)))
    leaves = jax.tree.leaves(model)
    if [jnp.shape(x) for x in leaves] != [x.shape for x in jax.tree.leaves(like)]:
        raise ValueError(f"with_settings: {sorted(changes)} change the network's parameters; only conversion and "
                         "simulation settings can change on a trained network.")
    return jax.tree.unflatten(jax.tree.structure(like), leaves)


def conversion_loss(model: ConversionNet, images: Float[Array, "batch n_inputs"], labels: Int[Array, " batch"],
                    *, key: PRNGKeyArray | None = None, throw: bool = True
                    ) -> tuple[Float[Array, ""], Int[Array, " batch"]]:
    """Cross-entropy of the ANN's logits (batch mean) and its predicted classes ``(batch,)``
    (the ANN is not simulated: ``throw`` has nothing to report)."""
    logits = model(images)
    log_p = jax.nn.log_softmax(logits, axis=-1)
    loss = -jnp.mean(jnp.take_along_axis(log_p, labels.astype(jnp.int32)[:, None], axis=-1))
    return loss, jnp.argmax(logits, axis=-1)


def conversion_trainable(model: ConversionNet):
    """Filter spec: weights and biases, batch-norm scale and shift, and the QCFS thresholds."""
    spec = jax.tree.map(lambda _: False, model)
    spec = eqx.tree_at(lambda m: m.arrays, spec, replace=jax.tree.map(eqx.is_inexact_array, model.arrays))
    spec = eqx.tree_at(lambda m: (m.bn_scale, m.bn_shift), spec,
                       replace=(tuple(True for _ in model.bn_scale), tuple(True for _ in model.bn_shift)))
    if model.config.activation == "qcfs":
        spec = eqx.tree_at(lambda m: m.thresholds, spec, replace=tuple(True for _ in model.thresholds))
    return spec


def fold_batch_norm(array, scale, shift, mean, var, eps: float = BN_EPS):
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


def folded_arrays(model: ConversionNet, *, check: bool = True) -> tuple:
    """The arrays with batch norm folded in (the arrays themselves without batch norm).

    ``check``: refuse (eagerly) a network whose batch-norm statistics were never computed; under
    ``jit`` pass ``False`` (:func:`~memsnn.training.conversion.snn.conversion_predict` checks with
    the config instead).
    """
    if not model.config.batch_norm:
        return model.arrays
    if check and any(bool(jnp.any(v < 0)) for v in model.bn_var):
        raise ValueError("conversion: the batch-norm statistics were never computed; call "
                         "memsnn.training.conversion.calibrate(model, train_images) first.")
    hidden = tuple(fold_batch_norm(a, *p) for a, *p in zip(model.arrays[:-1], model.bn_scale, model.bn_shift,
                                                              model.bn_mean, model.bn_var))
    return hidden + model.arrays[-1:]
