"""The exact IR-drop solve with the two forms of its factorisation, side by side in one process.

``Y_i = C_i + g_col K'^-1 Y_{i-1}`` (the series form, float32's) against the product-free
``Y_i = C_i + g_col I - g_col^2 K'^-1`` (float64's default; memsnn/crossbar/irdrop.py): the
forward (currents of a batch of 200 inputs) and forward + backward (gradient of the summed squared
currents w.r.t. the conductances and inputs), float64, 1 Ohm wires, interleaved repeats; medians of
wall and CPU time, the currents' largest relative difference, the load average.

    python benchmarks/irdrop_factor_forms.py [--sizes 256x256,784x100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from memsnn.crossbar import irdrop  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402


def currents(g, v, series_form: bool):
    """The streamed currents-only solve of :func:`memsnn.crossbar.solve_ir_drop` (its path for fewer inputs
    than outputs: the down sweep inside the factorisation's scan, the custom adjoint) with one form."""
    one, zero = jnp.asarray(1.0), jnp.asarray(0.0)
    b_last, _ = irdrop._bottom_streamed(g, one, one, zero, zero, v.T, series_form)
    return b_last.T


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256x256,784x100")
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    for size in args.sizes.split(","):
        n_in, n_out = map(int, size.split("x"))
        rng = np.random.default_rng(0)
        g = jnp.asarray(rng.uniform(1e-6, 1e-4, (n_in, n_out)))
        v = jnp.asarray(rng.uniform(0.0, 0.2, (args.batch, n_in)))
        fns = {}
        for name, series in (("series", True), ("product_free", False)):
            fns[f"{name}_forward"] = jax.jit(lambda g, v, s=series: currents(g, v, s)).lower(g, v).compile()
            fns[f"{name}_forward_backward"] = jax.jit(jax.grad(
                lambda g, v, s=series: jnp.sum(currents(g, v, s) ** 2), argnums=(0, 1))).lower(g, v).compile()
        a, b = np.asarray(fns["series_forward"](g, v)), np.asarray(fns["product_free_forward"](g, v))
        wall = {k: [] for k in fns}
        cpu = {k: [] for k in fns}
        load = [os.getloadavg()[0]]
        for _ in range(args.repeats):
            for k, f in fns.items():
                _timing.wall_and_cpu(lambda f=f: jax.block_until_ready(f(g, v)), 1, wall[k], cpu[k])
        load.append(os.getloadavg()[0])
        row = {"size": size, "batch": args.batch, "r_wire_ohm": 1.0, "dtype": "float64",
               "currents_relative_difference": float(np.max(np.abs(a - b)) / np.max(np.abs(a))),
               "wall_s_median": {k: statistics.median(t) for k, t in wall.items()},
               "cpu_s_median": {k: statistics.median(t) for k, t in cpu.items()},
               "load_average_1min_before_after": load}
        row["cpu_speedup_forward"] = row["cpu_s_median"]["series_forward"] / row["cpu_s_median"]["product_free_forward"]
        row["cpu_fwd_bwd_over_fwd_product_free"] = (row["cpu_s_median"]["product_free_forward_backward"]
                                                   / row["cpu_s_median"]["product_free_forward"])
        print(row, flush=True)
        rows.append(row)
    out = _timing.write_json("irdrop_factor_forms.json", {
        "what": __doc__.split("\n\n")[0], "command": "python benchmarks/irdrop_factor_forms.py " + " ".join(argv or sys.argv[1:]),
        "machine": _timing.machine(), "xla_threads": "XLA CPU default (one device)",
        "note": "machine shared with other jobs (load average recorded, not idle): compare the CPU times side by side",
        "rows": rows})
    print("wrote", out)


if __name__ == "__main__":
    main()
