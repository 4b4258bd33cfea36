"""Spike-time gradients against finite differences, and the closed-form LIF spike time (float64).

For each case: the gradient of a sum of first spike times (``spike_timing="exact"``) with respect
to a parameter, by autodiff, against a central finite difference of the simulated spike times;
the table gives the largest relative error over the checked entries. The located crossing (fixed
steps) and the adaptive solve that stops at each crossing (``Diffrax(..., events=True)``). Also the
LIF spike times under a current step against ``t* = -tau ln(1 - theta / (R I))`` (the k-th spike,
after k - 1 resets to 0, at ``k t*``)::

    python benchmarks/spike_times_gradients.py      # writes benchmarks/results/spike_times_gradients.json
"""

from __future__ import annotations

import os
import sys
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
from memsnn import presets as P  # noqa: E402
from memsnn.arrays import Dense, DelayedDense, Identity, Recurrent  # noqa: E402
from memsnn.neurons import LIF, ConductanceLIF  # noqa: E402
from memsnn.synapses import ExponentialSynapse  # noqa: E402


def first_times(net, stim, dt, n_steps, layer=-1, solver=None):
    return memsnn.simulate(net, stim, dt=dt, n_steps=n_steps, spike_timing="exact", solver=solver,
                           record=("spike_times",)).first_spike_times(layer)[0]


def events_solver(rtol=1e-10, atol=1e-12):
    """Adaptive Tsit5 that stops at each threshold crossing (diffrax events, bracketed Newton)."""
    return memsnn.Diffrax(diffrax.Tsit5(), diffrax.PIDController(rtol=rtol, atol=atol), events=True)


def train_of(n_steps, events, n_in):
    amp = jnp.zeros((1, n_steps, n_in))
    for step, j in events:
        amp = amp.at[0, step, j].set(1.0)
    return memsnn.Impulses(amp)


def check(f, x, eps, entries=4):
    grad = np.asarray(jax.grad(f)(x)).ravel()
    flat = np.asarray(x, dtype=float).ravel()
    worst, rows = 0.0, []
    for i in np.argsort(-np.abs(grad))[:entries]:
        if grad[i] == 0:
            continue  # an entry that does not act on the spike times (checked below by the others)
        up = f(jnp.asarray(flat.copy()).at[i].add(eps).reshape(jnp.shape(x)))
        down = f(jnp.asarray(flat.copy()).at[i].add(-eps).reshape(jnp.shape(x)))
        fd = (float(up) - float(down)) / (2 * eps)
        rel = abs(grad[i] - fd) / abs(fd)
        worst = max(worst, rel)
        rows.append({"entry": int(i), "autodiff": float(grad[i]), "finite_difference": fd, "rel_error": rel})
    return worst, rows


