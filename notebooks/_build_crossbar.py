"""Build notebooks/crossbar.ipynb (run: python notebooks/_build_crossbar.py [--execute]).

``--execute`` runs it and stores it with its outputs (``notebooks/_execute.py``). The IR-drop maps
and the non-idealities are computed in the notebook (seconds); the accuracies come from
``benchmarks/results/crossbar_training.json`` (``benchmarks/crossbar_training.py``: hours of
training and evaluation on 2 CPU cores).
"""

import sys

from nbformat.v4 import new_code_cell, new_markdown_cell

CELLS = [
    new_markdown_cell("""\
# Memristive crossbars: IR drop, non-idealities, accuracy over time

A `memsnn.crossbar.Crossbar` holds a weight matrix as conductances of memristive devices (differential
pairs `G+ - G-`) and reads it through their non-idealities: finite levels, programming noise, read
noise, stuck-at faults, drift, and the IR drop of its wires, solved exactly by nodal analysis.
This notebook shows the IR drop across a tile, what each non-ideality does to the weights, and the
accuracy of the fully memristive SPICEprop network (784-100-10 crossbars, 10 MIF neurons) with each
non-ideality, with and without hardware-aware training, and over a year of PCM drift."""),
    new_code_cell("""\
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

jax.config.update("jax_enable_x64", True)  # the IR-drop maps are solved in float64

from memsnn.crossbar import (ConductanceMapping, Drift, FiniteLevels, ProgrammingNoise, ReadNoise, StuckAt,
                             Wires, solve_ir_drop_nodes)"""),
    new_markdown_cell("""\
## IR drop across a 64 x 64 tile

Random conductances in the "realistic" preset's range (0.1-10 uS), every input at the 0.2 V read
voltage, wire resistance 1 and 10 Ohm between neighbouring cells. The voltage a cell sees is its
word-line node minus its bit-line node: far from the drivers (right) and from the sense amplifiers
(top) it is lower. `solve_ir_drop_nodes` returns every node voltage."""),
    new_code_cell("""\
n = 64
g = jax.random.uniform(jax.random.key(0), (n, n), minval=0.1e-6, maxval=10e-6)  # (rows = inputs, columns = outputs)
v = jnp.full(n, 0.2)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, r in zip(axes, (1.0, 10.0)):
    sol = solve_ir_drop_nodes(g, v, Wires(r, r))
    cell = (sol.word_voltages - sol.bit_voltages) / 0.2
    im = ax.imshow(np.asarray(cell), cmap="viridis", origin="lower")
    ideal = v @ g
    err = float(jnp.max(jnp.abs(sol.currents - ideal) / ideal))
    ax.set(title=f"{r:g} Ohm wires: cell voltage / V_read\\n(largest output error {100 * err:.1f} %)",
           xlabel="bit line (output)", ylabel="word line (input)")
    fig.colorbar(im, ax=ax, shrink=0.8)
    print(f"{r:>4g} Ohm: severity {float(sol.severity):.3f}, KCL residual {float(sol.relative_residual):.1e}, "
          f"output currents {100 * err:.2f} % below the ideal product at worst")
fig.tight_layout()"""),
    new_markdown_cell("""\
## What each non-ideality does to the weights

Weights in [-1, 1] mapped onto differential pairs in 0.1-10 uS, programmed (levels, programming
noise, faults) and read (read noise, drift), then mapped back: the read weight against the target."""),
    new_code_cell("""\
mapping = ConductanceMapping(0.1e-6, 10e-6, w_max=1.0)
w = jnp.linspace(-1, 1, 2001)[None, :]
target = mapping.to_conductances(w)
cases = {
    "16 levels": (FiniteLevels(16), "programmed"),
    "programming noise 1 %": (ProgrammingNoise(0.01), "programmed"),
    "stuck-at 1 %": (StuckAt(0.005, 0.005), "programmed"),
    "read noise 2 %": (ReadNoise(0.02), "read"),
}
fig, axes = plt.subplots(1, 4, figsize=(15, 3.4), sharey=True)
for ax, (name, (nonideality, when)) in zip(axes, cases.items()):
    key = jax.random.key(1)
    if when == "programmed":
        g = nonideality.programmed(target, mapping, key=key)
    else:
        g = nonideality.read(target, mapping, t=1.0, key=key)
    ax.plot(np.asarray(w[0]), np.asarray(mapping.to_weight(g)[0]), ".", ms=1.5)
    ax.plot([-1, 1], [-1, 1], "k--", lw=0.8)
    ax.set(title=name, xlabel="target weight")
axes[0].set_ylabel("weight read")
fig.tight_layout()"""),
    new_markdown_cell("""\
PCM drift (aihwkit's statistics): `G(t) = G0 (t / 20 s)^(-nu)` with a device-dependent exponent
`nu`, so the weights shrink over time, by different factors; global drift compensation rescales the
outputs by the ratio of a reference read at programming time to the same read now."""),
    new_code_cell("""\
pcm = ConductanceMapping(0.0, 25e-6, w_max=1.0)
g0 = pcm.to_conductances(jax.random.uniform(jax.random.key(2), (100, 100), minval=-1, maxval=1))
drift = Drift.pcm()
times = np.logspace(0, np.log10(3.15e7), 30)
scale = [float(jnp.mean(drift.read(g0, pcm, t=t).positive) / jnp.mean(g0.positive)) for t in times]
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.semilogx(times, scale)
ax.set(xlabel="time after programming (s)", ylabel="mean G(t) / G(0)", title="PCM drift")
for label, t in {"1 h": 3600, "1 day": 86400, "1 year": 3.15e7}.items():
    ax.axvline(t, color="grey", lw=0.5)
    ax.text(t, 0.98 * max(scale), label, fontsize=8)
fig.tight_layout()"""),
    new_markdown_cell("""\
## Accuracy of the fully memristive SPICEprop network

From `benchmarks/crossbar_training.py` (MNIST, 784-100-10 crossbars with the biases as a device
row, 10 MIF neurons). "ideal training": SPICEprop with ideal weights, then programmed onto
chips. "hardware-aware training": the same network fine-tuned on the "realistic" crossbars (each
step a new draw of programming noise, faults and read noise, gradients through them). Each chip is
programmed once (its own faults, stuck devices compensated by their partners: fault-aware
programming) and read with fresh read noise per batch; the figures are means over the chips noted
in the JSON."""),
    new_code_cell("""\
import memsnn

# The notebook runs in a scratch folder: the results are found next to the installed package.
results = json.loads((Path(memsnn.__file__).resolve().parents[1] / "benchmarks" / "results"
                      / "crossbar_training.json").read_text())
deploy = results["deploy"]
for t, a in deploy["accuracy"].items():
    print(f"{t}: {100 * a['mean']:.2f} % (mean of {deploy['chips']} realistic chips, "
          f"{100 * a['min']:.2f}..{100 * a['max']:.2f} %, {deploy['n_test']} test images)")
rows = results["ablation"]["rows"]
chips = max(r["chips"] for r in rows)
names = list(dict.fromkeys(r["nonideality"] for r in rows))
trainings = list(dict.fromkeys(r["training"] for r in rows))
fig, ax = plt.subplots(figsize=(10, 3.8))
width = 0.8 / len(trainings)
for i, t in enumerate(trainings):
    acc = [next((100 * r["accuracy"] for r in rows if r["training"] == t and r["nonideality"] == n), np.nan)
           for n in names]
    ax.bar(np.arange(len(names)) + i * width, acc, width, label=t)
ax.set_xticks(np.arange(len(names)) + width * (len(trainings) - 1) / 2, names, rotation=20, ha="right", fontsize=8)
ax.set(ylabel="test accuracy (%)", ylim=(80, 100),
       title=f"each non-ideality alone ({results['ablation']['n_test']} test images, {chips} chips)")
ax.legend()
fig.tight_layout()
for n in names:
    print(f"{n:<28}" + "".join(f"{t}: {100 * r['accuracy']:6.2f} %   " for t in trainings
                               for r in rows if r["training"] == t and r["nonideality"] == n))"""),
    new_code_cell("""\
drift_rows = results["drift"]["rows"]
fig, ax = plt.subplots(figsize=(6, 3.6))
for t in dict.fromkeys(r["training"] for r in drift_rows):
    for comp, style in ((False, "--"), (True, "-")):
        sel = [r for r in drift_rows if r["training"] == t and r["drift_compensation"] == comp]
        ax.semilogx([r["t_read"] for r in sel], [100 * r["accuracy"] for r in sel], style, marker="o",
                    label=f"{t}, {'with' if comp else 'without'} compensation")
ax.set(xlabel="time after programming (s)", ylabel="test accuracy (%)",
       title=f"PCM preset ({results['drift']['n_test']} test images)")
ax.legend(fontsize=7)
fig.tight_layout()"""),
]


if __name__ == "__main__":
    from _execute import write

    write(CELLS, "crossbar.ipynb", sys.argv[1:])
