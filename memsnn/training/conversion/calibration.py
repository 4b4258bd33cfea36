"""Scales and calibration: the ``lambda_l`` of each hidden layer (model-based, data-based max or
percentile, or the trained QCFS thresholds) and the population batch-norm statistics."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..._validation import check_setting
from .ann import ConversionNet, batch_norm_features, folded_arrays, with_settings

__all__ = ["activation_scales", "calibrate", "conversion_scales", "image_batches", "model_based_scales"]


def model_based_scales(model: ConversionNet, input_max: float = 1.0) -> tuple[float, ...]:
    """Per hidden layer, the largest activation the weights allow (max weight sum, Diehl et al. 2015).

    ``lambda_l = max_j (sum_i max(W_ji, 0) lambda_{l-1} + max(b_j, 0))``, ``lambda_0 = input_max``;
    for a convolution ``j`` is an output channel and ``i`` runs over its kernel; average pooling
    cannot exceed its largest input. A bound for ReLU; for QCFS the activation is also <= lambda.
    """
    bound, scales = float(input_max), []
    for array in folded_arrays(model)[:-1]:
        w = np.asarray(array.weight).reshape(array.weight.shape[0], -1)
        b = np.zeros(w.shape[0]) if array.bias is None else np.asarray(array.bias)
        bound = float(np.max(np.maximum(w, 0).sum(axis=1) * bound + np.maximum(b, 0)))
        scales.append(bound)
    return tuple(scales)


def image_batches(images, batch_size: int):
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
    for x in image_batches(np.asarray(images), batch_size):
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
            per_channel = z.reshape(z.shape[0], batch_norm_features(m.arrays[i]), -1)
            return jnp.sum(per_channel, axis=(0, 2)), jnp.sum(per_channel ** 2, axis=(0, 2)), per_channel.shape[2]
        total, total_sq, count = 0.0, 0.0, 0
        for x in image_batches(np.asarray(images), batch_size):
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
