"""Build notebooks/conversion.ipynb (run: python notebooks/_build_conversion.py [--execute]).

``--execute`` runs it on the bundled data and stores it with its outputs (``notebooks/_execute.py``).

The notebook is generated, not edited by hand, so that its code stays reviewable in one place.
"""

import sys

from nbformat.v4 import new_code_cell, new_markdown_cell

CELLS = [
    new_markdown_cell("""\
# ANN-to-SNN conversion

Train an ordinary network (ReLU, or the quantized QCFS activation of Bu et al. 2022), then run it as
integrate-and-fire neurons on the memsnn core: `memsnn.training.conversion` builds a `memsnn.Network`
of `memsnn.IF` layers with the ANN's own arrays and simulates it with `memsnn.simulate`. The accuracy
of the spiking network grows with the number of time steps T; this notebook shows how fast for each
normalisation, and how often each layer fires (docs/conversion.md has the equations).

It runs in a few minutes on the 4,000-image MNIST subset shipped with memsnn;
`benchmarks/conversion.py` does the same on the full datasets."""),
    new_code_cell("""\
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import memsnn
from memsnn.data import load_dataset
from memsnn.training import train
from memsnn.training.conversion import calibrate, evaluate_snn, qcfs, run_snn, with_settings

x_train, y_train = load_dataset("mnist", "train", source="bundled")
x_test, y_test = load_dataset("mnist", "test", source="bundled")
print(x_train.shape, x_test.shape)"""),
    new_markdown_cell("""\
## The rate identity

An IF neuron with reset by subtraction, driven by a constant input `z` per step, fires
`floor(T z / theta)` times in `T` steps: its rate is `clip(z / theta, 0, 1)` within `1 / T`. Starting
at `theta / 2` rounds instead of flooring, which is what the QCFS activation (right) imitates with
its shift of one half."""),
    new_code_cell("""\
z = jnp.linspace(-0.2, 1.2, 141)
T = 8
rates = {}
for v0 in (0.0, 0.5):
    net = memsnn.Network([memsnn.Layer(memsnn.Identity(z.size), None, memsnn.IF(threshold=1.0))])
    state = net.init_state()
    state = (state[0]._replace(neuron=state[0].neuron._replace(v=jnp.full((z.size,), v0))),)
    trace = memsnn.simulate(net, memsnn.Current(z[None]), dt=1.0, n_steps=T, record=("spikes",),
                            initial_state=jax.tree.map(lambda x: x[None], state))
    rates[v0] = np.asarray(trace.spikes[0][0]).mean(axis=0)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
axes[0].plot(z, np.clip(z, 0, 1), "k--", lw=1, label="clip(z / theta, 0, 1)")
axes[0].step(z, rates[0.0], where="post", label="IF rate, v(0) = 0")
axes[0].step(z, rates[0.5], where="post", label="IF rate, v(0) = theta / 2")
axes[0].set(title=f"firing rate after T = {T} steps", xlabel="input per step z / theta", ylabel="spikes / step")
axes[0].legend(fontsize=8)
axes[1].plot(z, qcfs(z, 1.0, T), label=f"QCFS, L = {T}")
axes[1].plot(z, jax.nn.relu(z), "k--", lw=1, label="ReLU")
axes[1].set(title="QCFS activation (lambda = 1)", xlabel="z", ylabel="activation")
axes[1].legend(fontsize=8)
fig.tight_layout()
print("max |rate(v0 = theta/2) - QCFS| =", float(np.max(np.abs(rates[0.5] - np.asarray(qcfs(z, 1.0, T))))))"""),
    new_markdown_cell("""\
## Two small convolutional ANNs

`train("conversion", ...)` is `memsnn train --method conversion`: the ANN is trained by the shared
loop (progress, per-epoch log, checkpoints, resume); after the last epoch it is calibrated on the
training images, converted, and its SNN tested at every T of `eval_steps`. One network with ReLU
(converted with the 99.9th-percentile normalisation), one with QCFS (L = 4 levels; its trained
thresholds are the scales)."""),
    new_code_cell("""\
common = dict(architecture="conv", conv_channels=[8, 16], eval_steps=[2, 4, 8, 16, 32, 64])
nets = {}
for activation in ("relu", "qcfs"):
    result = train("conversion", "mnist", source="bundled", epochs=4, batch_size=64, lr=5e-3,
                   model=dict(common, activation=activation, levels=4),
                   out_dir=f"runs/notebook-conversion-{activation}", overwrite=True, progress=False)
    nets[activation] = result.model
    report = json.loads(Path(f"runs/notebook-conversion-{activation}/conversion.json").read_text())
    print(activation, "ANN test accuracy", report["ann_accuracy"], "scales", np.round(report["scales"], 3))"""),
    new_markdown_cell("""\
## Accuracy against T

The same ReLU network with three normalisations (max, 99.9th percentile, and the model-based max
weight sum), and the QCFS network. `with_settings` changes the conversion settings of a trained
network; `calibrate` computes the scales again."""),
    new_code_cell("""\
steps = [1, 2, 4, 8, 16, 32, 64, 128]
variants = {
    "ReLU, max norm": calibrate(with_settings(nets["relu"], normalisation="max"), x_train),
    "ReLU, 99.9 % norm": nets["relu"],
    "ReLU, model-based norm": calibrate(with_settings(nets["relu"], normalisation="model"), x_train),
    "ReLU, 99.9 %, reset to zero": with_settings(nets["relu"], reset="zero"),
    "QCFS (L = 4), v(0) = theta / 2": nets["qcfs"],
    "QCFS (L = 4), v(0) = 0": with_settings(nets["qcfs"], initial_membrane="zero"),
}
tables = {name: evaluate_snn(model, x_test, y_test, steps=steps) for name, model in variants.items()}
ann = {name: float(np.mean(np.argmax(np.asarray(model(jnp.asarray(x_test))), -1) == y_test))
       for name, model in variants.items()}
fig, ax = plt.subplots(figsize=(8, 4))
for i, (name, rows) in enumerate(tables.items()):
    ax.plot(steps, [100 * r["accuracy"] for r in rows], "o-", color=f"C{i}", label=name)
    ax.axhline(100 * ann[name], color=f"C{i}", ls=":", lw=1)
ax.set(xscale="log", xlabel="time steps T", ylabel="test accuracy (%)", ylim=(0, 100),
       title="converted SNN (dotted: the ANN)")
ax.set_xticks(steps, [str(t) for t in steps])
ax.legend(fontsize=8)
fig.tight_layout()
print(f"{'':32s}" + "".join(f"{t:>7d}" for t in steps) + "    ANN")
for name, rows in tables.items():
    print(f"{name:32s}" + "".join(f"{100 * r['accuracy']:7.1f}" for r in rows) + f"{100 * ann[name]:7.1f}")"""),
    new_markdown_cell("""\
## Firing rates per layer

Mean spikes per neuron per step of each hidden layer, over the test images and the first T steps.
With the percentile normalisation a few neurons saturate (rate 1) and the rest fire more than with
max normalisation, which is why it reaches the ANN's accuracy sooner."""),
    new_code_cell("""\
fig, axes = plt.subplots(1, 2, figsize=(10, 3.3), sharey=True)
for layer, ax in enumerate(axes):
    for i, (name, rows) in enumerate(tables.items()):
        ax.plot(steps, [r["firing_rates"][layer] for r in rows], "o-", color=f"C{i}", label=name)
    ax.set(xscale="log", xlabel="time steps T", title=f"hidden layer {layer + 1}")
    ax.set_xticks(steps, [str(t) for t in steps])
axes[0].set(ylabel="spikes / neuron / step")
axes[1].legend(fontsize=7)
fig.tight_layout()"""),
    new_markdown_cell("""\
## Inside the SNN

`run_snn` returns the output membrane and every hidden layer's spikes `(batch, T, n)`: the spike
count of each neuron over T steps, times its layer's scale, approximates the ANN's activation."""),
    new_code_cell("""\
model, T = nets["qcfs"], 32
membrane, spikes = run_snn(model, jnp.asarray(x_test[:64]), T, record_spikes=True)
hidden = model.activations(jnp.asarray(x_test[:64]))
fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
for layer in range(2):
    lam = float(model.thresholds[layer])
    axes[layer].plot(np.asarray(hidden[layer]).ravel(), lam * np.asarray(spikes[layer]).mean(axis=1).ravel(),
                     ".", ms=2, alpha=0.3)
    axes[layer].plot([0, lam], [0, lam], "k--", lw=1)
    axes[layer].set(title=f"layer {layer + 1} (lambda = {lam:.2f}), T = {T}", xlabel="ANN activation",
                    ylabel="lambda x spike count / T")
axes[2].plot(np.asarray(membrane[0]) / T, "o", label="SNN: output membrane / T")
axes[2].plot(np.asarray(hidden[-1][0]), "x", label="ANN logits")
axes[2].set(title=f"image 0 (label {y_test[0]})", xlabel="class")
axes[2].legend(fontsize=8)
fig.tight_layout()"""),
    new_markdown_cell("""\
## On the full datasets

`python benchmarks/conversion.py --datasets mnist fashion-mnist` trains 16C5-AP2-32C5-AP2-FC10 networks
on the full datasets and compares with SpikingJelly's ann2snn on the same weights. Its stored result,
if present:"""),
    new_code_cell("""\
path = Path("benchmarks/results/conversion.json")
if not path.exists():
    path = Path("../benchmarks/results/conversion.json")
if path.exists():
    bench = json.loads(path.read_text())
    for dataset, entry in bench["datasets"].items():
        print(f"{dataset} ({entry['n_test']} test images): accuracy (%) against T")
        print(f"{'':18s}{'ANN':>7s}" + "".join(f"{t:>7d}" for t in bench["steps"]))
        for name, res in entry["memsnn"].items():
            accuracies = "".join(f"{100 * r['accuracy']:7.2f}" for r in res["rows"])
            print(f"{name:18s}{100 * res['ann_accuracy']:7.2f}" + accuracies)
else:
    print("benchmarks/results/conversion.json not found (run benchmarks/conversion.py)")"""),
]


def main() -> None:
    from _execute import write

    write(CELLS, "conversion.ipynb", sys.argv[1:])


if __name__ == "__main__":
    main()
