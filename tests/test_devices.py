"""Memristor device models: pinched hysteresis, conductance range, bounded state, finite gradients."""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from memsnn.devices import (  # noqa: E402
    VTEAM,
    AbstractMemristor,
    GeneralizedMSS,
    LinearIonDrift,
    MeanMetastableSwitch,
    VolatileMSS,
    Yakopcic,
)


@dataclasses.dataclass(frozen=True)
class Case:
    """A device and the drives that exercise it.

    ``dt`` is an Euler step small against the fastest state motion for ``|V| <= v_max``; the sine
    ``v0 sin(2 pi freq t)`` (``steps`` Euler steps a period, a multiple of 12) opens its loop.
    ``x0`` is the initial state as a fraction of the state interval.
    """

    make: Callable[[], AbstractMemristor]
    v_max: float
    dt: float
    v0: float
    freq: float
    steps: int = 1200
    x0: float = 0.1
    ohmic: bool = True
    special_voltages: tuple[float, ...] = ()


CASES = {
    "volatile_mss": Case(VolatileMSS, 1.0, 1e-4, v0=0.3, freq=100.0, x0=0.0, special_voltages=(0.11, 0.005)),
    "mmss": Case(MeanMetastableSwitch, 1.0, 1e-5, v0=0.6, freq=1e3, x0=0.0, special_voltages=(0.27, -0.27)),
    "gmss": Case(GeneralizedMSS, 1.0, 1e-5, v0=0.6, freq=1e3, x0=0.0, ohmic=False, special_voltages=(1e-7, -1e-7)),
    "vteam": Case(VTEAM, 1.0, 1e-5, v0=1.0, freq=100.0, x0=0.5, special_voltages=(0.3, -0.3, 0.3 + 1e-16)),
    "vteam_exp_joglekar": Case(
        lambda: VTEAM(resistance="exponential", window="joglekar", p=2, alpha_off=0.5, alpha_on=0.5),
        1.0, 1e-5, v0=1.0, freq=100.0, x0=0.5, special_voltages=(0.3, -0.3, 0.3 + 1e-16, -0.3 - 1e-16),
    ),
    "yakopcic": Case(Yakopcic, 1.0, 1e-5, v0=0.5, freq=100.0, x0=0.11, ohmic=False, special_voltages=(0.16, -0.15, 1e-9)),
    "hp_joglekar": Case(LinearIonDrift, 1.0, 5e-4, v0=1.0, freq=1.0, x0=0.1),
    "hp_biolek": Case(lambda: LinearIonDrift(window="biolek", p=2), 1.0, 5e-4, v0=1.0, freq=1.0, x0=0.1),
    "hp_none": Case(lambda: LinearIonDrift(window="none"), 1.0, 5e-4, v0=1.0, freq=1.0, x0=0.1),
}
# Without a window, the HP model's hard stop lets one Euler step overshoot an edge (tested apart).
EULER_BOUNDED = [name for name in CASES if name != "hp_none"]

property_settings = settings(max_examples=50, deadline=None)
METHODS = ("current", "state_derivative", "conductance")


def _state(model, fraction):
    low, high = model.state_bounds
    return low + fraction * (high - low)


def _draw_device(data, name):
    """The device of case ``name``, a state in its bounds and a voltage in (or at the edges of) its range."""
    case = CASES[name]
    model = case.make()
    fraction = data.draw(
        st.one_of(st.floats(0.0, 1.0, allow_subnormal=False), st.sampled_from([0.0, 1.0, 0.5])), label="state fraction"
    )
    voltage = data.draw(
        st.one_of(
            st.floats(-case.v_max, case.v_max, allow_subnormal=False), st.sampled_from((0.0,) + case.special_voltages)
        ),
        label="voltage",
    )
    return model, _state(model, fraction), voltage


@pytest.mark.parametrize("name", list(CASES))
@property_settings
@given(data=st.data())
def test_current_vanishes_at_zero_voltage(name, data):
    model, x, _ = _draw_device(data, name)
    assert float(model.current(x, 0.0)) == 0.0
    assert float(model.current(x, -0.0)) == 0.0


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.ohmic])
@property_settings
@given(data=st.data())
def test_ohmic_conductance_between_off_and_on(name, data):
    model, x, v = _draw_device(data, name)
    g = float(model.conductance(x, v))
    assert 1.0 / float(model.R_off) * (1 - 1e-12) <= g <= 1.0 / float(model.R_on) * (1 + 1e-12)
    np.testing.assert_allclose(model.current(x, v), g * v, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if not c.ohmic])
