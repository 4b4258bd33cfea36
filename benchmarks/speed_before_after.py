"""The SPICEprop and LIF (surrogate) training steps of two memsnn checkouts, side by side.

Issues 22 and 23 ask for no speed regression of the existing paths (within 5 %) between the code
before a redesign (``--before``, a checkout of e.g. commit 8c125f8) and the code now (``--after``,
default: the checkout this script is in). Each checkout runs in its own worker process (its
``PYTHONPATH`` set to the checkout, so that checkout's ``memsnn`` is imported), which builds and
compiles both steps once; the parent then asks the workers in turn, A/B then B/A in alternate
rounds, for a block of timed steps, so both see the same machine load and only one runs at a time.

The steps are those ``memsnn train`` runs (``make_step`` of a ``GradientLearner``: forward,
backward, Adam update, one CPU device):

* SPICEprop: 784-100-10 -> 10 MIF (``SpicepropConfig(hidden=(100,))``), batch 200, 1000 steps,
  float32, Adam 1e-3 (as ``spiceprop_step_speed.py``);
* LIF surrogate: snnTorch tutorial 5's 784-1000-10 network, 25 steps, batch 128, Adam 5e-4 (the
  ``CONFIG`` of ``surrogate_vs_snntorch.py``), on uniform-noise images (the step's work does not
  depend on the pixel values).

Per step the wall time and the worker's CPU time (all threads) are recorded; per round and side
the median of the block; the figure is the median over rounds of each, and the after/before ratio
(> 1: the new code is slower), with the spread of the per-round ratios.

    python benchmarks/speed_before_after.py --before /tmp/before [--rounds 12] [--spiceprop-steps 10] [--lif-steps 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PATHS = ("spiceprop", "lif")
LIF_CONFIG = dict(architecture="dense", hidden=[1000], beta=0.95, threshold=1.0, surrogate="fast_sigmoid",
                  slope=25.0, n_steps=25, reset_delay=True, detach_reset=True, loss="ce_membrane",
                  dtype="float32")


def _say(payload: dict) -> None:
    sys.stdout.write("@@" + json.dumps(payload) + "\n")
    sys.stdout.flush()


def worker(checkout: str) -> None:
    """Build and compile both steps from the ``memsnn`` on ``PYTHONPATH``, then time blocks on request."""
    from memsnn.training import GradientLearner, data_mesh, make_step, replicate, use_cpu_cores

    use_cpu_cores(1)
    import jax
    import numpy as np
    import optax

    import memsnn
    from memsnn.training.spiceprop import (SpicepropConfig, build_spiceprop, spiceprop_loss, spiceprop_predict,
                                           spiceprop_trainable)
    from memsnn.training.surrogate import build_surrogate, surrogate_loss, surrogate_predict, surrogate_trainable

    where = str(Path(memsnn.__file__).resolve())
    if not where.startswith(str(Path(checkout).resolve())):
        raise SystemExit(f"memsnn imported from {where}, not from {checkout}")
    rng = np.random.default_rng(0)
    data = {"spiceprop": (rng.uniform(0, 1, (200, 784)).astype(np.float32), rng.integers(0, 10, 200).astype(np.int32)),
            "lif": (rng.random((128, 784), dtype=np.float32), rng.integers(0, 10, 128).astype(np.int32))}
    mesh = data_mesh()
    built = {}
    spice = build_spiceprop(SpicepropConfig(hidden=(100,)), key=jax.random.key(0))
    built["spiceprop"] = (spice, GradientLearner(spiceprop_loss, spiceprop_predict, optax.adam(1e-3),
                                                 spiceprop_trainable(spice)))
    lif = build_surrogate(LIF_CONFIG, key=jax.random.key(0))
    built["lif"] = (lif, GradientLearner(surrogate_loss, surrogate_predict, optax.adam(5e-4), surrogate_trainable(lif)))
    runs, info = {}, {"memsnn_file": where, "jax": jax.__version__, "devices": [str(d) for d in jax.devices()],
                      "first_call_s": {}, "first_loss": {}}
    for name, (model, learner) in built.items():
        step = make_step(learner, model, mesh)
        state = replicate((model, learner.init(model)), mesh)
        images, labels = data[name]
        start = time.perf_counter()
        info["first_loss"][name] = float(jax.block_until_ready(step(*state, images, labels)[2]["loss"]))
        info["first_call_s"][name] = time.perf_counter() - start

        def run(step=step, state=state, images=images, labels=labels):
            jax.block_until_ready(step(*state, images, labels)[2]["loss"])

        for _ in range(3):  # warm-up
            run()
        runs[name] = run
    _say({"ready": True, **info})
    for line in sys.stdin:
        name, n = line.split()
        wall, cpu = [], []
        for _ in range(int(n)):
            w, c = time.perf_counter(), time.process_time()
            runs[name]()
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
        _say({"wall": wall, "cpu": cpu})


def _read(proc) -> dict:
    for line in proc.stdout:
        if line.startswith("@@"):
            return json.loads(line[2:])
    raise RuntimeError(f"worker exited (rc {proc.wait()})")


def _commit(path: Path) -> dict:
    def git(*a):
        return subprocess.run(["git", "-C", str(path), *a], capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD"), "subject": git("log", "-1", "--format=%s")[:120],
            "memsnn_changes_uncommitted": git("status", "--porcelain", "--", "memsnn")}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="checkout of the old code")
    parser.add_argument("--after", type=Path, default=HERE.parent, help="checkout of the new code (default: this one)")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--spiceprop-steps", type=int, default=10, help="timed steps per block")
    parser.add_argument("--lif-steps", type=int, default=30, help="timed steps per block")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "speed_before_after.json")
    args = parser.parse_args(argv)
    sides = {"before": args.before.resolve(), "after": args.after.resolve()}
    load = {"before_start": os.getloadavg()}
    t0 = time.perf_counter()
    procs, ready = {}, {}
    for side, path in sides.items():  # start both, then wait: the compiles overlap but are not timed
        env = {**os.environ, "PYTHONPATH": str(path)}
        procs[side] = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", str(path)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=path)
    for side, proc in procs.items():
        ready[side] = _read(proc)
        print(side, ready[side], flush=True)
    load["after_compile"] = os.getloadavg()
    blocks = {p: {s: {"wall": [], "cpu": []} for s in sides} for p in PATHS}
    steps = {"spiceprop": args.spiceprop_steps, "lif": args.lif_steps}
    for r in range(args.rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for path in PATHS:
            for side in order:
                procs[side].stdin.write(f"{path} {steps[path]}\n")
                procs[side].stdin.flush()
                got = _read(procs[side])
                for k in ("wall", "cpu"):
                    blocks[path][side][k].append(statistics.median(got[k]))
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(
            f"{p} {s} {1e3 * blocks[p][s]['wall'][-1]:.1f} ms wall / {1e3 * blocks[p][s]['cpu'][-1]:.1f} ms CPU"
            for p in PATHS for s in sides), flush=True)
    for proc in procs.values():
        proc.stdin.close()
        proc.wait()
    load["end"] = os.getloadavg()
    results = {}
    for p in PATHS:
        row = {}
        for k in ("wall", "cpu"):
            b, a = blocks[p]["before"][k], blocks[p]["after"][k]
            per_round = [y / x for x, y in zip(b, a)]
            row[k] = {"before_ms_median": 1e3 * statistics.median(b), "after_ms_median": 1e3 * statistics.median(a),
                      "ratio_after_over_before": statistics.median(a) / statistics.median(b),
                      "per_round_ratio_median": statistics.median(per_round),
                      "per_round_ratio_min_max": [min(per_round), max(per_round)],
                      "per_round_ratio_quartiles": statistics.quantiles(per_round, n=4) if len(per_round) > 1 else None,
                      "before_block_medians_ms": [1e3 * x for x in b], "after_block_medians_ms": [1e3 * x for x in a]}
        row["within_5_percent"] = {k: abs(row[k]["ratio_after_over_before"] - 1) <= 0.05 for k in ("wall", "cpu")}
        row["first_loss"] = {s: ready[s]["first_loss"][p] for s in sides}
        row["first_call_s"] = {s: ready[s]["first_call_s"][p] for s in sides}
        results[p] = row
    command = "python benchmarks/speed_before_after.py " + " ".join(argv if argv is not None else sys.argv[1:])
    checkouts = {s: {"path": str(path), **_commit(path), "memsnn_file": ready[s]["memsnn_file"]}
                 for s, path in sides.items()}
    payload = {
        "what": __doc__.split("\n\n")[0],
        "paths": {"spiceprop": "make_step(GradientLearner) SPICEprop 784-100-10 -> 10 MIF, batch 200, 1000 steps, "
                               "float32, Adam 1e-3, 1 CPU device",
                  "lif": "make_step(GradientLearner) LIF surrogate 784-1000-10, 25 steps, batch 128, "
                         "fast sigmoid, ce_membrane, Adam 5e-4, 1 CPU device, uniform-noise images"},
        "results": results,
        "conditions": {
            "command": command,
            "commit": f"after {checkouts['after']['commit'][:7]}, before {checkouts['before']['commit'][:7]}",
            "machine": f"{platform.machine()} {os.cpu_count()}-core CPU ({platform.platform()}), shared with "
                       "~5 other agents' jobs",
            "devices": {s: f"{checkouts[s]['commit'][:7]}: 1 CPU device, XLA's default threads, own process"
                        for s in sides},
            "threads": "JAX/XLA CPU defaults (1 CPU device; XLA's intra-op pool sized to the cores), the same "
                       f"for both sides; XLA_FLAGS={os.environ.get('XLA_FLAGS')!r}",
            "load_average": [round(load[k][0], 2) for k in ("before_start", "after_compile", "end")],
            "load_average_1_5_15": load,
            "versions": {"jax": ready["after"]["jax"], "python": platform.python_version()},
            "data": "uniform-noise images and random labels (numpy seed 0), the same in both workers",
            "seeds": [0], "selection": "not applicable",
            "checkouts": checkouts, "jax_devices": ready["after"]["devices"],
            "rounds": args.rounds, "steps_per_block": steps, "warm_up_steps": 3,
            "wall_s_total": time.perf_counter() - t0,
            "order": "one worker process per checkout, both steps compiled before timing; rounds alternate "
                     "before/after and after/before; one worker runs at a time; same priority (no nice)",
            "note": "2-core machine shared with ~5 other agents' jobs (load average ~10, recorded): absolute times "
                    "are inflated and noisy; the interleaved ratio is the figure, CPU time the steadier one"}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    for p in PATHS:
        print(p, {k: (round(results[p][k]["ratio_after_over_before"], 4), [round(x, 3) for x in
                                                                            results[p][k]["per_round_ratio_min_max"]])
                  for k in ("wall", "cpu")}, results[p]["first_loss"])
    print("wrote", args.out)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
    else:
        main()
