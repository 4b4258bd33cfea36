"""Exact crossbar IR drop: accuracy against ngspice, and speed against badcrossbar.

1. Accuracy (issue 11, figure 1): output currents of ``memsnn.crossbar.solve_ir_drop`` against
   ngspice on the exported netlist of the same crossbar (``memsnn.crossbar.spice``), 64 x 64 and
   128 x 128 random conductances (uniform 1..100 uS), random inputs (0..0.2 V), wire resistance
   1 and 10 Ohm on rows and columns. Goal: relative error <= 1e-6 (float64).
2. Speed (figure 2): 784 x 100 and 256 x 256 crossbars, batch of 200 input vectors, 1 Ohm wires:
   memsnn's forward, and forward + backward (gradient of a scalar of the currents with respect to
   the conductances and the inputs), against badcrossbar's forward (``badcrossbar.compute``, scipy
   sparse LU) on the same problem, in one run; their currents must agree. Goal: >= 10x. Each
   measurement runs in its own process and reports that process's peak resident memory above
   its baseline after setup (imports and data).

    python benchmarks/crossbar_irdrop.py [--repeats 3] [--skip-spice] [--skip-speed]

BLAS threads: ``OPENBLAS_NUM_THREADS=1`` is set for the child processes unless it is already set.
On a shared, oversubscribed machine a threaded OpenBLAS makes LAPACK's small triangular solves
(the block factorisation) 100x slower; on an idle machine leave it unset for threads.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, os, resource, statistics, sys, time, warnings
import numpy as np
spec = json.loads(sys.argv[1])
n_in, n_out, batch, r, tool, repeats = spec["n_in"], spec["n_out"], spec["batch"], spec["r"], spec["tool"], spec["repeats"]
rng = np.random.default_rng(0)
g = rng.uniform(1e-6, 1e-4, (n_in, n_out))
v = rng.uniform(0.0, 0.2, (batch, n_in))
out = {}
if tool == "badcrossbar":
    import logging
    warnings.simplefilter("ignore")
    logging.disable(logging.INFO)
    import badcrossbar
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        sol = badcrossbar.compute(v.T, 1.0 / g, r_i_word_line=r, r_i_bit_line=r, node_voltages=False, all_currents=False)
        times.append(time.perf_counter() - t)
    currents = np.asarray(sol.currents.output)
    out["forward_s"] = statistics.median(times)
else:
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from memsnn.crossbar import Wires, solve_ir_drop
    wires = Wires(r, r)
    gj, vj = jnp.asarray(g), jnp.asarray(v)
    weights = jnp.asarray(rng.normal(size=(batch, n_out)))
    fwd = jax.jit(lambda g, v: solve_ir_drop(g, v, wires))
    both = jax.jit(jax.value_and_grad(lambda g, v: jnp.sum(weights * solve_ir_drop(g, v, wires)), argnums=(0, 1)))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for name, fn in (("forward", fwd), ("forward_backward", both)):
        t = time.perf_counter()
        compiled = fn.lower(gj, vj).compile()
        out[name + "_compile_s"] = time.perf_counter() - t
        times = []
        for _ in range(repeats + 1):  # the first run warms up
            t = time.perf_counter()
            res = jax.block_until_ready(compiled(gj, vj))
            times.append(time.perf_counter() - t)
        out[name + "_s"] = statistics.median(times[1:])
        if name == "forward":
            currents = np.asarray(res)
        mem = compiled.memory_analysis()
        if mem is not None:
            out[name + "_xla_temp_mb"] = mem.temp_size_in_bytes / 2**20
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out["peak_rss_above_setup_mb"] = (peak - base) / 1024
np.save(spec["currents_path"], currents)
print("RESULT " + json.dumps(out))
"""


def _child(spec: dict) -> dict:
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"benchmark child failed ({spec['tool']}):\n{proc.stderr[-3000:]}")


