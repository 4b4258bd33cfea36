"""``memsnn train --method conversion``: the method's options, and after training: calibrate,
convert, test the SNN at every T, write ``conversion.json`` and ``converted.eqx``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._method import Method, cli_type
from ..checkpoint import save_checkpoint
from .ann import (ACTIVATIONS, ARCHITECTURES, BALANCES, ENCODINGS, INITIAL_MEMBRANES, NEURONS, NORMALISATIONS, RESETS,
                  ConversionConfig, ConversionNet, build_conversion, conversion_loss, conversion_trainable)
from .calibration import calibrate, conversion_scales, image_batches
from .snn import conversion_predict, evaluate_snn

__all__ = ["CONVERSION", "CONVERTED_NAME", "RESULTS_NAME", "convert_and_evaluate"]


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
    predictions = np.concatenate([np.asarray(predict(model, x)) for x in image_batches(np.asarray(test_images), 1000)])
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
