"""Diehl & Cook learning with and without input delays, timed side by side (issue 25 item 2).

Two 100-neuron networks from the same seed, one with ``StdpConfig(input_delay=0.01)`` (their
input delays, :class:`memsnn.arrays.DelayedPlastic`) and one without, learn the same chunks of
training images alternately (one jitted call of ``--chunk`` images each, the first call of each
compiling); then both classify ``--eval-images`` images with learning off. The times are the
process's CPU time (``time.process_time``; one device, one XLA thread, as ``memsnn train --method
stdp``), which the shared machine's load changes less than the wall time. Writes
``benchmarks/results/stdp_delay_speed.json`` with the load averages beside the times.

    nice -n 10 python benchmarks/stdp_delay_speed.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from memsnn.data import load_dataset
from memsnn.training import use_cpu_cores
from memsnn.training.stdp import STDP, StdpConfig, build_stdp, image_keys, learn_images, responses

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import write_json  # noqa: E402
from registry import run_conditions  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=5, help="timed chunks per network after the compiling one")
    ap.add_argument("--chunk", type=int, default=50)
    ap.add_argument("--eval-images", type=int, default=100)
    ap.add_argument("--input-delay", type=float, default=0.01)
    args = ap.parse_args(argv)
    use_cpu_cores(1, threads=STDP.cpu_cores)  # as memsnn train --method stdp (before the first JAX computation)
    x, _ = load_dataset("mnist", "train", source="full")
    configs = {"no_delay": StdpConfig(n_neurons=100), "delay": StdpConfig(n_neurons=100, input_delay=args.input_delay)}
    models = {name: build_stdp(config, key=jax.random.key(0)) for name, config in configs.items()}
    step, run = eqx.filter_jit(learn_images), eqx.filter_jit(responses)
    learn = {name: [] for name in models}
    loads = [os.getloadavg()]
    for c in range(args.chunks + 1):
        images = jnp.asarray(x[c * args.chunk:(c + 1) * args.chunk])
        for name in models:
            start = time.process_time()
            models[name], counts, _, _ = step(models[name], images, jax.random.key(c))
            counts.block_until_ready()
            if c:  # the first call compiles
                learn[name].append(1e3 * (time.process_time() - start) / args.chunk)
        loads.append(os.getloadavg())
    evaluate = {}
    images, keys = jnp.asarray(x[:args.eval_images]), image_keys(jax.random.key(3), np.arange(args.eval_images))
    for name, model in models.items():
        run(model, images, keys).block_until_ready()
        start = time.process_time()
        run(model, images, keys).block_until_ready()
        evaluate[name] = 1e3 * (time.process_time() - start) / args.eval_images
    loads.append(os.getloadavg())
    median = {name: statistics.median(times) for name, times in learn.items()}
    result = {
        "benchmark": "stdp_delay_speed", "n_neurons": 100, "input_delay_s": args.input_delay,
        "clock": "process CPU time (time.process_time)", "learn_ms_per_image_median": median,
        "learn_ms_per_image_chunks": learn,
        "learn_ratio_delay_over_no_delay": median["delay"] / median["no_delay"],
        "evaluate_ms_per_image": evaluate, "evaluate_ratio": evaluate["delay"] / evaluate["no_delay"],
        "conditions": run_conditions(
            devices={"memsnn": f"{jax.device_count()} CPU device(s), XLA's default threads; the two networks "
                               "alternate chunk by chunk in one process"},
            data="bundled MNIST subset (Poisson rate codes)", seeds=[0], selection="none (a timing)",
            load_before=loads[0][0], load_averages=[list(map(float, l)) for l in loads]),
    }
    write_json("stdp_delay_speed.json", result, replace=True)
    print(median, evaluate, result["learn_ratio_delay_over_no_delay"])
    return result


if __name__ == "__main__":
    main()
