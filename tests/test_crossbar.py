"""Crossbar arrays: mapping, each non-ideality's statistics against its formula, periphery, pulse
update, the Crossbar array (drop-in for Dense, tiles, plasticity, gradients, simulate), presets."""

from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import memsnn  # noqa: E402
from memsnn import crossbar as xb  # noqa: E402
from memsnn.crossbar import Crossbar  # noqa: E402

# Reads and programming compiled once per configuration: op-by-op dispatch of a crossbar read
# (dozens of small primitives) costs more than compiling it.
read = eqx.filter_jit(lambda bar, x, state=None, key=None: bar(x, state, key=key))
program = eqx.filter_jit(lambda bar, key=None: bar.init_state(bar.n_outputs, key=key))

N = 40_000  # draws for the statistics; relative standard error of a std estimate ~ 1/sqrt(2N) = 0.35 %
KEY = jax.random.PRNGKey(0)


def _const(mapping, value, n=N):
    """``n`` devices (differential: both of each pair) at ``value`` S."""
    return xb.Conductances(jnp.full((1, n), value), jnp.full((1, n), value))


# ---------------------------------------------------------------------------------------------
# mapping

@pytest.mark.parametrize("scheme", ["differential", "reference"])
def test_mapping_round_trip_and_range(scheme):
    m = xb.ConductanceMapping(1e-6, 11e-6, scheme=scheme, w_max=2.0)
    w = jnp.array([[-2.0, -0.5, 0.0], [0.5, 1.0, 2.0]])
    g = m.to_conductances(w)
    np.testing.assert_allclose(m.to_weight(g), w, rtol=1e-12, atol=1e-15)
    assert float(jnp.min(g.positive)) >= 1e-6 - 1e-18 and float(jnp.max(g.positive)) <= 11e-6 + 1e-18
    if scheme == "differential":
        np.testing.assert_allclose(g.positive[1, 2], 11e-6)  # w_max -> g_max
        np.testing.assert_allclose(g.negative[1, 2], 1e-6)
    else:
        np.testing.assert_allclose(g.negative, 6e-6)  # the reference column
        np.testing.assert_allclose(g.positive[0, 0], 1e-6)  # -w_max -> g_min
    with pytest.raises(ValueError, match=r"weights must lie in \[-w_max, w_max\]"):
        m.to_conductances(w * 1.5)
    np.testing.assert_allclose(m.to_weight(m.to_conductances(w * 1.5, saturate=True)), jnp.clip(w * 1.5, -2, 2))
    with pytest.raises(ValueError, match="positive conductances must lie in"):
        m.check(xb.Conductances(jnp.full((1, 1), 20e-6), jnp.full((1, 1), 1e-6)))
    with pytest.raises(ValueError, match="need 0 <= g_min < g_max"):
        xb.ConductanceMapping(1e-5, 1e-6)


# ---------------------------------------------------------------------------------------------
# non-idealities: statistics against their formulas

def test_finite_levels_snap_to_the_grid_with_straight_through_gradient():
    m = xb.ConductanceMapping(0.0, 15e-6)
    g = xb.Conductances(jnp.array([[0.4e-6, 1.6e-6, 14.9e-6]]), jnp.array([[7.49e-6, 0.0, 15e-6]]))
    q = xb.FiniteLevels(16).programmed(g, m)
    np.testing.assert_allclose(q.positive, [[0.0, 2e-6, 15e-6]], atol=1e-18)
    np.testing.assert_allclose(q.negative, [[7e-6, 0.0, 15e-6]], atol=1e-18)
    grad = jax.grad(lambda x: jnp.sum(xb.FiniteLevels(16).programmed(xb.Conductances(x, x), m).positive))(g.positive)
    np.testing.assert_array_equal(grad, 1.0)
    with pytest.raises(ValueError, match="levels must be an integer >= 2"):
        xb.FiniteLevels(1)


