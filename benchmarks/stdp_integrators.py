"""Explicit Euler against exponential Euler for Diehl & Cook's STDP network (docs/plasticity.md).

Two parts, written to ``benchmarks/results/stdp_integrators.json``:

* ``discretisation``: a checkpoint's network, frozen (learning and adaptation off, its thresholds),
  shown ``--images`` training images (from ``--first``) as the same Poisson trains under
  ``Euler()``, ``ExponentialEuler()`` and both with ``--reference-substeps`` sub-steps per 0.5 ms
  step (where the two schemes agree: the converged model). Reported: spikes per image and, per
  scheme, the mean absolute difference of the per-neuron counts from the reference.
* ``training``: summaries of ``benchmarks/stdp_mnist.py`` logs given as ``--log NAME=PATH``
  (e.g. one run per integrator from the same seed): per log, up to each of ``--at`` images, the
  mean spikes per image, presentations, unstable presentations, the largest chunk mean of spikes
  per image and the running training accuracy of the last 1,000 images (Diehl & Cook's log).

    nice -n 10 python benchmarks/stdp_integrators.py --checkpoint runs/stdp400/checkpoint.eqx \\
        --log euler=runs/n100euler/log.jsonl --log exponential=runs/n100exp/log.jsonl --at 1000 5000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import memsnn
from memsnn.data import load_dataset
from memsnn.training import load_checkpoint, read_checkpoint_header
from memsnn.training.stdp import StdpConfig, _poisson, _spike_cap, build_stdp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import registry  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def discretisation(path: str, first: int, n_images: int, reference_substeps: int, source: str) -> dict:
    config = StdpConfig.from_dict(read_checkpoint_header(path)["config"])
    model, _, header = load_checkpoint(path, build_stdp(config, key=jax.random.key(0)))
    x, _ = load_dataset("mnist", "train", source=source)
    images = jnp.asarray(x[first:first + n_images])
    network = model.network(learning=False)
    neuron = model.neuron.init_state(config.n_neurons)
    neuron = neuron._replace(excitatory=neuron.excitatory._replace(theta=model.theta))
    state = (network.init_state()[0]._replace(neuron=neuron),)
    state = jax.tree.map(lambda a: jnp.broadcast_to(a, (n_images,) + a.shape), state)
    spikes = _poisson(jax.random.key(7), images, jnp.ones((n_images,)), config, _spike_cap(config, 1.0))
    k = reference_substeps
    solvers = {"euler": memsnn.Euler(), "exponential": memsnn.ExponentialEuler(),
               f"euler_x{k}": memsnn.Euler(substeps=k), f"exponential_x{k}": memsnn.ExponentialEuler(substeps=k)}
    counts, out = {}, {}
    for name, solver in solvers.items():
        t0 = time.perf_counter()
        trace = jax.jit(lambda s, st, solver=solver: memsnn.simulate(
            network, memsnn.Impulses(s), dt=config.dt, n_steps=config.n_steps, record="spikes", throw=False,
            initial_state=st, solver=solver))(spikes, state)
        counts[name] = np.asarray(trace.spikes[0]).sum(axis=1)  # (images, neurons)
        out[name] = {"spikes_per_image": float(counts[name].sum(1).mean()),
                     "unstable": int(np.sum(np.asarray(trace.result) > 0)), "seconds": time.perf_counter() - t0}
        print(name, out[name], flush=True)
    reference = 0.5 * (counts[f"euler_x{k}"] + counts[f"exponential_x{k}"])
    for name in solvers:
        out[name]["mean_abs_count_difference_from_reference"] = float(np.abs(counts[name] - reference).sum(1).mean())
    return {"checkpoint": str(path), "images_seen_by_checkpoint": header.get("images_seen"),
            "checkpoint_integrator": config.integrator, "n_neurons": config.n_neurons, "images": n_images,
            "first_image": first, "reference_substeps": k,
            "reference_spikes_per_image": float(reference.sum(1).mean()), "schemes": out}


def training(logs: dict, at: list[int]) -> dict:
    out = {}
    for name, path in logs.items():
        rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
        summary = {}
        for n in at:
            upto = [r for r in rows if r["images"] <= n]
            if not upto or upto[-1]["images"] != n:
                continue
            summary[str(n)] = {"spikes_per_image": float(np.mean([r["spikes_per_image"] for r in upto])),
                               "max_chunk_spikes_per_image": float(max(r["spikes_per_image"] for r in upto)),
                               "presentations": float(np.mean([r["presentations"] for r in upto])),
                               "unstable_presentations": int(sum(r["unstable"] for r in upto)),
                               "running_acc_last_1000": upto[-1]["running_acc_last_1000"]}
        out[name] = {"log": str(path), "first_images": rows[0]["images"] - 50 if rows else None, "at": summary}
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="a stdp_mnist.py checkpoint for the discretisation part")
    ap.add_argument("--first", type=int, default=1000, help="first training image shown (frozen)")
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--reference-substeps", type=int, default=512)
    ap.add_argument("--log", action="append", default=[], metavar="NAME=PATH", help="a stdp_mnist.py log.jsonl")
    ap.add_argument("--at", type=int, nargs="*", default=[1000], help="image counts to summarise the logs at")
    ap.add_argument("--source", default="full", choices=("full", "bundled"))
    ap.add_argument("--out", default=str(RESULTS / "stdp_integrators.json"))
    args = ap.parse_args(argv)
    load_before = os.getloadavg()[0]
    result = {"benchmark": "stdp_integrators"}
    if args.checkpoint:
        result["discretisation"] = discretisation(args.checkpoint, args.first, args.images, args.reference_substeps,
                                                  args.source)
    if args.log:
        result["training"] = training(dict(item.split("=", 1) for item in args.log), args.at)
    result["conditions"] = registry.run_conditions(
        data=f"MNIST ({args.source}) training images", devices={"memsnn": "1 CPU device (XLA may use both cores)"},
        seeds="stdp_mnist.py --seed 0 (the logs); Poisson key 7 (discretisation)", machine="2-core CPU",
        load_before=load_before)
    print(json.dumps(result, indent=1))
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
