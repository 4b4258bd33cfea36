"""Why one time loop is slower than another: the kernels XLA runs per time step, counted.

On a CPU (and a GPU) a jitted ``lax.scan`` runs its body once per time step; every instruction
left in the optimised body after fusion is one kernel (a fusion, a dot, a copy, a callback) with
its own fixed cost (microseconds on a CPU), however small the arrays. For small per-step work,
such as the LIF tutorial network (batch 128, 1000 + 10 neurons) or SPICEprop (2000 MIF neurons),
the step time is set by the number of kernels per step and the bytes they move, not by the
arithmetic. This script compiles the training steps compared in ``surrogate_vs_snntorch.py`` and
``spiceprop_vs_torch.py`` and prints, for each while loop of the optimised HLO (forward and
backward time loops), its trip count when known, the kernels in its body by kind, and the bytes
of the loop state it carries, next to the measured CPU time of the whole step; and the SPICEprop
step's CPU time against the batch (20 to 200), whose line says how much of the step is a fixed
per-step cost (kernel launches: the intercept) and how much the arithmetic (the slope).

    python benchmarks/loop_profile.py [--out benchmarks/results/loop_profile.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import statistics
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

_NOT_KERNELS = {"parameter", "get-tuple-element", "tuple", "constant", "bitcast", "after-all", "partition-id",
                "replica-id", "opt-barrier"}


def _computations(hlo: str) -> dict[str, list[str]]:
    comps, name, body = {}, None, []
    for line in hlo.splitlines():
        head = re.match(r"^(?:ENTRY )?%?([\w.\-]+) .*\{$", line)
        if head and not line.startswith(" "):
            name, body = head.group(1), []
        elif line.startswith("}") and name is not None:
            comps[name] = body
            name = None
        elif name is not None and "=" in line:
            body.append(line.strip())
    return comps


def _opcode(instruction: str) -> str:
    # "%name = f32[128,1000]{1,0} fusion(%a, %b), kind=kLoop, ..." -> "fusion"
    rhs = instruction.split("=", 1)[1].strip()
    match = re.search(r"\s([a-z][\w\-]*)\(", " " + rhs)
    return match.group(1) if match else "?"


# Instructions inside a fused computation that do no arithmetic on the elements.
_NOT_ARITHMETIC = _NOT_KERNELS | {"broadcast", "reshape", "slice", "dynamic-slice", "iota"}


def _fused_ops(comps: dict[str, list[str]], instruction: str) -> int:
    """Elementwise operations inside a fusion instruction's fused computation (0 for other kernels)."""
    called = re.search(r"calls=%?([\w.\-]+)", instruction)
    if " fusion(" not in instruction or called is None:
        return 0
    return sum(1 for i in comps.get(called.group(1), []) if _opcode(i) not in _NOT_ARITHMETIC)


def loop_report(hlo: str) -> list[dict]:
    """Per while loop: trip count, kernels per iteration by opcode, carried bytes, and the
    operations inside its fused kernels (``fused_ops``, per element of each kernel's output).

    The kernel count is not what the SPICEprop step's time follows: its kernels are as costly as the
    arithmetic fused into them (the step's CPU time grows with the batch through zero), and XLA
    fuses cheap operations into every consumer, duplicating them. Two forms of the metastable
    switch's rate measured side by side (1 device, batch 200, load ~10): one with its derivative
    written out cut the backward loop from 121 to 107 kernels per 5 steps but its fused
    operations rose from 1326 to 1354, and the step's CPU time stayed the same (0.99x);
    multiplying by reciprocals instead of dividing by the constant resistances, capacitance and
    synaptic time constant halved the divides, after which XLA fused (and duplicated) across the
    divides it had stopped at: 83 kernels but 2488 operations, 3.5x slower (docs/training.md)."""
    comps = _computations(hlo)
    loops = []
    for body_lines in comps.values():
        for ins in body_lines:
            if " while(" not in ins:
                continue
            body = re.search(r"body=%?([\w.\-]+)", ins).group(1)
            trip = re.search(r'"known_trip_count":\{"n":"(\d+)"', ins)
            shapes = re.findall(r"(f32|f64|s32|pred|u32|s64|bf16|f16)\[([\d,]*)\]", ins.split("=", 1)[1].split("while(")[0])
            size = {"f32": 4, "f64": 8, "s32": 4, "pred": 1, "u32": 4, "s64": 8, "bf16": 2, "f16": 2}
            carried = sum(size[t] * int(np.prod([int(d) for d in dims.split(",") if d] or [1])) for t, dims in shapes)
            kinds = collections.Counter(_opcode(i) for i in comps.get(body, []))
            kernels = {k: v for k, v in kinds.items() if k not in _NOT_KERNELS}
            loops.append({"trip_count": int(trip.group(1)) if trip else None, "kernels": sum(kernels.values()),
                          "by_kind": dict(sorted(kernels.items(), key=lambda kv: -kv[1])),
                          "fused_ops": sum(_fused_ops(comps, i) for i in comps.get(body, [])),
                          "carried_bytes": carried})
    return sorted(loops, key=lambda r: -(r["trip_count"] or 0) * r["kernels"])


