"""Exact spike times in fixed-step runs (docs/spike-times.md): closed forms, gradients against
finite differences of the simulated spike time, non-firing neurons, errors."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn import presets as P
from memsnn.arrays import Dense, Identity
from memsnn.neurons import ConductanceLIF
from memsnn.synapses import ExponentialSynapse

TAU, THETA = 20e-3, 1.0


def _lif_step_run(current, solver, dt, n_steps, record=("spike_times",)):
    net = memsnn.Network([memsnn.Layer(Identity(current.shape[-1]), None, memsnn.LIF(tau=TAU, threshold=THETA))])
    return memsnn.simulate(net, memsnn.Current(current), dt=dt, n_steps=n_steps, solver=solver,
                           spike_timing="exact", record=record)


def test_lif_current_step_closed_form():
    """LIF from rest under a current step: v = R I (1 - exp(-t/tau)), t* = -tau ln(1 - theta / (R I)).
    Compared: the simulated first spike time with fixed-step Tsit5 (h = 0.1 ms = tau/200) and its
    cubic Hermite crossing, to 1e-9 s, and with adaptive Tsit5 on a 1 ms grid, to 1e-9 s; explicit
    Euler's linear crossing converges at first order.
    After a reset by subtraction the second spike comes at 2 t* up to the O(lag^2) of the reset
    placed at the crossing to first order in the lag (lag <= h: 1e-7 s here)."""
    current = jnp.array([[1.5, 2.0, 0.9]])
    exact = -TAU * np.log(1 - THETA / np.array([1.5, 2.0]))
    trace = _lif_step_run(current, memsnn.Diffrax(diffrax.Tsit5()), 1e-4, 500)
    first = np.asarray(trace.first_spike_times()[0])
    np.testing.assert_allclose(first[:2], exact, rtol=0, atol=1e-9)
    assert first[2] == pytest.approx(500 * 1e-4)  # below threshold for ever: the end of the run
    spikes = np.asarray(trace.spike_time_list(max_spikes=2)[0])
    np.testing.assert_allclose(spikes[0], [exact[0], 2 * exact[0]], atol=1e-7)
    assert np.all(np.isinf(spikes[2]))
    errors = [abs(float(_lif_step_run(current[:, :1], memsnn.Euler(), dt, int(0.03 / dt)).first_spike_times()[0, 0])
                  - exact[0]) for dt in (1e-4, 1e-5)]
    assert 8 < errors[0] / errors[1] < 12  # first order
    # Adaptive Tsit5 on a coarse grid (1 ms = tau / 20): the Hermite crossing between grid points.
    adaptive = memsnn.Diffrax(diffrax.Tsit5(), diffrax.PIDController(rtol=1e-8, atol=1e-10))
    first = np.asarray(_lif_step_run(current[:, :2], adaptive, 1e-3, 40).first_spike_times()[0])
    np.testing.assert_allclose(first, exact, rtol=0, atol=1e-9)


def _fd_check(f, x, eps, rtol=1e-5, entries=3, groups=None):
    """jax.grad of ``f`` against central differences at the ``entries`` largest gradient entries
    (of each of ``groups``, index arrays into ``x.ravel()``); the gradient and every value from one
    compiled ``value_and_grad`` (:func:`_fd_check_with`). ``f`` returns ``(value, aux)``; the aux at
    ``x`` is returned, from the same program (a forward run of its own would compile another)."""
    value_and_grad = jax.jit(jax.value_and_grad(f, has_aux=True))
    (_, aux), _ = value_and_grad(x)

    def plain(x):
        (value, _), grad = value_and_grad(x)
        return value, grad

    _fd_check_with(plain, x, eps, rtol, entries, groups)
    return aux


def _two_layer_lif(w1, w2):
    syn = ExponentialSynapse(5e-3)
    return memsnn.Network([memsnn.Layer(Dense(w1), syn, memsnn.LIF(tau=TAU, threshold=THETA, reset="zero")),
                           memsnn.Layer(Dense(w2), syn, memsnn.LIF(tau=TAU, threshold=THETA, reset="zero"))])


def _input_spikes(n_steps, steps, n_in):
    amp = jnp.zeros((1, n_steps, n_in))
    for j, k in enumerate(steps):
        amp = amp.at[0, k, j].set(1.0)
    return memsnn.Impulses(amp)


def test_lif_spike_time_gradients_through_two_layers_match_finite_differences():
    """float64: d(output first spike times)/d(both layers' weights), through the hidden spikes' times
    (their lags move the impulses they send), against central differences of the simulated times."""
    w1 = jnp.array([[2.2, 1.1, 0.3], [0.4, 1.9, 1.6]]) * 3.0
    w2 = jnp.array([[2.5, 1.4], [0.8, 2.9]]) * 3.5
    stim = _input_spikes(120, (3, 10, 17), 3)

    def out_times(w1, w2):
        trace = memsnn.simulate(_two_layer_lif(w1, w2), stim, dt=5e-4, n_steps=120, spike_timing="exact",
                                record=("spike_times",))
        return trace.first_spike_times(-1)[0], trace.first_spike_times(0)[0]

    weights = jnp.array([0.3, 0.7])
    n1 = w1.size

    def weighted(x):  # both layers' weights as one vector: one compiled gradient for both
        t_out, t_hidden = out_times(x[:n1].reshape(w1.shape), x[n1:].reshape(w2.shape))
        return weights @ t_out, (t_out, t_hidden)

    x = jnp.concatenate([w1.ravel(), w2.ravel()])
    t_out, t_hidden = _fd_check(weighted, x, 1e-6, groups=[np.arange(n1), np.arange(n1, x.size)])
    assert np.all(np.asarray(t_out) < 120 * 5e-4) and np.all(np.asarray(t_hidden) < 120 * 5e-4)


def test_conductance_lif_spike_time_gradient_matches_finite_differences():
    neuron = ConductanceLIF(theta_init=0.0, v_threshold=-55e-3, refractory=2e-3)
    stim = _input_spikes(80, (2, 9), 2)

    def t_first(w):
        net = memsnn.Network([memsnn.Layer(Dense(w), None, neuron)])
        return memsnn.simulate(net, stim, dt=2.5e-4, n_steps=80, spike_timing="exact",
                               record=("spike_times",)).first_spike_times()[0]

    w = jnp.array([[20.0, 18.0], [30.0, 5.0]])
    t = _fd_check(lambda w: (jnp.sum(t := t_first(w)), t), w, 1e-7)
    assert np.all(np.asarray(t) < 80 * 2.5e-4)


def test_mif_spike_time_gradient_matches_finite_differences():
    """The MIF's spike: the membrane's upward crossing of its 30 mV spike threshold (SPICEprop preset,
    alpha synapses, explicit Euler at 10 us); gradients with respect to the input weights and the
    memristors' on-switching voltage."""
    stim = memsnn.Impulses(jnp.array([[[1.0, 0.6]]]), steps=(0,))

    def t_first(w, v_on=None):
        layer = P.spiceprop_layer(weight=w)
        if v_on is not None:
            layer = jax.tree_util.tree_map(lambda x: x, layer)
            import equinox as eqx
            layer = eqx.tree_at(lambda l: l.neuron.memristor1.v_on, layer, v_on)
        net = memsnn.Network([layer])
        return memsnn.simulate(net, stim, dt=P.SPICEPROP_DT, n_steps=150, spike_timing="exact",
                               record=("spike_times",)).first_spike_times()[0]

    w = jnp.array([[0.005, 0.002], [0.003, 0.004]]) * P.MILLIAMP
    t = _fd_check(lambda w: (jnp.sum(t := t_first(w)), t), w, 1e-9 * P.MILLIAMP)
    assert np.all(np.asarray(t) < 150 * P.SPICEPROP_DT)


def test_non_firing_neuron_has_defined_time_and_zero_gradient():
    def t_first(i):
        return _lif_step_run(i, memsnn.Euler(), 1e-4, 100).first_spike_times()[0]

    current = jnp.array([[0.5, 3.0]])
    # The times and their Jacobian from one compiled program (eagerly, every operation of the
    # linearisation outside simulate compiles on its own).
    grad, t = jax.jit(jax.jacobian(lambda i: (t := t_first(i), t), has_aux=True))(current)
    assert float(t[0]) == pytest.approx(100 * 1e-4)
    assert np.all(np.isfinite(np.asarray(grad))) and float(grad[0, 0, 0]) == 0.0 and float(grad[1, 0, 1]) < 0


def test_exact_timing_without_spikes_leaves_the_run_unchanged():
    """Below threshold, spike_timing='exact' runs the same numbers as the grid run."""
    net = _two_layer_lif(jnp.full((2, 3), 0.1), jnp.full((2, 2), 0.1))
    stim = _input_spikes(40, (3, 10, 17), 3)
    grid = memsnn.simulate(net, stim, dt=5e-4, n_steps=40)
    exact = memsnn.simulate(net, stim, dt=5e-4, n_steps=40, spike_timing="exact")
    # Equal to rounding: the two programs compile to different operation orders (bit-equal under
    # XLA's full optimisation, up to 1 ulp apart with the test suite's optimisations off).
    for a, b in zip(grid.membrane_potential, exact.membrane_potential):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-14, atol=0)


