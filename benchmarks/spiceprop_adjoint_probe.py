"""A lever of issue 27 measured: the SPICEprop readout with a hand-derived adjoint (``jax.custom_vjp``).

Not memsnn's code: a probe that decides whether memsnn's integrator should carry such an adjoint.
The readout (10 x 200 MIF neurons, alpha synapses, the SpicepropEuler order, impulses at steps 0,
400, 800) is written out for one custom_vjp of the whole 1000-step recurrence. Its forward is one
scan over chunks of ``--chunk`` steps that keeps only the memristor states ``x1, x2`` at each
chunk's start (the potentials are its output anyway). Its backward runs backwards over the chunks:
it recomputes the chunk's ``x1, x2`` from the stored potentials (the switching rates need only
``v``; ``a`` and ``I`` enter the adjoint linearly and are not needed at all), then the hand-derived
adjoint of each step (no autodiff inside), in one of three forms (``--modes``):

- ``unrolled``: the chunk's recomputation and adjoint as straight-line code;
- ``vectorised``: the switching rates of the whole chunk computed at once (no recurrence), the
  ``x`` and adjoint recurrences straight-line;
- ``loop``: the recomputation and the adjoint each a loop of one step per iteration (``lax.scan``).

The training step (front end, NLL, Adam; one CPU device) with it is timed against memsnn's
(autodiff of the checkpointed scan), interleaved, medians of process CPU time, with the forward
alone; the traces and the gradients are compared.

    python benchmarks/spiceprop_adjoint_probe.py [--chunk 5] [--modes unrolled vectorised loop]

Writes ``benchmarks/results/spiceprop_adjoint_probe.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from memsnn.training import use_cpu_cores

N_DEVICES = use_cpu_cores(1)

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

from memsnn.devices._mss import sigmoid_pair  # noqa: E402
from memsnn.presets import MILLIVOLT  # noqa: E402
from memsnn.training.spiceprop import spiceprop_loss, summed_nll  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _timing  # noqa: E402
from spiceprop_step_parts import record, setup  # noqa: E402
T, EVENTS = 1000, (0, 400, 800)


def readout_with_adjoint(net, K: int, mode: str):
    """``imp (T // K, N) -> v (T // K, K, N)``: the impulses land in the first step of their chunk."""
    syn, neu = net.readout()
    m = neu.memristor1
    f32 = jnp.float32
    dt, tau_a, C, E1, E2 = f32(net.config.dt), syn.tau_a, neu.capacitance, neu.E1, neu.E2
    gon, goff, Von, VT, taux = 1.0 / m.R_on, 1.0 / m.R_off, m.V_on, m.V_T, m.tau
    d = (m.V_on - m.off_switching_voltage()) / m.V_T
    alpha, kappa, beta, dg = dt / tau_a, dt / C, dt / taux, gon - goff

    def sig(v, E):
        return sigmoid_pair((v - E - Von) * (1.0 / VT), d)

    def x_step(x1, x2, on1, off1, on2, off2):
        return (x1 + dt * (((1.0 - x1) * on1 - x1 * off1) * (1.0 / taux)),
                x2 + dt * (((1.0 - x2) * on2 - x2 * off2) * (1.0 / taux)))

    def step(a, I, v, x1, x2, imp):  # as memsnn's SpicepropEuler sweep
        a = a + dt * (-a / tau_a) + imp
        I = I + dt * ((a - I) / tau_a)
        G1 = x1 / m.R_on + (1.0 - x1) / m.R_off
        G2 = x2 / m.R_on + (1.0 - x2) / m.R_off
        v = v + dt * ((I - G1 * (v - E1) - G2 * (v - E2)) / C)
        x1, x2 = x_step(x1, x2, *sig(v, E1), *sig(v, E2))
        return a, I, v, x1, x2

    def forward(imp):
        N = imp.shape[1]
        s0 = (jnp.zeros(N, f32), jnp.zeros(N, f32), jnp.zeros(N, f32) + neu.v_init,
              jnp.full(N, neu.x1_init, f32), jnp.full(N, neu.x2_init, f32))

        def chunk(s, im):
            start, vs = s, []
            for j in range(K):
                s = step(*s, im if j == 0 else 0.0)
                vs.append(s[2])
            return s, (jnp.stack(vs), start[3], start[4])

        _, (vs, x1c, x2c) = jax.lax.scan(chunk, s0, imp)
        return vs, x1c, x2c, s0[2]

    def adjoint_step(lam, x1, x2, on1, off1, on2, off2, vb, g):
        la, lI, lv, lx1, lx2 = lam
        lv = lv + g
        lvt = lv + (beta / VT) * (lx1 * ((1.0 - x1) * on1 * (1.0 - on1) + x1 * off1 * (1.0 - off1))
                                  + lx2 * ((1.0 - x2) * on2 * (1.0 - on2) + x2 * off2 * (1.0 - off2)))
        lx1 = lx1 * (1.0 - beta * (on1 + off1)) - kappa * dg * (vb - E1) * lvt
        lx2 = lx2 * (1.0 - beta * (on2 + off2)) - kappa * dg * (vb - E2) * lvt
        lv = lvt * (1.0 - kappa * (2.0 * goff + dg * (x1 + x2)))
        lIt = lI + kappa * lvt
        lat = la + alpha * lIt
        return ((1.0 - alpha) * lat, (1.0 - alpha) * lIt, lv, lx1, lx2), lat

    def chunk_backward(lam, xs):
        v_c, g_c, x1, x2, vp = xs
        vb_c = jnp.concatenate([vp[None], v_c[:-1]])
        if mode == "loop":
            def fwd1(x, v):
                rates = (*sig(v, E1), *sig(v, E2))
                return x_step(*x, *rates), (*x, *rates)

            _, res = jax.lax.scan(fwd1, (x1, x2), v_c)
            lam, lats = jax.lax.scan(lambda lam, r: adjoint_step(lam, *r), lam, (*res, vb_c, g_c), reverse=True)
            return lam, lats[0]
        if mode == "vectorised":
            rates = [(*sig(v_c, E1), *sig(v_c, E2))[i] for i in range(4)]  # (K, N) each, no recurrence
            per_step = [tuple(r[j] for r in rates) for j in range(K)]
        states, rate_list = [], []
        for j in range(K):
            r = per_step[j] if mode == "vectorised" else (*sig(v_c[j], E1), *sig(v_c[j], E2))
            states.append((x1, x2))
            rate_list.append(r)
            x1, x2 = x_step(x1, x2, *r)
        for j in reversed(range(K)):
            lam, lat = adjoint_step(lam, *states[j], *rate_list[j], vb_c[j], g_c[j])
        return lam, lat

    @jax.custom_vjp
    def readout(imp):
        return forward(imp)[0]

    def readout_fwd(imp):
        vs, x1c, x2c, v0 = forward(imp)
        return vs, (vs, x1c, x2c, v0)

    def readout_bwd(res, g):
        vs, x1c, x2c, v0 = res
        vprev = jnp.concatenate([v0[None], vs[:-1, -1]])
        z = jnp.zeros(vs.shape[-1:], vs.dtype)
        _, limp = jax.lax.scan(chunk_backward, (z, z, z, z, z), (vs, g, x1c, x2c, vprev), reverse=True)
        return (limp,)

    readout.defvjp(readout_fwd, readout_bwd)
    return readout


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunk", type=int, default=5)
    parser.add_argument("--modes", nargs="+", default=["unrolled", "vectorised", "loop"])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "spiceprop_adjoint_probe.json")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    K = args.chunk
    net, images, labels, params, static, opt, opt_state = setup()

    def probe_loss(readout):
        def potentials(model):
            drive = model.drive(images)
            B, n = drive.shape
            imp = jnp.zeros((T // K, B * n), drive.dtype)
            for e in EVENTS:
                imp = imp.at[e // K].set(drive.reshape(-1))
            return jnp.moveaxis(readout(imp).reshape(T, B, n), 0, 1)

        return potentials, lambda p: summed_nll(potentials(eqx.combine(p, static)) / MILLIVOLT, labels)

    def make(loss):
        @jax.jit
        def step(p, s):
            value, grads = jax.value_and_grad(loss)(p)
            updates, s = opt.update(grads, s, p)
            return optax.apply_updates(p, updates), s, value, grads
        return step

    memsnn_loss = lambda p: spiceprop_loss(eqx.combine(p, static), images, labels)[0]  # noqa: E731
    steps = {"memsnn": make(memsnn_loss)}
    forwards = {"memsnn": jax.jit(memsnn_loss)}
    v_ref = jax.jit(lambda m: m.potentials(images))(net)
    g_ref = steps["memsnn"](params, opt_state)[3]
    checks = {}
    for mode in args.modes:
        potentials, loss = probe_loss(readout_with_adjoint(net, K, mode))
        steps[mode], forwards[mode] = make(loss), jax.jit(loss)
        g = steps[mode](params, opt_state)[3]
        checks[mode] = {
            "trace_max_abs_diff_mV": float(jnp.max(jnp.abs(jax.jit(potentials)(net) - v_ref))) / MILLIVOLT,
            "gradient_max_rel_diff": max(float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(a)))
                                         for a, b in zip(jax.tree.leaves(g_ref), jax.tree.leaves(g)))}
    fns = {**{f"{k} step": (lambda f=f: f(params, opt_state)) for k, f in steps.items()},
           **{f"{k} forward": (lambda f=f: f(params)) for k, f in forwards.items()}}
    for fn in fns.values():
        jax.block_until_ready(fn())
    cpu = {name: [] for name in fns}
    for _ in range(args.repeats):  # interleaved: every part sees the same load
        for name, fn in fns.items():
            _timing.wall_and_cpu(lambda: jax.block_until_ready(fn()), 1, [], cpu[name])
    ms = {name: 1e3 * statistics.median(t) for name, t in cpu.items()}
    for name, value in ms.items():
        print(f"{name:<24}{value:8.1f} ms CPU")
    print(json.dumps(checks, indent=1))

    record(args.out, "SPICEprop training step (batch 200, 1000 steps, one CPU device): memsnn's autodiff of the "
                     "checkpointed scan against a hand-derived custom_vjp of the readout recurrence, per form",
           ms, cpu, load_before, chunk=K, checks=checks)

if __name__ == "__main__":
    main()
