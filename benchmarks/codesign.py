"""Energy from the circuit and device co-design of the SPICEprop network (issue 14).

Stages (each prints a table and writes benchmarks/results/codesign_STAGE.json):

* ``spike``: energy of one MIF spike from the simulation (meter state, float64, Tsit5), from the
  integral of i v over the branches (Simpson on the recorded power) and from ngspice (the exported
  netlist with energy integrators).
* ``energy CHECKPOINT``: energy per MNIST test image of a trained SPICEprop network, per layer and
  per component, with NeuroBench SynOps, sparsity, footprint and the 0.9 pJ/AC, 4.6 pJ/MAC proxy.
* ``sweep CHECKPOINT``: 256 settings of the output layer's devices (R_off of both memristors x
  capacitance, 16 x 16) as one vmap and as a Python loop of the same compiled function; the
  accuracy-energy Pareto front; Monte-Carlo over device variation; sensitivity map.
* ``sharded CHECKPOINT``: the same 256-setting sweep (and a 64-sample Monte-Carlo) on 1 and on 2
  CPU devices (``use_cpu_cores(2)``: the settings axis sharded over the devices), wall and CPU
  time, the speed-up, whether the numbers agree, and the machine's load average.
* ``codesign CHECKPOINT``: fine-tune weights and device parameters (bounded) with an energy term,
  then check the device values found by fine-tuning the weights alone at those fixed values, and
  at the original devices (the control), all for the same epochs.

Run: ``MEMSNN_DATA_DIR=... nice -n 10 python benchmarks/codesign.py STAGE [--checkpoint PATH]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
# The seed's figure: the lowest energy per image of Yin et al.'s (2017) binary-activation SNN chip,
# measured in 28 nm (51.4-773 nJ; the arXiv v1 abstract said 48.4-773 nJ for a 40 nm design).
SEED_NJ_PER_IMAGE = 51.4


def _write(name: str, payload: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"codesign_{name}.json"
    path.write_text(json.dumps(payload, indent=1, default=float))
    print(f"wrote {path}")


def stage_spike() -> dict:
    import jax

    jax.config.update("jax_enable_x64", True)
    import diffrax
    import jax.numpy as jnp
    from scipy.integrate import simpson

    import memsnn
    from memsnn.energy import MIFEnergy
    from memsnn.export.energy import ngspice_mif_energy
    from memsnn.presets import spiceprop_mif

    dt, n_steps = 1e-5, 1000
    network = memsnn.Network([memsnn.Layer(memsnn.Identity(1), memsnn.AlphaSynapse(1e-3), spiceprop_mif(),
                                           energy=MIFEnergy())])
    stimulus = memsnn.Impulses(jnp.array([[[1e-5]], [[0.0]]]), (0,))  # a spike, and the same neuron at rest

    def power(t, state, net):
        neuron, s = net.layers[0].neuron, state[0].neuron
        i1, i2 = neuron.branch_currents(s)
        return (s.v - neuron.E1) * i1 + (s.v - neuron.E2) * i2

    start = time.perf_counter()
    trace = memsnn.simulate(network, stimulus, dt=dt, n_steps=n_steps, solver=memsnn.Diffrax(diffrax.Tsit5()),
                            record=(power, "membrane_potential"))
    sim_time = time.perf_counter() - start
    energy = trace.final_state[0].energy
    p = np.asarray(trace.recorded[0])[:, :, 0]
    p0 = float(power(0.0, network.init_state(), network)[0])
    quad = simpson(np.concatenate([np.full((2, 1), p0), p], axis=1), dx=dt, axis=1)
    start = time.perf_counter()
    spice = ngspice_mif_energy(network, stimulus, dt=dt, n_steps=n_steps)
    spice_time = time.perf_counter() - start
    sim = np.asarray(energy.dissipated())[:, 0]
    spc = spice["memristor1"][:, 0] + spice["memristor2"][:, 0]
    spike = {"simulation_J": float(sim[0] - sim[1]), "closed_form_J": float(quad[0] - quad[1]),
             "ngspice_J": float(spc[0] - spc[1])}
    spike["rel_err_vs_closed_form"] = abs(spike["simulation_J"] / spike["closed_form_J"] - 1)
    spike["rel_err_vs_ngspice"] = abs(spike["simulation_J"] / spike["ngspice_J"] - 1)
    components = {name: {"simulation_J": float(np.asarray(getattr(energy, name))[0, 0]),
                         "ngspice_J": float(spice[name][0, 0])}
                  for name in ("memristor1", "memristor2", "battery1", "battery2", "capacitor", "synapse")}
    print(f"one MIF spike (0.01 mA impulse, 10 ms window, minus the same window at rest), float64:")
    print(f"  simulation (meter state, Tsit5 h=10us): {spike['simulation_J'] * 1e9:.6f} nJ")
    print(f"  closed form (Simpson of i v over the branches): {spike['closed_form_J'] * 1e9:.6f} nJ "
          f"(rel. err {spike['rel_err_vs_closed_form']:.1e})")
    print(f"  ngspice (exported netlist + energy integrators): {spike['ngspice_J'] * 1e9:.6f} nJ "
          f"(rel. err {spike['rel_err_vs_ngspice']:.1e})")
    return {"what": "energy of one MIF spike: dissipated in both memristors over 10 ms after a 0.01 mA impulse, "
                    "minus the same neuron without input", "spike": spike, "components_with_spike": components,
            "simulation_s": sim_time, "ngspice_s": spice_time,
            "v_mV": (np.asarray(trace.membrane_potential[0])[:, :, 0] * 1e3).tolist(),
            "power_W": p.tolist(), "dt_s": dt}


def _data(split: str, n: int | None = None):
    from memsnn.data import load_dataset

    x, y = load_dataset("mnist", split, source="full")
    return (x, y) if n is None else (x[:n], y[:n])


def stage_energy(checkpoint: str, n_images: int | None, devices: dict | None = None) -> dict:
    import equinox as eqx

    from memsnn.studies import codesign
    from memsnn.studies import spiceprop_energy
    from memsnn.training import load_trained

    model, header = load_trained(checkpoint)
    if devices:  # the trained weights with other readout devices (e.g. a point of the sweep's Pareto front)
        model = eqx.tree_at(lambda m: (m.synapse, m.neuron), model,
                            codesign.set_parameters((model.synapse, model.neuron), devices))
    x, y = _data("test", n_images)
    start = time.perf_counter()
    report = spiceprop_energy(model, x, y)
    print("\n".join(report.lines()))
    return {"checkpoint": checkpoint, "epoch": header.get("epoch"), "devices": devices or {}, "report": report.to_dict(),
            "seed_nj_per_image": SEED_NJ_PER_IMAGE, "wall_s": time.perf_counter() - start}


def _sweep_timings(model, drive, labels, settings) -> list[dict]:
    """The same compiled simulation as one vmap over the settings and in a Python loop, side by
    side, for 1 and 8 images per setting, with the model's SPICEprop scheme and plain Euler. Wall
    time and the process's CPU time (on a shared machine the CPU time is the steadier measure)."""
    from memsnn.studies import codesign
    from memsnn.training.spiceprop import make_integrator

    n = len(next(iter(settings.values())))
    timings = []
    for n_img in (1, 8):
        for solver_name in ("spiceprop", "euler"):
            solver = make_integrator(solver_name)
            d, l = drive[:n_img], labels[:n_img]
            codesign.sweep(model, d, l, settings, solver=solver)  # compile both (the loop compiles once too)
            codesign.sweep(model, d, l, {k: v[:2] for k, v in settings.items()}, vectorize=False, solver=solver)
            wall, cpu = time.perf_counter(), time.process_time()
            out = codesign.sweep(model, d, l, settings, solver=solver)
            t_vmap, c_vmap = time.perf_counter() - wall, time.process_time() - cpu
            wall, cpu = time.perf_counter(), time.process_time()
            loop = codesign.sweep(model, d, l, settings, vectorize=False, solver=solver)
            t_loop, c_loop = time.perf_counter() - wall, time.process_time() - cpu
            ok = out["ok"]
            agree = bool(np.array_equal(ok, loop["ok"]) and np.allclose(out["energy"][ok], loop["energy"][ok], rtol=1e-5)
                         and np.array_equal(out["accuracy"][ok], loop["accuracy"][ok]))
            timings.append({"images_per_setting": n_img, "solver": solver_name, "vmap_s": t_vmap, "loop_s": t_loop,
                            "speedup": t_loop / t_vmap, "vmap_cpu_s": c_vmap, "loop_cpu_s": c_loop,
                            "cpu_speedup": c_loop / c_vmap, "same_numbers": agree})
            print(f"sweep of {n} settings x {n_img} images, {solver_name}: vmap {t_vmap:.2f} s "
                  f"({c_vmap:.2f} s CPU), Python loop {t_loop:.2f} s ({c_loop:.2f} s CPU), speed-up "
                  f"{t_loop / t_vmap:.1f}x wall, {c_loop / c_vmap:.1f}x CPU (same numbers: {agree})", flush=True)
    return timings