def cases():
    syn = ExponentialSynapse(5e-3)
    lif = LIF(tau=20e-3, threshold=1.0, reset="zero")
    w1 = jnp.array([[2.2, 1.1, 0.3], [0.4, 1.9, 1.6]]) * 3.0
    w2 = jnp.array([[2.5, 1.4], [0.8, 2.9]]) * 3.5
    stim3 = train_of(120, [(3, 0), (10, 1), (17, 2)], 3)

    def two_layer(w1, w2):
        net = memsnn.Network([memsnn.Layer(Dense(w1), syn, lif), memsnn.Layer(Dense(w2), syn, lif)])
        return jnp.array([0.3, 0.7]) @ first_times(net, stim3, 5e-4, 120)

    yield "LIF 3-2-2, output times / hidden weights (through hidden spike times)", lambda w: two_layer(w, w2), w1, 1e-6
    yield "LIF 3-2-2, output times / output weights", lambda w: two_layer(w1, w), w2, 1e-6

    tau_stim = train_of(120, [(3, 0), (10, 1), (17, 2)], 3)

    def tau_case(tau):
        net = memsnn.Network([memsnn.Layer(Dense(w1), syn, LIF(tau=tau, threshold=1.0, reset="zero"))])
        return jnp.sum(first_times(net, tau_stim, 5e-4, 120))

    yield "LIF, times / membrane time constant", tau_case, jnp.asarray(20e-3), 1e-9

    cond = ConductanceLIF(theta_init=0.0, v_threshold=-55e-3, refractory=2e-3)
    stim2 = train_of(80, [(2, 0), (9, 1)], 2)
    yield ("conductance LIF (Diehl & Cook), times / weights",
           lambda w: jnp.sum(first_times(memsnn.Network([memsnn.Layer(Dense(w), None, cond)]), stim2, 2.5e-4, 80)),
           jnp.array([[20.0, 18.0], [30.0, 5.0]]), 1e-7)

    mif_stim = memsnn.Impulses(jnp.array([[[1.0, 0.6]]]), steps=(0,))
    yield ("MIF (SPICEprop preset, Euler 10 us), times / weights",
           lambda w: jnp.sum(first_times(memsnn.Network([P.spiceprop_layer(weight=w)]), mif_stim, P.SPICEPROP_DT, 150)),
           jnp.array([[0.005, 0.002], [0.003, 0.004]]) * P.MILLIAMP, 1e-9 * P.MILLIAMP)

    def mif_device(v_on):
        layer = P.spiceprop_layer(weight=jnp.array([[0.005, 0.002], [0.003, 0.004]]) * P.MILLIAMP)
        layer = eqx.tree_at(lambda l: l.neuron.memristor1.V_on, layer, v_on)
        return jnp.sum(first_times(memsnn.Network([layer]), mif_stim, P.SPICEPROP_DT, 150))

    yield "MIF, times / memristor on-switching voltage V_on", mif_device, jnp.asarray(0.110), 1e-7

    delay_stim = train_of(40, [(0, 0), (2, 1)], 2)

    def delayed(d):
        net = memsnn.Network([memsnn.Layer(DelayedDense(jnp.array([[12.0, 9.0]]), d, dt=1e-3, max_delay=20e-3), syn,
                                           LIF(tau=20e-3, threshold=1.0))])
        return first_times(net, delay_stim, 1e-3, 40)[0]

    yield "LIF with synaptic delays, time / delays", delayed, jnp.array([[2.3e-3, 4.6e-3]]), 1e-7

    rec_stim = train_of(40, [(1, 0)], 1)

    def recurrent(w):
        rec = jnp.array([[0.0, 0.0], [1.0, 0.0]]) * w
        net = memsnn.Network([memsnn.Layer(Recurrent(Dense(jnp.array([[14.0], [0.0]])), rec), syn,
                                           LIF(tau=20e-3, threshold=1.0, reset="zero"))])
        return first_times(net, rec_stim, 1e-3, 40)[1]

    yield "recurrent LIF, time of the neuron driven only by recurrence / recurrent weight", recurrent, jnp.asarray(15.0), 1e-6

    # The same networks with adaptive Tsit5 stopping at each crossing (events), on a 1 ms grid.
    ev_stim = train_of(60, [(3, 0), (10, 1), (17, 2)], 3)

    def two_layer_events(w1, w2):
        net = memsnn.Network([memsnn.Layer(Dense(w1), syn, lif), memsnn.Layer(Dense(w2), syn, lif)])
        return jnp.array([0.3, 0.7]) @ first_times(net, ev_stim, 1e-3, 60, solver=events_solver())

    yield ("events (adaptive Tsit5), LIF 3-2-2, output times / hidden weights (through hidden event times)",
           lambda w: two_layer_events(w, w2), w1, 1e-6)
    yield "events, LIF 3-2-2, output times / output weights", lambda w: two_layer_events(w1, w), w2, 1e-6
    yield ("events, LIF, times / membrane time constant",
           lambda tau: jnp.sum(first_times(memsnn.Network([memsnn.Layer(Dense(w1), syn, LIF(tau=tau, threshold=1.0,
                                                                                              reset="zero"))]),
                                           ev_stim, 1e-3, 60, solver=events_solver())),
           jnp.asarray(20e-3), 1e-9)
    cond_stim = train_of(40, [(2, 0), (9, 1)], 2)
    yield ("events, conductance LIF (Diehl & Cook), times / weights",
           lambda w: jnp.sum(first_times(memsnn.Network([memsnn.Layer(Dense(w), None, cond)]), cond_stim, 5e-4, 40,
                                         solver=events_solver())),
           jnp.array([[20.0, 18.0], [30.0, 5.0]]), 1e-7)
    yield ("events, MIF (SPICEprop preset, Tsit5 rtol 1e-8), times / weights",
           lambda w: jnp.sum(first_times(memsnn.Network([P.spiceprop_layer(weight=w)]), mif_stim, 1e-4, 15,
                                         solver=events_solver(1e-8, 1e-10))),
           jnp.array([[0.005, 0.002], [0.003, 0.004]]) * P.MILLIAMP, 1e-9 * P.MILLIAMP)


