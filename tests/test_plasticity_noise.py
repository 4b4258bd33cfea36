"""Noise inside a learning simulation: the plasticity hooks' keys (a crossbar's cycle-to-cycle write
noise per grid step and layer), and noise keyed by sample so results do not depend on batch size."""

import dataclasses
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn.arrays import PlasticDense
from memsnn.crossbar import ConductanceMapping, Crossbar, PulseUpdate
from memsnn.plasticity import PairSTDP, ReSuMe
from memsnn.training.predict import image_keys
from memsnn.training.rstdp import build_rstdp, rstdp_predict

DT = 1e-3
PULSES = 10  # the change ReSuMe requests below, in pulses of the device


def _teacher_network(update: PulseUpdate) -> memsnn.Network:
    """One silent LIF neuron behind a 1x1 crossbar, taught one desired spike at step 2 by ReSuMe
    with ``a`` = 10 pulses and no input: one write of exactly ``PULSES`` LTP pulses per run."""
    mapping = ConductanceMapping(update.g_min, update.g_max, w_max=1.0)
    bar = Crossbar(jnp.zeros((1, 1)), mapping=mapping, update=update)
    rule = ReSuMe(1, [[2.5 * DT]], dt=DT, learning_rate=1.0, a=PULSES / update.n_pulses)
    neuron = memsnn.LIF(tau=10e-3, resistance=10e-3, threshold=1.0, reset="zero")
    return memsnn.Network([memsnn.Layer(bar, None, neuron, plasticity=rule)])


def _written(network, batch, key):
    silence = memsnn.Impulses(jnp.zeros((batch, 5, 1)))
    trace = memsnn.simulate(network, silence, dt=DT, n_steps=5, record="spikes", key=key)
    assert float(jnp.sum(trace.spikes[0])) == 0.0  # the write is the teacher's alone
    return np.asarray(trace.final_state[0].array.positive[:, 0, 0])


def test_crossbar_write_noise_inside_simulate_matches_the_device_sigma():
    update = PulseUpdate.neurosim()
    g = _written(_teacher_network(update), 400, jax.random.key(0))
    nominal = float(update.potentiate(jnp.asarray(update.g_min), PULSES))
    sigma = update.sigma_c2c * np.sqrt(PULSES)
    # 400 instances: the sample standard deviation is within ~3.5 % of sigma (1 SE); 15 % is ~4 SE.
    assert np.std(g, ddof=1) == pytest.approx(sigma, rel=0.15)
    assert np.mean(g) == pytest.approx(nominal, abs=4 * sigma / np.sqrt(g.size))
    # Another seed, other writes; the same seed, the same writes.
    other = _written(_teacher_network(update), 400, jax.random.key(1))
    assert not np.allclose(g, other)
    np.testing.assert_array_equal(g, _written(_teacher_network(update), 400, jax.random.key(0)))


def test_noise_free_device_writes_are_the_same_with_and_without_a_key():
    update = PulseUpdate(4.76e-7, 1e-5, 31, a_ltp=7.74, a_ltd=-7.74)  # sigma_c2c = 0, nearest rounding
    network = _teacher_network(update)
    assert not network.stochastic
    g = _written(network, 3, None)
    np.testing.assert_array_equal(g, _written(network, 3, jax.random.key(5)))
    np.testing.assert_allclose(g, float(update.potentiate(jnp.asarray(update.g_min), PULSES)), rtol=1e-12)


def test_ideal_plastic_dense_is_bitwise_unchanged_by_a_key():
    n_in, n, steps = 40, 3, 60
    rng = np.random.default_rng(0)
    w0 = rng.uniform(0.2, 0.6, (n, n_in))
    spikes = jnp.asarray((rng.random((2, steps, n_in)) < 0.2).astype(float))
    rule = PairSTDP(n_in, a_plus=0.02, a_minus=0.021, interaction="nearest")
    layer = memsnn.Layer(PlasticDense(w0, w_min=0.0, w_max=1.0), None,
                         memsnn.LIF(tau=10e-3, resistance=10e-3, threshold=1.0, reset="zero"), plasticity=rule)
    network = memsnn.Network([layer])

    def weights(key):
        trace = memsnn.simulate(network, memsnn.Impulses(spikes), dt=DT, n_steps=steps, record="spikes", key=key)
        return np.asarray(trace.final_state[0].array), float(jnp.sum(trace.spikes[0]))

    plain, count = weights(None)
    assert count > 0 and not np.array_equal(plain[0], w0)  # the rule did learn
    np.testing.assert_array_equal(plain, weights(jax.random.key(3))[0])


def test_per_sample_keys_make_a_sample_independent_of_its_batch():
    network = _teacher_network(PulseUpdate.neurosim())
    keys = jax.random.split(jax.random.key(7), 4)
    batch = _written(network, 4, keys)
    for j in range(4):
        np.testing.assert_array_equal(batch[j:j + 1], _written(network, 1, keys[j:j + 1]))
    with pytest.raises(ValueError, match="one per sample"):
        _written(network, 4, keys[:3])


def test_rstdp_predict_does_not_depend_on_the_batch():
    config = dict(n_inputs=12, n_classes=3, t_present=0.03, max_rate=200.0, w_init=0.6, w_max=1.0)
    model = build_rstdp(config, key=jax.random.key(0))
    images = jnp.asarray(np.random.default_rng(1).random((6, 12)))
    keys = image_keys(jax.random.key(2), jnp.arange(6))
    together = np.asarray(rstdp_predict(model, images, key=keys))
    alone = [int(rstdp_predict(model, images[j:j + 1], key=keys[j:j + 1])[0]) for j in range(6)]
    np.testing.assert_array_equal(together, alone)
    # One key: image i gets fold_in(key, i), the same as the keys by index.
    np.testing.assert_array_equal(np.asarray(rstdp_predict(model, images, key=jax.random.key(2))), together)


