"""The supervised spike-timing rules on ideal and on crossbar synapses (issue 24, item 7).

Each rule's task is learnt with ideal weights and with its synapses held by one chip of NeuroSim's
devices (``memsnn.crossbar.preset("neurosim")``: 0.476-10 uS, 31 pulses from g_min to g_max,
nonlinear LTP/LTD with labels +-4.22, 0.5 % cycle-to-cycle write noise, differential pairs). The
rule computes its weight change as on ideal weights; the crossbar programs it as pulses
(``Crossbar.updated``): ``round(|change| / step)`` pulses (``neurosim``), or stochastic rounding,
``floor(|change| / step + u)`` (``neurosim-stochastic``, the expected pulse count the requested one),
or stochastic rounding of the pulses counted along each device's own curve from its conductance
(``neurosim-stochastic-curve``, ``PulseUpdate(counting="curve")``: the expected change the requested
one on the nonlinear devices too).

* **Tempotron**: N afferents with one spike each, uniform in 500 ms, P = alpha N random patterns,
  half labelled "fire" (benchmarks/tempotron_capacity.py's patterns), the paper's online rule
  (lambda 1e-3, mu 0.99) for up to ``--tempotron-cycles`` cycles, the potential simulated through
  the array (``potential="simulate"``, Euler, dt 1 ms) for every device; reported: the fraction
  correct with the final weights and the first error-free cycle.
* **ReSuMe**: one LIF neuron, 200 Poisson inputs (10 Hz, frozen 200 ms pattern), 5 target spikes
  (benchmarks/resume_target.py's task), ``--resume-epochs`` epochs; reported: Schreiber correlation
  over the last 10 epochs, first epoch >= 0.95. Weights in [-1, 1] (PlasticDense bounds) and
  w_max = 1 on the chip. ReSuMe programs inside the run: the plasticity hooks pass the run's key
  (per step) to ``updated``, so write noise and stochastic rounding act there too. Each epoch's
  changes are far below half a pulse (the rule's rate 0.002: at most ~0.004 of a weight range of 2
  against a pulse of 1/31), so nearest rounding programs nothing.
* **SpikeProp**: Iris, one latency spike per feature + bias, 10 hidden, 16 terminals, the adaptive
  rate (``ad``, mu 0.5), ``--spikeprop-epochs`` epochs, stratified 100/50 splits by seed; reported:
  final-epoch test accuracy.

The weight range of a chip (``w_max``, the weight at full conductance) is the one choice: for the
Tempotron and SpikeProp it is the largest |weight| the ideal run of the same seed ended with
(training data only), rounded up to 2 significant digits.

    PYTHONPATH=$PWD nice -n 10 python benchmarks/supervised_crossbar.py
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import memsnn
from memsnn.arrays import PlasticDense
from memsnn.crossbar import Crossbar, preset
from memsnn.plasticity import ReSuMe
from memsnn.training import evaluate, fit
from memsnn.training.resume import learn_target_trains
from memsnn.training.spikeprop import SpikePropConfig, build_spikeprop, check_outputs_fire, spikeprop_learner, \
    spikeprop_predict
from memsnn.training.tempotron import TempotronConfig, build_tempotron, tempotron_learner, tempotron_predict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import RESULTS, machine, write_json  # noqa: E402
from registry import run_conditions  # noqa: E402
from resume_target import targets_for  # noqa: E402
from spikeprop_uci import split  # noqa: E402
from tempotron_capacity import patterns  # noqa: E402

RUNS = Path(__file__).resolve().parent.parent / "runs" / "supervised_crossbar"
DEVICES = ("ideal", "neurosim", "neurosim-stochastic", "neurosim-stochastic-curve")


def _rounding(device: str) -> str:
    return "stochastic" if "stochastic" in device else "nearest"


def _chip_rounding(bar: Crossbar, device: str) -> Crossbar:
    counting = "curve" if device.endswith("-curve") else "nominal"
    return dataclasses.replace(bar, update=dataclasses.replace(bar.update, rounding=_rounding(device),
                                                               counting=counting))


def _on_chips(model, chips, device: str):
    """``model`` with the crossbars of its ``chips`` (ProgrammedCrossbar) using ``device``'s rounding."""
    return eqx.tree_at(chips, model, [dataclasses.replace(c, crossbar=_chip_rounding(c.crossbar, device))
                                      for c in chips(model)])