@pytest.mark.parametrize("noise", [xb.ProgrammingNoise(0.03), xb.ProgrammingNoise.pcm(), xb.ProgrammingNoise.reram()])
def test_programming_noise_mean_and_std_follow_the_formula(noise):
    m = xb.ConductanceMapping(0.0, 25e-6)
    target = 12e-6
    g = noise.programmed(_const(m, target), m, key=KEY)
    sigma = float(noise.sigma(jnp.asarray(target), m))
    if noise.coefficients == (0.26348, 1.9650, -1.1731):
        x = target / 25e-6
        assert sigma == pytest.approx(1e-6 * (0.26348 + 1.9650 * x - 1.1731 * x**2), rel=1e-12)
    for draws in g:
        assert float(jnp.mean(draws)) == pytest.approx(target, abs=4 * sigma / np.sqrt(N))
        assert float(jnp.std(draws)) == pytest.approx(sigma, rel=0.02)
    # Drawn once, at programming; the same key programs the same chip.
    np.testing.assert_array_equal(noise.programmed(_const(m, target), m, key=KEY).positive, g.positive)


@pytest.mark.parametrize("kind", ["relative", "pcm"])
def test_read_noise_is_fresh_per_read_and_follows_the_formula(kind):
    m = xb.ConductanceMapping(0.0, 25e-6)
    noise = xb.ReadNoise(0.02) if kind == "relative" else xb.ReadNoise.pcm()
    target, t = 10e-6, 3600.0
    read = noise.read(_const(m, target), m, t=t, key=KEY)
    if kind == "relative":
        sigma = 0.02
    else:  # aihwkit: Q_s sqrt(ln((t + t_read) / (2 t_read)))
        q_s = min(0.0088 / (target / 25e-6) ** 0.65, 0.2)
        sigma = q_s * np.sqrt(np.log((t + 250e-9) / (2 * 250e-9)))
    assert float(jnp.mean(read.positive)) == pytest.approx(target, abs=4 * sigma * target / np.sqrt(N))
    assert float(jnp.std(read.positive)) == pytest.approx(sigma * target, rel=0.02)
    again = noise.read(_const(m, target), m, t=t, key=KEY)
    other = noise.read(_const(m, target), m, t=t, key=jax.random.PRNGKey(1))
    np.testing.assert_array_equal(again.positive, read.positive)  # same key, same read
    assert float(jnp.max(jnp.abs(other.positive - read.positive))) > 0
    assert noise.read(_const(m, target), m, t=t, key=None).positive[0, 0] == target  # no key: the mean


def test_stuck_at_fractions_and_reference_column_untouched():
    m = xb.ConductanceMapping(1e-6, 9e-6)
    faults = xb.StuckAt(0.1, 0.05)
    g = faults.programmed(_const(m, 5e-6), m, key=KEY)
    for draws in g:
        for p, value in ((0.1, 1e-6), (0.05, 9e-6)):
            frac = float(jnp.mean(draws == value))
            assert frac == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / N))
    ref = xb.ConductanceMapping(1e-6, 9e-6, scheme="reference")
    g = faults.programmed(ref.to_conductances(jnp.zeros((1, 100))), ref, key=KEY)
    np.testing.assert_array_equal(g.negative, ref.g_ref)
    for bad in ((-0.1, 0.0), (0.0, 1.5), (0.6, 0.6)):
        with pytest.raises(ValueError, match="StuckAt"):
            xb.StuckAt(*bad)


def test_drift_power_law_and_pcm_statistics():
    m = xb.ConductanceMapping(0.0, 25e-6)
    g = _const(m, 10e-6, 1000)
    drift = xb.Drift(nu=0.05, t0=20.0)
    np.testing.assert_allclose(drift.read(g, m, t=20.0 * 1e4).positive, 10e-6 * 1e4**-0.05, rtol=1e-12)
    np.testing.assert_array_equal(drift.read(g, m, t=5.0).positive, g.positive)  # before t0: G0
    pcm = xb.Drift.pcm()
    nu = pcm.exponents(jnp.full(N, 10e-6), m, KEY)
    rel = 10e-6 / 25e-6
    mu = np.clip(-0.0155 * np.log(rel) + 0.0244, 0.049, 0.1)
    sd = np.clip(-0.0125 * np.log(rel) - 0.0059, 0.008, 0.045)
    assert float(jnp.mean(nu)) == pytest.approx(mu, rel=0.01)  # |mu + sd xi| ~ mu + sd xi here (mu >> sd)
    assert float(jnp.std(nu)) == pytest.approx(sd, rel=0.03)
    # The exponents belong to the chip: every read of it drifts alike, whatever the read key.
    a = pcm.read(g, m, t=3600.0, key=KEY)
    b = pcm.read(g, m, t=3600.0, key=jax.random.PRNGKey(7))
    np.testing.assert_array_equal(a.positive, b.positive)