def _grid_settings() -> tuple[np.ndarray, np.ndarray, dict]:
    """The 16 x 16 grid of the output layer's devices: R_off of both memristors x capacitance."""
    r_off = np.geomspace(2e4, 5e6, 16)
    cap = np.geomspace(1e-10, 5e-9, 16)  # below ~3e-10 F the 10 us Euler step is unstable
    grid_r, grid_c = np.meshgrid(r_off, cap, indexing="ij")
    settings = {"neuron.memristor1.R_off": grid_r.ravel(), "neuron.memristor2.R_off": grid_r.ravel(),
                "neuron.capacitance": grid_c.ravel()}
    return grid_r, grid_c, settings


def stage_timing(checkpoint: str) -> dict:
    import os

    import jax.numpy as jnp

    from memsnn.training import load_trained

    model, _ = load_trained(checkpoint)
    x, y = _data("test", 8)
    drive, labels = model.drive(jnp.asarray(x)), jnp.asarray(y)
    grid_r, _, settings = _grid_settings()
    load = os.getloadavg()[0]
    timings = _sweep_timings(model, drive, labels, settings)
    return {"n_settings": int(grid_r.size), "timings": timings, "load_average_1min": [load, os.getloadavg()[0]],
            "cpu_count": os.cpu_count()}


