"""Exact crossbar IR drop: accuracy against ngspice, and speed against badcrossbar.

1. Accuracy (issue 11, figure 1): output currents of ``memsnn.crossbar.solve_ir_drop`` against
   ngspice on the exported netlist of the same crossbar (``memsnn.crossbar.spice``), 64 x 64 and
   128 x 128 random conductances (uniform 1..100 uS), random inputs (0..0.2 V), wire resistance
   1 and 10 Ohm on rows and columns. Goal: relative error <= 1e-6 (float64).
2. Speed (figure 2): 784 x 100 and 256 x 256 crossbars, batch of 200 input vectors, 1 Ohm wires,
   float64: memsnn's forward (the currents), and forward + backward (value and gradient of a
   scalar of the currents with respect to the conductances and the inputs), against
   badcrossbar's forward (``badcrossbar.compute``, scipy sparse LU) on the same problem, in one
   run; their currents must agree. Goal: forward >= 10x faster. Also memsnn's float32 forward
   (its currents against float64). Each measurement runs in its own process (memsnn forward,
   badcrossbar, memsnn forward + backward, memsnn float32, in that order, so that memsnn's
   measurements bracket badcrossbar's in time) and reports the median of ``--repeats`` steady
   calls, the 1-minute load average before and after, the process's peak resident memory during
   the calls above its resident memory before them (after imports, data and compilation: the
   peak is reset through /proc/self/clear_refs), and for memsnn XLA's memory analysis of the
   compiled program (temporaries, arguments, outputs), and the time the process's threads spent
   runnable but waiting for a CPU (``/proc/self/task/*/schedstat``: on a loaded machine, where the
   wall time beyond the CPU time goes).

    python benchmarks/crossbar_irdrop.py [--repeats 3] [--skip-spice] [--skip-speed]

BLAS threads: ``OPENBLAS_NUM_THREADS=1`` is set for the child processes unless it is already set
(badcrossbar's scipy; memsnn's solve calls no BLAS/LAPACK library, XLA's own matrix products).
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
import json, os, statistics, sys, time, warnings
import numpy as np
spec = json.loads(sys.argv[1])
n_in, n_out, batch, r, tool, repeats = spec["n_in"], spec["n_out"], spec["batch"], spec["r"], spec["tool"], spec["repeats"]
rng = np.random.default_rng(0)
g = rng.uniform(1e-6, 1e-4, (n_in, n_out))
v = rng.uniform(0.0, 0.2, (batch, n_in))
out = {"load_before": os.getloadavg()[0]}


def rss_mb(field):  # VmRSS (now) or VmHWM (peak since the last reset) of this process, MiB
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":")) / 1024


def run_queue_wait_s():  # time this process's threads spent runnable but waiting for a CPU (Linux schedstat)
    total = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[1])
        except OSError:  # a thread that ended meanwhile
            pass
    return total / 1e9


def reset_peak():  # Linux: writing 5 to clear_refs resets VmHWM, so compilation's peak is not counted
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return rss_mb("VmRSS")
if tool == "badcrossbar":
    import logging
    warnings.simplefilter("ignore")
    logging.disable(logging.INFO)
    import badcrossbar
    base = reset_peak()
    times, cpu, wait = [], [], []
    for _ in range(repeats):
        t, c, q = time.perf_counter(), time.process_time(), run_queue_wait_s()
        sol = badcrossbar.compute(v.T, 1.0 / g, r_i_word_line=r, r_i_bit_line=r, node_voltages=False, all_currents=False)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        wait.append(run_queue_wait_s() - q)
    currents = np.asarray(sol.currents.output)
else:
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from memsnn.crossbar import Wires, solve_ir_drop
    dtype = jnp.dtype(spec["dtype"])
    wires = Wires(r, r)
    gj, vj = jnp.asarray(g, dtype), jnp.asarray(v, dtype)
    weights = jnp.asarray(rng.normal(size=(batch, n_out)), dtype)
    if spec["mode"] == "forward":
        fn = jax.jit(lambda g, v: solve_ir_drop(g, v, wires))
    else:
        fn = jax.jit(jax.value_and_grad(lambda g, v: jnp.sum(weights * solve_ir_drop(g, v, wires)), argnums=(0, 1)))
    t = time.perf_counter()
    compiled = fn.lower(gj, vj).compile()
    out["compile_s"] = time.perf_counter() - t
    base = reset_peak()
    customs = sorted({line.split('custom_call_target="')[1].split('"')[0] for line in compiled.as_text().splitlines()
                      if 'custom_call_target="' in line})
    out["custom_calls"] = customs  # no LAPACK: only the KCL check's error callback
    times, cpu, wait = [], [], []
    for _ in range(repeats + 1):  # the first run warms up
        t, c, q = time.perf_counter(), time.process_time(), run_queue_wait_s()
        res = jax.block_until_ready(compiled(gj, vj))
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        wait.append(run_queue_wait_s() - q)
    times, cpu, wait = times[1:], cpu[1:], wait[1:]
    currents = np.asarray(res, dtype=float) if spec["mode"] == "forward" else None
    mem = compiled.memory_analysis()
    if mem is not None:
        out["xla_temp_mb"] = mem.temp_size_in_bytes / 2**20
        out["xla_argument_mb"] = mem.argument_size_in_bytes / 2**20
        out["xla_output_mb"] = mem.output_size_in_bytes / 2**20
out["times_s"] = times
out["median_s"] = statistics.median(times)
out["cpu_s"] = cpu  # process CPU time (all threads) of each call
out["median_cpu_s"] = statistics.median(cpu)
out["run_queue_wait_s"] = wait  # summed over the process's threads: the wall time not spent computing
out["peak_rss_above_setup_mb"] = rss_mb("VmHWM") - base
out["load_after"] = os.getloadavg()[0]
if currents is not None:
    np.save(spec["currents_path"], currents)
print("RESULT " + json.dumps(out))
"""


