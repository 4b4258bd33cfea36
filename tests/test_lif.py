"""LIF and IF neurons against closed forms."""

import diffrax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn

TAU, R, THRESHOLD = 10e-3, 1e6, 1.0


def lif_network(reset="zero", threshold=THRESHOLD):
    return memsnn.Network([memsnn.Layer(memsnn.Identity(1), None,
                                        memsnn.LIF(tau=TAU, resistance=R, threshold=threshold, reset=reset))])


def test_subthreshold_step_response():
    current = 0.8e-6  # R I = 0.8 V, below threshold
    net = lif_network(reset="none")
    stim = memsnn.Current(jnp.full((1, 1), current))
    dt, n = 1e-4, 500
    t = dt * np.arange(1, n + 1)
    closed = R * current * (1 - np.exp(-t / TAU))
    tsit = memsnn.simulate(net, stim, dt=dt, n_steps=n,
                           solver=memsnn.Diffrax(diffrax.Tsit5(), diffrax.PIDController(rtol=1e-10, atol=1e-12)))
    np.testing.assert_allclose(np.asarray(tsit.membrane_potential[0][0, :, 0]), closed, atol=1e-8)
    # Euler: v_k = RI (1 - (1 - dt/tau)^k) exactly (the discrete closed form), and first-order close.
    euler = np.asarray(memsnn.simulate(net, stim, dt=dt, n_steps=n).membrane_potential[0][0, :, 0])
    k = np.arange(1, n + 1)
    np.testing.assert_allclose(euler, R * current * (1 - (1 - dt / TAU) ** k), rtol=1e-12)
    assert np.max(np.abs(euler - closed)) < 0.01 * R * current


@pytest.mark.parametrize("drive", [1.2, 1.5, 3.0])
def test_firing_rate_under_constant_current(drive):
    """Reset to zero: interspike interval T = tau ln(RI / (RI - theta))."""
    current = drive * THRESHOLD / R
    dt, n = 2e-6, 50_000  # 0.1 s
    trace = memsnn.simulate(lif_network(), memsnn.Current(jnp.full((1, 1), current)), dt=dt, n_steps=n,
                            solver=memsnn.Euler(), record=("spikes",))
    spikes = np.asarray(trace.spikes[0][0, :, 0])
    times = dt * (np.flatnonzero(spikes) + 1)
    isi = np.diff(times)
    expected = TAU * np.log(drive / (drive - 1))
    assert len(times) >= 5
    # Spikes are read on the grid and Euler is first order: error O(dt) per interval.
    np.testing.assert_allclose(isi.mean(), expected, rtol=0.01)
    assert np.ptp(isi) <= 2 * dt


def test_if_rate_and_subtractive_reset():
    capacitance, threshold, current = 1e-9, 0.5, 2e-7  # dv/dt = 200 V/s -> 400 spikes/s
    net = memsnn.Network([memsnn.Layer(memsnn.Identity(1), None,
                                       memsnn.IF(capacitance=capacitance, threshold=threshold, reset="subtract"))])
    dt, n = 1e-5, 10_000
    trace = memsnn.simulate(net, memsnn.Current(jnp.full((1, 1), current)), dt=dt, n_steps=n,
                            record=("spikes", "membrane_potential"))
    count = float(np.sum(trace.spikes[0]))
    # Subtractive reset keeps the overshoot, so the count is exact up to one spike.
    assert abs(count - current / capacitance / threshold * n * dt) <= 1
    assert float(np.max(trace.membrane_potential[0])) < threshold


def test_lif_spikes_propagate_to_next_layer():
    first = memsnn.Layer(memsnn.Identity(1), None, memsnn.LIF(tau=TAU, resistance=R, threshold=THRESHOLD, reset="zero"))
    second = memsnn.Layer(memsnn.Dense(jnp.full((2, 1), 1e-9)), memsnn.ExponentialSynapse(5e-3),
                          memsnn.LIF(tau=TAU, resistance=R, threshold=100.0, reset="none"))
    net = memsnn.Network([first, second])
    trace = memsnn.simulate(net, memsnn.Current(jnp.full((1, 1), 2 * THRESHOLD / R)), dt=1e-5, n_steps=3000,
                            record=("spikes", "synaptic_current"))
    n_spikes = float(np.sum(trace.spikes[0]))
    assert n_spikes >= 3
    # Every spike adds 1 nA to the exponential synapse: the first jump is exactly the weight.
    current = np.asarray(trace.synaptic_current[1][0, :, 0])
    first = int(np.flatnonzero(np.asarray(trace.spikes[0][0, :, 0]))[0])
    assert current[first - 1] == 0.0 and abs(current[first] - 1e-9) < 1e-18