def stage_sharded(checkpoint: str, n_images: int, repeats: int = 5) -> dict:
    """A sweep and a Monte-Carlo with the settings sharded over 1 and over 2 CPU devices.

    Each device is one CPU core running its share of the settings; the speed-up is the 1-device
    wall time over the 2-device one (median of ``repeats`` calls of each, alternating, after a
    compiling call). On a shared machine the process's CPU time says whether both cores worked:
    about twice the wall time when they did.
    """
    import os
    import statistics

    from memsnn.training import use_cpu_cores

    n_devices = use_cpu_cores(2)  # before the first JAX computation
    if n_devices < 2:
        raise SystemExit(f"sharded: needs 2 CPU devices, JAX has {n_devices} (JAX was started before "
                         "use_cpu_cores, or XLA_FLAGS fixes the device count).")
    import jax
    import jax.numpy as jnp

    from memsnn.studies import codesign
    from memsnn.training import load_trained

    model, _ = load_trained(checkpoint)
    x, y = _data("test", n_images)
    drive, labels = model.drive(jnp.asarray(x)), jnp.asarray(y)
    grid_r, _, settings = _grid_settings()
    sigma = {"neuron.memristor1.R_on": 0.2, "neuron.memristor1.R_off": 0.2, "neuron.memristor2.R_on": 0.2,
             "neuron.memristor2.R_off": 0.2, "neuron.capacitance": 0.1}
    experiments = {
        "sweep": lambda devices: codesign.sweep(model, drive, labels, settings, devices=devices),
        "monte_carlo": lambda devices: codesign.monte_carlo(model, drive, labels, key=jax.random.key(0),
                                                            n_samples=64, sigma=sigma, devices=devices)}
    sizes = {"sweep": int(grid_r.size), "monte_carlo": 64}
    load_before = os.getloadavg()
    rows = []
    for name, fn in experiments.items():
        row = {"experiment": name, "points": sizes[name], "images_per_point": n_images}
        meshes = {n: jax.devices()[:n] for n in (1, 2)}
        outs = {n: fn(devices) for n, devices in meshes.items()}  # compiles for each mesh
        walls, cpus = {1: [], 2: []}, {1: [], 2: []}
        for _ in range(repeats):  # alternating, so a change of the machine's load hits both alike
            for n, devices in meshes.items():
                wall, cpu = time.perf_counter(), time.process_time()
                fn(devices)
                walls[n].append(time.perf_counter() - wall)
                cpus[n].append(time.process_time() - cpu)
        for n in meshes:
            row[f"devices{n}_s"] = statistics.median(walls[n])
            row[f"devices{n}_cpu_s"] = statistics.median(cpus[n])
            row[f"devices{n}_s_all"] = walls[n]
            # CPU time over wall time: the cores the process got (2 when both devices ran at once).
            row[f"devices{n}_cores_used"] = row[f"devices{n}_cpu_s"] / row[f"devices{n}_s"]
        ok = outs[1]["ok"]
        row["same_ok"] = bool(np.array_equal(ok, outs[2]["ok"]))
        row["max_rel_diff"] = float(max(np.max(np.abs(outs[2][k][ok] / outs[1][k][ok] - 1), initial=0.0)
                                        for k in ("loss", "energy", "dissipated")))
        row["same_accuracy"] = bool(np.array_equal(outs[1]["accuracy"][ok], outs[2]["accuracy"][ok]))
        row["speedup"] = row["devices1_s"] / row["devices2_s"]
        rows.append(row)
        print(f"{name}: {sizes[name]} points x {n_images} images: 1 device {row['devices1_s']:.2f} s "
              f"({row['devices1_cpu_s']:.2f} s CPU), 2 devices {row['devices2_s']:.2f} s "
              f"({row['devices2_cpu_s']:.2f} s CPU, {row['devices2_cores_used']:.2f} cores): speed-up "
              f"{row['speedup']:.2f}x; max rel. difference "
              f"{row['max_rel_diff']:.1e}, same ok/accuracy: {row['same_ok'] and row['same_accuracy']}", flush=True)
    load_after = os.getloadavg()
    print(f"load average (1, 5, 15 min) before {load_before}, after {load_after}; {os.cpu_count()} cores")
    return {"checkpoint": checkpoint, "rows": rows, "repeats": repeats, "solver": model.config.solver,
            "load_average_before": load_before, "load_average_after": load_after, "cpu_count": os.cpu_count(),
            "devices": [str(d) for d in jax.devices()]}


