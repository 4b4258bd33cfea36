"""Spike-time gradients against finite differences, and the closed-form LIF spike time (float64).

For each case: the gradient of a sum of first spike times (``spike_timing="exact"``) with respect
to a parameter, by autodiff, against a central finite difference of the simulated spike times;
the table gives the largest relative error over the checked entries. The located crossing (fixed
steps) and the adaptive solve that stops at each crossing (``Diffrax(..., events=True)``). Also the
LIF spike times under a current step against ``t* = -tau ln(1 - theta / (R I))`` (the k-th spike,
after k - 1 resets to 0, at ``k t*``)::

    python benchmarks/spike_times_gradients.py      # writes benchmarks/results/spike_times_gradients.json

Event runs with delays and recurrence (delayed events: a spike at t* arrives at t* + d, where the
adaptive solve stops): the same comparison for LIF, conductance LIF and MIF networks with delayed
arrays and recurrent arrays, and two closed forms (a spike through a delay d shifts the output
spike by d exactly; a two-neuron loop of supra-threshold jumps through a recurrent delay d fires
at t_0 + k d)::

    python benchmarks/spike_times_gradients.py --events-delays   # writes .../spike_times_events_delays.json
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
    """The largest relative difference between ``jax.grad(f)(x)`` and central differences of ``f``
    (step ``eps``) over the ``entries`` largest gradient entries. ``x`` may be a tuple of arrays
    (``eps`` then a tuple of steps, one per array, and ``entries`` are checked in each). NaN where
    no entry of ``x`` (or of one of its arrays) acts on the spike times: a case that checks nothing."""
    several = isinstance(x, tuple)
    xs, steps = (x, eps) if several else ((x,), (eps,))
    grads = jax.grad(lambda xs: f(xs if several else xs[0]))(xs)
    worst, rows = 0.0, []
    for leaf, (x_j, g_j, eps_j) in enumerate(zip(xs, grads, steps)):
        grad = np.asarray(g_j).ravel()
        flat = np.asarray(x_j, dtype=float).ravel()
        for i in np.argsort(-np.abs(grad))[:entries]:
            if grad[i] == 0:
                continue  # an entry that does not act on the spike times (checked below by the others)

            def moved(sign):
                new = jnp.asarray(flat.copy()).at[i].add(sign * eps_j).reshape(jnp.shape(x_j))
                return float(f(xs[:leaf] + (new,) + xs[leaf + 1:] if several else new))

            fd = (moved(1) - moved(-1)) / (2 * eps_j)
            rel = abs(grad[i] - fd) / abs(fd)
            worst = max(worst, rel)
            rows.append({**({"leaf": leaf} if several else {}), "entry": int(i), "autodiff": float(grad[i]),
                         "finite_difference": fd, "rel_error": rel})
    # No entry acts on the spike times, or (several arrays) none of one array does: that array was not
    # checked (NaN, not a perfect 0).
    checked = {row.get("leaf", 0) for row in rows}
    return (worst if len(checked) == len(xs) else float("nan")), rows


def gradient_table(cases, entries=4):
    """``check`` over ``(name, f, x, eps)`` cases: one row per case, printed as it comes."""
    table = []
    for name, f, x, eps in cases:
        worst, rows = check(f, x, eps, entries)
        table.append({"case": name, "max_rel_error": worst, "entries": rows})
        print(f"{worst:9.2e}  {name}", flush=True)
    return table


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


def events_delay_cases():
    """Event runs (adaptive Tsit5, stopping at crossings and at delayed arrivals) with delays and
    recurrence: ``(name, f, x, eps)``, ``x`` a tuple (delays and weights), 3 entries checked in each."""
    syn = ExponentialSynapse(5e-3)
    lif = LIF(tau=20e-3, threshold=1.0, reset="zero")
    ev = events_solver()

    delay_stim = train_of(40, [(0, 0), (2, 1)], 2)

    def delayed(p):
        d, w = p
        net = memsnn.Network([memsnn.Layer(DelayedDense(w, d, dt=1e-3, max_delay=20e-3), syn,
                                           LIF(tau=20e-3, threshold=1.0))])
        return first_times(net, delay_stim, 1e-3, 40, solver=ev)[0]

    yield ("events, LIF with synaptic delays, time / delays, weights", delayed,
           (jnp.array([[2.3e-3, 4.6e-3]]), jnp.array([[12.0, 9.0]])), (1e-7, 1e-6))

    rec_stim = train_of(40, [(1, 0)], 1)

    def recurrent(p):
        d, w = p
        rec = Recurrent(Dense(jnp.array([[14.0], [0.0]])), jnp.array([[0.0, 0.0], [1.0, 0.0]]) * w, delay=d)
        net = memsnn.Network([memsnn.Layer(rec, syn, LIF(tau=20e-3, threshold=1.0, reset="zero"))])
        return first_times(net, rec_stim, 1e-3, 40, solver=ev)[1]

    yield ("events, recurrent LIF, time of the neuron driven only by recurrence / recurrent delay, weight",
           recurrent, (jnp.asarray(1.3e-3), jnp.asarray(15.0)), (1e-7, 1e-6))

    cond = ConductanceLIF(theta_init=0.0, v_threshold=-55e-3, refractory=2e-3)
    cond_stim = train_of(40, [(2, 0), (9, 1)], 2)
    w_c = jnp.array([[20.0, 18.0], [30.0, 5.0]])

    def cond_delayed(p):
        d, w = p
        net = memsnn.Network([memsnn.Layer(DelayedDense(w, d, dt=5e-4, max_delay=4e-3), None, cond)])
        return jnp.sum(first_times(net, cond_stim, 5e-4, 40, solver=ev))

    yield ("events, conductance LIF (Diehl & Cook) with delays, times / delays, weights", cond_delayed,
           (jnp.array([[1.1e-3, 0.4e-3], [2.2e-3, 0.7e-3]]), w_c), (1e-7, 1e-7))

    mif_stim = memsnn.Impulses(jnp.array([[[1.0, 0.6]]]), steps=(0,))
    w_m = jnp.array([[0.005, 0.002], [0.003, 0.004]]) * P.MILLIAMP
    mev = events_solver(1e-8, 1e-10)

    def mif_delayed(p):
        d, w = p
        layer = eqx.tree_at(lambda l: l.array, P.spiceprop_layer(weight=w), DelayedDense(w, d, dt=1e-4, max_delay=4e-4))
        return jnp.sum(first_times(memsnn.Network([layer]), mif_stim, 1e-4, 15, solver=mev))

    yield ("events, MIF (SPICEprop preset, Tsit5 rtol 1e-8) with delays, times / delays, weights", mif_delayed,
           (jnp.array([[0.11e-3, 0.04e-3], [0.23e-3, 0.07e-3]]), w_m), (1e-9, 1e-9 * P.MILLIAMP))

    def mif_recurrent(p):
        # Neuron 1 has no input: it fires only on neuron 0's spike, arriving through the recurrent
        # array after the delay (0.18 ms + d; neuron 1 then fires at ~0.33 ms): its time depends on
        # the delay and the recurrent weight (with both neurons driven by the input, as before, each
        # fired before the other's recurrent spike arrived and no entry acted on the times).
        d, r = p
        layer = P.spiceprop_layer(weight=w_m.at[1].set(0.0))
        layer = eqx.tree_at(lambda l: l.array, layer, Recurrent(layer.array, r, delay=d))
        return first_times(memsnn.Network([layer]), mif_stim, 1e-4, 15, solver=mev)[1]

    yield ("events, MIF with recurrence, time of the neuron driven only by recurrence / recurrent delay, weight",
           mif_recurrent, (jnp.asarray(0.05e-3), jnp.array([[0.0, 0.0], [0.006, 0.0]]) * P.MILLIAMP),
           (1e-9, 1e-9 * P.MILLIAMP))

    def cond_recurrent(p):
        # Lateral inhibition through a delay: the first neuron to fire delays the other.
        d, r = p
        rec = Recurrent(Dense(w_c), jnp.array([[0.0, -1.0], [-1.0, 0.0]]) * r, delay=d)
        net = memsnn.Network([memsnn.Layer(rec, None, cond)])
        return jnp.sum(first_times(net, cond_stim, 5e-4, 40, solver=ev))

    yield ("events, conductance LIF with delayed lateral inhibition, times / inhibition delay, strength",
           cond_recurrent, (jnp.asarray(0.3e-3), jnp.asarray(8.0)), (1e-8, 1e-7))

    w2 = jnp.array([[2.5, 1.4], [0.8, 2.9]]) * 3.5
    stim3 = train_of(60, [(3, 0), (10, 1), (17, 2)], 3)

    def two_layer(p):
        d2, w1 = p
        net = memsnn.Network([memsnn.Layer(Dense(w1), syn, lif),
                              memsnn.Layer(DelayedDense(w2, d2, dt=1e-3, max_delay=5e-3), syn, lif)])
        return jnp.array([0.3, 0.7]) @ first_times(net, stim3, 1e-3, 60, solver=ev)

    yield ("events, LIF 3-2-2 with delays on the output array, output times / output delays, hidden weights "
           "(through hidden event times and their delayed arrivals)", two_layer,
           (jnp.array([[1.7e-3, 0.6e-3], [3.1e-3, 2.2e-3]]), jnp.array([[2.2, 1.1, 0.3], [0.4, 1.9, 1.6]]) * 3.0),
           (1e-7, 1e-6))


def events_delay_closed_forms():
    """Two closed forms for delayed events (adaptive Tsit5, rtol 1e-10, 1 ms grid): ``(name, run)``."""
    ev = events_solver()
    syn = ExponentialSynapse(5e-3)
    stim = train_of(30, [(2, 0)], 1)

    def shifted(d):
        net = memsnn.Network([memsnn.Layer(DelayedDense(jnp.array([[12.0]]), d, dt=1e-3, max_delay=10e-3), syn,
                                           LIF(tau=20e-3, threshold=1.0))])
        return first_times(net, stim, 1e-3, 30, solver=ev)[0]

    def shift():
        vg = jax.jit(jax.value_and_grad(shifted))
        t0, _ = vg(jnp.asarray(0.0))
        shift_err, grad_err = [], []
        for d in (0.37e-3, 1.0e-3, 2.63e-3, 7.77e-3):
            t, g = vg(jnp.asarray(d))
            shift_err.append(abs(float(t) - float(t0) - d))
            grad_err.append(abs(float(g) - 1.0))
        return {"max_abs_error_s": max(shift_err), "max_gradient_error": max(grad_err),
                "first_spike_without_delay_s": float(t0)}

    yield ("one input spike through a delay d into a LIF (exponential synapse): the output spike moves by d "
           "(d = 0.37, 1, 2.63, 7.77 ms), and dt/dd = 1", shift)

    loop_d, jump = 2.6e-3, 1.5
    loop_stim = memsnn.Impulses(jnp.zeros((1, 20, 1)).at[0, 0, 0].set(jump))

    def loop(d):
        rec = Recurrent(Dense(jnp.array([[1.0], [0.0]])), jnp.array([[0.0, jump], [jump, 0.0]]), delay=d)
        net = memsnn.Network([memsnn.Layer(rec, None, LIF(tau=20e-3, threshold=1.0, reset="zero"))])
        trace = memsnn.simulate(net, loop_stim, dt=1e-3, n_steps=20, solver=ev, spike_timing="exact",
                                record=("spike_times",))
        times = trace.spike_time_list(0, 8)[0]
        return jnp.max(jnp.where(jnp.isfinite(times), times, 0.0)), times

    def two_neuron_loop():
        (_, listed), last = jax.jit(jax.value_and_grad(loop, has_aux=True))(jnp.asarray(loop_d))
        listed = np.asarray(listed)
        found = np.sort(listed[np.isfinite(listed)])
        expected = 1e-3 + loop_d * np.arange(len(found))
        k_last = len(found) - 1
        return {"max_abs_error_s": float(np.max(np.abs(found - expected))), "spikes": len(found),
                "max_gradient_error": abs(float(last) - k_last), "gradient_of_last_spike": float(last),
                "last_spike_k": k_last}

    yield ("two LIF neurons exciting each other through a recurrent delay d = 2.6 ms with jumps above threshold "
           "(no synapse): spikes at t_0 + k d, and d t_k / d d = k for the last", two_neuron_loop)


def main_events_delays():
    """The event-run cases one by one, each written to the results file as it finishes; a rerun
    skips the cases (and closed forms) the file already holds (a resumable long run)."""
    import json

    path = ROOT / "benchmarks" / "results" / "spike_times_events_delays.json"
    done = json.loads(path.read_text()) if path.exists() else {}
    table = [r for r in done.get("gradients", [])]
    closed = [r for r in done.get("closed_form", [])]
    loads = done.get("loads", [])
    description = ("spike-time gradients in event runs (adaptive Tsit5 stopping at threshold crossings and at delayed "
                   "arrivals) with synaptic delays and recurrence vs central finite differences of the simulated spike "
                   "times, float64; closed forms for delayed events")

    loads.append(os.getloadavg()[0])  # at the start of each (resumed) run and after each case

    def save():
        loads.append(os.getloadavg()[0])
        write_results(path.name, description, table, {"closed_form": closed, "loads": loads},
                      "synthetic spike trains (in the script)", loads[0])

    names, checks = {r["case"] for r in table}, {r["check"] for r in closed}
    cases = list(events_delay_cases())
    # The first four cases (LIF, recurrent LIF, conductance LIF, MIF with delays), the closed forms, the rest.
    for kind, item in ([("case", c) for c in cases[:4]] + [("closed", c) for c in events_delay_closed_forms()]
                       + [("case", c) for c in cases[4:]]):
        if kind == "case" and item[0] not in names:
            table.extend(gradient_table([item], entries=3))
            save()
        elif kind == "closed" and item[0] not in checks:
            name, run = item
            closed.append({"check": name, **run()})
            print(f"{closed[-1]['max_abs_error_s']:9.2e} s, gradient {closed[-1]['max_gradient_error']:.1e}  {name}",
                  flush=True)
            save()


def write_results(name, description, table, closed, data, load_before):
    """The gradient table and the closed-form rows as ``benchmarks/results/<name>``, with the run's conditions."""
    import registry

    path = ROOT / "benchmarks" / "results" / name
    payload = {"benchmark": description, "gradients": table, **closed,
               "max_rel_error_all": max((r["max_rel_error"] for r in table), default=float("nan")),
               "conditions": registry.run_conditions(data=data, devices={"memsnn": "1 CPU device, float64"},
                                                     seeds="none", selection="none", load_before=load_before)}
    path.write_text(__import__("json").dumps(payload, indent=2))
    print(f"wrote {path}")


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
    load_before = os.getloadavg()[0]
    table = gradient_table(cases())
    closed = closed_form()
    for row in closed:
        print(f"{row['max_abs_error_s']:9.2e} s (all {row['spikes']} spikes: {row['max_abs_error_all_spikes_s']:.2e} s)  "
              f"closed-form LIF t*, {row['integrator']}, dt={row['dt_s']:g}")
    write_results("spike_times_gradients.json",
                  "spike-time gradients (autodiff through the located crossings) vs central finite differences of "
                  "the simulated spike times, float64; closed-form LIF spike time",
                  table, {"closed_form_lif": closed}, "synthetic spike trains / current steps (in the script)",
                  load_before)


if __name__ == "__main__":
    main_events_delays() if "--events-delays" in sys.argv[1:] else main()
