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


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


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



def spyx_modules(model):
    """Spyx 1.0 (flax.nnx) modules of the tutorial network, with memsnn's weights copied in.

    ``spyx.nn.LIF`` is snnTorch's ``Leaky`` with the delayed reset (``V = beta V + x - H(V_prev -
    threshold) threshold``); Spyx's ``superspike(k)`` surrogate, ``1 / (1 + k|x|)^2``, is snnTorch's
    ``fast_sigmoid(slope=k)``. The decay is a constant (``nnx.Variable``, not a trained ``Param``),
    as in the snnTorch network. One difference: a Spyx LIF emits the spike of the *previous*
    membrane (the one its reset uses), so in ``Sequential`` the hidden spikes reach the output
    layer one step later than in snnTorch and memsnn (see :func:`spyx_steps`).
    """
    import spyx.axn
    import spyx.nn
    from flax import nnx

    rngs = nnx.Rngs(0)
    layers = []
    for array, n_out in ((model.arrays[0], 1000), (model.arrays[1], 10)):
        fc = nnx.Linear(array.weight.shape[1], n_out, rngs=rngs)
        fc.kernel.value = jnp.asarray(array.weight).T  # nnx: (in, out)
        fc.bias.value = jnp.asarray(array.bias)
        lif = spyx.nn.LIF((n_out,), beta=BETA, threshold=THRESHOLD, activation=spyx.axn.superspike(SLOPE), rngs=rngs)
        lif.beta = nnx.Variable(jnp.asarray(BETA, jnp.float32))
        layers += [fc, lif]
    return layers


def spyx_steps(model):
    """Two Spyx forms of the forward pass ``images -> (hidden membrane, output membrane, output trace)``.

    * ``"documented"``: Spyx's documented idiom, ``spyx.nn.run`` of a ``spyx.nn.Sequential`` over a
      time-major input (the image repeated ``N_STEPS`` times), the last LIF wrapped to output its
      membrane (the loss reads it). Its hidden spikes arrive one step later (see
      :func:`spyx_modules`), so its output layer differs from snnTorch's; the hidden layer is the same.
    * ``"hand_written"``: Spyx's modules in a hand-written ``lax.scan`` that applies the first
      ``Linear`` once (the input is constant) and feeds the output layer the spike of the hidden
      membrane just computed, ``lif1.spike(V1 - threshold)``: snnTorch's network exactly.

    Returns ``{form: (graphdef, params, rest, forward)}`` with ``forward(params, images) ->
    (hidden membrane (B, T, 1000), output membrane (B, T, 10), hidden spikes (B, T, 1000))``.
    """
    import spyx.nn
    from flax import nnx

    class MembraneOut(nnx.Module):
        """A Spyx LIF that outputs its membrane instead of its spikes (for a membrane loss)."""

        def __init__(self, lif):
            self.lif = lif

        def __call__(self, x, v):
            _, v = self.lif(x, v)
            return v, v

        def initial_state(self, batch_size):
            return self.lif.initial_state(batch_size)

    forms = {}
    fc1, lif1, fc2, lif2 = spyx_modules(model)
    documented = spyx.nn.Sequential(fc1, lif1, fc2, MembraneOut(lif2))
    graphdef, params, rest = nnx.split(documented, nnx.Param, ...)

    def run_documented(params, images):
        net = nnx.merge(graphdef, params, rest)
        x = jnp.broadcast_to(images, (N_STEPS,) + images.shape)  # time-major, as Spyx's examples
        v2, states = spyx.nn.run(net, x)
        return None, jnp.swapaxes(v2, 0, 1), None

    forms["documented"] = (graphdef, params, rest, run_documented)

    fc1, lif1, fc2, lif2 = spyx_modules(model)
    modules = nnx.List([fc1, lif1, fc2, lif2]) if hasattr(nnx, "List") else [fc1, lif1, fc2, lif2]
    graphdef2, params2, rest2 = nnx.split(modules, nnx.Param, ...)

    def run_hand_written(params, images):
        fc1, lif1, fc2, lif2 = nnx.merge(graphdef2, params2 if params is None else params, rest2)
        current = fc1(images)  # constant over time: one product

        def step(carry, _):
            v1, v2 = carry
            _, v1 = lif1(current, v1)
            s1 = lif1.spike(v1 - lif1.threshold)  # snnTorch's output spike: of the new membrane
            _, v2 = lif2(fc2(s1), v2)
            return (v1, v2), (v1, v2, s1)

        batch = images.shape[0]
        _, (v1, v2, s1) = jax.lax.scan(step, (lif1.initial_state(batch), lif2.initial_state(batch)), None,
                                       length=N_STEPS)
        return jnp.swapaxes(v1, 0, 1), jnp.swapaxes(v2, 0, 1), jnp.swapaxes(s1, 0, 1)

    forms["hand_written"] = (graphdef2, params2, rest2, run_hand_written)
    return forms


