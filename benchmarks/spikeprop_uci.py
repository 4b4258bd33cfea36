"""SpikeProp on Iris and breast cancer (Bohte, Kok & La Poutré 2002, section 3.2: 96.1 % and 97.0 %).

Features scaled to [0, 1] with the training split's range, each one input spike (large values
early, in 0..6 ms) plus a bias input at 0 ms; 10 hidden and one output neuron per class, 16
terminals (1..16 ms), tau = 7 ms; the label's output should fire at 10 ms, the others at 16 ms;
the class is the first output to fire. The paper codes each feature with 12 Gaussian receptive
fields (a population code) instead of one latency spike, and its breast-cancer set is the original
Wisconsin set (699 samples, 9 features); scikit-learn ships the diagnostic one (569 samples, 30
features), used here. Stratified split (Iris 100/50, breast cancer 2/3 : 1/3) by seed; the
headline is the final epoch's test accuracy (no selection on the test set).

    PYTHONPATH=$PWD nice -n 10 python benchmarks/spikeprop_uci.py --dataset iris --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np

from memsnn.training import fit
from memsnn.training.spikeprop import SpikePropConfig, build_spikeprop, check_outputs_fire, spikeprop_learner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import machine, write_json  # noqa: E402

PAPER = {"iris": 0.961, "breast_cancer": 0.970}


def split(name: str, seed: int):
    from sklearn.datasets import load_breast_cancer, load_iris
    from sklearn.model_selection import train_test_split

    x, y = (load_iris if name == "iris" else load_breast_cancer)(return_X_y=True)
    test = 50 if name == "iris" else 1 / 3
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test, stratify=y, random_state=seed)
    lo, hi = x_tr.min(0), x_tr.max(0)
    scale = lambda a: np.clip((a - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0).astype(np.float32)  # noqa: E731
    return (scale(x_tr), y_tr.astype(np.int32)), (scale(x_te), y_te.astype(np.int32))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=("iris", "breast_cancer"), default="iris")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--rule", default="ad")
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--hidden", type=int, default=10)
    ap.add_argument("--terminals", type=int, default=16)
    ap.add_argument("--init-scale", type=float, default=8.0)
    ap.add_argument("--init-low", type=float, default=-0.5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    name = args.json or f"spikeprop_{args.dataset}.json"
    runs = []
    for seed in args.seeds:
        train, test = split(args.dataset, seed)
        config = SpikePropConfig(n_inputs=train[0].shape[1], hidden=(args.hidden,), n_classes=int(train[1].max()) + 1,
                                 n_steps=250, terminals=args.terminals, rule=args.rule, init_scale=args.init_scale,
                                 init_low=args.init_low)
        model = build_spikeprop(config, key=jax.random.key(seed))
        check_outputs_fire(model, train[0][:50])
        start = time.perf_counter()
        res = fit(model, spikeprop_learner(model, {"optimizer": {"lr": args.lr}}), train, test, epochs=args.epochs,
                  batch_size=args.batch_size, seed=seed, progress=False)
        runs.append({"seed": seed, "final_test_acc": res.history[-1]["test_acc"],
                     "test_acc_per_epoch": [h["test_acc"] for h in res.history],
                     "train_loss_per_epoch": [h["train_loss"] for h in res.history],
                     "wall_s": time.perf_counter() - start, "load_average": os.getloadavg()})
        print({k: v for k, v in runs[-1].items() if k != "train_loss_per_epoch"}, flush=True)
        accs = np.asarray([r["final_test_acc"] for r in runs])
        write_json(name, {
            "benchmark": f"spikeprop_{args.dataset}",
            "command": "PYTHONPATH=$PWD python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])),
            "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
            "settings": vars(args), "seeds": [r["seed"] for r in runs], "machine": machine(), "threads": os.cpu_count(),
            "data": f"scikit-learn {args.dataset}, stratified split by seed",
            "note": "final-epoch test accuracy; timings on a 2-core machine shared with ~8 jobs",
            "test_acc_mean": float(accs.mean()), "test_acc_std": float(accs.std()), "paper": PAPER[args.dataset],
            "runs": runs,
        })


if __name__ == "__main__":
    main()
