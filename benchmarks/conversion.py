"""ANN-to-SNN conversion on MNIST / Fashion-MNIST: accuracy against T, and SpikingJelly on the same ANN.

For each dataset, two ANNs (16C5-AP2-32C5-AP2-FC10 by default, trained by
``memsnn train --method conversion``): one with ReLU and one with the QCFS activation (Bu et al.
2022, L = 8 levels). Then, on the full test set:

1. the ANN's own accuracy and the converted SNN's accuracy at every T of ``--steps`` for: the ReLU
   ANN with max normalisation, the ReLU ANN with 99.9th-percentile normalisation, and the QCFS
   ANN (thresholds = its trained lambda, membrane starting at theta / 2); IF neurons with reset
   by subtraction, analog input, per-layer firing rates;
2. SpikingJelly's ann2snn (``RateCodingRecipe``, modes ``"Max"`` and ``"99.9%"``: IF neurons with
   threshold 1 and soft reset between voltage scalers) on the same weights (the same network in
   torch), calibrated on the same training images, simulated for the same T; the QCFS ANN goes
   through it with its QCFS activations replaced by ReLU (SpikingJelly converts ReLU layers);
3. SNN inference time per image at the largest T, for both (memsnn: one jitted layer-wise
   simulation per batch, compilation excluded; SpikingJelly: T single-step calls per batch, torch
   with its default threads).

The ANNs are trained if ``RUNS-conversion-DATASET-ACTIVATION/converted.eqx`` (``--runs RUNS``) does not exist yet
(with the settings below); otherwise they are loaded.

Needs the optional extra for SpikingJelly (``pip install spikingjelly``; torch on the CPU)::

    python benchmarks/conversion.py --datasets mnist fashion-mnist   # writes benchmarks/results/conversion.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from memsnn import __version__
from memsnn.data import load_dataset
from memsnn.training import CHECKPOINT_NAME, load_trained, train
from memsnn.training.conversion import CONVERTED_NAME, calibrate, evaluate_snn, with_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import commit  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def trained(dataset: str, activation: str, args) -> tuple:
    """The converted.eqx of a ``memsnn train --method conversion`` run, training it if missing."""
    out = Path(f"{args.runs}-conversion-{dataset}-{activation}")
    if not (out / CONVERTED_NAME).exists() and (out / CHECKPOINT_NAME).exists() and not args.train:
        # Trained, but the conversion after training did not finish (stopped): the ANN itself.
        model, header = load_trained(out / CHECKPOINT_NAME)
        return model, header, out
    if not (out / CONVERTED_NAME).exists():
        epochs = args.epochs_qcfs if activation == "qcfs" else args.epochs_relu
        print(f"training {out} ({epochs} epochs)", flush=True)
        train("conversion", dataset, source="full", epochs=epochs, out_dir=out, resume=True, progress=False,
              augment_shift=args.augment_shift,
              model={"activation": activation, "conv_channels": args.channels, "eval_steps": args.steps,
                     "levels": args.levels},
              on_epoch_end=lambda row: print(f"  epoch {row['epoch']}: test accuracy {row['test_acc']:.4f}",
                                             flush=True))
    model, header = load_trained(out / CONVERTED_NAME)
    return model, header, out


def memsnn_rows(model, test_x, test_y, steps) -> dict:
    """memsnn's converted SNN (a calibrated model): accuracy at every T, time per image."""
    start = time.perf_counter()
    rows = evaluate_snn(model, test_x, test_y, steps=steps)
    return {"scales": [float(s) for s in (model.thresholds if model.config.normalisation == "qcfs"
                                          else model.scales)],
            "rows": rows, "wall_s": time.perf_counter() - start,
            "seconds_per_image": rows[-1]["seconds_per_image"]}


