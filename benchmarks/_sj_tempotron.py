"""SpikingJelly 2.0's Tempotron (spikingjelly.timing_based.neuron.Tempotron, continuous-time,
event-driven, shunting after the first spike) trained with the same online rule as memsnn's
benchmark: pattern by pattern, after each error dw = lambda dV(t_max)/dw + mu dw_prev.

Run with the peers environment (torch + spikingjelly), by benchmarks/tempotron_capacity.py:

    /work/peers/bin/python benchmarks/_sj_tempotron.py PATTERNS.npz train|time ...

PATTERNS.npz holds ``times`` (P, N) in ms (the grid times at which memsnn's impulses land, so both
see the same inputs) and ``labels`` (P,). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from spikingjelly.timing_based.neuron import Tempotron


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("patterns")
    ap.add_argument("mode", choices=["train", "time"])
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--momentum", type=float, default=0.99)
    ap.add_argument("--max-epochs", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=1, help="time: epochs to time")
    ap.add_argument("--duration", type=float, default=500.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    data = np.load(args.patterns)
    times, labels = torch.tensor(data["times"], dtype=torch.float64), data["labels"]
    p, n = times.shape
    model = Tempotron(n, 1, args.duration).double()  # tau 15, tau_s 3.75 (ms), threshold 1: the paper's
    indices, offsets = torch.arange(n), torch.tensor([0, n])
    velocity = torch.zeros_like(model.weight)
    rng = np.random.default_rng(args.seed)

    def cycle():
        nonlocal velocity
        errors = 0
        for k in rng.permutation(p):
            vmax, _, _ = model(times[k], indices, offsets)
            target = float(labels[k])
            cost = target * torch.relu(1 - vmax[0, 0]) + (1 - target) * torch.relu(vmax[0, 0] - 1)
            if float(cost) > 0:
                errors += 1
                model.weight.grad = None
                cost.backward()
                with torch.no_grad():
                    velocity = -args.lr * model.weight.grad + args.momentum * velocity
                    model.weight += velocity
        return errors

    out = {"library": "spikingjelly", "torch": torch.__version__, "threads": torch.get_num_threads(),
           "n_patterns": p, "n_inputs": n}
    if args.mode == "time":
        walls, cpus = [], []
        for _ in range(args.epochs):
            w, c = time.perf_counter(), time.process_time()
            cycle()
            walls.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c)
        out.update(epoch_wall_s=walls, epoch_cpu_s=cpus, load_average=os.getloadavg())
    else:
        history, start = [], time.perf_counter()
        for _ in range(args.max_epochs):
            history.append(cycle())
            if history[-1] == 0:
                break
        with torch.no_grad():
            n_all = torch.arange(p + 1) * n
            vmax, _, _ = model(times.flatten(), torch.arange(n).repeat(p), n_all)
        correct = float(np.mean((vmax[:, 0].numpy() >= 1.0) == (labels == 1)))
        out.update(errors_per_epoch=history, epochs_run=len(history),
                   first_error_free_epoch=len(history) if history[-1] == 0 else None,
                   fraction_correct=correct, wall_s=time.perf_counter() - start, load_average=os.getloadavg())
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
