"""Write the SPICEprop notebooks from one template, so they stay in step with each other and the code.

    python notebooks/_build.py

writes ``notebooks/spiceprop_mnist.ipynb`` and ``notebooks/spiceprop_fashion_mnist.ipynb``; with
``--execute`` it then runs them (quick settings, the bundled data) and stores them with their outputs
(``notebooks/_execute.py``). Edit this file, not the notebooks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent

DATASETS = {
    "mnist": {
        "title": "MNIST",
        "file": "spiceprop_mnist.ipynb",
        "classes": [str(i) for i in range(10)],
        "paper": "97.58%",
    },
    "fashion-mnist": {
        "title": "Fashion-MNIST",
        "file": "spiceprop_fashion_mnist.ipynb",
        "classes": ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
                    "bag", "boot"],
        "paper": "75.26%",
    },
}


def cells(dataset: str, title: str, classes: list[str], paper: str) -> list:
    return [
        new_markdown_cell(f"""\
# SPICEprop on {title}: training memristive neurons through their circuit equations

SPICEprop (Zhou et al., arXiv 2203.01426) trains a network whose output neurons are **memristive
integrate-and-fire (MIF) neurons**: a membrane capacitor with two memristor + battery branches
(`docs/mif-neuron.md`). A dense front end turns each image into one drive per class; the drive
arrives three times (steps 0, 400, 800 of 1000 steps of 10 µs) through an alpha synapse, and
`memsnn.simulate` integrates the circuit. The loss is the cross-entropy of the softmax over the 10
membrane potentials (in mV) at every step, and its gradient is the exact gradient of the simulated
circuit — no surrogate. The paper reports {paper} test accuracy on {title}.

This notebook trains the network, plots the learning curves, the 10 output membrane potentials for
a few test images, and the confusion matrix. By default it runs a **quick** version (the subset
shipped with memsnn, 3 epochs, a couple of minutes on a laptop CPU). Set `FULL = True` below (or the
environment variable `MEMSNN_NOTEBOOK_FULL=1`) for the paper's setting: the full dataset, 40
epochs. The same run from a shell:

```
memsnn train --method spiceprop --dataset {dataset} --data full --out runs/spiceprop-{dataset}
```"""),
        new_code_cell("""\
import os

from memsnn.training import use_cpu_cores

# One JAX device per CPU core, so each core simulates part of every batch. This must come before
# the first JAX computation.
print("devices:", use_cpu_cores())

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from memsnn.data import load_dataset
from memsnn.training import evaluate, train
from memsnn.training.spiceprop import spiceprop_predict"""),
        new_markdown_cell("## Settings"),
        new_code_cell(f"""\
FULL = os.environ.get("MEMSNN_NOTEBOOK_FULL") == "1"  # True: full dataset, 40 epochs (paper setting)

DATASET = "{dataset}"
CLASSES = {classes!r}
if FULL:
    DATA = dict(source="full", train_subset=None, test_subset=None)
    EPOCHS = 40
else:
    DATA = dict(source="bundled", train_subset=None, test_subset=None)  # 4,000 train / 1,000 test
    EPOCHS = 3
RUN_DIR = f"runs/notebook-spiceprop-{{DATASET}}-{{'full' if FULL else 'quick'}}"
print(DATA, EPOCHS, RUN_DIR)"""),
        new_markdown_cell("""\
## Train

`train` runs the shared training loop: Adam with a cosine learning-rate schedule, batch 200, a
progress bar with the running loss and accuracy, the test accuracy after every epoch, a checkpoint
and a JSON log in `RUN_DIR`. With `resume=True` an interrupted run continues from its last
finished epoch (and a finished one is simply reloaded)."""),
        new_code_cell("""\
result = train("spiceprop", DATASET, **DATA, epochs=EPOCHS, out_dir=RUN_DIR, resume=True)
model, history = result.model, result.history
for row in history:
    print(f"epoch {row['epoch']:2d}  loss {row['train_loss']:8.1f}  train {100 * row['train_acc']:5.2f}%  "
          f"test {100 * row['test_acc']:5.2f}%  {row['epoch_time_s']:5.1f} s")"""),
        new_markdown_cell("## Learning curves"),
        new_code_cell("""\