def torch_ann(model):
    """The same network in torch (input ``(N, C, H, W)`` for a conv network): Conv2d -> AvgPool2d ->
    ReLU per hidden layer, Flatten, Linear; batch norm folded into the weights (as memsnn's
    conversion folds it; the model must be calibrated, which sets its population statistics)."""
    import torch
    import torch.nn as nn

    from memsnn.arrays import Conv2d
    from memsnn.training.conversion.ann import folded_arrays

    c = model.config
    arrays = folded_arrays(model)
    layers = []  # (SpikingJelly's converter does not take nn.Unflatten: images go in as (N, C, H, W))
    for i, array in enumerate(arrays):
        w = torch.tensor(np.asarray(array.weight, dtype=np.float32))
        b = torch.tensor(np.asarray(array.bias, dtype=np.float32))
        if isinstance(array, Conv2d):
            conv = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], stride=array.stride,
                             padding=0 if array.padding == "VALID" else "same")
            conv.weight.data, conv.bias.data = w, b
            layers += [conv] + ([nn.AvgPool2d(array.pool)] if array.pool > 1 else [])
        else:
            if c.architecture == "conv" and isinstance(arrays[i - 1], Conv2d):
                layers.append(nn.Flatten())  # channels-first, as memsnn's Conv2d flattens
            linear = nn.Linear(w.shape[1], w.shape[0])
            linear.weight.data, linear.bias.data = w, b
            layers.append(linear)
        if i < len(arrays) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers).eval()


