"""Trained models deployed on memristive chips: test accuracy read after programming.

A chip is programmed once (:func:`memsnn.crossbar.deploy.program`) and read later
(:func:`memsnn.crossbar.deploy.at_time`): :func:`accuracy_over_time` measures its test accuracy
at times after programming, with and without global drift compensation, and
:func:`evaluate_checkpoint_on_crossbar` does it for a ``memsnn train`` checkpoint (what
``memsnn evaluate CHECKPOINT --crossbar PRESET --t-read SECONDS`` runs).
"""

from __future__ import annotations

import jax
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..crossbar.deploy import at_time, on_crossbar, program
from ..data import load_dataset
from ..training.loop import evaluate
from ..training.methods import get_method
from ..training.run import load_trained

__all__ = ["TIMES", "accuracy_over_time", "evaluate_checkpoint_on_crossbar"]

#: The times after programming of issue 11's figure (s): 1 s, 1 h, 1 day, 1 year.
TIMES = {"1 s": 1.0, "1 h": 3600.0, "1 day": 86400.0, "1 year": 365.25 * 86400.0}


def accuracy_over_time(model, predict_fn, images: Float[Array, "n features"], labels: Int[Array, " n"], *,
                       preset: str, times=tuple(TIMES.values()), compensation=(False, True),
                       key: PRNGKeyArray, batch_size: int = 1000, seed: int = 0, w_max: float | None = None
                       ) -> list[dict]:
    """Test accuracy of ``model`` programmed once onto ``preset`` crossbars, read at ``times``.

    Args:
        model: a trained model (ideal or hardware-aware; see :func:`on_crossbar`).
        predict_fn: the method's ``predict(model, images, *, key)``.
        images, labels: the test set.
        preset: the chip's crossbar preset (e.g. ``"pcm"``: aihwkit's PCM drift and noise).
        times: seconds after programming.
        compensation: the global drift compensation settings to evaluate at each time.
        key: programming noise and faults of the chip (one chip for every time and setting).
        batch_size, seed: of :func:`memsnn.training.evaluate` (``seed``: the read noise).
        w_max: see :func:`on_crossbar`.

    Returns:
        One dict per (time, compensation): ``t_read`` (s), ``drift_compensation``, ``accuracy``.
    """
    chip = program(on_crossbar(model, preset, w_max=w_max), key=key)
    rows = []
    for t in times:
        for compensate in compensation:
            accuracy, _ = evaluate(predict_fn, at_time(chip, t, drift_compensation=compensate), np.asarray(images),
                                   np.asarray(labels), batch_size=batch_size, seed=seed)
            rows.append({"t_read": float(t), "drift_compensation": bool(compensate), "accuracy": accuracy})
    return rows


def evaluate_checkpoint_on_crossbar(path, *, preset: str, t_read: float = 1.0, drift_compensation: bool = False,
                                    chip: int = 0, source: str | None = None, subset: int | None = None,
                                    batch_size: int | None = None, w_max: float | None = None) -> dict:
    """Test accuracy of the model in a checkpoint, programmed once onto a ``preset`` chip and read
    ``t_read`` seconds later (``memsnn evaluate CHECKPOINT --crossbar PRESET --t-read SECONDS``).

    Args:
        path: a ``checkpoint.eqx`` of ``memsnn train`` (ideal or hardware-aware training).
        preset: the chip's crossbar preset.
        t_read: seconds after programming.
        drift_compensation: global drift compensation on the chip's outputs.
        chip: seed of the chip's programming noise and faults (and of the read noise).
        source, subset, batch_size: the test data and batch size (default: the run's).
        w_max: see :func:`on_crossbar` (default: the model's ``crossbar_w_max`` if it has one).

    Returns:
        ``{"accuracy", "n_samples", "preset", "t_read", "drift_compensation", "chip", "epoch"}``.
    """
    model, header = load_trained(path)
    config = header["config"]
    if config.get("seeds") is not None:
        raise ValueError(f"evaluate_checkpoint_on_crossbar: {path} holds an ensemble of {len(config['seeds'])} "
                         f"(seeds {config['seeds']}, memsnn train --seeds); a chip holds one network. Take a "
                         "member out with memsnn.training.ensemble.member(model, k) and deploy it with "
                         "on_crossbar and program, or train that member alone with --seed.")
    data = config["data"]
    images, labels = load_dataset(data["dataset"], "test", source=source or data["source"], data_dir=data.get("data_dir"),
                                  subset=subset or data.get("test_subset"))
    if w_max is None:
        w_max = config["model"].get("crossbar_w_max")
    rows = accuracy_over_time(model, get_method(config["method"]).predict, images, labels, preset=preset,
                              times=(t_read,), compensation=(drift_compensation,), key=jax.random.key(chip),
                              batch_size=batch_size or config["eval_batch_size"], seed=chip, w_max=w_max)
    return {**rows[0], "accuracy": rows[0]["accuracy"], "n_samples": len(labels), "preset": preset, "chip": chip,
            "epoch": header["epoch"]}
