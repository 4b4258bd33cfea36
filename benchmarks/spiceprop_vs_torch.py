"""One SPICEprop training step: memsnn (JAX, one jitted scan) against PyTorch eager (a Python loop).

The PyTorch side is the way the SPICEprop reference code runs: a Python loop over the 1000 time
steps with autograd recording every operation, in the reference units (mV, mA, kappa = dt/C =
1e4 Ohm). Both sides implement the same network and equations: front end 784-100 (ReLU)-10, the
drive ``0.025 mA * tanh(u / 128 / 0.025)`` arriving at steps 0, 400 and 800 through the alpha
synapse, the MIF neuron in the SpicepropEuler (Gauss-Seidel) order, the loss summed over steps;
float32, batch 200, Adam. A step is forward + backward + Adam update; the median of several steps
after warm-up is reported, and memsnn's compile time separately.

    pip install torch==2.13.0          # or: pip install "memsnn[torch]"
    python benchmarks/spiceprop_vs_torch.py [--repeats 7] [--torch-repeats 3] [--torch-threads 1]

Both sides get the machine's cores their own way: memsnn one JAX device per core, each simulating
half of the batch (what ``memsnn train`` does); PyTorch its intra-op threads (``--torch-threads``,
default 1: on (2,10) tensors extra threads only add synchronisation, and on a busy machine 2
threads made PyTorch's step 20x slower).

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

from memsnn.training import GradientLearner, make_step, replicate, use_cpu_cores

N_DEVICES = use_cpu_cores()  # before the first JAX computation

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import Mesh  # noqa: E402

from memsnn.training.spiceprop import DRIVE_LIMIT_MA, DRIVE_SCALE_MA, SpicepropConfig, build_spiceprop, spiceprop_loss, spiceprop_predict, spiceprop_trainable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "spiceprop_vs_torch.json"
BATCH, N_STEPS, EVENTS, HIDDEN = 200, 1000, (0, 400, 800), 100


def torch_step_fn(torch, hidden: int = HIDDEN, seed: int = 0):
    """A PyTorch eager SPICEprop training step in the reference units (mV, mA, Ohm, steps)."""
    nn, F = torch.nn, torch.nn.functional
    torch.manual_seed(seed)
    front_end = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))  # linear drive units
    optimizer = torch.optim.Adam(front_end.parameters(), lr=1e-3)
    kappa, tau_a, tau_x = 1e4, 100.0, 100.0  # Ohm, steps, steps
    r_on, r_off, v_on, v_off, v_t, e1, e2 = 1e3, 1e5, 110.0, 5.0, 15.0, 0.0, 50.0  # Ohm, mV

    def memristor(x, v):
        return ((1 - x) * torch.sigmoid((v - v_on) / v_t) - x * torch.sigmoid((v_off - v) / v_t)) / tau_x

    def step(images, labels):
        optimizer.zero_grad()
        u = front_end(images)
        drive = DRIVE_LIMIT_MA * torch.tanh(u * DRIVE_SCALE_MA / DRIVE_LIMIT_MA)  # mA
        a = torch.zeros_like(drive)
        current = torch.zeros_like(drive)
        v = torch.zeros_like(drive)
        x1 = torch.full_like(drive, 0.0238)
        x2 = torch.full_like(drive, 0.0238)
        loss = 0.0
        for t in range(N_STEPS):
            a = a - a / tau_a + (drive if t in EVENTS else 0.0)
            current = current + (a - current) / tau_a
            g1 = x1 / r_on + (1 - x1) / r_off
            g2 = x2 / r_on + (1 - x2) / r_off
            v = v + kappa * (current - g1 * (v - e1) - g2 * (v - e2))
            x1 = x1 + memristor(x1, v - e1)
            x2 = x2 + memristor(x2, v - e2)
            loss = loss + F.cross_entropy(v, labels)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7, help="timed memsnn steps (after warm-up)")
    parser.add_argument("--torch-repeats", type=int, default=3, help="timed PyTorch steps (after warm-up)")
    parser.add_argument("--torch-threads", type=int, default=1, help="PyTorch intra-op threads (default 1)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (BATCH, 784)).astype(np.float32)
    labels = rng.integers(0, 10, BATCH).astype(np.int32)

    # memsnn: exactly the step the training loop runs.
    model = build_spiceprop(SpicepropConfig(hidden=(HIDDEN,)), key=jax.random.key(0))
    learner = GradientLearner(spiceprop_loss, spiceprop_predict, optax.adam(1e-3), spiceprop_trainable(model))
    opt_state = learner.init(model)
    mesh = Mesh(np.array(jax.devices()), ("batch",)) if N_DEVICES > 1 else None
    step = make_step(learner, model, mesh)
    model, opt_state = replicate((model, opt_state), mesh)
    x, y = jnp.asarray(images), jnp.asarray(labels)
    state = {"model": model, "opt": opt_state}

    def jax_step():
        state["model"], state["opt"], metrics = step(state["model"], state["opt"], x, y)
        jax.block_until_ready(metrics["loss"])

    t0 = time.perf_counter()
    jax_step()
    compile_s = time.perf_counter() - t0
    jax_step()
    jax_times = _timing.repeat_times(jax_step, args.repeats)

    import torch

    torch.set_num_threads(args.torch_threads)
    torch_step = torch_step_fn(torch)
    tx, ty = torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))
    torch_step(tx, ty)  # warm-up
    torch_times = _timing.repeat_times(lambda: torch_step(tx, ty), args.torch_repeats)

    jax_ms, torch_ms = 1e3 * statistics.median(jax_times), 1e3 * statistics.median(torch_times)
    result = {
        "what": "one SPICEprop training step (forward + backward + Adam), batch 200, 1000 time steps, "
                "784-100 (ReLU)-10 front end, 10 MIF neurons, float32, CPU",
        "memsnn_step_ms": jax_ms,
        "memsnn_step_ms_all": [1e3 * t for t in jax_times],
        "memsnn_compile_s": compile_s,
        "torch_eager_step_ms": torch_ms,
        "torch_eager_step_ms_all": [1e3 * t for t in torch_times],
        "speedup": torch_ms / jax_ms,
        "jax_version": jax.__version__,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "jax_devices": N_DEVICES,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load_average_1min": os.getloadavg()[0],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'implementation':<34}{'step (ms)':>12}")
    print(f"{'memsnn (JAX, jitted lax.scan)':<34}{jax_ms:>12.1f}   ({N_DEVICES} devices; compile "
          f"{compile_s:.1f} s, not included)")
    print(f"{'PyTorch eager (Python time loop)':<34}{torch_ms:>12.1f}   ({args.torch_threads} thread(s))")
    print(f"speed-up: {result['speedup']:.1f}x   (load average {result['load_average_1min']:.1f} on "
          f"{result['cpu_count']} cores; both timed in this run)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