def spikingjelly_rows(model, train_x, test_x, test_y, steps, mode: str, batch: int = 500) -> dict:
    """SpikingJelly's ann2snn on the same weights: accuracy at every T of ``steps``, time per image."""
    import torch
    from spikingjelly.activation_based import functional
    from spikingjelly.activation_based.ann2snn import Converter
    from spikingjelly.activation_based.ann2snn.recipes import RateCodingRecipe

    ann = torch_ann(model)
    c = model.config
    if c.architecture == "conv":
        train_x, test_x = (x.reshape((len(x),) + tuple(c.image_shape)) for x in (train_x, test_x))
    calibration = [torch.tensor(train_x[i:i + batch]) for i in range(0, len(train_x), batch)]
    snn = Converter(RateCodingRecipe(dataloader=calibration, mode=mode)).convert(ann)
    snn.eval()
    marks = {t: j for j, t in enumerate(steps)}
    correct = np.zeros(len(steps))
    seconds = 0.0
    with torch.no_grad():
        for start in range(0, len(test_x), batch):
            x = torch.tensor(test_x[start:start + batch])
            functional.reset_net(snn)
            out = 0.0
            tic = time.perf_counter()
            for t in range(1, max(steps) + 1):
                out = out + snn(x)
                if t in marks:
                    correct[marks[t]] += (out.argmax(1).numpy() == test_y[start:start + batch]).sum()
            seconds += time.perf_counter() - tic
    n = len(test_x)
    from spikingjelly.activation_based.ann2snn.modules import VoltageScaler

    # The converter puts VoltageScaler(1 / s) before and VoltageScaler(s) after each IF layer.
    scalers = [float(m.scale) for m in snn.modules() if isinstance(m, VoltageScaler)]
    return {"rows": [{"steps": t, "accuracy": float(correct[j] / n)} for j, t in enumerate(steps)],
            "seconds_per_image": seconds / n, "mode": mode, "scales": scalers[1::2]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist"], choices=("mnist", "fashion-mnist"))
    parser.add_argument("--runs", default="runs/h2", help="prefix of the run folders (default runs/h2)")
    parser.add_argument("--steps", type=int, nargs="+", default=[4, 8, 16, 32, 64, 128])
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--levels", type=int, default=8)
    parser.add_argument("--activations", nargs="+", default=["relu", "qcfs"], choices=("relu", "qcfs"),
                        help="which ANNs to convert (default both)")
    parser.add_argument("--augment-shift", type=int, default=0,
                        help="random shifts of up to N pixels when training an ANN here (default 0: off)")
    parser.add_argument("--epochs-qcfs", type=int, default=7)
    parser.add_argument("--epochs-relu", type=int, default=5)
    parser.add_argument("--calibration", type=int, default=10000, help="training images for the scales")
    parser.add_argument("--test-subset", type=int, default=None, help="memsnn's table on the first N test images")
    parser.add_argument("--compare-subset", type=int, default=2000,
                        help="the side-by-side with SpikingJelly on the first N test images (both tools)")
    parser.add_argument("--no-spikingjelly", action="store_true")
    parser.add_argument("--train", action="store_true",
                        help="continue a run whose checkpoint.eqx is there but not converted.eqx (default: use it as is)")
    parser.add_argument("--out", default=str(RESULTS / "conversion.json"))
    parser.add_argument("--train-command", action="append", default=[], metavar="CMD",
                        help="the `memsnn train` command that trained an ANN used here (recorded in the "
                             "results' conditions; repeatable)")
    args = parser.parse_args(argv)
    steps = sorted(set(args.steps))
    load_start = os.getloadavg()[0]
    report = {"memsnn_version": __version__, "jax": jax.__version__, "platform": platform.platform(),
              "cpus": os.cpu_count(), "steps": steps, "calibration_images": args.calibration,
              "command": " ".join(["python"] + (sys.argv if argv is None else ["benchmarks/conversion.py", *argv])),
              "commit": commit(), "load_average_start": os.getloadavg(), "datasets": {}}
    for dataset in args.datasets:
        train_x, _ = load_dataset(dataset, "train", source="full")
        test_x, test_y = load_dataset(dataset, "test", source="full", subset=args.test_subset)
        train_x = train_x[: args.calibration]
        entry = report["datasets"][dataset] = {"n_test": int(len(test_y)), "memsnn": {}, "compare": {}}
        for activation in args.activations:
            model, header, out = trained(dataset, activation, args)
            stored = header.get("conversion", {})
            ann = float(np.mean(np.argmax(np.asarray(jax.jit(lambda x: model(x))(test_x)), -1) == test_y))
            entry[f"ann_{activation}"] = {"run": str(out), "epochs": header["epoch"], "ann_accuracy": ann,
                                          "config": header["config"]["model"],
                                          "optimizer": header["config"]["optimizer"],
                                          "augment_shift": header["config"]["augment_shift"],
                                          "augment_flip": header["config"].get("augment_flip", False),
                                          "batch_size": header["config"]["batch_size"],
                                          "validation": header["config"]["data"].get("validation"),
                                          "final_val_acc": (header.get("history") or [{}])[-1].get("val_acc"),
                                          "history": header.get("history")}
            runs = [("relu_max", "max"), ("relu_percentile", "percentile")] if activation == "relu" \
                else [("qcfs", "qcfs")]
            for name, normalisation in runs:
                converted = calibrate(with_settings(model, normalisation=normalisation), train_x)
                reuse = (normalisation == model.config.normalisation and args.test_subset is None
                         and set(steps) <= {r["steps"] for r in stored.get("snn", [])})
                print(f"{dataset} {name}: memsnn" + (" (the run's own table)" if reuse else ""), flush=True)
                if reuse:  # the same computation `memsnn train` made after training (its rows at these T)
                    rows = [r for r in stored["snn"] if r["steps"] in steps]
                    entry["memsnn"][name] = {"scales": stored["scales"], "rows": rows,
                                             "seconds_per_image": rows[-1]["seconds_per_image"],
                                             "seconds_per_image_at_steps": max(r["steps"] for r in stored["snn"])}
                else:
                    entry["memsnn"][name] = memsnn_rows(converted, test_x, test_y, steps)
                entry["memsnn"][name]["ann_accuracy"] = ann
                if args.no_spikingjelly:
                    continue
                n = min(args.compare_subset, len(test_y))
                mode = "Max" if normalisation == "max" else "99.9%"
                print(f"{dataset} {name}: memsnn and spikingjelly {mode} on {n} test images", flush=True)
                # On the whole test set memsnn's side is the table above (the same simulation).
                ours = entry["memsnn"][name] if n == len(test_y) else memsnn_rows(converted, test_x[:n], test_y[:n],
                                                                                   steps)
                both = entry["compare"][name] = {
                    "n_test": int(n), "memsnn": ours,
                    "spikingjelly": spikingjelly_rows(converted, train_x, test_x[:n], test_y[:n], steps, mode)}
                if activation == "relu":
                    # The same scales as SpikingJelly's (a running average of per-batch statistics,
                    # momentum 0.1, lower than memsnn's statistic over all calibration images).
                    sj_scales = tuple(jax.numpy.asarray(v, converted.scales[0].dtype)
                                      for v in both["spikingjelly"]["scales"])
                    same = eqx.tree_at(lambda m: m.scales, converted, sj_scales)
                    both["memsnn_spikingjelly_scales"] = memsnn_rows(same, test_x[:n], test_y[:n], steps)
        entry["load_average_end"] = os.getloadavg()
        print_table(dataset, entry, steps)
        report["conditions"] = conditions(report, args, load_start)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


def conditions(report: dict, args, load_start: float) -> dict:
    """The results' ``conditions`` block (benchmarks/registry.py), from the runs' own headers."""
    from registry import run_conditions

    threads = "not recorded"
    if "torch" in sys.modules:
        threads = f"torch CPU, {sys.modules['torch'].get_num_threads()} threads"
    anns = {f"{d}/{k}": v for d, e in report["datasets"].items() for k, v in e.items() if k.startswith("ann_")}
    data = "; ".join(
        f"{d}: full training set ({60000 - (v.get('validation') or 0)} images trained on"
        + (f", the last {v['validation']} held out as a validation split" if v.get("validation") else "")
        + f"), scales and batch-norm statistics from the first {args.calibration} training images, "
        f"{report['datasets'][d.split('/')[0]]['n_test']} test images"
        for d, v in anns.items())
    extra_versions = {}
    if "spikingjelly" in sys.modules:
        from importlib.metadata import version

        extra_versions["spikingjelly"] = version("spikingjelly")
    c = run_conditions(
        data=data, devices={"memsnn": f"1 CPU device ({os.cpu_count()} cores)", "spikingjelly": threads},
        seeds=[0], epochs={d: v["epochs"] for d, v in anns.items()},
        selection="settings declared before the run; final epoch reported (validation accuracy logged "
                  "per epoch where the run held a split out; no choice made on the test set)",
        load_before=load_start, train_commands=args.train_command,
        threads={"memsnn": "XLA CPU default (all cores)", "spikingjelly": threads})
    c["versions"].update(extra_versions)
    return c


def print_table(dataset: str, entry: dict, steps) -> None:
    head = f"{'':28s}{'ANN':>8s}" + "".join(f"{f'T={t}':>9s}" for t in steps) + "   s/image (T max)"
    print(f"\n{dataset}: test accuracy (%) of the converted SNN against T ({entry['n_test']} test images)")
    print(head)
    for name, res in entry["memsnn"].items():
        accs = "".join(f"{100 * r['accuracy']:9.2f}" for r in res["rows"])
        print(f"{name:28s}{100 * res['ann_accuracy']:8.2f}{accs}   {res['seconds_per_image']:.2e}")
    for name, both in entry["compare"].items():
        if name == next(iter(entry["compare"])):
            print(f"\nside by side on the first {both['n_test']} test images, the same ANN weights and T")
            print(head)
        for tool in ("memsnn", "memsnn_spikingjelly_scales", "spikingjelly"):
            res = both.get(tool)
            if res is None:
                continue
            accs = "".join(f"{100 * r['accuracy']:9.2f}" for r in res["rows"])
            label = name + " " + ("memsnn, SJ's scales" if tool == "memsnn_spikingjelly_scales" else tool)
            print(f"{label:36s}{accs}   {res['seconds_per_image']:.2e}")


if __name__ == "__main__":
    sys.exit(main())
