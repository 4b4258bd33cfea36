"""Build notebooks/weight_transfer.ipynb (run: python notebooks/_build_weight_transfer.py [--execute]).

``--execute`` runs it (the bundled MNIST subset, a few minutes on 2 CPU cores) and stores it with its
outputs (``notebooks/_execute.py``). The notebook is generated, not edited by hand.
"""

import sys

from nbformat.v4 import new_code_cell, new_markdown_cell

CELLS = [
    new_markdown_cell("""\
# Quantized weight transfer by STDP

Hwang, Kim & Park (2021), *Quantized Weight Transfer Method Using Spike-Timing-Dependent Plasticity
for Hardware Spiking Neural Network* (Appl. Sci. 11(5):2059): a trained network's weights are
quantized into `2n + 1` levels and written into synaptic devices with the devices' own STDP
response. For each post-synaptic neuron and each non-zero level, **one** programming step writes
every synapse of that level: pre-synaptic pulses on the rows of the level's *weight map*, one
post-synaptic pulse on the neuron's column, offset by the `dt` that gives that level's conductance
change. A 784-800-10 network then takes 810 x 2n steps (1,620 for ternary weights) instead of one
per synapse (635,200).

This notebook shows the device law and its inversion, trains a small version on the MNIST subset
shipped with memsnn, draws the weight maps, programs them onto simulated devices (with and without
variation) and runs the transferred network as a spiking network with `memsnn.simulate`. The
full-size figures come from `benchmarks/weight_transfer.py`; their tables are at the end.
See `docs/weight-transfer.md`."""),
    new_code_cell("""\
import json
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import memsnn
from memsnn import Dense
from memsnn.data import load_dataset
from memsnn.training import GradientLearner, fit, make_optimizer
from memsnn.training.conversion import build_conversion, calibrate, evaluate_snn
from memsnn.crossbar import STDPLaw, StdpPulses, WeightMapTransfer, fake_quantize, quantize

train = load_dataset("mnist", "train", source="bundled")
test = load_dataset("mnist", "test", source="bundled")
print(train[0].shape, test[0].shape)"""),
    new_markdown_cell("""\
## The device's STDP law, fitted, and its inversion

`dG(dt) = A+ exp(-dt/tau+)` for `dt = t_post - t_pre >= 0`, `-A- exp(dt/tau-)` for `dt < 0`. Here
the "measurements" are the law itself plus 5 % noise; `STDPLaw.fit` recovers the parameters by
least squares on `ln |dG|`. `WeightMapTransfer.design` gives the largest level the shortest offset
(1 µs) and spaces the levels evenly in conductance; the offsets follow from the inverse law."""),
    new_code_cell("""\
law = STDPLaw(a_plus=10e-6, a_minus=8e-6, tau_plus=20e-6, tau_minus=25e-6)
rng = np.random.default_rng(0)
dt_measured = np.concatenate([np.linspace(-90e-6, -1e-6, 15), np.linspace(0, 80e-6, 15)])
dg_measured = np.asarray(law.delta_g(dt_measured)) * (1 + 0.05 * rng.standard_normal(dt_measured.shape))
fitted = STDPLaw.fit(dt_measured, dg_measured)
print("fitted: A+ = %.2f uS, A- = %.2f uS, tau+ = %.1f us, tau- = %.1f us" % (
    1e6 * fitted.a_plus, 1e6 * fitted.a_minus, 1e6 * fitted.tau_plus, 1e6 * fitted.tau_minus))

pulses = StdpPulses(v_pre=0.6, v_post=0.6, width=100e-6)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
dt = np.linspace(-100e-6, 100e-6, 801)
axes[0].plot(1e6 * dt, 1e6 * np.asarray(law.delta_g(dt)), color="k", label="law")
axes[0].plot(1e6 * dt_measured, 1e6 * dg_measured, "o", ms=3, label="measured (synthetic)")
axes[0].plot(1e6 * dt, 1e6 * np.asarray(fitted.delta_g(dt)), "--", color="C1", label="fitted")
axes[0].set(xlabel="dt = t_post - t_pre (us)", ylabel="dG (uS)", title="device STDP law")
axes[0].legend(fontsize=8)
for n in (1, 3, 7):
    transfer = WeightMapTransfer.design(law, n, g_min=1e-6, g_max=101e-6, min_offset=1e-6, pulses=pulses)
    dt_k, k = np.asarray(transfer.offsets), np.asarray(transfer.nonzero_levels)
    line, = axes[1].plot(1e6 * dt_k[k < 0], k[k < 0], "o-", label=f"n = {n}")
    axes[1].plot(1e6 * dt_k[k > 0], k[k > 0], "o-", color=line.get_color())
axes[1].set(xlabel="pulse offset dt (us)", ylabel="level k", title="offset of each level (inverted law)")
axes[1].legend(fontsize=8)
fig.tight_layout()"""),
    new_markdown_cell("""\
## A 784-800-10 network on the subset, quantized to 3 levels

The float network (ReLU, no biases) is trained with the shared loop; then it is fine-tuned through
the quantizer (`fake_quantize`: the forward pass uses the `2n + 1` levels, the gradient passes
straight through, the scale is learned). Plain post-training quantization to 3 levels loses many
points on this network (see the table at the end); the fine-tuning wins them back."""),
    new_code_cell("""\
class MLP(eqx.Module):
    w1: jax.Array
    w2: jax.Array
    s1: jax.Array
    s2: jax.Array
    n: int | None = eqx.field(static=True)

    def __call__(self, x):
        w1, w2 = (self.w1, self.w2) if self.n is None else (
            fake_quantize(self.w1, self.n, self.s1), fake_quantize(self.w2, self.n, self.s2))
        return jax.nn.relu(x @ w1.T) @ w2.T


def loss(model, images, labels, *, key, throw):
    logits = model(images)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), jnp.argmax(logits, -1)


def predict(model, images, *, key, throw):
    return jnp.argmax(model(images), -1)


def train_model(model, epochs, lr):
    learner = GradientLearner(loss, predict, make_optimizer(lr, total_steps=epochs * (len(train[0]) // 64)))
    result = fit(model, learner, train, test, epochs=epochs, batch_size=64, progress=False)
    print("test accuracy by epoch:", ", ".join(f"{100 * r['test_acc']:.1f}%" for r in result.history))
    return result.model


k1, k2 = jax.random.split(jax.random.key(0))
model = MLP(jax.random.uniform(k1, (800, 784), minval=-1, maxval=1) / 28,
            jax.random.uniform(k2, (10, 800), minval=-1, maxval=1) / np.sqrt(800), jnp.zeros(()), jnp.zeros(()), None)
model = train_model(model, 6, 1e-3)
n = 1
ptq = quantize(model.w1, n), quantize(model.w2, n)
qat = train_model(MLP(model.w1, model.w2, jnp.asarray(ptq[0].scale), jnp.asarray(ptq[1].scale), n), 4, 3e-4)
quantized = quantize(qat.w1, n, float(qat.s1)), quantize(qat.w2, n, float(qat.s2))
levels1 = np.asarray(quantized[0].levels)
print("layer 1 level fractions:", {k: f"{100 * np.mean(levels1 == k):.1f}%" for k in range(-n, n + 1)})"""),
    new_markdown_cell("""\
## Weight maps

Each post-synaptic neuron has one map per non-zero level: the inputs whose weight is at that level.
A programming step pulses the rows of one map (here drawn as 28 x 28 images) together with the
neuron's column."""),
    new_code_cell("""\
neurons = [0, 1, 2, 3, 4, 5]
fig, axes = plt.subplots(3, len(neurons), figsize=(1.8 * len(neurons), 5.6))
for col, j in enumerate(neurons):
    axes[0, col].imshow(levels1[j].reshape(28, 28), cmap="bwr", vmin=-1, vmax=1)
    axes[1, col].imshow((levels1[j] == 1).reshape(28, 28), cmap="Reds", vmin=0, vmax=1)
    axes[2, col].imshow((levels1[j] == -1).reshape(28, 28), cmap="Blues", vmin=0, vmax=1)
    axes[0, col].set_title(f"neuron {j}", fontsize=9)
for row, name in enumerate(["levels", "map k = +1", "map k = -1"]):
    axes[row, 0].set_ylabel(name)
for ax in axes.ravel():
    ax.set(xticks=[], yticks=[])
fig.tight_layout()"""),
    new_markdown_cell("""\
## Programming: weight maps against one by one

`program` runs the weight-map steps; `program_one_by_one` the same pulse pairs one synapse at a
time. On devices with variation (10 % device-to-device on A± and tau±, 5 % cycle-to-cycle) the
conductances spread around each level; the offsets were computed from the nominal law."""),
    new_code_cell("""\
transfer = WeightMapTransfer.design(law, n, g_min=1e-6, g_max=101e-6, min_offset=1e-6, pulses=pulses,
                                    cycle_sigma=0.05)
rows = []
read = {}
for name, d2d in (("noiseless", 0.0), ("varied", 0.1)):
    weights, results = [], []
    for layer, q in enumerate(quantized):
        k_dev, k_c2c = jax.random.split(jax.random.key(layer))
        devices = law.varied(q.levels.shape, key=k_dev, amplitude_sigma=d2d, tau_sigma=d2d) if d2d else None
        t = transfer if d2d else eqx.tree_at(lambda t: t.cycle_sigma, transfer, jnp.asarray(0.0))
        r = t.program(q.levels, devices=devices, key=k_c2c)
        results.append(r)
        weights.append(np.asarray(t.levels_read(r.positive, r.negative)) * q.step)
    read[name] = (weights, results)
single = [transfer.program_one_by_one(q.levels, key=jax.random.key(9)) for q in quantized]
maps = read["noiseless"][1]
print(f"{'':>12} {'steps':>9} {'programmed devices (mJ)':>24} {'half-selected (mJ)':>19}")
for name, rs in (("weight maps", maps), ("one by one", single)):
    print(f"{name:>12} {sum(int(r.steps) for r in rs):9d} {1e3 * sum(float(jnp.sum(r.device_energy)) for r in rs):24.3f} "
          f"{1e3 * sum(float(r.half_select_energy) for r in rs):19.1f}")
print(f"{'weights':>12} {sum(q.levels.size for q in quantized):9d}")

fig, ax = plt.subplots(figsize=(6, 3.2))
g = np.asarray(read["varied"][1][0].positive).ravel()
ax.hist(1e6 * g, bins=200, color="C0")
ax.set(xlabel="excitatory conductance G+ (uS)", ylabel="devices", yscale="log",
       title="layer 1 after weight-map programming (varied devices)")
fig.tight_layout()"""),
    new_markdown_cell("""\
## The transferred network as a spiking network

The weights read back from the conductances, `(G+ - G-) / level_step` times the weight of a level,
go into `memsnn.Dense` arrays of an integrate-and-fire network (`memsnn.training.conversion`: reset
by subtraction, threshold at the 99.9th percentile of the hidden activations, the image as a
constant input current, the output read from its integrated membrane), simulated by
`memsnn.simulate` for T steps."""),
    new_code_cell("""\
def snn(weights, steps=(16, 32, 64)):
    net = build_conversion(dict(architecture="dense", hidden=(800,), activation="relu",
                                normalisation="percentile", eval_steps=steps), key=jax.random.key(0))
    # The conversion network's dense arrays carry biases: zero here (the MLP has none).
    arrays = tuple(Dense(jnp.asarray(w, jnp.float32), jnp.zeros(w.shape[0], jnp.float32)) for w in weights)
    net = eqx.tree_at(lambda m: m.arrays, net, arrays)
    return evaluate_snn(calibrate(net, train[0]), *test, steps=steps)

for name, (weights, _) in read.items():
    print(name, ", ".join(f"T={r['steps']}: {100 * r['accuracy']:.1f}%" for r in snn(weights)))"""),
    new_markdown_cell("""\
## The full-size figures (benchmarks/weight_transfer.py)

Read from `benchmarks/results/weight_transfer.json` (full MNIST, 784-800-10): accuracy for every n,
programming steps and energy of the three ways of programming, and accuracy against variation."""),
    new_code_cell("""\
path = Path(memsnn.__file__).resolve().parents[1] / "benchmarks" / "results" / "weight_transfer.json"
record = json.loads(path.read_text()) if path.exists() else None
if record is None:
    print("run benchmarks/weight_transfer.py first")
else:
    print(f"float ANN {100 * record['float']['ann_accuracy']:.2f}%; SNN accuracy: best over T of "
          + ", ".join(str(r["steps"]) for r in record["float"]["snn"]))
    head = f"{'n':>2} {'levels':>6} {'PTQ ANN':>8} {'QAT ANN':>8} {'SNN':>7} {'SNN var':>8} {'steps':>7} {'1-by-1':>8} {'w-verify':>9} {'E maps mJ':>10} {'E 1-by-1 mJ':>12}"
    print(head)
    for n_, e in record.get("levels", {}).items():
        best = lambda runs: max(r["accuracy"] for r in runs)
        wv = e["write_verify"].get("steps", "-") if e.get("write_verify") else "-"
        print(f"{n_:>2} {e['levels']:6d} {100 * e['ptq_ann_accuracy']:7.2f}% {100 * e['qat_ann_accuracy']:7.2f}% "
              f"{100 * best(e['noiseless']['snn']):6.2f}% {100 * best(e['varied']['snn']):7.2f}% "
              f"{e['noiseless']['steps']:7d} {e['one_by_one']['steps']:8d} {wv!s:>9} "
              f"{1e3 * e['noiseless']['energy_J']:10.1f} {1e3 * e['one_by_one']['energy_J']:12.1f}")
    print("SNN: the best over T of the transferred network (noiseless devices; 'var': 10 % device-to-device, "
          "5 % cycle-to-cycle); E: programmed + half-selected devices")"""),
    new_code_cell("""\
if record is not None and record.get("sweeps"):
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), sharey=True)
    for ax, kind, label in ((axes[0], "d2d", "device-to-device sigma of A+- and tau+-"),
                            (axes[1], "c2c", "cycle-to-cycle sigma of dG")):
        for n_ in sorted({r["n"] for r in record["sweeps"]}):
            rows = [r for r in record["sweeps"] if r["kind"] == kind and r["n"] == n_]
            ax.plot([r["sigma"] for r in rows], [100 * r["snn_accuracy_mean"] for r in rows], "o-",
                    label=f"n = {n_} ({2 * n_ + 1} levels)")
        ax.axhline(97.58, color="gray", ls=":", label="paper, 3 levels")
        ax.set(xlabel=label, title=f"SNN accuracy, T = {rows[0]['steps']}")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("test accuracy (%)")
    fig.tight_layout()"""),
]


def main() -> None:
    from _execute import write

    write(CELLS, "weight_transfer.ipynb", sys.argv[1:])


if __name__ == "__main__":
    main()
