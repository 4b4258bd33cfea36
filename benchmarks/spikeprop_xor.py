"""SpikeProp on XOR as in Bohte, Kok & La Poutré 2002 (section 3.1), for each learning rule.

3 inputs (the two bits, 1 -> a spike at 0 ms, 0 -> at 6 ms; a bias input at 0 ms), 5 hidden and 1
output spike-response neurons (tau = 7 ms), 16 terminals per connection with delays 1..16 ms; the
output should fire at 10 ms for "true" and 16 ms for "false". Weights start uniform in
[-0.5, 1] * 2 init_scale / (n_in k) (inhibitory terminals allowed: the paper makes one hidden
neuron inhibitory). Converged: the summed squared error over the 4 patterns below 1 ms^2 (the
paper's criterion), i.e. the mean loss 1/2 (t - t_d)^2 below 0.125 ms^2. The paper reports
convergence in about 250 cycles with eta = 0.01.

All seeds of a rule train in one memsnn.training.fit run as an ensemble (one model per seed, the
same as separate runs). With --terminals 4 --train-delays: the trainable-delay variant.

    PYTHONPATH=$PWD nice -n 10 python benchmarks/spikeprop_xor.py --rules rprop quickprop momentum sgd ad
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
from memsnn.training.ensemble import stack
from memsnn.training.spikeprop import SpikePropConfig, build_spikeprop, spikeprop_learner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import machine, write_json  # noqa: E402

XOR = (np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32), np.array([0, 1, 1, 0], np.int32))
LEARNING_RATES = {"rprop": 1e-3, "quickprop": 1e-3, "momentum": 1e-3, "sgd": 3e-3, "ad": 0.5}
CONVERGED = 0.125  # mean loss (ms^2) at which the summed squared error of the 4 patterns is 1 ms^2


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", nargs="+", default=["rprop", "quickprop", "momentum", "sgd", "ad"])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--terminals", type=int, default=16)
    ap.add_argument("--train-delays", action="store_true")
    ap.add_argument("--init-scale", type=float, default=8.0)
    ap.add_argument("--init-low", type=float, default=-0.5)
    ap.add_argument("--max-step", type=float, default=50.0, help="rprop largest step (optax default)")
    ap.add_argument("--lr", type=float, default=None, help="one learning rate for every rule given (default: per rule)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    name = args.json or ("spikeprop_xor.json" if not args.train_delays else "spikeprop_xor_delays.json")
    rows = []
    seeds = list(range(args.seeds))
    for rule in args.rules:
        config = SpikePropConfig(n_inputs=2, hidden=(5,), n_classes=2, single_output=True, n_steps=250,
                                 terminals=args.terminals, train_delays=args.train_delays, rule=rule,
                                 init_scale=args.init_scale, init_low=args.init_low, max_step=args.max_step)
        members = [build_spikeprop(config, key=jax.random.key(s)) for s in seeds]
        lr = args.lr if args.lr is not None else LEARNING_RATES[rule]
        learner = spikeprop_learner(members[0], {"optimizer": {"lr": lr}})
        start = time.perf_counter()
        res = fit(stack(members), learner, XOR, XOR, epochs=args.epochs, batch_size=4, seed=seeds, progress=False)
        wall = time.perf_counter() - start
        losses = np.asarray([h["train_loss_members"] for h in res.history])  # (epochs, seeds)
        accs = np.asarray([h["test_acc_members"] for h in res.history])
        epochs_to = [int(np.argmax(losses[:, k] < CONVERGED)) + 1 if np.any(losses[:, k] < CONVERGED) else None
                     for k in range(len(seeds))]
        done = [e for e in epochs_to if e is not None]
        row = {"rule": rule, "lr": lr, "converged_seeds": len(done), "seeds": len(seeds),
               "epochs_to_converge": epochs_to,
               "epochs_to_converge_mean": float(np.mean(done)) if done else None,
               "epochs_to_converge_std": float(np.std(done)) if done else None,
               "final_loss_ms2": losses[-1].tolist(), "final_test_acc": accs[-1].tolist(),
               "wall_s": wall, "load_average": os.getloadavg()}
        print({k: v for k, v in row.items() if k not in ("final_loss_ms2",)}, flush=True)
        rows.append(row)
        payload = {
            "benchmark": "spikeprop_xor",
            "command": "PYTHONPATH=$PWD python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])),
            "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
            "settings": vars(args), "seeds": seeds, "machine": machine(), "threads": os.cpu_count(),
            "criterion": "summed squared error of the 4 patterns < 1 ms^2 (mean loss < 0.125 ms^2)",
            "paper": "Bohte et al. 2002: XOR learnt in about 250 training cycles (eta = 0.01, 16 terminals)",
            "note": "timings on a 2-core machine shared with ~8 jobs",
            "rows": rows,
        }
        write_json(name, payload)


if __name__ == "__main__":
    main()
