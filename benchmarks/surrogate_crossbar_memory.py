"""Hardware-aware surrogate training on crossbars (issue 26): a step's peak memory and time, the
IR-drop tile map that dominates it, and a short training run's accuracy.

    python benchmarks/surrogate_crossbar_memory.py PRESET BATCH [STEPS]   # PRESET: realistic, ideal, none
    python benchmarks/surrogate_crossbar_memory.py tiles [REPEATS]
    python benchmarks/surrogate_crossbar_memory.py record RUN_DIR [RUN_DIR ...]

``PRESET BATCH``: the surrogate method's defaults (784-1000-10 LIF, 25 steps) with ``crossbar=PRESET``
(``none``: no crossbar), one CPU device, the first BATCH bundled MNIST training images. Prints one
JSON line: the first step's time (compilation included), the later steps' times (s), the loss, the
peak RSS (MB) and the load average.

``tiles``: one 256 x 256 tile of the ``realistic`` preset (float32, 1 Ohm wires), its exact IR-drop
map and the map's gradient, as training computes it before and after the change of issue 26 (side
by side in one process, wall and CPU time): ``jax.checkpoint`` around the map of all 256 unit inputs
(the differentiated forward, every node voltage, solved twice) against ``recompute=True`` (the
forward solves only the currents; nothing kept, solved again backward), for a full tile and for a
tile with 17 of its 256 rows in use (the last row of tiles of the 785-input first layer:
``rows=17``). Also the factorisation alone. Rewrites the ``tile_map`` block of the results file.

``record RUN_DIR...``: the short training runs (``memsnn train --method surrogate --crossbar
PRESET --dataset mnist --epochs 1 --out RUN_DIR``, under ``/usr/bin/time -v`` with its output in
``RUN_DIR.log``) into the ``short_run`` block: final-epoch test accuracy, epoch and training time,
CPU time, peak RSS, load averages.

Results: benchmarks/results/surrogate_crossbar_memory.json.
"""

import json
import os
import resource
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import RESULTS, commit, write_json  # noqa: E402

NAME = "surrogate_crossbar_memory.json"


def _results() -> dict:
    path = RESULTS / NAME
    return json.loads(path.read_text()) if path.exists() else {}


def step(preset: str, batch: int, steps: int) -> None:
    from memsnn.data import load_dataset
    from memsnn.training import GradientLearner, get_method, make_optimizer
    from memsnn.training.loop import make_step
    from memsnn.training.sharding import data_mesh, replicate

    spec = get_method("surrogate")
    net = spec.build(spec.complete_config({} if preset == "none" else {"crossbar": preset}), key=jax.random.key(0))
    optimizer = make_optimizer(5e-4, total_steps=100, schedule="cosine", weight_decay=0.0, clip_norm=None)
    learner = GradientLearner(spec.loss, spec.predict, optimizer, spec.trainable(net))
    mesh = data_mesh()
    run = make_step(learner, net, mesh)
    net, state = replicate((net, learner.init(net)), mesh)
    images, labels = load_dataset("mnist", "train", source="bundled")
    images, labels = np.asarray(images[:batch]), np.asarray(labels[:batch])
    times, cpu = [], []
    for k in range(steps):
        start, c0 = time.perf_counter(), time.process_time()
        net, state, metrics = run(net, state, images, labels, jax.random.key(k))
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - c0)
    print(json.dumps({"preset": preset, "batch": batch, "devices": len(jax.devices()), "first_step_s": times[0],
                      "step_s": times[1:], "step_cpu_s": cpu[1:], "loss": [float(np.asarray(metrics["loss"]))],
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "load": os.getloadavg(), "commit": commit()}))


def tiles(repeats: int) -> None:
    import jax.numpy as jnp

    from memsnn.crossbar import Wires, ir_drop_matrix
    from memsnn.crossbar.irdrop import _conductances, _factor

    n = 256
    rng = np.random.default_rng(0)
    g = jnp.asarray(rng.uniform(0.1e-6, 10e-6, (n, n)), jnp.float32)  # the realistic preset's range
    ct = jnp.asarray(rng.normal(size=(n, n)), jnp.float32)
    wires = Wires(1.0, 1.0)
    one, zero = jnp.float32(1.0), jnp.float32(0.0)
    cases = {
        "factorisation": jax.jit(lambda g: _factor(g, *_conductances(one, one, zero, zero)).inverse),
        "before_full_tile": jax.jit(jax.grad(lambda g: jnp.sum(jax.checkpoint(lambda g: ir_drop_matrix(g, wires))(g) * ct))),
        "after_full_tile": jax.jit(jax.grad(lambda g: jnp.sum(ir_drop_matrix(g, wires, recompute=True) * ct))),
        "before_17_rows": jax.jit(jax.grad(lambda g: jnp.sum(jax.checkpoint(lambda g: ir_drop_matrix(g, wires))(g)[:17] * ct[:17]))),
        "after_17_rows": jax.jit(jax.grad(lambda g: jnp.sum(ir_drop_matrix(g, wires, rows=17, recompute=True) * ct[:17]))),
    }
    rows, load0 = [], os.getloadavg()
    for name, fn in cases.items():
        jax.block_until_ready(fn(g))
    grads = {name: np.asarray(fn(g)) for name, fn in cases.items() if name != "factorisation"}
    wall = {name: [] for name in cases}
    cpu = {name: [] for name in cases}
    for _ in range(repeats):  # interleaved: the same load for every case
        for name, fn in cases.items():
            w, c = time.perf_counter(), time.process_time()
            jax.block_until_ready(fn(g))
            wall[name].append(time.perf_counter() - w)
            cpu[name].append(time.process_time() - c)
    for name in cases:
        rows.append({"case": name, "wall_s_median": float(np.median(wall[name])),
                     "cpu_s_median": float(np.median(cpu[name])), "wall_s": wall[name], "cpu_s": cpu[name]})
    diff = {k: float(np.max(np.abs(grads[f"after_{k}"] - grads[f"before_{k}"])) / np.max(np.abs(grads[f"before_{k}"])))
            for k in ("full_tile", "17_rows")}
    block = {
        "what": "one 256x256 tile (float32, 0.1-10 uS, 1 Ohm wires): exact IR-drop map and its gradient, "
                "jax.checkpoint around the map of all unit inputs (before) vs ir_drop_matrix(recompute=True, rows=) (after)",
        "command": "python benchmarks/surrogate_crossbar_memory.py tiles " + str(repeats),
        "commit": commit(), "load_average_before": load0, "load_average_after": os.getloadavg(),
        "devices": "1 CPU device (XLA default threads)", "rows": rows,
        "gradient_relative_difference": diff,
        "cpu_speedup": {k: next(r["cpu_s_median"] for r in rows if r["case"] == f"before_{k}")
                        / next(r["cpu_s_median"] for r in rows if r["case"] == f"after_{k}") for k in ("full_tile", "17_rows")},
    }
    print(json.dumps(block, indent=1))
    write_json(NAME, {**_results(), "tile_map": block})


