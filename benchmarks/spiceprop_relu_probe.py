"""Why the ReLU drive units of the published SPICEprop network die, and what keeps them alive.

    MEMSNN_DATA_DIR=/path/to/data python benchmarks/spiceprop_relu_probe.py --variant relu-lr2e-3 ...

Short runs of the SPICEprop network on a subset of the full training set with a validation split
carved from it (``--train-subset`` images, the last ``--validation`` of which are held out and
never trained on); after every epoch the checkpoint is read back and the front end is run on the
validation images to count

* dead hidden units: hidden ReLU units whose pre-activation is <= 0 on every validation image;
* dead drive units: drive units (the 10 outputs of the dense front end) <= 0 on every validation
  image (with ReLU drive units such a class's neuron only ever sees rest);
* drive units dead on their own class: <= 0 on every validation image of the class they stand for
  (that class can then only win a tie);
* the fraction of (image, drive unit) pairs that are active (> 0).

Every variant's rows go to ``benchmarks/results/spiceprop_relu_probe.json`` (validation accuracy
per epoch; the test accuracy of a small test subset is logged by the loop but not used for any
choice). Variants are named ``NAME=key:value,key:value`` on the command line, e.g.
``relu-lr5e-4=output_activation:relu,lr:5e-4``; keys are the SPICEprop model settings
(:class:`memsnn.training.spiceprop.SpicepropConfig`) and ``lr`` / ``schedule``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from registry import run_conditions  # noqa: E402

RESULTS = Path(__file__).parent / "results"
TRAIN_KEYS = ("lr", "schedule")


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_variant(text: str) -> tuple[str, dict, dict]:
    """``NAME=key:value,...`` -> ``(name, model settings, training settings)``."""
    name, _, settings = text.partition("=")
    model, training = {}, {}
    for item in filter(None, settings.split(",")):
        key, _, value = item.partition(":")
        (training if key in TRAIN_KEYS else model)[key] = _value(value)
    return name, model, training


def unit_census(model, images, labels) -> dict:
    """Dead and active units of the front end of ``model`` on ``images`` (see the module docstring)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    h = jnp.asarray(images, jnp.dtype(model.config.dtype))
    pre = []
    for i, layer in enumerate(model.front_end):
        state = layer.init_state(layer.n_outputs)
        h = jax.vmap(lambda x: layer(x, state))(h)
        pre.append(np.asarray(h))
        if i < len(model.front_end) - 1:
            h = jax.nn.relu(h)
    hidden = pre[:-1]
    drive = pre[-1]
    labels = np.asarray(labels)
    own = [bool(np.all(drive[labels == c, c] <= 0)) for c in range(drive.shape[1])]
    return {
        "dead_hidden_fraction": [float(np.mean(np.all(p <= 0, axis=0))) for p in hidden],
        "dead_drive_units": int(np.sum(np.all(drive <= 0, axis=0))),
        "drive_units_dead_on_own_class": int(sum(own)),
        "drive_active_fraction": float(np.mean(drive > 0)),
        "drive_active_fraction_own_class": float(np.mean(drive[np.arange(len(labels)), labels] > 0)),
        "drive_pre_activation_mean": [float(v) for v in drive.mean(axis=0)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="+", help="NAME=key:value,... (see the module docstring)")
    parser.add_argument("--dataset", default="mnist", choices=("mnist", "fashion-mnist"))
    parser.add_argument("--train-subset", type=int, default=15000)
    parser.add_argument("--validation", type=int, default=5000)
    parser.add_argument("--test-subset", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "spiceprop_relu_probe.json")
    parser.add_argument("--run-root", type=Path, default=Path("runs") / "relu-probe")
    args = parser.parse_args()

    import jax

    from memsnn.data import load_dataset
    from memsnn.training import CHECKPOINT_NAME, load_checkpoint, train, use_cpu_cores
    from memsnn.training.spiceprop import SpicepropConfig, build_spiceprop

    n_devices = use_cpu_cores()
    # The images train() holds out: the last --validation of the first --train-subset.
    x, y = load_dataset(args.dataset, "train", source="full", subset=args.train_subset)
    x_val, y_val = x[-args.validation:], y[-args.validation:]
    payload = json.loads(args.out.read_text()) if args.out.exists() else {"variants": {}}
    load_before = os.getloadavg()[0]
    for text in args.variants:
        name, model_settings, training = parse_variant(text)
        run_dir = args.run_root / f"{args.dataset}-{name}"
        config = SpicepropConfig.from_dict(model_settings)
        like = build_spiceprop(config, key=jax.random.key(args.seed))
        rows = [{"epoch": 0, **unit_census(like, x_val, y_val)}]
        print(name, rows[-1], flush=True)

        def census(row, rows=rows, run_dir=run_dir, like=like):
            model, _, _ = load_checkpoint(run_dir / CHECKPOINT_NAME, like)
            rows.append({"epoch": row["epoch"], "val_acc": row.get("val_acc"), "test_acc_subset": row["test_acc"],
                         "train_loss": row["train_loss"], "epoch_time_s": row["epoch_time_s"],
                         "load_1min": os.getloadavg()[0], **unit_census(model, x_val, y_val)})
            print(name, rows[-1], flush=True)

        started = time.perf_counter()
        train("spiceprop", args.dataset, source="full", train_subset=args.train_subset,
              validation=args.validation, test_subset=args.test_subset, model=model_settings,
              epochs=args.epochs, seed=args.seed, out_dir=run_dir, overwrite=True, progress=False,
              on_epoch_end=census, **training)
        payload["variants"][f"{args.dataset}/{args.train_subset}/{name}"] = {
            "dataset": args.dataset, "train_subset": args.train_subset, "validation": args.validation,
            "test_subset": args.test_subset, "seed": args.seed, "load_1min_before": load_before,
            "model": model_settings, "training": training, "epochs": args.epochs, "rows": rows,
            "wall_s": time.perf_counter() - started}
        payload["what"] = ("short SPICEprop runs (batch 200, Adam, the method's defaults unless the variant says "
                           "otherwise) on the first --train-subset training images, the last --validation "
                           "of them held out: units of the dense front end that are dead on the validation "
                           "images after every epoch, and the validation accuracy (benchmarks/"
                           "spiceprop_relu_probe.py's docstring)")
        payload["conditions"] = run_conditions(
            data=f"full {args.dataset}: first {args.train_subset} training images, last {args.validation} of "
                 f"them held out for validation; test accuracy on the first {args.test_subset} test images "
                 "logged only", devices={"memsnn": f"{n_devices} CPU devices"}, seeds=[args.seed],
            epochs=args.epochs, selection="none (a diagnosis; choices read val_acc)", load_before=load_before)
        tmp = args.out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
        os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
