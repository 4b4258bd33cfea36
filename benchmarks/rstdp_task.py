"""R-STDP on a classification task, with and without a reward baseline (dw = gamma e (r - b)).

Two classes of Poisson patterns over 20 inputs (each class: its own half of the inputs at 50 Hz,
the rest at 5 Hz), 3 LIF neurons per class (memsnn.training.rstdp, method ``rstdp``). Reward 1 for a
correct decision, 0 otherwise; with a baseline (``baseline_rate`` 0.05) the rule learns from
``r - b``, without it (``b = 0``) from ``r`` alone. 400 training episodes per epoch, 200 test
patterns (fresh spike trains); test accuracy after each epoch, final epoch reported, mean +- std over
seeds.

    PYTHONPATH=$PWD nice -n 10 python benchmarks/rstdp_task.py --seeds 0 1 2 --epochs 3
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
from memsnn.training.rstdp import RstdpConfig, RstdpLearner, build_rstdp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import machine, write_json  # noqa: E402


def task(n: int, seed: int, n_in: int = 20, low: float = 0.1):
    """``(x, y)``: rate patterns (``x`` in [0, 1], times 50 Hz): class 0 drives the first half of
    the inputs, class 1 the second half."""
    rng = np.random.default_rng(seed)
    protos = np.full((2, n_in), low)
    protos[0, : n_in // 2] = protos[1, n_in // 2:] = 1.0
    y = rng.integers(0, 2, n).astype(np.int32)
    return protos[y].astype(np.float32), y


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train", type=int, default=400)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--json", default="rstdp_task.json")
    args = ap.parse_args(argv)
    rows = []
    for baseline in (0.05, None):
        for seed in args.seeds:
            train, test = task(args.train, seed), task(args.test, 1000 + seed)
            config = RstdpConfig(n_inputs=20, n_classes=2, per_class=3, w_init=0.2, w_max=0.5, learning_rate=0.05,
                                 baseline_rate=baseline)
            start = time.perf_counter()
            res = fit(build_rstdp(config, key=jax.random.key(seed)), RstdpLearner(), train, test, epochs=args.epochs,
                      batch_size=100, seed=seed, progress=False)
            rows.append({"baseline_rate": baseline, "seed": seed,
                         "test_acc_per_epoch": [h["test_acc"] for h in res.history],
                         "train_acc_per_epoch": [h["train_acc"] for h in res.history],
                         "final_test_acc": res.history[-1]["test_acc"],
                         "final_baseline": float(res.model.baseline),
                         "mean_weight": float(np.asarray(res.model.weights()).mean()), "w_max": config.w_max,
                         "wall_s": time.perf_counter() - start, "load_average": os.getloadavg()})
            print(rows[-1], flush=True)
    summary = {}
    for baseline in (0.05, None):
        accs = np.asarray([r["final_test_acc"] for r in rows if r["baseline_rate"] == baseline])
        summary["baseline" if baseline else "no_baseline"] = {"test_acc_mean": float(accs.mean()),
                                                               "test_acc_std": float(accs.std())}
    payload = {
        "benchmark": "rstdp_task",
        "command": "PYTHONPATH=$PWD python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "settings": vars(args), "seeds": args.seeds, "machine": machine(), "threads": os.cpu_count(),
        "data": "generated: 2 classes of Poisson rate patterns over 20 inputs (benchmarks/rstdp_task.py: task)",
        "note": "final-epoch test accuracy; timings on a 2-core machine shared with ~8 jobs",
        "summary": summary, "rows": rows,
    }
    print(summary)
    print("wrote", write_json(args.json, payload))


if __name__ == "__main__":
    main()
