"""The description of a training method that :func:`memsnn.training.train` and the CLI use.

Each method module defines one :class:`Method` value; :mod:`memsnn.training.methods` lists them all
in :data:`~memsnn.training.methods.METHODS` (nothing registers itself on import).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Callable

from .._validation import check_setting

__all__ = ["Method", "cli_type"]


@dataclasses.dataclass(frozen=True)
class Method:
    """A training method, as the shared loop and the CLI see it.

    Attributes:
        name: the ``--method`` value.
        summary: one line for ``memsnn train --help``.
        model_config: ``model_config(overrides: dict) -> dict``: the complete, validated model
            config (JSON-serialisable) with the given settings changed from the defaults.
        build: ``build(model_config: dict, *, key) -> model`` from a complete model config (the one
            stored in checkpoints, used to rebuild models).
        loss: ``loss(model, images, labels, *, key, throw) -> (loss, predictions)``; ``key`` draws the
            model's noise (e.g. crossbar read noise), fresh at every training step; ``throw=False``:
            a failed simulation makes the loss NaN instead of raising (see
            :class:`~memsnn.training.AbstractLearner`).
        predict: ``predict(model, images, *, key, throw) -> predictions``; ``throw=False``: a failed
            sample's prediction is :data:`~memsnn.training.learner.FAILED`.
        trainable: ``trainable(model) -> filter spec`` of the leaves to train.
        add_arguments: adds the method's own options to an argparse group.
        config_from_args: the model settings given on the command line, as overrides for
            ``model_config`` (options left at ``None`` are not included).
        defaults: default ``epochs``, ``batch_size``, ``lr``, ``schedule``, ``weight_decay``,
            ``clip_norm``, ``eval_batch_size`` for this method, and optionally ``save_every``
            (training images between saves within an epoch; absent: at epoch ends only).
        after_training: ``after_training(result, *, config, train_data, test_data, out_dir,
            progress) -> FitResult``, run by :func:`~memsnn.training.train` once training has
            finished (e.g. conversion: calibrate, convert and test the SNN), or ``None``.
        learner: ``learner(model, config) -> AbstractLearner`` for a method that does not learn
            by gradient descent on ``loss`` (STDP), or ``None`` for a
            :class:`~memsnn.training.GradientLearner` on ``loss`` with the run's optimiser.
        spike_timing: how the method's simulations place spikes (``simulate(spike_timing=...)``):
            ``"grid"`` (spikes read at grid points: surrogate gradients, rates, membrane readouts) or
            ``"exact"`` (event times located inside the step, gradients through the spike times:
            ttfs, spikeprop). ``train(spike_timing=...)`` / ``--spike-timing`` asking a method for
            the other one is an error that names the methods that use it.
        cpu_cores: the CPU cores ``memsnn train`` gives the method on a CPU machine unless
            ``--cpu-devices`` says otherwise: that many JAX devices and XLA CPU threads
            (:func:`~memsnn.training.sharding.use_cpu_cores`). ``None``: all cores, one device
            each. A method whose step is one sequential loop over its batch sets 1: a second
            device would repeat the whole loop (the loop does not split over devices) and a second
            thread only splits its small per-step kernels (``stdp``: docs/plasticity.md).
        keeps_time_steps: ``keeps_time_steps(model_config) -> bool``: whether the training step's
            gradient stores simulation states over time, so that a larger ``checkpoint_every``
            makes it smaller; the memory errors suggest that option only then. ``None``: never
            (the method has no such option). SPICEprop's forward-mode readout gradient keeps no
            states (docs/training.md), so it says so unless the device constants are trained.
    """

    name: str
    summary: str
    model_config: Callable[[dict], dict]
    build: Callable[..., Any]
    loss: Callable
    predict: Callable
    trainable: Callable[[Any], Any]
    add_arguments: Callable[[argparse._ArgumentGroup], None]
    config_from_args: Callable[[argparse.Namespace], dict]
    defaults: dict
    after_training: Callable[..., Any] | None = None
    learner: Callable[..., Any] | None = None
    spike_timing: str = "grid"
    cpu_cores: int | None = None
    keeps_time_steps: Callable[[dict], bool] | None = None

    def complete_config(self, overrides: dict) -> dict:
        """``model_config(overrides)``, with the settings every method shares checked.

        Raises:
            ValueError: e.g. ``checkpoint_every=-1``; the message names the setting and what is allowed.
        """
        config = self.model_config(overrides)
        owner = f"{self.name} model"
        check_setting(owner, "checkpoint_every", config.get("checkpoint_every"), low=1, integer=True,
                      allow_none=True, hint="keep one simulation state per this many steps for the "
                      "backward pass; None stores every step")
        if config.get("n_steps") is not None:  # None: a method's "no simulation" (conversion: the ANN)
            check_setting(owner, "n_steps", config["n_steps"], low=1, integer=True, hint="time steps per image")
        return config


def cli_type(convert, **rule):
    """An argparse ``type`` that parses with ``convert`` and checks the value like the Python API.

    ``rule`` goes to :func:`memsnn._validation.check_setting`; its message becomes argparse's
    (``memsnn train: error: argument --lr: must be ...``, exit status 2).
    """
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {'an integer' if convert is int else 'a number'}, "
                                              f"got {text!r}") from None
        try:
            return check_setting("", "value", value, **rule)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err).removeprefix("value ").rstrip(".")) from None

    parse.__name__ = convert.__name__
    return parse


