"""Co-design: bounded device coordinates, device gradients against finite differences, sweeps."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memsnn.studies import codesign
from memsnn.devices.bounds import DEVICE_BOUNDS, Bound, constrain, unconstrain, zero_coordinates
from memsnn.training.spiceprop import SpicepropConfig, build_spiceprop, spiceprop_trainable

# Plain Euler: the same gradients through the circuit, and a much smaller program to compile than
# the Gauss-Seidel sweep with its per-leaf field evaluations (the tests stay fast); unroll=1: the
# step once per compiled loop body (the default, 5, compiles it 5 times).
TINY = dict(hidden=(5,), n_steps=40, event_steps=(0, 20), dtype="float64", solver="euler", checkpoint_every=None,
            unroll=1)


def images(n=3, seed=0):
    return jnp.asarray(np.random.default_rng(seed).uniform(0, 1, (n, 784)))


@pytest.fixture(scope="module")
def tiny():
    model = build_spiceprop(SpicepropConfig(**TINY, train_device=True), key=jax.random.key(0))
    return model, images(), jnp.array([1, 7, 3])


def test_bounds_are_a_bijection_onto_the_physical_range():
    devices = build_spiceprop(SpicepropConfig(**TINY), key=jax.random.key(0)).readout()
    zero = zero_coordinates(devices)
    # s = 0 is the device as built.
    same = constrain(devices, zero)
    for a, b in zip(jax.tree.leaves(eqx.filter(same, eqx.is_inexact_array)),
                    jax.tree.leaves(eqx.filter(devices, eqx.is_inexact_array))):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-18)
    # Any coordinate, however large, stays inside the range (to rounding, where the sigmoid saturates);
    # the gradient stays finite.
    for shift in (-50.0, 50.0):
        far = constrain(devices, jax.tree.map(lambda s: s + shift, zero))
        r_off, bound = float(far[1].memristor2.R_off), DEVICE_BOUNDS["R_off"]
        assert bound.low * (1 - 1e-12) <= r_off <= bound.high * (1 + 1e-12)
        assert min(abs(r_off - bound.low), abs(r_off - bound.high)) < 1e-9 * r_off  # it reached a bound
        assert far[1].memristor1.R_on < far[1].memristor1.R_off  # disjoint ranges keep the device valid
    grad = jax.grad(lambda s: constrain(devices, s)[1].capacitance)(jax.tree.map(lambda s: s + 30.0, zero))
    assert np.isfinite(float(grad[1].capacitance))
    # unconstrain inverts constrain.
    moved = jax.tree.map(lambda s: s + 0.7, zero)
    back = unconstrain(devices, constrain(devices, moved))
    for a in jax.tree.leaves(back):
        np.testing.assert_allclose(a, 0.7, rtol=1e-9)
    # The unbounded leaves (spike flag level, initial states) stay fixed: no coordinate.
    assert zero[1].spike_threshold is None and zero[1].x1_init is None


def test_a_device_outside_its_range_is_named():
    devices = build_spiceprop(SpicepropConfig(**TINY), key=jax.random.key(0)).readout()
    bad = eqx.tree_at(lambda d: d[1].memristor1.R_on, devices, jnp.asarray(5e4))
    expected = r"memristor1.R_on = 50000.0 Ohm lies outside its physical range \(100, 10000\)"
    with pytest.raises(ValueError, match=expected):
        zero_coordinates(bad)
    with pytest.raises(ValueError, match="low < high"):
        Bound(2.0, 1.0, "V")


def test_device_gradients_of_the_training_loss_match_finite_differences(tiny):
    """d(loss + energy term)/d(device coordinate), reverse mode through the simulated circuit,
    against central differences (float64)."""
    model, x, y = tiny
    loss_fn = functools.partial(codesign.codesign_loss, energy_weight=50.0)
    params, static = eqx.partition(model, spiceprop_trainable(model))

    def loss(p):
        return loss_fn(eqx.combine(p, static), x, y)[0]

    # One compiled program gives the gradient and the loss at the shifted coordinates.
    value_and_grad = jax.jit(jax.value_and_grad(loss))
    grads = value_and_grad(params)[1].device_log_scale
    picks = {"tau_a": lambda d: d[0].tau_a, "capacitance": lambda d: d[1].capacitance,
             "R_off2": lambda d: d[1].memristor2.R_off, "V_on1": lambda d: d[1].memristor1.V_on}
    eps = 1e-5
    for name, pick in picks.items():
        def shifted(h):
            coords = eqx.tree_at(pick, params.device_log_scale, pick(params.device_log_scale) + h)
            return float(value_and_grad(eqx.tree_at(lambda p: p.device_log_scale, params, coords,
                                                    is_leaf=lambda v: v is None))[0])
        fd = (shifted(eps) - shifted(-eps)) / (2 * eps)
        assert abs(float(pick(grads))) > 1e-6, name
        np.testing.assert_allclose(float(pick(grads)), fd, rtol=1e-5, atol=1e-7, err_msg=name)


# One shape of settings for every sweep below, one value per neuron (3 settings x 10 neurons), the
# shape and parameters of the Monte-Carlo draws too: one compiled function serves them all.
def settings(capacitance, r_off):
    return {"neuron.capacitance": jnp.repeat(jnp.asarray(capacitance)[:, None], 10, axis=1),
            "neuron.memristor2.R_off": jnp.repeat(jnp.asarray(r_off)[:, None], 10, axis=1)}


def test_sweep_marks_unstable_settings_and_matches_the_loop(tiny):
    model, x, y = tiny
    drive = model.drive(x)
    # 3e-11 F: the 10 us Euler step is unstable (kappa (G1 + G2) > 2 already at rest).
    grid = settings([1e-9, 3e-11, 2e-9], [1e5, 1e5, 1e6])
    swept = codesign.sweep(model, drive, y, grid)
    looped = codesign.sweep(model, drive, y, grid, vectorize=False)
    np.testing.assert_array_equal(swept["ok"], [True, False, True])
    np.testing.assert_array_equal(looped["ok"], swept["ok"])
    np.testing.assert_allclose(swept["energy"][swept["ok"]], looped["energy"][looped["ok"]], rtol=1e-12)
    # A higher off resistance leaks less: less energy per image.
    assert swept["energy"][2] < swept["energy"][0]
    with pytest.raises(ValueError, match="same number of values"):
        codesign.sweep(model, drive, y, {"neuron.capacitance": jnp.ones(2), "synapse.tau_a": jnp.ones(3)})
    with pytest.raises(ValueError, match="starts with 'synapse.' or 'neuron.'"):
        codesign.sweep(model, drive, y, {"capacitance": jnp.ones(2)})


def test_monte_carlo_varies_the_devices_per_neuron(tiny):
    model, x, y = tiny
    drive = model.drive(x)
    # The parameters of the sweeps' settings (below and above): the same compiled function.
    nominal = codesign.monte_carlo(model, drive, y, key=jax.random.key(1), n_samples=3,
                                   sigma={"neuron.capacitance": 0.0, "neuron.memristor2.R_off": 0.0})
    varied = codesign.monte_carlo(model, drive, y, key=jax.random.key(1), n_samples=3,
                                  sigma={"neuron.capacitance": 0.0, "neuron.memristor2.R_off": 0.3})
    assert np.ptp(nominal["energy"]) == 0 and np.ptp(varied["energy"]) > 0 and varied["ok"].all()


def test_sensitivity_is_the_derivative_in_log_parameter(tiny):
    model, x, y = tiny
    drive = model.drive(x)
    row = codesign.sensitivity(model, drive, y, paths=["neuron.memristor2.R_off"])["neuron.memristor2.R_off"]
    h = 1e-4
    r_off = row["value"] * np.exp([h, -h, 0.0])
    energy = codesign.sweep(model, drive, y, settings([1e-9] * 3, r_off))["energy"]
    np.testing.assert_allclose(row["energy"], (energy[0] - energy[1]) / (2 * h), rtol=1e-5)
    assert row["energy"] < 0  # a larger R_off costs less


def test_pareto_front():
    accuracy = np.array([0.9, 0.95, 0.8, 0.97, 0.96, 0.99])
    energy = np.array([1.0, 2.0, 0.5, 3.0, 4.0, 5.0])
    ok = np.array([True, True, True, True, True, False])
    np.testing.assert_array_equal(codesign.pareto_front(accuracy, energy, ok), [2, 0, 1, 3])