def spyx_compare(model, x, forms) -> dict:
    """Spyx's traces against memsnn's on the same weights and images (float32)."""
    spikes, membranes = eqx.filter_jit(lambda m, x: m.run(x))(model, jnp.asarray(x))
    ours_v1, ours_v2, ours_s1 = (np.asarray(a) for a in (membranes[0], membranes[1], spikes[0]))
    out = {}
    for form, (_, params, _, forward) in forms.items():
        v1, v2, s1 = jax.jit(forward)(params, jnp.asarray(x))
        row = {"output_membrane_max_abs_diff": float(np.max(np.abs(np.asarray(v2) - ours_v2))),
               "output_membrane_max_abs_value": float(np.max(np.abs(ours_v2)))}
        if v1 is not None:
            row["hidden_membrane_max_abs_diff"] = float(np.max(np.abs(np.asarray(v1) - ours_v1)))
            row["hidden_spike_mismatches"] = int(np.sum(np.asarray(s1) != ours_s1))
        else:
            row["note"] = ("Spyx's Sequential feeds the output layer the hidden spikes one step later than "
                           "snnTorch and memsnn: a different network from the second step on")
        out[form] = row
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=10, help="timed steps per block")
    parser.add_argument("--blocks", type=int, default=3, help="alternating measurement blocks")
    parser.add_argument("--torch-device", default="cpu", help="where snnTorch runs: cpu or cuda")
    parser.add_argument("--matmul-precision", default="highest", choices=("default", "high", "highest"),
                        help="JAX's float32 matmul precision (GPU: default = TF32; torch uses full float32)")
    parser.add_argument("--no-spyx", action="store_true", help="leave Spyx out")
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

    # Spyx: the same loss (cross-entropy of the output membrane, summed over steps) and Adam.
    spyx_runs, spyx_equivalence = {}, {}
    if not args.no_spyx:
        forms = spyx_steps(model)
        spyx_equivalence = spyx_compare(model, x, forms)
        for form, (_, p0, _, forward) in forms.items():
            def spyx_loss(p, images, labels, forward=forward):
                v2 = forward(p, images)[1]
                return jnp.sum(jax.vmap(lambda v: optax.softmax_cross_entropy_with_integer_labels(v, labels).mean(),
                                        in_axes=1)(v2))

            def spyx_step(p, o, images, labels, spyx_loss=spyx_loss):
                loss, grads = jax.value_and_grad(spyx_loss)(p, images, labels)
                updates, o = opt.update(grads, o, p)
                return optax.apply_updates(p, updates), o, loss

            spyx_state = {"p": p0, "o": opt.init(p0)}
            jitted = jax.jit(spyx_step)

            def run_spyx(jitted=jitted, spyx_state=spyx_state):
                spyx_state["p"], spyx_state["o"], loss = jitted(spyx_state["p"], spyx_state["o"], xj, yj)
                loss.block_until_ready()

            t0 = time.perf_counter()
            run_spyx()
            spyx_runs[form] = {"run": run_spyx, "compile_s": time.perf_counter() - t0, "times": [], "cpu": []}

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
    ours, theirs, ours_cpu, theirs_cpu = [], {}, [], {}
    # On a GPU the CPU thread count only feeds kernel launches: time torch's default alone.
    for threads in sorted({1, default_threads} if device == "cpu" else {default_threads}):
        torch.set_num_threads(threads)
        run_snntorch()  # warm-up (allocator, thread pool)
        run_memsnn()
        theirs[threads], theirs_cpu[threads] = [], []
        for _ in range(args.blocks):
            _timing.wall_and_cpu(run_snntorch, args.repeats, theirs[threads], theirs_cpu[threads])
            _timing.wall_and_cpu(run_memsnn, args.repeats, ours, ours_cpu)
            for spyx_run in spyx_runs.values():  # side by side with memsnn, block after block
                _timing.wall_and_cpu(spyx_run["run"], args.repeats, spyx_run["times"], spyx_run["cpu"])
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
        "cpu_ms_median": {"memsnn": 1e3 * statistics.median(ours_cpu),
                          **{f"snntorch_{n}_threads": 1e3 * statistics.median(t) for n, t in theirs_cpu.items()},
                          **{f"spyx_{form}": 1e3 * statistics.median(r["cpu"]) for form, r in spyx_runs.items()}},
        "memsnn_step_ms_all": [1e3 * t for t in ours],
        "snntorch_step_ms_all_by_threads": {n: [1e3 * t for t in ts] for n, ts in theirs.items()},
        "equivalence_float32": equivalence,
        "spyx": {form: {"step_ms_median": 1e3 * statistics.median(r["times"]),
                        "memsnn_speedup": 1e3 * statistics.median(r["times"]) / ours_ms,
                        "memsnn_speedup_cpu_time": statistics.median(r["cpu"]) / statistics.median(ours_cpu),
                        "compile_s": r["compile_s"], "step_ms_all": [1e3 * t for t in r["times"]],
                        "equivalence_float32": spyx_equivalence[form]}
                 for form, r in spyx_runs.items()},
        "versions": {"memsnn": __version__, "jax": jax.__version__, "torch": torch.__version__,
                     "snntorch": snntorch.__version__, "spyx": _version("spyx"), "flax": _version("flax")},
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
    for form, r in record["spyx"].items():
        print(f"{f'Spyx, {form}':28s}{'':12s}{r['step_ms_median']:12.1f}  (memsnn {r['memsnn_speedup']:.2f}x faster; "
              f"compile {r['compile_s']:.1f} s)")
        print(f"  {'':26s}" + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                      for k, v in r["equivalence_float32"].items() if k != "note"))
    print(f"speed-up: {theirs_ms / ours_ms:.1f}x (batch {args.batch}, {N_STEPS} steps, "
          f"{len(ours)} steps each, load average {os.getloadavg()[0]:.1f})")
    print("CPU time per step (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in record["cpu_ms_median"].items()))
    print("float32 equivalence (same weights and images):")
    for name, row in equivalence.items():
        print(f"  {name:18s} " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                          for k, v in row.items()))
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
