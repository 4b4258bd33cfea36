"""Forward + backward time of the SPICEprop output layer under each integrator.

10 MIF neurons behind alpha synapses, batch 200, 1000 steps of 10 us, input impulses at steps
0/400/800, loss = the SPICEprop NLL of log-softmax over membrane potentials summed over time;
gradient with respect to the 10x10 input weights. Compile time is reported apart from the median
steady-state time. Target (issue 2): diffrax fixed-step within 1.5x of the Euler scan.

    python benchmarks/core_speed.py [--batch 200] [--steps 1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

import memsnn  # noqa: E402
from memsnn import presets as P  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--checkpoint-every", type=int, default=None)
    parser.add_argument("--tag", default="", help="suffix of the results file, e.g. _gpu")
    args = parser.parse_args(argv)

    key = jax.random.PRNGKey(0)
    wkey, xkey, ykey = jax.random.split(key, 3)
    weight = jax.random.uniform(wkey, (10, 10), minval=-0.3, maxval=0.3) * 0.01 * P.MILLIAMP
    net = memsnn.Network([P.spiceprop_layer(weight=weight)])
    amplitude = jax.random.uniform(xkey, (args.batch, 1, 10))
    stim = memsnn.Impulses(jnp.repeat(amplitude, 3, axis=1), steps=(0, 400, 800))
    labels = jax.random.randint(ykey, (args.batch,), 0, 10)

    solvers = {
        "memsnn Euler scan": memsnn.Euler(),
        "memsnn SPICEprop ordering": memsnn.SpicepropEuler(),
        "diffrax Euler, fixed step": memsnn.Diffrax(diffrax.Euler()),
        "diffrax Heun, fixed step": memsnn.Diffrax(diffrax.Heun()),
        "diffrax Tsit5, fixed step": memsnn.Diffrax(diffrax.Tsit5()),
        "diffrax Tsit5, adaptive rtol 1e-4": memsnn.Diffrax(diffrax.Tsit5(), diffrax.PIDController(rtol=1e-4, atol=1e-7)),
    }

    def make(solver):
        @eqx.filter_jit
        def loss_and_grad(net):
            def loss(net):
                v = memsnn.simulate(net, stim, dt=P.SPICEPROP_DT, n_steps=args.steps, solver=solver,
                                    checkpoint_every=args.checkpoint_every).membrane_potential[0]
                logp = jax.nn.log_softmax(v / P.MILLIVOLT, axis=-1)
                return -jnp.mean(jnp.sum(jnp.take_along_axis(logp, labels[:, None, None], axis=-1), axis=1))
            return eqx.filter_value_and_grad(loss)(net)
        return loss_and_grad

    rows = []
    for name, solver in solvers.items():
        print(f"timing {name} ...", flush=True)
        result = _timing.time_call(make(solver), net, repeats=args.repeats)
        rows.append({"integrator": name, **result})
    base = rows[0]["median_s"]
    for row in rows:
        row["ratio_to_euler_scan"] = row["median_s"] / base
    table = _timing.markdown_table(rows, ["integrator", "median_s", "compile_s", "ratio_to_euler_scan"])
    print(table)
    path = _timing.write_json(f"core_speed{args.tag}.json", {
        "benchmark": "SPICEprop output layer forward+backward", "batch": args.batch, "steps": args.steps,
        "dtype": str(jnp.zeros(()).dtype), "machine": _timing.machine(), "rows": rows, "table": table})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
