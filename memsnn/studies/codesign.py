"""Co-design experiments on the SPICEprop readout: sweeps, Monte-Carlo, sensitivity, Pareto front.

Each experiment changes the readout's devices (the alpha synapse and the MIF neurons of a
:class:`~memsnn.training.spiceprop.SpicepropNet`) and simulates the same drive, the front end's
output for a batch of images (:meth:`SpicepropNet.drive`), metering the circuit's energy
(:class:`~memsnn.energy.MIFEnergy`). A device parameter is named by its path in the pair
``(synapse, neuron)``: ``"synapse.tau_a"``, ``"neuron.capacitance"``, ``"neuron.memristor1.R_off"``.

Many settings run as one ``vmap`` of one compiled simulation, with ``simulate(throw=False)``: a
setting whose explicit step is unstable is marked (``ok = False``) instead of stopping the sweep.

Sweeps and Monte-Carlo samples are split over devices: the settings axis is sharded over
:func:`~memsnn.training.sharding.data_mesh` (every device of every process, or ``devices=``) and the
jitted ``vmap`` is partitioned by XLA, so each device simulates its share of the settings; model
and drive are replicated, and the results come back replicated (every process reads all of them).
A number of settings that does not divide the device count is padded with copies of the first
settings, whose results are dropped: every setting is computed, on any number of devices, with the
numbers of one device.
"""

from __future__ import annotations

from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..devices.bounds import DEVICE_BOUNDS, bounded_leaves
from ..presets import MILLIVOLT
from ..training.sharding import data_mesh, padded_batch, replicate, replicated, shard_batch
from ..training.spiceprop import summed_nll
from . import energy as _energy

__all__ = ["codesign_loss", "device_parameters", "get_parameter", "monte_carlo", "pareto_front", "readout_metrics",
           "sensitivity", "set_parameters", "sweep"]


def _getter(path: str) -> Callable:
    first, *rest = path.split(".")
    if first not in ("synapse", "neuron"):
        raise ValueError(f"device parameter {path!r}: a path starts with 'synapse.' or 'neuron.' "
                         "(e.g. 'neuron.memristor1.R_off').")
    index = 0 if first == "synapse" else 1

    def get(devices):
        obj = devices[index]
        for name in rest:
            obj = getattr(obj, name)
        return obj

    return get


def get_parameter(devices, path: str):
    """The value of parameter ``path`` in ``devices = (synapse, neuron)``."""
    try:
        return _getter(path)(devices)
    except AttributeError:
        raise ValueError(f"device parameter {path!r} does not exist; the parameters of these devices are "
                         f"{device_parameters(devices, bounded_only=False)}.") from None


def set_parameters(devices, values: dict[str, Array]):
    """``devices = (synapse, neuron)`` with the parameters at ``values`` (path -> value; a value of
    shape ``(n,)`` gives every neuron its own device)."""
    for path, value in values.items():
        old = get_parameter(devices, path)
        devices = eqx.tree_at(_getter(path), devices, jnp.asarray(value, dtype=jnp.result_type(old)))
    return devices


def device_parameters(devices, *, bounded_only: bool = True) -> list[str]:
    """Paths of the floating parameters of ``devices = (synapse, neuron)`` (those with a physical
    range in :data:`~memsnn.devices.bounds.DEVICE_BOUNDS` when ``bounded_only``)."""
    if bounded_only:
        return [_path(p) for p, _ in bounded_leaves(devices)]
    leaves = jax.tree_util.tree_flatten_with_path(eqx.filter(devices, eqx.is_inexact_array))[0]
    return [_path(jax.tree_util.keystr(p)) for p, _ in leaves]


def _path(keystr: str) -> str:
    head, _, rest = keystr.partition("]")
    return ("synapse" if head == "[0" else "neuron") + rest


def _nll(potentials: Float[Array, "batch n_steps n"], labels: Int[Array, " batch"]) -> Float[Array, ""]:
    # The SPICEprop loss (memsnn.training.spiceprop.spiceprop_loss): NLL over the potentials in mV,
    # summed over steps, batch mean.
    return summed_nll(potentials / MILLIVOLT, labels.astype(jnp.int32))