def test_spike_time_errors():
    net = _two_layer_lif(jnp.ones((2, 3)), jnp.ones((2, 2)))
    stim = _input_spikes(20, (3,), 3)
    with pytest.raises(ValueError, match="spike_timing='exact'"):
        memsnn.simulate(net, stim, dt=1e-3, n_steps=20, record=("spike_times",))
    with pytest.raises(ValueError, match="layerwise"):
        memsnn.simulate(net, stim, dt=1e-3, n_steps=20, spike_timing="exact", layerwise=True)
    with pytest.raises(ValueError, match="spike_timing must be"):
        memsnn.simulate(net, stim, dt=1e-3, n_steps=20, spike_timing="event")
    with pytest.raises(ValueError, match="were not recorded"):
        memsnn.simulate(net, stim, dt=1e-3, n_steps=20).first_spike_times()
    with pytest.raises(TypeError, match="has no firing threshold"):
        memsnn.simulate(memsnn.Network([memsnn.Layer(Identity(3), None, _Leak())]), stim, dt=1e-3, n_steps=20,
                        spike_timing="exact")


class _Leak(memsnn.neurons.AbstractNeuron):
    """A leaky membrane without a threshold (no spike times)."""

    def init_state(self, n, *, key=None):
        return jnp.zeros((n,))

    def vector_field(self, t, state, current):
        return current - state

    def membrane_potential(self, state):
        return state

    def spikes(self, state):
        return jnp.zeros_like(state)

    def on_impulse(self, state, charge):
        return state + charge

    def decay_rate(self, state, current):
        return jnp.ones_like(state)


