"""The training loop shared by every training method (SPICEprop, surrogate gradients, ...).

It knows nothing about neurons: a method hands it a model (an equinox Module), a loss function
``loss_fn(model, images, labels) -> (loss, predictions)``, a prediction function
``predict_fn(model, images) -> predictions`` and an optax optimiser. The loop then does what every
run needs:

* batches shuffled deterministically from ``(seed, epoch)``, so a run is reproducible and a resumed
  run sees exactly the batches the uninterrupted one would have seen;
* one jitted train step (value, gradient, optimiser update) on the trainable part of the model;
* evaluation on the test set after every epoch, in fixed-size batches (one compilation);
* a tqdm bar with the running loss and accuracy;
* ``metrics.jsonl``: one JSON line per epoch (losses, accuracies, wall and CPU time, peak memory);
* ``checkpoint.eqx``: model, optimiser state, epoch and the run's config, written atomically, so an
  interrupted or crashed run always leaves the last complete epoch on disk (``resume=True``);
* a guard that stops at the first non-finite loss (or a simulation that reports an unstable step)
  with a message naming the epoch and step and the last good checkpoint.

Checkpoint file layout (``checkpoint.eqx``)::

    memsnn-checkpoint 1\\n           magic line
    {"config": ..., "epoch": ...}\\n  one line of JSON (the header, see :func:`read_checkpoint_header`)
    <model leaves>                   eqx.tree_serialise_leaves
    <optimiser state leaves>         eqx.tree_serialise_leaves
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from tqdm.auto import tqdm

__all__ = [
    "CHECKPOINT_NAME",
    "METRICS_NAME",
    "FitResult",
    "TrainingDiverged",
    "evaluate",
    "fit",
    "load_checkpoint",
    "make_optimizer",
    "make_predict",
    "make_train_step",
    "peak_memory_mb",
    "read_checkpoint_header",
    "replicate",
    "save_checkpoint",
    "use_cpu_cores",
]

CHECKPOINT_NAME = "checkpoint.eqx"
METRICS_NAME = "metrics.jsonl"
_MAGIC = b"memsnn-checkpoint 1\n"

LossFn = Callable[[Any, jax.Array, jax.Array], "tuple[jax.Array, jax.Array]"]
PredictFn = Callable[[Any, jax.Array], jax.Array]


class TrainingDiverged(RuntimeError):
    """Training stopped because the loss (or the simulated state) stopped being finite."""


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes:
        model: the trained model (trainable and frozen parts combined).
        history: one dict per completed epoch, the lines of ``metrics.jsonl``.
        checkpoint: path of the last checkpoint written, or ``None`` without ``out_dir``.
    """

    model: Any
    history: list[dict]
    checkpoint: Path | None


# --------------------------------------------------------------------------------------------
# Optimiser
# --------------------------------------------------------------------------------------------


