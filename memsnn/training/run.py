"""Train a registered method on MNIST / Fashion-MNIST, and reload or evaluate what it saved.

These are what ``memsnn train`` and ``memsnn evaluate`` call; notebooks and benchmarks use them too::

    from memsnn.training import train, evaluate_checkpoint
    result = train("spiceprop", "mnist", source="full", epochs=40, out_dir="runs/mnist")
    print(result.history[-1]["test_acc"])
    print(evaluate_checkpoint("runs/mnist/checkpoint.eqx")["accuracy"])

    # Four seeds in one run (an ensemble; docs/training.md, "Ensembles"): mean and std per epoch.
    result = train("spiceprop", "mnist", seeds=[0, 1, 2, 3], out_dir="runs/mnist-seeds")
    print(result.history[-1]["test_acc"], result.history[-1]["test_acc_std"])
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import jax
import numpy as np

from .. import __version__
from .._validation import check_setting
from ..data import load_dataset
from ..simulate import SPIKE_TIMINGS
from .augment import augmentation
from .checkpoint import CheckpointError, load_checkpoint, read_checkpoint_header
from .ensemble import MAX_SEED, check_seeds, member_predict, spread, stack
from .learner import GradientLearner, make_optimizer
from .sharding import is_main_process
from .loop import (
    CHECKPOINT_NAME,
    FitResult,
    NoCheckpointError,
    RunExistsError,
    _existing_run,
    _logged_epochs,
    evaluate,
    fit,
)
from .methods import METHODS, get_method
from .runlock import run_lock

__all__ = ["evaluate_checkpoint", "load_trained", "train"]

# Settings that may change when a run is resumed; anything else must match the checkpoint.
_RESUMABLE_CHANGES = ("epochs", "optimizer.lr", "eval_batch_size", "save_every")
# Settings that older checkpoints do not hold, with the value that they ran with.
_ADDED_SETTINGS = {"augment_flip": False, "augment_drop": 0.0}


def _flat(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _normalised(config: dict) -> dict:
    # Compare configs as JSON sees them (tuples and lists alike).
    return json.loads(json.dumps(config))


def _check_settings(config: dict) -> None:
    """Check the training settings in place (whole numbers become ``int``, rates ``float``).

    Out-of-range values fail here, saying what is allowed, instead of deep inside JAX or NumPy.
    """
    opt = config["optimizer"]
    for name in ("epochs", "batch_size", "eval_batch_size"):
        config[name] = check_setting("train", name, config[name], low=1, integer=True)
    opt["lr"] = float(check_setting("train", "lr", opt["lr"], low=0, high=1, low_open=True,
                                    hint="the peak learning rate of Adam, typically 1e-4 to 1e-2"))
    opt["weight_decay"] = float(check_setting("train", "weight_decay", opt["weight_decay"], low=0,
                                              hint="decoupled weight decay (AdamW); 0 turns it off"))
    check_setting("train", "clip_norm", opt["clip_norm"], low=0, low_open=True, allow_none=True,
                  hint="the largest global gradient norm; None turns clipping off")
    config["save_every"] = check_setting(
        "train", "save_every", config["save_every"], low=1, integer=True, allow_none=True,
        hint="training images between saves within an epoch; None saves at the end of each epoch only")
    config["augment_shift"] = check_setting(
        "train", "augment_shift", config["augment_shift"], low=0, high=27, integer=True,
        hint="the largest shift of a training image in pixels; 0 turns it off")
    config["augment_drop"] = float(check_setting(
        "train", "augment_drop", config["augment_drop"], low=0, high=1,
        hint="the probability in [0, 1) that a pixel of a training image is set to 0; 0 turns it off"))
    if config["augment_drop"] == 1:
        raise ValueError("train: augment_drop must be below 1 (a probability in [0, 1) that a pixel of a training "
                         "image is set to 0; 1 would drop every pixel), got 1.0.")
    if "seeds" in config:
        config["seeds"] = list(check_seeds(config["seeds"], "train"))
    else:
        config["seed"] = check_setting("train", "seed", config["seed"], low=0, high=MAX_SEED, integer=True,
                                       hint="the seed of a JAX key (32 bits)")


def _load_split(data: dict, split: str, subset_key: str):
    return load_dataset(data["dataset"], split, source=data["source"], data_dir=data.get("data_dir"),
                        subset=data.get(subset_key))


def train(
    method: str = "spiceprop",
    dataset: str | None = None,
    *,
    source: str | None = None,
    data_dir: str | os.PathLike | None = None,
    train_subset: int | None = None,
    test_subset: int | None = None,
    validation: int | None = None,
    model: dict | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    schedule: str | None = None,
    weight_decay: float | None = None,
    clip_norm: float | None = None,
    augment_shift: int | None = None,
    augment_flip: bool | None = None,
    augment_drop: float | None = None,
    eval_batch_size: int | None = None,
    save_every: int | None = None,
    seed: int | None = None,
    seeds: list[int] | None = None,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    stop_after_epochs: int | None = None,
    on_epoch_end=None,
    devices=None,
    spike_timing: str | None = None,
) -> FitResult:
    """Train ``method`` on ``dataset`` and return a :class:`~memsnn.training.loop.FitResult`.

    Every setting left at ``None`` takes the method's default, or, when resuming, the value stored
    in the checkpoint. Resuming may change ``epochs``, ``lr`` and ``eval_batch_size``; any other
    setting that differs from the checkpoint is an error (start a new ``out_dir`` instead).

    Args:
        method: a registered method (see :data:`memsnn.training.METHODS`), e.g. ``"spiceprop"``.
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        source: ``"bundled"`` (the 4,000 / 1,000-sample subset shipped with memsnn, the default)
            or ``"full"`` (60,000 / 10,000, from ``data_dir`` or ``$MEMSNN_DATA_DIR``, downloaded
            if missing).
        data_dir: folder with the original dataset files (``source="full"``).
        train_subset, test_subset: use only the first N samples of each split.
        validation: hold out the last N of the training samples (after ``train_subset``) as a
            validation split: the model trains on the others, and every epoch logs the accuracy
            on the held-out ones as ``val_acc``. Choose among runs and epochs on it, never on the
            test set. ``None`` or 0: no validation split.
        model: model settings for the method (e.g. ``{"hidden": [100], "n_steps": 1000}`` for
            SPICEprop: :class:`~memsnn.training.spiceprop.SpicepropConfig`).
        epochs, batch_size, lr, schedule, weight_decay, clip_norm: training settings
            (see :func:`~memsnn.training.loop.make_optimizer`).
        augment_shift: data augmentation: translate each training image by up to this many
            pixels (:func:`~memsnn.training.augment.random_shift`); 0 = off (default).
        augment_flip: data augmentation: mirror each training image left to right with
            probability 1/2 (:func:`~memsnn.training.augment.random_flip`; for Fashion-MNIST, not
            digits); off by default.
        augment_drop: data augmentation: set each pixel of a training image to 0 with this
            probability (:func:`~memsnn.training.augment.random_drop`, input dropout; under the
            ttfs method's latency code a dropped pixel does not spike); 0 = off (default).
        eval_batch_size: batch size of the per-epoch test evaluation.
        save_every: also save the run within an epoch every this many training images (default:
            the method's: STDP 5,000 images, the others at epoch ends only); a run resumed from
            such a checkpoint continues to the numbers of an uninterrupted one (:func:`fit`).
        seed: initialisation and batch order (default 0).
        seeds: train an ensemble instead: one model per seed (distinct, non-negative), all in
            this one run and its one jitted step (vmapped on an accelerator, one after another on
            a CPU; :func:`~memsnn.training.fit`; docs/training.md, "Ensembles").
            Member ``k`` is the run with ``seed=seeds[k]``; every epoch logs the mean test accuracy
            with ``test_acc_std`` and ``test_acc_members``. Not with ``seed``; methods that do not
            train by gradient descent alone (conversion, STDP) train one model per run.
        out_dir: where the checkpoint and ``metrics.jsonl`` go (``None``: nothing is written).
        resume: continue the run in ``out_dir`` from its checkpoint.
        overwrite: replace a run already in ``out_dir`` (without it, or ``resume``, an existing run
            raises :class:`~memsnn.training.loop.RunExistsError` and nothing is touched). While the
            run writes ``out_dir`` it holds the folder's lock: a second run into it raises
            :class:`~memsnn.training.runlock.RunLockedError` at once, naming the first.
        progress: show progress bars.
        stop_after_epochs: stop after this many epochs of this call (the run can be resumed).
        on_epoch_end: called with each epoch's metrics (a dict) as soon as the epoch is done.
        devices: split every batch over these devices (default: all local devices); the batch size
            must be a multiple of their number (see :func:`~memsnn.training.fit`).
        spike_timing: ``"grid"`` or ``"exact"``: the spike timing the run must use (``None``: the
            method's own, :attr:`~memsnn.training.Method.spike_timing`). A method that cannot use
            the one asked for raises a ``ValueError`` naming the methods that do (e.g. exact, event
            spike times for ``surrogate``, whose gradients are surrogates of grid spikes).

    Raises:
        ValueError: a setting out of range (e.g. ``lr=-1``, ``checkpoint_every=-1``; the message
            says what is allowed), ``seed`` with ``seeds``, repeated seeds, ``seeds`` with a method
            that cannot train an ensemble, settings that differ from the run being resumed, or
            :class:`~memsnn.training.loop.RunExistsError`.
        CheckpointError: the checkpoint to resume is damaged.
    """
    spec = get_method(method)
    if spike_timing is not None:
        check_spike_timing(method, spike_timing)
    if seed is not None and seeds is not None:
        raise ValueError("train: give seed (one model) or seeds (an ensemble, one model per seed), not both.")
    if seeds is not None and (spec.learner is not None or spec.after_training is not None):
        what = ("learns by a local rule, without a loss to vmap" if spec.learner is not None
                else "converts its one trained network after training")
        raise ValueError(f"train: seeds (an ensemble) needs a method that trains by gradient descent alone "
                         f"(spiceprop, surrogate); the {method} method {what}. Train it once per seed "
                         f"(seed=N, or --seed N) instead.")
    stored = None
    checkpoint = None if out_dir is None else Path(out_dir) / CHECKPOINT_NAME
    if resume and checkpoint is not None and checkpoint.exists():
        stored = read_checkpoint_header(checkpoint)["config"]
        if stored.get("method") != method:
            raise ValueError(f"{checkpoint} holds a {stored.get('method')!r} run; cannot resume it as {method!r}.")
        # Settings written by an older memsnn read as today's (STDP's array/crossbar_preset -> crossbar).
        stored = {**stored, "model": spec.complete_config(stored.get("model") or {})}
    base = stored or {}
    stored_data, stored_opt = base.get("data", {}), base.get("optimizer", {})

    def setting(value, held, key):
        # Given > stored in the checkpoint (when resuming) > the method's default.
        if value is not None:
            return value
        return held if stored is not None else spec.defaults.get(key)

    data = {
        "dataset": dataset if dataset is not None else stored_data.get("dataset"),
        "source": source or stored_data.get("source") or "bundled",
        "data_dir": None if data_dir is None else str(data_dir),
        "train_subset": train_subset if train_subset is not None else stored_data.get("train_subset"),
        "test_subset": test_subset if test_subset is not None else stored_data.get("test_subset"),
        "validation": (validation if validation is not None else stored_data.get("validation")) or None,
    }
    if data["dataset"] is None:
        raise ValueError("train: say which dataset to use: 'mnist' or 'fashion-mnist'.")
    batch_size = setting(batch_size, base.get("batch_size"), "batch_size")
    if seeds is None and seed is None and stored is not None:
        seeds = stored.get("seeds")  # resuming an ensemble
    # An ensemble's config holds its seeds (and seed None); a single run's, its seed only.
    seed_settings = ({"seed": None, "seeds": seeds} if seeds is not None
                     else {"seed": setting(seed, base.get("seed"), "seed") or 0})
    config = {
        "method": method,
        "model": spec.complete_config({**(base.get("model") or {}), **(model or {})}),
        "data": data,
        "epochs": setting(epochs, base.get("epochs"), "epochs"),
        "batch_size": batch_size,
        "optimizer": {
            "lr": setting(lr, stored_opt.get("lr"), "lr"),
            "schedule": setting(schedule, stored_opt.get("schedule"), "schedule"),
            "weight_decay": setting(weight_decay, stored_opt.get("weight_decay"), "weight_decay"),
            "clip_norm": setting(clip_norm, stored_opt.get("clip_norm"), "clip_norm"),
        },
        "augment_shift": setting(augment_shift, base.get("augment_shift", 0), "augment_shift") or 0,
        "augment_flip": bool(setting(augment_flip, base.get("augment_flip", False), "augment_flip")),
        "augment_drop": setting(augment_drop, base.get("augment_drop", 0.0), "augment_drop") or 0.0,
        "eval_batch_size": setting(eval_batch_size, base.get("eval_batch_size"), "eval_batch_size") or batch_size,
        "save_every": setting(save_every, base.get("save_every"), "save_every"),
        **seed_settings,
        "memsnn_version": __version__,
    }
    _check_settings(config)
    if stored is not None:
        # Settings added after a checkpoint was written count as their defaults there.
        old, new = _flat(_normalised({**_ADDED_SETTINGS, **stored})), _flat(_normalised(config))
        changed = [k for k in sorted(set(old) | set(new))
                   if old.get(k) != new.get(k) and k not in _RESUMABLE_CHANGES
                   and k not in ("memsnn_version", "data.data_dir")]
        if changed:
            details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed)
            raise ValueError(f"cannot resume {checkpoint} with different settings ({details}); only "
                             f"{', '.join(_RESUMABLE_CHANGES)} may change. Drop those options, or "
                             "train into a new output folder.")

    held = run_lock(out_dir) if out_dir is not None and is_main_process() else contextlib.nullcontext()
    with held:
        return _train(spec, config, out_dir=out_dir, resume=resume, overwrite=overwrite, progress=progress,
                      stop_after_epochs=stop_after_epochs, on_epoch_end=on_epoch_end, devices=devices)


def _train(spec, config: dict, *, out_dir, resume, overwrite, progress, stop_after_epochs, on_epoch_end,
           devices) -> FitResult:
    """:func:`train` once the settings are complete and the run folder is held."""
    data = config["data"]
    if out_dir is not None and not resume and not overwrite:
        # Before the data are loaded: a run in the way is the first thing the user should hear of.
        existing = _existing_run(Path(out_dir), Path(out_dir) / CHECKPOINT_NAME)
        if existing is not False:
            raise RunExistsError(Path(out_dir), existing)
    if out_dir is not None and resume and not (Path(out_dir) / CHECKPOINT_NAME).exists():
        logged = _logged_epochs(Path(out_dir))
        if logged:
            raise NoCheckpointError(Path(out_dir), logged)
    train_data = _load_split(data, "train", "train_subset")
    test_data = _load_split(data, "test", "test_subset")
    val_data = None
    if data.get("validation"):
        n_val = data["validation"]
        if not 0 < n_val < len(train_data[1]):
            raise ValueError(f"train: validation={n_val} must be a positive number of training samples smaller "
                             f"than the {len(train_data[1])} there are (the rest are trained on).")
        val_data = tuple(a[-n_val:] for a in train_data)
        train_data = tuple(a[:-n_val] for a in train_data)
    ensemble = config.get("seeds")
    if ensemble is None:
        net = one = spec.build(config["model"], key=jax.random.key(config["seed"]))
    else:
        members = [spec.build(config["model"], key=jax.random.key(s)) for s in ensemble]
        net, one = stack(members), members[0]
    opt = config["optimizer"]
    steps = config["epochs"] * (len(train_data[1]) // config["batch_size"])
    optimizer = make_optimizer(opt["lr"], total_steps=steps, schedule=opt["schedule"],
                               weight_decay=opt["weight_decay"], clip_norm=opt["clip_norm"])
    augment = augmentation(config["augment_shift"], config.get("augment_flip", False),
                           config.get("augment_drop", 0.0))
    if spec.learner is not None:
        learner = spec.learner(net, config)
    else:
        # The filter of one member selects the same leaves of the stacked ensemble.
        learner = GradientLearner(spec.loss, spec.predict, optimizer, spec.trainable(one))
    result = fit(net, learner, train_data, test_data, augment=augment,
                 epochs=config["epochs"], batch_size=config["batch_size"],
                 seed=config["seed"] if ensemble is None else list(ensemble),
                 out_dir=out_dir, resume=resume, overwrite=overwrite, config=config,
                 eval_batch_size=config["eval_batch_size"], progress=progress,
                 stop_after_epochs=stop_after_epochs, on_epoch_end=on_epoch_end, devices=devices,
                 save_every=config["save_every"], val_data=val_data)
    if spec.after_training is not None:
        result = spec.after_training(result, config=config, train_data=train_data, test_data=test_data,
                                     out_dir=out_dir, progress=progress)
    return result


_TIMING_WORDS = {
    "grid": "spikes read at the grid points of the time step (surrogate gradients, rates or membrane readouts)",
    "exact": "exact, event spike times located inside each step, with gradients through those times",
}


def check_spike_timing(method: str, spike_timing: str) -> None:
    """Raise a ``ValueError`` unless ``method`` can train with ``spike_timing`` (``"grid"`` / ``"exact"``).

    The message says what the method uses instead and which methods use the timing asked for.
    """
    if spike_timing not in SPIKE_TIMINGS:
        raise ValueError(f"train: spike_timing must be one of {SPIKE_TIMINGS}, got {spike_timing!r}.")
    spec = get_method(method)
    if spec.spike_timing == spike_timing:
        return
    users = sorted(name for name, m in METHODS.items() if m.spike_timing == spike_timing)
    raise ValueError(
        f"train: the {method} method cannot use spike_timing={spike_timing!r} ({_TIMING_WORDS[spike_timing]}): "
        f"it trains on {_TIMING_WORDS[spec.spike_timing]} (spike_timing={spec.spike_timing!r}). Methods that use "
        f"{spike_timing!r}: {', '.join(users) or 'none'}. Choose one of them, or leave spike_timing out.")


def load_trained(path: str | os.PathLike, model: dict | None = None):
    """Rebuild the model stored in a checkpoint from its config alone.

    ``model`` changes model settings that do not change the stored leaves (e.g. ``{"n_steps": 16}``:
    simulate for another number of steps).

    Returns:
        ``(model, header)``: the trained model and the checkpoint header (``config``, ``epoch``,
        ``history``, ...). For an ensemble (``header["seeds"]``) the model is the stacked ensemble
        (:func:`memsnn.training.ensemble.member` takes member ``k`` out).
    """
    header = read_checkpoint_header(path)
    config = header.get("config")
    if not isinstance(config, dict) or not {"method", "model"} <= set(config):
        raise CheckpointError(f"{path} holds no run settings (written by fit() without a config, not "
                              "by memsnn train); load it with load_checkpoint and a model of its shape.")
    spec = get_method(config["method"])
    like = spec.build(spec.complete_config({**config["model"], **(model or {})}), key=jax.random.key(0))
    if config.get("seeds") is not None:
        like = stack([like] * len(config["seeds"]))
    model, _, header = load_checkpoint(path, like)
    return model, header


def evaluate_checkpoint(path: str | os.PathLike, *, source: str | None = None, dataset: str | None = None,
                        data_dir: str | os.PathLike | None = None, subset: int | None = None,
                        batch_size: int | None = None, model: dict | None = None, progress: bool = False) -> dict:
    """Test accuracy of the model in a checkpoint.

    Args:
        path: the checkpoint (``checkpoint.eqx``).
        source, dataset, data_dir, subset: which test data (default: what the run used).
        batch_size: evaluation batch size (default: the run's).
        model: model settings to change, e.g. ``{"n_steps": 16}`` (see :func:`load_trained`).
        progress: show a progress bar over the test batches.

    Returns:
        A dict with ``accuracy``, ``n_samples``, ``predictions`` and ``labels`` (NumPy arrays),
        ``confusion`` (``(n_classes, n_classes)`` counts, rows = true class), ``epoch``, ``method``
        and ``n_steps`` (the simulated time steps; ``None`` for a conversion's ANN). For an
        ensemble checkpoint, ``accuracy`` is the mean over the members, ``accuracy_std`` their
        sample standard deviation, ``member_accuracy`` and ``seeds`` one entry per member, and
        ``predictions`` ``(K, N)`` and ``confusion`` ``(K, n_classes, n_classes)`` one per member.
    """
    overrides = model
    model, header = load_trained(path, overrides)
    config = header["config"]
    spec = get_method(config["method"])
    data = dict(config["data"])
    data.update({k: v for k, v in {"source": source, "dataset": dataset, "test_subset": subset,
                                   "data_dir": None if data_dir is None else str(data_dir)}.items()
                 if v is not None})
    images, labels = _load_split(data, "test", "test_subset")
    seeds = config.get("seeds")
    predict = spec.predict if seeds is None else member_predict(spec.predict)
    accuracy, predictions = evaluate(predict, model, images, labels,
                                     batch_size=batch_size or config["eval_batch_size"], progress=progress)
    n_classes = int(max(labels.max(), predictions.max())) + 1
    confusion = np.zeros((*predictions.shape[:-1], n_classes, n_classes), dtype=np.int64)
    for index in np.ndindex(predictions.shape[:-1]):
        np.add.at(confusion[index], (labels, predictions[index]), 1)
    result = {"accuracy": accuracy, "n_samples": len(labels), "predictions": predictions, "labels": labels,
              "confusion": confusion, "epoch": header["epoch"], "dataset": data["dataset"],
              "source": data["source"], "method": config["method"],
              "n_steps": spec.complete_config({**config["model"], **(overrides or {})}).get("n_steps")}
    if seeds is not None:
        mean, std = spread(accuracy)
        result.update(accuracy=mean, accuracy_std=std, member_accuracy=[float(a) for a in accuracy],
                      seeds=list(seeds))
    return result
