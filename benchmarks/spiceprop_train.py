"""SPICEprop on the full MNIST / Fashion-MNIST: test accuracy per epoch, wall time, peak memory.

    MEMSNN_DATA_DIR=/path/to/data python benchmarks/spiceprop_train.py --dataset mnist
    MEMSNN_DATA_DIR=/path/to/data python benchmarks/spiceprop_train.py --dataset fashion-mnist
    python benchmarks/spiceprop_train.py --memory          # peak memory of one training step

Training runs through :func:`memsnn.training.train` (what ``memsnn train`` runs), with a checkpoint
in ``--run-dir``: an interrupted benchmark continues where it stopped with ``--resume``. After every
epoch ``benchmarks/results/spiceprop_<dataset>.json`` is rewritten with the history so far (test
accuracy, loss, epoch wall time, peak memory), the epoch that first reached ``--target``, and the
machine's load average (the 2 cores may be shared, which makes timings noisy).

``--memory`` measures, in a fresh process per setting, the peak resident memory of compiling and
running one training step (batch 200, 1000 steps) with and without time-step checkpointing, and
XLA's own estimate of the step's temporary buffers; results go to
``benchmarks/results/spiceprop_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import check_result, commit, versions  # noqa: E402
from registry import run_conditions  # noqa: E402

RESULTS = Path(__file__).parent / "results"
TARGETS = {"mnist": 0.98, "fashion-mnist": 0.87}
PAPER = {"mnist": 0.9758, "fashion-mnist": 0.7526}


def _write(path: Path, payload: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, path)


def run_training(args) -> None:
    from memsnn.training import CHECKPOINT_NAME, read_checkpoint_header, train, use_cpu_cores

    n_devices = use_cpu_cores()
    out = args.out or RESULTS / f"spiceprop_{args.dataset}{args.tag}.json"
    run_dir = args.run_dir or Path("runs") / f"bench-spiceprop-{args.dataset}{args.tag}"
    target = TARGETS[args.dataset] if args.target is None else args.target
    model = {"hidden": args.hidden, "output_activation": args.output_activation}
    if args.drive_limit is not None:
        model["drive_limit"] = args.drive_limit or None
    if args.drive_bias is not None:
        model["drive_bias"] = args.drive_bias
    if args.checkpoint_every is not None:
        model["checkpoint_every"] = args.checkpoint_every or None
    configuration = {"dataset": args.dataset, "model": model, "epochs": args.epochs, "batch_size": args.batch_size,
                     "lr": args.lr, "weight_decay": args.weight_decay, "seed": args.seed,
                     "augment_shift": args.augment_shift}
    check_result(out, configuration)  # no result of another configuration replaced
    started = time.perf_counter()
    checkpoint = run_dir / CHECKPOINT_NAME
    history: list[dict] = read_checkpoint_header(checkpoint)["history"] if args.resume and checkpoint.exists() else []
    loads: list[float] = []

    def report(row=None, done=False):
        if row is not None:
            history.append(row)
            loads.append(os.getloadavg()[0])
            print(f"epoch {row['epoch']}: loss {row['train_loss']:.1f}, train {100 * row['train_acc']:.2f}%, "
                  f"test {100 * row['test_acc']:.2f}%, {row['epoch_time_s']:.0f} s, load {loads[-1]:.1f}",
                  flush=True)
        reached = next((r["epoch"] for r in history if (r["test_acc"] or 0) >= target), None)
        wall = sum(r["epoch_time_s"] for r in history)
        _write(out, {
            "dataset": args.dataset,
            "source": "full",
            "network": f"784-{'-'.join(f'{h} (ReLU)' for h in args.hidden)}-10 "
                       f"({'ReLU' if args.output_activation == 'relu' else 'linear'} drive units"
                       f"{'' if args.drive_bias is None else f', drive bias initialised to {args.drive_bias:g}'}) "
                       "-> 10 MIF neurons through alpha synapses",
            "command": " ".join(["python"] + sys.argv),
            "configuration": configuration,
            "commit": commit(),
            "versions": versions(),
            "n_steps": 1000,
            "epochs_planned": args.epochs,
            "epochs_done": len(history),
            "finished": done,
            "target_test_acc": target,
            "paper_test_acc": PAPER[args.dataset],
            "first_epoch_reaching_target": reached,
            "wall_time_to_target_s": None if reached is None else sum(r["epoch_time_s"] for r in history[:reached]),
            "final_test_acc": history[-1]["test_acc"] if history else None,
            "best_test_acc": max((r["test_acc"] for r in history), default=None),
            "wall_time_s": wall,
            "peak_rss_mb": max((r["peak_rss_mb"] for r in history), default=None),
            "jax_devices": n_devices,
            "cpu_count": os.cpu_count(),
            "load_average_1min_per_epoch": loads,
            "run_dir": str(run_dir),
            "config": read_checkpoint_header(checkpoint)["config"] if checkpoint.exists() else None,
            "history": history,
            "note": "wall_time_s sums the epochs of this benchmark's runs (a resumed run adds its own); "
                    "the first epoch includes compilation. The machine's cores may be shared with other "
                    "jobs: see the load averages.",
            "conditions": run_conditions(
                data=f"full {args.dataset} (60,000 training / 10,000 test images)",
                devices={"memsnn": f"{n_devices} CPU devices (one per core)"}, seeds=[args.seed],
                epochs=len(history), selection="final epoch (no selection among runs)",
                load_before=loads[0] if loads else None),
        })

    train("spiceprop", args.dataset, source="full", model=model, epochs=args.epochs,
                   batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, seed=args.seed,
                   augment_shift=args.augment_shift,
                   out_dir=run_dir, resume=args.resume, progress=not args.no_progress,
                   on_epoch_end=report)
    report(done=True)
    print(f"{args.dataset}: final test accuracy {100 * history[-1]['test_acc']:.2f}% after {len(history)} "
          f"epochs, {sum(r['epoch_time_s'] for r in history) / 60:.1f} min; wrote {out} "
          f"({time.perf_counter() - started:.0f} s in this process)")


_MEMORY_PROBE = r"""
import json, sys, time
from memsnn.training import use_cpu_cores, make_optimizer, make_step, peak_memory_mb, replicate
use_cpu_cores(int(sys.argv[2]))
import equinox as eqx, jax, jax.numpy as jnp, numpy as np
from memsnn.training import GradientLearner, data_mesh
from memsnn.training.spiceprop import SpicepropConfig, build_spiceprop, spiceprop_loss, spiceprop_predict, spiceprop_trainable
every = None if sys.argv[1] == "none" else int(sys.argv[1])
model = build_spiceprop(SpicepropConfig(checkpoint_every=every), key=jax.random.key(0))
learner = GradientLearner(spiceprop_loss, spiceprop_predict, make_optimizer(1e-3, total_steps=10),
                          spiceprop_trainable(model))
