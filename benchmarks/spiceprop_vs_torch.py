"""One SPICEprop training step: memsnn (JAX, one jitted scan) against PyTorch eager and torch.compile.

The PyTorch side is the way the SPICEprop reference code runs: a Python loop over the 1000 time
steps with autograd recording every operation, in the reference units (mV, mA, kappa = dt/C =
1e4 Ohm). Both sides implement the same network and equations: front end 784-100 (ReLU)-10, the
drive ``0.025 mA * tanh(u / 128 / 0.025)`` arriving at steps 0, 400 and 800 through the alpha
synapse, the MIF neuron in the SpicepropEuler (Gauss-Seidel) order, the loss summed over steps;
float32, batch 200, Adam. A step is forward + backward + Adam update; the median of several steps
after warm-up is reported, and the compile times separately. The second peer is what a
performance-minded PyTorch user would write: the per-step update ``torch.compile``d (one fused
forward and backward kernel per time step), still driven by the Python time loop. All three are
timed side by side, in alternating blocks, and the output membrane traces of all three are compared
on the same weights.

    pip install torch==2.13.0          # or: pip install "memsnn[torch]"
    python benchmarks/spiceprop_vs_torch.py [--repeats 5] [--blocks 3] [--torch-threads 1]

Both sides get the machine's cores their own way: memsnn one JAX device per core, each simulating
its share of the batch (what ``memsnn train`` does; ``--jax-devices 1`` for one device); PyTorch its intra-op threads
(``--torch-threads``, default 1: on (2,10) tensors extra threads only add synchronisation, and on
a busy machine 2 threads made PyTorch's step 20x slower).

Writes ``benchmarks/results/spiceprop_vs_torch.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from memsnn.training import GradientLearner, data_mesh, make_step, replicate, use_cpu_cores

# Before the first JAX computation: the device count is fixed when JAX starts.
_devices_option = argparse.ArgumentParser(add_help=False)
_devices_option.add_argument("--jax-devices", type=int, default=None)
N_DEVICES = use_cpu_cores(_devices_option.parse_known_args()[0].jax_devices)

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from memsnn.training.spiceprop import DRIVE_LIMIT_MA, DRIVE_SCALE_MA, SpicepropConfig, build_spiceprop, spiceprop_loss, spiceprop_predict, spiceprop_trainable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "spiceprop_vs_torch.json"
BATCH, N_STEPS, EVENTS, HIDDEN = 200, 1000, (0, 400, 800), 100


def torch_step_fn(torch, hidden: int = HIDDEN, seed: int = 0, compiled: bool = False, trace: bool = False):
    """A PyTorch SPICEprop training step in the reference units (mV, mA, Ohm, steps).

    ``compiled=False``: eager, as the reference code. ``compiled=True``: the per-step update (the
    synapse, the MIF, both memristors and the step's loss term) is one ``torch.compile``d function,
    called from the Python time loop (autograd through the compiled forward and backward); the
    impulse is an argument (the drive or zeros), so one graph serves every step. ``trace=True``
    makes the step return the membrane potential ``(batch, steps, 10)`` (mV) too.
    """
    nn, F = torch.nn, torch.nn.functional
    torch.manual_seed(seed)
    front_end = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))  # linear drive units
    optimizer = torch.optim.Adam(front_end.parameters(), lr=1e-3)
    kappa, tau_a, tau_x = 1e4, 100.0, 100.0  # Ohm, steps, steps
    r_on, r_off, v_on, v_off, v_t, e1, e2 = 1e3, 1e5, 110.0, 5.0, 15.0, 0.0, 50.0  # Ohm, mV

    def memristor(x, v):
        return ((1 - x) * torch.sigmoid((v - v_on) / v_t) - x * torch.sigmoid((v_off - v) / v_t)) / tau_x

    def update(a, current, v, x1, x2, impulse, labels):
        a = a - a / tau_a + impulse
        current = current + (a - current) / tau_a
        g1 = x1 / r_on + (1 - x1) / r_off
        g2 = x2 / r_on + (1 - x2) / r_off
        v = v + kappa * (current - g1 * (v - e1) - g2 * (v - e2))
        x1 = x1 + memristor(x1, v - e1)
        x2 = x2 + memristor(x2, v - e2)
        return a, current, v, x1, x2, F.cross_entropy(v, labels)

    if compiled:
        update = torch.compile(update, dynamic=False, fullgraph=True)

    def step(images, labels):
        optimizer.zero_grad()
        u = front_end(images)
        drive = DRIVE_LIMIT_MA * torch.tanh(u * DRIVE_SCALE_MA / DRIVE_LIMIT_MA)  # mA
        a = torch.zeros_like(drive)
        current = torch.zeros_like(drive)
        v = torch.zeros_like(drive)
        x1 = torch.full_like(drive, 0.0238)
        x2 = torch.full_like(drive, 0.0238)
        no_impulse = torch.zeros_like(drive)
        loss, vs = 0.0, []
        for t in range(N_STEPS):
            a, current, v, x1, x2, term = update(a, current, v, x1, x2, drive if t in EVENTS else no_impulse, labels)
            loss = loss + term
            if trace:
                vs.append(v.detach())
        loss.backward()
        optimizer.step()
        return (float(loss.detach()), torch.stack(vs, 1)) if trace else float(loss.detach())

    step.front_end = front_end
    return step



def copy_weights(torch, step, model) -> None:
    """memsnn's front-end weights into the PyTorch step's ``front_end`` (the same network)."""
    layers = [m for m in step.front_end if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for linear, dense in zip(layers, model.front_end, strict=True):
            linear.weight.copy_(torch.from_numpy(np.array(dense.weight)))
            linear.bias.copy_(torch.from_numpy(np.array(dense.bias)))


def compare_traces(torch, model, images, labels) -> dict:
    """Output membrane potentials (mV) of memsnn, PyTorch eager and torch.compile on the same weights."""
    ours = np.asarray(eqx.filter_jit(lambda m, x: m.membrane_potentials(x))(model, jnp.asarray(images)))
    tx, ty = torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))
    out = {"max_abs_value_mV": float(np.max(np.abs(ours)))}
    for name, compiled in (("torch_eager", False), ("torch_compile", True)):
        step = torch_step_fn(torch, compiled=compiled, trace=True)
        copy_weights(torch, step, model)
        _, trace = step(tx, ty)
        out[f"{name}_max_abs_diff_mV"] = float(np.max(np.abs(trace.numpy() - ours)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed memsnn steps per block")
    parser.add_argument("--torch-repeats", type=int, default=1, help="timed PyTorch eager steps per block")
    parser.add_argument("--compile-repeats", type=int, default=2, help="timed torch.compile steps per block")
    parser.add_argument("--blocks", type=int, default=3, help="alternating measurement blocks")
    parser.add_argument("--torch-threads", type=int, default=1, help="PyTorch intra-op threads (default 1)")
    parser.add_argument("--jax-devices", type=int, default=None,
                        help="JAX CPU devices the batch is split over (default: one per core, as memsnn train)")
    parser.add_argument("--unroll", type=int, default=None,
                        help="memsnn's time steps per loop iteration where the readout is differentiated in "
                             "reverse mode (default: SpicepropConfig's, 5); since session 10 the step here "
                             "(forward sensitivities) runs one step per iteration whatever it says")
    parser.add_argument("--checkpoint-every", type=int, default=None,
                        help="memsnn's checkpointed chunk length in reverse mode (default: SpicepropConfig's, 5); "
                             "like --unroll, no longer used by the forward-sensitivity step timed here")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (BATCH, 784)).astype(np.float32)
    labels = rng.integers(0, 10, BATCH).astype(np.int32)

    # memsnn: exactly the step the training loop runs (the batch sharded over all devices).
    loop = {k: v for k, v in (("unroll", args.unroll), ("checkpoint_every", args.checkpoint_every)) if v is not None}
    model = build_spiceprop(SpicepropConfig(hidden=(HIDDEN,), **loop), key=jax.random.key(0))
    learner = GradientLearner(spiceprop_loss, spiceprop_predict, optax.adam(1e-3), spiceprop_trainable(model))
    mesh = data_mesh()
    step = make_step(learner, model, mesh)
    state = dict(zip(("model", "opt"), replicate((model, learner.init(model)), mesh)))

    def jax_step():
        state["model"], state["opt"], metrics = step(state["model"], state["opt"], images, labels)
        jax.block_until_ready(metrics["loss"])

    t0 = time.perf_counter()
    jax_step()
    compile_s = time.perf_counter() - t0

    import torch

    torch.set_num_threads(args.torch_threads)
    equivalence = compare_traces(torch, model, images, labels)
    tx, ty = torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))
    eager = torch_step_fn(torch)
    compiled = torch_step_fn(torch, compiled=True)
    t0 = time.perf_counter()
    compiled(tx, ty)  # compiles the per-step forward and backward
    torch_compile_s = time.perf_counter() - t0
    eager(tx, ty)  # warm-up
    jax_step()
    times = {"memsnn": [], "torch_eager": [], "torch_compile": []}
    cpu = {name: [] for name in times}
    # Side by side: alternating blocks, so all three see the same machine load.
    for _ in range(args.blocks):
        _timing.wall_and_cpu(jax_step, args.repeats, times["memsnn"], cpu["memsnn"])
        _timing.wall_and_cpu(lambda: eager(tx, ty), args.torch_repeats, times["torch_eager"], cpu["torch_eager"])
        _timing.wall_and_cpu(lambda: compiled(tx, ty), args.compile_repeats, times["torch_compile"], cpu["torch_compile"])
    ms = {name: 1e3 * statistics.median(t) for name, t in times.items()}
    cpu_ms = {name: 1e3 * statistics.median(t) for name, t in cpu.items()}
    result = {
        "what": "one SPICEprop training step (forward + backward + Adam), batch 200, 1000 time steps, "
                "784-100 (ReLU)-10 front end, 10 MIF neurons, float32, CPU; timed in alternating blocks",
        "memsnn_step_ms": ms["memsnn"],
        "memsnn_compile_s": compile_s,
        "torch_eager_step_ms": ms["torch_eager"],
        "torch_compile_step_ms": ms["torch_compile"],
        "torch_compile_compile_s": torch_compile_s,
        "speedup": ms["torch_eager"] / ms["memsnn"],
        "speedup_vs_torch_compile": ms["torch_compile"] / ms["memsnn"],
        "step_ms_all": {name: [1e3 * x for x in t] for name, t in times.items()},
        "cpu_ms_median": cpu_ms,
        "speedup_cpu_time": {"torch_eager": cpu_ms["torch_eager"] / cpu_ms["memsnn"],
                             "torch_compile": cpu_ms["torch_compile"] / cpu_ms["memsnn"]},
        "traces_same_weights": equivalence,
        "jax_version": jax.__version__,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "jax_devices": N_DEVICES,
        "memsnn_unroll": model.config.unroll,
        "memsnn_checkpoint_every": model.config.checkpoint_every,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load_average": os.getloadavg(),
    }
    import registry

    result["conditions"] = registry.run_conditions(
        data=f"random inputs, batch {BATCH}, {N_STEPS} steps, float32", seeds="0 (weights and inputs)",
        selection="none", load_before=load_before,
        devices={"memsnn": f"{N_DEVICES} CPU device(s)", "torch": f"{torch.get_num_threads()} thread(s)"})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'implementation':<44}{'step (ms)':>12}")
    print(f"{'memsnn (JAX, jitted lax.scan)':<44}{ms['memsnn']:>12.1f}   ({N_DEVICES} devices; compile "
          f"{compile_s:.1f} s, not included)")
    print(f"{'PyTorch eager (Python time loop)':<44}{ms['torch_eager']:>12.1f}   ({args.torch_threads} thread(s))")
    print(f"{'torch.compile per-step update (Python loop)':<44}{ms['torch_compile']:>12.1f}   (compile "
          f"{torch_compile_s:.1f} s, not included)")
    print(f"memsnn speed-up: {result['speedup']:.1f}x vs eager, {result['speedup_vs_torch_compile']:.1f}x vs "
          f"torch.compile   (load average {result['load_average'][0]:.1f} on {result['cpu_count']} cores)")
    print(f"CPU time per step (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in cpu_ms.items())
          + f"; memsnn uses {result['speedup_cpu_time']['torch_eager']:.1f}x less CPU than eager, "
          f"{result['speedup_cpu_time']['torch_compile']:.1f}x less than torch.compile")
    print("output membrane traces on the same weights, max |diff| (mV): "
          + ", ".join(f"{k} {v:.3g}" for k, v in equivalence.items()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
