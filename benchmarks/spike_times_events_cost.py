"""What stopping adaptive solves at each threshold crossing costs (``Diffrax(..., events=True)``)
against the located crossing of the same adaptive solver (docs/spike-times.md).

A two-layer LIF network (4 -> 8 -> 3, exponential synapses, reset to 0) driven by random input
spikes, batch 16, 60 grid steps of 1 ms, float64, adaptive Tsit5 (rtol 1e-8, atol 1e-10) with
exact spike timing: the located crossing (Hermite between grid points, resets and sent impulses
corrected to first order in the lag) against events (the solve stops at each crossing, resets and
sends there); and the located crossing with the adjoint events use (``RecursiveCheckpointAdjoint()``
instead of one checkpoint per ``max_steps``, the default of adaptive solves). Timed: one run
(forward) and one gradient of the summed first output spike times with respect to all parameters,
each after its compilation, medians over repeats that alternate between them. Accuracy: first
spike times against a reference on a 100x finer grid (fixed-step Tsit5, 10 us, located crossing,
whose first-order placement errors are O(h^2) per event), and the spike counts::

    python benchmarks/spike_times_events_cost.py    # writes benchmarks/results/spike_times_events_cost.json
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import diffrax  # noqa: E402
import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import memsnn  # noqa: E402
from memsnn.arrays import Dense  # noqa: E402
from memsnn.synapses import ExponentialSynapse  # noqa: E402

BATCH, STEPS, DT = 16, 60, 1e-3


def setup():
    syn = ExponentialSynapse(5e-3)
    lif = memsnn.LIF(tau=20e-3, threshold=1.0, reset="zero")
    w1 = jax.random.uniform(jax.random.key(0), (8, 4)) * 6
    w2 = jax.random.uniform(jax.random.key(1), (3, 8)) * 6
    amp = (jax.random.uniform(jax.random.key(2), (BATCH, STEPS, 4)) < 0.05).astype(float)
    net = memsnn.Network([memsnn.Layer(Dense(w1), syn, lif), memsnn.Layer(Dense(w2), syn, lif)])
    return net, memsnn.Impulses(amp)


def main():
    import registry

    load_before = os.getloadavg()[0]
    net, stim = setup()
    pid = diffrax.PIDController(rtol=1e-8, atol=1e-10)
    solvers = {"located": memsnn.Diffrax(diffrax.Tsit5(), pid),
               "located_same_adjoint": memsnn.Diffrax(diffrax.Tsit5(), pid,
                                                      adjoint=diffrax.RecursiveCheckpointAdjoint()),
               "events": memsnn.Diffrax(diffrax.Tsit5(), pid, events=True)}
    run, grad, out, compile_s = {}, {}, {}, {}
    for name, solver in solvers.items():
        def trace_of(n, solver=solver):
            return memsnn.simulate(n, stim, dt=DT, n_steps=STEPS, solver=solver, spike_timing="exact",
                                   record=("spike_times", "spikes"))

        run[name] = eqx.filter_jit(lambda n, f=trace_of: f(n))
        grad[name] = eqx.filter_jit(eqx.filter_grad(lambda n, f=trace_of: jnp.sum(f(n).first_spike_times(-1))))
        t = time.perf_counter()
        out[name] = jax.block_until_ready(run[name](net))
        forward_compile = time.perf_counter() - t
        t = time.perf_counter()
        jax.block_until_ready(grad[name](net))
        compile_s[name] = {"forward": forward_compile, "gradient": time.perf_counter() - t}
        print(name, "compiled", compile_s[name], flush=True)
    times = {name: {"forward": [], "gradient": []} for name in solvers}
    loads = []
    for kind, fns, repeats in (("forward", run, 5), ("gradient", grad, 3)):
        for _ in range(repeats):
            for name in solvers:
                t = time.perf_counter()
                jax.block_until_ready(fns[name](net))
                times[name][kind].append(time.perf_counter() - t)
            loads.append(os.getloadavg()[0])
    median = {name: {k: float(np.median(v)) for k, v in t.items()} for name, t in times.items()}
    # Reference: 100 fine steps per grid step; an impulse of grid step k lands at (k + 1) DT.
    fine = 100
    amp = jnp.zeros((BATCH, STEPS * fine, stim.amplitude.shape[-1])).at[:, fine - 1::fine].set(stim.amplitude)
    reference = memsnn.simulate(net, memsnn.Impulses(amp), dt=DT / fine, n_steps=STEPS * fine,
                                solver=memsnn.Diffrax(diffrax.Tsit5()), spike_timing="exact",
                                record=("spike_times", "spikes"))
    ref_first = [np.asarray(reference.first_spike_times(j)) for j in range(2)]

    def error_to_reference(o, j):
        t = np.asarray(o.first_spike_times(j))
        fired = (t < STEPS * DT) & (ref_first[j] < STEPS * DT)
        return float(np.max(np.abs(t - ref_first[j])[fired]))

    accuracy = {name: {"first_spike_max_abs_error_s": [error_to_reference(o, j) for j in range(2)],
                       "spikes": [float(np.sum(np.asarray(s))) for s in o.spikes]} for name, o in out.items()}
    accuracy["reference_10us"] = {"spikes": [float(np.sum(np.asarray(s))) for s in reference.spikes]}
    first = {name: np.asarray(o.first_spike_times(-1)) for name, o in out.items()}
    hidden = {name: np.asarray(o.first_spike_times(0)) for name, o in out.items()}
    spikes = {name: [float(np.sum(np.asarray(s))) for s in o.spikes] for name, o in out.items()}
    both = (first["located"] < STEPS * DT) & (first["events"] < STEPS * DT)
    payload = {
        "benchmark": "cost of adaptive diffrax runs that stop at each threshold crossing (events) against the "
                     "located crossing, same adaptive Tsit5; 2-layer LIF 4-8-3, batch 16, 60 x 1 ms, float64",
        "median_s": median, "samples_s": times, "compile_s": compile_s,
        "ratio_events_over_located": {k: median["events"][k] / median["located"][k] for k in ("forward", "gradient")},
        "ratio_events_over_located_same_adjoint": {k: median["events"][k] / median["located_same_adjoint"][k]
                                                   for k in ("forward", "gradient")},
        "accuracy_vs_fine_grid": accuracy,
        "spikes_per_layer": spikes,
        "solver_steps": {name: int(np.sum(np.asarray(o.solver_steps))) for name, o in out.items()},
        "first_output_times_max_abs_diff_s": float(np.max(np.abs(first["located"] - first["events"])[both])),
        "first_hidden_times_max_abs_diff_s": float(np.max(np.abs(hidden["located"] - hidden["events"])[
            (hidden["located"] < STEPS * DT) & (hidden["events"] < STEPS * DT)])),
        "load_during": [min(loads), max(loads)],
        "conditions": registry.run_conditions(data="random input spikes (in the script, keys 0-2)",
                                              devices={"memsnn": "1 CPU device, float64"}, seeds="keys 0, 1, 2",
                                              selection="none", load_before=load_before),
    }
    path = ROOT / "benchmarks" / "results" / "spike_times_events_cost.json"
    path.write_text(json.dumps(payload, indent=2))
    print(json.dumps({k: payload[k] for k in ("median_s", "ratio_events_over_located",
                                              "ratio_events_over_located_same_adjoint", "accuracy_vs_fine_grid",
                                              "first_output_times_max_abs_diff_s")}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
