"""R-STDP with a baseline (memsnn.plasticity.RewardSTDP(baseline_rate=...)): dw = gamma e (r - b)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn.arrays import PlasticDense
from memsnn.plasticity import RewardSTDP, set_reward

DT = 1e-3


def _layer(rule, w0=(0.1, 10.0)):
    return memsnn.Layer(PlasticDense(jnp.asarray([w0]), w_min=-5.0, w_max=5.0), None,
                        memsnn.LIF(tau=20e-3, resistance=20e-3, threshold=1.0, reset="zero"), plasticity=rule)


def _trains(pre_step, post_step, n):
    s = np.zeros((1, n, 2))
    s[0, pre_step, 0] = 1.0
    s[0, post_step, 1] = 1.0  # input 1 (weight 10) makes the neuron fire at once
    return memsnn.Impulses(jnp.asarray(s))


def _run(layer, stim, n, **kw):
    return memsnn.simulate(memsnn.Network([layer]), stim, dt=DT, n_steps=n, record=("spikes",), **kw)


def test_baseline_running_mean_and_modulator():
    """Three deliveries 1, 0, 1 with rate 0.5 from b = 0.2: modulators r - b, and b the running mean."""
    layer = _layer(RewardSTDP(2, tau_eligibility=0.1, baseline_rate=0.5, initial_baseline=0.2))
    state = jax.tree.map(lambda x: x[None], memsnn.Network([layer]).init_state())
    b, mods = 0.2, []
    for r in (1.0, 0.0, 1.0):
        state = set_reward(state, 0, r)
        mods.append(r - b)
        b += 0.5 * (r - b)
        np.testing.assert_allclose(state[0].plasticity.reward, [mods[-1]])
        np.testing.assert_allclose(state[0].plasticity.baseline, [b])


@pytest.mark.parametrize("baseline", [0.0, 0.3, 0.9])
def test_delayed_reward_is_credited_with_r_minus_b(baseline):
    """The eligibility test of test_plasticity.py with a baseline: the weight change of a held
    reward r after a pre-post pair is gamma (r - b) e0 sum_k h (1 - h/tau_e)^k."""
    gamma, r, tau_e, h = 2.0, 0.7, 0.1, DT
    rule = RewardSTDP(2, a_plus=1.0, a_minus=1.0, learning_rate=gamma, tau_eligibility=tau_e, baseline_rate=0.1,
                      initial_baseline=baseline)
    layer = _layer(rule)
    first = _run(layer, _trains(90, 100, 101), 101)
    e0 = float(first.final_state[0].plasticity.eligibility[0, 0, 0])
    state = set_reward(first.final_state, 0, r)
    second = _run(layer, memsnn.Impulses(jnp.zeros((1, 101, 2))), 101, initial_state=state)
    expected = gamma * (r - baseline) * e0 * h * np.sum((1 - h / tau_e) ** np.arange(101))
    np.testing.assert_allclose(float(second.final_state[0].array[0, 0, 0]) - 0.1, expected, rtol=1e-9)


def test_without_baseline_state_is_unchanged():
    rule = RewardSTDP(2, tau_eligibility=0.1)
    traces = rule.init_state(1)
    assert traces.baseline is None and traces.baseline_rate is None


def test_baseline_rate_checked():
    with pytest.raises(ValueError, match="baseline_rate must lie in"):
        RewardSTDP(2, baseline_rate=1.5)
