"""ReSuMe (memsnn.plasticity.ReSuMe): the rule's change in closed form, clear errors, learning."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn.arrays import PlasticDense
from memsnn.plasticity import ReSuMe, schreiber_correlation
from memsnn.plasticity.resume import check_target_times, target_trains
from memsnn.training.resume import learn_target_trains

DT = 1e-3


def _layer(rule, w0):
    return memsnn.Layer(PlasticDense(jnp.asarray(w0), w_min=-5.0, w_max=5.0), None,
                        memsnn.LIF(tau=10e-3, resistance=10e-3, threshold=1.0, reset="zero"), plasticity=rule)


def test_desired_spike_without_output_potentiates_by_a_plus_trace():
    """Input 0 spikes at step 10 (weight 0: the neuron stays silent), a desired spike in step 30:
    dw_0 = eta (a + A (1 - h/tau)^20), dw_1 = eta a (input 1 never spiked)."""
    eta, a, amp, tau = 0.1, 0.02, 1.0, 5e-3
    rule = ReSuMe(2, [[0.0305]], dt=DT, learning_rate=eta, a=a, amplitude=amp, tau=tau)
    s = np.zeros((1, 40, 2))
    s[0, 10, 0] = 1.0
    trace = memsnn.simulate(memsnn.Network([_layer(rule, [[0.0, 0.0]])]), memsnn.Impulses(jnp.asarray(s)), dt=DT,
                            n_steps=40, record=("spikes",))
    assert float(np.asarray(trace.spikes[0]).sum()) == 0.0
    dw = np.asarray(trace.final_state[0].array[0, 0])
    np.testing.assert_allclose(dw, [eta * (a + amp * (1 - DT / tau) ** 20), eta * a], rtol=1e-9)


def test_output_spike_at_the_desired_time_changes_nothing():
    rule = ReSuMe(1, [[0.011]], dt=DT, learning_rate=0.1, a=0.05)
    s = np.zeros((1, 20, 1))
    s[0, 10, 0] = 1.0  # weight 2: the neuron fires in the step of the input (11 ms)
    trace = memsnn.simulate(memsnn.Network([_layer(rule, [[2.0]])]), memsnn.Impulses(jnp.asarray(s)), dt=DT,
                            n_steps=20, record=("spikes",))
    assert np.asarray(trace.spikes[0][0, :, 0]).nonzero()[0].tolist() == [10]
    np.testing.assert_array_equal(np.asarray(trace.final_state[0].array), [[[2.0]]])


def test_bad_targets_are_refused():
    with pytest.raises(ValueError, match="empty target train"):
        ReSuMe(2, [[np.inf, np.inf]], dt=DT)
    with pytest.raises(ValueError, match="beyond the end of the run"):
        check_target_times([[0.05, 0.3]], run=0.2)
    with pytest.raises(ValueError, match="one target train per neuron"):
        memsnn.Network([_layer(ReSuMe(2, [[0.01]], dt=DT), np.zeros((2, 2)))]).init_state()


def test_schreiber_correlation():
    a = np.zeros(200)
    a[[50, 120]] = 1
    assert float(schreiber_correlation(a, a, dt=DT)) == pytest.approx(1.0)
    b = np.roll(a, 2)  # 2 ms later, sigma 2 ms: exp(-d^2 / (4 sigma^2))
    assert float(schreiber_correlation(a, b, dt=DT)) == pytest.approx(np.exp(-4 / 16), rel=1e-3)
    assert float(schreiber_correlation(a, np.zeros(200), dt=DT)) == 0.0


def test_learns_a_target_train():
    dt, n_steps, n_in = 0.5e-3, 200, 100
    rng = np.random.default_rng(0)
    spikes = (rng.random((1, n_steps, n_in)) < 20 * dt).astype(float)
    targets = [[0.02, 0.05, 0.08]]
    layer = _layer(ReSuMe(n_in, targets, dt=dt, learning_rate=0.005, a=0.05), rng.uniform(0, 0.1, (1, n_in)))
    _, history = learn_target_trains(layer, memsnn.Impulses(jnp.asarray(spikes)), dt=dt, n_steps=n_steps, epochs=80,
                                     stop_at=0.9)
    assert history[0][0] < 0.5 and max(h[0] for h in history) >= 0.9, history
    assert target_trains(targets, n_steps, dt).sum() == 3


def test_rule_and_measure_place_desired_spikes_in_the_same_steps():
    """Times on grid points (0.07 s = 350 steps of 0.2 ms) belong to the step that ends there, in the
    rule (its float32 clock, as the solver integrates it) and in the measured trains alike."""
    dt, n_steps = 0.2e-3, 1000
    rule = ReSuMe(1, [[0.03, 0.07, 0.10, 0.14, 0.18, 0.1231]], dt=dt)
    clock, steps = jnp.zeros((), jnp.float32), []
    for k in range(n_steps):
        clock = clock + jnp.float32(dt)
        steps += [k] * int(rule.desired(clock)[0])
    assert steps == [149, 349, 499, 615, 699, 899]
    assert np.flatnonzero(rule.desired_trains(n_steps)[0]).tolist() == steps
    np.testing.assert_array_equal(target_trains([[0.03, 0.07, 0.10, 0.14, 0.18, 0.1231]], n_steps, dt), rule.desired_trains(n_steps))
    layer = _layer(ReSuMe(1, [[0.01]], dt=1e-3), np.zeros((1, 1)))
    with pytest.raises(ValueError, match="the run's dt"):
        learn_target_trains(layer, memsnn.Impulses(jnp.zeros((1, 20, 1))), dt=0.5e-3, n_steps=20, epochs=1)
