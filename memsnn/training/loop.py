"""The training loop shared by every learner (SPICEprop, surrogate gradients, and rules without a loss).

:func:`fit` drives an :class:`~memsnn.training.learner.AbstractLearner` (``init``, ``step``,
``evaluate``) and does what every run needs:

* batches shuffled deterministically from ``(seed, epoch)``, so a run is reproducible and a resumed
  run sees exactly the batches the uninterrupted one would have seen;
* one jitted step, data parallel: each batch sharded over a mesh of all devices, of one process or
  several (:mod:`~memsnn.training.sharding`);
* evaluation on the test set after every epoch, in fixed-size batches (one compilation);
* a tqdm bar with the running metrics, and ``on_epoch_end`` called as each epoch ends;
* ``metrics.jsonl``: one JSON line per epoch (metrics, accuracies, wall and CPU time, peak memory);
* ``checkpoint.eqx``: model, learner state, epoch and the run's config, checksummed and written
  atomically (:mod:`~memsnn.training.checkpoint`), so an interrupted or crashed run always leaves
  the last complete epoch on disk (``resume=True``); an existing run is never overwritten unless
  asked (``overwrite=True``);
* a guard that stops at the first non-finite loss (or a simulation that reports an unstable step)
  with a message naming the epoch and step and the last good checkpoint;
* ensembles: ``seed=[s0, s1, ...]`` trains one model per seed in the same run, with the learner's
  ``ensemble()`` (the learner vmapped over a member axis, :mod:`~memsnn.training.ensemble`;
  docs/training.md, "Ensembles"). How a step's data are laid out is asked of the learner (its
  hooks, :class:`~memsnn.training.learner.AbstractFitLearner`): nothing here depends on its type.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from tqdm.auto import tqdm

from .._validation import check_setting
from .checkpoint import atomic_write, load_checkpoint, read_checkpoint_header, remove_stale_temporaries, save_checkpoint
from .sharding import (
    check_batch,
    data_mesh,
    forget_failed_computation,
    is_main_process,
    padded_batch,
    replicate,
    replicated,
    shard_batch,
)
from .ensemble import check_seeds, n_members, spread
from .learner import FAILED, AbstractFitLearner, AbstractLearner
from .predict import AbstractPredict, as_predict, image_keys
from .runlock import RunLockedError, run_lock

__all__ = [
    "CHECKPOINT_NAME",
    "METRICS_NAME",
    "FitResult",
    "NoCheckpointError",
    "OutOfMemory",
    "RunExistsError",
    "RunLockedError",
    "StepTooLarge",
    "TrainingDiverged",
    "TrainingInterrupted",
    "evaluate",
    "fit",
    "make_predict",
    "make_step",
    "peak_memory_mb",
]

CHECKPOINT_NAME = "checkpoint.eqx"
METRICS_NAME = "metrics.jsonl"

PredictFn = Callable[[Any, jax.Array], jax.Array]


class TrainingDiverged(RuntimeError):
    """Training stopped because the loss (or the simulated state) stopped being finite.

    Attributes:
        epoch, step: where it happened (1-based).
        reason: what was not finite, e.g. ``"the loss is nan"``.
        checkpoint: the checkpoint file of the run (``None`` without ``out_dir``).
        saved_epoch: the last epoch in that checkpoint (0: none was written).
    """

    def __init__(self, epoch: int, step: int, *, steps_per_epoch: int, reason: str, checkpoint: Path | None,
                 saved_epoch: int):
        self.epoch, self.step, self.reason = epoch, step, reason
        self.checkpoint, self.saved_epoch = checkpoint, saved_epoch
        if checkpoint is not None and saved_epoch > 0:
            where = (f"The last good checkpoint is {checkpoint} (end of epoch {saved_epoch}); it was left "
                     "untouched. Resume from it with a lower learning rate or gradient clipping.")
        elif checkpoint is not None:
            where = f"No epoch had finished, so no checkpoint was written to {checkpoint.parent}."
        else:
            where = "No checkpoint is kept for this run (no out_dir)."
        super().__init__(f"Training diverged at epoch {epoch}, step {step} of {steps_per_epoch}: {reason}. {where}")


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`fit`; the epochs finished before it are in the checkpoint.

    Attributes:
        epoch: the epoch that was running (1-based).
        saved_epoch: the last epoch stored in ``out_dir`` (0: none).
        out_dir: the run's folder, or ``None``.
    """

    def __init__(self, epoch: int, saved_epoch: int, out_dir: Path | None):
        self.epoch, self.saved_epoch, self.out_dir = epoch, saved_epoch, out_dir
        super().__init__(f"stopped at epoch {epoch}; epochs 1 to {saved_epoch} are saved"
                         + (f" in {out_dir}" if out_dir is not None else ""))


class RunExistsError(ValueError):
    """``out_dir`` already holds a run and neither ``resume`` nor ``overwrite`` was asked for.

    Attributes:
        out_dir: the folder.
        epoch: epochs stored in its checkpoint (``None`` if it has only a log).
    """

    def __init__(self, out_dir: Path, epoch: int | None):
        self.out_dir, self.epoch = out_dir, epoch
        held = f"a checkpoint after epoch {epoch}" if epoch is not None else f"a {METRICS_NAME}"
        super().__init__(f"{out_dir} already holds a run ({held}); starting a new one there would "
                         "overwrite it. Continue it with resume=True, choose another out_dir, or pass "
                         "overwrite=True to replace it.")