BADCROSSBAR_PYTHON = sys.executable  # --badcrossbar-python: an interpreter with badcrossbar installed
BADCROSSBAR_MEMORY_GB = None  # --badcrossbar-memory-gb: address-space limit of its process


def _limit_memory():
    import resource

    limit = int(BADCROSSBAR_MEMORY_GB * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _child(spec: dict, timeout: float | None = None) -> dict:
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH", "")]))
    python = BADCROSSBAR_PYTHON if spec["tool"] == "badcrossbar" else sys.executable
    try:
        limited = spec["tool"] == "badcrossbar" and BADCROSSBAR_MEMORY_GB is not None
        proc = subprocess.run([python, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True, env=env,
                              timeout=timeout, preexec_fn=_limit_memory if limited else None)
    except subprocess.TimeoutExpired:
        return {"timed_out_after_s": timeout, "median_s": None}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    if spec["tool"] == "badcrossbar" and "MemoryError" in proc.stderr:
        return {"out_of_memory_limit_gb": BADCROSSBAR_MEMORY_GB, "median_s": None, "error": proc.stderr[-500:]}
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


def speed(repeats: int, sizes=((784, 100), (256, 256)), batch: int = 200, r: float = 1.0,
          forward_only: bool = False, badcrossbar_timeout: float | None = None) -> list[dict]:
    import tempfile

    import numpy as np

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n_in, n_out in sizes:
            spec = {"n_in": n_in, "n_out": n_out, "batch": batch, "r": r, "repeats": repeats}

            def memsnn(mode, dtype):
                return _child({**spec, "tool": "memsnn", "mode": mode, "dtype": dtype,
                               "currents_path": f"{tmp}/memsnn_{dtype}.npy"})

            forward = memsnn("forward", "float64")
            theirs = _child({**spec, "tool": "badcrossbar", "currents_path": f"{tmp}/badcrossbar.npy"},
                            timeout=badcrossbar_timeout)
            row = {"size": f"{n_in}x{n_out}", "batch": batch, "r_wire_ohm": r,
                   "memsnn_forward": forward, "badcrossbar_forward": theirs}
            a = np.load(f"{tmp}/memsnn_float64.npy")
            if theirs["median_s"] is not None:
                b = np.load(f"{tmp}/badcrossbar.npy")
                row["currents_relative_difference"] = float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
                row["speedup_forward"] = theirs["median_s"] / forward["median_s"]
                row["speedup_forward_cpu_time"] = theirs["median_cpu_s"] / forward["median_cpu_s"]
            if not forward_only:
                both = memsnn("forward_backward", "float64")
                single = memsnn("forward", "float32")
                a32 = np.load(f"{tmp}/memsnn_float32.npy")
                row.update({"memsnn_forward_backward": both, "memsnn_forward_float32": single,
                            "float32_currents_relative_difference": float(np.max(np.abs(a32 - a)) / np.max(np.abs(a))),
                            "forward_backward_over_forward": both["median_s"] / forward["median_s"],
                            "forward_backward_over_forward_cpu_time": both["median_cpu_s"] / forward["median_cpu_s"]})
                if theirs["median_s"] is not None:
                    row["speedup_forward_backward_vs_their_forward"] = theirs["median_s"] / both["median_s"]
            rows.append(row)
            print(f"  {n_in}x{n_out} batch {batch}: " + json.dumps({k: v for k, v in row.items() if not isinstance(v, dict)})
                  + f"; memsnn fwd {forward['median_s']:.3f} s, badcrossbar {theirs['median_s']}", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-spice", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--spice-sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--speed-sizes", nargs="+", default=["784x100", "256x256"], help="n_in x n_out of the speed runs")
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--tag", default="", help="suffix of the results file")
    parser.add_argument("--badcrossbar-python", default=sys.executable,
                        help="interpreter that has badcrossbar installed (default: this one)")
    parser.add_argument("--badcrossbar-timeout", type=float, default=None, help="seconds; badcrossbar's run is abandoned after")
    parser.add_argument("--forward-only", action="store_true", help="memsnn's float64 forward and badcrossbar only")
    parser.add_argument("--badcrossbar-memory-gb", type=float, default=None,
                        help="address-space limit of badcrossbar's process (a shared machine: no swap)")
    args = parser.parse_args(argv)
    global BADCROSSBAR_PYTHON, BADCROSSBAR_MEMORY_GB
    BADCROSSBAR_PYTHON, BADCROSSBAR_MEMORY_GB = args.badcrossbar_python, args.badcrossbar_memory_gb
    sys.path.insert(0, str(HERE))
    import _timing

    payload = {"machine": _timing.machine(), "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", "1 (set)")}
    previous = _timing.RESULTS / f"crossbar_irdrop{args.tag}.json"
    if args.skip_spice and previous.exists():
        # The ngspice part is slow and unchanged by a speed run: keep the file's accuracy rows.
        old = json.loads(previous.read_text())
        payload.update({k: old[k] for k in ("ngspice_version", "accuracy") if k in old})
        if "accuracy" in old:
            # the run that measured them (carried over if the previous file had kept them too)
            payload["accuracy_from_previous_run"] = old.get("accuracy_from_previous_run") or (
                (old.get("conditions") or {}).get("commit", "an earlier run of this file"))
    if not args.skip_spice:
        from memsnn.export import ngspice_version

        print(f"Accuracy against {ngspice_version()} (float64):", flush=True)
        payload["ngspice_version"] = ngspice_version()
        payload["accuracy"] = accuracy(tuple(args.spice_sizes))
    if not args.skip_speed:
        print(f"Speed, batch of {args.batch} inputs, 1 Ohm wires (median of repeats, steady state):", flush=True)
        sizes = tuple(tuple(int(n) for n in size.split("x")) for size in args.speed_sizes)
        payload["speed"] = speed(args.repeats, sizes, args.batch, forward_only=args.forward_only,
                                 badcrossbar_timeout=args.badcrossbar_timeout)
        from importlib.metadata import version

        bc_version = subprocess.run([args.badcrossbar_python, "-c", "from importlib.metadata import version; "
                                     "print(version('badcrossbar'), version('scipy'))"], capture_output=True, text=True).stdout.split()
        loads = [m[k] for row in payload["speed"] for m in row.values() if isinstance(m, dict)
                 for k in ("load_before", "load_after") if k in m]
        payload["conditions"] = {
            "command": "python benchmarks/crossbar_irdrop.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "commit": _timing.commit(),
            "machine": f"{os.cpu_count()}-core CPU shared with other agents' jobs (not idle: see the load averages)",
            "devices": {"memsnn": "1 CPU device (XLA's default intra-op threads), one process per measurement",
                        "badcrossbar": f"1 process, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '1')}"},
            "load_average": loads,
            "versions": {"jax": version("jax"), "badcrossbar": bc_version[0] if bc_version else None,
                         "scipy (badcrossbar's)": bc_version[1] if len(bc_version) > 1 else None},
            "data": f"random conductances 1..100 uS, inputs 0..0.2 V, batch {args.batch}, float64, 1 Ohm wires",
            "note": "compare the ratios (timed side by side, memsnn's runs bracketing badcrossbar's); absolute "
                    "times depend on the load",
        }
        if "ngspice_version" in payload:
            payload["conditions"]["versions"]["ngspice"] = payload["ngspice_version"]
        if "accuracy_from_previous_run" in payload:
            payload["conditions"]["code"] = ("speed rows: the commit above; ngspice accuracy rows: kept from the "
                                             f"file's previous run ({payload['accuracy_from_previous_run']})")

    print()
    if "accuracy" in payload:
        print("| crossbar | wire (Ohm) | rel. error vs ngspice | IR drop vs ideal | severity | ngspice (s) |")
        print("|---|---|---|---|---|---|")
        for row in payload["accuracy"]:
            print(f"| {row['size']} | {row['r_wire_ohm']:g} | {row['relative_error']:.1e} | {row['ir_drop_vs_ideal']:.1%} "
                  f"| {row['severity']:.2f} | {row['ngspice_s']:.1f} |")
    if "speed" in payload:
        print(f"\n| crossbar (batch {args.batch}, float64) | badcrossbar fwd (s) | memsnn fwd (s) | speed-up fwd | memsnn fwd+bwd (s) "
              "| fwd+bwd / fwd | memsnn float32 fwd (s) | XLA temp fwd / fwd+bwd (MiB) | peak RSS fwd / fwd+bwd / "
              "badcrossbar (MiB) | currents agree | load avg |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for row in payload["speed"]:
            if "memsnn_forward_backward" not in row or row["badcrossbar_forward"]["median_s"] is None:
                continue
            f, fb, f32, b = (row[k] for k in ("memsnn_forward", "memsnn_forward_backward", "memsnn_forward_float32",
                                               "badcrossbar_forward"))
            loads = [x[k] for x in (f, b, fb, f32) for k in ("load_before", "load_after")]
            print(f"| {row['size']} | {b['median_s']:.2f} | {f['median_s']:.3f} | {row['speedup_forward']:.0f}x | "
                  f"{fb['median_s']:.3f} | {row['forward_backward_over_forward']:.1f} | {f32['median_s']:.3f} | "
                  f"{f.get('xla_temp_mb', float('nan')):.0f} / {fb.get('xla_temp_mb', float('nan')):.0f} | "
                  f"{f['peak_rss_above_setup_mb']:.0f} / {fb['peak_rss_above_setup_mb']:.0f} / "
                  f"{b['peak_rss_above_setup_mb']:.0f} | {row['currents_relative_difference']:.0e} | "
                  f"{min(loads):.1f}..{max(loads):.1f} |")
    path = _timing.write_json(f"crossbar_irdrop{args.tag}.json", payload)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
