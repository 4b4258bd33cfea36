"""Build notebooks/surrogate_mnist.ipynb (run: python notebooks/_build_surrogate.py [--execute]).

``--execute`` runs it on the bundled data and stores it with its outputs (``notebooks/_execute.py``).

The notebook is generated, not edited by hand, so that its code stays reviewable in one place.
"""

import sys

from nbformat.v4 import new_code_cell, new_markdown_cell

CELLS = [
    new_markdown_cell("""\
# Surrogate-gradient training of a spiking network on MNIST

A 784-128-10 network of leaky integrate-and-fire (LIF) neurons, simulated by `memsnn.simulate` and
trained with backpropagation through time. The spike is a Heaviside step forward; backward, its
derivative (zero almost everywhere) is replaced by a smooth *surrogate* (`memsnn.spikes`).

With explicit Euler, `dt = 1` and `R = tau`, one step of the LIF neuron is snnTorch's `Leaky` update
`v[k+1] = beta v[k] + W x[k]` with `beta = 1 - dt / tau`. This notebook runs in a couple of
minutes on the 4,000-image MNIST subset shipped with memsnn; `benchmarks/surrogate_train.py`
trains the full-size networks."""),
    new_code_cell("""\
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from memsnn import spikes
from memsnn.data import load_dataset
from memsnn.training import train

x_test, y_test = load_dataset("mnist", "test", source="bundled")
print(x_test.shape, y_test.shape)"""),
    new_markdown_cell("""\
## Surrogate spike functions

Each factory returns a hashable spike function with a `slope` (1/V); `spikes.surrogate(name, slope)`
looks one up by name. Forward they are all the same step; only the derivative differs."""),
    new_code_cell("""\
x = jnp.linspace(-1, 1, 401)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
axes[0].plot(x, spikes.fast_sigmoid()(x), color="k")
axes[0].set(title="forward: Heaviside step", xlabel="v - threshold", ylabel="spike")
for name, slope in [("fast_sigmoid", 25), ("arctan", 2), ("sigmoid", 25), ("triangular", 1), ("straight_through", 1)]:
    fn = spikes.surrogate(name, slope)
    axes[1].plot(x, jax.vmap(jax.grad(fn))(x), label=f"{name} ({slope})")
axes[1].set(title="backward: surrogate derivative", xlabel="v - threshold", ylabel="d spike / d v", ylim=(0, 2.2))
axes[1].legend(fontsize=8)
fig.tight_layout()"""),
    new_markdown_cell("""\
## Training through the shared loop

`train("surrogate", ...)` is what `memsnn train --method surrogate` runs: the same progress bar,
per-epoch JSON log and checkpoints (and `resume=True`) as every other method. The image is a
constant input current at each of the 25 steps; the loss is the cross-entropy of the output
membrane potential at every step (as in the snnTorch tutorial)."""),
    new_code_cell("""\
result = train("surrogate", "mnist", source="bundled", epochs=3, batch_size=128, lr=2e-3,
               model=dict(hidden=[128], n_steps=25, beta=0.95, surrogate="fast_sigmoid", slope=25.0),
               out_dir="runs/notebook-surrogate", overwrite=True, progress=False)
for row in result.history:
    print(f"epoch {row['epoch']}: loss {row['train_loss']:.3f}, test accuracy {100 * row['test_acc']:.1f}%")
model = result.model"""),
    new_markdown_cell("""\
## Spike rasters and membrane traces

`model.run(images)` returns, for every layer, the spikes and membrane potentials
`(batch, n_steps, n_neurons)`."""),
    new_code_cell("""\
sample = 0
spk, mem = model.run(jnp.asarray(x_test[:8]))
hidden, out = np.asarray(spk[0][sample]), np.asarray(spk[1][sample])
fig, axes = plt.subplots(1, 3, figsize=(13, 3.5), gridspec_kw={"width_ratios": [1, 2, 2]})
axes[0].imshow(x_test[sample].reshape(28, 28), cmap="gray")
axes[0].set(title=f"label {y_test[sample]}", xticks=[], yticks=[])
t, n = np.nonzero(hidden)
axes[1].scatter(t, n, s=3, color="k")
axes[1].set(title=f"hidden layer raster ({int(hidden.sum())} spikes)", xlabel="step", ylabel="neuron")
t, n = np.nonzero(out)
axes[2].scatter(t, n, s=12, color="C3")
axes[2].set(title="output raster", xlabel="step", ylabel="class", yticks=range(10), xlim=(-1, 25))
fig.tight_layout()
print("spike counts per class:", out.sum(axis=0).astype(int), "-> predicted", int(out.sum(axis=0).argmax()))"""),
    new_code_cell("""\
v = np.asarray(mem[1][sample])
fig, ax = plt.subplots(figsize=(8, 3.5))
for c in range(10):
    ax.plot(v[:, c], lw=2.5 if c == y_test[sample] else 1, label=str(c))
ax.axhline(1.0, color="k", ls="--", lw=1, label="threshold")
ax.set(title="output membrane potentials (reset by subtraction after each spike)", xlabel="step",
       ylabel="membrane potential")
ax.legend(ncol=2, fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
fig.tight_layout()"""),
    new_markdown_cell("""\
## Variants

The model is configured by `memsnn.training.surrogate.SurrogateConfig`:

* `neuron="if"` (no leak), `reset="zero"` or `"none"`, `learn_beta` / `learn_threshold`;
* `reset_delay=True, detach_reset=True`: snnTorch's `Leaky` exactly (the reset subtracted one step later,
  undecayed; `benchmarks/surrogate_vs_snntorch.py` checks that the traces agree in float32);
* `architecture="conv"`: `12C5-AP2-64C5-AP2-FC10` with `memsnn.arrays.Conv2d`;
* `output="integrator"` (with `readout="membrane"`, `loss="ce_membrane"`): the output layer never fires and
  its membrane is the readout, as in the convolutional benchmarks (`benchmarks/surrogate_train.py mnist-conv`);
* `encoding="rate"` with `integration="discontinuous"` (the membrane restarts every `window` steps:
  with `window=1` a binary-activation network per step) or `"continuous"`;
* losses `"ce_count"`, `"ce_membrane"`, `"mse_rate"`; readout by spike count or membrane."""),
    new_markdown_cell("""\
The binary-activation network of Yin et al. (2017): IF neurons, rate-coded input, the membrane restarted
at every step, the straight-through estimator. Its gradient is non-zero only within `1 / (2 slope)` of the
threshold, so the threshold is lowered to 0.5: with the default 1, almost no neuron starts in that window
and the network does not learn."""),
    new_code_cell("""\
binary = train("surrogate", "mnist", source="bundled", epochs=1, batch_size=128, lr=2e-3,
               model=dict(hidden=[128], n_steps=8, neuron="if", threshold=0.5, encoding="rate",
                          integration="discontinuous", window=1, surrogate="straight_through", slope=1.0,
                          loss="ce_count"),
               progress=False)
print(f"binary activations, discontinuous integration: test accuracy {100 * binary.history[-1]['test_acc']:.1f}%")"""),
]


def main() -> None:
    from _execute import write

    write(CELLS, "surrogate_mnist.ipynb", sys.argv[1:])


if __name__ == "__main__":
    main()