state = learner.init(model)
rng = np.random.default_rng(0)
x = jnp.asarray(rng.uniform(0, 1, (200, 784)).astype(np.float32))
y = jnp.asarray(rng.integers(0, 10, 200).astype(np.int32))
before = peak_memory_mb()
mesh = data_mesh()
step = make_step(learner, model, mesh)
params, state = replicate((model, state), mesh)
arrays, static = eqx.partition(params, eqx.is_array)
jitted = jax.jit(lambda p, s, a, b: eqx.filter(step(eqx.combine(p, static), s, a, b), eqx.is_array))
analysis = jitted.lower(arrays, state, x, y).compile().memory_analysis()
temp = None if analysis is None else analysis.temp_size_in_bytes / 2**20
out = step(params, state, x, y); jax.block_until_ready(out)
t0 = time.perf_counter(); out = step(out[0], out[1], x, y); jax.block_until_ready(out)
print(json.dumps({"checkpoint_every": every, "devices": len(jax.devices()), "peak_rss_mb": peak_memory_mb(),
                  "rss_before_step_mb": before, "xla_temp_mb": temp, "step_s": time.perf_counter() - t0}))
"""


def run_memory(args) -> None:
    rows = []
    for every, devices in (("none", 1), ("10", 1), ("100", 1), ("none", 2), ("10", 2), ("100", 2)):
        proc = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, every, str(devices)],
                              capture_output=True, text=True, check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    _write(RESULTS / "spiceprop_memory.json", {
        "what": "one SPICEprop training step, batch 200, 1000 steps, 784-100-10 -> 10 MIF, float32: peak "
                "resident memory of the process (compile + two steps, getrusage) and XLA's temporary "
                "buffers of the step; checkpoint_every = None stores every step's intermediates for the "
                "backward pass, k keeps one state per k steps and recomputes the rest",
        "rows": rows,
    })
    print(f"{'checkpoint_every':>16} {'devices':>8} {'peak RSS (MB)':>14} {'XLA temp (MB)':>14} {'step (s)':>9}")
    for r in rows:
        temp = "n/a" if r["xla_temp_mb"] is None else f"{r['xla_temp_mb']:.1f}"
        print(f"{str(r['checkpoint_every']):>16} {r['devices']:>8} {r['peak_rss_mb']:>14.0f} {temp:>14} {r['step_s']:>9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(TARGETS), default="mnist")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--hidden", type=int, nargs="*", default=[100], help="hidden sizes (paper: 100)")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--augment-shift", type=int, default=0, help="random shifts of up to N pixels (default 0: off)")
    parser.add_argument("--checkpoint-every", type=int, default=None,
                        help="time-step checkpointing (default: the model's default; 0 = off)")
    parser.add_argument("--output-activation", choices=("none", "relu"), default="none",
                        help="drive units: none (memsnn's default) or relu (the paper's table)")
    parser.add_argument("--drive-bias", type=float, default=None,
                        help="initial bias of the drive units (default: the uniform init; a small positive value keeps ReLU drive "
                             "units alive (0.3: chosen on validation by benchmarks/spiceprop_relu_probe.py)")
    parser.add_argument("--drive-limit", type=float, default=None,
                        help="saturation of the drive in mA (default: the model's 0.025; 0 = linear)")
    parser.add_argument("--target", type=float, help="test accuracy to report reaching (default 0.98 / 0.87)")
    parser.add_argument("--tag", default="", help="suffix of the result file and run folder")
    parser.add_argument("--run-dir", type=Path, help="checkpoint folder (default runs/bench-spiceprop-DATASET)")
    parser.add_argument("--out", type=Path, help="result JSON (default benchmarks/results/spiceprop_DATASET.json)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted benchmark run")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--memory", action="store_true", help="measure peak memory instead of training")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    run_memory(args) if args.memory else run_training(args)


if __name__ == "__main__":
    main()
