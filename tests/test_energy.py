"""Energy meters against the closed form of the circuit and ngspice; NeuroBench metrics by hand."""

import shutil

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import simpson

import memsnn
from memsnn.energy import (
    AC_ENERGY,
    MAC_ENERGY,
    MIFEnergy,
    activation_sparsity,
    connection_sparsity,
    footprint,
    proxy_energy,
    synaptic_operations,
)
from memsnn.presets import spiceprop_mif
from memsnn.studies import spiceprop_energy, surrogate_energy
from memsnn.training.spiceprop import SpicepropConfig, build_spiceprop
from memsnn.training.surrogate import build_surrogate, surrogate_predict

DT, N_STEPS = 1e-5, 1000
# One spiking neuron (0.01 mA: peak ~63 mV > the 30 mV flag) and the same neuron without input:
# the spike's energy is the difference.
STIMULUS = memsnn.Impulses(jnp.array([[[1e-5]], [[0.0]]]), (0,))


def metered(neuron=None):
    return memsnn.Network([memsnn.Layer(memsnn.Identity(1), memsnn.AlphaSynapse(1e-3),
                                        spiceprop_mif() if neuron is None else neuron, energy=MIFEnergy())])


def branch_power(t, state, network):
    """The closed form of what the meter integrates: i_k (v - E_k) of both memristors (W)."""
    neuron, s = network.layers[0].neuron, state[0].neuron
    i1, i2 = neuron.branch_currents(s)
    return (s.v - neuron.E1) * i1 + (s.v - neuron.E2) * i2


@pytest.fixture(scope="module")
def converged():
    """A 5th-order run (Tsit5, h = 10 us, ~1e-9 from the exact solution here) with the meter."""
    network = metered()
    trace = memsnn.simulate(network, STIMULUS, dt=DT, n_steps=N_STEPS, solver=memsnn.Diffrax(diffrax.Tsit5()),
                            record=(branch_power,))
    return network, trace


def spike(x):
    return float(x[0] - x[1])


def test_spike_energy_equals_the_integral_of_branch_power(converged):
    network, trace = converged
    energy = trace.final_state[0].energy
    power = np.asarray(trace.recorded[0])[:, :, 0]  # (batch, n_steps)
    p0 = float(branch_power(0.0, network.init_state(), network)[0])
    quadrature = simpson(np.concatenate([np.full((2, 1), p0), power], axis=1), dx=DT, axis=1)
    simulated = np.asarray(energy.dissipated())[:, 0]
    assert spike(simulated) > 1e-10  # ~0.36 nJ: a real spike, not rounding
    np.testing.assert_allclose(spike(simulated), spike(quadrature), rtol=1e-6)


@pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice is not installed")
def test_spike_energy_matches_ngspice(converged):
    from memsnn.export.energy import ngspice_mif_energy

    network, trace = converged
    energy = trace.final_state[0].energy
    spice = ngspice_mif_energy(network, STIMULUS, dt=DT, n_steps=N_STEPS)
    simulated = np.asarray(energy.dissipated())[:, 0]
    np.testing.assert_allclose(spike(simulated), spike(spice["memristor1"][:, 0] + spice["memristor2"][:, 0]),
                               rtol=1e-4)
    for name in ("memristor1", "memristor2", "battery2", "synapse", "capacitor"):
        np.testing.assert_allclose(np.asarray(getattr(energy, name))[:, 0], spice[name][:, 0], rtol=1e-4,
                                   atol=1e-15, err_msg=name)


def test_every_solver_meters_the_same_energy(converged):
    """The meter is state: Euler, the SPICEprop scheme and diffrax integrate it like the neuron,
    the circuit's balance holds at every step, and all converge to the same energy."""
    _, reference = converged
    ref = np.asarray(reference.final_state[0].energy.dissipated())[:, 0]
    for solver in (memsnn.Euler(), memsnn.SpicepropEuler()):
        e = memsnn.simulate(metered(), STIMULUS, dt=DT, n_steps=N_STEPS, solver=solver).final_state[0].energy
        balance = e.synapse - (e.capacitor + e.memristor1 + e.memristor2 + e.battery1 + e.battery2)
        np.testing.assert_allclose(balance, 0.0, atol=1e-22)
        # First order at 10 us: ~1e-2 from the converged energy (Heun, second order: 1.2e-4).
        np.testing.assert_allclose(np.asarray(e.dissipated())[:, 0], ref, rtol=2e-2, err_msg=type(solver).__name__)
        assert not np.allclose(np.asarray(e.dissipated())[:, 0], ref, rtol=1e-6, atol=0)  # another integrator


def test_meter_on_a_non_mif_layer_says_what_to_do():
    lif = memsnn.LIF(tau=1e-3, resistance=1e6, threshold=1.0)
    net = memsnn.Network([memsnn.Layer(memsnn.Identity(1), None, lif, energy=MIFEnergy())])
    with pytest.raises(TypeError, match="MIFEnergy meters the circuit of a memsnn.MIF neuron.*LIF"):
        memsnn.simulate(net, STIMULUS, dt=DT, n_steps=3)