def _w_max(weights) -> float:
    m = max(float(np.max(np.abs(np.asarray(w)))) for w in weights)
    return float(f"{m:.1e}") if float(f"{m:.1e}") >= m else float(f"{m * 1.05:.1e}")


def tempotron(device: str, seed: int, args, w_max: float | None) -> dict:
    n, alpha = args.tempotron_n, args.tempotron_alpha
    p = int(round(alpha * n))
    x, y = patterns(n, p, seed)
    over = {} if device == "ideal" else {"crossbar": "neurosim", "crossbar_w_max": w_max}
    config = TempotronConfig(n_inputs=n, n_classes=2, dt=1e-3, solver="euler", momentum=0.99, **over)
    model = build_tempotron(config, key=jax.random.key(seed))
    if device != "ideal":
        model = _on_chips(model, lambda m: [m.array], device)
    learner = tempotron_learner(model, {"optimizer": {"lr": args.tempotron_lr}, "online": True})
    start = time.perf_counter()
    out = RUNS / f"tempotron_{device}_seed{seed}"
    while True:  # chunks of cycles until one is error-free (the paper's criterion) or the limit
        res = fit(model, learner, (x, y), None, epochs=args.tempotron_cycles, batch_size=p, seed=seed,
                  progress=False, out_dir=out, resume=True, stop_after_epochs=10,
                  config={"method": "tempotron", "model": config.to_dict(), "device": device})
        if any(h["train_acc"] == 1.0 for h in res.history) or len(res.history) >= args.tempotron_cycles:
            break
    wall = time.perf_counter() - start
    acc, _ = evaluate(tempotron_predict, res.model, x, y, batch_size=p)
    array = res.model.array
    weights = array.weight if device == "ideal" else array.weights(array.held_state)
    error_free = [h["epoch"] for h in res.history if h["train_acc"] == 1.0]
    return {"task": "tempotron", "device": device, "seed": seed, "n_inputs": n, "alpha": alpha, "n_patterns": p,
            "w_max": w_max, "cycles_run": len(res.history), "max_cycles": args.tempotron_cycles,
            "first_error_free_cycle": error_free[0] if error_free else None, "fraction_correct": float(acc),
            "train_acc_per_cycle": [h["train_acc"] for h in res.history],
            "max_abs_weight": float(jnp.max(jnp.abs(weights))), "wall_s": wall, "load_average": os.getloadavg()}


def resume(device: str, seed: int, args) -> dict:
    dt, n_in, duration = 0.2e-3, 200, 0.2
    n_steps = int(round(duration / dt))
    rng = np.random.default_rng(seed)
    spikes = (rng.random((1, n_steps, n_in)) < 10.0 * dt).astype(float)
    w0 = jnp.asarray(rng.uniform(0, 0.1, (1, n_in)))
    rule = ReSuMe(n_in, targets_for(1, seed), dt=dt, learning_rate=0.002, a=0.05, tau=5e-3)
    if device == "ideal":
        array = PlasticDense(w0, w_min=-1.0, w_max=1.0)
    else:
        bar = Crossbar(w0, **preset("neurosim", w_max=1.0)._asdict())
        array = _chip_rounding(bar, device).programmed(key=jax.random.key(seed))
    layer = memsnn.Layer(array, None, memsnn.LIF(tau=10e-3, resistance=10e-3, threshold=1.0, reset="zero"),
                         plasticity=rule)
    start = time.perf_counter()
    state, history = learn_target_trains(layer, memsnn.Impulses(jnp.asarray(spikes)), dt=dt, n_steps=n_steps,
                                         epochs=args.resume_epochs, key=jax.random.key(100 + seed))
    corr = np.asarray(history)[:, 0]
    reached = np.flatnonzero(corr >= 0.95)
    w = array.weights(jax.tree.map(lambda s: s[0], state.array))
    return {"task": "resume", "device": device, "seed": seed, "epochs": args.resume_epochs,
            "first_epoch_ge_0.95": int(reached[0]) + 1 if reached.size else None,
            "correlation_last10_mean": float(corr[-10:].mean()), "correlation_per_epoch": corr.round(4).tolist(),
            "mean_abs_weight_change": float(jnp.mean(jnp.abs(w - w0))),
            "wall_s": time.perf_counter() - start, "load_average": os.getloadavg()}