# Adaptive diffrax runs that stop at each threshold crossing (Diffrax(..., events=True)).

def _events(rtol=1e-10, atol=1e-12, solver=None, **options):
    return memsnn.Diffrax(diffrax.Tsit5() if solver is None else solver,
                          diffrax.PIDController(rtol=rtol, atol=atol), events=True, **options)


def _fd_check_with(value_and_grad, x, eps, rtol=1e-5, entries=2, groups=None):
    """:func:`_fd_check` from one compiled ``value_and_grad`` (its values give the differences)."""
    value, grad = value_and_grad(x)
    grad, flat = np.asarray(grad).ravel(), np.asarray(x).ravel()
    picks = [i for g in ([np.arange(grad.size)] if groups is None else groups)
             for i in g[np.argsort(-np.abs(grad[g]))[:entries]]]
    for i in picks:
        up = value_and_grad(jnp.asarray(flat.copy()).at[i].add(eps).reshape(x.shape))[0]
        down = value_and_grad(jnp.asarray(flat.copy()).at[i].add(-eps).reshape(x.shape))[0]
        fd = (float(up) - float(down)) / (2 * eps)
        assert abs(grad[i] - fd) <= rtol * abs(fd), (i, grad[i], fd)
    assert np.any(grad != 0)
    return value