def test_global_drift_compensation_undoes_a_uniform_drift():
    w = jax.random.normal(KEY, (4, 6))
    crossbar = Crossbar(w, nonideality=xb.Drift(nu=0.1), t_read=86400.0)
    x = jnp.linspace(0.0, 1.0, 6)
    drifted = read(crossbar, x)
    np.testing.assert_allclose(drifted, (w @ x) * (86400.0 / 20.0) ** -0.1, rtol=1e-10)
    compensated = read(Crossbar(w, nonideality=xb.Drift(nu=0.1), t_read=86400.0, drift_compensation=True), x)
    np.testing.assert_allclose(compensated, w @ x, rtol=1e-10)


def test_iv_nonlinearity_is_sinh():
    iv = xb.IVNonlinearity(3.0)
    v = jnp.array([0.0, 0.1, 0.5])
    np.testing.assert_allclose(iv.voltage(v), np.sinh(3.0 * v) / 3.0, rtol=1e-14)
    w = jnp.array([[1.0, -0.5]])
    out = Crossbar(w, nonideality=iv, dac=xb.DAC(v_read=0.5))(jnp.array([1.0, 1.0]))
    np.testing.assert_allclose(out, w @ jnp.ones(2) * np.sinh(1.5) / 1.5, rtol=1e-12)  # gain sinh(aV)/(aV)
    with pytest.raises(ValueError, match="a must be > 0"):
        xb.IVNonlinearity(0.0)


def test_chain_composes_in_order_and_reports_stochastic():
    m = xb.ConductanceMapping(0.0, 15e-6)
    c = xb.chain(xb.FiniteLevels(4), xb.StuckAt(0.0, 1.0))
    assert c.stochastic and not xb.chain(xb.FiniteLevels(4)).stochastic
    g = c.programmed(_const(m, 3e-6, 3), m, key=KEY)
    np.testing.assert_array_equal(g.positive, 15e-6)
    with pytest.raises(TypeError, match="expected memsnn.crossbar non-idealities"):
        xb.chain(object())


# ---------------------------------------------------------------------------------------------
# periphery and pulse update

def test_dac_and_adc_quantise_with_straight_through_gradients():
    dac = xb.DAC(bits=2, v_read=0.3)
    np.testing.assert_allclose(dac(jnp.array([0.0, 0.2, 0.5, 1.0, 2.0])), [0.0, 0.1, 0.2, 0.3, 0.3], atol=1e-15)
    assert float(jax.grad(lambda x: dac(x))(0.4)) == pytest.approx(0.3)
    adc = xb.ADC(bits=3, i_range=7e-6)  # levels -7, -5, ..., 7 uA
    np.testing.assert_allclose(adc(jnp.array([-9e-6, 0.9e-6, 1.1e-6, 6.2e-6])), [-7e-6, 1e-6, 1e-6, 7e-6], atol=1e-18)
    with pytest.raises(ValueError, match="no current range"):
        xb.ADC(bits=4)(jnp.ones(2))
    with pytest.raises(ValueError, match="bits must be an integer"):
        xb.DAC(bits=0)


def test_pulse_update_follows_the_neurosim_curves():
    u = xb.PulseUpdate.neurosim()
    assert u.a_ltp == pytest.approx(0.249748 * 31)
    g = jnp.array([u.g_min])
    np.testing.assert_allclose(u.potentiate(g, 31), [u.g_max], rtol=1e-12)
    np.testing.assert_allclose(u.depress(jnp.array([u.g_max]), 31), [u.g_min], rtol=1e-9)
    # The closed form: G(p) = B (1 - exp(-p / A)) + g_min.
    a = u.a_ltp
    b = (u.g_max - u.g_min) / (1 - np.exp(-31 / a))
    np.testing.assert_allclose(u.potentiate(g, 5), [b * (1 - np.exp(-5 / a)) + u.g_min], rtol=1e-12)
    # Nonlinear: the first LTP pulse moves further than the nominal step, the last less.
    first = float(u.potentiate(g, 1)[0] - u.g_min)
    last = float(u.g_max - u.potentiate(g, 30)[0])
    assert first > u.step > last
    # pulses_for inverts the curves (up on LTP, down on LTD).
    g1 = u.potentiate(g, 7)
    np.testing.assert_allclose(u.pulses_for(g, g1), [7.0], rtol=1e-9)
    g2 = u.depress(g1, 3)
    np.testing.assert_allclose(u.pulses_for(g1, g2), [-3.0], rtol=1e-9)
    np.testing.assert_allclose(u.pulse_energy(1e-5), 4.0 * 1e-5 * 80e-9)
    noisy = u.potentiate(jnp.full(N, 5e-6), 4, key=KEY)
    assert float(jnp.std(noisy)) == pytest.approx(u.sigma_c2c * 2.0, rel=0.03)  # sigma sqrt(n)