def stage_sweep(checkpoint: str, n_images: int) -> dict:
    import jax
    import jax.numpy as jnp

    from memsnn.studies import codesign
    from memsnn.training import load_trained

    model, _ = load_trained(checkpoint)
    x, y = _data("test", n_images)
    drive, labels = model.drive(jnp.asarray(x)), jnp.asarray(y)
    grid_r, grid_c, settings = _grid_settings()
    timings = _sweep_timings(model, drive, labels, settings)
    speedup = max(t["speedup"] for t in timings)
    agree = all(t["same_numbers"] for t in timings)
    # The accuracy-energy map on more images (vmapped, the model's scheme).
    start = time.perf_counter()
    swept = codesign.sweep(model, drive, labels, settings)
    print(f"  {len(grid_r.ravel())} settings x {n_images} images: {time.perf_counter() - start:.1f} s; unstable "
          f"settings marked (ok=False): {int(np.sum(~swept['ok']))}")
    front = codesign.pareto_front(swept["accuracy"], swept["energy"], swept["ok"])
    print("  Pareto front (energy nJ/image, accuracy):")
    for i in front:
        print(f"    R_off {grid_r.ravel()[i]:.3g} Ohm, C {grid_c.ravel()[i]:.3g} F: "
              f"{swept['energy'][i] * 1e9:.4f} nJ, {100 * swept['accuracy'][i]:.1f}%")
    start = time.perf_counter()
    mc = codesign.monte_carlo(model, drive, labels, key=jax.random.key(0), n_samples=64,
                              sigma={"neuron.memristor1.R_on": 0.2, "neuron.memristor1.R_off": 0.2,
                                     "neuron.memristor2.R_on": 0.2, "neuron.memristor2.R_off": 0.2,
                                     "neuron.capacitance": 0.1})
    mc_time = time.perf_counter() - start
    print(f"  Monte-Carlo, 64 readouts with 20% R / 10% C lognormal variation per neuron: accuracy "
          f"{100 * mc['accuracy'].mean():.2f} +- {100 * mc['accuracy'].std():.2f}%, energy "
          f"{1e9 * mc['energy'].mean():.4f} +- {1e9 * mc['energy'].std():.4f} nJ/image ({mc_time:.1f} s)")
    sens_n = min(n_images, 64)
    start = time.perf_counter()
    sens = codesign.sensitivity(model, drive[:sens_n], labels[:sens_n])
    print(f"  sensitivity (d f / d log p, {sens_n} images, {time.perf_counter() - start:.1f} s):")
    for path, row in sens.items():
        print(f"    {path:<28} {row['value']:>10.4g}  dloss {row['loss']:>10.3g}  denergy {row['energy'] * 1e9:>9.4f} nJ")
    return {"n_images": n_images, "n_settings": int(grid_r.size), "timings": timings, "best_speedup": speedup,
            "same_numbers": agree, "settings": {k: v.tolist() for k, v in settings.items()},
            "sweep": {k: v.tolist() for k, v in swept.items()}, "pareto_front": front.tolist(),
            "monte_carlo": {k: v.tolist() for k, v in mc.items()}, "sensitivity": sens}


