"""Quantized weight transfer by STDP (memsnn.crossbar): closed forms of the quantizer, the inversion
of the STDP law, weight-map against one-by-one programming, step counts, energy, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memsnn.crossbar import STDPLaw, StdpPulses, WeightMapTransfer, fake_quantize, quantization_scale, quantize

LAW = STDPLaw(a_plus=10e-6, a_minus=8e-6, tau_plus=20e-6, tau_minus=25e-6)


def _transfer(n, **kwargs):
    return WeightMapTransfer.design(LAW, n, g_min=1e-6, g_max=101e-6, **kwargs)


def _all_levels(n, n_out=4, repeats=2, seed=0):
    """Levels in which every row holds every level -n .. n (so no weight map is empty)."""
    row = np.repeat(np.arange(-n, n + 1), repeats)
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(row) for _ in range(n_out)]).astype(np.int32)


# --- quantizer -----------------------------------------------------------------------------------


def test_quantize_closed_form_levels():
    w = np.array([-1.0, -0.6, -0.4, 0.0, 0.2, 0.5, 0.9])
    q1 = quantize(w, 1, "max")
    np.testing.assert_array_equal(q1.levels, [-1, -1, 0, 0, 0, 1, 1])  # 0.5 rounds away from zero
    q2 = quantize(w, 2, "max")
    np.testing.assert_array_equal(q2.levels, [-2, -1, -1, 0, 0, 1, 2])
    np.testing.assert_allclose(q2.weights, np.array([-2, -1, -1, 0, 0, 1, 2]) * 0.5)
    # Odd symmetry, and a given scale clips beyond it.
    np.testing.assert_array_equal(quantize(-w, 2, "max").levels, -q2.levels)
    np.testing.assert_array_equal(quantize(w, 1, 0.3).levels, [-1, -1, -1, 0, 1, 1, 1])


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_quantize_error_bound_and_levels(n):
    w = np.random.default_rng(n).normal(size=(30, 40))
    q = quantize(w, n, "max")
    assert set(np.unique(q.levels)) <= set(range(-n, n + 1))
    # Nothing is clipped with the max scale, so the error is at most half a level step.
    assert np.max(np.abs(np.asarray(q.weights) - w)) <= 0.5 * q.step * (1 + 1e-12)


def test_mse_scale_of_uniform_weights_is_two_thirds():
    # Ternary on U(-1, 1): E(s) = s^3/12 + (1 - s)^3/3 is smallest at s = 2/3.
    w = np.linspace(-1, 1, 200_001)
    assert quantization_scale(w, 1, "mse") == pytest.approx(2 / 3, abs=0.006)


def test_fake_quantize_forward_and_straight_through_gradient():
    w = jnp.array([-0.9, -0.3, 0.1, 0.26, 0.8, 1.4])
    s = jnp.asarray(1.0)
    np.testing.assert_allclose(fake_quantize(w, 2, s), quantize(np.asarray(w), 2, 1.0).weights)
    grad_w, grad_s = jax.grad(lambda w, s: jnp.sum(fake_quantize(w, 2, s)), argnums=(0, 1))(w, s)
    np.testing.assert_allclose(grad_w, [1, 1, 1, 1, 1, 0])  # clipped above s = 1
    # LSQ: k/n - w/s inside the range, sign(w) outside.
    k = np.array([-2, -1, 0, 1, 2, 2])
    expected = np.where(np.abs(w) <= 1, k / 2 - np.asarray(w), np.sign(w))
    assert float(grad_s) == pytest.approx(float(np.sum(expected)))


# --- the STDP law and its inversion ---------------------------------------------------------------


def test_delta_g_branches_closed_form():
    dt = jnp.array([-50e-6, -1e-6, 0.0, 3e-6, 40e-6])
    expected = np.array([-8e-6 * np.exp(-2.0), -8e-6 * np.exp(-1 / 25), 10e-6, 10e-6 * np.exp(-3 / 20),
                         10e-6 * np.exp(-2.0)])
    np.testing.assert_allclose(LAW.delta_g(dt), expected, rtol=1e-12)


@pytest.mark.parametrize("n", [1, 3, 7])
def test_inversion_reproduces_every_level(n):
    transfer = _transfer(n)
    # The offset of each level gives back exactly that level's change on the nominal device.
    np.testing.assert_allclose(LAW.delta_g(transfer.offsets) / transfer.level_step, transfer.nonzero_levels,
                               rtol=1e-9)
    # The largest level of the weaker (depressing) side uses the shortest offset, the pulse width.
    assert float(transfer.offsets[0]) == pytest.approx(-1e-6, rel=1e-9)
    levels = _all_levels(n)
    result = transfer.program(levels)
    np.testing.assert_allclose(transfer.levels_read(result.positive, result.negative), levels, atol=1e-7)
    np.testing.assert_array_equal(result.negative, transfer.g_initial)


def test_fit_recovers_the_law():
    dt = np.concatenate([np.linspace(-80e-6, -1e-6, 9), np.linspace(0, 60e-6, 7)])
    law = STDPLaw.fit(dt, np.asarray(LAW.delta_g(dt)))
    for got, want in ((law.a_plus, 10e-6), (law.a_minus, 8e-6), (law.tau_plus, 20e-6), (law.tau_minus, 25e-6)):
        assert float(got) == pytest.approx(want, rel=1e-8)


# --- weight-map against one-by-one programming ----------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5])
def test_step_counts(n):
    transfer = _transfer(n)
    levels = _all_levels(n, n_out=6)
    maps = transfer.program(levels)
    single = transfer.program_one_by_one(levels)
    assert int(maps.steps) == 6 * 2 * n  # post neurons x non-zero levels
    assert int(single.steps) == int(np.sum(levels != 0))
    # An empty weight map takes no step.
    levels[0][levels[0] == n] = 0
    assert int(transfer.program(levels).steps) == 6 * 2 * n - 1


def test_weight_maps_reach_the_one_by_one_conductances():
    transfer = _transfer(3, cycle_sigma=0.1)
    levels = _all_levels(3, n_out=5)
    devices = LAW.varied(levels.shape, key=jax.random.key(1), amplitude_sigma=0.2, tau_sigma=0.2)
    for kwargs in ({}, {"devices": devices, "key": jax.random.key(2)}):
        if not kwargs:
            transfer_ = _transfer(3)
        else:
            transfer_ = transfer
        maps, single = transfer_.program(levels, **kwargs), transfer_.program_one_by_one(levels, **kwargs)
        np.testing.assert_allclose(maps.positive, single.positive, rtol=1e-12)
        np.testing.assert_allclose(maps.device_energy, single.device_energy, rtol=1e-12)


def test_amplitude_variation_scales_each_device():
    # With only A+- varied, a device reaches k dG_1 A_device / A_nominal, exactly.
    transfer = _transfer(2)
    levels = _all_levels(2)
    devices = LAW.varied(levels.shape, key=jax.random.key(0), amplitude_sigma=0.3)
    got = transfer.levels_read(*_pair(transfer.program(levels, devices=devices)))
    ratio = np.where(levels > 0, devices.a_plus / LAW.a_plus, devices.a_minus / LAW.a_minus)
    np.testing.assert_allclose(got, levels * ratio, atol=1e-7)


def _pair(result):
    return result.positive, result.negative


def test_energy_closed_form():
    pulses = StdpPulses(v_pre=1.0, v_post=0.5, width=2e-6)
    transfer = _transfer(1, pulses=pulses)
    levels = np.array([[1, 0, -1]], dtype=np.int32)
    result = transfer.program(levels)
    g0 = float(transfer.g_initial)
    for i, k in ((0, 1), (2, -1)):
        dt = abs(float(transfer.offsets[0 if k < 0 else 1]))
        expected = g0 * ((1.0 + 0.25) * 2e-6 + 2 * 0.5 * max(2e-6 - dt, 0.0))
        assert float(result.device_energy[0, i]) == pytest.approx(expected, rel=1e-9)
    # Two steps, each: one row pulse through the other (2 x 1 - 1) column, one column pulse through
    # the 2 idle rows.
    assert float(result.half_select_energy) == pytest.approx(2 * g0 * 2e-6 * (1.0 * 1 + 0.25 * 2), rel=1e-9)


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, match", [
    (lambda: quantize(np.zeros(3), 1), "every weight is zero"),
    (lambda: quantize(np.array([1.0, np.nan]), 1), "NaN"),
    (lambda: quantize(np.ones(3), 8), "1 .. 7"),
    (lambda: quantize(np.ones(3), 1.5), "integer"),
    (lambda: quantize(np.ones(3), 1, -1.0), "positive"),
    (lambda: quantization_scale(np.ones(3), 1, "median"), "'max' or 'mse'"),
    (lambda: STDPLaw(-1e-6, 1e-6, 1e-6, 1e-6), "a_plus must be > 0"),
    (lambda: LAW.offset(jnp.array([20e-6])), "exceed the law's amplitude"),
    (lambda: LAW.offset(jnp.array([0.0])), "level 0"),
    (lambda: STDPLaw.fit([1e-6, 2e-6, -1e-6], [1e-6, 5e-7, 1e-6]), "wrong sign"),
    (lambda: _transfer(1).program(np.array([[2, 0]], dtype=np.int32)), r"-1 \.\. 1"),
    (lambda: _transfer(1).program(np.array([[1.0, 0.0]])), "integers"),
    (lambda: _transfer(1).program(np.array([1, 0], dtype=np.int32)), "2-D"),
    (lambda: _transfer(1, cycle_sigma=0.1).program(np.array([[1, 0]], dtype=np.int32)), "PRNG key"),
    (lambda: WeightMapTransfer(LAW, 2, g_initial=50e-6, level_step=30e-6, g_min=0.0, g_max=100e-6),
     "outside the device range"),
    (lambda: WeightMapTransfer(LAW, 2, g_initial=50e-6, level_step=6e-6, g_min=0.0, g_max=100e-6),
     "more than the law can give"),
])
def test_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_mapping_reads_the_quantized_weights():
    transfer = _transfer(3)
    levels = _all_levels(3)
    result = transfer.program(levels)
    mapping = transfer.mapping(0.25)
    np.testing.assert_allclose(mapping.to_weight(result.conductances), 0.25 * levels, atol=1e-6)
    # And the mapping's own targets are the levels' conductances.
    np.testing.assert_allclose(mapping.to_conductances(0.25 * levels).positive, transfer.target_conductances(levels),
                               rtol=1e-9)
