"""Cost of one SpikeProp gradient step with the delay line read per connection or once per input.

A SpikeProp connection has ``k`` delayed terminals; with fixed delays every connection has the same
ones (``(k,)``). Before, :class:`~memsnn.arrays.DelayedDense` broadcast them to ``(n_out, n_in, k)``
and its exact-timing read gathered the delay line once per connection and terminal at every grid
step (and its gradient scattered back the same way); now a shared delay stays ``(1, 1, k)``, the
line is read once per input and terminal and contracted with the weights as a matrix product.
Both layouts run here in one process on the same data (WDBC breast cancer, 20 samples, dt = 0.2 ms,
25 ms, 10 hidden, 2 outputs, 16 terminals): ``per_connection`` passes the delays broadcast to the
full shape (the old layout, read the old way), ``shared`` the ``(1, 1, k)`` that
:func:`~memsnn.training.spikeprop.build_spikeprop` now builds. CPU seconds (``time.process_time``,
all threads) are reported beside wall seconds: the machine is shared and the load is recorded.

    PYTHONPATH=$PWD nice -n 10 python benchmarks/spikeprop_step_speed.py --fields 0 4 7
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from memsnn.training.spikeprop import SpikePropConfig, build_spikeprop, spikeprop_loss, spikeprop_trainable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import machine, write_json  # noqa: E402
from registry import run_conditions  # noqa: E402
from spikeprop_uci import split  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fields", type=int, nargs="+", default=[0, 4, 7])
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--dt", type=float, default=0.2e-3)
    ap.add_argument("--hidden", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default="spikeprop_step_speed.json")
    args = ap.parse_args(argv)
    load_before = os.getloadavg()[0]
    train = split("wdbc", 0, 40)[0]
    x, y = jnp.asarray(train[0][:args.batch_size]), jnp.asarray(train[1][:args.batch_size])
    rows = []
    for fields in args.fields:
        config = SpikePropConfig(n_inputs=x.shape[1], receptive_fields=fields, hidden=(args.hidden,), n_classes=2,
                                 dt=args.dt, n_steps=int(round(25e-3 / args.dt)), init_scale=8.0, init_low=-0.5)
        shared = build_spikeprop(config, key=jax.random.key(0))
        assert all(d.shape == (1, 1, config.terminals) for d in shared.delay_params)
        full = eqx.tree_at(lambda m: m.delay_params, shared,
                           tuple(jnp.broadcast_to(d, w.shape) for d, w in zip(shared.delay_params, shared.weights)))
        spec = spikeprop_trainable(shared)

        @eqx.filter_jit
        def step(model):
            params, static = eqx.partition(model, spec)
            return eqx.filter_value_and_grad(lambda p: spikeprop_loss(eqx.combine(p, static), x, y)[0])(params)

        row = {"fields": fields, "inputs": config.sizes[0], "sizes": list(config.sizes)}
        losses = {}
        for layout, model in (("per_connection", full), ("shared", shared)):
            t0, c0 = time.perf_counter(), time.process_time()
            loss, grads = jax.block_until_ready(step(model))
            first = (time.perf_counter() - t0, time.process_time() - c0)
            cpu, wall = [], []
            for _ in range(args.repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                jax.block_until_ready(step(model))
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            losses[layout] = (float(loss), grads)
            row[layout] = {"first_call_wall_s": first[0], "first_call_cpu_s": first[1], "step_cpu_s": cpu,
                           "step_wall_s": wall, "step_cpu_s_min": min(cpu), "load_average": os.getloadavg()}
            print(fields, layout, {k: v for k, v in row[layout].items()}, flush=True)
        g = [np.max(np.abs(np.asarray(a) - np.asarray(b)))
             for a, b in zip(losses["shared"][1].weights, losses["per_connection"][1].weights)]
        row["same_loss"] = losses["shared"][0] == losses["per_connection"][0]
        row["max_weight_grad_difference"] = float(max(g))
        row["speedup_cpu_min"] = row["per_connection"]["step_cpu_s_min"] / row["shared"]["step_cpu_s_min"]
        rows.append(row)
    write_json(args.json, {
        "benchmark": "spikeprop_step_speed", "machine": machine(), "settings": vars(args), "rows": rows,
        "note": "one jitted value-and-grad step of spikeprop_loss; CPU s = process_time over all threads, "
                "min over repeats; the machine is shared (load in each row)",
        "conditions": run_conditions(data="scikit-learn breast_cancer (WDBC), first training samples of seed 0's split",
                                     devices={"memsnn": f"1 CPU device (XLA, {os.cpu_count()} cores shared)"},
                                     seeds=[0], machine=f"{os.cpu_count()}-core CPU shared with other agents' jobs",
                                     selection="none", load_before=load_before),
    })


if __name__ == "__main__":
    main()
