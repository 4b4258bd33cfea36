"""Does exact spike timing cost the existing paths anything? The SPICEprop output-layer step and a
surrogate LIF step (loss + gradient), timed under two memsnn trees side by side, with the hash of
their compiled programs (equal hashes: the same XLA program, so no regression by construction).

    python benchmarks/spike_times_overhead.py --trees /work/main /work/wt-h23 [--rounds 3]

Each round runs one process per tree, alternating, so both see the same machine load; the median
CPU time (this process, all threads) and wall time per step are reported with the load average.
Internal mode (one tree, one process): ``--measure``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def measure(repeats: int) -> dict:
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import memsnn
    from memsnn import presets as P
    from memsnn.arrays import Dense
    from memsnn.neurons import LIF

    key = jax.random.PRNGKey(0)
    wkey, xkey, ykey = jax.random.split(key, 3)
    weight = jax.random.uniform(wkey, (10, 10), minval=-0.3, maxval=0.3) * 0.01 * P.MILLIAMP
    net = memsnn.Network([P.spiceprop_layer(weight=weight)])
    amplitude = jax.random.uniform(xkey, (50, 1, 10))
    stim = memsnn.Impulses(jnp.repeat(amplitude, 3, axis=1), steps=(0, 400, 800))
    labels = jax.random.randint(ykey, (50,), 0, 10)

    @eqx.filter_jit
    def spiceprop_step(net):
        def loss(net):
            v = memsnn.simulate(net, stim, dt=P.SPICEPROP_DT, n_steps=1000, solver=memsnn.SpicepropEuler(),
                                checkpoint_every=10, unroll=10).membrane_potential[0]
            logp = jax.nn.log_softmax(v / P.MILLIVOLT, axis=-1)
            return -jnp.mean(jnp.sum(jnp.take_along_axis(logp, labels[:, None, None], axis=-1), axis=1))
        return eqx.filter_value_and_grad(loss)(net)

    from memsnn.spikes import surrogate
    k1, k2 = jax.random.split(wkey)
    lif = LIF(tau=20.0, resistance=20.0, threshold=1.0, spike_fn=surrogate("fast_sigmoid", 25.0))
    lif_net = memsnn.Network([memsnn.Layer(Dense.uniform(784, 100, key=k1), None, lif),
                              memsnn.Layer(Dense.uniform(100, 10, key=k2), None, lif)])
    images = jax.random.uniform(xkey, (128, 784))

    @eqx.filter_jit
    def lif_step(net):
        def loss(net):
            v = memsnn.simulate(net, memsnn.Current(images), dt=1.0, n_steps=25, unroll=5).membrane_potential[-1]
            return jnp.mean(jax.nn.logsumexp(v, axis=-1))
        return eqx.filter_value_and_grad(loss)(net)

    out = {}
    for name, fn, arg in (("spiceprop_step", spiceprop_step, net), ("lif_step", lif_step, lif_net)):
        text = fn.lower(arg).as_text()
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        jax.block_until_ready(fn(arg))
        wall, cpu = [], []
        for _ in range(repeats):
            w, c = time.perf_counter(), time.process_time()
            jax.block_until_ready(fn(arg))
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
        out[name] = {"hlo_sha256_16": digest, "wall_s": wall, "cpu_s": cpu}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trees", nargs="+", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--measure", action="store_true")
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.repeats)))
        return
    trees = args.trees or [str(Path(__file__).resolve().parents[1])]
    runs = {tree: [] for tree in trees}
    loads = []
    for _ in range(args.rounds):
        for tree in trees:
            loads.append(os.getloadavg()[0])
            env = dict(os.environ, PYTHONPATH=tree)
            done = subprocess.run([sys.executable, __file__, "--measure", "--repeats", str(args.repeats)],
                                  env=env, capture_output=True, text=True, check=True)
            runs[tree].append(json.loads(done.stdout.strip().splitlines()[-1]))
    rows = []
    for tree in trees:
        for name in ("spiceprop_step", "lif_step"):
            cpu = [t for r in runs[tree] for t in r[name]["cpu_s"]]
            wall = [t for r in runs[tree] for t in r[name]["wall_s"]]
            rows.append({"tree": tree, "step": name, "hlo": sorted({r[name]["hlo_sha256_16"] for r in runs[tree]}),
                         "median_cpu_s": statistics.median(cpu), "median_wall_s": statistics.median(wall)})
    for row in rows:
        print(row)
    if len(trees) == 2:
        for name in ("spiceprop_step", "lif_step"):
            a, b = (next(r for r in rows if r["tree"] == t and r["step"] == name) for t in trees)
            print(f"{name}: cpu ratio {b['median_cpu_s'] / a['median_cpu_s']:.3f}, wall ratio "
                  f"{b['median_wall_s'] / a['median_wall_s']:.3f}, same program: {a['hlo'] == b['hlo']}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _timing
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent).stdout.strip()
    path = _timing.write_json("spike_times_overhead.json", {
        "benchmark": "existing-path overhead of exact spike timing (SPICEprop output layer B=50 T=1000 "
                     "SpicepropEuler ckpt 10; surrogate LIF 784-100-10 B=128 T=25), loss+grad",
        "command": "python benchmarks/spike_times_overhead.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": commit, "rows": rows, "load_average_at_starts": loads, "machine": _timing.machine(),
        "note": "measured on a shared, loaded 2-core machine; CPU time is the steadier figure"})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