def spikeprop(device: str, seed: int, args, w_max: float | None) -> dict:
    train, test = split("iris", seed)
    over = {} if device == "ideal" else {"crossbar": "neurosim", "crossbar_w_max": w_max}
    config = SpikePropConfig(n_inputs=train[0].shape[1], hidden=(10,), n_classes=3, n_steps=250, terminals=16,
                             rule="ad", init_scale=8.0, init_low=-0.5, **over)
    model = build_spikeprop(config, key=jax.random.key(seed))
    if device != "ideal":
        model = _on_chips(model, lambda m: list(m.weights), device)
    check_outputs_fire(model, train[0][:50])
    learner = spikeprop_learner(model, {"optimizer": {"lr": args.spikeprop_mu}})
    start = time.perf_counter()
    res = fit(model, learner, train, test, epochs=args.spikeprop_epochs, batch_size=20, seed=seed, progress=False)
    weights = res.model.terminal_weights()
    return {"task": "spikeprop_iris", "device": device, "seed": seed, "w_max": w_max,
            "epochs": args.spikeprop_epochs, "final_test_acc": res.history[-1]["test_acc"],
            "test_acc_per_epoch": [h["test_acc"] for h in res.history],
            "train_loss_per_epoch": [h["train_loss"] for h in res.history],
            "max_abs_weight": max(float(jnp.max(jnp.abs(w))) for w in weights),
            "wall_s": time.perf_counter() - start, "load_average": os.getloadavg()}