@property_settings
@given(data=st.data())
def test_chord_conductance_is_current_over_voltage(name, data):
    model, x, v = _draw_device(data, name)
    g = model.conductance(x, v)
    # g = a x b underflows to 0 for states within a few orders of the smallest normal double.
    assert np.isfinite(g) and (g > 0 or x < 1e-290)
    if v != 0.0:
        np.testing.assert_allclose(g * v, model.current(x, v), rtol=1e-9, atol=1e-300)
    # The V -> 0 limit is continuous: the chord conductance at 1 nV equals the value at 0.
    np.testing.assert_allclose(model.conductance(x, 1e-9), model.conductance(x, 0.0), rtol=1e-7)


@pytest.mark.parametrize("name", EULER_BOUNDED)
@property_settings
@given(data=st.data())
def test_euler_keeps_state_in_bounds(name, data):
    case = CASES[name]
    model = case.make()
    fraction = data.draw(st.floats(0.0, 1.0, allow_subnormal=False), label="initial state fraction")
    # A piecewise-constant drive: 10 levels held for 20 steps each.
    level = st.floats(-case.v_max, case.v_max, allow_subnormal=False)
    levels = data.draw(st.lists(level, min_size=10, max_size=10), label="levels")
    x0 = jnp.asarray(_state(model, fraction), dtype=float)
    states = _euler_states(model, x0, jnp.repeat(jnp.asarray(levels), 20), case.dt)
    low, high = model.state_bounds
    assert np.all(np.isfinite(states))
    assert np.all(states >= low) and np.all(states <= high), (states.min(), states.max())


@eqx.filter_jit
def _euler_states(model, x0, voltages, dt):
    def step(x, v):
        x = x + dt * model.state_derivative(x, v)
        return x, x

    _, states = jax.lax.scan(step, x0, voltages)
    return states


def _all_finite(tree) -> bool:
    return all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array)))


@eqx.filter_jit
def _values_and_gradients(model, x, v):
    """Each method's value, its gradient for every parameter leaf, and its derivative in ``V``."""
    out = {}
    for method in METHODS:
        out[method] = getattr(model, method)(x, v)
        out[method + " parameter gradient"] = eqx.filter_grad(lambda m: getattr(m, method)(x, v))(model)
        out[method + " voltage derivative"] = jax.grad(lambda u: getattr(model, method)(x, u))(v)
    return out


@pytest.mark.parametrize("name", list(CASES))
@property_settings
@given(data=st.data())
def test_no_nan_in_values_or_gradients(name, data):
    model, x, v = _draw_device(data, name)
    out = _values_and_gradients(model, jnp.asarray(x, dtype=float), jnp.asarray(v, dtype=float))
    for key, value in out.items():
        assert _all_finite(value), (key, value)


