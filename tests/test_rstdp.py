"""R-STDP on a task (memsnn.training.rstdp): the baseline makes it learn where b = 0 fails."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memsnn.training import fit
from memsnn.training.rstdp import RstdpConfig, RstdpLearner, build_rstdp, learn_episodes


def _task(n, seed, n_in=20, lo=0.1):
    rng = np.random.default_rng(seed)
    protos = np.full((2, n_in), lo)
    protos[0, : n_in // 2] = protos[1, n_in // 2:] = 1.0
    y = rng.integers(0, 2, n).astype(np.int32)
    return protos[y].astype(np.float32), y


def test_baseline_learns_and_no_baseline_climbs_to_the_bound():
    """With the baseline the task is learnt; with b = 0 and rewards never negative, every correct
    episode potentiates what fired and nothing ever depresses: the weights climb towards their
    bound (benchmarks/rstdp_task.py: over seeds, b = 0 learns worse and less reliably)."""
    x, y = _task(400, 0)
    xt, yt = _task(100, 1)
    out = {}
    for rate in (0.05, None):
        c = RstdpConfig(n_inputs=20, n_classes=2, per_class=3, w_init=0.2, w_max=0.5, learning_rate=0.05,
                        baseline_rate=rate)
        res = fit(build_rstdp(c, key=jax.random.key(0)), RstdpLearner(), (x, y), (xt, yt), epochs=1, batch_size=100,
                  progress=False)
        out[rate] = (res.history[-1]["test_acc"], float(np.asarray(res.model.weights()).mean()))
    assert out[0.05][0] >= 0.85, out
    assert out[None][1] > 1.5 * out[0.05][1], out


def _episode(reward, baseline, x, y):
    c = RstdpConfig(n_inputs=20, n_classes=2, per_class=2, reward_correct=reward, reward_wrong=reward,
                    baseline_rate=0.5, w_init=0.5, w_max=1.0)
    model = build_rstdp(c, key=jax.random.key(0))
    model = model.__class__(c, model.array, model.neuron, model.rule, model.array_state, jnp.asarray(baseline))
    after, decisions, _, _ = learn_episodes(model, x, y, jax.random.key(1))
    return np.asarray(after.weights()) - np.asarray(model.weights()), int(decisions[0]), float(after.baseline)


def test_credit_is_r_minus_b_and_goes_to_the_deciding_class_only():
    """r = b: nothing changes; the change is odd in r - b (same spikes, same eligibility); only the
    deciding class's neurons learn; the baseline moves half-way to r."""
    x, y = _task(1, 0)
    dw, _, b = _episode(0.5, 0.5, x, y)
    np.testing.assert_array_equal(dw, 0.0)
    assert b == 0.5
    up, decision, b = _episode(1.0, 0.5, x, y)
    down, _, _ = _episode(0.0, 0.5, x, y)
    assert b == 0.75
    assert np.abs(up).max() > 1e-4
    np.testing.assert_allclose(down, -up, rtol=1e-9, atol=1e-15)
    assert decision in (0, 1)
    others = np.repeat(np.arange(2) != decision, 2)
    np.testing.assert_array_equal(up[others], 0.0)


def test_config_errors():
    with pytest.raises(ValueError, match="baseline_rate must lie in"):
        RstdpConfig(baseline_rate=0.0)
    with pytest.raises(ValueError, match="max_rate \\* dt"):
        RstdpConfig(max_rate=2000.0)

