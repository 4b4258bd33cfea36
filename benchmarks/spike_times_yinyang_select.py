"""Choose the TTFS Yin-Yang settings on the validation split (never the test set).

Trains one ``memsnn.training.ttfs`` configuration for each seed of ``--seeds``, the seeds side by
side as one ensemble through the shared :func:`memsnn.training.fit` (member ``k`` is the run
``memsnn train`` makes with seed ``k``: the same initialisation and batch order, the method's
optimiser: Adam, global-norm clip 1, cosine schedule) on the Yin-Yang training split (5,000, seed
42); logs the validation accuracy (the authors' validation split, 1,000, seed 41) and the test
accuracy (1,000, seed 40) of every member after every epoch, and writes one row per seed to
``benchmarks/results/spike_times_yinyang_ens_<--setting>.json``::

    nice -n 10 python benchmarks/spike_times_yinyang_select.py --seeds 0 1 2 3 4 --model '{"hidden": [200]}' \
        --epochs 60 --lr 1e-2 --setting hidden200

The choice among settings is made on the validation accuracies alone; the test accuracies of the
chosen setting's runs are then its test figure (final epoch), with no second training. The rows
of ``benchmarks/results/spike_times_yinyang_selection.json`` (validation only, seed 0 unless a row
says otherwise) were made by this script's earlier single-seed loop, before it went through
``fit`` (the same model and optimiser; its batch order differs from ``memsnn train``'s); the
defaults of the ttfs method were chosen from them (docs/spike-times.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=json.loads, default={}, help="TTFSConfig settings as JSON")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="the seeds, side by side as one ensemble through fit")
    parser.add_argument("--clip-norm", type=float, default=1.0, help="global gradient-norm clip (the method's: 1)")
    parser.add_argument("--what", default="", help="a name for the row")
    parser.add_argument("--setting", default=None, help="a short name for the run (its results file)")
    args = parser.parse_args(argv)

    return ensemble(args, os.getloadavg()[0])


def ensemble(args, load_before):
    """The seeds of ``args.seeds`` side by side through :func:`memsnn.training.fit`."""
    import jax
    import numpy as np

    import registry
    from memsnn.data import load_dataset
    from memsnn.training import fit
    from memsnn.training.ensemble import stack
    from memsnn.training.learner import GradientLearner, make_optimizer
    from memsnn.training.ttfs import TTFSConfig, build_ttfs, ttfs_loss, ttfs_predict, ttfs_trainable

    train_data = tuple(np.asarray(a) for a in load_dataset("yinyang", "train"))
    val_data = tuple(np.asarray(a) for a in load_dataset("yinyang", "validation"))
    test_data = tuple(np.asarray(a) for a in load_dataset("yinyang", "test"))
    config = TTFSConfig.from_dict(args.model)
    members = [build_ttfs(config, key=jax.random.key(s)) for s in args.seeds]
    steps = args.epochs * (len(train_data[1]) // args.batch_size)
    optimizer = make_optimizer(args.lr, total_steps=steps, schedule="cosine", clip_norm=args.clip_norm)
    learner = GradientLearner(ttfs_loss, ttfs_predict, optimizer, ttfs_trainable(members[0]))
    histories, started = [[] for _ in args.seeds], time.time()

    def record(row):
        for j in range(len(args.seeds)):
            entry = {"epoch": row["epoch"], "load": os.getloadavg()[0]}
            for name in ("train_loss", "train_acc", "val_acc", "test_acc"):
                if f"{name}_members" in row:
                    entry[name] = row[f"{name}_members"][j]
            histories[j].append(entry)
        print(json.dumps({k: row[k] for k in row if k.endswith("_members") or k == "epoch"}), flush=True)

    fit(stack(members), learner, train_data, test_data, val_data=val_data, epochs=args.epochs,
        batch_size=args.batch_size, seed=list(args.seeds), progress=False, on_epoch_end=record,
        eval_batch_size=1000)
    what = args.what or json.dumps(args.model)
    setting = args.setting or "_".join(str(s) for s in args.seeds)
    conditions = registry.run_conditions(
        data="yinyang 5000 train (seed 42), 1000 validation (seed 41), 1000 test (seed 40)",
        devices={"memsnn": f"{jax.device_count()} CPU device(s)"}, seeds=args.seeds, epochs=args.epochs,
        selection="validation split (test accuracy recorded, not used for the choice)", load_before=load_before)
    rows = [{"what": f"{what}, seed {seed}", "setting": setting, "note": f"train {100 * history[-1]['train_acc']:.1f} %",
             "model": args.model, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
             "clip_norm": args.clip_norm, "seed": seed, "final_val_acc": history[-1]["val_acc"],
             "final_test_acc": history[-1]["test_acc"], "final_train_acc": history[-1]["train_acc"],
             "history": history, "ensemble_seeds": args.seeds, "wall_s": time.time() - started,
             "loop": "memsnn.training.fit, ensemble of the seeds (batch order and initialisation of memsnn train)",
             "conditions": conditions} for seed, history in zip(args.seeds, histories)]
    out = ROOT / "benchmarks" / "results" / f"spike_times_yinyang_ens_{setting}.json"
    out.write_text(json.dumps({
        "benchmark": "TTFS Yin-Yang, one setting, seeds side by side through fit: validation (authors' split, "
                     "seed 41) and test (seed 40) accuracy after every epoch; the choice among settings is made "
                     "on the validation accuracy", "setting": setting, "model": args.model, "epochs": args.epochs,
        "lr": args.lr, "batch_size": args.batch_size, "rows": rows, "conditions": conditions,
        "wall_s": time.time() - started}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
