"""Build notebooks/codesign.ipynb (run: python notebooks/_build_codesign.py [--execute]).

``--execute`` runs it and stores it with its outputs (``notebooks/_execute.py``). It simulates one
MIF spike live with its energy meter (seconds) and plots the saved results of
``benchmarks/codesign.py`` (``benchmarks/results/codesign_*.json``) where they are there.
"""

import sys
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell

_SOURCES = [
    ("md", """# Energy from the circuit, and device co-design

memsnn integrates the power its components dissipate as part of the simulated state
(`memsnn.energy.MIFEnergy`), so the energy of a memristive neuron comes out of the same simulation
that classifies an image, from every integrator the same way, and is differentiable with respect to
every device parameter. This notebook

1. meters one MIF spike and compares it with the integral of `i v` over the branches and ngspice;
2. shows the energy per MNIST image of a trained SPICEprop network, per layer and per component,
   with NeuroBench's synaptic operations and the 0.9 pJ/AC, 4.6 pJ/MAC proxy;
3. sweeps the output layer's devices (vmap, unstable settings marked) into an accuracy-energy
   Pareto front, with Monte-Carlo device variation and a sensitivity map;
4. shows a co-design run (weights and bounded device parameters, energy in the loss), checked by
   re-training at the device values it found.

See docs/energy.md. The full results come from `python benchmarks/codesign.py STAGE`."""),
    ("code", """import json
from pathlib import Path

import diffrax
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

jax.config.update("jax_enable_x64", True)

import memsnn
from memsnn.energy import MIFEnergy
from memsnn.presets import spiceprop_mif

RESULTS = Path("../benchmarks/results")


def result(name):
    path = RESULTS / f"codesign_{name}.json"
    if not path.exists():
        print(f"{path} is not there: run python benchmarks/codesign.py {name} ...")
        return None
    return json.loads(path.read_text())"""),
    ("md", """## 1. One spike, metered

A neuron with an energy meter in its layer; the same neuron without input gives the resting
energy, and the difference is the spike's."""),
    ("code", """layer = memsnn.Layer(memsnn.Identity(1), memsnn.AlphaSynapse(1e-3), spiceprop_mif(), energy=MIFEnergy())
network = memsnn.Network([layer])
stimulus = memsnn.Impulses(jnp.array([[[1e-5]], [[0.0]]]), (0,))  # 0.01 mA, and no input
trace = memsnn.simulate(network, stimulus, dt=1e-5, n_steps=1000, solver=memsnn.Diffrax(diffrax.Tsit5()),
                        record=("membrane_potential", "state"))
energy = trace.final_state[0].energy
spike_nj = float(energy.dissipated()[0, 0] - energy.dissipated()[1, 0]) * 1e9
print(f"energy of the spike: {spike_nj:.5f} nJ")
for name, value in energy._asdict().items():
    print(f"  {name:<11} with spike {float(value[0, 0]) * 1e9:9.5f} nJ, at rest {float(value[1, 0]) * 1e9:9.5f} nJ")

heat = np.asarray(trace.state[0].energy.memristor1 + trace.state[0].energy.memristor2)[:, :, 0] * 1e9
t_ms = np.asarray(trace.times) * 1e3
fig, ax = plt.subplots(1, 2, figsize=(11, 3.5))
ax[0].plot(t_ms, np.asarray(trace.membrane_potential[0])[0, :, 0] * 1e3, label="spike")
ax[0].plot(t_ms, np.asarray(trace.membrane_potential[0])[1, :, 0] * 1e3, label="rest")
ax[0].set(xlabel="t (ms)", ylabel="v (mV)", title="membrane potential")
ax[1].plot(t_ms, heat[0], label="spike")
ax[1].plot(t_ms, heat[1], label="rest")
ax[1].set(xlabel="t (ms)", ylabel="nJ", title="heat in the memristors (meter state)")
ax[0].legend(); ax[1].legend(); plt.tight_layout()"""),
    ("code", """spike = result("spike")
if spike:
    s = spike["spike"]
    print(f"simulation {s['simulation_J'] * 1e9:.6f} nJ | closed form (integral of i v) {s['closed_form_J'] * 1e9:.6f} nJ "
          f"(rel. {s['rel_err_vs_closed_form']:.1e}) | ngspice {s['ngspice_J'] * 1e9:.6f} nJ (rel. {s['rel_err_vs_ngspice']:.1e})")"""),
    ("md", """## 2. Energy per MNIST image of the SPICEprop network

The dense front end is digital (MACs on analog pixels and ReLU outputs, priced at the proxy); the
MIF readout is the simulated circuit, metered during classification."""),
    ("code", """energy = result("energy")
if energy:
    r = energy["report"]
    print(f"{r['n_images']} test images, accuracy {100 * r['accuracy']:.2f}%: {r['total_J'] * 1e9:.2f} nJ/image "
          f"(proxy alone {r['proxy_total_J'] * 1e9:.2f} nJ; the seed's binary-activation CMOS chip, measured in 28 nm: "
          "51.4-773 nJ)")
    for name, row in r["layers"].items():
        print(f"  {name:<8} {row['synops']:>9.1f} {row['kind']}s/image  {row['proxy_J'] * 1e9:8.3f} nJ")
    parts = {**{f"{k} (proxy)": v["proxy_J"] for k, v in r["layers"].items()},
             "memristor 1": r["circuit_J"]["memristor1"], "memristor 2": r["circuit_J"]["memristor2"],
             "capacitor": r["circuit_J"]["capacitor"]}
    plt.figure(figsize=(8, 3))
    plt.barh(list(parts), np.array(list(parts.values())) * 1e9)
    plt.xlabel("nJ per image"); plt.title("where the energy of one image goes"); plt.tight_layout()"""),
    ("md", """## 3. Sweeping the output layer's devices

256 settings (R_off of both memristors x membrane capacitance) as one vmap; settings whose explicit
step is unstable are marked, not fatal."""),
    ("code", """sweep = result("sweep")
if sweep:
    for t in sweep["timings"]:
        print(f"{t['images_per_setting']} image(s)/setting, {t['solver']}: vmap {t['vmap_s']:.2f} s, "
              f"loop {t['loop_s']:.2f} s -> {t['speedup']:.1f}x (same numbers: {t['same_numbers']})")
    s = {k: np.array(v) for k, v in sweep["sweep"].items()}
    r_off = np.array(sweep["settings"]["neuron.memristor1.R_off"]); cap = np.array(sweep["settings"]["neuron.capacitance"])
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    energy_map = np.where(s["ok"], s["energy"] * 1e9, np.nan).reshape(16, 16)
    im = ax[0].imshow(energy_map.T, origin="lower", aspect="auto",
                      extent=[np.log10(r_off.min()), np.log10(r_off.max()), np.log10(cap.min()) + 9, np.log10(cap.max()) + 9])
    plt.colorbar(im, ax=ax[0], label="nJ per image")
    ax[0].set(xlabel="log10 R_off (Ohm)", ylabel="log10 C (nF)", title="circuit energy (blank: unstable)")
    ok = s["ok"]
    ax[1].scatter(s["energy"][ok] * 1e9, 100 * s["accuracy"][ok], s=8, alpha=0.5, label="settings")
    front = np.array(sweep["pareto_front"], int)
    ax[1].plot(s["energy"][front] * 1e9, 100 * s["accuracy"][front], "r.-", label="Pareto front")
    ax[1].set(xlabel="circuit energy (nJ/image)", ylabel=f"accuracy on {sweep['n_images']} images (%)")
    ax[1].legend(); plt.tight_layout()"""),
    ("code", """if sweep:
    mc = {k: np.array(v) for k, v in sweep["monte_carlo"].items()}
    print(f"Monte-Carlo (64 readouts, 20% R, 10% C variation per neuron): accuracy {100 * mc['accuracy'].mean():.2f} "
          f"+- {100 * mc['accuracy'].std():.2f}%, energy {1e9 * mc['energy'].mean():.3f} +- {1e9 * mc['energy'].std():.3f} nJ")
    sens = sweep["sensitivity"]
    names = list(sens)
    fig, ax = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    ax[0].barh(names, [sens[n]["loss"] for n in names]); ax[0].set(xlabel="d loss / d log p")
    ax[1].barh(names, [sens[n]["energy"] * 1e9 for n in names]); ax[1].set(xlabel="d energy / d log p (nJ)")
    plt.suptitle("sensitivity of the readout to each device parameter"); plt.tight_layout()"""),
    ("md", """## 4. Co-design, and the check

Weights and device coordinates (bounded to their physical ranges) trained with the energy in the
loss; then the device values it found are fixed and only the weights fine-tuned, beside the same
fine-tuning at the original devices."""),
    ("code", """codesign = result("codesign")
if codesign:
    print(f"{codesign['epochs']} epoch(s) on {codesign['n_train']} training images, energy weight "
          f"{codesign['energy_weight_per_nJ']} per nJ; {codesign['n_test']} test images")
    for name, run in codesign["runs"].items():
        print(f"  {name:<32} accuracy {100 * run['accuracy']:.2f}%  energy {run['energy_nJ']:.2f} nJ/image "
              f"(circuit {run['circuit_nJ']:.2f} nJ)")
    found, original = codesign["runs"]["codesign"]["devices"], codesign["runs"]["retrained_at_original_devices"]["devices"]
    for key in found:
        if abs(found[key] / original[key] - 1) > 1e-3 if original[key] else abs(found[key]) > 1e-6:
            print(f"  {key:<20} {original[key]:.4g} -> {found[key]:.4g}")"""),
]


CELLS = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in _SOURCES]



if __name__ == "__main__":
    from _execute import write

    write(CELLS, "codesign.ipynb", sys.argv[1:], cwd=Path(__file__).parent)  # it reads ../benchmarks/results
