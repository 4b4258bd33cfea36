"""What the hidden layer of a latency-coded MNIST TTFS network does (docs/spike-times.md).

Runs a TTFS network (freshly initialised from ``--model`` settings, or the trained model of a run
folder ``--run``) on validation images (the last ``--n`` of the first 15,000 training images, the
probes' validation split) and reports, per layer: the fraction of neurons silent on an image, the
fraction silent on every image of the batch (dead: no spike time, so no gradient ever), the
quartiles of the first spike times, and how many hidden spikes come before the label output's
first spike (only those can move it: a later hidden spike has no effect on the loss, so no
gradient). Appends one row to ``benchmarks/results/spike_times_mnist_diagnose.json``::

    nice -n 10 python benchmarks/spike_times_mnist_diagnose.py --what "image defaults at init"
    nice -n 10 python benchmarks/spike_times_mnist_diagnose.py --run runs/ttfs-mnist-lif_probe-s0 --what "..."
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=json.loads, default={}, help="TTFSConfig settings as JSON (at init)")
    parser.add_argument("--run", default=None, help="a run folder: its trained model instead")
    parser.add_argument("--hidden", type=int, default=350)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--what", default="")
    args = parser.parse_args(argv)

    import jax
    import jax.numpy as jnp
    import numpy as np

    import registry
    from memsnn import simulate
    from memsnn.data import load_dataset
    from memsnn.integrators import Euler
    from memsnn.training import load_trained
    from memsnn.training.ttfs import TTFSConfig, build_ttfs, ttfs_loss, ttfs_predict

    load_before = os.getloadavg()[0]
    if args.run:
        model, header = load_trained(Path(args.run) / "checkpoint.eqx")
        source = f"trained: {args.run}, epoch {header.get('epoch')}"
    else:
        config = TTFSConfig.from_dict({"inputs": "images", "n_inputs": 784, "n_classes": 10,
                                       "hidden": [args.hidden], **args.model})
        model = build_ttfs(config, key=jax.random.key(args.seed))
        source = "initialisation"
    c = model.config
    x, y = load_dataset("mnist", "train", source="full")
    x = jnp.asarray(np.asarray(x[15000 - args.n:15000], dtype=np.float32).reshape(args.n, -1))
    y = jnp.asarray(np.asarray(y[15000 - args.n:15000]))

    @jax.jit
    def run(model, x, y):
        trace = simulate(model.network(), model.stimulus(x), dt=c.dt, n_steps=c.n_steps,
                         solver=Euler(substeps=c.substeps), spike_timing="exact",
                         record=("spike_times", "spikes"))
        loss, pred = ttfs_loss(model, x, y)
        return ([trace.first_spike_times(i, missing=jnp.inf) for i in range(len(c.sizes) - 1)],
                [jnp.sum(trace.spikes[i], axis=1) for i in range(len(c.sizes) - 1)], loss, pred)

    times, counts, loss, pred = run(model, x, y)
    times = [np.asarray(t) for t in times]
    counts = [np.asarray(n) for n in counts]
    label_time = times[-1][np.arange(args.n), np.asarray(y)]
    out_first = np.min(times[-1], axis=1)
    layers = []
    for i, (t, n) in enumerate(zip(times, counts)):
        fired = np.isfinite(t)
        finite = t[fired]
        q = np.percentile(finite, [25, 50, 75]) * 1e3 if finite.size else [float("nan")] * 3
        row = {"layer": i, "neurons": t.shape[1], "silent_per_image": float(1 - fired.mean()),
               "dead_on_batch": float(np.mean(~fired.any(axis=0))),
               "first_spike_ms_quartiles": [float(v) for v in q],
               "spikes_per_neuron": float(n.mean())}
        if i < len(times) - 1:
            before = t < label_time[:, None]
            row["fraction_before_label_output"] = float(before.mean())
            row["fraction_before_first_output"] = float((t < out_first[:, None]).mean())
        layers.append(row)
    result = {"what": args.what or source, "source": source, "model": args.model, "config": c.to_dict(),
              "images": args.n, "loss": float(loss), "accuracy": float(np.mean(np.asarray(pred) == np.asarray(y))),
              "label_output_ms_quartiles": [float(v) for v in
                                            np.percentile(label_time[np.isfinite(label_time)], [25, 50, 75]) * 1e3],
              "layers": layers,
              "conditions": registry.run_conditions(data=f"MNIST train images {15000 - args.n}-{15000} "
                                                         "(the probes' validation split)",
                                                    devices={"memsnn": f"{jax.device_count()} CPU device(s)"},
                                                    selection="validation split", load_before=load_before)}
    print(json.dumps({k: v for k, v in result.items() if k not in ("config", "conditions")}, indent=1))
    out = ROOT / "benchmarks" / "results" / "spike_times_mnist_diagnose.json"
    payload = json.loads(out.read_text()) if out.exists() else {
        "benchmark": "hidden-layer activity of latency-coded MNIST TTFS networks (validation images)", "rows": []}
    payload["rows"].append(result)
    payload["conditions"] = summary_conditions(payload["rows"])
    out.write_text(json.dumps(payload, indent=2))


def summary_conditions(rows: list) -> dict:
    """The file's conditions: the last row's, with the load range and commits of all rows (each row
    keeps its own command and conditions)."""
    loads = [v for r in rows for v in r["conditions"]["load_average"] if isinstance(v, (int, float))]
    return {**rows[-1]["conditions"],
            "command": "python benchmarks/spike_times_mnist_diagnose.py, one call per row (rows[i].conditions.command)",
            "commit": ", ".join(dict.fromkeys(r["conditions"]["commit"] for r in rows)),
            "load_average": [min(loads), max(loads)] if loads else "not recorded"}


if __name__ == "__main__":
    main()