def test_adaptive_events_lif_closed_form_resets_at_the_crossing():
    """LIF under a current step on a coarse 30 ms grid: the solve stops at each crossing and resets
    there, so the k-th spike is at k t* (t* = -tau ln(1 - theta/(R I))) to 1e-9 s, two spikes in one
    grid step are both counted (the step's first time recorded), and dt*/dI is the closed form
    -tau theta / (I^2 (1 - theta/I)) of the implicit function theorem."""
    current = jnp.array([[1.5, 2.0, 0.9]])
    t_star = -TAU * np.log(1 - THETA / np.array([1.5, 2.0]))

    def third_spike(i):
        trace = _lif_step_run(i, _events(), 30e-3, 2, record=("spike_times", "spikes"))
        return trace.spike_times[0][0, 1, 1], trace

    # Compiled whole (eagerly, the linearisation's operations outside simulate compile one by one).
    (_, trace), grad = jax.jit(jax.value_and_grad(third_spike, has_aux=True))(current)
    times = np.asarray(trace.spike_times[0][0])
    np.testing.assert_allclose(times[:, :2], [[t_star[0], t_star[1]], [2 * t_star[0], 3 * t_star[1]]],
                               rtol=0, atol=1e-9)
    assert np.all(np.isinf(times[:, 2]))
    np.testing.assert_array_equal(np.asarray(trace.spikes[0][0]), [[1, 2, 0], [1, 2, 0]])
    i = np.array([1.5, 2.0])
    closed = -TAU * THETA / (i ** 2 * (1 - THETA / i))
    np.testing.assert_allclose(float(grad[0, 1]), 3 * closed[1], rtol=1e-7)
    # The other neurons act only through the shared adaptive step sizes: rounding-level terms.
    assert abs(float(grad[0, 0])) < 1e-8 and float(grad[0, 2]) == 0.0


def test_adaptive_events_two_layer_lif_gradient_matches_finite_differences():
    """Hidden spikes reach the output layer at their crossing times; d(output time)/d(hidden
    weights) goes through the hidden event times (float64, central differences, rel 1e-5)."""
    w1 = jnp.array([[2.2, 1.1, 0.3], [0.4, 1.9, 1.6]]) * 3.0
    w2 = jnp.array([[2.5, 1.4]]) * 3.5
    stim = _input_spikes(30, (3, 6, 9), 3)

    def t_out(w1):
        net = _two_layer_lif(w1, w2)
        return memsnn.simulate(net, stim, dt=1e-3, n_steps=30, spike_timing="exact", solver=_events(),
                               record=("spike_times",)).first_spike_times()[0, 0]

    assert float(_fd_check_with(jax.jit(jax.value_and_grad(t_out)), w1, 1e-6)) < 30e-3


def test_adaptive_events_mif_gradient_matches_finite_differences():
    """The MIF (no reset, SPICEprop preset) with events: d t*/d w against central differences; each
    neuron, above threshold after its spike, does not fire again."""
    stim = memsnn.Impulses(jnp.array([[[1.0, 0.6]]]), steps=(0,))
    solver = _events(1e-8, 1e-10)

    def t_sum(w):
        trace = memsnn.simulate(memsnn.Network([P.spiceprop_layer(weight=w)]), stim, dt=1e-4, n_steps=15,
                                solver=solver, spike_timing="exact", record=("spike_times", "spikes"))
        return jnp.sum(trace.first_spike_times()[0]), jnp.sum(trace.spikes[0])

    w = jnp.array([[0.005, 0.002], [0.003, 0.004]]) * P.MILLIAMP
    vg = jax.jit(jax.value_and_grad(t_sum, has_aux=True))
    (total, n_spikes), _ = vg(w)
    assert float(total) < 2 * 15e-4 and float(n_spikes) == 2

    def value_and_grad(w):
        (value, _), grad = vg(w)
        return value, grad

    _fd_check_with(value_and_grad, w, 1e-9 * P.MILLIAMP)