epochs = [row["epoch"] for row in history]
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5))
ax_loss.plot(epochs, [row["train_loss"] for row in history], "o-")
ax_loss.set(xlabel="epoch", ylabel="training loss (summed over 1000 steps)", title="loss")
ax_acc.plot(epochs, [100 * row["train_acc"] for row in history], "o-", label="train")
ax_acc.plot(epochs, [100 * row["test_acc"] for row in history], "s-", label="test")
ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
ax_acc.legend()
fig.tight_layout()"""),
        new_markdown_cell("""\
## The 10 output membrane potentials

For a few test images: each line is one class's MIF neuron. The image arrives at 0, 4 and 8 ms;
the neuron of the predicted class is the one with the largest potential summed over time.
Depolarisation, repolarisation as the memristor M1 switches on, and the undershoot below rest are
the circuit's own dynamics."""),
        new_code_cell("""\
test_x, test_y = load_dataset(DATASET, "test", source=DATA["source"], subset=DATA["test_subset"])
shown = np.arange(3)
potentials = np.asarray(model.membrane_potentials(jnp.asarray(test_x[shown])))  # (3, 1000, 10) mV
time_ms = 0.01 * np.arange(1, potentials.shape[1] + 1)
fig, axes = plt.subplots(len(shown), 2, figsize=(11, 3 * len(shown)), gridspec_kw={"width_ratios": [1, 5]})
for row, i in enumerate(shown):
    axes[row, 0].imshow(test_x[i].reshape(28, 28), cmap="gray")
    axes[row, 0].set(title=f"label: {CLASSES[test_y[i]]}", xticks=[], yticks=[])
    for c in range(10):
        style = dict(lw=2.5, color="k") if c == test_y[i] else dict(lw=1)
        axes[row, 1].plot(time_ms, potentials[row, :, c], label=CLASSES[c], **style)
    predicted = int(np.argmax(potentials[row].sum(axis=0)))
    axes[row, 1].set(xlabel="time (ms)", ylabel="v (mV)", title=f"predicted: {CLASSES[predicted]}")
axes[0, 1].legend(ncol=5, fontsize=8)
fig.tight_layout()"""),
        new_markdown_cell("## Confusion matrix on the test set"),
        new_code_cell("""\
accuracy, predictions = evaluate(spiceprop_predict, model, test_x, test_y, batch_size=1000)
confusion = np.zeros((10, 10), dtype=int)
np.add.at(confusion, (test_y, predictions), 1)
fig, ax = plt.subplots(figsize=(6.5, 5.5))
image = ax.imshow(confusion, cmap="Blues")
for t in range(10):
    for p in range(10):
        ax.text(p, t, confusion[t, p], ha="center", va="center", fontsize=7,
                color="white" if confusion[t, p] > confusion.max() / 2 else "black")
ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true",
       title=f"test accuracy {100 * accuracy:.2f}% on {len(test_y)} images")
ax.set_xticklabels(CLASSES, rotation=45, ha="right")
ax.set_yticklabels(CLASSES)
fig.colorbar(image)
fig.tight_layout()"""),
        new_markdown_cell(f"""\
## Next steps

* `memsnn evaluate runs/notebook-spiceprop-{dataset}-quick/checkpoint.eqx` re-measures the saved
  model from the command line.
* `memsnn train --method spiceprop --help` lists the options: wider front ends (`--hidden`),
  other integrators (`--solver euler | tsit5 | kvaerno5`), trainable device constants
  (`--train-device`), the memory/time trade-off of time-step checkpointing (`--checkpoint-every`).
* `benchmarks/spiceprop_train.py --dataset {dataset}` is the full benchmark behind the figures in
  the README."""),
    ]


def main() -> None:
    for dataset, info in DATASETS.items():
        nb = new_notebook(cells=cells(dataset, info["title"], info["classes"], info["paper"]))
        nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
        nb.metadata["language_info"] = {"name": "python"}
        nbformat.validate(nb)
        nbformat.write(nb, HERE / info["file"])
        print(f"wrote {HERE / info['file']}")
        if "--execute" in sys.argv[1:]:
            from _execute import execute

            execute(HERE / info["file"])


if __name__ == "__main__":
    main()
