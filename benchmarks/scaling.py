"""Data-parallel scaling of a training step over 1, 2, 4, 8 devices: strong and weak, with correctness.

The step is the one :func:`memsnn.training.fit` runs (:func:`memsnn.training.make_step`: the batch
sharded over a mesh of all devices, parameters replicated, gradients reduced by XLA), for two
networks:

* ``spiceprop``: the paper's SPICEprop network (784-100-10 front end, 10 MIF neurons, 1000 steps,
  float32, Adam);
* ``surrogate``: snnTorch's tutorial network (784-1000-10 LIF, 25 steps, float32, Adam);
* ``surrogate-conv`` (not run by default): the default conv SNN (12C5-AP2-64C5-AP2-FC10 LIF).

On a real multi-core CPU (``--devices 1 2`` on 2 cores) the times back ``memsnn train``'s layout,
one device per core: ``results/scaling_cpu_idle*.json``.

Strong scaling keeps the global batch (``--batch``) and splits it over ``n`` devices; weak scaling
keeps the batch per device (``--batch / 8``) and grows the global batch with ``n``. Efficiency is
``T(1) / (n T(n))`` (strong) and ``T(1) / T(n)`` (weak). Every device count runs in its own
process (JAX fixes the device count when it starts); on a CPU the devices are simulated
(``XLA_FLAGS=--xla_force_host_platform_device_count=n``, ``JAX_PLATFORMS=cpu``), so beyond the
number of cores the times measure overhead, not speed: the CPU run checks *correctness* (the
parameters after one step agree with one device's to float32 rounding, ``max_rel_diff``). On a
machine with several GPUs pass ``--platform gpu`` to time real devices (``n`` up to the GPU count).

    python benchmarks/scaling.py                        # CPU, 1 2 4 8 simulated devices
    python benchmarks/scaling.py --models surrogate --devices 1 2 --repeats 5
    python benchmarks/scaling.py --platform gpu --out benchmarks/results/scaling_gpu.json
    python benchmarks/scaling.py --same-seed            # SPICEprop, seed 0, on 1 and 8 devices: test accuracy

Writes ``benchmarks/results/scaling_cpu.json`` (or ``--out``) and prints a table.
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
sys.path.insert(0, str(HERE))

_CHILD = "--child"


def _child(model_name: str, batch: int, repeats: int) -> dict:
    """Runs in the subprocess: time ``repeats`` steps on all devices, return times and the params."""
    import jax
    import numpy as np
    import optax

    from memsnn.training import GradientLearner, data_mesh, make_step, replicate

    if model_name == "spiceprop":
        from memsnn.training.spiceprop import (SpicepropConfig, build_spiceprop, spiceprop_loss, spiceprop_predict,
                                               spiceprop_trainable)

        model = build_spiceprop(SpicepropConfig(hidden=(100,)), key=jax.random.key(0))
        learner = GradientLearner(spiceprop_loss, spiceprop_predict, optax.adam(1e-3), spiceprop_trainable(model))
    else:
        from memsnn.training.surrogate import (SurrogateConfig, build_surrogate, surrogate_loss, surrogate_predict,
                                               surrogate_trainable)
        from surrogate_vs_snntorch import CONFIG

        # surrogate-conv: the default conv SNN (12C5-AP2-64C5-AP2-FC10, compute-bound convolutions).
        config = SurrogateConfig(architecture="conv") if model_name == "surrogate-conv" else CONFIG
        model = build_surrogate(config, key=jax.random.key(0))
        learner = GradientLearner(surrogate_loss, surrogate_predict, optax.adam(5e-4), surrogate_trainable(model))
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (batch, 784)).astype(np.float32)
    labels = rng.integers(0, 10, batch).astype(np.int32)
    mesh = data_mesh()
    step = make_step(learner, model, mesh)
    start = replicate((model, learner.init(model)), mesh)

    t0 = time.perf_counter()
    first, _, metrics = step(*start, images, labels)
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - t0
    state = {"model": first, "opt": start[1]}
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        state["model"], state["opt"], m = step(state["model"], state["opt"], images, labels)
        jax.block_until_ready(m)
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    params = [np.asarray(x, np.float64).ravel() for x in jax.tree.leaves(_trainable(first, learner))]
    return {"devices": len(jax.devices()), "platform": jax.devices()[0].platform, "batch": batch,
            "compile_s": compile_s, "step_ms": 1e3 * statistics.median(wall), "step_ms_all": [1e3 * t for t in wall],
            "cpu_ms": 1e3 * statistics.median(cpu), "loss": float(metrics["loss"]),
            "params": np.concatenate(params).tolist()}


def _accuracy_child(n_train: int, n_test: int, epochs: int) -> dict:
    """Runs in the subprocess: the same SPICEprop run (seed 0) on 1 device and on all devices."""
    import jax

    from memsnn.training import train

    out = {}
    for name, devices in (("1", jax.devices()[:1]), (str(len(jax.devices())), jax.devices())):
        t0 = time.perf_counter()
        result = train("spiceprop", "mnist", train_subset=n_train, test_subset=n_test, epochs=epochs,
                       batch_size=200, seed=0, progress=False, devices=devices)
        out[name] = {"test_acc": [row["test_acc"] for row in result.history],
                     "train_loss": [row["train_loss"] for row in result.history],
                     "wall_s": time.perf_counter() - t0}
    return out


def accuracy(n: int, n_train: int, n_test: int, epochs: int, out: Path | None) -> None:
    """Same seed on 1 and ``n`` simulated CPU devices: the test accuracy of a short SPICEprop run."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": f"--xla_force_host_platform_device_count={n}"}
    proc = subprocess.run([sys.executable, __file__, "--accuracy-child", str(n_train), str(n_test), str(epochs)],
                          env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    runs = json.loads(proc.stdout.strip().splitlines()[-1])
    one, many = runs["1"], runs[str(n)]
    diff = max(abs(a - b) for a, b in zip(one["test_acc"], many["test_acc"]))
    for name, r in runs.items():
        print(f"{name} device(s): test accuracy per epoch {[f'{100 * a:.2f}%' for a in r['test_acc']]}, "
              f"train loss {[f'{x:.4f}' for x in r['train_loss']]} ({r['wall_s']:.0f} s)")
    print(f"largest test-accuracy difference: {100 * diff:.2f} percentage points")
    payload = {"what": f"SPICEprop on the bundled MNIST subset ({n_train} training / {n_test} test images, "
                       f"batch 200, {epochs} epoch(s), seed 0) on 1 and {n} simulated CPU devices",
               "runs": runs, "max_test_acc_diff": diff, "load_average": os.getloadavg()}
    path = out or HERE / "results" / "scaling_same_seed.json"
    print(f"wrote {_write(path, payload)}")


def _trainable(model, learner):
    import equinox as eqx

    return eqx.filter(model, learner.updated(model))


def _run_child(model: str, n: int, batch: int, repeats: int, platform: str) -> dict:
    env = dict(os.environ)
    if platform == "cpu":
        env.update(JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")
    else:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(n))
    proc = subprocess.run([sys.executable, __file__, _CHILD, model, str(batch), str(repeats)], env=env,
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{model} on {n} devices failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["spiceprop", "surrogate"],
                        choices=["spiceprop", "surrogate", "surrogate-conv"])
    parser.add_argument("--devices", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--batch", type=int, nargs="+", default=None,
                        help="global batch of strong scaling per model (default: spiceprop 200, surrogate 128); "
                             "weak scaling uses batch / max(devices) per device")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per run (after the compiling one)")
    parser.add_argument("--platform", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--same-seed", action="store_true",
                        help="instead: train SPICEprop with the same seed on 1 and max(--devices) devices and "
                             "compare the test accuracy (--train-subset, --test-subset, --epochs)")
    parser.add_argument("--train-subset", type=int, default=2000)
    parser.add_argument("--test-subset", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    if args.same_seed:
        return accuracy(max(args.devices), args.train_subset, args.test_subset, args.epochs, args.out)
    defaults = {"spiceprop": 200, "surrogate": 128, "surrogate-conv": 128}
    batches = dict(zip(args.models, args.batch)) if args.batch else defaults
    top = max(args.devices)

    import numpy as np

    from _timing import machine, markdown_table, write_json

    rows = []
    for model in args.models:
        global_batch = batches[model]
        per_device = global_batch // top
        for mode in ("strong", "weak"):
            base = None
            for n in args.devices:
                batch = global_batch if mode == "strong" else per_device * n
                r = _run_child(model, n, batch, args.repeats, args.platform)
                params = np.asarray(r.pop("params"))
                if base is None:
                    base, ref = r, params
                row = {"model": model, "mode": mode, "devices": n, "batch": batch, "step_ms": r["step_ms"],
                       "cpu_ms": r["cpu_ms"], "compile_s": r["compile_s"], "loss": r["loss"]}
                row["efficiency"] = (base["step_ms"] / (n * r["step_ms"]) if mode == "strong"
                                     else base["step_ms"] / r["step_ms"]) if n != args.devices[0] else 1.0
                if mode == "strong":  # the same batch: the same step, up to the order of the sums
                    row["max_rel_diff"] = float(np.max(np.abs(params - ref)) / np.max(np.abs(ref)))
                    row["loss_rel_diff"] = abs(r["loss"] - base["loss"]) / abs(base["loss"])
                row["step_ms_all"] = r["step_ms_all"]
                rows.append(row)
                print(f"{model:10s} {mode:6s} n={n} batch={batch:4d} step {r['step_ms']:8.1f} ms  "
                      f"cpu {r['cpu_ms']:8.1f} ms  eff {row['efficiency']:.2f}"
                      + (f"  max_rel_diff {row['max_rel_diff']:.2e}" if "max_rel_diff" in row else ""), flush=True)
                base_platform = r["platform"]
    columns = ["model", "mode", "devices", "batch", "step_ms", "cpu_ms", "efficiency", "max_rel_diff", "compile_s"]
    print(markdown_table(rows, columns))
    out = args.out or HERE / "results" / f"scaling_{args.platform}.json"
    payload = {
        "what": "data-parallel training step (memsnn.training.make_step: batch sharded over a mesh, params "
                "replicated, gradients reduced by XLA); strong: global batch fixed; weak: batch per device fixed",
        "platform": base_platform,
        "simulated_devices": args.platform == "cpu",
        "note": ("CPU devices are simulated on os.cpu_count() cores: times beyond that many devices measure "
                 "overhead; the run checks correctness") if args.platform == "cpu" else "",
        "repeats": args.repeats,
        "load_average": os.getloadavg(),
        "machine": machine(),
        "rows": rows,
    }
    print(f"wrote {write_json(out.name, payload) if out.parent == HERE / 'results' else _write(out, payload)}")


def _write(path: Path, payload: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == _CHILD:
        print(json.dumps(_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "--accuracy-child":
        print(json.dumps(_accuracy_child(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))
    else:
        main()