def _cpu_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        c = time.process_time()
        fn()
        times.append(time.process_time() - c)
    return 1e3 * statistics.median(times)


def profile(name: str, step, args, repeats: int) -> dict:
    jitted = jax.jit(step)
    hlo = jitted.lower(*args).compile().as_text()
    loops = loop_report(hlo)
    ms = _cpu_ms(lambda: jax.block_until_ready(jitted(*args)), repeats)
    per_step = sum((r["trip_count"] or 0) * r["kernels"] for r in loops)
    print(f"\n{name}: CPU {ms:.1f} ms per training step; sum over loops of trips x kernels {per_step} "
          "(a nested loop counted once per outer iteration: a lower bound)")
    for r in loops[:6]:
        top = ", ".join(f"{k} {v}" for k, v in list(r["by_kind"].items())[:5])
        print(f"  loop x{r['trip_count']}: {r['kernels']} kernels/iteration ({top}), {r['fused_ops']} fused operations; "
              f"carries {r['carried_bytes'] / 1e3:.0f} kB")
    return {"cpu_ms_per_training_step": ms, "trips_times_kernels_lower_bound": per_step, "loops": loops}


def batch_sweep(step, params, opt, images, labels, repeats: int, batches=(20, 50, 100, 200)) -> dict:
    """CPU time of the SPICEprop step against the batch, with a least-squares line through it.

    A step bound by the kernel count would cost about the same at every batch (the intercept);
    one bound by the arithmetic of each kernel grows in proportion to the batch (the slope).
    """
    jitted = jax.jit(step)
    rows = []
    for b in batches:
        args = (params, opt.init(params), images[:b], labels[:b])
        rows.append({"batch": b, "cpu_ms": _cpu_ms(lambda: jax.block_until_ready(jitted(*args)), repeats)})
    slope, intercept = np.polyfit([r["batch"] for r in rows], [r["cpu_ms"] for r in rows], 1)
    print("\nSPICEprop step against the batch: " + ", ".join(f"{r['batch']}: {r['cpu_ms']:.1f} ms" for r in rows)
          + f"\n  fit: {intercept:.1f} ms + {1e3 * slope:.0f} us per sample (at batch 200, "
          f"{100 * intercept / (intercept + 200 * slope):.0f} % of the step is the per-step fixed cost)")
    return {"rows": rows, "intercept_ms": float(intercept), "slope_ms_per_sample": float(slope)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "loop_profile.json")
    args = parser.parse_args(argv)

    import surrogate_vs_snntorch as lif

    from memsnn.training.spiceprop import SpicepropConfig, build_spiceprop, spiceprop_loss, spiceprop_trainable
    from memsnn.training.surrogate import build_surrogate, surrogate_loss, surrogate_trainable

    results = {}
    opt = optax.adam(5e-4)
    x, y = lif.images_and_labels(128)
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def gradient_step(loss, params):
        def step(p, o, images, labels):
            value, grads = jax.value_and_grad(loss)(p, images, labels)
            updates, o = opt.update(grads, o, p)
            return optax.apply_updates(p, updates), o, value

        return step, (params, opt.init(params), xj, yj)

    model = build_surrogate(lif.CONFIG, key=jax.random.key(0))
    params, static = eqx.partition(model, surrogate_trainable(model))
    step, step_args = gradient_step(lambda p, a, b: surrogate_loss(eqx.combine(p, static), a, b)[0], params)
    results["memsnn_lif"] = profile("memsnn, LIF tutorial network (surrogate)", step, step_args, args.repeats)

    forms = lif.spyx_steps(model)
    _, p0, _, forward = forms["hand_written"]

    def spyx_loss(p, images, labels):
        v2 = forward(p, images)[1]
        return jnp.sum(jax.vmap(lambda v: optax.softmax_cross_entropy_with_integer_labels(v, labels).mean(),
                                in_axes=1)(v2))

    step, step_args = gradient_step(spyx_loss, p0)
    results["spyx_hand_written_lif"] = profile("Spyx modules, hand-written lax.scan", step, step_args, args.repeats)

    net = build_spiceprop(SpicepropConfig(hidden=(100,)), key=jax.random.key(0))
    params, static = eqx.partition(net, spiceprop_trainable(net))
    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.uniform(0, 1, (200, 784)).astype(np.float32))
    labels = jnp.asarray(rng.integers(0, 10, 200).astype(np.int32))
    step, _ = gradient_step(lambda p, a, b: spiceprop_loss(eqx.combine(p, static), a, b)[0], params)
    results["memsnn_spiceprop"] = profile("memsnn, SPICEprop (1000 steps, batch 200)", step,
                                          (params, opt.init(params), images, labels), args.repeats)
    results["memsnn_spiceprop_batch_sweep"] = batch_sweep(step, params, opt, images, labels, args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"jax": jax.__version__, "devices": [str(d) for d in jax.devices()],
                                    **results}, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