class NoCheckpointError(ValueError):
    """``resume`` into a folder that holds a training log but no checkpoint: nothing to resume.

    Attributes:
        out_dir: the folder.
        logged: the number of epochs its log holds.
    """

    def __init__(self, out_dir: Path, logged: int):
        self.out_dir, self.logged = out_dir, logged
        super().__init__(f"{out_dir} holds a training log ({METRICS_NAME}, {logged} line(s)) but no checkpoint, so "
                         "there is nothing to resume (the run stopped before it saved, or its checkpoint was "
                         "removed); the log was left as it is. Start the run again there with overwrite=True "
                         "(this replaces the log), or train into another out_dir.")


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes:
        model: the trained model.
        history: one dict per completed epoch, the lines of ``metrics.jsonl``.
        checkpoint: path of the last checkpoint written, or ``None`` without ``out_dir``.
    """

    model: Any
    history: list[dict]
    checkpoint: Path | None


# --------------------------------------------------------------------------------------------
# Batches, evaluation, memory
# --------------------------------------------------------------------------------------------


def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    """The sample order of ``epoch``: a function of ``(seed, epoch)`` only, so resuming repeats it."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n)


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (MB), from ``getrusage``."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return rss / 1024.0 if sys.platform != "darwin" else rss / 2**20


def _constrained(tree, sharding):
    # Pin the outputs' sharding (replicated parameters, metrics, predictions), so every process
    # can read them and the next step gets the shardings it was compiled for.
    return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, sharding) if eqx.is_array(x) else x, tree)


def make_predict(predict_fn: PredictFn | AbstractPredict, model, mesh: Mesh | None = None, *,
                 throw: bool = False) -> Callable:
    """``predict(model, images, key) -> predictions``, jitted once, the batch sharded over ``mesh``.

    ``predict_fn(model, images, key=..., throw=...)`` is a method's predict function (or a learner's
    ``evaluate``), or an :class:`~memsnn.training.predict.AbstractPredict` (a learner's
    ``predictor()``; for an ensemble a :class:`~memsnn.training.ensemble.MemberPredict`), prepared
    for each model outside ``jit``; models with the same structure as ``model`` reuse the compiled
    function.
    ``mesh`` defaults to :func:`~memsnn.training.sharding.data_mesh` (all devices); ``model`` must be
    replicated on it (:func:`~memsnn.training.sharding.replicate`), ``images`` a NumPy batch, the
    same in every process, whose size is a multiple of the device count. The predictions come
    back replicated: every process reads all of them. ``throw=False`` (the default, safe on a
    sharded batch): a sample whose simulation failed is predicted as
    :data:`~memsnn.training.learner.FAILED` (:func:`evaluate` then names the failure).
    """
    mesh = data_mesh() if mesh is None else mesh
    static = eqx.partition(model, eqx.is_array)[1]
    predictor = as_predict(predict_fn)

    @eqx.filter_jit
    def jitted(predict_fn, params, images, key):
        predictions = predict_fn(eqx.combine(params, static), images, key=key, throw=throw)
        return _constrained(predictions, replicated(mesh))

    def predict(model, images, key):
        images, = shard_batch(mesh, images)
        model, fn = predictor.prepared(model)
        return jitted(fn, eqx.filter(model, eqx.is_array), images, key)

    return predict