def accuracy(sizes=(64, 128), resistances=(1.0, 10.0)) -> list[dict]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import numpy as np

    from memsnn.crossbar import Wires, ir_drop_severity, solve_ir_drop
    from memsnn.crossbar.spice import simulate_crossbar_ngspice

    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        g = rng.uniform(1e-6, 1e-4, (n, n))
        v = rng.uniform(0.0, 0.2, n)
        for r in resistances:
            wires = Wires(r, r)
            t = time.perf_counter()
            ref = simulate_crossbar_ngspice(g, v, wires)
            t_spice = time.perf_counter() - t
            ours = np.asarray(solve_ir_drop(g, v, wires))
            ideal = v @ g
            rows.append({
                "size": f"{n}x{n}", "r_wire_ohm": r, "relative_error": float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref))),
                "ir_drop_vs_ideal": float(np.max(np.abs(ref - ideal)) / np.max(np.abs(ideal))),
                "severity": float(ir_drop_severity(g, wires)), "ngspice_s": t_spice,
            })
            print(f"  {n}x{n}  r={r:g} Ohm: rel. error {rows[-1]['relative_error']:.2e} "
                  f"(IR drop changes the currents by {rows[-1]['ir_drop_vs_ideal']:.1%}; ngspice {t_spice:.1f} s)",
                  flush=True)
    return rows


def speed(repeats: int, sizes=((784, 100), (256, 256)), batch: int = 200, r: float = 1.0) -> list[dict]:
    import tempfile

    import numpy as np

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n_in, n_out in sizes:
            spec = {"n_in": n_in, "n_out": n_out, "batch": batch, "r": r, "repeats": repeats}
            ours = _child({**spec, "tool": "memsnn", "currents_path": f"{tmp}/memsnn.npy"})
            theirs = _child({**spec, "tool": "badcrossbar", "currents_path": f"{tmp}/badcrossbar.npy"})
            a, b = np.load(f"{tmp}/memsnn.npy"), np.load(f"{tmp}/badcrossbar.npy")
            row = {"size": f"{n_in}x{n_out}", "batch": batch, "r_wire_ohm": r, "memsnn": ours, "badcrossbar": theirs,
                   "currents_relative_difference": float(np.max(np.abs(a - b)) / np.max(np.abs(b))),
                   "speedup_forward": theirs["forward_s"] / ours["forward_s"],
                   "speedup_forward_backward_vs_forward": theirs["forward_s"] / ours["forward_backward_s"]}
            rows.append(row)
            print(f"  {n_in}x{n_out} batch {batch}: memsnn fwd {ours['forward_s']:.3f} s, fwd+bwd "
                  f"{ours['forward_backward_s']:.3f} s; badcrossbar fwd {theirs['forward_s']:.3f} s; "
                  f"speed-up {row['speedup_forward']:.1f}x (fwd), {row['speedup_forward_backward_vs_forward']:.1f}x "
                  f"(our fwd+bwd vs their fwd); currents agree to {row['currents_relative_difference']:.1e}", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-spice", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--spice-sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--tag", default="", help="suffix of the results file")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    import _timing

    payload = {"machine": _timing.machine(), "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", "1 (set)")}
    if not args.skip_spice:
        from memsnn.export._ngspice import ngspice_version

        print(f"Accuracy against {ngspice_version()} (float64):", flush=True)
        payload["ngspice_version"] = ngspice_version()
        payload["accuracy"] = accuracy(tuple(args.spice_sizes))
    if not args.skip_speed:
        print("Speed, batch of 200 inputs, 1 Ohm wires (median of repeats, steady state):", flush=True)
        payload["speed"] = speed(args.repeats)

    print()
    if "accuracy" in payload:
        print("| crossbar | wire (Ohm) | rel. error vs ngspice | IR drop vs ideal | severity | ngspice (s) |")
        print("|---|---|---|---|---|---|")
        for row in payload["accuracy"]:
            print(f"| {row['size']} | {row['r_wire_ohm']:g} | {row['relative_error']:.1e} | {row['ir_drop_vs_ideal']:.1%} "
                  f"| {row['severity']:.2f} | {row['ngspice_s']:.1f} |")
    if "speed" in payload:
        print("\n| crossbar (batch 200) | memsnn fwd (s) | memsnn fwd+bwd (s) | badcrossbar fwd (s) | speed-up fwd | "
              "memsnn peak MB (fwd+bwd) | badcrossbar peak MB | currents agree |")
        print("|---|---|---|---|---|---|---|---|")
        for row in payload["speed"]:
            m, b = row["memsnn"], row["badcrossbar"]
            print(f"| {row['size']} | {m['forward_s']:.3f} | {m['forward_backward_s']:.3f} | {b['forward_s']:.3f} | "
                  f"{row['speedup_forward']:.1f}x | {m['peak_rss_above_setup_mb']:.0f} | {b['peak_rss_above_setup_mb']:.0f} | "
                  f"{row['currents_relative_difference']:.0e} |")
    path = _timing.write_json(f"crossbar_irdrop{args.tag}.json", payload)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
