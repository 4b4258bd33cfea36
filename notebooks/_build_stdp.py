"""Build notebooks/stdp_mnist.ipynb (run: python notebooks/_build_stdp.py [--execute]).

``--execute`` runs it (a few minutes on 2 CPU cores, the bundled data) and stores it with its
outputs (``notebooks/_execute.py``). The notebook is generated, not edited by hand.
"""

import sys

from nbformat.v4 import new_code_cell, new_markdown_cell

CELLS = [
    new_markdown_cell("""\
# STDP inside the simulated circuit: the learning window, and unsupervised MNIST (Diehl & Cook 2015)

A plasticity rule in memsnn is a component of a layer (`memsnn.plasticity`): its traces are state
that the solver integrates with the neurons, and it changes weights only through the layer's
plastic array, `array.updated(state, delta)`. On `memsnn.arrays.PlasticDense` the change is exact;
on a `memsnn.crossbar.Crossbar` it is programmed into memristive devices with their own pulse
response, so "STDP with memristors" is the device physics, not a formula (docs/plasticity.md).

This notebook measures the classic STDP window from simulated spike pairs (on ideal weights and on
NeuroSim devices), the frequency dependence of the triplet rule, and trains Diehl & Cook's network
for a few hundred images to show its receptive fields. The accuracy figures come from
`benchmarks/stdp_mnist.py` (one pass over the 60,000 training images)."""),
    new_code_cell("""\
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import memsnn
from memsnn.arrays import PlasticDense
from memsnn.crossbar import Crossbar
from memsnn.crossbar import preset
from memsnn.data import load_dataset
from memsnn.plasticity import PairSTDP, TripletSTDP
from memsnn.training import stdp"""),
    new_markdown_cell("""\
## The STDP window, measured

One LIF neuron behind a 2-input plastic array: input 0 is the synapse under study, input 1 a
"teacher" strong enough to make the neuron fire on the step it arrives. Each sample of the batch is
an independent network instance with its own weights, so one `simulate` call measures the whole
window: the pre spike at `t_post - s` for `s` from -50 to 50 ms."""),
    new_code_cell("""\
dt, tau_m = 1e-4, 20e-3
lags_ms = np.arange(-50, 51, 2)
lag_steps = np.round(lags_ms * 1e-3 / dt).astype(int)
n_steps, t_post = 1300, 600
amp = np.zeros((len(lags_ms), n_steps, 2))
amp[np.arange(len(lags_ms)), t_post - lag_steps, 0] = 1.0
amp[:, t_post, 1] = 1.0
stimulus = memsnn.Impulses(jnp.asarray(amp))
neuron = memsnn.LIF(tau=tau_m, resistance=tau_m, threshold=1.0, reset="zero")


def window(array, rule):
    net = memsnn.Network([memsnn.Layer(array, None, neuron, plasticity=rule)])
    trace = memsnn.simulate(net, stimulus, dt=dt, n_steps=n_steps)
    weights = jax.vmap(array.weights)(trace.final_state[0].array)
    return np.asarray(weights[:, 0, 0])


a_plus, a_minus, tau = 0.01, 0.0105, 20e-3
rule = PairSTDP(2, a_plus=a_plus, a_minus=a_minus, tau_plus=tau, tau_minus=tau)
ideal = window(PlasticDense(jnp.asarray([[0.5, 10.0]])), rule) - 0.5
s = np.linspace(-50, 50, 401) * 1e-3
closed = np.where(s >= 0, a_plus * np.exp(-s / tau), -a_minus * np.exp(s / tau))

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(s * 1e3, closed, color="k", lw=1, label="A+ exp(-s/tau+), -A- exp(s/tau-)")
ax.plot(lags_ms, ideal, "o", ms=4, label="measured (PlasticDense)")
ax.axhline(0, color="0.8", lw=0.5)
ax.set(xlabel="s = t_post - t_pre (ms)", ylabel="weight change", title="pair STDP from simulated spike pairs")
ax.legend(fontsize=8)
fig.tight_layout()
deviation = np.max(np.abs(ideal - np.interp(lags_ms * 1e-3, s, closed)))
print(f"largest deviation from the closed form: {deviation:.2e} (the traces decay by Euler steps)")"""),
    new_markdown_cell("""\
## The same rule on memristive devices

The same rule on a crossbar of NeuroSim devices (`preset("neurosim")`: 31 conductance levels,
nonlinear and asymmetric potentiation and depression, 0.5 % cycle-to-cycle noise), the weight held
by a differential pair. The rule asks for the same changes (amplitudes raised to a few device
pulses here); each becomes `round(|change| / step)` pulses on the device, whose conductance then
moves along its own curve: the window comes out quantised, and a change smaller than half a pulse
is lost."""),
    new_code_cell("""\
big = PairSTDP(2, a_plus=0.2, a_minus=0.21, tau_plus=tau, tau_minus=tau)
# Weights up to w_max = 1 on the devices: the teacher (1.0) fires a neuron of threshold 0.6 alone,
# the synapse under study (0.3) does not.
cross = Crossbar(jnp.asarray([[0.3, 1.0]]), **preset("neurosim", w_max=1.0)._asdict())
key = jax.random.key(0)
net = memsnn.Network([memsnn.Layer(cross, None, memsnn.LIF(tau=tau_m, resistance=tau_m, threshold=0.6, reset="zero"),
                                   plasticity=big)])
trace = memsnn.simulate(net, stimulus, dt=dt, n_steps=n_steps, key=key)
start = np.asarray(cross.weights(cross.init_state(1, key=None)))[0, 0]
device = np.asarray(jax.vmap(cross.weights)(trace.final_state[0].array))[:, 0, 0] - start
ideal_big = window(PlasticDense(jnp.asarray([[0.5, 10.0]])), big) - 0.5

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(lags_ms, ideal_big, "o", ms=4, label="ideal weights")
ax.plot(lags_ms, device, "s", ms=4, label="NeuroSim devices (crossbar)")
ax.axhline(0, color="0.8", lw=0.5)
ax.set(xlabel="s = t_post - t_pre (ms)", ylabel="weight change", title="the same rule, programmed into devices")
ax.legend(fontsize=8)
fig.tight_layout()"""),
    new_markdown_cell("""\
## Triplet STDP: the frequency dependence of pairing

Pfister & Gerstner's minimal all-to-all triplet rule (visual cortex parameters), 15 pre/post pairs
at +10 ms (pre first) and -10 ms (post first), repeated at 1 to 50 Hz. Potentiation grows with the
post-synaptic rate through the slow post trace, so post-pre pairs depress at low frequency and
potentiate at high frequency, as in Sjoestroem et al. 2001."""),
    new_code_cell("""\
h, n_pairs, lag = 5e-4, 15, 20
freqs = np.array([1, 2, 5, 10, 20, 30, 40, 50.0])
n_steps_pairs = int(n_pairs / freqs.min() / h) + 50
amp = np.zeros((2 * len(freqs), n_steps_pairs, 2))
for b, (sign, f) in enumerate([(sg, f) for sg in (+1, -1) for f in freqs]):
    first = 50 + np.round(np.arange(n_pairs) / f / h).astype(int)
    amp[b, first if sign > 0 else first + lag, 0] = 1.0
    amp[b, first + lag if sign > 0 else first, 1] = 1.0
triplet = TripletSTDP.pfister_gerstner(2, "minimal", "all")
net = memsnn.Network([memsnn.Layer(PlasticDense(jnp.asarray([[0.0, 10.0]])), None, neuron, plasticity=triplet)])
trace = memsnn.simulate(net, memsnn.Impulses(jnp.asarray(amp)), dt=h, n_steps=n_steps_pairs)
dw = np.asarray(trace.final_state[0].array[:, 0, 0]) / n_pairs

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(freqs, 100 * dw[: len(freqs)], "o-", label="pre-post, +10 ms")
ax.plot(freqs, 100 * dw[len(freqs):], "s-", label="post-pre, -10 ms")
ax.axhline(0, color="0.8", lw=0.5)
ax.set(xlabel="pairing frequency (Hz)", ylabel="weight change per pair (%)", title="triplet rule, pairing protocol")
ax.legend(fontsize=8)
fig.tight_layout()"""),
    new_markdown_cell("""\
## Diehl & Cook: unsupervised learning of digits

784 Poisson inputs (up to 63.75 Hz) drive 100 conductance-based excitatory neurons with adaptive
thresholds; each excitatory neuron drives an inhibitory partner that inhibits all the others
(`memsnn.neurons.InhibitedPopulation`: the loop of lateral inhibition lives in the population's
event map, so the network stays feed-forward). The input array learns with their nearest-spike
triplet rule (`TripletSTDP.diehl_cook`), the weights onto each neuron normalised to 78 before every
image. Learning is sequential: the final state of one image (weights, thresholds) is the
`initial_state` of the next. Here: 300 images, then the neurons are labelled by their responses and
tested on 300 test images (the benchmark learns from tens of thousands)."""),
    new_code_cell("""\
x_train, y_train = load_dataset("mnist", "train", source="bundled")
x_test, y_test = load_dataset("mnist", "test", source="bundled")
model = stdp.build_stdp(stdp.StdpConfig(n_neurons=100), key=jax.random.key(0))
learn = eqx.filter_jit(stdp.learn_images)
t0 = time.perf_counter()
for start in range(0, 300, 50):
    model, counts, shown, _ = learn(model, jnp.asarray(x_train[start:start + 50]), jax.random.key(start))
print(f"learned from 300 images in {time.perf_counter() - t0:.0f} s; "
      f"{float(np.mean(np.asarray(counts).sum(1))):.1f} spikes per image in the last batch")
model = stdp.assign_labels(model, x_train[:300], y_train[:300], batch_size=50)
predict = eqx.filter_jit(stdp.stdp_predict)
predictions = np.concatenate([np.asarray(predict(model, jnp.asarray(x_test[i:i + 50]), key=jax.random.key(i)))
                              for i in range(0, 300, 50)])
print(f"test accuracy after 300 images: {100 * np.mean(predictions == y_test[:300]):.1f}% (300 test images)")"""),
    new_code_cell("""\
fields = np.asarray(model.weights()).reshape(10, 10, 28, 28)
fig, ax = plt.subplots(figsize=(6, 6))
ax.imshow(fields.transpose(0, 2, 1, 3).reshape(280, 280), cmap="hot_r")
ax.set(xticks=[], yticks=[], title="receptive fields (input weights) of the 100 excitatory neurons")
for i, label in enumerate(np.asarray(model.assignments)):
    ax.text(28 * (i % 10) + 1, 28 * (i // 10) + 6, str(label), color="tab:blue", fontsize=7)
fig.tight_layout()"""),
]


def main() -> None:
    from _execute import write

    write(CELLS, "stdp_mnist.ipynb", sys.argv[1:])


if __name__ == "__main__":
    main()