# ---------------------------------------------------------------------------------------------
# the Crossbar array

def test_ideal_crossbar_is_a_drop_in_for_dense():
    w = jax.random.uniform(KEY, (5, 7), minval=-0.4, maxval=0.4)
    x = jax.random.uniform(jax.random.PRNGKey(1), (7,))
    dense = memsnn.Dense(w)
    for bar in (Crossbar.from_dense(dense), Crossbar(w, mapping=xb.ConductanceMapping(1e-6, 5e-6, scheme="reference"))):
        assert not bar.stochastic
        np.testing.assert_allclose(read(bar, x), dense(x), rtol=1e-12)
        state = program(bar, KEY)
        np.testing.assert_allclose(read(bar, x, state), dense(x), rtol=1e-12)
        np.testing.assert_allclose(bar.weights(state), w, rtol=1e-12)


def test_tiles_add_partial_sums_and_ir_drop_per_tile():
    w = jax.random.uniform(KEY, (4, 6), minval=-1.0, maxval=1.0)
    x = jax.random.uniform(jax.random.PRNGKey(1), (6,))
    whole = Crossbar(w)
    tiled = Crossbar(w, tile=(4, 3))  # 2 row tiles (the second partly used) x 2 column tiles
    np.testing.assert_allclose(read(tiled, x), read(whole, x), rtol=1e-12)
    wires = xb.Wires(5.0, 5.0)
    bar = Crossbar(w, wires=wires, tile=(3, 4))  # two full row tiles, one column tile
    g = bar.target()
    v = bar.dac(x)
    k = bar.mapping.scale * bar.dac.v_read
    expected = sum((xb.solve_ir_drop(g.positive[:, rows].T, v[rows], wires)
                    - xb.solve_ir_drop(g.negative[:, rows].T, v[rows], wires)) for rows in (slice(0, 3), slice(3, 6))) / k
    out = read(bar, x)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert float(jnp.max(jnp.abs(out - w @ x))) > 1e-4  # the wires matter
    with pytest.raises(ValueError, match="does not fit a weight matrix"):
        Crossbar(w, tile=(7, 4))
    with pytest.raises(ValueError, match="tile must be"):
        Crossbar(w, tile=(0, 2))


def test_adc_converts_each_tile_before_the_digital_sum():
    w = jnp.array([[1.0, 1.0, 1.0, -1.0]])
    bar = Crossbar(w, mapping=xb.ConductanceMapping(0.0, 1e-6), tile=(2, 1), adc=xb.ADC(bits=2))
    # Full scale per tile: 2 rows x 0.2 V x 1 uS = 0.4 uA; levels -0.4, -0.133, 0.133, 0.4 uA.
    # Tile 1 reads 0.4 uA -> 0.4; tile 2 reads 0 -> 0.133 (round half up). Sum / (0.2 V x 1 uS).
    np.testing.assert_allclose(bar(jnp.ones(4)), [(0.4 + 0.4 / 3) / 0.2], rtol=1e-12)


@pytest.mark.parametrize("scheme", ["differential", "reference"])
def test_ideal_update_keeps_the_mapping_form(scheme):
    w = jnp.array([[0.5, -0.25, 0.0]])
    bar = Crossbar(w, mapping=xb.ConductanceMapping(1e-6, 11e-6, scheme=scheme, w_max=1.0))
    delta = jnp.array([[-0.75, 0.5, 2.0]])
    new = bar.updated(bar.init_state(1), delta)
    expected = bar.mapping.to_conductances(jnp.clip(w + delta, -1, 1))
    np.testing.assert_allclose(new.positive, expected.positive, rtol=1e-12)
    np.testing.assert_allclose(new.negative, expected.negative, rtol=1e-12)