def test_adaptive_events_errors():
    with pytest.raises(ValueError, match="adaptive step-size controller"):
        memsnn.Diffrax(diffrax.Tsit5(), events=True)
    with pytest.raises(ValueError, match="only with events=True"):
        memsnn.Diffrax(diffrax.Tsit5(), diffrax.PIDController(rtol=1e-6, atol=1e-8),
                       event_root_finder=memsnn.integrators.BracketedNewton(rtol=0.0, atol=1e-12))
    current = memsnn.Current(jnp.array([[2.0]]))
    net = memsnn.Network([memsnn.Layer(Identity(1), None, memsnn.LIF(tau=TAU, threshold=THETA))])
    with pytest.raises(ValueError, match="needs spike_timing='exact'"):
        memsnn.simulate(net, current, dt=1e-3, n_steps=5, solver=_events())
    from memsnn.arrays import DelayedDense, Recurrent
    delayed = memsnn.Network([memsnn.Layer(DelayedDense(jnp.ones((1, 1)), jnp.zeros((1, 1)), dt=1e-3, max_delay=2e-3),
                                           None, memsnn.LIF(tau=TAU, threshold=THETA))])
    with pytest.raises(ValueError, match="delays spikes .Impulses., not a Current"):
        memsnn.simulate(delayed, current, dt=1e-3, n_steps=5, solver=_events(), spike_timing="exact")
    recurrent = memsnn.Network([memsnn.Layer(Recurrent(Identity(1), jnp.ones((1, 1)), delay=1e-3), None,
                                             memsnn.LIF(tau=TAU, threshold=THETA))])
    with pytest.raises(ValueError, match="delay= is for event runs"):
        memsnn.simulate(recurrent, current, dt=1e-3, n_steps=5, spike_timing="exact")
    with pytest.raises(ValueError, match=">= 0 seconds"):
        Recurrent(Identity(1), jnp.ones((1, 1)), delay=-1e-3)
    # Two crossings in one 30 ms step with room for one.
    with pytest.raises(Exception, match="max_events=1"):
        memsnn.simulate(net, current, dt=30e-3, n_steps=1, solver=_events(max_events=1), spike_timing="exact")


