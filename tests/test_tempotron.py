"""The Tempotron (memsnn.training.tempotron): its rule against the closed form of the paper."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memsnn.training import fit
from memsnn.training.tempotron import (TempotronConfig, build_tempotron, kernel, kernel_peak, tempotron_learner,
                                       tempotron_loss, tempotron_trainable)


def _config(**kw):
    return TempotronConfig(**{"n_inputs": 3, "n_classes": 2, "t_window": 0.2, "dt": 0.25e-3, "dtype": "float64",
                              **kw})


def _with_weights(model, w):
    import equinox as eqx
    return eqx.tree_at(lambda m: m.array.weight, model, jnp.asarray(w, model.array.weight.dtype)[None])


def test_kernel_peak_is_one():
    tau, tau_s = 15e-3, 15e-3 / 4
    t_peak, _ = kernel_peak(tau, tau_s)
    assert t_peak == pytest.approx(tau * tau_s * np.log(4) / (tau - tau_s))
    assert float(kernel(t_peak, tau, tau_s)) == pytest.approx(1.0)


@pytest.mark.parametrize("label", [0, 1])
def test_rule_for_single_spikes_matches_closed_form(label):
    """A P+ pattern that does not fire (label 1) and a P- pattern that fires (label 0): the gradient
    of the cost is -+ K(t_max - t_i) for afferents that spiked before t_max and 0 after it, with
    t_max the grid time of the maximal potential, V(t) = sum_i w_i K(t - t_i)."""
    c = _config()
    model = build_tempotron(c, key=jax.random.key(0))
    # Afferent 0 spikes at 50 ms (and sets t_max), 1 at 46 ms, 2 at 150 ms (after t_max).
    times = np.array([0.050, 0.046, 0.150])
    w = np.array([0.6, 0.3, 0.05]) * (1.0 if label == 1 else 3.0)  # fires (max V > 1) only when scaled by 3
    model = _with_weights(model, w)
    x = 1.0 - times / c.t_window
    landed = (np.floor(times / c.dt) + 1) * c.dt  # an impulse lands at the end of its step
    grid = c.dt * np.arange(1, c.n_steps + 1)
    v = (w[None, :] * np.asarray(kernel(grid[:, None] - landed[None, :], c.tau, c.synaptic_tau))).sum(1)
    t_max = grid[np.argmax(v)]
    assert (v.max() >= 1.0) == (label == 0)
    expected = np.asarray(kernel(t_max - landed, c.tau, c.synaptic_tau)) * (-1.0 if label == 1 else 1.0)
    assert expected[2] == 0.0

    grads = jax.grad(lambda m: tempotron_loss(m, jnp.asarray(x)[None], jnp.array([label]))[0])(model)
    np.testing.assert_allclose(np.asarray(grads.array.weight[0]), expected, rtol=1e-5, atol=1e-9)
    vmax = model.max_potential(jnp.asarray(x)[None])
    np.testing.assert_allclose(float(vmax[0, 0]), v.max(), rtol=1e-5)


def test_correct_patterns_do_not_learn():
    c = _config()
    model = _with_weights(build_tempotron(c, key=jax.random.key(0)), [0.6, 0.3, 0.05])
    x = jnp.asarray(1.0 - np.array([0.050, 0.046, 0.150]) / c.t_window)[None]
    grads = jax.grad(lambda m: tempotron_loss(m, x, jnp.array([0]))[0])(model)
    assert np.all(np.asarray(grads.array.weight) == 0.0)


def test_fit_learns_random_patterns_binary_and_multiclass():
    """Through the shared fit: 40 random patterns of 50 afferents (load 0.8) learnt without error,
    and 3 classes of 10 patterns each by one Tempotron per class."""
    rng = np.random.default_rng(0)
    for n_classes in (2, 3):
        c = TempotronConfig(n_inputs=50, n_classes=n_classes, t_window=0.2, dt=1e-3, solver="euler", momentum=0.0)
        x = rng.uniform(0, 1, (30 if n_classes == 3 else 40, 50)).astype(np.float32)
        y = (np.arange(len(x)) % n_classes).astype(np.int32)
        model = build_tempotron(c, key=jax.random.key(1))
        learner = tempotron_learner(model, {"optimizer": {"lr": 3e-2}})
        res = fit(model, learner, (x, y), (x, y), epochs=40, batch_size=10, progress=False)
        assert res.history[-1]["test_acc"] == 1.0, res.history[-1]


def test_config_errors():
    with pytest.raises(ValueError, match="tau_s must lie in"):
        TempotronConfig(tau_s=0.02)
    with pytest.raises(ValueError, match="n_classes"):
        TempotronConfig(n_classes=1)
