"""Build notebooks/solver_accuracy.ipynb (run: python notebooks/_build_solver_accuracy.py [--execute]).

``--execute`` runs it (ngspice needed) and stores it with its outputs (``notebooks/_execute.py``).

The notebook is generated, not edited by hand, so that it stays reproducible and reviewable as code.
It runs in about a minute: one neuron live in ngspice and memsnn, then the figures of
benchmarks/solver_accuracy.py from its saved results (if they are there).
"""

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    ("md", """# How close do memsnn's integrators come to SPICE?

Circuit researchers trust SPICE. This notebook runs the memristive integrate-and-fire (MIF) neuron
of SPICEprop as a **netlist in ngspice** and as **differential equations in memsnn**, on the same
inputs, and compares them number by number: how far each memsnn integrator is from the SPICE
transient, how the error shrinks with the step, where explicit Euler becomes unstable, and how fast
each simulator is.

You need ngspice (`apt-get install ngspice` on Debian/Ubuntu). The full comparison is
`python benchmarks/solver_accuracy.py` (about 20 minutes); this notebook shows its saved results and
reruns one neuron live."""),
    ("code", """import sys
from pathlib import Path

import diffrax
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

jax.config.update("jax_enable_x64", True)  # the comparison is at the 1e-8 level

import memsnn
from memsnn import export
from memsnn import presets as P

print(export.ngspice_version(), "at", export.find_ngspice())"""),
    ("md", """## 1. The circuit as a netlist

`memsnn.export` writes the neuron with standard SPICE elements: the membrane capacitor; one
behavioural current source per memristor branch, `G_k(x_k) (v - E_k)`; each memristor state `x_k`
as the voltage on a capacitor charged by a behavioural source equal to `dx_k/dt` (the way SPICE
memristor models carry state); the alpha synapse as two RC nodes carrying currents as voltages
(1 V = 1 uA). An input impulse must *jump* the synapse state `a`: the capacitor of node `a`
returns to a staircase voltage source that steps by the jump, which moves `a` by exactly that much
(charge conservation), centred on the impulse time (memsnn lands the impulse of grid step k at
(k + 1) dt)."""),
    ("code", """DT, N_STEPS = P.SPICEPROP_DT, P.SPICEPROP_STEPS
net = P.spiceprop_neuron_network(1)
stim = memsnn.Impulses(jnp.full((1, 3, 1), 0.01 * P.MILLIAMP), steps=P.SPICEPROP_EVENT_STEPS)  # 0.01 mA

netlist = export.network_netlist(net, stim, dt=DT, n_steps=N_STEPS, record=("v", "x1"))
print("\\n".join(line for line in netlist.splitlines()[:22] if not line.startswith("+")))"""),
    ("md", """## 2. One neuron, live: ngspice against memsnn

`simulate_ngspice` writes that netlist, runs `ngspice -b`, reads the binary raw file back and
samples it on memsnn's grid. memsnn runs an adaptive Tsit5, explicit Euler at the grid step
(10 us), and the SPICEprop reference ordering of Euler."""),
    ("code", """spice = export.simulate_ngspice(net, stim, dt=DT, n_steps=N_STEPS, record=("v", "x1"))
print(f"ngspice: {spice.n_timepoints} time points, {spice.wall_time:.2f} s")

def run(solver):
    state = memsnn.simulate(net, stim, dt=DT, n_steps=N_STEPS, solver=solver, record=("state",)).state[0].neuron
    return np.asarray(state.v)[0, :, 0], np.asarray(state.x1)[0, :, 0]

def rel_l2(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))

solvers = {
    "Tsit5, adaptive (rtol 1e-8)": memsnn.Diffrax(diffrax.Tsit5(), diffrax.PIDController(rtol=1e-8, atol=1e-14)),
    "Euler, dt = 10 us": memsnn.Euler(),
    "SpicepropEuler, dt = 10 us": memsnn.SpicepropEuler(),
}
ref_v, ref_x1 = spice.signals["v"][0, :, 0], spice.signals["x1"][0, :, 0]
ours = {name: run(solver) for name, solver in solvers.items()}
for name, (v, x1) in ours.items():
    print(f"{name:30s} relative L2 error  v: {rel_l2(v, ref_v):.1e}   x1: {rel_l2(x1, ref_x1):.1e}")"""),
    ("code", """t_ms = spice.times * 1e3
fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
axes[0].plot(t_ms, ref_v * 1e3, "k", lw=3, alpha=0.3, label="ngspice")
axes[1].plot(t_ms, ref_x1, "k", lw=3, alpha=0.3)
for name, (v, x1) in ours.items():
    axes[0].plot(t_ms, v * 1e3, lw=1, label=f"memsnn {name}")
    axes[1].plot(t_ms, x1, lw=1)
    axes[2].semilogy(t_ms, np.abs(v - ref_v) * 1e3 + 1e-12, lw=0.8)
axes[0].set_ylabel("v (mV)"); axes[1].set_ylabel("x1"); axes[2].set_ylabel("|v - v_ngspice| (mV)")
axes[2].set_xlabel("t (ms)"); axes[0].legend(fontsize=8)
fig.tight_layout()"""),
    ("md", """The adaptive solution lies on top of the SPICE transient: the two simulators agree to a few
1e-7, which is ngspice's own error at memsnn.export's default settings (tighter ones reach 4e-8). Explicit Euler at the grid step is off by about 1% in
relative L2: a first-order error, largest right after each impulse. Halving the step halves it:"""),
    ("code", """def euler_at(refine):
    # Euler with a step of 10 us / refine: a finer grid, impulses at the same times.
    fine = memsnn.Impulses(stim.amplitude, steps=tuple((k + 1) * refine - 1 for k in P.SPICEPROP_EVENT_STEPS))
    v = memsnn.simulate(net, fine, dt=DT / refine, n_steps=N_STEPS * refine).membrane_potential[0]
    return np.asarray(v)[0, refine - 1::refine, 0]

steps_us = np.array([10.0, 5.0, 2.5])
errors = [rel_l2(euler_at(round(10 / h)), ref_v) for h in steps_us]
order = np.polyfit(np.log(steps_us), np.log(errors), 1)[0]
print("Euler:", ", ".join(f"dt = {h:g} us: {e:.2e}" for h, e in zip(steps_us, errors)), f"-> order {order:.2f}")"""),
    ("md", """## 3. Every solver, the stiff case, the stability limit and speed

The benchmark `benchmarks/solver_accuracy.py` runs five input weights, every integrator family
(explicit Euler at 10, 5, 1 and 0.1 us, the SPICEprop ordering, Heun, implicit Euler, and Tsit5,
Dopri5 and the implicit Kvaerno5 with adaptive steps at four tolerances), a constant current near
and beyond explicit Euler's limit, the limit itself, and 200 neurons for speed. Its results are
loaded here when they exist."""),
    ("code", """RESULTS = Path.cwd().parent / "benchmarks" / "results"
sys.path.insert(0, str(RESULTS.parent))  # the benchmark's plotting helpers
have_results = (RESULTS / "solver_accuracy.json").exists()
if have_results:
    import solver_accuracy_plots as plots
    results, waves = plots.load(RESULTS)
    print("benchmark run of", results["meta"]["date"], "on", results["meta"]["machine"])
else:
    print("No saved results: run `python benchmarks/solver_accuracy.py` from the repository root.")"""),
    ("code", """if have_results:
    text = (RESULTS / "solver_accuracy.md").read_text()
    # The accuracy tables; the speed table comes with its figure below.
    display(Markdown(text.split("## Speed")[0]))"""),
    ("md", """The waveforms of three weights, with the error of the memsnn solutions against ngspice over
time (bottom row):"""),
    ("code", """if have_results:
    plots.plot_waveforms(results, waves)"""),
    ("md", """**Convergence.** Left: error against the step for the fixed-step schemes. Explicit Euler and
the SPICEprop ordering are first order, Heun second order, until they reach the floor where the two
simulators agree (grey line). Right: error against the number of steps for every solver: the
adaptive high-order solvers reach 1e-7 in under a thousand steps."""),
    ("code", """if have_results:
    plots.plot_convergence(results)
    print("fitted orders:", {k: round(v, 2) for k, v in results["spiceprop"]["orders"].items()})"""),
    ("md", """**Stiffness.** Under a constant current the memristors switch on and the membrane's time
constant C / (G1 + G2) shrinks. Explicit Euler at 10 us is stable only while dt (G1 + G2) / C < 2,
i.e. x1 + x2 below about 0.18: beyond about 8.6e-3 mA its fixed point turns into a growing
oscillation (right), and memsnn stops the run with a message that names the stable choices. The
continuous system (ngspice, an implicit solver, or Euler with a small enough step) settles."""),
    ("code", """if have_results:
    plots.plot_stiff(results, waves)
    stab = results["stability"]
    print(f"theory (docs section 6): {stab['theory']['current_mA']:.5f} mA, "
          f"linearised: {stab['theory']['linear_current_mA']:.5f} mA, "
          f"plain Euler oscillates above {stab['euler_oscillation_current_mA']:.5f} mA, "
          f"memsnn reports instability above {stab['memsnn_check_current_mA']:.5f} mA")"""),
    ("md", """**Speed.** 200 neurons with different weights: memsnn simulates the batch in one compiled
scan; ngspice simulates them as one netlist. Each side uses its cheapest setting that reaches 1e-3
relative L2 on every neuron."""),
    ("code", """if have_results and results.get("speed", {}).get("summary"):
    plots.plot_speed(results)
    s = results["speed"]["summary"]
    print(f"memsnn {s['memsnn']['family']} {s['memsnn']['setting']}: {s['memsnn_per_neuron_s'] * 1e3:.3f} ms per neuron "
          f"(+ {s['memsnn']['compile_s']:.1f} s compile once); ngspice: {s['ngspice_per_neuron_s'] * 1e3:.2f} ms per neuron "
          f"-> memsnn {s['speedup']:.0f}x faster")"""),
    ("md", """## Check your own neuron

Any one-layer MIF (or sub-threshold LIF) network and `Impulses` / constant `Current` stimulus
goes through `export.simulate_ngspice(network, stimulus, dt=..., n_steps=...)`; the netlist alone is
`export.network_netlist(...)` or, from arrays, `export.neuron_netlist(neuron, synapse, weights,
event_times, t_stop)`, ready for any SPICE user to read and rerun."""),
]


def build() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb



if __name__ == "__main__":
    from _execute import write

    write(build().cells, "solver_accuracy.ipynb", sys.argv[1:], cwd=Path(__file__).parent)  # it reads ../benchmarks/results
