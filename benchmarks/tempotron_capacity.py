"""Tempotron capacity (Gütig & Sompolinsky 2006, Fig. 3): fraction of random patterns classified
correctly after learning, against the load alpha = P / N; SpikingJelly 2.0's Tempotron beside it.

N afferents, each with one spike at a uniform random time in the window T (500 ms); P patterns,
half of them labelled "fire" at random; tau = 15 ms, tau_s = tau / 4. Each load is learnt through
memsnn.training.fit (method ``tempotron``) with the paper's learning: pattern by pattern, after
each error ``dw = lambda sum K(t_max - t_i) + mu dw_prev`` (``OnlineTempotronLearner``, one fit
step = one cycle through the shuffled patterns), the potential as the simulated kernel
superposed (``potential="superposition"``), until a whole cycle makes no error (the paper's
criterion) or ``--max-epochs`` cycles; then the fraction correct is evaluated with the final
weights.

``--sj-alphas``: SpikingJelly's Tempotron (benchmarks/_sj_tempotron.py, run in the peers
environment given by ``--sj-python``) learns the same patterns (the grid times at which memsnn's
impulses land) with the same rule. ``--time-alpha``: time per cycle of both, interleaved in this
run, with the load average and both sides' threads.

Checkpoints under runs/tempotron_capacity/ (resumed if interrupted); results in
benchmarks/results/tempotron_capacity.json.

    PYTHONPATH=$PWD nice -n 10 python benchmarks/tempotron_capacity.py --alphas 0.5 1 1.5 2 2.25 2.5 2.75 3 \
        --max-epochs 1500 --sj-alphas 0.5 --sj-max-epochs 40 --time-alpha 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np

from memsnn.training import evaluate, fit
from memsnn.training.tempotron import TempotronConfig, build_tempotron, tempotron_learner, tempotron_predict

SJ_WORKER = Path(__file__).resolve().parent / "_sj_tempotron.py"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import machine, write_json  # noqa: E402

PAPER = {"alpha_c": 3.0, "source": "Gütig & Sompolinsky 2006, Nat. Neurosci. 9:420, Fig. 3 (N = 500, tau = 15 ms, "
         "tau_s = tau/4, T = 500 ms): error-free learning up to about 3 patterns per synapse; pattern-by-pattern "
         "learning with lambda ~ 1e-3 (units of V_thr - V_rest) and the momentum heuristic mu = 0.99, as many cycles as "
         "needed (up to 10^4-10^5 near capacity). Learning rate and cycle limit as stated in issue 24 / the "
         "lecture; not re-checked against the paper's methods text here."}


def patterns(n_inputs: int, n_patterns: int, seed: int):
    """``(x, labels)``: one spike per afferent, uniform in the window (as latency features
    ``x = 1 - t / T``), half the patterns labelled 1 at random."""
    rng = np.random.default_rng(seed)
    x = 1.0 - rng.uniform(0.0, 1.0, (n_patterns, n_inputs))
    labels = rng.permutation(np.arange(n_patterns) % 2)
    return x.astype(np.float32), labels.astype(np.int32)


def model_and_learner(args):
    config = TempotronConfig(n_inputs=args.n_inputs, n_classes=2, dt=args.dt, solver=args.solver,
                             momentum=args.momentum, potential=args.potential)
    model = build_tempotron(config, key=jax.random.key(args.seed))
    return config, model, tempotron_learner(model, {"optimizer": {"lr": args.lr}, "online": args.rule == "online"})


def run_load(alpha: float, args, out_root: Path) -> dict:
    n = args.n_inputs
    p = int(round(alpha * n))
    batch = p if args.rule == "online" else min(args.batch_size, p)
    p -= p % batch  # fit drops an incomplete last batch: keep every pattern in play
    x, y = patterns(n, p, args.seed)
    config, model, learner = model_and_learner(args)
    out = out_root / f"alpha_{alpha:g}"
    history, start = [], time.perf_counter()
    epochs_run = 0
    while True:
        res = fit(model, learner, (x, y), None, epochs=args.max_epochs, batch_size=batch, seed=args.seed,
                  out_dir=out, resume=True, progress=False, stop_after_epochs=args.chunk,
                  config={"method": "tempotron", "model": config.to_dict(), "rule": args.rule})
        history = res.history
        epochs_run = len(history)
        error_free = [h["epoch"] for h in history if h["train_acc"] == 1.0]
        if error_free or epochs_run >= args.max_epochs:
            break
    wall = time.perf_counter() - start
    acc, _ = evaluate(tempotron_predict, res.model, x, y, batch_size=batch)
    row = {"alpha": alpha, "n_patterns": p, "epochs_run": epochs_run, "max_epochs": args.max_epochs,
           "lr": args.lr, "momentum": args.momentum,
           "first_error_free_epoch": error_free[0] if error_free else None,
           "fraction_correct": float(acc),
           "train_acc_per_epoch": [h["train_acc"] for h in history], "wall_s": wall,
           "load_average": os.getloadavg()}
    if args.note:
        row["note"] = args.note
    print(json.dumps({k: v for k, v in row.items() if k != "train_acc_per_epoch"}), flush=True)
    return row


def conditions(rows: list, sj_rows: list, timing: dict | None) -> dict:
    """The results file's conditions block (benchmarks/registry.py): both sides' threads, the load
    averages of every row and of the timing, the versions (SpikingJelly's from its worker)."""
    from registry import run_conditions
    loads = [r["load_average"][0] for r in rows + sj_rows] + [l[0] for l in (timing or {}).get("load_average", [])]
    sj = next((r for r in sj_rows), None) or (timing or {}).get("spikingjelly")
    block = run_conditions(
        data="random patterns: N = 500 afferents, one spike each uniform in 500 ms, half labelled 'fire' (seed 0)",
        devices={"memsnn": f"1 CPU device (XLA, {os.cpu_count()} cores)",
                 "spikingjelly": f"torch CPU, {sj['threads']} threads" if sj else "not run"},
        seeds=[0], machine=f"{os.cpu_count()}-core CPU shared with other agents' jobs (load averages beside each row)",
        selection="none: lambda and mu as given (each row's lr and momentum; a row's note says if its run was "
                  "resumed at another lambda)",
        load_before=min(loads) if loads else None)
    block["load_average"] = [round(min(loads), 2), round(max(loads), 2)] if loads else block["load_average"]
    if sj:
        block["versions"]["torch"] = sj["torch"]
        block["versions"]["spikingjelly"] = "2.0 (peers environment)"
    return block


def sj_patterns(alpha: float, args, folder: Path) -> Path:
    """The patterns of ``alpha`` as SpikingJelly gets them: the times (ms) at which memsnn's
    impulses land on its grid (step floor(t / dt), landing at the end of the step)."""
    n = args.n_inputs
    p = int(round(alpha * n))
    x, y = patterns(n, p, args.seed)
    n_steps = int(round(0.5 / args.dt))
    step = np.clip(np.floor((1.0 - x.astype(np.float64)) * n_steps), 0, n_steps - 1)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"sj_patterns_{alpha:g}.npz"
    np.savez(path, times=(step + 1) * args.dt * 1e3, labels=y)
    return path


def run_sj(path: Path, mode: str, args, *extra) -> dict:
    cmd = [args.sj_python, str(SJ_WORKER), str(path), mode, "--lr", str(args.lr), "--momentum", str(args.momentum),
           "--seed", str(args.seed), *map(str, extra)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    row = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps({k: v for k, v in row.items() if k != "errors_per_epoch"}), flush=True)
    return row


def time_side_by_side(args, out_root: Path) -> dict:
    """Seconds per learning cycle (one epoch through P = alpha N patterns, the online rule) of memsnn's
    compiled step and of SpikingJelly's Tempotron, interleaved: memsnn, SpikingJelly, memsnn, ..."""
    n, p = args.n_inputs, int(round(args.time_alpha * args.n_inputs))
    x, y = patterns(n, p, args.seed)
    _, model, learner = model_and_learner(args)
    step = jax.jit(lambda m, s, xx, yy: learner.step(m, s, xx, yy, jax.random.key(0)))
    state = learner.init(model)
    rng = np.random.default_rng(args.seed)
    compile_start = time.perf_counter()
    jax.block_until_ready(step(model, state, x, y))
    compile_s = time.perf_counter() - compile_start
    path = sj_patterns(args.time_alpha, args, out_root)
    memsnn_wall, memsnn_cpu, sj_wall, sj_cpu, loads = [], [], [], [], []
    for _ in range(args.time_rounds):
        loads.append(os.getloadavg())
        for _ in range(args.time_epochs):
            perm = rng.permutation(p)
            w, c = time.perf_counter(), time.process_time()
            model, state, _ = jax.block_until_ready(step(model, state, x[perm], y[perm]))
            memsnn_wall.append(time.perf_counter() - w)
            memsnn_cpu.append(time.process_time() - c)
        sj = run_sj(path, "time", args, "--epochs", args.sj_time_epochs)
        sj_wall += sj["epoch_wall_s"]
        sj_cpu += sj["epoch_cpu_s"]
        sj_threads, sj_torch = sj["threads"], sj["torch"]
    loads.append(os.getloadavg())
    med = lambda v: float(np.median(v))  # noqa: E731
    return {"alpha": args.time_alpha, "n_patterns": p, "rule": "online (pattern by pattern, momentum on errors)",
            "memsnn": {"epoch_wall_s": memsnn_wall, "epoch_cpu_s": memsnn_cpu, "compile_s": compile_s,
                       "potential": args.potential, "threads": "XLA CPU, 1 device, intra-op threads = cores (2)"},
            "spikingjelly": {"epoch_wall_s": sj_wall, "epoch_cpu_s": sj_cpu, "threads": sj_threads,
                             "torch": sj_torch, "dtype": "float64 (its event solver is float64 inside)"},
            "memsnn_median_wall_s": med(memsnn_wall), "spikingjelly_median_wall_s": med(sj_wall),
            "memsnn_median_cpu_s": med(memsnn_cpu), "spikingjelly_median_cpu_s": med(sj_cpu),
            "speedup_wall": med(sj_wall) / med(memsnn_wall), "speedup_cpu": med(sj_cpu) / med(memsnn_cpu),
            "load_average": loads}


def plot(json_name: str) -> Path:
    """The capacity curve of a results file beside the paper's capacity (a PNG next to it)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from _timing import RESULTS
    data = json.loads((RESULTS / json_name).read_text())
    rows = data["rows"]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([r["alpha"] for r in rows], [r["fraction_correct"] for r in rows], "o-",
            label="memsnn, <= " + " / ".join(str(m) for m in sorted({r.get("max_epochs", data["settings"]["max_epochs"])
                                                                     for r in rows}, reverse=True)) + " cycles")
    sj = data.get("spikingjelly", {}).get("rows", [])
    if sj:
        ax.plot([r["alpha"] for r in sj], [r["fraction_correct"] for r in sj], "s", mfc="none",
                label=f"SpikingJelly 2.0, <= {data['settings']['sj_max_epochs']} cycles")
    ax.axvline(PAPER["alpha_c"], color="grey", ls="--", label="paper: error-free up to alpha_c ~ 3")
    ax.set_xlabel("load alpha = P / N  (N = %d)" % data["settings"]["n_inputs"])
    ax.set_ylabel("fraction correct after learning")
    ax.set_ylim(min(0.75, min(r["fraction_correct"] for r in rows) - 0.02), 1.01)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = RESULTS / Path(json_name).with_suffix(".png").name
    fig.savefig(out, dpi=120)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alphas", type=float, nargs="+", default=[0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    ap.add_argument("--n-inputs", type=int, default=500)
    ap.add_argument("--max-epochs", type=int, default=2000)
    ap.add_argument("--chunk", type=int, default=25, help="epochs between checks of the error-free criterion")
    ap.add_argument("--rule", choices=["online", "batch"], default="online",
                    help="online: the paper's pattern-by-pattern learning (one fit step per cycle); batch: SGD with "
                    "momentum on the summed cost of --batch-size patterns")
    ap.add_argument("--potential", choices=["superposition", "simulate"], default="superposition")
    ap.add_argument("--batch-size", type=int, default=50, help="--rule batch only")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--momentum", type=float, default=0.99)
    ap.add_argument("--sj-alphas", type=float, nargs="*", default=[])
    ap.add_argument("--sj-max-epochs", type=int, default=60)
    ap.add_argument("--sj-python", default="/work/peers/bin/python")
    ap.add_argument("--time-alpha", type=float, default=None, help="time both sides per cycle at this load")
    ap.add_argument("--time-epochs", type=int, default=5, help="memsnn cycles timed per round")
    ap.add_argument("--sj-time-epochs", type=int, default=1, help="SpikingJelly cycles timed per round")
    ap.add_argument("--time-rounds", type=int, default=2)
    ap.add_argument("--dt", type=float, default=1e-3)
    ap.add_argument("--solver", default="tsit5")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/tempotron_capacity")
    ap.add_argument("--json", default="tempotron_capacity.json")
    ap.add_argument("--note", default=None, help="a note stored in each row (e.g. what a resumed run continued)")
    ap.add_argument("--merge", action="store_true",
                    help="keep the rows (memsnn and SpikingJelly) of the existing results file at other loads")
    ap.add_argument("--plot-only", action="store_true", help="only draw the PNG of an existing results file")
    args = ap.parse_args(argv)
    if args.plot_only:
        print("wrote", plot(args.json))
        return
    from _timing import RESULTS
    previous = json.loads((RESULTS / args.json).read_text()) if (RESULTS / args.json).exists() else {}
    out_root = Path(args.out)
    rows, sj_rows, timing = [], [], None
    kept = {"rows": [], "sj": []}
    if args.merge and previous:
        old = previous["settings"]
        kept["rows"] = [{"max_epochs": old["max_epochs"], "lr": old["lr"], "momentum": old["momentum"], **r}
                        for r in previous["rows"] if r["alpha"] not in args.alphas]
        kept["sj"] = [r for r in previous.get("spikingjelly", {}).get("rows", []) if r["alpha"] not in args.sj_alphas]

    def write():
        rows[:] = sorted([r for r in rows if r not in kept["rows"]] + kept["rows"], key=lambda r: r["alpha"])
        sj_rows[:] = sorted([r for r in sj_rows if r not in kept["sj"]] + kept["sj"], key=lambda r: r["alpha"])
        error_free = [r["alpha"] for r in rows if r["fraction_correct"] == 1.0]
        sj_free = [r["alpha"] for r in sj_rows if r["fraction_correct"] == 1.0]
        payload = {
            "benchmark": "tempotron_capacity",
            "command": "PYTHONPATH=$PWD python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])),
            "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
            "settings": vars(args), "seeds": [args.seed], "threads": os.cpu_count(), "machine": machine(),
            "conditions": conditions(rows, sj_rows, timing if timing is not None else previous.get("timing")),
            "note": "timings on a 2-core machine shared with other jobs (load average beside each row)",
            "rows": rows,
            "largest_error_free_alpha": max(error_free) if error_free else None,
            "spikingjelly": {"rows": sj_rows, "largest_error_free_alpha": max(sj_free) if sj_free else None,
                             "worker": "benchmarks/_sj_tempotron.py"},
            "timing": timing if timing is not None else previous.get("timing"),
            "paper": PAPER,
        }
        write_json(args.json, payload)

    for alpha in args.alphas:
        rows.append(run_load(alpha, args, out_root))
        write()
    for alpha in args.sj_alphas:
        sj_rows.append({"alpha": alpha, **run_sj(sj_patterns(alpha, args, out_root), "train", args,
                                                  "--max-epochs", args.sj_max_epochs)})
        write()
    if args.time_alpha is not None:
        timing = time_side_by_side(args, out_root)
        print(json.dumps({k: timing[k] for k in ("speedup_wall", "speedup_cpu", "load_average")}), flush=True)
        write()
    print("wrote", plot(args.json))


if __name__ == "__main__":
    main()