def make_optimizer(
    lr: float,
    *,
    total_steps: int,
    schedule: str = "cosine",
    weight_decay: float = 0.0,
    clip_norm: float | None = None,
    warmup_steps: int = 0,
) -> optax.GradientTransformation:
    """Adam (AdamW when ``weight_decay > 0``) with a learning-rate schedule.

    Args:
        lr: peak learning rate.
        total_steps: number of optimiser steps in the whole run (epochs x batches per epoch).
        schedule: ``"constant"``, ``"cosine"`` (decay to 0 over the run, after ``warmup_steps`` of
            linear warm-up) or ``"step"`` (x0.1 at 50% and 75% of the run).
        weight_decay: decoupled weight decay (AdamW).
        clip_norm: clip the global gradient norm to this value first, or ``None``.
        warmup_steps: linear warm-up from 0 (``"cosine"`` only).
    """
    total_steps = max(int(total_steps), 1)
    if schedule == "constant":
        rate = optax.constant_schedule(lr)
    elif schedule == "cosine":
        if warmup_steps > 0:
            rate = optax.warmup_cosine_decay_schedule(0.0, lr, warmup_steps, total_steps)
        else:
            rate = optax.cosine_decay_schedule(lr, total_steps)
    elif schedule == "step":
        rate = optax.piecewise_constant_schedule(
            lr, {int(total_steps * 0.5): 0.1, int(total_steps * 0.75): 0.1})
    else:
        raise ValueError(f"make_optimizer: schedule must be 'constant', 'cosine' or 'step', got {schedule!r}.")
    adam = optax.adamw(rate, weight_decay=weight_decay) if weight_decay > 0 else optax.adam(rate)
    return adam if clip_norm is None else optax.chain(optax.clip_by_global_norm(clip_norm), adam)


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    # The rename itself is only durable once the directory entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save_checkpoint(path: str | os.PathLike, model, opt_state, header: dict) -> Path:
    """Write ``model``, ``opt_state`` and the JSON ``header`` to ``path`` atomically.

    The data go to a temporary file in the same folder, are flushed and fsynced, and the file is
    then renamed over ``path`` (:func:`os.replace`): a crash at any moment leaves either the old
    checkpoint or the new one, never a partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC)
            f.write(json.dumps(header).encode() + b"\n")
            eqx.tree_serialise_leaves(f, model)
            eqx.tree_serialise_leaves(f, opt_state)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def _open_checkpoint(path: Path):
    f = open(path, "rb")
    try:
        magic = f.readline()
        if magic != _MAGIC:
            raise ValueError(f"{path} is not a memsnn checkpoint (it starts with {magic[:40]!r}).")
        header = json.loads(f.readline())
    except BaseException:
        f.close()
        raise
    return f, header


def read_checkpoint_header(path: str | os.PathLike) -> dict:
    """The JSON header of a checkpoint: ``config``, ``epoch`` (completed epochs), ``history``, ..."""
    f, header = _open_checkpoint(Path(path))
    f.close()
    return header


def load_checkpoint(path: str | os.PathLike, like_model, like_opt_state=None):
    """Read a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the checkpoint file.
        like_model: a model of the same structure (e.g. freshly built from the header's config);
            its leaves are replaced by the stored ones.
        like_opt_state: likewise for the optimiser state, or ``None`` to skip it.

    Returns:
        ``(model, opt_state, header)``; ``opt_state`` is ``None`` if ``like_opt_state`` was.
    """
    f, header = _open_checkpoint(Path(path))
    with f:
        model = eqx.tree_deserialise_leaves(f, like_model)
        opt_state = None if like_opt_state is None else eqx.tree_deserialise_leaves(f, like_opt_state)
    return model, opt_state, header


def _write_metrics(path: Path, history: list[dict]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        for row in history:
            f.write(json.dumps(row) + "\n")
    os.replace(tmp, path)


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


def make_predict(predict_fn: PredictFn, model, mesh: Mesh | None = None) -> Callable:
    """``predict(model, images) -> predictions``, jitted once, the batch split over ``mesh``.

    Models with the same structure as ``model`` reuse the compiled function.
    """
    static = eqx.partition(model, eqx.is_array)[1]
    sharded = _on_shards(lambda p, x: predict_fn(eqx.combine(p, static), x), mesh, (P(), P("batch")), P("batch"))
    jitted = eqx.filter_jit(sharded)
    return lambda model, images: jitted(eqx.filter(model, eqx.is_array), images)


def evaluate(predict_fn: PredictFn, model, images: np.ndarray, labels: np.ndarray, *,
             batch_size: int = 1000, devices=None, predict: Callable | None = None) -> tuple[float, np.ndarray]:
    """Accuracy of ``predict_fn`` on ``(images, labels)``, in batches of a fixed size.

    The last batch is padded (with copies of the first samples) so only one shape is compiled.
    Batches are split over ``devices`` (default: all local devices) when they divide evenly.
    ``predict`` (from :func:`make_predict`) reuses a compiled function across calls.

    Returns:
        ``(accuracy, predictions)``: the fraction correct and the ``(N,)`` predicted classes.
    """
    n = len(labels)
    batch_size = min(batch_size, n)
    predict = predict or make_predict(predict_fn, model, _mesh(devices, [batch_size]))
    predictions = np.empty(n, dtype=np.int64)
    for start in range(0, n, batch_size):
        idx = np.arange(start, start + batch_size) % n
        out = np.asarray(predict(model, jnp.asarray(images[idx])))
        stop = min(start + batch_size, n)
        predictions[start:stop] = out[: stop - start]
    return float(np.mean(predictions == labels)), predictions


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


def use_cpu_cores(n: int | None = None) -> int:
    """Expose ``n`` CPU cores (default: all) as ``n`` JAX CPU devices, for :func:`fit` to split batches.

    XLA runs one simulation's small per-step kernels on one core; with one device per core, each
    core simulates its share of the batch. Call this before the first JAX computation (the CLI,
    the benchmarks and the notebooks do); afterwards it changes nothing.

    Returns:
        The number of devices in effect.
    """
    n = int(n or os.cpu_count() or 1)
    with contextlib.suppress(RuntimeError):  # the backend exists already: keep its devices
        jax.config.update("jax_num_cpu_devices", n)
    return len(jax.local_devices())


def _mesh(devices, batch_sizes) -> Mesh | None:
    """A 1-D mesh over ``devices`` that divides every batch size, or ``None`` for one device."""
    devices = list(jax.local_devices() if devices is None else devices)
    while len(devices) > 1 and any(b % len(devices) for b in batch_sizes):
        devices = devices[:-1]
    return Mesh(np.array(devices), ("batch",)) if len(devices) > 1 else None


def _on_shards(fn: Callable, mesh: Mesh | None, in_specs, out_specs) -> Callable:
    # Each device runs ``fn`` on its slice of the batch: no communication inside the time loop.
    if mesh is None:
        return fn
    return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)


def replicate(tree, mesh: Mesh | None):
    """Put every array of ``tree`` on all devices of ``mesh`` (a no-op without a mesh).

    The train step returns replicated parameters; giving it replicated ones from the first call on
    keeps the input shardings the same, so the step is compiled once, not twice.
    """
    if mesh is None:
        return tree
    sharding = NamedSharding(mesh, P())
    return jax.tree.map(lambda x: jax.device_put(x, sharding) if eqx.is_array(x) else x, tree)


def make_train_step(loss_fn: LossFn, optimizer: optax.GradientTransformation, static,
                    mesh: Mesh | None = None, augment: Callable | None = None) -> Callable:
    """The jitted step ``(params, opt_state, images, labels, key=None) -> (params, opt_state, loss, accuracy)``.

    ``params`` is the trainable part of the model and ``static`` the frozen rest
    (``eqx.partition``); one call is a forward pass, a backward pass and an optimiser update. With a
    ``mesh`` the batch is split over its devices and the losses and gradients averaged, which is
    exact for a batch-mean loss. ``augment(key, images) -> images`` transforms the batch first.
    """

    def shard_grads(params, images, labels):
        def objective(p):
            return loss_fn(eqx.combine(p, static), images, labels)

        (loss, predictions), grads = eqx.filter_value_and_grad(objective, has_aux=True)(params)
        if mesh is not None:
            loss, grads = jax.lax.pmean((loss, grads), "batch")
        return loss, predictions, grads

    batch_grads = _on_shards(shard_grads, mesh, (P(), P("batch"), P("batch")), (P(), P("batch"), P()))

    @eqx.filter_jit
    def train_step(params, opt_state, images, labels, key=None):
        if augment is not None:
            images = augment(key, images)
        loss, predictions, grads = batch_grads(params, images, labels)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, loss, jnp.mean(predictions == labels)

    return train_step


def _diverged(epoch: int, step: int, steps_per_epoch: int, what: str, checkpoint: Path | None,
              good_epoch: int) -> TrainingDiverged:
    if checkpoint is not None and good_epoch > 0:
        where = (f"The last good checkpoint is {checkpoint} (end of epoch {good_epoch}); it was left "
                 "untouched. Resume from it with a lower learning rate (or gradient clipping), e.g. "
                 "`memsnn train ... --resume --lr <smaller>`.")
    elif checkpoint is not None:
        where = f"No epoch had finished, so no checkpoint was written to {checkpoint.parent}."
    else:
        where = "No checkpoint is kept for this run (no out_dir)."
    return TrainingDiverged(
        f"Training diverged at epoch {epoch}, step {step} of {steps_per_epoch}: {what}. {where}")


def _first_line(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    # JAX wraps the check's own message in tracebacks; prefer the line that names memsnn.
    named = [line for line in lines if line.startswith("memsnn")]
    return (named or lines or [type(err).__name__])[0]


def fit(
    model,
    loss_fn: LossFn,
    predict_fn: PredictFn,
    optimizer: optax.GradientTransformation,
    train_data: tuple[np.ndarray, np.ndarray],
    test_data: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    config: dict | None = None,
    trainable=eqx.is_inexact_array,
    eval_batch_size: int | None = None,
    progress: bool = True,
    stop_after_epochs: int | None = None,
    devices=None,
    on_epoch_end: Callable[[dict], None] | None = None,
    augment: Callable | None = None,
) -> FitResult:
    """Train ``model`` with ``optimizer`` on ``train_data`` for ``epochs`` epochs.

    Args:
        model: an equinox Module.
        loss_fn: ``loss_fn(model, images (B, F), labels (B,)) -> (loss (), predictions (B,))``, the
            batch-mean loss and the predicted classes (for the running training accuracy).
        predict_fn: ``predict_fn(model, images (B, F)) -> predictions (B,)`` for evaluation.
        optimizer: an optax transformation (see :func:`make_optimizer`).
        train_data, test_data: ``(images (N, F), labels (N,))`` NumPy arrays. Without test data
            the per-epoch test accuracy is ``None``.
        epochs: total number of epochs of the run (a resumed run continues up to it).
        batch_size: training batch size; the incomplete last batch of an epoch is dropped so one
            shape is compiled (every sample is still seen over the epochs: the order changes).
        seed: seeds the batch order (the model's initialisation is the caller's business).
        out_dir: where ``checkpoint.eqx`` and ``metrics.jsonl`` go; ``None`` writes nothing.
        resume: continue from ``out_dir/checkpoint.eqx`` if it exists (the model and optimiser
            passed in are then only used as templates). The result equals an uninterrupted run.
        config: JSON-serialisable description of the run, stored in the checkpoint; it must hold
            what is needed to rebuild the model (``memsnn evaluate`` reads it).
        trainable: filter (a function of a leaf, or a pytree of bools) choosing the leaves that are
            trained; the rest of the model is frozen. Default: all floating-point arrays.
        eval_batch_size: batch size for evaluation (default ``batch_size``).
        progress: show the tqdm bar.
        stop_after_epochs: stop after this many epochs *of this call* as if interrupted (for tests
            and for splitting a run into pieces); checkpoints are written as usual.
        devices: split every batch over these devices (default: all local devices, as many as
            divide the batch size; see :func:`use_cpu_cores`). The loss must be a mean over the
            batch. Results agree across device counts up to floating-point rounding; a run is
            bit-for-bit reproducible (and resumable) on the same number of devices.
        on_epoch_end: called with each epoch's row of ``metrics.jsonl`` after it is written.
        augment: ``augment(key, images) -> images`` applied to every training batch (e.g.
            :func:`memsnn.training.augment.random_shift`); its keys come from ``(seed, epoch,
            step)``, so augmented runs are reproducible and resumable too.

    Returns:
        A :class:`FitResult`.

    Raises:
        TrainingDiverged: the loss became NaN/inf, or the simulation inside the loss reported an
            unstable or non-finite state. The last good checkpoint is kept.
    """
    train_x, train_y = train_data
    n_train = len(train_y)
    if batch_size > n_train:
        raise ValueError(f"fit: batch_size={batch_size} is larger than the training set ({n_train} samples).")
    steps_per_epoch = n_train // batch_size
    eval_batch_size = eval_batch_size or batch_size
    config = {} if config is None else config
    out = None if out_dir is None else Path(out_dir)
    checkpoint = None if out is None else out / CHECKPOINT_NAME

    params, static = eqx.partition(model, trainable)
    opt_state = optimizer.init(params)
    history: list[dict] = []
    start_epoch = 0
    if resume and checkpoint is not None and checkpoint.exists():
        model, opt_state, header = load_checkpoint(checkpoint, model, opt_state)
        params, static = eqx.partition(model, trainable)
        start_epoch, history = int(header["epoch"]), list(header["history"])
        if header.get("seed") != seed:
            raise ValueError(f"fit: resuming {checkpoint}, written with seed {header.get('seed')}, "
                             f"with seed {seed}; use the same seed (or a new out_dir).")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        # After a resume the log is rewritten from the checkpoint, dropping any later lines.
        _write_metrics(out / METRICS_NAME, history)

    mesh = _mesh(devices, [batch_size])
    train_step = make_train_step(loss_fn, optimizer, static, mesh, augment)
    params, opt_state = replicate((params, opt_state), mesh)
    augment_key = jax.random.key(seed)
    if test_data is not None:
        eval_batch_size = min(eval_batch_size, len(test_data[1]))
        predict = make_predict(predict_fn, model, _mesh(devices, [eval_batch_size]))
    last_epoch = epochs if stop_after_epochs is None else min(epochs, start_epoch + stop_after_epochs)
    for epoch in range(start_epoch + 1, last_epoch + 1):
        order = epoch_permutation(n_train, seed, epoch)
        t0, cpu0 = time.perf_counter(), time.process_time()
        loss_sum = acc_sum = 0.0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{epochs}", disable=not progress,
                   leave=True, dynamic_ncols=True, mininterval=0.5)
        for step in bar:
            idx = order[step * batch_size:(step + 1) * batch_size]
            try:
                key = jax.random.fold_in(jax.random.fold_in(augment_key, epoch), step)
                new_params, new_opt_state, loss, acc = train_step(
                    params, opt_state, jnp.asarray(train_x[idx]), jnp.asarray(train_y[idx]), key)
                loss = float(loss)
            except (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError) as err:
                # A check inside the step failed, e.g. memsnn.simulate's stability or NaN check.
                bar.close()
                raise _diverged(epoch, step + 1, steps_per_epoch,
                                f"the simulation failed ({_first_line(err)})", checkpoint, epoch - 1) from err
            if not math.isfinite(loss):
                bar.close()
                raise _diverged(epoch, step + 1, steps_per_epoch, f"the loss is {loss}", checkpoint, epoch - 1)
            params, opt_state = new_params, new_opt_state
            loss_sum += loss
            acc_sum += float(acc)
            bar.set_postfix(loss=f"{loss_sum / (step + 1):.4g}", acc=f"{acc_sum / (step + 1):.3f}")
        train_time = time.perf_counter() - t0
        if not all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(params)):
            # A non-finite gradient at the last step has not shown in any loss yet; do not save it.
            bar.close()
            raise _diverged(epoch, steps_per_epoch, steps_per_epoch, "the parameters became NaN or inf",
                            checkpoint, epoch - 1)
        model = eqx.combine(params, static)
        test_acc = None
        if test_data is not None:
            test_acc, _ = evaluate(predict_fn, model, *test_data, batch_size=eval_batch_size, predict=predict)
            bar.set_postfix(loss=f"{loss_sum / steps_per_epoch:.4g}", acc=f"{acc_sum / steps_per_epoch:.3f}",
                            test_acc=f"{test_acc:.4f}")
        bar.close()
        row = {
            "epoch": epoch,
            "train_loss": loss_sum / steps_per_epoch,
            "train_acc": acc_sum / steps_per_epoch,
            "test_acc": test_acc,
            "epoch_time_s": time.perf_counter() - t0,
            "train_time_s": train_time,
            # CPU seconds of all this process's threads: on a shared machine, a better measure of
            # the work than the wall time.
            "cpu_time_s": time.process_time() - cpu0,
            "peak_rss_mb": peak_memory_mb(),
        }
        history.append(row)
        if out is not None:
            header = {"config": config, "epoch": epoch, "epochs": epochs, "seed": seed,
                      "history": history, "steps_per_epoch": steps_per_epoch}
            save_checkpoint(checkpoint, model, opt_state, header)
            with open(out / METRICS_NAME, "a") as f:
                f.write(json.dumps(row) + "\n")
        if on_epoch_end is not None:
            on_epoch_end(row)
    return FitResult(model=eqx.combine(params, static), history=history, checkpoint=checkpoint)