def evaluate(predict_fn: PredictFn, model, images: np.ndarray, labels: np.ndarray, *,
             batch_size: int = 1000, devices=None, predict: Callable | None = None,
             seed: int = 0, progress: bool = False) -> tuple[float, np.ndarray]:
    """Accuracy of ``predict_fn`` on ``(images, labels)``, in batches of a fixed size.

    The last batch is padded (with copies of the first samples) so only one shape is compiled; the
    batch size is rounded up to a multiple of the number of ``devices`` (default: all devices, of
    all processes), over which every batch is sharded. ``predict`` (from :func:`make_predict`,
    built for that padded size and those devices) reuses a compiled function across calls. A
    stochastic model (read noise) draws batch ``i``'s noise from ``fold_in(key(seed), i)``: the
    same seed, the same accuracy. A predictor keyed per image (``per_image_keys``, e.g. Diehl &
    Cook's STDP network) gets image ``j``'s key ``fold_in(key(seed), j)``: its predictions do not
    depend on ``batch_size`` either. In a multi-process run every process calls it with the same data.
    ``progress`` shows a bar over the batches (in process 0).

    An ensemble's ``predict_fn`` (:func:`~memsnn.training.ensemble.member_predict`) returns
    ``(K, B)`` predictions, one row per member: the accuracy is then one per member.

    Returns:
        ``(accuracy, predictions)``: the fraction correct and the ``(N,)`` predicted classes; for an
        ensemble, ``(K,)`` accuracies and ``(K, N)`` predictions.

    Raises:
        equinox.EquinoxRuntimeError: a simulation failed (simulate's message: unstable step, NaN,
            ...). The batches run with ``throw=False``; a batch with a failed sample is run again on
            one device with ``throw=True`` to name the failure.
        FloatingPointError: a model's outputs were NaN or inf without a failed simulation.
    """
    n = len(labels)
    mesh = data_mesh(devices)
    batch_size = padded_batch(min(batch_size, n), mesh)
    predict = predict or make_predict(predict_fn, model, mesh)
    per_image = as_predict(predict_fn).per_image_keys
    model = replicate(model, mesh)
    predictions = None
    bar = tqdm(total=n, desc="evaluating", unit="images", disable=not (progress and is_main_process()),
               dynamic_ncols=True, mininterval=0.5, leave=False)
    for start in range(0, n, batch_size):
        idx = np.arange(start, start + batch_size) % n
        key = (image_keys(jax.random.key(seed), idx) if per_image
               else jax.random.fold_in(jax.random.key(seed), start // batch_size))
        batch = np.asarray(images[idx])
        out = np.asarray(predict(model, batch, key))
        if np.any(out == FAILED):
            _on_one_device(lambda one, m, k: make_predict(predict_fn, m, one, throw=True)(m, batch, k), model, key)
            members = np.flatnonzero(np.any(out == FAILED, axis=-1)) if out.ndim > 1 else None
            raise FloatingPointError(
                f"evaluate: the model's outputs were NaN or inf for {int(np.sum(out == FAILED))} of the images "
                f"{start}..{start + batch_size - 1}"
                + (f" (ensemble members {members.tolist()})" if members is not None else "")
                + " (no simulation reported a failure): check the parameters.")
        if predictions is None:
            predictions = np.empty((*out.shape[:-1], n), dtype=np.int64)
        stop = min(start + batch_size, n)
        predictions[..., start:stop] = out[..., : stop - start]
        bar.update(stop - start)
    bar.close()
    accuracy = np.mean(predictions == labels, axis=-1)
    return (float(accuracy) if accuracy.ndim == 0 else accuracy), predictions


# --------------------------------------------------------------------------------------------
# The step
# --------------------------------------------------------------------------------------------


def _on_one_device(run: Callable, *trees):
    """``run(mesh, *trees)`` with ``mesh`` this process's first device and ``trees`` (replicated
    arrays) copied onto it: to repeat a failed sharded batch with ``throw=True``.

    No device waits for another there (no collectives), so a raising check stops the run cleanly;
    in a multi-process run every process repeats the batch alone and raises the same error.
    """
    mesh = data_mesh(jax.local_devices()[:1])
    local = jax.tree.map(lambda x: x.addressable_data(0) if isinstance(x, jax.Array) else x, trees)
    return run(mesh, *replicate(local, mesh))


def make_step(learner: AbstractFitLearner, model, mesh: Mesh | None = None,
              augment: Callable | None = None, *, throw: bool = False, check_memory: bool = False) -> Callable:
    """The jitted ``step(model, state, images, labels, key=None) -> (model, state, metrics)``.

    Data parallel over ``mesh`` (default :func:`~memsnn.training.sharding.data_mesh`: all devices
    of all processes): ``images (B, F)`` and ``labels (B,)`` (NumPy, the same global batch in
    every process; ``B`` a multiple of the device count) are sharded along the batch, the model and
    ``state`` are replicated (:func:`~memsnn.training.sharding.replicate`), and ``learner.step``,
    written for the whole batch, is partitioned by XLA, which also inserts the reduction of the
    gradients over the devices. ``augment(key, images) -> images`` transforms the whole batch first.
    Only the leaves ``learner.updated(model)`` selects are arguments of the compiled step; the rest
    of ``model`` is compiled in as constants, so the step must be rebuilt for another frozen part.
    ``throw`` goes to ``learner.step``: ``False`` (the default, safe on a sharded batch) makes a
    failed simulation a non-finite metric, which :func:`fit` then names (``True`` raises inside the
    step, which only one device may do).

    How the batch is placed, the step specialised and ``augment`` applied is the learner's (its
    hooks ``batch_sharding``, ``shard``, ``for_step``, ``augmenter``, ``step_key``). With an
    :class:`~memsnn.training.learner.EnsembleLearner` the model is an ensemble (a member axis first
    on every array), ``images (K, B, F)`` and ``labels (K, B)`` hold each member's batch (axis 1
    sharded over ``mesh``), ``key`` is ``(K,)`` (default: ``split(key(0), K)``), ``augment`` is
    vmapped over the members, and the metrics are ``(K,)``. The frozen leaves that all members
    share are compiled in once, and on a CPU mesh the members are stepped one after another unless
    the learner's ``members_at_once`` says otherwise.

    ``check_memory``: the first call compiles the step ahead of time and raises
    :class:`StepTooLarge` before running it if XLA's estimate of its memory exceeds what is free
    (:func:`check_step_fits`); later calls run the compiled step.
    """
    mesh = data_mesh() if mesh is None else mesh
    spec = learner.updated(model)
    # The frozen leaves are closed over: compiled in as constants, as XLA can fold them.
    static = eqx.partition(model, spec)[1]
    batch, copy = learner.batch_sharding(mesh), replicated(mesh)
    transform = learner.augmenter(augment)
    learner, inside = learner.for_step(model, static, mesh)

    @eqx.filter_jit
    def step(params, state, images, labels, key):
        if transform is not None:
            images = jax.lax.with_sharding_constraint(transform(key, images), batch)
        new_model, state, metrics = learner.step(eqx.combine(params, inside), state, images, labels, key,
                                                 throw=throw)
        return _constrained((eqx.filter(new_model, spec), state, metrics), copy)

    compiled = []

    def run(model, state, images, labels, key=None):
        if key is None:
            key = learner.step_key(model, jax.random.key(0))
        images, labels = learner.shard(mesh, images, labels)
        args = (eqx.filter(model, spec), state, images, labels, key)
        if check_memory and not compiled:
            compiled.append(step.lower(*args).compile())
            check_step_fits(compiled[0].compiled, mesh, batch_size=learner.batch_size(images))
        params, state, metrics = (compiled[0] if compiled else step)(*args)
        return eqx.combine(params, static), state, metrics

    return run


def free_memory_bytes(device) -> int | None:
    """Bytes free for a computation on ``device``: the accelerator's limit less what is in use, or
    on a CPU the host's available memory (within the process's cgroup limit); ``None``: unknown."""
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
        return None
    free = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            free = min(free if free is not None else 1 << 62, int(limit) - used)
    except (OSError, ValueError):
        pass
    return free


# The memory errors' second remedy. It helps only where the gradient stores the time loop's states
# (``Method.keeps_time_steps``); the CLI, which knows the method, words its own message.
_CHECKPOINT_HINT = ("or, where the gradient stores the simulation's time steps, keep fewer of them "
                    "(a larger checkpoint_every)")


class OutOfMemory(MemoryError):
    """The device ran out of memory during training (not a divergence: the numbers were fine).

    Attributes:
        step: the training step that ran out.
        where: ``""`` for the training step, or where else it ran out (e.g. ``"in the validation "``).
        detail: the first line of the runtime's error.
    """

    def __init__(self, step: int, where: str, detail: str):
        self.step, self.where, self.detail = step, where, detail
        super().__init__(f"ran out of memory {where}at step {step} ({detail}); use a smaller batch_size "
                         f"{_CHECKPOINT_HINT}.")


class StepTooLarge(MemoryError):
    """A training step would need more memory than is free (found before it runs).

    Attributes:
        need: XLA's estimate of the bytes the step needs (arguments, outputs and temporaries; on a
            CPU, for all its devices together).
        free: the bytes free.
        batch_size: the batch the step was compiled for.
        fits: the largest batch size expected to fit (memory taken as proportional to the batch,
            a multiple of the device count; 0 if not even one per device).
    """

    def __init__(self, need: int, free: int, batch_size: int, fits: int):
        self.need, self.free, self.batch_size, self.fits = need, free, batch_size, fits
        super().__init__(f"a training step at batch size {batch_size} needs about {need / 2**30:.1f} GiB (XLA's "
                         f"estimate), but about {free / 2**30:.1f} GiB are free; nothing was run. Use a smaller "
                         f"batch_size (about {fits} fits) {_CHECKPOINT_HINT}.")


def check_step_fits(compiled, mesh: Mesh, *, batch_size: int, margin: float = 0.9) -> None:
    """Raise :class:`StepTooLarge` if a compiled step's memory estimate exceeds ``margin`` of what is free.

    ``compiled`` is a ``jax.stages.Compiled``; its ``memory_analysis`` is per device. On a CPU
    all devices share the host's memory, so their needs are added.
    """
    try:
        stats = compiled.memory_analysis()
    except Exception:  # not every backend reports it
        return
    if stats is None:
        return
    need = (stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
            - stats.alias_size_in_bytes)
    device = mesh.devices.flat[0]
    n = mesh.devices.size
    if device.platform == "cpu":
        need *= len([d for d in mesh.devices.flat if d.process_index == jax.process_index()])
    free = free_memory_bytes(device)
    if free is None or need <= margin * free:
        return
    # Taken as proportional to the batch (the parameters are small beside the per-sample temporaries).
    fits = int(margin * free * batch_size / need) // n * n
    raise StepTooLarge(int(need), int(free), batch_size, max(0, fits))


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


def _first_line(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    # Equinox wraps the check's own message in advice about EQX_ON_ERROR, and may put the stack
    # inside jit before it, ending in "equinox.EquinoxRuntimeError: memsnn...": keep memsnn's line.
    named = [line[line.index("memsnn"):] for line in lines
             if line.startswith("memsnn") or line.startswith("equinox.") and ": memsnn" in line]
    return (named or lines or [type(err).__name__])[0]


def _existing_run(out: Path, checkpoint: Path) -> int | None | bool:
    """The stored epoch of the run in ``out`` (``None``: a log only), or ``False`` if there is none."""
    if checkpoint.exists():
        try:
            return int(read_checkpoint_header(checkpoint)["epoch"])
        except ValueError:
            return None
    metrics = out / METRICS_NAME
    return None if metrics.is_file() and metrics.stat().st_size > 0 else False


def _nonfinite(tree, seeds: tuple[int, ...] | None) -> list[int] | bool:
    """Whether ``tree`` has a NaN or inf (one model), or which members have one (an ensemble)."""
    leaves = jax.tree.leaves(eqx.filter(tree, eqx.is_inexact_array))
    if seeds is None:
        return not all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in leaves)
    finite = np.ones(len(seeds), dtype=bool)
    for leaf in leaves:
        finite &= np.asarray(jnp.all(jnp.isfinite(leaf), axis=tuple(range(1, leaf.ndim))))
    return np.flatnonzero(~finite).tolist()


def _who(seeds: tuple[int, ...] | None, k: int | None) -> str | None:
    """How a failed model is named: ``None`` for the one model, ``member k (seed s)`` in an ensemble."""
    return None if k is None else f"member {k} (seed {seeds[k]})"


def _what_failed(bad: dict, seeds: tuple[int, ...] | None, k: int | None) -> str:
    """``the loss is nan, ...`` of the one model (``k`` ``None``) or of member ``k``, named."""
    if k is None:
        return ", ".join(f"the {name} is {float(value)}" for name, value in bad.items())
    return f"{_who(seeds, k)}: " + ", ".join(f"the {name} is {value[k]}" for name, value in bad.items()
                                            if not np.isfinite(value[k]))


def _ensemble_seeds(seed, model) -> tuple[int, ...] | None:
    """The seeds of an ensemble (``seed`` a sequence), checked against the model, or ``None`` for one model."""
    if np.ndim(seed) == 0:
        return None
    seeds = check_seeds(list(seed), "fit")
    try:
        k = n_members(model)
    except ValueError as err:
        raise ValueError(f"fit: seed={list(seeds)} trains an ensemble, but {err}") from None
    if k != len(seeds):
        raise ValueError(f"fit: the ensemble has {k} members but {len(seeds)} seeds were given; give one seed "
                         "per member (the seeds its members were built with).")
    return seeds


def _epoch_batches(train_x, train_y, batch_size: int, steps: int, seed, epoch: int, first: int = 0):
    """``(images, labels, key)`` of each step of ``epoch`` from step ``first`` on: the order and the
    augmentation keys are functions of ``(seed, epoch)`` only; an ensemble (``seed`` a tuple) stacks
    each member's own."""
    def take(order, k):
        idx = order[k * batch_size:(k + 1) * batch_size]
        return train_x[idx], train_y[idx]

    if isinstance(seed, tuple):
        orders = [epoch_permutation(len(train_y), s, epoch) for s in seed]
        # keys[:, k] = fold_in(fold_in(key(seed), epoch), k) of every member, made at once.
        base = jnp.stack([jax.random.fold_in(jax.random.key(s), epoch) for s in seed])
        keys = jax.vmap(lambda b: jax.vmap(functools.partial(jax.random.fold_in, b))(jnp.arange(steps)))(base)
        for k in range(first, steps):
            images, labels = zip(*(take(order, k) for order in orders))
            yield np.stack(images), np.stack(labels), keys[:, k]
        return
    order = epoch_permutation(len(train_y), seed, epoch)
    keys = jax.random.fold_in(jax.random.key(seed), epoch)
    for k in range(first, steps):
        yield *take(order, k), jax.random.fold_in(keys, k)


def _summary(name: str, value) -> dict:
    """A metric's entries in a row of ``metrics.jsonl``: the value, or for an ensemble the mean over the
    members, its ``_std`` (sample standard deviation; ``None`` for one member) and the ``_members``."""
    if value is None or np.ndim(value) == 0:
        return {name: None if value is None else float(value)}
    mean, std = spread(value)
    return {name: mean, f"{name}_std": std, f"{name}_members": [float(v) for v in value]}


def _diverged(make: Callable) -> Callable:
    """``failed(step, reason=..., where=None)``: a :class:`TrainingDiverged`, the member named in the reason."""
    def failed(step, *, reason: str, where: str | None = None):
        return make(step, reason=reason if where is None else f"{where}: {reason}")

    return failed


def fit(
    model,
    learner: AbstractLearner,
    train_data: tuple[np.ndarray, np.ndarray],
    test_data: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    epochs: int,
    batch_size: int,
    seed: int | Sequence[int] = 0,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    config: dict | None = None,
    eval_batch_size: int | None = None,
    progress: bool = True,
    stop_after_epochs: int | None = None,
    devices=None,
    on_epoch_end: Callable[[dict], None] | None = None,
    augment: Callable | None = None,
    save_every: int | None = None,
    val_data: tuple[np.ndarray, np.ndarray] | None = None,
) -> FitResult:
    """Train ``model`` with ``learner`` on ``train_data`` for ``epochs`` epochs.

    Args:
        model: an equinox Module.
        learner: the learning rule (e.g. :class:`~memsnn.training.learner.GradientLearner`).
        train_data, test_data: ``(images (N, F), labels (N,))`` NumPy arrays. Without test data
            the per-epoch test accuracy is ``None``.
        epochs: total number of epochs of the run (a resumed run continues up to it).
        batch_size: training batch size; the incomplete last batch of an epoch is dropped so one
            shape is compiled (every sample is still seen over the epochs: the order changes).
        seed: seeds the batch order and the augmentation (the model's initialisation is the
            caller's business). A list of distinct seeds trains an **ensemble**, one model per
            seed in one run: ``model`` is then the members stacked on a leading axis
            (:func:`memsnn.training.ensemble.stack`), ``learner`` is the learner of one model
            (vmapped over the members here), and member ``k`` gets the batch order and keys of
            ``seed[k]``: it is the single run with that seed. The metrics of every epoch are then
            the mean over the members, with ``_std`` and ``_members`` entries beside them
            (docs/training.md, "Ensembles").
        out_dir: where ``checkpoint.eqx`` and ``metrics.jsonl`` go; ``None`` writes nothing.
        resume: continue from ``out_dir/checkpoint.eqx`` if it exists (the model passed in is then
            only a template). The result equals an uninterrupted run.
        overwrite: replace a run already in ``out_dir``; without it (and without ``resume``) an
            existing run raises :class:`RunExistsError` before anything is written.
        config: JSON-serialisable description of the run, stored in the checkpoint; it must hold
            what is needed to rebuild the model (``memsnn evaluate`` reads it).
        eval_batch_size: batch size for evaluation (default ``batch_size``).
        progress: show the tqdm bar.
        stop_after_epochs: stop after this many epochs *of this call* as if interrupted (for tests
            and for splitting a run into pieces); checkpoints are written as usual.
        devices: shard every batch over these devices (default: ``jax.devices()``, all devices of
            all processes; see :func:`~memsnn.training.sharding.use_cpu_cores` and
            :func:`~memsnn.training.sharding.initialize_distributed`); ``batch_size`` (and the
            padded evaluation batch) must be a multiple of their number. Results agree across
            device counts up to floating-point rounding; a run is bit-for-bit reproducible on the
            same number of devices, and resumable on any number. In a multi-process run every
            process calls ``fit`` with the same arguments and data; process 0 alone writes
            ``out_dir`` and shows the progress bar.
        on_epoch_end: called (in process 0) with each epoch's row of ``metrics.jsonl`` once it is
            written (after the epoch's progress bar is closed, so it may print).
        augment: ``augment(key, images) -> images`` applied to every training batch (e.g.
            :func:`memsnn.training.augment.random_shift`); its keys come from ``(seed, epoch,
            step)``, so augmented runs are reproducible and resumable too.
        save_every: also save the run within an epoch, after every this many training images
            (rounded to whole batches; ``None``: at the end of each epoch only). The checkpoint then
            holds the position in the epoch and the running metric sums, and a resumed run
            continues from there to exactly the numbers of an uninterrupted one.

        val_data: ``(images, labels)`` held out from the training data (a validation split): its
            accuracy is logged every epoch as ``val_acc``, beside the test accuracy, so that a
            choice among runs or epochs can be made without looking at the test set.

    Returns:
        A :class:`FitResult`.

    Raises:
        RunExistsError: ``out_dir`` holds a run, and neither ``resume`` nor ``overwrite`` is set.
        NoCheckpointError: ``resume`` into a folder that holds a log but no checkpoint (the log is
            left as it is).
        RunLockedError: another run is writing ``out_dir`` (it holds the folder's lock,
            :mod:`~memsnn.training.runlock`); nothing is touched.
        CheckpointError: the checkpoint to resume from is damaged or of another format.
        TrainingDiverged: the loss became NaN/inf, or the simulation inside the step reported an
            unstable or non-finite state (for an ensemble: in any member, named with its seed; the
            members never mix, so the others' numbers are not affected). The last good checkpoint
            is kept.
        TrainingInterrupted: Ctrl-C (a ``KeyboardInterrupt``); finished epochs are saved.
    """
    if save_every is not None:
        check_setting("fit", "save_every", save_every, low=1, integer=True,
                      hint="training images between saves within an epoch; None saves at epoch ends only")
    held = run_lock(out_dir) if out_dir is not None and is_main_process() else contextlib.nullcontext()
    with held:
        return _fit(model, learner, train_data, test_data, epochs=epochs, batch_size=batch_size, seed=seed,
                    out_dir=out_dir, resume=resume, overwrite=overwrite, config=config,
                    eval_batch_size=eval_batch_size, progress=progress, stop_after_epochs=stop_after_epochs,
                    devices=devices, on_epoch_end=on_epoch_end, augment=augment, save_every=save_every,
                    val_data=val_data)


def _fit(model, learner, train_data, test_data, *, epochs, batch_size, seed, out_dir, resume, overwrite, config,
         eval_batch_size, progress, stop_after_epochs, devices, on_epoch_end, augment, save_every,
         val_data) -> FitResult:
    train_x, train_y = train_data
    n_train = len(train_y)
    if batch_size > n_train:
        raise ValueError(f"fit: batch_size={batch_size} is larger than the training set ({n_train} samples).")
    steps = n_train // batch_size
    out = None if out_dir is None else Path(out_dir)
    checkpoint = None if out is None else out / CHECKPOINT_NAME
    mesh = data_mesh(devices)
    check_batch(batch_size, mesh)
    main = is_main_process()
    if not isinstance(learner, AbstractLearner):
        raise ValueError("fit: give the learner of one model (an AbstractLearner), and seed=[...] with one seed "
                         "per member for an ensemble; fit asks it for its ensemble() itself.")
    seeds = _ensemble_seeds(seed, model)
    single = learner
    if seeds is not None:
        learner = learner.ensemble()
    model, state, history, partial = _start(model, learner.init(model), out, resume=resume, overwrite=overwrite,
                                            seed=seed if seeds is None else list(seeds))
    start_epoch = saved_epoch = epoch = len(history)
    if partial is not None and (partial.get("steps_per_epoch"), partial.get("batch_size")) != (steps, batch_size):
        raise ValueError(f"fit: {checkpoint} was saved inside epoch {partial['epoch']} of a run with batch size "
                         f"{partial.get('batch_size')} ({partial.get('steps_per_epoch')} steps per epoch); resume "
                         f"it with the same training data and batch size (got {batch_size}, {steps} steps).")
    # Saves within an epoch: after the steps where the count of images seen crosses a multiple of save_every.
    save_steps = (set() if save_every is None or out is None or not main else
                  {k for k in range(1, steps) if (k * batch_size) // save_every > ((k - 1) * batch_size) // save_every})

    def header_of(epoch: int) -> dict:
        header = {"config": {} if config is None else config, "epoch": epoch, "epochs": epochs,
                  "seed": seed if seeds is None else list(seeds), "history": history,
                  "steps_per_epoch": steps}
        if seeds is not None:
            header.update(members=len(seeds), seeds=list(seeds))
        return header

    step_fn = make_step(learner, model, mesh, augment, check_memory=True)

    def diagnose(model, state, images, labels, key):
        # The sharded step ran with throw=False; repeated on one device with throw=True, a failed
        # simulation raises its own message (unstable step, NaN, ...). An ensemble's failed members
        # are repeated one at a time (one model each), as the single runs they are.
        _on_one_device(lambda one, m, st, k: make_step(single, m, one, augment, throw=True)(m, st, images, labels, k),
                       model, state, key)

    model, state = replicate((model, state), mesh)
    def evaluator(data):
        # Accuracy on held-out data (test or validation split), one jitted prediction per run.
        if data is None:
            return None
        size = padded_batch(min(eval_batch_size or batch_size, len(data[1])), mesh)
        predict_fn = learner.predictor()
        predict = make_predict(predict_fn, model, mesh)
        return lambda model: evaluate(predict_fn, model, *data, batch_size=size, devices=devices,
                                      predict=predict)[0]

    test, validate = evaluator(test_data), evaluator(val_data)

    last_epoch = epochs if stop_after_epochs is None else min(epochs, start_epoch + stop_after_epochs)
    bar = None
    try:
        for epoch in range(start_epoch + 1, last_epoch + 1):
            t0, cpu0 = time.perf_counter(), time.process_time()
            # Updated by hand, not iterated: tqdm closes an iterated bar when the loop ends, and the
            # test accuracy measured after the loop belongs on this epoch's bar.
            bar = tqdm(total=steps, desc=f"epoch {epoch}/{epochs}", disable=not (progress and main), leave=True,
                       dynamic_ncols=True, mininterval=0.5)
            failed = _diverged(functools.partial(TrainingDiverged, epoch, steps_per_epoch=steps,
                                                 checkpoint=checkpoint, saved_epoch=saved_epoch))
            first, sums = 0, {}
            if partial is not None and partial["epoch"] == epoch:
                # Resumed inside this epoch: skip the batches already learned, with their metric sums.
                first = partial["step"]
                sums = {name: np.asarray(value, dtype=np.float64) for name, value in partial["sums"].items()}
                t0, cpu0 = t0 - partial["train_time_s"], cpu0 - partial["cpu_time_s"]
                bar.update(first)

            def save_within(step, model, state, sums, epoch=epoch, t0=t0, cpu0=cpu0):
                if step not in save_steps:
                    return
                header = header_of(epoch - 1)
                header["partial"] = {"epoch": epoch, "step": step, "images": step * batch_size,
                                     "steps_per_epoch": steps, "batch_size": batch_size,
                                     "sums": {name: np.asarray(total).tolist() for name, total in sums.items()},
                                     "train_time_s": time.perf_counter() - t0, "cpu_time_s": time.process_time() - cpu0}
                save_checkpoint(checkpoint, model, state, header)

            batches = _epoch_batches(train_x, train_y, batch_size, steps, seed if seeds is None else seeds, epoch,
                                     first=first)
            model, state, means = _train_epoch(step_fn, diagnose, learner, model, state, batches, bar, failed,
                                               seeds, first=first, sums=sums, save=save_within)
            train_time = time.perf_counter() - t0
            test_acc = None
            if test is not None:
                bar.set_description(f"epoch {epoch}/{epochs} (testing)")
                test_acc = _checked(lambda: test(model), failed, steps, "in the test evaluation ")
                bar.set_description(f"epoch {epoch}/{epochs}")
                bar.set_postfix({**{name: f"{np.mean(value):.4g}" for name, value in means.items()},
                                 "test_acc": f"{np.mean(test_acc):.4f}"})
            val_acc = None
            if validate is not None:
                val_acc = _checked(lambda: validate(model), failed, steps, "in the validation ")
            bar.close()
            row = {
                "epoch": epoch,
                **{k: v for name, value in means.items() for k, v in _summary(f"train_{name}", value).items()},
                **_summary("test_acc", test_acc),
                **(_summary("val_acc", val_acc) if validate is not None else {}),
                "epoch_time_s": time.perf_counter() - t0,
                "train_time_s": train_time,
                # CPU seconds of all this process's threads: on a shared machine, a better measure of
                # the work than the wall time.
                "cpu_time_s": time.process_time() - cpu0,
                "peak_rss_mb": peak_memory_mb(),
            }
            history.append(row)
            if out is not None and main:
                save_checkpoint(checkpoint, model, state, header_of(epoch))
                saved_epoch = epoch
                with open(out / METRICS_NAME, "a") as f:
                    f.write(json.dumps(row) + "\n")
            if on_epoch_end is not None and main:
                on_epoch_end(row)
    except KeyboardInterrupt:
        raise TrainingInterrupted(epoch, saved_epoch, out) from None
    finally:
        if bar is not None:
            bar.close()
    return FitResult(model=model, history=history, checkpoint=checkpoint)


def _start(model, state, out: Path | None, *, resume: bool, overwrite: bool, seed: int | list[int]):
    """``(model, state, history, partial)`` to start from: fresh, or from ``out``'s checkpoint when
    resuming (``partial``: where in an epoch it was saved, or ``None`` at an epoch's end).

    Refuses (before writing anything) to start over a run that is there, unless ``overwrite``, and
    to resume a folder that holds a log but no checkpoint.
    Only process 0 changes files; every process reads the checkpoint it resumes from.
    """
    if out is None:
        return model, state, [], None
    main = is_main_process()
    checkpoint = out / CHECKPOINT_NAME
    if main:
        remove_stale_temporaries(checkpoint)
    history: list[dict] = []
    partial = None
    if resume and not checkpoint.exists():
        logged = _logged_epochs(out)
        if logged:
            raise NoCheckpointError(out, logged)
    if not resume:
        existing = _existing_run(out, checkpoint)
        if existing is not False and not overwrite:
            raise RunExistsError(out, existing)
        if main:
            checkpoint.unlink(missing_ok=True)
    elif checkpoint.exists():
        # The seed first: an ensemble's checkpoint does not fit a single model, nor the reverse.
        written = read_checkpoint_header(checkpoint).get("seed")
        if written != seed:
            raise ValueError(f"fit: resuming {checkpoint}, written with seed {written}, "
                             f"with seed {seed}; use the same seed (or a new out_dir).")
        model, state, header = load_checkpoint(checkpoint, model, state)
        history = list(header["history"])
        partial = header.get("partial")
    # After a resume the log is rewritten from the checkpoint, dropping any later lines.
    if main:
        atomic_write(out / METRICS_NAME, b"".join(json.dumps(row).encode() + b"\n" for row in history))
    return model, state, history, partial


def _logged_epochs(out: Path) -> int:
    """The number of lines of ``out``'s log (0: none, or empty)."""
    metrics = out / METRICS_NAME
    if not metrics.is_file():
        return 0
    return sum(1 for line in metrics.read_text(errors="replace").splitlines() if line.strip())


def _checked(run: Callable, failed: Callable, step: int, where: str = ""):
    """``run()``; a failed runtime check inside it (e.g. simulate's stability check) becomes ``failed(...)``,
    running out of memory an :class:`OutOfMemory`."""
    try:
        return run()
    except (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError, FloatingPointError) as err:
        forget_failed_computation()
        if "RESOURCE_EXHAUSTED" in str(err) or "Out of memory" in str(err):
            raise OutOfMemory(step, where, _first_line(err)) from None
        raise failed(step, reason=f"the simulation failed {where}({_first_line(err)})") from err


def _train_epoch(step_fn: Callable, diagnose: Callable, learner: AbstractFitLearner, model, state, batches, bar,
                 failed: Callable, seeds: tuple[int, ...] | None = None, *, first: int = 0,
                 sums: dict | None = None, save: Callable | None = None):
    """One pass over ``batches`` (``(images, labels, key)``): ``(model, state, epoch means of the step metrics)``.

    ``first`` steps of the epoch were done before (a resumed run), their metric totals in ``sums``;
    ``save(step, model, state, sums)`` is called after every step (it decides whether to write).

    Stops with ``failed(step, reason=...)`` (a :class:`TrainingDiverged`) at the first non-finite
    metric, and at the end if the model or state is no longer finite. A non-finite metric is first
    run through ``diagnose(model, state, images, labels, key)``, which raises if a simulation
    failed, for each model the learner names (``learner.failures``): an ensemble's metrics are
    ``(K,)`` (members in the order of ``seeds``); each failed member is diagnosed alone (its model,
    state, batch and key) and named with its seed.
    """
    sums = dict(sums or {})
    step = first
    for step, (images, labels, key) in enumerate(batches, start=first + 1):
        def run(model=model, state=state, images=images, labels=labels, key=key):
            new_model, new_state, metrics = step_fn(model, state, images, labels, key)
            return new_model, new_state, {name: np.asarray(value, dtype=np.float64) for name, value in metrics.items()}

        new_model, new_state, metrics = _checked(run, failed, step)
        bad = {name: value for name, value in metrics.items() if not np.all(np.isfinite(value))}
        if bad:
            # One model, or each failed member of an ensemble, repeated alone to name the failure.
            failures = learner.failures(model, state, images, labels, key, bad)
            for k, args in failures:
                _checked(lambda: diagnose(*args), functools.partial(failed, where=_who(seeds, k)), step)
            raise failed(step, reason="; ".join(_what_failed(bad, seeds, k) for k, _ in failures)
                         + ("" if failures[0][0] is None else " (the other members are unaffected: members never mix)"))
        model, state = new_model, new_state
        for name, value in metrics.items():
            sums[name] = sums.get(name, 0.0) + value
        bar.set_postfix({name: f"{np.mean(total) / step:.4g}" for name, total in sums.items()}, refresh=False)
        bar.update(1)
        if save is not None:
            save(step, model, state, sums)
    nonfinite = _nonfinite((model, state), seeds)
    if nonfinite:
        # A non-finite update at the last step has not shown in any metric yet; do not save it.
        whose = "" if seeds is None else " of " + ", ".join(_who(seeds, k) for k in nonfinite)
        raise failed(step, reason=f"the parameters{whose} became NaN or inf")
    return model, state, {name: total / step for name, total in sums.items()}