def closed_form():
    tau, theta, end = 20e-3, 1.0, 0.03
    currents = jnp.array([[1.5, 2.0, 3.0]])
    exact = -tau * np.log(1 - theta / np.asarray(currents[0]))
    # Every spike inside the run: the k-th at k t* (reset to 0 at each crossing).
    every = [k * t for t in exact for k in range(1, 8) if k * t < end]
    adaptive = memsnn.Diffrax(diffrax.Tsit5(), diffrax.PIDController(rtol=1e-10, atol=1e-12))
    rows = []
    for name, solver, dt in (("Tsit5 fixed step + cubic Hermite crossing", memsnn.Diffrax(diffrax.Tsit5()), 1e-4),
                             ("explicit Euler + linear crossing", memsnn.Euler(), 1e-4),
                             ("explicit Euler + linear crossing", memsnn.Euler(), 1e-5),
                             ("adaptive Tsit5 (rtol 1e-10) + cubic Hermite crossing", adaptive, 1e-3),
                             ("adaptive Tsit5 (rtol 1e-10) + events (stops at each crossing)", events_solver(), 1e-3)):
        net = memsnn.Network([memsnn.Layer(Identity(3), None, LIF(tau=tau, threshold=theta, reset="zero"))])
        trace = memsnn.simulate(net, memsnn.Current(currents), dt=dt, n_steps=int(round(end / dt)), solver=solver,
                                spike_timing="exact", record=("spike_times",))
        t = np.asarray(trace.first_spike_times()[0])
        listed = np.asarray(trace.spike_time_list(max_spikes=8)[0])
        found = np.sort(listed[np.isfinite(listed)])
        same = len(found) == len(every)  # else a spike was lost or added: reported as NaN
        rows.append({"integrator": name, "dt_s": dt, "max_abs_error_s": float(np.max(np.abs(t - exact))),
                     "spikes": len(every), "spikes_found": len(found),
                     "max_abs_error_all_spikes_s": float(np.max(np.abs(found - np.sort(every)))) if same else float("nan")})
    return rows


def main():
    import registry

    load_before = os.getloadavg()[0]
    table = []
    for name, f, x, eps in cases():
        worst, rows = check(f, x, eps)
        table.append({"case": name, "max_rel_error": worst, "entries": rows})
        print(f"{worst:9.2e}  {name}", flush=True)
    closed = closed_form()
    for row in closed:
        print(f"{row['max_abs_error_s']:9.2e} s (all {row['spikes']} spikes: {row['max_abs_error_all_spikes_s']:.2e} s)  "
              f"closed-form LIF t*, {row['integrator']}, dt={row['dt_s']:g}")
    path = ROOT / "benchmarks" / "results" / "spike_times_gradients.json"
    payload = {"benchmark": "spike-time gradients (autodiff through the located crossings) vs central finite "
                            "differences of the simulated spike times, float64; closed-form LIF spike time",
               "gradients": table, "closed_form_lif": closed,
               "max_rel_error_all": max(r["max_rel_error"] for r in table),
               "conditions": registry.run_conditions(data="synthetic spike trains / current steps (in the script)",
                                                     devices={"memsnn": "1 CPU device, float64"}, seeds="none",
                                                     selection="none", load_before=load_before)}
    path.write_text(__import__("json").dumps(payload, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