def stage_codesign(checkpoint: str, epochs: int, energy_weight: float, n_test: int | None,
                   n_train: int | None = None, batch_size: int = 200) -> dict:
    import equinox as eqx
    import jax
    import optax

    from memsnn.studies import codesign_loss
    from memsnn.studies import spiceprop_energy
    from memsnn.training import GradientLearner, TrainingDiverged, fit, load_trained
    from memsnn.training.spiceprop import SpicepropConfig, SpicepropNet, spiceprop_loss, spiceprop_predict, \
        spiceprop_trainable

    # One JAX device: on a loaded machine the two-device all-reduce timed out (XLA's 40 s rendezvous).
    trained, _ = load_trained(checkpoint)
    train_x, train_y = _data("train", n_train)
    test_x, test_y = _data("test", n_test)
    steps = epochs * (len(train_x) // batch_size)
    results = {}

    def run(name, model, loss, lr_weights, lr_devices):
        trainable = spiceprop_trainable(model)
        params = eqx.filter(model, trainable)
        labels = jax.tree.map(lambda _: "weights", params)
        if model.device_log_scale is not None:
            labels = eqx.tree_at(lambda m: m.device_log_scale, labels,
                                 replace=jax.tree.map(lambda _: "devices", model.device_log_scale))
        optimizer = optax.multi_transform(
            {"weights": optax.adam(optax.cosine_decay_schedule(lr_weights, steps)),
             "devices": optax.adam(optax.cosine_decay_schedule(lr_devices, steps))}, labels)
        learner = GradientLearner(loss, spiceprop_predict, optimizer, trainable)
        start = time.perf_counter()
        try:
            result = fit(model, learner, (train_x, train_y), epochs=epochs, batch_size=batch_size, progress=False,
                         on_epoch_end=lambda row: print(f"  {name} epoch {row['epoch']}: train loss "
                                                        f"{row['train_loss']:.4g}", flush=True))
        except TrainingDiverged as err:  # recorded, not fatal: the other runs still say something
            results[name] = {"diverged": str(err).splitlines()[0][:300], "wall_s": time.perf_counter() - start}
            print(f"{name}: {results[name]['diverged']}", flush=True)
            _write("codesign_partial", {"runs": results})
            return None
        report = spiceprop_energy(result.model, test_x, test_y)
        synapse, neuron = result.model.readout()
        devices = {"tau_a": float(synapse.tau_a), "capacitance": float(neuron.capacitance),
                   "E2": float(neuron.E2),
                   **{f"memristor{k}.{p}": float(getattr(getattr(neuron, f"memristor{k}"), p))
                      for k in (1, 2) for p in ("R_on", "R_off", "V_on", "V_off", "V_T", "tau")}}
        results[name] = {"accuracy": report.accuracy, "energy_nJ": report.total_J * 1e9,
                         "circuit_nJ": report.circuit_J["supplied"] * 1e9, "devices": devices,
                         "report": report.to_dict(), "wall_s": time.perf_counter() - start}
        print(f"{name}: test accuracy {100 * report.accuracy:.2f}%, energy {report.total_J * 1e9:.3f} nJ/image "
              f"(circuit {report.circuit_J['supplied'] * 1e9:.4f} nJ); devices {devices}", flush=True)
        _write("codesign_partial", {"runs": results})
        return result.model

    # 1. Co-design: weights and bounded device coordinates, with the energy in the loss.
    config = SpicepropConfig.from_dict({**trained.config.to_dict(), "train_device": True})
    start_model = SpicepropNet(config, key=jax.random.key(0))  # device coordinates s = 0
    start_model = eqx.tree_at(lambda m: (m.front_end, m.synapse, m.neuron), start_model,
                              (trained.front_end, trained.synapse, trained.neuron))
    codesigned = run("codesign", start_model, functools.partial(codesign_loss, energy_weight=energy_weight),
                     1e-4, 3e-2)
    found_synapse, found_neuron = codesigned.readout()
    # 2. The check: the found devices, fixed; weights fine-tuned with the plain SPICEprop loss.
    at_found = eqx.tree_at(lambda m: (m.synapse, m.neuron), trained, (found_synapse, found_neuron))
    run("retrained_at_found_devices", at_found, spiceprop_loss, 1e-4, 0.0)
    # 3. The control: the original devices, the same fine-tuning.
    run("retrained_at_original_devices", trained, spiceprop_loss, 1e-4, 0.0)
    # 4. The found devices without any fine-tuning of the weights (the trained front end as it was).
    report = spiceprop_energy(at_found, test_x, test_y)
    results["found_devices_no_retraining"] = {"accuracy": report.accuracy, "energy_nJ": report.total_J * 1e9,
                                              "circuit_nJ": report.circuit_J["supplied"] * 1e9}
    report = spiceprop_energy(trained, test_x, test_y)
    results["baseline_as_trained"] = {"accuracy": report.accuracy, "energy_nJ": report.total_J * 1e9,
                                      "circuit_nJ": report.circuit_J["supplied"] * 1e9}
    for name in ("found_devices_no_retraining", "baseline_as_trained"):
        print(f"{name}: test accuracy {100 * results[name]['accuracy']:.2f}%, energy "
              f"{results[name]['energy_nJ']:.3f} nJ/image (circuit {results[name]['circuit_nJ']:.4f} nJ)", flush=True)
    return {"checkpoint": checkpoint, "epochs": epochs, "n_train": len(train_x), "energy_weight_per_nJ": energy_weight,
            "n_test": len(test_x), "runs": results, "seed_nj_per_image": SEED_NJ_PER_IMAGE}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("spike", "energy", "sweep", "timing", "sharded", "codesign"))
    parser.add_argument("--checkpoint", help="a SPICEprop checkpoint.eqx (memsnn train --method spiceprop)")
    parser.add_argument("--images", type=int, default=None, help="test images (default: all; sweep: 100; sharded: 8)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-images", type=int, default=None, help="codesign: training images (default: all)")
    parser.add_argument("--energy-weight", type=float, default=20.0, help="loss units per nJ per image")
    parser.add_argument("--tag", default="", help="suffix of the JSON file name")
    parser.add_argument("--set", nargs="*", default=[], metavar="PATH=VALUE",
                        help="energy: readout device parameters to change, e.g. neuron.capacitance=5e-9")
    args = parser.parse_args(argv)
    if args.stage != "spike" and not args.checkpoint:
        parser.error(f"{args.stage} needs --checkpoint")
    if args.stage == "spike":
        payload = stage_spike()
    elif args.stage == "energy":
        devices = {k: float(v) for k, v in (item.split("=") for item in args.set)}
        payload = stage_energy(args.checkpoint, args.images, devices)
    elif args.stage == "timing":
        payload = stage_timing(args.checkpoint)
    elif args.stage == "sharded":
        payload = stage_sharded(args.checkpoint, args.images or 8)
    elif args.stage == "sweep":
        payload = stage_sweep(args.checkpoint, args.images or 100)
    else:
        payload = stage_codesign(args.checkpoint, args.epochs, args.energy_weight, args.images, args.train_images)
    _write(args.stage + args.tag, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
