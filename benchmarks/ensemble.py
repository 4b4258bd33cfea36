"""Ensembles: K models (seeds) trained in one run by vmap, against K separate runs.

The step timed is the one :func:`memsnn.training.fit` runs (:func:`memsnn.training.make_step`), on
one device: a single model's step (what ``memsnn train --seed k`` runs, K times for K seeds), and
the ensemble's step for K = 1, 2, 4, 8 members (what ``memsnn train --seeds 0 .. K-1`` runs, each
member with its own batch), in the two ways an :class:`~memsnn.training.learner.EnsembleLearner`
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
    python benchmarks/ensemble.py --whole-runs --seeds 0 1 2 3   # memsnn train --seeds vs one run per seed

``--whole-runs`` times what a user runs instead: ``train("spiceprop", "mnist", seeds=...)`` (the
bundled subset, 2 epochs) against one ``train(..., seed=s)`` per seed in the same process
(compilation and data loading included, Python start-up not), and checks that every member's test
accuracy is the single run's; it writes ``ensemble_runs_<platform>.json``.

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
    from memsnn.training.ensemble import stack
    from memsnn.training.learner import EnsembleLearner

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


def whole_runs(seeds: list[int], epochs: int) -> dict:
    """``memsnn train --seeds`` against one run per seed: wall times and test accuracies."""
    from memsnn.training import train

    t0 = time.perf_counter()
    ensemble = train("spiceprop", "mnist", seeds=seeds, epochs=epochs, progress=False)
    ensemble_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    singles = [train("spiceprop", "mnist", seed=s, epochs=epochs, progress=False) for s in seeds]
    separate_s = time.perf_counter() - t0
    last = ensemble.history[-1]
    return {"seeds": seeds, "epochs": epochs, "ensemble_s": ensemble_s, "separate_s": separate_s,
            "speedup": separate_s / ensemble_s,
            "ensemble_last_epoch_s": last["epoch_time_s"],
            "separate_last_epoch_s": sum(r.history[-1]["epoch_time_s"] for r in singles),
            "test_acc_members": last["test_acc_members"], "test_acc_mean": last["test_acc"],
            "test_acc_std": last["test_acc_std"],
            "single_test_acc": [r.history[-1]["test_acc"] for r in singles]}


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
    parser.add_argument("--whole-runs", action="store_true",
                        help="instead: train SPICEprop on the bundled MNIST subset with --seeds in one run and "
                             "once per seed, and compare wall times and accuracies")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3], help="with --whole-runs")
    parser.add_argument("--epochs", type=int, default=2, help="with --whole-runs")
    parser.add_argument("--out", default=None, metavar="NAME",
                        help="file name under benchmarks/results/ (default ensemble_<platform>.json)")
    args = parser.parse_args(argv)

    import jax

    from _timing import machine, markdown_table, write_json

    platform = jax.devices()[0].platform
    if args.whole_runs:
        load_before = _load()
        result = whole_runs(args.seeds, args.epochs)
        result.update(load_average_before=load_before, load_average_after=_load(), machine=machine(),
                      what="train('spiceprop', 'mnist', seeds=SEEDS) (bundled subset, batch 200, one run) "
                           "against one train(..., seed=s) per seed, in one process; wall times include "
                           "compilation and data loading",
                      command="python benchmarks/ensemble.py " + " ".join(argv if argv is not None else sys.argv[1:]))
        print(f"{len(args.seeds)} seeds, {args.epochs} epochs: one run {result['ensemble_s']:.1f} s, one run per "
              f"seed {result['separate_s']:.1f} s ({result['speedup']:.2f}x); last epoch "
              f"{result['ensemble_last_epoch_s']:.2f} s vs {result['separate_last_epoch_s']:.2f} s; test accuracy "
              f"{100 * result['test_acc_mean']:.2f} +- {100 * result['test_acc_std']:.2f} % (members "
              f"{result['test_acc_members']}, single runs {result['single_test_acc']})")
        print(f"load average before {result['load_average_before']}, after {result['load_average_after']}")
        print(f"wrote {write_json(args.out or f'ensemble_runs_{platform}.json', result)}")
        return
    ways = args.ways or (["vmap", "map"] if platform == "cpu" else ["vmap"])
    load_before = _load()
    rows = []
    for model in args.models:
        rows += run_model(model, args.members, args.rounds, args.repeats, ways)
    load_after = _load()
    columns = ["model", "members", "way", "batch", "step_ms", "ms_per_model_step", "single_step_ms", "gain",
               "cpu_gain", "compile_s"]
    print(markdown_table(rows, columns))
    print(f"load average (1, 5, 15 min) before {load_before}, after {load_after}")
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
