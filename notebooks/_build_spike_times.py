"""Build notebooks/spike_times.ipynb (run: python notebooks/_build_spike_times.py [--execute]).

``--execute`` runs it (about 40 s on 2 loaded CPU cores: it trains a small Yin-Yang network) and
stores it with its outputs (``notebooks/_execute.py``). The notebook is generated, not edited by hand.
"""

import sys

from nbformat.v4 import new_code_cell, new_markdown_cell

CELLS = [
    new_markdown_cell("""\
# Exact spike times: crossings inside a step, their gradients, and time-to-first-spike training

With `simulate(..., spike_timing="exact")` a spike is the crossing of the neuron's threshold inside
its step, located from the step's own states by a differentiable expression; resets and the
impulses a spike sends act at that time (to first order in the time left to the grid point), so
gradients flow through spike times from layer to layer (docs/spike-times.md). This notebook shows
the spike times against a closed form, their gradients against finite differences, and a
Yin-Yang network trained on first-spike times (`memsnn train --method ttfs`)."""),
    new_code_cell("""\
import time

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import memsnn
from memsnn.arrays import Identity
from memsnn.data import load_dataset
from memsnn.training.ttfs import build_ttfs, ttfs_loss, ttfs_predict"""),
    new_markdown_cell("""\
## A LIF under a current step: the simulated spike time against the closed form

`v(t) = R I (1 - exp(-t / tau))` crosses `theta` at `t* = -tau ln(1 - theta / (R I))`. Explicit
Euler locates the crossing by linear interpolation (its own dense output): first order in `dt`.
Fixed-step Tsit5 locates it on the cubic Hermite interpolant through the end values and slopes."""),
    new_code_cell("""\
jax.config.update("jax_enable_x64", True)
tau, theta, current = 20e-3, 1.0, 1.5
exact = -tau * np.log(1 - theta / current)
net = memsnn.Network([memsnn.Layer(Identity(1), None, memsnn.LIF(tau=tau, threshold=theta))])
rows = {}
for name, solver in (("Euler, linear crossing", memsnn.Euler()),
                     ("Tsit5, Hermite crossing", memsnn.Diffrax(diffrax.Tsit5()))):
    errors = []
    for dt in (1e-3, 3e-4, 1e-4, 3e-5):
        trace = memsnn.simulate(net, memsnn.Current(jnp.array([[current]])), dt=dt, n_steps=int(0.03 / dt),
                                solver=solver, spike_timing="exact", record=("spike_times",))
        errors.append(abs(float(trace.first_spike_times()[0, 0]) - exact))
    rows[name] = errors
fig, ax = plt.subplots(figsize=(5, 3.5))
for name, errors in rows.items():
    ax.loglog([1e-3, 3e-4, 1e-4, 3e-5], np.maximum(errors, 1e-17), "o-", label=name)
ax.set(xlabel="dt (s)", ylabel="|t* simulated - closed form| (s)", title="first spike time of a LIF")
ax.legend(); fig.tight_layout()
jax.config.update("jax_enable_x64", False)"""),
    new_markdown_cell("""\
## Gradients of spike times against finite differences

`benchmarks/spike_times_gradients.py` checks d(spike times)/d(parameters) by autodiff against
central differences of the simulated spike times, in float64, for LIF (through a hidden layer's
spike times), a conductance LIF, the SPICEprop MIF (also with respect to a memristor constant),
synaptic delays and a recurrent connection. Its stored table:"""),
    new_code_cell("""\
import json
from pathlib import Path

results = Path(memsnn.__file__).resolve().parents[1] / "benchmarks" / "results"
table = json.loads((results / "spike_times_gradients.json").read_text())
for row in table["gradients"]:
    print(f"{row['max_rel_error']:9.1e}  {row['case']}")"""),
    new_markdown_cell("""\
## Yin-Yang by time-to-first-spike

The generated Yin-Yang set (the authors' definition and seeds), coordinates as input spike times,
200 hidden LIF neurons (`--hidden 200`, as in the README's row; the default is 120), 3 outputs: the
class is the output that fires first. Otherwise the `ttfs` defaults: neurons fire once, a 0.5 ms
grid, the squared error to target times 1.0 tau_syn (the label's output) and 1.2 tau_syn (the
others), Adam 1e-2 with cosine decay, gradients clipped to norm 1, batches of 64. Two epochs here on
half of the training set (a demonstration: they stay far below the full recipe); the full recipe (60 epochs on all of it, 5 seeds, the README's row) reached
98.1 +- 0.5 % final-epoch test accuracy (the default 120 hidden neurons: 97.9 +- 0.8 %);
`benchmarks/spike_times_yinyang.py` trains it over seeds."""),
    new_code_cell("""\
x, y = load_dataset("yinyang", "train")
xt, yt = load_dataset("yinyang", "test")
model = build_ttfs({"hidden": [200]}, key=jax.random.key(0))
print("sizes", model.config.sizes, "| target times (tau_syn)", model.config.target_times, "| loss", model.config.loss)
EPOCHS, SAMPLES, BATCH = 2, 2500, 64
# The ttfs defaults: Adam 1e-2 with cosine decay over the run, gradients clipped to norm 1.
opt = optax.chain(optax.clip_by_global_norm(1.0),
                  optax.adam(optax.cosine_decay_schedule(1e-2, EPOCHS * (SAMPLES // BATCH))))
state = opt.init(eqx.filter(model, eqx.is_inexact_array))


@eqx.filter_jit
def step(model, state, xb, yb):
    (loss, pred), grads = eqx.filter_value_and_grad(ttfs_loss, has_aux=True)(model, xb, yb)
    updates, state = opt.update(grads, state, eqx.filter(model, eqx.is_inexact_array))
    return eqx.apply_updates(model, updates), state, loss


predict = eqx.filter_jit(ttfs_predict)
t0 = time.perf_counter()
for epoch in range(EPOCHS):
    order = np.random.default_rng(epoch).permutation(len(y))[:SAMPLES]
    for i in range(0, SAMPLES - BATCH + 1, BATCH):
        model, state, loss = step(model, state, x[order[i:i + BATCH]], y[order[i:i + BATCH]])
    acc = np.mean(np.concatenate([np.asarray(predict(model, xt[i:i + 500])) for i in (0, 500)]) == yt)
    print(f"epoch {epoch + 1}: test accuracy {100 * acc:.1f} %  ({time.perf_counter() - t0:.0f} s)")"""),
    new_code_cell("""\
grid = np.linspace(0, 1, 60)
gx, gy = np.meshgrid(grid, grid)
points = np.stack([gx.ravel(), gy.ravel(), 1 - gx.ravel(), 1 - gy.ravel()], 1).astype(np.float32)
inside = np.hypot(points[:, 0] - 0.5, points[:, 1] - 0.5) <= 0.5
classes = np.concatenate([np.asarray(predict(model, points[i:i + 600])) for i in range(0, len(points), 600)])
fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
axes[0].scatter(xt[:, 0], xt[:, 1], c=yt, cmap="viridis", s=4)
axes[0].set(title="test set (classes)", aspect="equal")
axes[1].imshow(np.where(inside, classes, np.nan).reshape(60, 60), origin="lower", extent=(0, 1, 0, 1),
               cmap="viridis")
axes[1].set(title="decision map: the first output to fire", aspect="equal")
fig.tight_layout()"""),
    new_markdown_cell("""\
## Spike raster of one sample

Input spike times (4 coordinates and the bias), the hidden layer's spikes, and the three outputs:
the first output spike decides the class. The times are the located crossings, not grid points."""),
    new_code_cell("""\
c = model.config
trace = memsnn.simulate(model.network(), model.stimulus(xt[:1]), dt=c.dt, n_steps=c.n_steps, spike_timing="exact",
                        record=("spike_times",))
fig, axes = plt.subplots(3, 1, figsize=(7, 6), sharex=True, gridspec_kw={"height_ratios": [1, 4, 1]})
inputs = np.asarray(model.stimulus(xt[:1]).amplitude[0])
lags = np.asarray(model.stimulus(xt[:1]).lag[0])
k, j = np.nonzero(inputs)
axes[0].scatter(1e3 * ((k + 1) * c.dt - lags[k, j]), j, marker="|", s=80)
for ax, layer in zip(axes[1:], (0, 1)):
    times = np.asarray(trace.spike_times[layer][0])
    k, j = np.nonzero(np.isfinite(times))
    ax.scatter(1e3 * times[k, j], j, marker="|", s=30 if layer == 0 else 120)
axes[0].set(ylabel="input"); axes[1].set(ylabel="hidden neuron")
axes[2].set(ylabel="output", xlabel="time (ms)", title=f"label {yt[0]}, first output: "
            f"{int(np.argmin(np.asarray(trace.first_spike_times(1)[0])))}")
fig.tight_layout()"""),
]


def main() -> None:
    from _execute import write

    write(CELLS, "spike_times.ipynb", sys.argv[1:])


if __name__ == "__main__":
    main()