@pytest.mark.parametrize("name", list(CASES))
def test_pinched_hysteresis_under_sine_drive(name):
    case = CASES[name]
    model = case.make()
    n = case.steps
    dt = 1.0 / (case.freq * n)
    t = jnp.arange(2 * n + 1) * dt
    v = case.v0 * jnp.sin(2 * jnp.pi * case.freq * t)
    x0 = jnp.asarray(_state(model, case.x0), dtype=float)
    states = jnp.concatenate([jnp.asarray([x0]), _euler_states(model, x0, v[:-1], dt)])
    i = np.asarray(model.current(states, v))
    assert np.all(np.isfinite(i))
    second = slice(n, 2 * n + 1)
    scale = np.max(np.abs(i[second]))
    # V crosses zero at t = 1.5 T and 2 T: the current is pinched there.
    for k in (n + n // 2, 2 * n):
        assert abs(i[k]) <= 1e-9 * scale, (k, i[k], scale)
    # At V = V0/2 the rising (t = T + T/12) and falling (t = T + 5T/12) branches differ.
    rising, falling = i[n + n // 12], i[n + 5 * n // 12]
    np.testing.assert_allclose(v[n + n // 12], v[n + 5 * n // 12], rtol=1e-9)
    assert abs(rising - falling) > 0.01 * max(abs(rising), abs(falling)), (rising, falling)
    # The positive lobe encloses a clearly nonzero area (integral of I dV over the half period).
    half = slice(n, n + n // 2 + 1)
    lobe = np.sum(0.5 * (i[half][1:] + i[half][:-1]) * np.diff(np.asarray(v[half])))
    assert abs(lobe) > 1e-2 * case.v0 * scale, (lobe, case.v0 * scale)


def _all_methods(model, x, v):
    return {method: getattr(model, method)(x, v) for method in METHODS}


@pytest.mark.parametrize("name", list(CASES))
def test_broadcasting_and_jit(name):
    model = CASES[name].make()
    x = _state(model, jnp.linspace(0.0, 1.0, 3))[:, None]
    v = jnp.linspace(-0.8, 0.8, 4)
    eager, jitted = _all_methods(model, x, v), eqx.filter_jit(_all_methods)(model, x, v)
    for method in METHODS:
        # Ohmic conductances ignore the voltage, so they may keep the state's shape.
        assert jnp.broadcast_shapes(eager[method].shape, (3, 4)) == (3, 4)
        scale = float(jnp.max(jnp.abs(eager[method])))
        np.testing.assert_allclose(jitted[method], eager[method], rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize("model", [LinearIonDrift(window="none"), VTEAM(), VTEAM(window="joglekar")])
def test_no_outward_motion_at_the_bounds(model):
    low, high = model.state_bounds
    assert float(model.state_derivative(high, 1.0)) == 0.0
    assert float(model.state_derivative(low, -1.0)) == 0.0
    # ... but a device at a bound can leave it inwards (except Joglekar's window, which holds it).
    if getattr(model, "window", None) != "joglekar":
        assert float(model.state_derivative(high, -1.0)) < 0.0
        assert float(model.state_derivative(low, 1.0)) > 0.0


def test_vteam_is_zero_between_thresholds_and_matches_the_power_law_beyond():
    model = VTEAM(window="joglekar")
    w = _state(model, 0.5)
    for v in (-0.3, -0.1, 0.0, 0.2, 0.3):
        assert float(model.state_derivative(w, v)) == 0.0
    np.testing.assert_allclose(model.state_derivative(w, 0.9), 1e-7 * (0.9 / 0.3 - 1) ** 3, rtol=1e-12)
    np.testing.assert_allclose(model.state_derivative(w, -0.9), -1e-7 * (0.9 / 0.3 - 1) ** 3, rtol=1e-12)
    # Exponential resistance interpolates geometrically: R(midpoint) = sqrt(R_on R_off).
    exp_model = VTEAM(resistance="exponential")
    np.testing.assert_allclose(exp_model.memristance(w), np.sqrt(100.0 * 10e3), rtol=1e-12)


def test_generalized_mss_reduces_to_mmss_and_adds_the_diode():
    x, v = 0.3, 0.4
    plain = MeanMetastableSwitch()
    np.testing.assert_allclose(GeneralizedMSS(phi=1.0).current(x, v), plain.current(x, v), rtol=1e-15)
    model = GeneralizedMSS()
    diode = 1e-7 * (np.exp(8 * v) - np.exp(-8 * v))
    np.testing.assert_allclose(model.current(x, v), 0.9 * plain.current(x, v) + 0.1 * diode, rtol=1e-12)
    np.testing.assert_allclose(model.conductance(x, 0.0), 0.9 * plain.conductance(x) + 0.1 * 2 * 1e-7 * 8, rtol=1e-12)
    np.testing.assert_allclose(model.state_derivative(x, v), plain.state_derivative(x, v), rtol=1e-15)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: MeanMetastableSwitch(R_on=-1.0), "R_on"),
        (lambda: MeanMetastableSwitch(R_on=2e3, R_off=1e3), "R_on"),
        (lambda: MeanMetastableSwitch(tau=0.0), "tau"),
        (lambda: MeanMetastableSwitch(V_T=-0.01), "V_T"),
        (lambda: GeneralizedMSS(phi=1.5), "phi"),
        (lambda: GeneralizedMSS(alpha_f=-1e-7), "alpha_f"),
        (lambda: GeneralizedMSS(beta_r=-1.0), "beta_r"),
        (lambda: GeneralizedMSS(R_off=100.0), "R_on"),
        (lambda: VTEAM(R_off=10.0), "R_on"),
        (lambda: VTEAM(V_off=-0.3), "V_off"),
        (lambda: VTEAM(V_on=0.3), "V_on"),
        (lambda: VTEAM(k_off=-1e-7), "k_off"),
        (lambda: VTEAM(k_on=1e-7), "k_on"),
        (lambda: VTEAM(alpha_on=0.0), "alpha_on"),
        (lambda: VTEAM(w_c=0.0), "w_c"),
        (lambda: VTEAM(w_on=3e-9, w_off=0.0), "w_on"),
        (lambda: VTEAM(resistance="quadratic"), "resistance"),
        (lambda: VTEAM(window="biolek"), "window"),
        (lambda: VTEAM(window="joglekar", p=0), "p"),
        (lambda: Yakopcic(a1=0.0), "a1"),
        (lambda: Yakopcic(b=-0.05), "b"),
        (lambda: Yakopcic(A_n=-1.0), "A_n"),
        (lambda: Yakopcic(V_p=-0.1), "V_p"),
        (lambda: Yakopcic(x_p=1.0), "x_p"),
        (lambda: Yakopcic(x_n=-0.1), "x_n"),
        (lambda: Yakopcic(alpha_n=-1.0), "alpha_n"),
        (lambda: Yakopcic(eta=0), "eta"),
        (lambda: LinearIonDrift(R_on=0.0), "R_on"),
        (lambda: LinearIonDrift(R_on=2e4), "R_on"),
        (lambda: LinearIonDrift(mu_v=0.0), "mu_v"),
        (lambda: LinearIonDrift(D=-1e-8), "D"),
        (lambda: LinearIonDrift(window="prodromakis"), "window"),
        (lambda: LinearIonDrift(p=1.5), "p"),
        (lambda: VolatileMSS(V_on=0.5, V_off=0.001, V_T=0.003), "V_T"),
        (lambda: MeanMetastableSwitch(V_on=0.3, V_off=0.3, V_T=0.003), "V_T"),
    ],
)
def test_invalid_parameters_are_rejected(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("d", [-3.0, 7.0, 20.8, 99.0, 149.0])
def test_sigmoid_pair_is_two_sigmoids_and_differentiates_like_them(dtype, d):
    """The metastable switch's on and off rates from one exponential (sigmoid_pair) against two
    jax.nn.sigmoid calls, in value (to rounding, which grows with |d|: the midpoint shift) and in
    the custom JVP's derivatives in z and in d (against autodiff of the two sigmoids)."""
    eps = float(jnp.finfo(dtype).eps)
    z = jnp.linspace(-200.0, 200.0, 4001, dtype=dtype)
    dd = jnp.asarray(d, dtype)
    tol = 4 * eps * (1 + abs(d))
    # One compiled program per dtype (d is an array argument): values and both derivatives.
    ours, want = _sigmoid_pair_checks(z, dd)
    for got, ref in zip(ours["values"], want["values"]):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)
    for got, ref in zip(ours["grads"], want["grads"]):
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * len(z))


def _plain_sigmoid_pair(z, d):
    return jax.nn.sigmoid(z), jax.nn.sigmoid(-z - d)


@jax.jit
def _sigmoid_pair_checks(z, d):
    """sigmoid_pair and the two plain sigmoids: values, and the gradients in z and d of a weighted sum."""
    from memsnn.devices._mss import sigmoid_pair

    weights = jnp.cos(z)  # any cotangent
    out = []
    for fn in (sigmoid_pair, _plain_sigmoid_pair):
        def total(z, d, fn=fn):
            first, second = fn(z, d)
            return jnp.sum(weights * (first + 3 * second))

        out.append({"values": fn(z, d), "grads": jax.grad(total, (0, 1))(z, d)})
    return out


def test_metastable_switch_rates_match_the_two_sigmoid_form():
    """state_derivative and relaxation_rate of both switch models against the equations written
    with two jax.nn.sigmoid calls (docs/devices.md), float64."""
    v = jnp.linspace(-0.5, 0.5, 1001)
    for device in (VolatileMSS(), MeanMetastableSwitch()):
        on = jax.nn.sigmoid((v - device.V_on) / device.V_T)
        off = jax.nn.sigmoid((device.off_switching_voltage() - v) / device.V_T)
        for x in (0.0, 0.3, 1.0):
            np.testing.assert_allclose(device.state_derivative(x, v), ((1 - x) * on - x * off) / device.tau,
                                       rtol=1e-13, atol=1e-13 / device.tau)
        np.testing.assert_allclose(device.relaxation_rate(0.3, v), (on + off) / device.tau, rtol=1e-13)


def test_metastable_switch_rate_differentiates_like_the_two_sigmoid_form():
    """The metastable switches' state_derivative (through sigmoid_pair's custom JVP) differentiated
    against autodiff of the two-sigmoid equations: in the state, the voltage and every device
    parameter (reverse mode), and in the voltage alone (forward mode), float64."""
    v = jnp.linspace(-0.5, 0.5, 201)
    x = jnp.linspace(0.0, 1.0, 201)
    weights = jnp.cos(7 * v)

    def two_sigmoids(device, x, v):
        on = jax.nn.sigmoid((v - device.V_on) / device.V_T)
        off = jax.nn.sigmoid((device.off_switching_voltage() - v) / device.V_T)
        return ((1 - x) * on - x * off) / device.tau

    @eqx.filter_jit
    def derivatives(device, x, v):
        def total(fn, device, x, v):
            return jnp.sum(weights * fn(device, x, v))

        ours = jax.grad(total, argnums=(1, 2, 3))(type(device).state_derivative, device, x, v)
        want = jax.grad(total, argnums=(1, 2, 3))(two_sigmoids, device, x, v)
        # Only the voltage differentiated (the device and the state fixed), forward mode.
        tangent = jnp.sin(v)
        _, ours_v = jax.jvp(lambda v: device.state_derivative(x, v), (v,), (tangent,))
        _, want_v = jax.jvp(lambda v: two_sigmoids(device, x, v), (v,), (tangent,))
        return (ours, ours_v), (want, want_v)

    for device in (VolatileMSS(V_on=0.1, V_off=0.02, V_T=0.02), MeanMetastableSwitch(V_on=0.1, V_off=0.05, V_T=0.03)):
        ours, want = derivatives(device, x, v)
        leaves = jax.tree.leaves(want)
        assert len(jax.tree.leaves(ours)) == len(leaves) > 2
        for got, ref in zip(jax.tree.leaves(ours), leaves):
            np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10 * float(jnp.max(jnp.abs(ref))))


def test_parameters_are_trainable_under_jit():
    """Construction checks are skipped for tracers, so a module rebuilt inside jit/grad works."""
    model = VTEAM()

    @eqx.filter_jit
    @eqx.filter_grad
    def grad_fn(m):
        return m.state_derivative(_state(m, 0.5), 0.8) / 1e-7

    grads = grad_fn(model)
    assert float(grads.k_off) > 0
    assert float(grads.alpha_off) != 0


# --- relaxation_rate: the stiffness that explicit steps must respect (docs/devices.md) ----------

RATE_CASES = {name: case.make for name, case in CASES.items()}
RATE_CASES["hp_logit"] = lambda: LinearIonDrift(coordinate="logit")


def _path_slopes(model, x, v, n=400):
    """Central-difference |df/dx| at ``x`` and on the way to the bound the motion goes to."""
    low, high = model.state_bounds
    if not np.isfinite(low):
        low, high = -40.0, 40.0
    h = 1e-7 * (high - low)
    f = lambda s: np.asarray(model.state_derivative(s, v))  # noqa: E731
    slope = lambda s: np.abs((f(s + h) - f(s - h)) / (2 * h))  # noqa: E731
    direction = np.sign(float(f(x)))
    if direction == 0:
        return float(slope(x)), 0.0
    edge = (high if direction > 0 else low) - 2 * h * direction
    return float(slope(x)), float(np.max(slope(np.linspace(x, edge, n))))


@pytest.mark.parametrize("name", list(RATE_CASES))
def test_relaxation_rate_bounds_the_slope_on_the_way_to_the_bound(name):
    model = RATE_CASES[name]()
    low, high = model.state_bounds
    if not np.isfinite(low):
        low, high = -12.0, 12.0
    v_max = CASES[name].v_max if name in CASES else 1.0
    checked = 0
    for fraction in (0.05, 0.3, 0.5, 0.8, 0.97):
        x = low + fraction * (high - low)
        for v in v_max * np.array([-1.0, -0.5, -0.2, 0.2, 0.5, 1.0]):
            bound = float(model.relaxation_rate(x, v))
            here, on_the_way = _path_slopes(model, x, v)
            assert np.isfinite(bound) and bound >= 0
            assert here <= bound * (1 + 1e-5) + 1e-12, (x, v, here, bound)
            # ion drift: a sampled maximum of a smooth slope, within 1 %; the others are exact bounds.
            assert on_the_way <= bound * (1 + 1e-2) + 1e-12, (x, v, on_the_way, bound)
            # Not absurdly loose: VTEAM's stop-ramp bound is at most twice the largest slope; the
            # others are within the finite-difference error of it.
            assert bound <= 2.0 * on_the_way + 1e-9 * max(bound, 1.0), (x, v, on_the_way, bound)
            checked += on_the_way > 0
    assert checked >= 10  # the drives above move the state


def test_relaxation_rate_broadcasts_and_jits():
    # Broadcast (3, 1) x (4,) under jit against the eager rate of each scalar pair (scalar eager
    # programs are shared with the other device tests; new shapes would compile every primitive).
    voltages = np.linspace(-0.8, 0.8, 4)
    for make in RATE_CASES.values():
        model = make()
        low, high = model.state_bounds
        x = 0.2 if not np.isfinite(low) else low + 0.2 * (high - low)
        jitted = eqx.filter_jit(type(model).relaxation_rate)(model, x * jnp.ones((3, 1)), jnp.asarray(voltages))
        assert jitted.shape == (3, 4)
        eager = [float(model.relaxation_rate(x, float(v))) for v in voltages]
        np.testing.assert_allclose(jitted, np.broadcast_to(eager, (3, 4)), rtol=1e-12)


@pytest.mark.parametrize("voltage", [0.5, 1.0, -0.5, -1.0])
@pytest.mark.parametrize("window", ["vteam", "joglekar"])
def test_vteam_euler_stays_in_bounds_below_the_relaxation_limit_and_overshoots_above(window, voltage):
    # issue 16: VTEAM under explicit Euler overshot its bounds without an error when a step moved
    # more than the window width w_c, and then stayed outside (f = 0 there). relaxation_rate gives
    # the step that cannot do that, dt * rate <= 1; a MIF checks it at every step (below).
    model = VTEAM(window=window)
    w0 = jnp.asarray(_state(model, 0.5))
    rate = float(model.relaxation_rate(w0, voltage))
    low, high = model.state_bounds
    safe = _euler_states(model, w0, jnp.full(3000, voltage), 0.9 / rate)
    # In bounds up to rounding (Joglekar's 1 - (2u - 1)^2 loses digits next to an edge: ~1e-17 of it).
    tol = 1e-12 * (high - low)
    assert np.all(np.asarray(safe) >= low - tol) and np.all(np.asarray(safe) <= high + tol)
    assert abs(float(safe[-1]) - (high if voltage > 0 else low)) < 1e-3 * (high - low)  # it got there
    coarse = np.asarray(_euler_states(model, w0, jnp.full(100, voltage), 3.0 / rate))
    assert np.any(coarse > high + 1e-3 * (high - low)) or np.any(coarse < low - 1e-3 * (high - low))


def test_mif_with_vteam_reports_a_step_that_jumps_the_window_as_unstable():
    import memsnn

    device = VTEAM(R_on=1e3, R_off=1e5, V_on=-0.02, V_off=0.02, k_on=-3e-7, k_off=3e-7, w_c=1e-10)
    mif = memsnn.MIF(memristor1=device, memristor2=device, x1_init=1.5e-9, x2_init=1.5e-9)
    net = memsnn.Network([memsnn.Layer(memsnn.Identity(1), memsnn.AlphaSynapse(1e-3), mif)])
    stim = memsnn.Impulses(jnp.full((1, 1, 1), 1e-5), steps=(0,))
    # dt = 2 us: the membrane alone is stable (dt (G1 + G2) / C ~ 0.04), the device states are not.
    trace = memsnn.simulate(net, stim, dt=2e-6, n_steps=300, solver=memsnn.Euler(), record=("state",), throw=False)
    assert float(np.nanmax(trace.step_ratio)) > 2.0
    with pytest.raises(Exception, match="unstable"):
        memsnn.simulate(net, stim, dt=2e-6, n_steps=300, solver=memsnn.Euler())
    fine = memsnn.simulate(net, stim, dt=2e-8, n_steps=30000, solver=memsnn.Euler(), record=("state",))
    x = np.asarray(fine.state[0].neuron.x1)
    assert x.min() >= 0.0 and x.max() <= 3e-9


# --- the HP device with Joglekar's window at its edges (issue 16) -------------------------------

def test_joglekar_logit_coordinate_leaves_the_edge_as_the_exact_solution_does():
    # With p = 1, dx/dq = 4 k x (1 - x) (q the charge through the device, k = mu_v R_on / D^2), so
    # the exact state is x = sigmoid(s0 + 4 k q): it approaches an edge exponentially and comes
    # back when the current reverses. +1 V for 17.5 ms drives 1 - x far below float64's 1.1e-16,
    # -1 V for as long brings it back. (Euler steps that move x by more than half its distance to
    # the edge there, dt 4 k I > 1/2, round it onto the edge; adaptive solvers get there too.)
    drive = jnp.concatenate([jnp.full(1000, 1.0), jnp.full(1000, -1.0)])
    dt, x0, n = 1.75e-5, 0.3, 1000
    fraction = LinearIonDrift(mu_v=1e-12)
    logit = LinearIonDrift(mu_v=1e-12, coordinate="logit")
    stuck = np.asarray(_euler_states(fraction, jnp.asarray(x0), drive, dt))
    assert stuck[n - 1] == 1.0 and stuck[-1] == 1.0  # rounded onto the edge, where the window is 0: stuck

    s = np.asarray(_euler_states(logit, logit.state_from_fraction(x0), drive, dt))
    assert float(logit.fraction(s[n - 1])) == 1.0 and s[n - 1] > 100  # x rounds as well, but s remembers
    x = np.asarray(logit.fraction(s))
    assert 0.2 < x[-1] < 0.4  # back near where it started
    # Against the exact solution in the charge: q from the run's own currents (Euler's rectangle rule).
    s_prev = np.concatenate([[float(logit.state_from_fraction(x0))], s[:-1]])
    q = np.cumsum(np.asarray(logit.current(s_prev, drive)) * dt)
    k = 1e-12 * 100.0 / (10e-9) ** 2
    exact = np.asarray(logit.state_from_fraction(x0)) + 4 * k * q
    np.testing.assert_allclose(s, exact, rtol=1e-9, atol=1e-9)


def test_logit_coordinate_needs_the_joglekar_window():
    with pytest.raises(ValueError, match="coordinate='logit' needs window='joglekar'"):
        LinearIonDrift(window="biolek", coordinate="logit")
    with pytest.raises(ValueError, match="coordinate"):
        LinearIonDrift(coordinate="log")
    model = LinearIonDrift(coordinate="logit")
    np.testing.assert_allclose(model.fraction(model.state_from_fraction(0.3)), 0.3, rtol=1e-15)
    # Same device, other coordinate: the same current, and ds/dt = (dx/dt) / (x (1 - x)).
    plain = LinearIonDrift()
    s = model.state_from_fraction(0.3)
    np.testing.assert_allclose(model.current(s, 0.7), plain.current(0.3, 0.7), rtol=1e-15)
    np.testing.assert_allclose(model.state_derivative(s, 0.7), plain.state_derivative(0.3, 0.7) / 0.21, rtol=1e-12)