def test_synaptic_operations_count_nonzero_inputs_times_nonzero_fan_out():
    weight = jnp.array([[1.0, 0.0, 2.0], [0.5, 0.0, 0.0]])  # fan-out of the inputs: 2, 0, 1
    inputs = jnp.array([[1.0, 1.0, 1.0], [0.0, 3.0, 0.2], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(synaptic_operations(inputs, weight), [3.0, 1.0, 0.0])
    assert proxy_energy(10, 2) == pytest.approx(10 * 0.9e-12 + 2 * 4.6e-12)
    assert (AC_ENERGY, MAC_ENERGY) == (0.9e-12, 4.6e-12)
    assert float(activation_sparsity([inputs])) == pytest.approx(4 / 9)
    assert float(connection_sparsity({"w": weight})) == pytest.approx(3 / 6)
    assert footprint({"w": weight.astype(jnp.float32), "b": jnp.zeros(3, jnp.float64)}) == 6 * 4 + 3 * 8


def test_spiceprop_energy_report_adds_up():
    model = build_spiceprop(SpicepropConfig(hidden=(5,), n_steps=40, event_steps=(0, 20), dtype="float64"),
                            key=jax.random.key(0))
    x = np.random.default_rng(0).uniform(0, 1, (4, 784)) * (np.arange(784) % 3 == 0)
    report = spiceprop_energy(model, x, batch_size=2)
    assert list(report.layers) == ["dense1", "dense2", "readout"]
    # Every third pixel is nonzero and meets 5 nonzero weights; 2 events x 10 drive values.
    assert report.layers["dense1"]["synops"] == pytest.approx(np.sum(np.arange(784) % 3 == 0) * 5)
    assert report.layers["readout"]["synops"] == pytest.approx(20)
    c = report.circuit_J
    assert c["supplied"] == pytest.approx(c["dissipated"] + c["capacitor"], rel=1e-9)
    assert report.total_J == pytest.approx(report.proxy_total_J + c["supplied"])
    # The weights and biases, and the 20 scalars of the synapse and the neuron.
    assert report.footprint_bytes == 8 * (784 * 5 + 5 + 5 * 10 + 10) + 8 * 20
    with pytest.raises(ValueError, match=r"images must be \(N, 784\)"):
        spiceprop_energy(model, x[:, :10])


@pytest.mark.parametrize("integration", ["discontinuous", "continuous"])
def test_surrogate_energy_counts_each_step_s_spikes(integration):
    # Binary pixels: the rate code's spike probability is 0 or 1, so every step sees the same inputs.
    config = dict(hidden=[6], n_steps=4, neuron="if", threshold=0.5, encoding="rate", surrogate="straight_through",
                  slope=1.0, output="integrator", readout="membrane", loss="ce_membrane", integration=integration)
    model = build_surrogate(config, key=jax.random.key(1))
    model = jax.tree.map(lambda a: 4 * a if eqx_is_weight(a) else a, model)  # enough drive to fire
    x = (np.random.default_rng(0).uniform(0, 1, (5, 784)) > 0.7).astype(np.float32)
    y = np.arange(5)
    report = surrogate_energy(model, x, y, batch_size=2)
    # dense1: every nonzero pixel meets 6 nonzero weights at each of the 4 steps (ACs: spikes).
    assert report.layers["dense1"] == {"synops": pytest.approx(4 * 6 * x.sum() / 5), "kind": "AC",
                                       "proxy_J": pytest.approx(4 * 6 * x.sum() / 5 * AC_ENERGY)}
    # dense2 (the integrator readout): every hidden spike meets 10 weights.
    spikes, _ = model.run(jnp.asarray(x))
    assert report.spikes_per_image["dense1"] == pytest.approx(float(jnp.sum(spikes[0])) / 5)
    assert report.spikes_per_image["dense1"] > 0
    assert report.layers["dense2"]["synops"] == pytest.approx(10 * report.spikes_per_image["dense1"])
    assert list(report.spikes_per_image) == ["dense1"]  # the integrator never fires
    assert report.activation_sparsity == pytest.approx(1 - report.spikes_per_image["dense1"] / (4 * 6))
    assert report.proxy_total_J == pytest.approx(sum(r["proxy_J"] for r in report.layers.values()))
    assert report.accuracy == pytest.approx(np.mean(np.asarray(surrogate_predict(model, jnp.asarray(x))) == y))
    assert report.footprint_bytes == 4 * (784 * 6 + 6 + 6 * 10 + 10 + 2 * (6 + 10))


def test_surrogate_energy_prices_a_direct_image_once_and_refuses_conv():
    model = build_surrogate(dict(hidden=[3], n_steps=5, encoding="direct"), key=jax.random.key(0))
    x = np.zeros((2, 784), np.float32)
    x[:, :7] = 0.5
    report = surrogate_energy(model, x)
    assert report.layers["dense1"]["kind"] == "MAC"
    assert report.layers["dense1"]["synops"] == pytest.approx(7 * 3)
    with pytest.raises(ValueError, match=r"images must be \(N, 784\)"):
        surrogate_energy(model, x[:, :10])
    conv = build_surrogate(dict(architecture="conv", conv_channels=[2, 2], n_steps=2), key=jax.random.key(0))
    with pytest.raises(ValueError, match="dense layers"):
        surrogate_energy(conv, x)


def eqx_is_weight(a):
    return isinstance(a, jax.Array) and a.ndim == 2


def test_evaluate_energy_reports_a_surrogate_checkpoint(tmp_path, capsys):
    import json

    from memsnn.cli import main

    out = tmp_path / "run"
    assert main(["train", "--method", "surrogate", "--dataset", "mnist", "--train-subset", "64", "--test-subset", "20",
                 "--hidden", "8", "--steps", "2", "--neuron", "if", "--encoding", "rate", "--integration",
                 "discontinuous", "--surrogate", "ste", "--output", "integrator", "--readout", "membrane",
                 "--batch-size", "32", "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--subset", "20", "--energy", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    energy = result["energy"]
    assert [energy["layers"][n]["kind"] for n in ("dense1", "dense2")] == ["AC", "AC"]
    assert energy["n_images"] == 20 and energy["n_steps"] == 2
    assert energy["accuracy"] == pytest.approx(result["accuracy"])
    assert energy["proxy_total_J"] > 0
