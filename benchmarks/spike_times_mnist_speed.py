"""The latency-coded MNIST TTFS training step of two memsnn checkouts, side by side (issue 23, figure 3).

The step is what ``memsnn train --method ttfs --inputs images`` differentiates per batch: the TTFS
loss of a 784+1 -> 350 -> 10 LIF network (the image defaults, 20 steps of 1 ms, exact spike times)
and its gradient with respect to every weight, on 64 MNIST training images, float32, one CPU
device. Each checkout runs in its own process (``PYTHONPATH`` set to it, so its ``memsnn`` is
imported), one at a time, alternating before/after over ``--rounds`` rounds, so that both see about
the same machine load. Per run: the compile time, and the median over ``--steps`` timed steps of the
wall time and of the process's CPU time (all threads). The figure is the median over rounds, and
the after/before ratio of the CPU times (< 1: the new code is faster)::

    nice -n 10 python benchmarks/spike_times_mnist_speed.py --before /work/main --rounds 3 --out benchmarks/results/spike_times_mnist_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the shared benchmark helpers (_timing, registry)


def worker(batch: int, steps: int, model: dict) -> dict:
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    from _timing import wall_and_cpu
    from memsnn.data import load_dataset
    from memsnn.training.ttfs import TTFSConfig, build_ttfs, ttfs_loss

    config = TTFSConfig.from_dict({"inputs": "images", "n_inputs": 784, "n_classes": 10, "hidden": [350], **model})
    net = build_ttfs(config, key=jax.random.key(0))
    x, y = load_dataset("mnist", "train", source="full")
    x = jnp.asarray(np.asarray(x[:batch], np.float32).reshape(batch, -1))
    y = jnp.asarray(np.asarray(y[:batch]))
    step = eqx.filter_jit(eqx.filter_value_and_grad(lambda m: ttfs_loss(m, x, y)[0]))
    start = time.perf_counter()
    jax.block_until_ready(step(net))
    compile_s = time.perf_counter() - start
    walls, cpus = [], []
    wall_and_cpu(lambda: jax.block_until_ready(step(net)), steps, walls, cpus)
    return {"compile_s": compile_s, "wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
            "load": os.getloadavg()[0]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="a memsnn checkout (the code before)")
    parser.add_argument("--after", default=str(HERE.parent), help="default: the checkout this script is in")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--model", type=json.loads, default={"dt": 0.001, "n_steps": 20})
    parser.add_argument("--out", default=None)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.batch, args.steps, args.model)))
        return

    import registry

    load_before = os.getloadavg()[0]
    sides = {"before": str(Path(args.before).resolve()), "after": str(Path(args.after).resolve())}
    commits = {name: subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=path, capture_output=True,
                                    text=True).stdout.strip() for name, path in sides.items()}
    rounds = []
    for r in range(args.rounds):
        row = {}
        for name in (("before", "after") if r % 2 == 0 else ("after", "before")):
            env = {**os.environ, "PYTHONPATH": sides[name]}
            out = subprocess.run([sys.executable, str(HERE / "spike_times_mnist_speed.py"), "--before", ".",
                                  "--worker", "--batch", str(args.batch), "--steps", str(args.steps),
                                  "--model", json.dumps(args.model)], env=env, cwd=sides[name],
                                 capture_output=True, text=True, check=True)
            row[name] = json.loads(out.stdout.strip().splitlines()[-1])
        rounds.append(row)
        print(f"round {r}: " + ", ".join(f"{n} {row[n]['cpu_s'] * 1e3:.1f} ms CPU / {row[n]['wall_s'] * 1e3:.1f} ms "
                                          f"wall (load {row[n]['load']:.1f})" for n in ("before", "after")), flush=True)
    summary = {name: {key: statistics.median(r[name][key] for r in rounds) for key in ("compile_s", "wall_s", "cpu_s")}
               for name in sides}
    ratio = summary["after"]["cpu_s"] / summary["before"]["cpu_s"]
    print(f"CPU per step: before {summary['before']['cpu_s'] * 1e3:.1f} ms, after {summary['after']['cpu_s'] * 1e3:.1f} "
          f"ms, after/before {ratio:.2f}")
    if args.out:
        payload = {"benchmark": "latency-coded MNIST TTFS loss + gradient, 784+1-350-10 LIF, one batch",
                   "batch": args.batch, "steps": args.steps, "model": args.model, "sides": sides, "commits": commits,
                   "rounds": rounds, "median": summary, "cpu_ratio_after_before": ratio,
                   "per_image_cpu_ms": {n: summary[n]["cpu_s"] / args.batch * 1e3 for n in sides},
                   "conditions": registry.run_conditions(
                       data="MNIST full, the first 64 training images", devices={"memsnn": "1 CPU device, each side"},
                       selection="median over rounds of the per-round medians", load_before=load_before)}
        Path(args.out).write_text(json.dumps(payload, indent=2))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