def test_pulse_update_of_the_crossbar_uses_the_device_curve():
    w = jnp.zeros((2, 3))
    bar = Crossbar.from_dense(memsnn.Dense(w), "neurosim", w_max=1.0)
    u = bar.update
    n = 4
    delta = jnp.full((2, 3), n * u.step / bar.mapping.scale)  # exactly n nominal pulses
    new = bar.updated(bar.init_state(2), delta)
    np.testing.assert_allclose(new.positive, u.potentiate(jnp.full((2, 3), u.g_min), n), rtol=1e-12)
    np.testing.assert_allclose(new.negative, u.g_min)
    assert bar.stochastic  # cycle-to-cycle write noise


def test_hardware_aware_gradient_reaches_the_weights_through_programming_and_reads():
    w = jax.random.uniform(KEY, (3, 4), minval=-0.5, maxval=0.5)
    x = jnp.linspace(0.1, 1.0, 4)
    # The realistic preset without its wires (the IR-drop gradient has its own tests).
    bar = Crossbar.from_dense(memsnn.Dense(w), "realistic", w_max=1.0, wires=None)
    assert bar.stochastic and bar.tile == (4, 3)

    def loss(bar):
        state = bar.init_state(3, key=jax.random.PRNGKey(1))
        return jnp.sum(bar(x, state, key=jax.random.PRNGKey(2)) ** 2)

    grad = eqx.filter_jit(eqx.filter_grad(loss))(bar).weight
    assert bool(jnp.all(jnp.isfinite(grad))) and float(jnp.max(jnp.abs(grad))) > 0
    # Same keys, same noisy read; another read key, another read.
    state = program(bar, KEY)
    a, b = read(bar, x, state, jax.random.PRNGKey(5)), read(bar, x, state, jax.random.PRNGKey(5))
    np.testing.assert_array_equal(a, b)
    assert float(jnp.max(jnp.abs(a - read(bar, x, state, jax.random.PRNGKey(6))))) > 0


def test_crossbar_in_simulate_needs_a_key_when_noisy():
    w = jnp.full((2, 3), 0.5)
    layer = lambda arr: memsnn.Layer(arr, None, memsnn.IF(capacitance=1.0, threshold=1e9, reset="none"))  # noqa: E731
    stim = memsnn.Impulses(jnp.ones((2, 5, 3)))
    # Read noise of sigma 0: a stochastic array (it needs a key) whose reads are exactly W x.
    net = memsnn.Network([layer(Crossbar(w, nonideality=xb.ReadNoise(0.0)))])
    with pytest.raises(ValueError, match="needs a PRNG key"):
        memsnn.simulate(net, stim, dt=1.0, n_steps=5)
    trace = memsnn.simulate(net, stim, dt=1.0, n_steps=5, key=KEY)
    np.testing.assert_allclose(trace.membrane_potential[0][:, -1], 5 * 1.5, rtol=1e-12)


def test_presets_build_and_bad_names_fail():
    w = jnp.full((2, 2), 0.25)
    stochastic = {"ideal": False, "pcm": True, "reram": True, "neurosim": True, "realistic": True}
    for name in xb.PRESETS:
        bar = Crossbar.from_dense(memsnn.Dense(w), name)
        assert bar.stochastic == stochastic[name]
        assert bar.mapping.w_max == 0.25  # from_dense maps max |W| to the full range
    # PCM one hour after programming: drift lowers the read by ~20 %; compensation restores the scale.
    bar = Crossbar.from_dense(memsnn.Dense(w), "pcm", t_read=3600.0, drift_compensation=True)
    out = read(bar, jnp.ones(2), program(bar, KEY), KEY)
    assert bool(jnp.all(jnp.isfinite(out))) and float(jnp.max(jnp.abs(out - 0.5))) < 0.05
    with pytest.raises(ValueError, match="unknown preset"):
        xb.preset("mram")
    with pytest.raises(ValueError, match="has a bias"):
        Crossbar.from_dense(memsnn.Dense(w, jnp.zeros(2)))
