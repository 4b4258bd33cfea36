"""Build notebooks/supervised_spike_timing.ipynb (run: python notebooks/_build_supervised.py [--execute]).

``--execute`` runs it (small live runs of the Tempotron and ReSuMe, about a minute on 2 CPU cores;
SpikeProp and R-STDP drawn from the stored benchmark results) and stores it with its outputs
(``notebooks/_execute.py``). The notebook is generated, not edited by hand.
"""

import sys
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell

CELLS = [
    new_markdown_cell("""\
# Supervised spike-timing rules: Tempotron, ReSuMe, SpikeProp, R-STDP

The four rules of `docs/supervised-spike-timing.md`, each on memsnn's one core (`memsnn.simulate`,
`memsnn.training.fit`). The Tempotron and ReSuMe are trained here on small problems (a minute on a
laptop CPU); SpikeProp and reward-modulated STDP take longer, so their figures are drawn from the
stored results of `benchmarks/` (the commands are in the README's result rows)."""),
    new_code_cell("""\
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import memsnn
from memsnn.arrays import PlasticDense
from memsnn.plasticity import ReSuMe
from memsnn.training import fit
from memsnn.training.resume import learn_target_trains
from memsnn.training.tempotron import TempotronConfig, build_tempotron, tempotron_learner

RESULTS = next(p / "benchmarks" / "results" for p in [Path.cwd(), *Path.cwd().parents]
               if (p / "benchmarks" / "results").is_dir())"""),
    new_markdown_cell("""\
## 1. Tempotron (Gütig & Sompolinsky 2006)

200 afferents, one spike each at a random time in 500 ms; 100 random patterns (load 0.5), half
labelled "fire". The paper's online rule (`online: True`): after each error
`dw = lambda sum K(t_max - t_i) + mu dw_prev`. One `fit` step is one cycle through the patterns;
the potential is the simulated kernel superposed (`potential="superposition"`)."""),
    new_code_cell("""\
rng = np.random.default_rng(0)
n_in, n_pat = 200, 100
x = (1.0 - rng.uniform(0, 1, (n_pat, n_in))).astype(np.float32)
y = rng.permutation(np.arange(n_pat) % 2).astype(np.int32)
config = TempotronConfig(n_inputs=n_in, dt=1e-3, potential="superposition", momentum=0.99)
model = build_tempotron(config, key=jax.random.key(0))
learner = tempotron_learner(model, {"optimizer": {"lr": 1e-3}, "online": True})
show = [int(np.argmax(y == 1)), int(np.argmax(y == 0))]  # one "fire" and one "no fire" pattern
before = model.potential(x[show])
res = fit(model, learner, (x, y), None, epochs=80, batch_size=n_pat, progress=False)
errors = [round((1 - h["train_acc"]) * n_pat) for h in res.history]
print("errors per cycle:", errors[:10], "...", errors[-5:])
after = res.model.potential(x[show])
t = np.arange(config.n_steps) * config.dt * 1e3
fig, ax = plt.subplots(1, 2, figsize=(10, 3))
ax[0].plot(np.arange(1, len(errors) + 1), errors)
ax[0].set(xlabel="learning cycle", ylabel="errors in the cycle", title="Tempotron, 100 patterns, N = 200")
for k, c in zip(range(2), ("C0", "C1")):
    ax[1].plot(t, after[k, :, 0], c, label=f"pattern {show[k]} (label {y[show[k]]}), after")
    ax[1].plot(t, before[k, :, 0], c, alpha=0.3, lw=0.8)
ax[1].axhline(1.0, color="k", ls="--", lw=0.8)
ax[1].set(xlabel="t (ms)", ylabel="V (threshold = 1)", title="potential before (faint) and after learning")
ax[1].legend(fontsize=7)
fig.tight_layout()"""),
    new_markdown_cell("""\
The capacity curve of the paper's setting (N = 500, loads up to 3) and SpikingJelly 2.0's
Tempotron beside memsnn's, from `benchmarks/tempotron_capacity.py`:"""),
    new_code_cell("""\
cap = json.loads((RESULTS / "tempotron_capacity.json").read_text())
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot([r["alpha"] for r in cap["rows"]], [r["fraction_correct"] for r in cap["rows"]], "o-", label="memsnn")
sj = cap["spikingjelly"]["rows"]
ax.plot([r["alpha"] for r in sj], [r["fraction_correct"] for r in sj], "s", mfc="none", label="SpikingJelly 2.0")
ax.axvline(cap["paper"]["alpha_c"], color="grey", ls="--", label="paper: alpha_c ~ 3")
ax.set(xlabel="load alpha = P / N", ylabel="fraction correct after learning")
ax.legend(fontsize=8)
fig.tight_layout()
print({k: round(v, 2) for k, v in cap["timing"].items() if k.endswith("_s") or k.startswith("speedup")})"""),
    new_markdown_cell("""\
## 2. ReSuMe (Ponulak & Kasinski 2010)

One LIF neuron, 200 Poisson inputs (a frozen 200 ms pattern), learns a target train of 5 spikes:
at a desired spike every synapse grows by `eta (a + x_j)`, at an actual one it shrinks by the same.
The Schreiber correlation of the output with the target, epoch by epoch, for two set-ups: the
inputs' impulses straight onto the membrane (window 5 ms, rate 0.002), which keeps hopping (the
membrane crosses threshold only where an input arrives, so a target between arrivals is never met
exactly and the rule never stops), and the inputs through a 2 ms current synapse with the window
as long as the membrane's decay (10 ms) and the rate 0.032, which reaches the target train and
stays on it: a spike in its target step makes the rule's change exactly zero
(docs/supervised-spike-timing.md)."""),
    new_code_cell("""\
dt, n_steps, n_in = 0.2e-3, 1000, 200
rng = np.random.default_rng(0)
spikes = (rng.random((1, n_steps, n_in)) < 10.0 * dt).astype(float)
targets = [[0.03, 0.07, 0.10, 0.14, 0.18]]
w0 = rng.uniform(0, 0.1, (1, n_in))
fig, ax = plt.subplots(figsize=(5, 3))
for label, synapse, resistance, window, lr in (("onto the membrane, rate 0.002", None, 10e-3, 5e-3, 0.002),
                                               ("2 ms current synapse, rate 0.032", memsnn.ExponentialSynapse(2e-3),
                                                10e-3 / 2e-3, 10e-3, 0.032)):
    rule = ReSuMe(n_in, targets, dt=dt, learning_rate=lr, a=0.05, tau=window)
    layer = memsnn.Layer(PlasticDense(jnp.asarray(w0), w_min=-1.0, w_max=1.0), synapse,
                         memsnn.LIF(tau=10e-3, resistance=resistance, threshold=1.0, reset="zero"), plasticity=rule)
    _, history = learn_target_trains(layer, memsnn.Impulses(jnp.asarray(spikes)), dt=dt, n_steps=n_steps,
                                     epochs=200)
    corr = np.asarray(history)[:, 0]
    print(label, "- correlation, last 10 epochs:", corr[-10:].round(3))
    ax.plot(np.arange(1, len(corr) + 1), corr, label=label, lw=1)
ax.legend(fontsize=8)
ax.axhline(0.95, color="grey", ls="--", lw=0.8)
ax.set(xlabel="epoch", ylabel="Schreiber correlation", title="ReSuMe: one neuron, 5 target spikes")
fig.tight_layout()"""),
    new_markdown_cell("""\
## 3. SpikeProp (Bohte, Kok & La Poutré 2002)

Exact spike times (`spike_timing="exact"`) through delayed terminals; the rules as optax transforms.
XOR (16 terminals, 10 seeds): seeds converged and cycles to converge per rule; Iris: test accuracy
per epoch of the runs chosen on the validation split (`benchmarks/spikeprop_xor.py`,
`benchmarks/spikeprop_uci.py`)."""),
    new_code_cell("""\
xor = json.loads((RESULTS / "spikeprop_xor.json").read_text())
fig, ax = plt.subplots(1, 2, figsize=(10, 3))
rules = [r["rule"] for r in xor["rows"]]
ax[0].bar(rules, [r["converged_seeds"] for r in xor["rows"]])
ax[0].set(ylabel="converged seeds (of 10)", title="SpikeProp XOR, <= 300 cycles")
iris_file = RESULTS / "spikeprop_iris_val.json"
iris = json.loads((iris_file if iris_file.exists() else RESULTS / "spikeprop_iris.json").read_text())
for r in iris.get("chosen_runs", iris["runs"]):
    ax[1].plot(np.arange(1, len(r["test_acc_per_epoch"]) + 1), r["test_acc_per_epoch"], label=f"seed {r['seed']}")
ax[1].axhline(0.961, color="grey", ls="--", lw=0.8, label="paper 96.1 %")
ax[1].set(xlabel="epoch", ylabel="test accuracy", title="SpikeProp Iris")
ax[1].legend(fontsize=7)
fig.tight_layout()"""),
    new_markdown_cell("""\
## 4. Reward-modulated STDP with a baseline

Izhikevich's distal-reward experiment (a reward 1-3 s after each pairing of one synapse; the
eligibility trace bridges the delay) and a two-class task with and without the reward baseline
`dw = gamma e (r - b)` (`benchmarks/rstdp_distal_reward.py`, `benchmarks/rstdp_task.py`)."""),
    new_code_cell("""\
dist = json.loads((RESULTS / "rstdp_distal_reward.json").read_text())["series"]
task = json.loads((RESULTS / "rstdp_task.json").read_text())
fig, ax = plt.subplots(1, 2, figsize=(10, 3))
ax[0].plot(dist["t_s"], dist["rewarded"], label="rewarded synapse")
ax[0].plot(dist["t_s"], dist["others_mean"], label="others, mean")
ax[0].plot(dist["t_s"], dist["others_p99"], label="others, 99th percentile", alpha=0.6)
ax[0].set(xlabel="t (s)", ylabel="weight", title="distal reward")
ax[0].legend(fontsize=7)
for r in task["rows"]:
    ax[1].plot(np.arange(1, len(r["test_acc_per_epoch"]) + 1), r["test_acc_per_epoch"], "o-",
               color="C0" if r["baseline_rate"] else "C3", alpha=0.7)
ax[1].plot([], [], "C0o-", label="with baseline")
ax[1].plot([], [], "C3o-", label="b = 0")
ax[1].set(xlabel="epoch", ylabel="test accuracy", title="R-STDP task, 3 seeds")
ax[1].legend(fontsize=7)
fig.tight_layout()"""),
]


def main() -> None:
    from _execute import write

    write(CELLS, "supervised_spike_timing.ipynb", sys.argv[1:], cwd=Path(__file__).parent)  # it reads ../benchmarks/results


if __name__ == "__main__":
    main()