def _time_v(log: Path) -> dict:
    """Max RSS and times from ``/usr/bin/time -v``'s report at the end of ``log``."""
    out = {}
    if not log.exists():
        return out
    for line in log.read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("Maximum resident set size (kbytes):"):
            out["peak_rss_mb"] = int(line.split(":")[1]) / 1024
        elif line.startswith("Elapsed (wall clock) time"):
            out["wall_clock"] = line.split("):", 1)[1].strip()
        elif line.startswith("User time (seconds):"):
            out["user_s"] = float(line.split(":")[1])
        elif line.startswith("System time (seconds):"):
            out["system_s"] = float(line.split(":")[1])
    return out


def _progress(log: Path) -> dict:
    """Elapsed seconds at each training step, from the progress bar in ``log``: the first step
    (compilation included) and the mean of the later ones."""
    import re

    if not log.exists():
        return {}
    at = {}
    for m in re.finditer(r"(\d+)/(\d+) \[(?:(\d+):)?(\d+):(\d+)<", log.read_text(errors="replace")):
        done, total = int(m.group(1)), int(m.group(2))
        at.setdefault(done, int(m.group(3) or 0) * 3600 + int(m.group(4)) * 60 + int(m.group(5)))  # first time shown
    if 1 not in at or len(at) < 2:
        return {}
    last = max(at)
    return {"first_step_s": at[1], "steady_step_s": (at[last] - at[1]) / (last - 1), "steps_seen": last}


def record(run_dirs: list[str]) -> None:
    from memsnn.training import read_checkpoint_header

    runs = []
    for run in map(Path, run_dirs):
        header = read_checkpoint_header(run / "checkpoint.eqx")
        metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
        notes = json.loads((run / "bench.json").read_text()) if (run / "bench.json").exists() else {}
        last = metrics[-1]
        steps = notes.get("steps_per_epoch")
        runs.append({
            "crossbar": header["config"]["model"].get("crossbar"),
            "run_dir": str(run), "command": notes.get("command"), "commit": notes.get("commit"),
            "epochs": len(metrics), "final_test_acc": last.get("test_acc"),
            "train_acc": last.get("train_acc"), "train_loss": last.get("train_loss"),
            "epoch_time_s": last.get("epoch_time_s"), "train_time_s": last.get("train_time_s"),
            "cpu_time_s": last.get("cpu_time_s"), "peak_rss_mb_in_loop": last.get("peak_rss_mb"),
            "steps_per_epoch": steps,
            "mean_step_s_incl_compile": (last["train_time_s"] / steps) if steps else None,
            "progress": _progress(run.with_suffix(".log")),
            "time_v": _time_v(run.with_suffix(".log")),
            "load_average_start": notes.get("load_start"), "load_average_end": notes.get("load_end"),
        })
    block = {"what": "1 epoch of memsnn train --method surrogate (defaults: 784-1000-10 LIF, 25 steps, batch 128, "
                     "lr 5e-4 cosine) on the bundled MNIST subset (4,000 training / 1,000 test images), one CPU "
                     "device, ideal vs realistic crossbar; final-epoch test accuracy on the 1,000 bundled test images",
             "command": "python benchmarks/surrogate_crossbar_memory.py record " + " ".join(run_dirs),
             "runs": runs}
    steady = {r["crossbar"]: (r.get("progress") or {}).get("steady_step_s") for r in runs}
    if steady.get("realistic") and steady.get("ideal"):
        block["realistic_over_ideal_step"] = steady["realistic"] / steady["ideal"]
    print(json.dumps(block, indent=1))
    write_json(NAME, {**_results(), "short_run": block})


if __name__ == "__main__":
    if sys.argv[1] == "tiles":
        tiles(int(sys.argv[2]) if len(sys.argv) > 2 else 3)
    elif sys.argv[1] == "record":
        record(sys.argv[2:])
    else:
        step(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 3)
