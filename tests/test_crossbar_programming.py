"""Programming schemes (memsnn.crossbar.programming): pulse counts and energies against hand-computed cases."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memsnn.integrators import Euler
from memsnn.pulse_programming import PulsedDevice, ispp
from memsnn.devices import VTEAM

# --------------------------------------------------------------------------------------------
# ISPP on VTEAM, where the motion is closed-form
# --------------------------------------------------------------------------------------------
# With alpha_on = 1 and the state in the middle of its range (the VTEAM windows are 1 - 3e-7
# there), a pulse of -V (V > |V_on| = 0.3 V) of width t moves w by k_on (V / 0.3 - 1) t. The ramp
# V_k = 0.4 + 0.1 k V gives (k + 1) / 3 for the overdrive, so with k_on = -1e-7 m/s and t = 30 us
# the k-th pulse moves w by -(k + 1) pm, and n pulses by -n (n + 1) / 2 pm.

_PM = 1e-12
_DEVICE = VTEAM(alpha_on=1.0, alpha_off=1.0)  # R = 100 + 9900 w / 3 nm (linear), k = +-1e-7 m/s
_W0 = 1.5e-9
_WIDTH = 3e-5


def _resistance(w):
    return 100.0 + 9900.0 * w / 3e-9


def _ramp(n, **kw):
    # One max_pulses (static) and a key everywhere: every test reuses one compiled loop.
    options = dict(v_start=0.4, v_step=0.1, v_max=2.0, pulse_width=_WIDTH, tolerance=2e-8, max_pulses=12,
                   key=jax.random.key(0))
    options.update(kw)
    return options


def test_ispp_pulse_count_and_energy_by_hand():
    # Targets reached after exactly n = 1, 4, 10 pulses (the window is 0.15 pm wide, a pulse >= 1 pm).
    counts = np.array([1, 4, 10])
    w_target = _W0 - counts * (counts + 1) / 2 * _PM
    g_target = 1.0 / _resistance(w_target)
    x0 = jnp.full(3, _W0)
    result = ispp(_DEVICE, x0, jnp.asarray(g_target), **_ramp(10))
    np.testing.assert_array_equal(np.asarray(result.pulses), counts)
    assert np.all(np.asarray(result.converged))
    np.testing.assert_allclose(np.asarray(result.device_state), w_target, rtol=0, atol=2e-3 * _PM)
    # Energy: sum over pulses and over the 10 Euler substeps of V^2 / R(w) dt, w moving linearly
    # by (k + 1) pm over pulse k.
    expected = []
    for n in counts:
        e, w = 0.0, _W0
        for k in range(n):
            v = 0.4 + 0.1 * k
            for s in range(10):
                e += v * v / _resistance(w - s * (k + 1) * _PM / 10) * _WIDTH / 10
            w -= (k + 1) * _PM
        expected.append(e)
    np.testing.assert_allclose(np.asarray(result.energy), expected, rtol=1e-5)


def test_ispp_ramp_caps_at_v_max_and_restarts_after_an_overshoot():
    # v_max = 0.5 V caps the overdrive at 2/3: negative pulses (raising g, lowering w) move w by
    # 1, 2, 2, 2, ... pm. A target 6.5 pm below is overshot by the 4th pulse (7 pm); a window of
    # +-0.4 pm holds neither 7 nor 6 pm, so the pulses then alternate, each restarting the ramp at
    # v_start (1 pm): 6, 7, 6, ... 7 pm after pulses 5 to 12, where max_pulses stops it.
    g_target = 1.0 / _resistance(_W0 - 6.5 * _PM)
    tol = 0.4 * _PM * 9900.0 / 3e-9 / _resistance(_W0) ** 2  # 0.4 pm in siemens
    result = ispp(_DEVICE, jnp.full(3, _W0), jnp.full(3, g_target), **_ramp(0, v_max=0.5, tolerance=tol))
    np.testing.assert_array_equal(np.asarray(result.pulses), 12)
    assert not np.any(np.asarray(result.converged))
    np.testing.assert_allclose(np.asarray(result.device_state), _W0 - 7 * _PM, atol=2e-3 * _PM)


def test_ispp_same_key_same_result():
    g_target = jnp.full(3, 1.0 / _resistance(_W0 - 400 * _PM))
    opts = _ramp(0, v_max=0.5, cycle_noise=0.1, verify_noise=1e-8)
    a = ispp(_DEVICE, jnp.full(3, _W0), g_target, **{**opts, "key": jax.random.key(3)})
    b = ispp(_DEVICE, jnp.full(3, _W0), g_target, **{**opts, "key": jax.random.key(3)})
    c = ispp(_DEVICE, jnp.full(3, _W0), g_target, **{**opts, "key": jax.random.key(4)})
    np.testing.assert_array_equal(np.asarray(a.pulses), 12)
    np.testing.assert_array_equal(np.asarray(a.device_state), np.asarray(b.device_state))
    assert np.all(np.asarray(a.device_state) != np.asarray(c.device_state))
    # The three devices drew different cycle-to-cycle noise.
    assert len(set(np.asarray(a.device_state).tolist())) == 3


def test_ispp_bad_input_says_what_is_wrong():
    x0 = jnp.asarray([_W0])
    with pytest.raises(ValueError, match="outside the device's conductance range"):
        ispp(_DEVICE, x0, jnp.asarray([1.0]), **_ramp(0))
    with pytest.raises(ValueError, match="max_pulses must be a whole number >= 1"):
        ispp(_DEVICE, x0, jnp.asarray([1e-3]), **_ramp(0, max_pulses=0))
    with pytest.raises(ValueError, match="tolerance"):
        ispp(_DEVICE, x0, jnp.asarray([1e-3]), **_ramp(0, tolerance=0.0))
    with pytest.raises(ValueError, match="v_start must be > 0"):
        ispp(_DEVICE, x0, jnp.asarray([1e-3]), **_ramp(0, v_start=-0.4))
    with pytest.raises(ValueError, match="state bounds"):
        ispp(_DEVICE, jnp.asarray([1.0]), jnp.asarray([1e-3]), **_ramp(0))


def test_ispp_pulses_are_integrated_by_an_integrator_object_within_the_bounds():
    # The pulse is a component (PulsedDevice) advanced by the integrator passed in; the default is
    # Euler(substeps). No clipping: a step too long for the device's window near its bounds is refused.
    g_target = jnp.full(3, 1.0 / _resistance(_W0 - 10 * _PM))
    default = ispp(_DEVICE, jnp.full(3, _W0), g_target, **_ramp(0))
    given = ispp(_DEVICE, jnp.full(3, _W0), g_target, **_ramp(0), integrator=Euler(10))
    np.testing.assert_array_equal(np.asarray(default.device_state), np.asarray(given.device_state))
    x, energy = PulsedDevice(_DEVICE, jnp.asarray(-0.4), 1.0).pulse(jnp.asarray(_W0), _WIDTH, Euler(1))
    np.testing.assert_allclose(float(_W0 - x), _PM, rtol=1e-6)  # one pulse of -0.4 V: 1 pm
    np.testing.assert_allclose(float(energy), 0.16 / _resistance(_W0) * _WIDTH, rtol=1e-12)
    with pytest.raises(ValueError, match="too long for this device near its state bounds.*use substeps >= "):
        ispp(_DEVICE, jnp.full(3, _W0), g_target, **_ramp(0, pulse_width=1e-2, max_pulses=12), substeps=1)


# --------------------------------------------------------------------------------------------
# Identical pulses on NeuroSim's curve: write-verify and open loop
# --------------------------------------------------------------------------------------------
# G(p) = g_min + B (1 - exp(-p / A)), B = (g_max - g_min) / (1 - exp(-P / A)): with A = 5 pulses and
# P = 10, the targets G(p) are reached after exactly p potentiating pulses from g_min; pulse k
# (from G(k)) costs v^2 G(k) t_pulse.

_G_MIN, _G_MAX, _P, _A = 1e-6, 11e-6, 10, 5.0
_V, _T = 2.0, 100e-9


def _curve(p, a=_A):
    b = (_G_MAX - _G_MIN) / (1.0 - math.exp(-_P / a))
    return _G_MIN + b * (1.0 - math.exp(-p / a))


def _update(**kw):
    from memsnn.crossbar import PulseUpdate

    return PulseUpdate(_G_MIN, _G_MAX, _P, a_ltp=_A, a_ltd=-_A, v_write=_V, pulse_width=_T, **kw)


def test_write_verify_pulses_and_energy_by_hand():
    from memsnn.crossbar.programming import write_verify

    counts = np.array([0, 1, 4, 10])
    target = np.array([_curve(p) for p in counts])
    result = write_verify(_update(), jnp.full(4, _G_MIN), jnp.asarray(target), tolerance=1e-9, max_pulses=12,
                          verify_energy=1e-15)
    np.testing.assert_array_equal(np.asarray(result.pulses), counts)
    assert np.all(np.asarray(result.converged))
    np.testing.assert_allclose(np.asarray(result.conductances), target, rtol=1e-9)
    # One verify read before the first pulse and one after every pulse.
    expected = [sum(_V**2 * _curve(k) * _T for k in range(n)) + (n + 1) * 1e-15 for n in counts]
    np.testing.assert_allclose(np.asarray(result.energy), expected, rtol=1e-9)
    # The open loop needs the same pulses (and energy, without the reads) when there is no noise.
    from memsnn.crossbar.programming import program_pulses

    open_loop = program_pulses(_update(), jnp.full(4, _G_MIN), jnp.asarray(target))
    np.testing.assert_array_equal(np.asarray(open_loop.pulses), counts)
    np.testing.assert_allclose(np.asarray(open_loop.energy), [e - (n + 1) * 1e-15 for e, n in zip(expected, counts)],
                               rtol=1e-9)
    assert np.all(np.asarray(open_loop.converged))


def test_write_verify_depresses_back_after_an_overshoot():
    from memsnn.crossbar.programming import write_verify

    # A target half-way between G(3) and G(4) with a window narrower than either: potentiate to
    # G(4) (4 pulses, overshoot), then one depressing pulse along the LTD curve, then up again, ...
    # until max_pulses. The LTD curve's position of G(4) is p' with G_ltd(p') = G(4); one pulse
    # down lands on G_ltd(p' - 1).
    target = 0.5 * (_curve(3) + _curve(4))
    result = write_verify(_update(), jnp.asarray([_G_MIN]), jnp.asarray([target]), tolerance=1e-9, max_pulses=5)
    assert int(result.pulses[0]) == 5 and not bool(result.converged[0])
    b = (_G_MAX - _G_MIN) / (1.0 - math.exp(_P / _A))  # A = -5 on the LTD curve
    p_ltd = _A * math.log1p(-(_curve(4) - _G_MIN) / b)
    np.testing.assert_allclose(float(result.conductances[0]), _curve(p_ltd - 1, a=-_A), rtol=1e-9)


def test_write_verify_with_noise_lands_in_the_window_and_is_reproducible():
    from memsnn.crossbar.programming import write_verify

    target = jnp.linspace(2e-6, 10e-6, 64)
    tol = 0.3e-6
    update = _update(sigma_c2c=0.05e-6)
    a = write_verify(update, jnp.full(64, _G_MIN), target, tolerance=tol, max_pulses=40, key=jax.random.key(1))
    b = write_verify(update, jnp.full(64, _G_MIN), target, tolerance=tol, max_pulses=40, key=jax.random.key(1))
    np.testing.assert_array_equal(np.asarray(a.conductances), np.asarray(b.conductances))
    ok, pulses = np.asarray(a.converged), np.asarray(a.pulses)
    # A device stops inside the window or after max_pulses (near g_max the steep LTD curve can
    # jump over the window every time: the asymmetry write-verify struggles with).
    assert np.all(np.abs(np.asarray(a.conductances) - np.asarray(target))[ok] <= tol)
    assert np.all(pulses[~ok] == 40)
    assert ok.mean() >= 0.75, ok.mean()
    with pytest.raises(ValueError, match="outside the device's range"):
        write_verify(update, jnp.full(2, _G_MIN), jnp.asarray([1e-6, 1e-3]), tolerance=tol)


# --------------------------------------------------------------------------------------------
# Stuck devices: fault-aware (fault-tolerant) mapping of differential pairs
# --------------------------------------------------------------------------------------------
# Linear devices, 1..11 uS in 100 pulses of 0.1 uS, w_max = 1: k = 10 uS per unit weight, so a
# weight of 0.01 is one pulse. Each pair below has a hand-worked outcome (a = stuck conductance,
# d = k w the pair's target difference; the partner of a stuck device goes to clip(a -/+ d)).

_FAULT_CASES = [
    # (weight, G+ stuck at, G- stuck at, fault-aware weight, plain weight)
    (0.5, 11e-6, None, 0.5, 1.0),     # SA1 on the weight's side: G- = 11 - 5 = 6 uS
    (-0.3, None, 11e-6, -0.3, -1.0),  # SA1 on the weight's side: G+ = 11 - 3 = 8 uS
    (0.5, 1e-6, None, 0.0, 0.0),      # SA0 on the weight's side: G- cannot go below 1 uS
    (0.4, None, 11e-6, 0.0, -0.6),    # SA1 on the other side: G+ = clip(11 + 4) = 11 uS
    (-0.2, 11e-6, None, 0.0, 0.8),    # SA1 on the other side: G- = clip(11 + 2) = 11 uS
    (0.3, 11e-6, 11e-6, 0.0, 0.0),    # both stuck: the pair stays as it is
    (0.2, None, None, 0.2, 0.2),      # healthy
]


def test_write_verify_pairs_finds_stuck_devices_and_compensates_with_the_partner():
    from memsnn.crossbar import ConductanceMapping, Conductances, PulseUpdate
    from memsnn.crossbar.programming import write_verify_pairs

    mapping = ConductanceMapping(1e-6, 11e-6, w_max=1.0)
    update = PulseUpdate(1e-6, 11e-6, 100)
    weight = jnp.asarray([[c[0] for c in _FAULT_CASES]])
    stuck = tuple(np.asarray([[c[i] is not None for c in _FAULT_CASES]]) for i in (1, 2))
    g0 = Conductances(*(jnp.asarray([[1e-6 if c[i] is None else c[i] for c in _FAULT_CASES]]) for i in (1, 2)))
    tol = 0.04e-6  # < half a pulse: a healthy device lands on its target
    runs = {aware: write_verify_pairs(update, mapping, weight, g0, tolerance=tol, max_pulses=120, stuck=stuck,
                                      fault_aware=aware) for aware in (True, False)}
    for aware, column in ((True, 3), (False, 4)):
        w = np.asarray(mapping.to_weight(runs[aware].conductances))[0]
        np.testing.assert_allclose(w, [c[column] for c in _FAULT_CASES], atol=1e-9, err_msg=f"fault_aware={aware}")
    aware, plain = runs[True], runs[False]
    # Found stuck: every stuck device here (none of them is stuck at its own target).
    np.testing.assert_array_equal(np.asarray(aware.stuck_positive), stuck[0])
    np.testing.assert_array_equal(np.asarray(aware.stuck_negative), stuck[1])
    # The partner of the first pair went from g_min up to 6 uS: 50 pulses in pass 2.
    assert int(aware.negative.pulses[0, 0]) == 50 and int(plain.negative.pulses[0, 0]) == 0
    assert float(aware.total_energy) > float(plain.total_energy)
    # A stuck device takes every pulse and does not move.
    assert int(aware.positive.pulses[0, 0]) == 120
    assert float(aware.conductances.positive[0, 0]) == 11e-6


def test_fault_aware_stuck_at_keeps_the_weights_the_plain_mapping_loses():
    from memsnn.crossbar import ConductanceMapping, StuckAt

    mapping = ConductanceMapping(1e-6, 11e-6, w_max=1.0)
    w = jax.random.uniform(jax.random.key(0), (60, 50), minval=-1.0, maxval=1.0)
    target = mapping.to_conductances(w)
    key = jax.random.key(3)
    plain = StuckAt(0.1, 0.1).programmed(target, mapping, key=key)
    aware = StuckAt(0.1, 0.1, fault_aware=True).programmed(target, mapping, key=key)
    # The same chip: a device the plain mapping left stuck is stuck at the same value.
    for p, a, t in zip(plain, aware, target):
        hit = np.asarray(p != t)
        np.testing.assert_array_equal(np.asarray(a)[hit], np.asarray(p)[hit])
    err_plain = np.abs(np.asarray(mapping.to_weight(plain) - w))
    err_aware = np.abs(np.asarray(mapping.to_weight(aware) - w))
    assert np.all(err_aware <= err_plain + 1e-9)
    # Uniform w in [-1, 1]: for w > 0 the plain mapping loses w (G+ SA0), 1 - w (G+ SA1) and 1 (G- SA1),
    # on average 2; fault-aware loses w, 0 and w, on average 1 (mirror for w < 0): half the error.
    assert err_aware.sum() < 0.6 * err_plain.sum(), (err_aware.sum(), err_plain.sum())
    # Exact where the partner can compensate: one device stuck on the weight's side at g_max.
    faults = StuckAt(0.1, 0.1)
    (stuck_pos, at_pos), (stuck_neg, at_neg) = (
        (np.asarray(m), np.asarray(v)) for m, v in (faults.faults(w.shape, w.dtype, mapping, k)
                                                     for k in jax.random.split(key)))
    fixable = ((stuck_pos & ~stuck_neg & (at_pos == 11e-6) & (np.asarray(w) > 0))
               | (stuck_neg & ~stuck_pos & (at_neg == 11e-6) & (np.asarray(w) < 0)))
    assert fixable.sum() > 100
    np.testing.assert_allclose(err_aware[fixable], 0.0, atol=1e-9)
    # Hardware-aware training learns through the compensation: d(weight)/d(w) is 1 on compensated pairs.
    grad = jax.grad(lambda w: jnp.sum(mapping.to_weight(StuckAt(0.1, 0.1, fault_aware=True).programmed(
        mapping.to_conductances(w), mapping, key=key))))(w)
    np.testing.assert_allclose(np.asarray(grad)[fixable], 1.0)
    with pytest.raises(TypeError, match="fault_aware"):
        StuckAt(0.1, 0.1, fault_aware="yes")
