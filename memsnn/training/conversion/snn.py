"""The converted SNN: the :class:`memsnn.Network` of IF (or LIF) neurons built from a calibrated
ANN, simulated by :func:`memsnn.simulate`, its predictions, and its accuracy at several T."""

from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..._validation import check_setting
from ...data import rate as rate_code
from ...network import Layer, Network
from ...neurons import IF, LIF
from ...neurons.lif import LIFState
from ...simulate import simulate
from ...stimulus import Current
from ..layout import cast_floats
from ..learner import failed_where_nonfinite
from .ann import ConversionNet, folded_arrays
from .calibration import conversion_scales

__all__ = ["conversion_predict", "evaluate_snn", "run_snn", "snn_network"]

# Spikes kept in memory per simulated batch (floats): the layer-wise run records every layer's
# spikes, (batch, T, n) each, so the batch is cut to stay under this.
_SPIKE_BUDGET = 2**24


def _scaled(array, weight_gain, bias_gain):
    array = eqx.tree_at(lambda a: a.weight, array, array.weight * weight_gain)
    if array.bias is not None:
        array = eqx.tree_at(lambda a: a.bias, array, array.bias * bias_gain)
    return array


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
    arrays = folded_arrays(model, check=False)
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