def test_counting_along_the_curve_programs_the_requested_change_on_nonlinear_devices():
    """NeuroSim's device two nominal pulses above g_min, asked for +0.2 of a nominal pulse: counted
    nominally (stochastic rounding) the mean change is 0.2 of the device's local LTP step, ~3x the
    request; counted along its curve it is the request."""
    nominal = dataclasses.replace(PulseUpdate.neurosim(), rounding="stochastic", sigma_c2c=0.0)
    curve = dataclasses.replace(nominal, counting="curve")
    g = jnp.full((20000,), nominal.g_min + 2 * nominal.step)
    change = 0.2 * nominal.step

    def mean_change(update):
        n = update.pulse_count(jnp.full_like(g, change), key=jax.random.key(0), g=g)
        return float(jnp.mean(update.potentiate(g, n) - g)) / change

    assert mean_change(nominal) > 2.0
    # One whole pulse moves a concave curve ~6 % less than its tangent, which the fractional count
    # follows (A = 7.7 pulses: 7.7 (1 - exp(-1/7.7)) = 0.94); the mean of 2e4 draws has SE ~0.03.
    assert 0.8 < mean_change(curve) < 1.05
    with pytest.raises(ValueError, match="needs the devices' present conductances"):
        curve.pulse_count(jnp.ones(3) * change)
    with pytest.raises(ValueError, match="counting"):
        PulseUpdate(0.0, 1.0, 10, counting="exact")


def _column_write(update: PulseUpdate, key, n_out=400, n_in=100, pulses=PULSES):
    """A crossbar at w = 0.5 asked for +``pulses`` nominal pulses on column 3 and -``pulses`` on
    column 70 through ``updated_columns`` (the columns of a learning step's spiking inputs; two
    padding entries ``n_in``): ``(bar, state before, state after, columns, delta)``."""
    mapping = ConductanceMapping(update.g_min, update.g_max, w_max=1.0)
    bar = Crossbar(jnp.full((n_out, n_in), 0.5), mapping=mapping, update=update)
    before = bar.init_state(n_out)
    columns = jnp.asarray([3, 70, n_in, n_in])
    delta = jnp.zeros((n_out, 4)).at[:, 0].set(pulses * update.step / mapping.scale)
    delta = delta.at[:, 1].set(-pulses * update.step / mapping.scale).at[:, 2:].set(0.5)  # padding: ignored
    return bar, before, bar.updated_columns(before, columns, delta, key=key), columns, delta


def test_a_column_write_draws_noise_for_the_written_columns_alone():
    """Crossbar.updated_columns programs the k columns alone (a learning step's spiking inputs, up
    to 32 of 784): the written devices spread by sigma_c2c sqrt(n) as a full write's do, the other
    columns keep their conductances bit for bit, and the normal numbers drawn are (n_out, k), not
    the whole array's (before: 2 x 2 full (n_out, n_in) draws per write, ~60x the work)."""
    update = PulseUpdate.neurosim()
    bar, before, after, columns, delta = _column_write(update, jax.random.key(0))
    sigma = update.sigma_c2c * np.sqrt(PULSES)
    g_up, g_down = np.asarray(after.positive[:, 3]), np.asarray(after.positive[:, 70])
    # 400 devices per column: the sample standard deviation is within ~3.5 % of sigma (1 SE).
    assert np.std(g_up, ddof=1) == pytest.approx(sigma, rel=0.15)
    assert np.mean(g_up) == pytest.approx(float(update.potentiate(before.positive[0, 3], PULSES)),
                                          abs=4 * sigma / np.sqrt(g_up.size))
    assert np.std(g_down, ddof=1) == pytest.approx(sigma, rel=0.15)
    assert np.mean(g_down) == pytest.approx(float(update.depress(before.positive[0, 70], PULSES)),
                                            abs=4 * sigma / np.sqrt(g_down.size))
    others = np.ones(bar.n_inputs, bool)
    others[[3, 70]] = False
    for g0, g1 in zip(before, after):
        np.testing.assert_array_equal(np.asarray(g1)[:, others], np.asarray(g0)[:, others])
    # The noise drawn: normal numbers of the k columns' shape only.
    jaxpr = jax.make_jaxpr(lambda s, d, k: bar.updated_columns(s, columns, d, key=k))(before, delta,
                                                                                  jax.random.key(0))
    drawn = re.findall(r":f(?:32|64)\[([\d,]+)\] = erf_inv", str(jaxpr))  # normal numbers (nested jaxprs too)
    assert drawn and all(shape == f"{bar.n_outputs},{columns.shape[0]}" for shape in drawn), drawn


def test_a_noise_free_column_write_is_bitwise_the_full_write():
    update = dataclasses.replace(PulseUpdate.neurosim(), sigma_c2c=0.0)
    bar, before, after, columns, delta = _column_write(update, None)
    full = jnp.zeros((bar.n_outputs, bar.n_inputs)).at[:, columns].set(delta, mode="drop")
    whole = bar.updated(before, full)
    for a, b in zip(after, whole):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(after.positive), np.asarray(before.positive))
