"""Plots of benchmarks/solver_accuracy.py, from its JSON and waveform file (also used by the notebook).

    python benchmarks/solver_accuracy_plots.py     # redraw from benchmarks/results/
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

RESULTS = Path(__file__).parent / "results"
# The solvers drawn over the ngspice waveforms, and their styles.
SHOWN = {"Euler dt = 10 us": dict(color="tab:red", ls="-"),
         "SpicepropEuler dt = 10 us": dict(color="tab:orange", ls="-"),
         "Tsit5 rtol = 1e-5": dict(color="tab:blue", ls="--"),
         "Kvaerno5 rtol = 1e-5": dict(color="tab:green", ls=":")}
FAMILY_STYLE = {"Euler": ("tab:red", "o"), "SpicepropEuler": ("tab:orange", "s"), "Heun": ("tab:purple", "^"),
                "ImplicitEuler": ("tab:brown", "v"), "Tsit5": ("tab:blue", "D"), "Dopri5": ("tab:cyan", "P"),
                "Kvaerno5": ("tab:green", "X")}


def load(folder: Path = RESULTS):
    """``(results dict, waveforms dict)`` written by the benchmark."""
    results = json.loads((folder / "solver_accuracy.json").read_text())
    waves = dict(np.load(folder / "solver_accuracy_waveforms.npz"))
    return results, waves


def _wave(waves, experiment, label, name):
    return waves.get(f"{experiment}|{label}|{name}")


def plot_waveforms(results, waves, path=None, levels=(0.003, 0.01, 0.025)):
    """v(t), x1(t) and the error of v for three input weights: ngspice against memsnn's solvers."""
    sp = results["spiceprop"]
    t_ms = waves["times"] * 1e3
    fig, axes = plt.subplots(3, len(levels), figsize=(4.2 * len(levels), 8), sharex=True, squeeze=False)
    for col, level in enumerate(levels):
        i = sp["weights_mA"].index(level)
        ref_v, ref_x1 = _wave(waves, "spiceprop", "ngspice", "v")[i], _wave(waves, "spiceprop", "ngspice", "x1")[i]
        axes[0, col].plot(t_ms, ref_v * 1e3, color="k", lw=3, alpha=0.35, label="ngspice (reference)")
        axes[1, col].plot(t_ms, ref_x1, color="k", lw=3, alpha=0.35)
        for label, style in SHOWN.items():
            v, x1 = _wave(waves, "spiceprop", label, "v"), _wave(waves, "spiceprop", label, "x1")
            if v is None:
                continue
            axes[0, col].plot(t_ms, v[i] * 1e3, lw=1, label=f"memsnn {label}", **style)
            axes[1, col].plot(t_ms, x1[i], lw=1, **style)
            axes[2, col].semilogy(t_ms, np.abs(v[i] - ref_v) * 1e3 + 1e-12, lw=0.8, **style)
        axes[0, col].set_title(f"w = {level:g} mA")
        axes[2, col].set_xlabel("t (ms)")
    axes[0, 0].set_ylabel("v (mV)")
    axes[1, 0].set_ylabel("x1")
    axes[2, 0].set_ylabel("|v - v_ngspice| (mV)")
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.suptitle("MIF neuron under the SPICEprop schedule: memsnn against ngspice")
    fig.tight_layout()
    return _save(fig, path)


