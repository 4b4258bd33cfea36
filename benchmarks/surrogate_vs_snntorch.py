"""memsnn vs snnTorch 1.0 on the snnTorch tutorial network: same numbers, and training-step speed.

The network of snnTorch's tutorial 5: 784-1000-10 ``Leaky`` neurons (beta 0.95, threshold 1,
reset by subtraction with snnTorch's delayed, detached reset), fast-sigmoid surrogate of slope 25,
the flattened image fed as a constant current at each of 25 steps, loss = cross-entropy of the
output membrane summed over steps, Adam (lr 5e-4), batch 128. In memsnn it is
``memsnn.training.surrogate`` with ``reset_delay=True, detach_reset=True``.

1. Equivalence: the same weights and images go through both; the membrane traces of both layers
   (and the spikes, and the gradients of the loss) are compared in float32.
2. Speed: one training step (forward, backward, Adam update), median of ``--repeats`` steps after
   warm-up, measured in alternating blocks so both see the same machine load; memsnn's compile time
   is reported separately. On the CPU, snnTorch is timed with 1 thread and with torch's default
   thread count (on a small, shared CPU one thread is often faster); the speed-up is against the
   faster one. ``--torch-device cuda`` runs snnTorch on the GPU (memsnn runs on JAX's default
   device, the GPU where jax has CUDA); each step then ends with ``torch.cuda.synchronize()``.
   On a GPU, JAX multiplies float32 matrices in TF32 by default (10-bit mantissa) while torch does
   not, so spikes near threshold flip (12 of 3.2 M) and the traces part by a whole threshold; both are
   therefore run at full float32 precision (``--matmul-precision highest``, the default here).

Needs the optional extra ``pip install memsnn[snntorch]`` (torch 2.13.0, snntorch 1.0.0)::

    python benchmarks/surrogate_vs_snntorch.py            # writes benchmarks/results/surrogate_vs_snntorch.json
    python benchmarks/surrogate_vs_snntorch.py --torch-device cuda --out benchmarks/results/surrogate_vs_snntorch_gpu.json
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

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from memsnn import __version__
from memsnn.training.surrogate import build_surrogate, surrogate_loss, surrogate_trainable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
BETA, THRESHOLD, SLOPE, N_STEPS, LR = 0.95, 1.0, 25.0, 25, 5e-4
CONFIG = dict(architecture="dense", hidden=[1000], beta=BETA, threshold=THRESHOLD, surrogate="fast_sigmoid",
              slope=SLOPE, n_steps=N_STEPS, reset_delay=True, detach_reset=True, loss="ce_membrane",
              dtype="float32")


def images_and_labels(batch: int, seed: int = 0):
    """MNIST training images if available (bundled subset), else uniform noise, as float32."""
    try:
        from memsnn.data import load_dataset

        x, y = load_dataset("mnist", "train", source="bundled")
        return np.asarray(x[:batch], np.float32), np.asarray(y[:batch], np.int64)
    except Exception:  # noqa: BLE001 - the comparison does not need real digits
        rng = np.random.default_rng(seed)
        return rng.random((batch, 784), dtype=np.float32), rng.integers(0, 10, batch)


def snntorch_net(model, device: str = "cpu"):
    """The tutorial's ``Net`` with memsnn's weights copied in."""
    import snntorch as snn
    import torch
    from snntorch import surrogate
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 1000)
            self.lif1 = snn.Leaky(beta=BETA, threshold=THRESHOLD, spike_grad=surrogate.fast_sigmoid(slope=SLOPE))
            self.fc2 = nn.Linear(1000, 10)
            self.lif2 = snn.Leaky(beta=BETA, threshold=THRESHOLD, spike_grad=surrogate.fast_sigmoid(slope=SLOPE))

        def forward(self, x):
            mem1 = self.lif1.init_leaky()
            mem2 = self.lif2.init_leaky()
            spk1_rec, mem1_rec, spk2_rec, mem2_rec = [], [], [], []
            for _ in range(N_STEPS):
                cur1 = self.fc1(x)
                spk1, mem1 = self.lif1(cur1, mem1)
                cur2 = self.fc2(spk1)
                spk2, mem2 = self.lif2(cur2, mem2)
                spk1_rec.append(spk1)
                mem1_rec.append(mem1)
                spk2_rec.append(spk2)
                mem2_rec.append(mem2)
            return [torch.stack(r, dim=1) for r in (spk1_rec, mem1_rec, spk2_rec, mem2_rec)]

    net = Net()
    with torch.no_grad():
        for fc, array in ((net.fc1, model.arrays[0]), (net.fc2, model.arrays[1])):
            fc.weight.copy_(torch.from_numpy(np.array(array.weight)))
            fc.bias.copy_(torch.from_numpy(np.array(array.bias)))
    return net.to(device)


def snntorch_loss(net, x, y):
    import torch

    _, _, _, mem2 = net(x)
    ce = torch.nn.CrossEntropyLoss()
    return sum(ce(mem2[:, k], y) for k in range(N_STEPS)), mem2


def compare(model, x, y, device: str = "cpu") -> dict:
    """Membrane traces, spikes and gradients of memsnn and snnTorch on the same weights and inputs."""
    import torch

    spikes, membranes = eqx.filter_jit(lambda m, x: m.run(x))(model, jnp.asarray(x))
    net = snntorch_net(model, device)
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    spk1, mem1, spk2, mem2 = (r.detach().cpu().numpy() for r in net(xt))
    out = {}
    for name, ours, theirs in (("hidden_membrane", membranes[0], mem1), ("output_membrane", membranes[1], mem2)):
        ours = np.asarray(ours)
        out[name] = {"max_abs_diff": float(np.max(np.abs(ours - theirs))),
                     "max_abs_value": float(np.max(np.abs(theirs)))}
    for name, ours, theirs in (("hidden_spikes", spikes[0], spk1), ("output_spikes", spikes[1], spk2)):
        ours = np.asarray(ours)
        out[name] = {"mismatches": int(np.sum(ours != theirs)), "total": int(ours.size),
                     "spike_count": int(theirs.sum())}

    params, static = eqx.partition(model, surrogate_trainable(model))
    grads = eqx.filter_jit(eqx.filter_grad(
        lambda p: surrogate_loss(eqx.combine(p, static), jnp.asarray(x), jnp.asarray(y))[0]))(params)
    net.zero_grad()
    snntorch_loss(net, xt, yt)[0].backward()
    for name, ours, fc in (("grad_fc1_weight", grads.arrays[0].weight, net.fc1),
                           ("grad_fc2_weight", grads.arrays[1].weight, net.fc2)):
        theirs = fc.weight.grad.cpu().numpy()
        out[name] = {"max_abs_diff": float(np.max(np.abs(np.asarray(ours) - theirs))),
                     "max_abs_value": float(np.max(np.abs(theirs)))}
    return out



def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=10, help="timed steps per block")
    parser.add_argument("--blocks", type=int, default=3, help="alternating measurement blocks")
    parser.add_argument("--torch-device", default="cpu", help="where snnTorch runs: cpu or cuda")
    parser.add_argument("--matmul-precision", default="highest", choices=("default", "high", "highest"),
                        help="JAX's float32 matmul precision (GPU: default = TF32; torch uses full float32)")
    parser.add_argument("--out", default=str(RESULTS / "surrogate_vs_snntorch.json"))
    args = parser.parse_args(argv)

    import snntorch
    import torch

    jax.config.update("jax_default_matmul_precision", args.matmul_precision)
    torch.backends.cuda.matmul.allow_tf32 = args.matmul_precision != "highest"

    x, y = images_and_labels(args.batch)
    model = build_surrogate(CONFIG, key=jax.random.key(0))
    device = args.torch_device
    equivalence = compare(model, x, y, device)

    # memsnn: the shared loop's step (value_and_grad of the trainable part, Adam update).
    params, static = eqx.partition(model, surrogate_trainable(model))
    opt = optax.adam(LR, b1=0.9, b2=0.999)
    opt_state = opt.init(params)

    @eqx.filter_jit
    def memsnn_step(params, opt_state, images, labels):
        def objective(p):
            return surrogate_loss(eqx.combine(p, static), images, labels)

        (loss, _), grads = eqx.filter_value_and_grad(objective, has_aux=True)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, loss

    xj, yj = jnp.asarray(x), jnp.asarray(y)
    state = {"params": params, "opt": opt_state}

    def run_memsnn():
        state["params"], state["opt"], loss = memsnn_step(state["params"], state["opt"], xj, yj)
        loss.block_until_ready()

    t0 = time.perf_counter()
    run_memsnn()
    compile_s = time.perf_counter() - t0

    net = snntorch_net(model, device)
    optimizer = torch.optim.Adam(net.parameters(), lr=LR, betas=(0.9, 0.999))
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)

    def run_snntorch():
        loss, _ = snntorch_loss(net, xt, yt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()  # CUDA kernels run asynchronously: time the finished step

    default_threads = torch.get_num_threads()
    ours, theirs = [], {}
    # On a GPU the CPU thread count only feeds kernel launches: time torch's default alone.
    for threads in sorted({1, default_threads} if device == "cpu" else {default_threads}):
        torch.set_num_threads(threads)
        run_snntorch()  # warm-up (allocator, thread pool)
        run_memsnn()
        theirs[threads] = []
        for _ in range(args.blocks):
            theirs[threads] += _timing.repeat_times(run_snntorch, args.repeats)
            ours += _timing.repeat_times(run_memsnn, args.repeats)
    torch.set_num_threads(default_threads)
    by_threads = {n: 1e3 * statistics.median(t) for n, t in theirs.items()}
    best_threads = min(by_threads, key=by_threads.get)
    ours_ms, theirs_ms = 1e3 * statistics.median(ours), by_threads[best_threads]
    record = {
        "benchmark": "training step of the snnTorch tutorial network (784-1000-10 Leaky, 25 steps)",
        "config": {**CONFIG, "batch": args.batch, "optimizer": f"Adam lr={LR}"},
        "memsnn_step_ms_median": ours_ms,
        "snntorch_step_ms_median": theirs_ms,
        "snntorch_threads": best_threads,
        "snntorch_step_ms_median_by_threads": by_threads,
        "speedup": theirs_ms / ours_ms,
        "memsnn_compile_s": compile_s,
        "memsnn_step_ms_all": [1e3 * t for t in ours],
        "snntorch_step_ms_all_by_threads": {n: [1e3 * t for t in ts] for n, ts in theirs.items()},
        "equivalence_float32": equivalence,
        "versions": {"memsnn": __version__, "jax": jax.__version__, "torch": torch.__version__,
                     "snntorch": snntorch.__version__},
        "devices": {"memsnn": str(jax.devices()[0]), "snntorch": device},
        "matmul_precision": args.matmul_precision,
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "torch_default_threads": default_threads, "load_average": os.getloadavg()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")

    print(f"{'':28s}{'memsnn':>12s}{'snnTorch':>12s}")
    print(f"{'train step, median (ms)':28s}{ours_ms:12.1f}{theirs_ms:12.1f}  (snnTorch on {best_threads} thread(s))")
    for n, ms in by_threads.items():
        print(f"{f'  snnTorch, {n} thread(s)':28s}{'':12s}{ms:12.1f}")
    print(f"{'compile (s)':28s}{compile_s:12.1f}{'-':>12s}")
    print(f"speed-up: {theirs_ms / ours_ms:.1f}x (batch {args.batch}, {N_STEPS} steps, "
          f"{len(ours)} steps each, load average {os.getloadavg()[0]:.1f})")
    print("float32 equivalence (same weights and images):")
    for name, row in equivalence.items():
        print(f"  {name:18s} " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                          for k, v in row.items()))
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