def summary(rows: list) -> dict:
    out = {}
    for task, key in (("tempotron", "fraction_correct"), ("resume", "correlation_last10_mean"),
                      ("spikeprop_iris", "final_test_acc")):
        for device in DEVICES:
            vals = [r[key] for r in rows if r["task"] == task and r["device"] == device]
            if vals:
                out.setdefault(task, {})[device] = {
                    key: vals, "mean": float(np.mean(vals)),
                    "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0, "n": len(vals)}
    return out


def plot(json_name: str) -> Path:
    """Learning curves of each task on each device (a PNG next to the results file)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = json.loads((RESULTS / json_name).read_text())["rows"]
    panels = (("tempotron", "train_acc_per_cycle", "Tempotron: fraction correct per cycle", "cycle"),
              ("spikeprop_iris", "test_acc_per_epoch", "SpikeProp, Iris: test accuracy", "epoch"),
              ("resume", "correlation_per_epoch", "ReSuMe: correlation with the target", "epoch"))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    styles = {"ideal": ("-", "C0"), "neurosim": ("--", "C1"), "neurosim-stochastic": (":", "C2"),
              "neurosim-stochastic-curve": ("-.", "C3")}
    for ax, (task, key, title, xlabel) in zip(axes, panels):
        labelled = set()
        for r in rows:
            if r["task"] == task:
                curve, (line, color) = r[key], styles[r["device"]]
                seeds = sorted(q["seed"] for q in rows if q["task"] == task and q["device"] == r["device"])
                label = None if r["device"] in labelled else f"{r['device']} (seeds {', '.join(map(str, seeds))})"
                labelled.add(r["device"])
                ax.plot(range(1, len(curve) + 1), curve, line, color=color, label=label)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out = RESULTS / Path(json_name).with_suffix(".png").name
    fig.savefig(out, dpi=110)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", nargs="+", default=["tempotron", "resume", "spikeprop"])
    ap.add_argument("--devices", nargs="+", default=list(DEVICES), choices=DEVICES)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--tempotron-n", type=int, default=200)
    ap.add_argument("--tempotron-alpha", type=float, default=0.5)
    ap.add_argument("--tempotron-cycles", type=int, default=100)
    ap.add_argument("--tempotron-lr", type=float, default=1e-3)
    ap.add_argument("--resume-epochs", type=int, default=200)
    ap.add_argument("--spikeprop-epochs", type=int, default=10)
    ap.add_argument("--spikeprop-mu", type=float, default=0.5)
    ap.add_argument("--json", default="supervised_crossbar.json")
    ap.add_argument("--plot-only", action="store_true", help="redraw the PNG of --json and stop")
    args = ap.parse_args(argv)
    if args.plot_only:
        print(plot(args.json))
        return
    path = RESULTS / args.json
    rows = json.loads(path.read_text())["rows"] if path.exists() else []
    load_before = os.getloadavg()[0]

    def done(task, device, seed):
        return any(r["task"] == task and r["device"] == device and r["seed"] == seed for r in rows)

    def write():
        command = "PYTHONPATH=$PWD python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:]))
        write_json(args.json, {
            "benchmark": "supervised_crossbar", "command": command,
            "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
            "settings": vars(args), "machine": machine(),
            "devices": {"neurosim": "memsnn.crossbar.preset('neurosim'): 0.476-10 uS differential pairs, 31 pulses, "
                                    "nonlinear LTP/LTD (labels +-4.22), 0.5 % cycle-to-cycle write noise, 32 levels "
                                    "when programmed; round(|change| / step) pulses",
                        "neurosim-stochastic": "the same devices, floor(|change| / step + u) pulses",
                        "neurosim-stochastic-curve": "the same devices, floor(r + u) pulses, r the pulses along "
                                                     "the device's noise-free curve from its conductance to the "
                                                     "requested one (PulseUpdate(counting='curve'))"},
            "conditions": run_conditions(
                data="random Tempotron patterns, ReSuMe's frozen Poisson pattern, scikit-learn Iris (100/50 by seed)",
                devices={"memsnn": f"1 CPU device (XLA, {os.cpu_count()} cores shared)"}, seeds=args.seeds,
                machine=f"{os.cpu_count()}-core CPU shared with other agents' jobs",
                selection="chip w_max = largest |weight| of the ideal run of the same seed (training data only)",
                load_before=load_before, command=command,
                load_average_rows="load_average: the lowest and highest 1-minute load average of the rows"),
            "summary": summary(rows), "rows": rows}, replace=True)
        # The load over the whole run: every row's, not only this invocation's.
        data = json.loads(path.read_text())
        loads = [r["load_average"][0] for r in rows] + data["conditions"]["load_average"]
        data["conditions"]["load_average"] = [round(min(loads), 2), round(max(loads), 2)]
        path.write_text(json.dumps(data, indent=1) + "\n")

    for task in args.tasks:
        for seed in args.seeds:
            ideal_w_max = None
            for device in args.devices:
                if done({"spikeprop": "spikeprop_iris"}.get(task, task), device, seed):
                    continue
                if task == "resume":
                    row = resume(device, seed, args)
                else:
                    if device != "ideal":
                        name = {"spikeprop": "spikeprop_iris"}.get(task, task)
                        ideal = [r for r in rows if r["task"] == name and r["device"] == "ideal" and r["seed"] == seed]
                        if not ideal:
                            raise SystemExit(f"{task} on {device}: run the ideal device of seed {seed} first (its "
                                             "weights give the chip's w_max)")
                        ideal_w_max = _w_max([ideal[0]["max_abs_weight"]])
                    row = (tempotron if task == "tempotron" else spikeprop)(device, seed, args, ideal_w_max)
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if not isinstance(v, list)}), flush=True)
                write()
    if rows:
        write()
        print(plot(args.json))


if __name__ == "__main__":
    main()
