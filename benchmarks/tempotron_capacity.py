"""Tempotron capacity (Gütig & Sompolinsky 2006, Fig. 3): fraction of random patterns classified
correctly after learning, against the load alpha = P / N.

N afferents, each with one spike at a uniform random time in the window T (500 ms); P patterns,
half of them labelled "fire" at random; tau = 15 ms, tau_s = tau / 4. Each load is learnt through
memsnn.training.fit (method ``tempotron``) until a whole cycle through the patterns makes no error
(the paper's criterion: no more updates) or ``--max-epochs`` cycles; then the fraction correct is
evaluated with the final weights. The paper finds error-free learning up to alpha_c ~ 3 for these
constants (with up to 10^4-10^5 cycles near capacity); with a few tens of cycles on a shared CPU the
load at which learning stops being error-free here is a lower bound of it.

Checkpoints under runs/tempotron_capacity/ (resumed if interrupted); results in
benchmarks/results/tempotron_capacity.json.

    PYTHONPATH=$PWD nice -n 10 python benchmarks/tempotron_capacity.py --alphas 0.5 1 1.5 2 2.5 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np

from memsnn.training import evaluate, fit
from memsnn.training.tempotron import TempotronConfig, build_tempotron, tempotron_learner, tempotron_predict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import machine, write_json  # noqa: E402

PAPER = {"alpha_c": 3.0, "source": "Gütig & Sompolinsky 2006, Nat. Neurosci. 9:420, Fig. 3 (tau = 15 ms, "
         "tau_s = tau/4, T = 500 ms): error-free learning up to about 3 patterns per synapse"}


def patterns(n_inputs: int, n_patterns: int, seed: int):
    """``(x, labels)``: one spike per afferent, uniform in the window (as latency features
    ``x = 1 - t / T``), half the patterns labelled 1 at random."""
    rng = np.random.default_rng(seed)
    x = 1.0 - rng.uniform(0.0, 1.0, (n_patterns, n_inputs))
    labels = rng.permutation(np.arange(n_patterns) % 2)
    return x.astype(np.float32), labels.astype(np.int32)


def run_load(alpha: float, args, out_root: Path) -> dict:
    n = args.n_inputs
    p = int(round(alpha * n))
    batch = min(args.batch_size, p)
    p -= p % batch  # fit drops an incomplete last batch: keep every pattern in play
    x, y = patterns(n, p, args.seed)
    config = TempotronConfig(n_inputs=n, n_classes=2, dt=args.dt, solver=args.solver, momentum=args.momentum)
    model = build_tempotron(config, key=jax.random.key(args.seed))
    learner = tempotron_learner(model, {"optimizer": {"lr": args.lr}})
    out = out_root / f"alpha_{alpha:g}"
    history, start = [], time.perf_counter()
    epochs_run = 0
    while True:
        res = fit(model, learner, (x, y), None, epochs=args.max_epochs, batch_size=batch, seed=args.seed,
                  out_dir=out, resume=True, progress=False, stop_after_epochs=args.chunk,
                  config={"method": "tempotron", "model": config.to_dict()})
        history = res.history
        epochs_run = len(history)
        error_free = [h["epoch"] for h in history if h["train_acc"] == 1.0]
        if error_free or epochs_run >= args.max_epochs:
            break
    wall = time.perf_counter() - start
    acc, _ = evaluate(tempotron_predict, res.model, x, y, batch_size=batch)
    row = {"alpha": alpha, "n_patterns": p, "epochs_run": epochs_run,
           "first_error_free_epoch": error_free[0] if error_free else None,
           "fraction_correct": float(acc),
           "train_acc_per_epoch": [h["train_acc"] for h in history], "wall_s": wall,
           "load_average": os.getloadavg()}
    print(json.dumps({k: v for k, v in row.items() if k != "train_acc_per_epoch"}), flush=True)
    return row


def plot(json_name: str) -> Path:
    """The capacity curve of a results file beside the paper's capacity (a PNG next to it)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from _timing import RESULTS
    data = json.loads((RESULTS / json_name).read_text())
    rows = data["rows"]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([r["alpha"] for r in rows], [r["fraction_correct"] for r in rows], "o-",
            label=f"memsnn, <= {data['settings']['max_epochs']} cycles")
    ax.axvline(PAPER["alpha_c"], color="grey", ls="--", label="paper: error-free up to alpha_c ~ 3")
    ax.set_xlabel("load alpha = P / N  (N = %d)" % data["settings"]["n_inputs"])
    ax.set_ylabel("fraction correct after learning")
    ax.set_ylim(0.75, 1.01)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = RESULTS / Path(json_name).with_suffix(".png").name
    fig.savefig(out, dpi=120)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alphas", type=float, nargs="+", default=[0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    ap.add_argument("--n-inputs", type=int, default=500)
    ap.add_argument("--max-epochs", type=int, default=40)
    ap.add_argument("--chunk", type=int, default=5, help="epochs between checks of the error-free criterion")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--momentum", type=float, default=0.5)
    ap.add_argument("--dt", type=float, default=1e-3)
    ap.add_argument("--solver", default="tsit5")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/tempotron_capacity")
    ap.add_argument("--json", default="tempotron_capacity.json")
    ap.add_argument("--plot-only", action="store_true", help="only draw the PNG of an existing results file")
    args = ap.parse_args(argv)
    if args.plot_only:
        print("wrote", plot(args.json))
        return
    rows = []
    for alpha in args.alphas:
        rows.append(run_load(alpha, args, Path(args.out)))
        error_free = [r["alpha"] for r in rows if r["fraction_correct"] == 1.0]
        payload = {
            "benchmark": "tempotron_capacity",
            "command": "PYTHONPATH=$PWD python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])),
            "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
            "settings": vars(args), "seeds": [args.seed], "threads": os.cpu_count(), "machine": machine(),
            "note": "timings on a 2-core machine shared with ~8 jobs (load average beside each row)",
            "rows": rows,
            "largest_error_free_alpha": max(error_free) if error_free else None,
            "paper": PAPER,
        }
        write_json(args.json, payload)
    print("wrote", plot(args.json))


if __name__ == "__main__":
    main()
