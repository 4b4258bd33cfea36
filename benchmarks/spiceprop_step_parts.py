"""Where the SPICEprop training step's CPU time goes: its parts timed alone, side by side in one process.

The step (784-100-10 -> 10 MIF, batch 200, 1000 steps, forward + backward + Adam, float32) on one
CPU device, and, each jitted alone on the same inputs: the readout recurrence (``simulate`` of the
10 x 200 MIF neurons from the drive to the potentials, in mV) forward, and forward + backward
(``jax.vjp`` with a given cotangent of the potentials); the summed NLL over ``(200, 1000, 10)``
potentials, forward + backward; the dense front end forward + backward; the Adam update; and the
loss's gradient composed of those parts (front end -> readout -> NLL). What the composed gradient
costs beyond the sum of its parts is the glue between them: the concatenation of the stretches'
outputs, the (time, batch x class) -> (batch, time, class) transposes and their cotangents.
Interleaved repeats, medians of process CPU time; the load average before and after.

    python benchmarks/spiceprop_step_parts.py [--repeats 9]

Writes ``benchmarks/results/spiceprop_step_parts.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from memsnn.training import use_cpu_cores

N_DEVICES = use_cpu_cores(1)

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from memsnn.presets import MILLIVOLT  # noqa: E402
from memsnn.simulate import simulate  # noqa: E402
from memsnn.stimulus import Impulses  # noqa: E402
from memsnn.training.spiceprop import (SpicepropConfig, build_spiceprop, make_integrator,  # noqa: E402
                                       spiceprop_loss, spiceprop_trainable, summed_nll)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _timing  # noqa: E402


def setup():
    """The benchmark's network, random batch, trainable/frozen split, Adam and its state."""
    net = build_spiceprop(SpicepropConfig(hidden=(100,)), key=jax.random.key(0))
    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.uniform(0, 1, (200, 784)).astype(np.float32))
    labels = jnp.asarray(rng.integers(0, 10, 200).astype(np.int32))
    params, static = eqx.partition(net, spiceprop_trainable(net))
    opt = optax.adam(1e-3)
    return net, images, labels, params, static, opt, opt.init(params)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "spiceprop_step_parts.json")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    net, images, labels, params, static, opt, state = setup()
    c = net.config
    rng = np.random.default_rng(1)

    def potentials_mv(drive):  # the readout of SpicepropNet.potentials, from the drive on
        batch, n = drive.shape
        amplitude = jnp.broadcast_to(drive[:, None, :], (batch, len(c.steps), n))
        trace = simulate(net._network(), Impulses(amplitude, c.steps), dt=c.dt, n_steps=c.n_steps,
                         solver=make_integrator(c.solver), record=("membrane_potential",),
                         checkpoint_every=c.checkpoint_every, unroll=c.unroll, fold_batch=True)
        return trace.membrane_potential[0] / MILLIVOLT

    def loss(p):
        return spiceprop_loss(eqx.combine(p, static), images, labels)[0]

    @jax.jit
    def step(p, s):
        value, grads = jax.value_and_grad(loss)(p)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s, value

    drive = jax.jit(lambda p: eqx.combine(p, static).drive(images))(params)
    v = jax.jit(potentials_mv)(drive)
    grads = jax.jit(jax.grad(loss))(params)
    cotangent = jnp.asarray(rng.normal(0, 1, v.shape).astype(np.float32))
    drive_cotangent = jnp.asarray(rng.normal(0, 1, drive.shape).astype(np.float32))
    parts = {
        "step (fwd + bwd + Adam)": (step, (params, state)),
        "loss gradient, composed of the parts": (jax.jit(lambda p: jax.vjp(
            lambda p: summed_nll(potentials_mv(eqx.combine(p, static).drive(images)), labels), p)[1](
            jnp.ones((), jnp.float32))), (params,)),
        "readout recurrence, forward": (jax.jit(potentials_mv), (drive,)),
        "readout recurrence, forward + backward": (jax.jit(lambda d, g: jax.vjp(potentials_mv, d)[1](g)),
                                                   (drive, cotangent)),
        "summed NLL, forward + backward": (jax.jit(jax.value_and_grad(lambda v: summed_nll(v, labels))), (v,)),
        "front end 784-100-10, forward + backward": (jax.jit(lambda p, g: jax.vjp(
            lambda p: eqx.combine(p, static).drive(images), p)[1](g)), (params, drive_cotangent)),
        "Adam update": (jax.jit(lambda g, s, p: optax.apply_updates(p, opt.update(g, s, p)[0])), (grads, state, params)),
    }
    for fn, a in parts.values():
        jax.block_until_ready(fn(*a))
    cpu = {name: [] for name in parts}
    for _ in range(args.repeats):  # interleaved: every part sees the same load
        for name, (fn, a) in parts.items():
            _timing.wall_and_cpu(lambda: jax.block_until_ready(fn(*a)), 1, [], cpu[name])
    ms = {name: 1e3 * statistics.median(t) for name, t in cpu.items()}
    summed = sum(ms[k] for k in ("readout recurrence, forward + backward", "summed NLL, forward + backward",
                                 "front end 784-100-10, forward + backward"))
    ms["glue: composed gradient minus its parts"] = ms["loss gradient, composed of the parts"] - summed
    for name, value in ms.items():
        print(f"{name:<48}{value:8.1f} ms CPU")
    record(args.out, "CPU time (ms, medians of interleaved repeats) of the SPICEprop training step and of its "
                     "parts jitted alone, one CPU device, batch 200, 1000 steps, float32", ms, cpu, load_before)


def record(out: Path, what: str, ms: dict, cpu: dict, load_before: float, **extra) -> None:
    """Write ``out``: the CPU-time medians ``ms``, every repeat (``cpu``, s), ``extra`` and a conditions block."""
    import registry

    result = {"what": what, "cpu_ms": ms, "cpu_ms_all": {k: [1e3 * x for x in t] for k, t in cpu.items()}, **extra,
              "load_average_after": os.getloadavg()}
    result["conditions"] = registry.run_conditions(
        data="random inputs, batch 200, 1000 steps, float32", seeds="0 (weights and inputs)", selection="none",
        load_before=load_before, devices=f"memsnn {N_DEVICES} CPU device")
    print(f"wrote {_timing.write_json(out, result, replace=True)}")

if __name__ == "__main__":
    main()