def readout_metrics(model, drive: Float[Array, "batch n"], labels: Int[Array, " batch"], devices=None, *,
                    throw: bool = True, solver=None) -> dict[str, Array]:
    """Loss, accuracy and energy of the readout for one set of devices.

    Args:
        model: a trained :class:`~memsnn.training.spiceprop.SpicepropNet` (MIF readout).
        drive: ``(batch, n_classes)`` impulse amplitudes (A), ``model.drive(images)``.
        labels: ``(batch,)`` true classes.
        devices: ``(synapse, neuron)``; default ``model.readout()``.
        throw: ``False`` marks a failed simulation in ``ok`` instead of raising.
        solver: integrator (default: the model's own).

    Returns:
        ``loss`` (the SPICEprop NLL), ``accuracy``, ``energy`` (J per image the circuit's sources
        supplied), ``dissipated`` (J per image) and ``ok`` (the simulation succeeded), all scalars.
    """
    energy, potentials, _, result = _energy.spiceprop_readout_energy(model, drive, devices=devices, throw=throw,
                                                                     solver=solver)
    predictions = jnp.argmax(jnp.sum(potentials, axis=1), axis=-1)
    return {"loss": _nll(potentials, labels), "accuracy": jnp.mean(predictions == labels),
            "energy": jnp.mean(jnp.sum(energy.supplied(), axis=-1)),
            "dissipated": jnp.mean(jnp.sum(energy.dissipated(), axis=-1)), "ok": jnp.all(result == 0)}


def sweep(model, drive, labels, settings: dict[str, Array], *, vectorize: bool = True,
          solver=None, devices=None) -> dict[str, np.ndarray]:
    """Readout metrics for ``S`` device settings.

    Args:
        settings: path -> ``(S,)`` values (every path the same ``S``; e.g. a flattened grid), or
            ``(S, n_classes)`` for one device per neuron.
        vectorize: ``True``: all settings as one ``vmap`` of one compiled simulation, sharded over
            ``devices``; ``False``: the same simulation called once per setting in a Python loop,
            on the default device (for comparison).
        solver: integrator (default: the model's own, ``model.config.solver``).
        devices: the devices the settings are split over (default: ``jax.devices()``, all devices
            of all processes; ``jax.devices()[:1]`` for one). Any ``S`` works on any number of
            devices (padded, see the module docstring); in a multi-process run every process calls
            it with the same arguments.

    Returns:
        :func:`readout_metrics`'s entries, each ``(S,)``; ``ok`` is ``False`` where the simulation
        failed (e.g. an unstable explicit step): those settings' other entries are not meaningful.
    """
    sizes = {np.shape(v)[0] if np.ndim(v) else None for v in settings.values()}
    if not settings or sizes == {0}:
        raise ValueError("sweep: no settings to run; pass {path: values} with at least one value, e.g. "
                         "{'neuron.capacitance': [1e-9, 2e-9]}.")
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"sweep: every setting needs the same number of values (a leading axis of length S), "
                         f"got {sorted(sizes, key=str)}.")
    if not vectorize:
        if devices is not None:
            raise ValueError("sweep: devices= splits the vectorized sweep over devices; the Python loop "
                             "(vectorize=False) runs on the default device. Pass one or the other.")
        values = {k: jnp.asarray(v) for k, v in settings.items()}
        rows = [jax.device_get(_metrics_of_setting(model, drive, labels, {k: v[i] for k, v in values.items()},
                                                   solver)) for i in range(sizes.pop())]
        return {k: np.array([r[k] for r in rows]) for k in rows[0]}
    return _sharded_metrics(model, drive, labels, settings, solver, devices)


# Module-level compiled functions: the same model shape reuses one compilation across calls.
@eqx.filter_jit
def _metrics_of_setting(model, drive, labels, values, solver=None):
    return readout_metrics(model, drive, labels, set_parameters(model.readout(), values), throw=False, solver=solver)


@eqx.filter_jit
def _metrics_of_settings(model, drive, labels, values, solver, mesh):
    base = model.readout()
    out = jax.vmap(lambda v: readout_metrics(model, drive, labels, set_parameters(base, v), throw=False,
                                             solver=solver))(values)
    # Gathered onto every device (a few numbers per setting), so every process can read them all.
    return jax.lax.with_sharding_constraint(out, replicated(mesh))


def _sharded_metrics(model, drive, labels, values: dict, solver, devices) -> dict[str, np.ndarray]:
    """:func:`readout_metrics` for every row of ``values`` (path -> ``(S, ...)``), the rows sharded
    over ``data_mesh(devices)``, padded to a multiple of the device count with the first rows again."""
    mesh = data_mesh(devices)
    n = len(next(iter(values.values())))
    rows = np.arange(padded_batch(n, mesh)) % n  # the padding repeats the first settings: valid devices, no NaN
    paths = list(values)
    placed = dict(zip(paths, shard_batch(mesh, *(np.asarray(values[p])[rows] for p in paths))))
    model, drive, labels = replicate((model, jnp.asarray(drive), jnp.asarray(labels)), mesh)
    out = _metrics_of_settings(model, drive, labels, placed, solver, mesh)
    return {k: np.asarray(v)[:n] for k, v in out.items()}


