"""Build notebooks/device_gradients.ipynb (run: python notebooks/_build_device_gradients.py [--execute]).

``--execute`` runs it and stores it with its outputs (``notebooks/_execute.py``): two short SPICEprop
trainings on the bundled MNIST subset and one gradient check in float64, a few minutes on 2 CPU cores.
"""

import sys
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell

_SOURCES = [
    ("md", """# Gradients with respect to the devices

A memsnn network is a simulated circuit, and `memsnn.simulate` is differentiable in everything that
enters it: not only the synaptic weights but the device constants of the neurons (the MIF's
capacitance, batteries and the four constants of each memristor, the synapse's time constant).
This notebook

1. trains a SPICEprop network (784-100-10 front end, 10 MIF output neurons, `docs/mif-neuron.md`)
   for a few epochs on the MNIST subset shipped with memsnn;
2. takes **d loss / d device parameter** of that trained network by automatic differentiation through
   the 1000-step simulation, and checks every one against a central finite difference (float64);
3. trains the same network with its device constants as trainable parameters (what
   `memsnn train --train-device` does), each through a smooth bijection onto its physical range
   (`memsnn.devices.bounds`), beside the weights-only run.

The same from a shell: `memsnn train --method spiceprop --dataset mnist --epochs 4 --train-device`."""),
    ("code", """import time

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from memsnn.devices.bounds import bounded_leaves
from memsnn.data import load_dataset
from memsnn.training import load_trained, train
from memsnn.training.spiceprop import build_spiceprop, spiceprop_loss

EPOCHS = 4  # on the bundled subset: 4,000 training and 1,000 test images
runs = {}
for name, device in (("weights only", False), ("weights + devices", True)):
    out = f"runs/device-gradients-{'devices' if device else 'weights'}"
    start = time.perf_counter()
    train("spiceprop", "mnist", source="bundled", model={"train_device": device}, epochs=EPOCHS, seed=0,
          out_dir=out, overwrite=True, progress=False)
    runs[name] = out
    print(f"{name}: trained in {time.perf_counter() - start:.0f} s")"""),
    ("md", """## 1. d loss / d device parameter of the trained network, against finite differences

The weights-only network is loaded again in float64 (`jax_enable_x64`), and the loss of 50 test
images is differentiated with respect to every bounded device constant of its readout (the synapse
and the MIF neurons): one reverse pass through the 1000 time steps gives all of them. Each is then
checked by a central difference `(L(p + h) - L(p - h)) / 2h` with `h = 1e-5 |p|` (an absolute
`1e-7 V` for the batteries, which may be 0). The table shows `p dL/dp` (the change of the loss for a
relative change of `p`) and, for the batteries (signed, possibly 0 V), `dL/dE` per mV."""),
    ("code", """jax.config.update("jax_enable_x64", True)

trained, header = load_trained(f"{runs['weights only']}/checkpoint.eqx")
# The same network in float64: a float64 model of the same settings, with the trained leaves cast.
like = build_spiceprop({**header["config"]["model"], "dtype": "float64"}, key=jax.random.key(0))
leaves = [jnp.asarray(a, b.dtype) for a, b in zip(jax.tree.leaves(trained), jax.tree.leaves(like))]
model = jax.tree.unflatten(jax.tree.structure(like), leaves)

x, y = load_dataset("mnist", "test", source="bundled")
x, y = jnp.asarray(x[:50], jnp.float64), jnp.asarray(y[:50])
devices = (model.synapse, model.neuron)


def loss_of(devices):
    return spiceprop_loss(eqx.tree_at(lambda m: (m.synapse, m.neuron), model, devices), x, y)[0]


loss = jax.jit(loss_of)
start = time.perf_counter()
grad = jax.jit(jax.grad(loss_of))(devices)
print(f"loss {float(loss(devices)):.4f}; all device gradients in one reverse pass: "
      f"{time.perf_counter() - start:.1f} s (with compilation)")

flat, treedef = jax.tree_util.tree_flatten_with_path(devices)
grads = jax.tree.leaves(grad)
names = {path: bound for path, bound in bounded_leaves(devices)}
rows = []
for i, (path, value) in enumerate(flat):
    key = jax.tree_util.keystr(path)
    if key not in names:
        continue
    p = float(value)
    h = 1e-5 * abs(p) if p != 0 else 1e-7

    def at(v):
        moved = [leaf for _, leaf in flat]
        moved[i] = jnp.asarray(v, value.dtype)
        return jax.tree_util.tree_unflatten(treedef, moved)

    fd = (float(loss(at(p + h))) - float(loss(at(p - h)))) / (2 * h)
    # log-scaled constants: p dL/dp; the batteries (linear, signed): dL/dE per mV.
    scale = p if names[key].scale == "log" else 1e-3
    rows.append((key.replace("[0]", "synapse").replace("[1]", "neuron"), p, names[key].unit, scale * float(grads[i]),
                 scale * fd))

print(f"{'parameter':<26}{'value':>11}  {'unit':<4}{'p dL/dp (autodiff)':>20}{'p dL/dp (FD)':>16}{'rel. diff':>11}")
for name, p, unit, g, fd in rows:
    print(f"{name:<26}{p:>11.4g}  {unit:<4}{g:>20.6g}{fd:>16.6g}{abs(g - fd) / max(abs(fd), 1e-30):>11.1e}")
worst = max(abs(g - fd) / max(abs(fd), 1e-30) for *_, g, fd in rows)
print(f"(batteries E1, E2: dL/dE x 1 mV)  largest relative difference: {worst:.1e}")"""),
    ("code", """labels = [r[0] for r in rows]
sens = np.array([r[3] for r in rows])
fd = np.array([r[4] for r in rows])
fig, ax = plt.subplots(figsize=(9, 5))
order = np.argsort(np.abs(sens))
ax.barh(np.array(labels)[order], sens[order], color="tab:blue", label="autodiff")
ax.plot(fd[order], np.arange(len(order)), "k|", markersize=14, label="finite difference")
ax.set_xscale("symlog", linthresh=1e-3)
ax.set(xlabel="p dL/dp: loss change per relative change of p (batteries: per mV)",
       title="sensitivity of the trained network's loss to each device constant")
ax.legend(loc="lower right"); plt.tight_layout()"""),
    ("md", """## 2. Training the devices

With `train_device=True` the model carries one unconstrained coordinate `s` per bounded device
constant (zero = the device as built); the simulated value is `constrain(p0, s)`, inside the
physical range for every `s`, so Adam can move it freely without clipping. Both runs below start
from the same weights (seed 0) and see the same batches."""),
    ("code", """fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
for name, out in runs.items():
    _, head = load_trained(f"{out}/checkpoint.eqx")
    hist = head["history"]
    epochs = [r["epoch"] for r in hist]
    ax[0].plot(epochs, [r["train_loss"] for r in hist], "o-", label=name)
    ax[1].plot(epochs, [100 * r["test_acc"] for r in hist], "o-", label=name)
    print(f"{name:<18} final test accuracy {100 * hist[-1]['test_acc']:.1f}% (1,000 bundled test images, "
          f"epoch {hist[-1]['epoch']})")
ax[0].set(xlabel="epoch", ylabel="training loss"); ax[1].set(xlabel="epoch", ylabel="test accuracy (%)")
ax[0].legend(); plt.tight_layout()"""),
    ("code", """jax.config.update("jax_enable_x64", False)
learned, _ = load_trained(f"{runs['weights + devices']}/checkpoint.eqx")
built = (learned.synapse, learned.neuron)
found = learned.readout()
names, ratios = [], []
for (path, p0), p in zip(jax.tree_util.tree_flatten_with_path(built)[0], jax.tree.leaves(found)):
    key = jax.tree_util.keystr(path)
    if key not in dict(bounded_leaves(built)):
        continue
    p0, p = float(p0), float(p)
    names.append(key.replace("[0]", "synapse").replace("[1]", "neuron"))
    ratios.append(p / p0 if p0 != 0 else np.nan)
    print(f"{names[-1]:<26} as built {p0:>10.4g}  learned {p:>10.4g}")
fig, ax = plt.subplots(figsize=(9, 4.5))
shown = [(n, r) for n, r in zip(names, ratios) if np.isfinite(r)]
ax.barh([n for n, _ in shown], [100 * (r - 1) for _, r in shown])
ax.set(xlabel="change from the device as built (%)", title=f"device constants after {EPOCHS} epochs of training")
plt.tight_layout()"""),
]


CELLS = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in _SOURCES]


if __name__ == "__main__":
    from _execute import write

    write(CELLS, "device_gradients.ipynb", sys.argv[1:], cwd=Path(__file__).parent)
