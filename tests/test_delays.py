"""Synaptic delays and recurrence as arrays (docs/spike-times.md): delay lines, terminals, exact
arrival times and their gradients, errors; a layer reading its own previous spikes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn.arrays import Dense, DelayedDense, Recurrent
from memsnn.neurons import IF, LIF
from memsnn.synapses import ExponentialSynapse

DT = 1e-3


def _spike_train(n_steps, events, n_in):
    amp = jnp.zeros((1, n_steps, n_in))
    for step, j in events:
        amp = amp.at[0, step, j].set(1.0)
    return memsnn.Impulses(amp)


def _integrator(array):
    """An IF membrane that sums the charge it receives (no threshold reached, no reset)."""
    return memsnn.Network([memsnn.Layer(array, None, IF(capacitance=1.0, threshold=1e9, reset="none"))])


def test_continuous_delay_splits_the_impulse_between_neighbouring_taps():
    # d = 3.4 steps: 0.6 of the impulse of step 2 arrives at step 5, 0.4 at step 6.
    array = DelayedDense(jnp.ones((1, 1)), 3.4 * DT, dt=DT)
    v = memsnn.simulate(_integrator(array), _spike_train(10, [(2, 0)], 1), dt=DT, n_steps=10).membrane_potential[0]
    np.testing.assert_allclose(np.asarray(v[0, :, 0]), [0, 0, 0, 0, 0, 0.6, 1.0, 1.0, 1.0, 1.0], atol=1e-12)
    # Sparse impulses (steps=...) give the same: the delay line moves at every step.
    sparse = memsnn.Impulses(jnp.ones((1, 1, 1)), steps=(2,))
    v2 = memsnn.simulate(_integrator(array), sparse, dt=DT, n_steps=10).membrane_potential[0]
    np.testing.assert_allclose(np.asarray(v2), np.asarray(v), atol=1e-12)
    # d/d delay is defined: moving the delay moves charge from tap 3 to tap 4.
    grad = jax.jit(jax.grad(lambda d: memsnn.simulate(_integrator(DelayedDense(jnp.ones((1, 1)), d, dt=DT,
                                                                                max_delay=5 * DT)),
                                                      _spike_train(10, [(2, 0)], 1), dt=DT, n_steps=10)
                            .membrane_potential[0][0, 5, 0]))(3.4 * DT)
    assert float(grad) == pytest.approx(-1 / DT)


def test_terminals_are_one_array():
    w = jnp.array([[[0.5, 0.25]], [[1.0, 2.0]]])       # (n_out 2, n_in 1, k 2)
    d = jnp.array([[[1.0, 3.0]], [[0.0, 2.5]]]) * DT
    stim = _spike_train(10, [(1, 0)], 1)
    both = memsnn.simulate(_integrator(DelayedDense(w, d, dt=DT)), stim, dt=DT, n_steps=10).membrane_potential[0]
    parts = sum(memsnn.simulate(_integrator(DelayedDense(w[..., j], d[..., j], dt=DT, max_delay=3 * DT)), stim, dt=DT,
                                n_steps=10).membrane_potential[0] for j in range(2))
    np.testing.assert_allclose(np.asarray(both), np.asarray(parts), atol=1e-12)


def _delayed_lif_time(delay, dt=DT, w=jnp.array([[12.0, 9.0]])):
    syn = ExponentialSynapse(5e-3)
    net = memsnn.Network([memsnn.Layer(DelayedDense(w, delay, dt=dt, max_delay=20 * DT), syn,
                                       LIF(tau=20e-3, threshold=1.0))])
    per = round(DT / dt)
    stim = _spike_train(40 * per, [(per - 1, 0), (3 * per - 1, 1)], 2)  # spikes at 1 ms and 3 ms
    return memsnn.simulate(net, stim, dt=dt, n_steps=40 * per, spike_timing="exact",
                           record=("spike_times",)).first_spike_times()[0, 0]


def test_exact_delays_shift_spike_times_and_have_gradients():
    """Exact timing: delaying both inputs by D delays the output spike by D, up to the discretisation
    error, which depends on where the events fall inside their steps (Euler's and the first-order
    lag correction's; here < 5 % of a step, and smaller at h / 2), and d t_out / d delay matches
    finite differences of the simulated spike time (float64)."""
    base = jnp.array([[2.3, 4.6]]) * DT
    shift = 1.7 * DT
    # On the grid of DT one compiled value_and_grad gives every spike time and the gradient.
    value_and_grad = jax.jit(jax.value_and_grad(_delayed_lif_time))
    errors = [abs(float(value_and_grad(base + shift)[0]) - float(value_and_grad(base)[0]) - shift),
              abs(float(_delayed_lif_time(base + shift, DT / 2)) - float(_delayed_lif_time(base, DT / 2)) - shift)]
    assert errors[0] < 0.05 * DT and errors[1] < errors[0] / 2, errors
    grad = np.asarray(value_and_grad(base)[1])
    eps = 1e-7
    for j in range(2):
        up, down = value_and_grad(base.at[0, j].add(eps))[0], value_and_grad(base.at[0, j].add(-eps))[0]
        fd = (float(up) - float(down)) / (2 * eps)
        assert abs(grad[0, j] - fd) <= 1e-5 * abs(fd), (j, grad[0, j], fd)
    assert grad.sum() == pytest.approx(1.0, abs=0.2)  # the continuous value is 1; h = tau_s / 5 here


def _two_layer_times(weights, delays):
    """First spike times ``(B, 2)`` of a 3 -> 4 -> 2 network of LIFs whose connections have 3 delayed
    terminals, driven by off-grid input spikes (exact timing)."""
    from memsnn.data.encoders import spike_time_impulses

    dt = 0.25e-3
    layers = [memsnn.Layer(DelayedDense(w, d, dt=dt, max_delay=5e-3), ExponentialSynapse(4e-3),
                           LIF(tau=4e-3, resistance=np.e, threshold=1.0, v_reset=-100.0, reset="zero"))
              for w, d in zip(weights, delays)]
    times = jnp.array([[0.3e-3, 1.1e-3, 2.45e-3], [0.9e-3, 0.05e-3, 1.7e-3]])
    trace = memsnn.simulate(memsnn.Network(layers), spike_time_impulses(times, dt=dt, n_steps=120), dt=dt,
                            n_steps=120, spike_timing="exact", record=("spike_times",))
    return trace.first_spike_times(1)


def test_shared_delays_stay_shared_and_agree_with_per_connection_delays():
    """A delay shared by all connections (terminal delays ``(k,)``, SpikeProp's fixed ones) is kept in
    its broadcastable shape, so the delay line is read once per input and terminal, not once per
    connection; spike times and weight gradients equal those of the same delays given per connection."""
    keys = jax.random.split(jax.random.key(0), 2)
    weights = (jax.random.uniform(keys[0], (4, 3, 3), minval=0.1, maxval=0.9),
               jax.random.uniform(keys[1], (2, 4, 3), minval=0.2, maxval=1.2))
    shared = jnp.array([0.4e-3, 1.3e-3, 3.1e-3])  # off the 0.25 ms grid
    assert DelayedDense(weights[0], shared, dt=0.25e-3).delay.shape == (1, 1, 3)
    full = tuple(jnp.broadcast_to(shared, w.shape) for w in weights)

    def times_and_grad(delays):
        # The spike times and their weight gradient from one compiled program per delay layout.
        def total(w):
            t = _two_layer_times(w, delays)
            return jnp.sum(t), t

        (_, t), g = jax.jit(jax.value_and_grad(total, has_aux=True))(weights)
        return t, g

    t_shared, g_shared = times_and_grad((shared, shared))
    t_full, g_full = times_and_grad(full)
    assert bool(jnp.all(t_shared < 120 * 0.25e-3))  # the outputs fire
    np.testing.assert_allclose(np.asarray(t_shared), np.asarray(t_full), rtol=1e-12)
    for a, b in zip(g_shared, g_full):
        assert float(jnp.max(jnp.abs(a))) > 0
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-15)


def test_delay_errors():
    with pytest.raises(ValueError, match=">= 0"):
        DelayedDense(jnp.ones((1, 1)), -1e-3, dt=DT)
    with pytest.raises(ValueError, match="does not broadcast"):
        DelayedDense(jnp.ones((2, 3, 4)), jnp.ones(3) * DT, dt=DT)
    net = _integrator(DelayedDense(jnp.ones((1, 1)), 12 * DT, dt=DT))
    with pytest.raises(ValueError, match="longer than the run"):
        memsnn.simulate(net, _spike_train(10, [(0, 0)], 1), dt=DT, n_steps=10)
    with pytest.raises(ValueError, match="grid of dt"):
        memsnn.simulate(net, _spike_train(20, [(0, 0)], 1), dt=2 * DT, n_steps=20)


def test_recurrent_array_reads_the_layers_previous_spikes():
    # Zero recurrent weights: the same numbers as the feed-forward array alone.
    w = jnp.array([[0.6, 0.5], [0.3, 0.9]])
    stim = _spike_train(12, [(0, 0), (2, 1), (4, 0), (5, 1)], 2)
    neuron = IF(threshold=1.0, reset="zero")
    plain = memsnn.simulate(memsnn.Network([memsnn.Layer(Dense(w), None, neuron)]), stim, dt=DT, n_steps=12,
                            record=("spikes", "membrane_potential"))
    zero = memsnn.simulate(memsnn.Network([memsnn.Layer(Recurrent(Dense(w), jnp.zeros((2, 2))), None, neuron)]),
                           stim, dt=DT, n_steps=12, record=("spikes", "membrane_potential"))
    np.testing.assert_array_equal(np.asarray(plain.membrane_potential[0]), np.asarray(zero.membrane_potential[0]))
    # Self-excitation: a spike at step k lands as charge 0.7 at the end of step k + 1.
    rec = jnp.diag(jnp.array([0.7, 0.0]))
    net = memsnn.Network([memsnn.Layer(Recurrent(Dense(w), rec), None, neuron)])
    run = memsnn.simulate(net, stim, dt=DT, n_steps=12, record=("spikes", "membrane_potential"))
    first = int(np.argmax(np.asarray(run.spikes[0][0, :, 0])))
    base = np.asarray(plain.membrane_potential[0][0, first + 1, 0])
    assert float(run.membrane_potential[0][0, first + 1, 0]) == pytest.approx(base + 0.7)


def test_lateral_inhibition_is_a_recurrent_array():
    """Two LIF neurons driven alike, one slightly more: with lateral inhibition (Diehl & Cook's soft
    winner-take-all as W_rec = -w (1 - I)) only the stronger one keeps firing."""
    drive = memsnn.Impulses(jnp.ones((1, 100, 1)))  # an input spike at every step
    ff = Dense(jnp.array([[3.0], [2.9]]) * 1e-3)    # a charge of ~0.15 threshold per step
    lif = LIF(tau=20e-3, threshold=1.0, reset="zero")

    def counts(array):
        run = memsnn.simulate(memsnn.Network([memsnn.Layer(array, None, lif)]), drive, dt=DT, n_steps=100,
                              record=("spikes",))
        return np.asarray(run.spikes[0][0].sum(axis=0))

    free = counts(ff)
    wta = counts(Recurrent.lateral_inhibition(ff, 0.02))  # one spike takes a threshold off the others
    assert free[0] > 0 and free[1] > 0
    assert wta[0] > 0 and wta[1] == 0


def test_recurrent_spike_time_gradient_matches_finite_differences():
    """Exact timing through a recurrent connection: neuron 1 fires only through neuron 0's spikes."""
    syn = ExponentialSynapse(5e-3)
    stim = _spike_train(40, [(1, 0)], 1)

    def t_second(w_rec):
        rec = jnp.array([[0.0, 0.0], [1.0, 0.0]]) * w_rec
        net = memsnn.Network([memsnn.Layer(Recurrent(Dense(jnp.array([[14.0], [0.0]])), rec), syn,
                                           LIF(tau=20e-3, threshold=1.0, reset="zero"))])
        return memsnn.simulate(net, stim, dt=DT, n_steps=40, spike_timing="exact",
                               record=("spike_times",)).first_spike_times()[0, 1]

    w = 15.0
    value_and_grad = jax.jit(jax.value_and_grad(t_second))  # the times and the gradient: one program
    assert float(value_and_grad(w)[0]) < 40 * DT
    grad = float(value_and_grad(w)[1])
    fd = (float(value_and_grad(w + 1e-6)[0]) - float(value_and_grad(w - 1e-6)[0])) / 2e-6
    assert grad < 0 and abs(grad - fd) <= 1e-5 * abs(fd)


def test_feedback_from_a_later_layer_is_a_recurrent_array():
    """Layer 0 reads layer 1's spikes of the previous step (source=1): a spike of layer 1 at step k
    lands on layer 0 as charge at the end of step k + 1."""
    neuron = IF(threshold=1.0, reset="zero")
    stim = _spike_train(12, [(1, 0)], 1)
    feedback = Recurrent(Dense(jnp.array([[1.5]])), jnp.array([[0.4]]), source=1)
    net = memsnn.Network([memsnn.Layer(feedback, None, neuron), memsnn.Layer(Dense(jnp.array([[2.0]])), None, neuron)])
    run = memsnn.simulate(net, stim, dt=DT, n_steps=12, record=("spikes", "membrane_potential"))
    s0, s1 = np.asarray(run.spikes[0][0, :, 0]), np.asarray(run.spikes[1][0, :, 0])
    assert s0[1] == 1 and s1[1] == 1  # the input fires layer 0, which fires layer 1 at the same grid point
    v0 = np.asarray(run.membrane_potential[0][0, :, 0])
    assert v0[1] == 0.0 and v0[2] == pytest.approx(0.4) and v0[3] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="reads layer 3"):
        memsnn.simulate(memsnn.Network([memsnn.Layer(Recurrent(Dense(jnp.ones((1, 1))), jnp.ones((1, 1)), source=3),
                                                     None, neuron)]), stim, dt=DT, n_steps=12)
