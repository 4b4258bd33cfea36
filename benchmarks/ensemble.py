"""Ensembles: K models (seeds) trained in one run by vmap, against K separate runs.

The step timed is the one :func:`memsnn.training.fit` runs (:func:`memsnn.training.make_step`), on
one device: a single model's step (what ``memsnn train --seed k`` runs, K times for K seeds), and
the ensemble's step for K = 1, 2, 4, 8 members (what ``memsnn train --seeds 0 .. K-1`` runs, each
member with its own batch), in the two ways an :class:`~memsnn.training.ensemble.EnsembleLearner`
can run its members: all K vmapped together (``members_at_once=K``, the accelerator default) and
one after another inside the same jitted step (``members_at_once=1``, the CPU default). Two networks:

* ``spiceprop``: the default SPICEprop network (784-100-10 front end, 10 MIF neurons, 1000 time
  steps, float32, Adam), batch 200 as in ``spiceprop_vs_torch.py``: 1000 sequential small steps,
  bound by kernel launches, where running K models in each kernel should pay most;
* ``surrogate``: snnTorch's tutorial network (784-1000-10 LIF, 25 steps, float32, Adam), batch 128
  as in ``surrogate_vs_snntorch.py``: larger matrix products, closer to compute bound.

Reported per K and way: ms per ensemble step, ms per model-step (step / K), and the throughput
gain ``single step / (ensemble step / K)``: how much faster K seeds train in one run than in K
separate runs of the same single-model step. The steps of all K are timed in interleaved rounds, so that a
change of the machine's load during the run affects every K alike; the median is reported, with
the CPU time of the process beside the wall time, and the load average before and after.

    python benchmarks/ensemble.py                          # both models, K = 1 2 4 8, this machine's JAX device
    python benchmarks/ensemble.py --models surrogate --members 1 2 --rounds 2

Runs unchanged on a GPU (the first JAX device is used); writes
``benchmarks/results/ensemble_<platform>.json`` (``--out NAME`` to change) and prints a table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _setup(model_name: str):
    """``(build(key) -> model, learner of one model, batch)`` for ``model_name``."""
    import jax
    import optax

    from memsnn.training import GradientLearner

    if model_name == "spiceprop":
        from memsnn.training.spiceprop import (SpicepropConfig, build_spiceprop, spiceprop_loss, spiceprop_predict,
                                               spiceprop_trainable)

        config = SpicepropConfig()

        def build(key):
            return build_spiceprop(config, key=key)

        learner = GradientLearner(spiceprop_loss, spiceprop_predict, optax.adam(2e-3),
                                  spiceprop_trainable(build(jax.random.key(0))))
        return build, learner, 200
    from surrogate_vs_snntorch import CONFIG

    from memsnn.training.surrogate import (SurrogateConfig, build_surrogate, surrogate_loss, surrogate_predict,
                                           surrogate_trainable)

    config = SurrogateConfig(**CONFIG)

    def build(key):
        return build_surrogate(config, key=key)

    learner = GradientLearner(surrogate_loss, surrogate_predict, optax.adam(5e-4),
                              surrogate_trainable(build(jax.random.key(0))))
    return build, learner, 128


def _stepper(step, model, state, images, labels, keys):
    """A call of ``step`` that continues from its own last result (as training does) and blocks."""
    import jax

    held = {"model": model, "state": state}

    def call():
        held["model"], held["state"], metrics = step(held["model"], held["state"], images, labels, keys)
        jax.block_until_ready(metrics)
        return metrics

    return call


def run_model(model_name: str, members: list[int], rounds: int, repeats: int, ways: list[str]) -> list[dict]:
    import jax
    import numpy as np

    from memsnn.training import data_mesh, make_step, replicate
    from memsnn.training.ensemble import EnsembleLearner, stack

    build, learner, batch = _setup(model_name)
    mesh = data_mesh(jax.devices()[:1])
    rng = np.random.default_rng(0)
    largest = max(members)
    images = rng.uniform(0, 1, (largest, batch, 784)).astype(np.float32)
    labels = rng.integers(0, 10, (largest, batch)).astype(np.int32)
    keys = jax.random.split(jax.random.key(1), largest)

    calls, compile_s = {}, {}
    single = build(jax.random.key(0))
    t0 = time.perf_counter()
    step = make_step(learner, single, mesh)
    calls["single"] = _stepper(step, *replicate((single, learner.init(single)), mesh), images[0], labels[0], keys[0])
    calls["single"]()
    compile_s["single"] = time.perf_counter() - t0
    for k in members:
        ensemble = stack([build(jax.random.key(s)) for s in range(k)])
        for way, at_once in [(w, k if w == "vmap" else 1) for w in ways] if k > 1 else [(ways[0], 1)]:
            ensemble_learner = EnsembleLearner(learner, members_at_once=at_once)
            t0 = time.perf_counter()
            step = make_step(ensemble_learner, ensemble, mesh)
            calls[k, way] = _stepper(step, *replicate((ensemble, ensemble_learner.init(ensemble)), mesh),
                                     images[:k], labels[:k], keys[:k])
            calls[k, way]()
            compile_s[k, way] = time.perf_counter() - t0
            print(f"{model_name}: compiled K={k} {way} ({compile_s[k, way]:.1f} s)", flush=True)

    wall = {name: [] for name in calls}
    cpu = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            for _ in range(repeats):
                w, c = time.perf_counter(), time.process_time()
                call()
                wall[name].append(time.perf_counter() - w)
                cpu[name].append(time.process_time() - c)
    single_ms = 1e3 * statistics.median(wall["single"])
    single_cpu = 1e3 * statistics.median(cpu["single"])
    rows = []
    for (k, way) in (name for name in calls if name != "single"):
        step_ms = 1e3 * statistics.median(wall[k, way])
        cpu_ms = 1e3 * statistics.median(cpu[k, way])
        rows.append({"model": model_name, "members": k, "members_at_once": k if way == "vmap" else 1,
                     "way": way, "batch": batch, "step_ms": step_ms,
                     "ms_per_model_step": step_ms / k, "single_step_ms": single_ms,
                     "separate_runs_ms": k * single_ms, "gain": single_ms / (step_ms / k),
                     "cpu_ms": cpu_ms, "cpu_ms_per_model_step": cpu_ms / k, "single_cpu_ms": single_cpu,
                     "cpu_gain": single_cpu / (cpu_ms / k), "compile_s": compile_s[k, way],
                     "single_compile_s": compile_s["single"], "timed_steps": len(wall[k, way]),
                     "step_ms_all": [1e3 * t for t in wall[k, way]]})
    return rows


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["spiceprop", "surrogate"], choices=["spiceprop", "surrogate"])
    parser.add_argument("--members", nargs="+", type=int, default=[1, 2, 4, 8], help="ensemble sizes K")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over the single step and every K")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps of each per round")
    parser.add_argument("--ways", nargs="+", choices=["vmap", "map"], default=None,
                        help="how the members run: vmap (all together) and/or map (one after another); "
                             "default: both on a CPU, vmap on an accelerator (make_step's choice there)")
    parser.add_argument("--out", default=None, metavar="NAME",
                        help="file name under benchmarks/results/ (default ensemble_<platform>.json)")
    args = parser.parse_args(argv)

    import jax

    from _timing import machine, markdown_table, write_json

    ways = args.ways or (["vmap", "map"] if jax.devices()[0].platform == "cpu" else ["vmap"])
    load_before = _load()
    rows = []
    for model in args.models:
        rows += run_model(model, args.members, args.rounds, args.repeats, ways)
    load_after = _load()
    columns = ["model", "members", "way", "batch", "step_ms", "ms_per_model_step", "single_step_ms", "gain",
               "cpu_gain", "compile_s"]
    print(markdown_table(rows, columns))
    print(f"load average (1, 5, 15 min) before {load_before}, after {load_after}")
    platform = jax.devices()[0].platform
    payload = {
        "what": "one training step (forward + backward + Adam) of an ensemble of K models in one run (memsnn "
                "train --seeds), its members vmapped together (way vmap) or one after another in the same "
                "step (way map), against the single-model step that K separate runs take, one device",
        "gain": "single_step_ms / (step_ms / K): throughput of K seeds in one run over K separate runs",
        "device": str(jax.devices()[0]),
        "rows": rows,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "machine": machine(),
        "command": "python benchmarks/ensemble.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    path = write_json(args.out or f"ensemble_{platform}.json", payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