def plot_convergence(results, path=None):
    """Left: error of v against the step (log-log) for the fixed-step schemes. Right: error against
    steps per neuron for every solver (work-precision)."""
    sp = results["spiceprop"]
    mid = sp["weights_mA"].index(0.01)
    floor = max(sp["reference"]["memsnn_converged_vs_reference"]["v"])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.5))
    steps_us = None
    for family in ("Euler", "SpicepropEuler", "Heun", "ImplicitEuler"):
        rows = [r for r in sp["rows"] if r["family"] == family]
        if not rows:
            continue
        color, marker = FAMILY_STYLE[family]
        h = np.array([r["step"] for r in rows]) * 1e6
        err = np.array([r["v_rel_l2"][mid] for r in rows])
        order = sp["orders"].get(family)
        ax.loglog(h, err, marker=marker, color=color, label=family + (f" (order {order:.2f})" if order else ""))
        steps_us = h if steps_us is None or len(h) > len(steps_us) else steps_us
    if steps_us is not None:
        h = np.array([steps_us.min(), steps_us.max()])
        ax.loglog(h, 6e-3 * h / 10, "k:", lw=1, label="slope 1")
        ax.loglog(h, 3e-4 * (h / 10) ** 2, "k--", lw=1, label="slope 2")
    ax.axhline(floor, color="gray", lw=0.8)
    ax.annotate("floor: ngspice reference vs memsnn converged", (0.02, floor), xycoords=("axes fraction", "data"),
                xytext=(0, 3), textcoords="offset points", fontsize=7, color="gray")
    ax.set_xlabel("step dt (us)")
    ax.set_ylabel("relative L2 error of v against ngspice")
    ax.set_title("Fixed steps (w = 0.01 mA)")
    ax.legend(fontsize=7)
    for r in sp["rows"]:
        color, marker = FAMILY_STYLE.get(r["family"], ("k", "."))
        steps = np.nanmax(np.asarray(r["steps_per_neuron"], dtype=float))
        bx.loglog(steps, max(r["v_rel_l2"]), marker=marker, color=color, ls="none")
    for family, (color, marker) in FAMILY_STYLE.items():
        bx.plot([], [], marker=marker, color=color, ls="none", label=family)
    bx.axhline(floor, color="gray", lw=0.8)
    bx.set_xlabel("solver steps per neuron (adaptive: accepted + rejected, worst weight)")
    bx.set_ylabel("worst relative L2 error of v over the weights")
    bx.set_title("Work against accuracy, all solvers")
    bx.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def plot_stiff(results, waves, path=None):
    """Constant currents near and beyond Euler's limit: ngspice, an implicit solver, fine Euler, and
    plain Euler at 10 us beyond the limit."""
    st = results["stiff"]
    t_ms = waves["times"] * 1e3
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    ref = _wave(waves, "stiff", "ngspice", "v")
    implicit = _wave(waves, "stiff", "Kvaerno5 rtol = 1e-5", "v")
    euler = _wave(waves, "stiff", "Euler dt = 1 us", "v")
    for i, current in enumerate(st["currents_mA"]):
        line, = ax.plot(t_ms, ref[i] * 1e3, lw=3, alpha=0.35)
        if implicit is not None:
            ax.plot(t_ms, implicit[i] * 1e3, "--", color=line.get_color(), lw=1)
        if euler is not None:
            ax.plot(t_ms, euler[i] * 1e3, ":", color=line.get_color(), lw=1)
        line.set_label(f"{current:g} mA")
    ax.plot([], [], "k-", lw=3, alpha=0.35, label="ngspice")
    ax.plot([], [], "k--", lw=1, label="Kvaerno5 rtol 1e-5")
    ax.plot([], [], "k:", lw=1, label="Euler dt = 1 us")
    ax.set_xlabel("t (ms)")
    ax.set_ylabel("v (mV)")
    ax.set_title("Constant current: one onset transient, then a depolarised state")
    ax.legend(fontsize=7)
    stab = results.get("stability")
    plain = waves.get("stability|plain Euler 10 us|v")
    if stab and plain is not None:
        for k, current in enumerate(stab["plain_euler_currents_mA"]):
            bad = np.flatnonzero(~np.isfinite(plain[k]) | (np.abs(plain[k]) > 1.0))
            note = f", blows up at {t_ms[bad[0]]:.2f} ms" if bad.size else ""
            bx.plot(t_ms[: plain.shape[1]], plain[k] * 1e3, lw=0.8, label=f"plain Euler, {current:g} mA{note}")
        bx.set_ylim(0, 150)
        bx.set_title(f"Explicit Euler at 10 us: the fixed point oscillates above "
                     f"{stab['euler_oscillation_current_mA']:.4f} mA", fontsize=9)
        bx.set_xlabel("t (ms)")
        bx.set_ylabel("v (mV)")
        bx.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def plot_speed(results, path=None):
    """Worst error against time per neuron, memsnn and ngspice, 200 neurons in one batch / netlist."""
    sp = results["speed"]
    n = sp["n_neurons"]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for r in sp["memsnn"]:
        if r.get("unstable"):
            continue
        color, marker = FAMILY_STYLE.get(r["family"], ("k", "o"))
        ax.loglog(r["wall_s"] / n * 1e3, r["v_rel_l2_max"], marker=marker, color=color, ls="none")
        ax.annotate(f"{r['family']} {r['setting']}", (r["wall_s"] / n * 1e3, r["v_rel_l2_max"]), fontsize=6,
                    xytext=(3, 3), textcoords="offset points")
    for r in sp["ngspice"]:
        marker = "*" if r["grid_breakpoints"] else "p"
        ax.loglog(r["wall_s"] / n * 1e3, r["v_rel_l2_max"], marker=marker, color="k", ls="none", ms=8)
        step = f", {r['options']['max_step'] * 1e6:g} us" if r["options"].get("max_step") else ""
        ax.annotate(f"reltol {r['options']['reltol']:g}{step}", (r["wall_s"] / n * 1e3, r["v_rel_l2_max"]),
                    fontsize=6, xytext=(3, -8), textcoords="offset points")
    ax.plot([], [], "k*", label="ngspice, grid breakpoints")
    ax.plot([], [], "kp", label="ngspice, interpolated")
    ax.plot([], [], "o", color="gray", label="memsnn (steady state)")
    ax.axhline(sp["target"], color="gray", ls="--", lw=0.8)
    s = sp.get("summary")
    title = f"{n} MIF neurons, 10 ms"
    if s:
        title += f": memsnn {s['speedup']:.0f}x faster per neuron at {sp['target']:g}"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("wall time per neuron (ms)")
    ax.set_ylabel("worst relative L2 error of v over the neurons")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def plot_all(results, waves_path, folder):
    """Draw every figure whose experiment is in ``results``; returns the paths written."""
    waves = dict(np.load(waves_path))
    folder = Path(folder)
    written = []
    if "spiceprop" in results:
        written.append(plot_waveforms(results, waves, folder / "solver_accuracy_waveforms.png"))
        written.append(plot_convergence(results, folder / "solver_accuracy_convergence.png"))
    if "stiff" in results:
        written.append(plot_stiff(results, waves, folder / "solver_accuracy_stiff.png"))
    if results.get("speed", {}).get("memsnn"):
        written.append(plot_speed(results, folder / "solver_accuracy_speed.png"))
    plt.close("all")
    return written


def _save(fig, path):
    if path is None:
        return fig
    fig.savefig(path, dpi=100)
    return path


if __name__ == "__main__":
    res = json.loads((RESULTS / "solver_accuracy.json").read_text())
    for p in plot_all(res, RESULTS / "solver_accuracy_waveforms.npz", RESULTS):
        print("wrote", p)