def monte_carlo(model, drive, labels, *, key: PRNGKeyArray, n_samples: int,
                sigma: dict[str, float], devices=None) -> dict[str, np.ndarray]:
    """Readout metrics over ``n_samples`` sampled readouts (device-to-device variation).

    Each neuron gets its own device: parameter ``path`` is ``p0 * exp(sigma[path] * z)`` with
    ``z ~ N(0, 1)`` drawn per neuron and sample (lognormal variation, relative spread ``sigma``),
    clipped into its physical range. All samples run as one ``vmap``, sharded over ``devices``
    (default: all devices of all processes; any ``n_samples``, see :func:`sweep`). The draws
    depend on ``key`` only, not on the devices: the same key gives the same samples and numbers
    on one device and on many.

    Returns:
        :func:`readout_metrics`'s entries, each ``(n_samples,)``.
    """
    if n_samples < 1 or not sigma:
        raise ValueError(f"monte_carlo: need n_samples >= 1 (got {n_samples}) and at least one parameter in "
                         "sigma (e.g. sigma={'neuron.memristor1.R_on': 0.2}).")
    base = model.readout()
    n = model.config.n_classes
    keys = jax.random.split(key, len(sigma))
    draws = {}
    for k, (path, s) in zip(keys, sigma.items()):
        p0 = get_parameter(base, path)
        value = p0 * jnp.exp(s * jax.random.normal(k, (n_samples, n), dtype=jnp.result_type(p0)))
        bound = DEVICE_BOUNDS.get(path.split(".")[-1]) or DEVICE_BOUNDS.get(".".join(path.split(".")[-2:]))
        draws[path] = value if bound is None else jnp.clip(value, bound.low, bound.high)
    return _sharded_metrics(model, drive, labels, draws, None, devices)


def sensitivity(model, drive, labels, paths: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Elasticities ``d f / d log p`` of the loss and of the energy per image with respect to every
    device parameter ``p`` (default: every bounded one), by reverse-mode differentiation of the
    simulated circuit: the change of ``f`` for a 100 % relative change of ``p``, to first order.

    Returns:
        path -> ``{"value": p, "loss": d loss / d log p, "energy": d energy / d log p (J)}``.
    """
    base = model.readout()
    paths = device_parameters(base) if paths is None else list(paths)
    logs = {p: jnp.log(jnp.abs(get_parameter(base, p))) for p in paths}
    signs = {p: jnp.sign(get_parameter(base, p)) for p in paths}

    def metrics(log_values):
        values = {p: signs[p] * jnp.exp(v) for p, v in log_values.items()}
        m = readout_metrics(model, drive, labels, set_parameters(base, values))
        return jnp.stack([m["loss"], m["energy"]])

    jac = jax.jit(jax.jacrev(metrics))(logs)
    return {p: {"value": float(get_parameter(base, p)), "loss": float(jac[p][0]), "energy": float(jac[p][1])}
            for p in paths}


def pareto_front(accuracy, energy, ok=None) -> np.ndarray:
    """Indices of the settings no other setting beats in both accuracy (higher) and energy (lower),
    sorted by energy; settings with ``ok = False`` are left out."""
    accuracy, energy = np.asarray(accuracy, float), np.asarray(energy, float)
    valid = np.ones(accuracy.shape, bool) if ok is None else np.array(ok, bool)
    valid &= np.isfinite(accuracy) & np.isfinite(energy)
    order = [i for i in np.argsort(energy, kind="stable") if valid[i]]
    front, best = [], -np.inf
    for i in order:
        if accuracy[i] > best:
            front.append(i)
            best = accuracy[i]
    return np.array(front, dtype=int)


def codesign_loss(model, images, labels, *, key=None, throw: bool = True, energy_weight: float = 1.0):
    """The SPICEprop loss plus ``energy_weight`` times the circuit's energy per image in nJ.

    A loss for :class:`~memsnn.training.GradientLearner` (``functools.partial(codesign_loss,
    energy_weight=...)``) with a model built with ``train_device=True``: the gradient then moves
    the devices, within their physical ranges, towards lower energy at the same accuracy.
    ``throw=False``: a failed simulation makes the loss NaN instead of raising.

    Returns:
        ``(loss, predictions)`` as :func:`~memsnn.training.spiceprop.spiceprop_loss`.
    """
    energy, potentials, _, result = _energy.spiceprop_readout_energy(model, model.drive(images), throw=throw)
    if not throw:
        failed = (result != 0)[:, None, None]
        potentials = jnp.where(failed, jnp.nan, potentials)
    per_image_nj = jnp.mean(jnp.sum(energy.supplied(), axis=-1)) * 1e9
    predictions = jnp.argmax(jnp.sum(potentials, axis=1), axis=-1)
    return _nll(potentials, labels) + energy_weight * per_image_nj, predictions