def test_adaptive_events_delays_and_recurrence_arrive_at_the_spike_time_plus_the_delay():
    """Event runs with a delayed input array inside a recurrent array (one compiled run): neuron A,
    driven through a delay d_in, fires d_in later than without it (to 1e-11 s); neuron B, driven
    only by A's spike through a recurrent delay d_rec, fires d_rec later as d_rec grows; their
    gradients with respect to the delays are 1 (the arrival stops the solve at t* + d, between grid
    points), and d t_B / d w_rec matches central differences (float64, rel 1e-5). A train that keeps
    more than max_pending spikes in flight is an error that names max_pending."""
    from memsnn.arrays import DelayedDense, Recurrent

    solver = _events()

    def times(p, amp):
        d_in, d_rec, w_rec = p[0], p[1], p[2]
        array = DelayedDense(jnp.array([[14.0], [0.0]]), jnp.stack([d_in, 0.0])[:, None], dt=1e-3, max_delay=4e-3,
                             max_pending=2)
        rec = Recurrent(array, jnp.array([[0.0, 0.0], [1.0, 0.0]]) * w_rec, delay=d_rec)
        net = memsnn.Network([memsnn.Layer(rec, ExponentialSynapse(5e-3), memsnn.LIF(tau=TAU, threshold=THETA,
                                                                                      reset="zero"))])
        trace = memsnn.simulate(net, memsnn.Impulses(amp), dt=1e-3, n_steps=25, solver=solver, spike_timing="exact",
                                record=("spike_times",))
        return trace.first_spike_times()[0]

    def total(p, amp):
        t = times(p, amp)
        return jnp.sum(t), t

    vg = jax.jit(jax.value_and_grad(total, has_aux=True))
    one = jnp.zeros((1, 25, 1)).at[0, 1, 0].set(1.0)
    p = jnp.array([1.3e-3, 2.6e-3, 15.0])
    (_, t), grad = vg(p, one)
    t = np.asarray(t)
    t_no_in = np.asarray(vg(p.at[0].set(0.0), one)[0][1])
    t_more_rec = np.asarray(vg(p.at[1].add(0.7e-3), one)[0][1])
    assert 2e-3 < t[0] < t[1] < 25e-3
    np.testing.assert_allclose(t - t_no_in, [1.3e-3, 1.3e-3], rtol=0, atol=1e-11)
    np.testing.assert_allclose(t_more_rec - t, [0.0, 0.7e-3], rtol=0, atol=1e-11)
    np.testing.assert_allclose(np.asarray(grad[:2]), [2.0, 1.0], rtol=1e-7)
    eps = 1e-6
    fd = (float(vg(p.at[2].add(eps), one)[0][0]) - float(vg(p.at[2].add(-eps), one)[0][0])) / (2 * eps)
    assert abs(float(grad[2]) - fd) <= 1e-5 * abs(fd) and fd < 0
    # An input spike every step through a 3.5 ms delay: three in flight at once, with room for two.
    with pytest.raises(Exception, match="DelayedDense: more than max_pending=2"):
        jax.block_until_ready(vg(p.at[0].set(3.5e-3), jnp.ones((1, 25, 1))))


def test_dense_bias_arrives_at_the_grid_point_with_exact_timing():
    """A Dense array's bias (added at every input event) arrives at the event's grid point: with
    exact timing only the weighted impulses carry their lags. The same run with the bias as a third
    input that spikes at every grid point (lag 0) is the reference; before the fix the lag read
    added the bias a second time, as if it had arrived ``1 s`` early."""
    n_steps, dt = 40, 1e-3
    w = jnp.array([[2.0, 1.5], [1.0, 3.0]]) * 6.0
    b = jnp.array([0.3, -0.2])
    amp = jnp.zeros((1, n_steps, 2)).at[0, 3, 0].set(1.0).at[0, 7, 1].set(1.0)
    lag = jnp.zeros((1, n_steps, 2)).at[0, 3, 0].set(0.3 * dt).at[0, 7, 1].set(0.6 * dt)
    syn, lif = ExponentialSynapse(5e-3), memsnn.LIF(tau=TAU, threshold=THETA, reset="zero")
    record = ("membrane_potential", "spike_times")

    def run(array, amp, lag):
        net = memsnn.Network([memsnn.Layer(array, syn, lif)])
        return memsnn.simulate(net, memsnn.Impulses(amp, lag=lag), dt=dt, n_steps=n_steps, solver=memsnn.Euler(),
                               spike_timing="exact", record=record)

    biased = run(Dense(w, b), amp, lag)
    reference = run(Dense(jnp.concatenate([w, b[:, None]], axis=1)), jnp.concatenate([amp, jnp.ones((1, n_steps, 1))], -1),
                    jnp.concatenate([lag, jnp.zeros((1, n_steps, 1))], -1))
    np.testing.assert_allclose(np.asarray(biased.membrane_potential[0]), np.asarray(reference.membrane_potential[0]),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.asarray(biased.first_spike_times()), np.asarray(reference.first_spike_times()),
                               rtol=1e-12)
    assert np.asarray(biased.first_spike_times())[0, 0] < n_steps * dt  # the check covers a spike
