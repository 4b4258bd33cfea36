"""The Tempotron (memsnn.training.tempotron): its rule against the closed form of the paper."""

import dataclasses

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


@jax.jit
def _rule_and_peak(model, x, labels):
    """The cost's gradient (the Tempotron rule) and the maximal potential ``(batch, 1)`` of the patterns
    ``x``: one compiled program serves every test below on the same 3-afferent Tempotron (weights,
    patterns and labels are its arguments)."""
    grads = jax.grad(lambda m: tempotron_loss(m, x, labels)[0])(model)
    return grads, model.max_potential(x)


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

    grads, vmax = _rule_and_peak(model, jnp.asarray(x)[None], jnp.array([label]))
    np.testing.assert_allclose(np.asarray(grads.array.weight[0]), expected, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(float(vmax[0, 0]), v.max(), rtol=1e-5)


def test_correct_patterns_do_not_learn():
    c = _config()
    model = _with_weights(build_tempotron(c, key=jax.random.key(0)), [0.6, 0.3, 0.05])
    x = jnp.asarray(1.0 - np.array([0.050, 0.046, 0.150]) / c.t_window)[None]
    grads, _ = _rule_and_peak(model, x, jnp.array([0]))
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


def test_superposition_equals_simulation_and_gives_the_same_rule():
    """potential="superposition" (the simulated kernel convolved with the weighted spikes) gives the
    grid potential of the full simulation, and so the same gradient (the Tempotron rule)."""
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.uniform(-0.1, 1, (4, 20)))  # some x <= 0: no spike
    labels = jnp.array([0, 1, 0, 1])
    sim = build_tempotron(_config(n_inputs=20), key=jax.random.key(3))
    sim = _with_weights(sim, rng.normal(0, 0.4, 20))
    sup = type(sim)(dataclasses.replace(sim.config, potential="superposition"), sim.array, sim.synapse, sim.neuron)

    def potential_and_grad(model):
        # The potential and the loss's weight gradient from one compiled program per model.
        def loss(m):
            return tempotron_loss(m, x, labels)[0], m.potential(x)

        (_, potential), grad = jax.jit(jax.value_and_grad(loss, has_aux=True))(model)
        return np.asarray(potential), np.asarray(grad.array.weight)

    (v_sim, g_sim), (v_sup, g_sup) = potential_and_grad(sim), potential_and_grad(sup)
    np.testing.assert_allclose(v_sup, v_sim, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g_sup, g_sim, rtol=1e-9, atol=1e-12)


def test_online_learner_applies_the_rule_pattern_by_pattern_with_momentum():
    """One fit step of the online learner = the paper's loop written out: after each error
    dw = lambda K(t_max - t_i) + mu dw_prev (gradient of the pattern's cost), correct patterns change nothing."""
    from memsnn.training.tempotron import OnlineTempotronLearner
    rng = np.random.default_rng(4)
    c = _config(n_inputs=30, potential="superposition", momentum=0.9)
    model = build_tempotron(c, key=jax.random.key(5))
    model = _with_weights(model, rng.normal(0.05, 0.2, 30))
    x = jnp.asarray(rng.uniform(0, 1, (6, 30)))
    y = jnp.array([1, 0, 1, 0, 1, 0])
    lam, mu = 0.05, 0.9
    learner = tempotron_learner(model, {"optimizer": {"lr": lam}, "online": True})
    assert isinstance(learner, OnlineTempotronLearner)
    new, _, metrics = learner.step(model, learner.init(model), x, y, jax.random.key(0))
    # One pattern's cost, prediction and gradient: one compiled program for all six patterns.
    pattern = jax.jit(jax.value_and_grad(lambda m, xk, yk: tempotron_loss(m, xk, yk), has_aux=True))
    w, v, correct = model.array.weight, jnp.zeros_like(model.array.weight), 0
    for k in range(6):
        m = _with_weights(model, w[0])
        (loss, pred), grad = pattern(m, x[k:k + 1], y[k:k + 1])
        correct += int(pred[0] == y[k])
        if loss > 0:
            v = -lam * grad.array.weight + mu * v
            w = w + v
    np.testing.assert_allclose(np.asarray(new.array.weight), np.asarray(w), rtol=1e-10, atol=1e-12)
    assert float(metrics["acc"]) == pytest.approx(correct / 6)
    assert correct < 6  # some errors, so the rule was exercised


def test_online_fit_learns_random_patterns():
    """Load 0.5 of 60 afferents learnt without error through fit (one step = one cycle)."""
    rng = np.random.default_rng(0)
    c = TempotronConfig(n_inputs=60, n_classes=2, t_window=0.2, dt=1e-3, potential="superposition")
    x = rng.uniform(0, 1, (30, 60)).astype(np.float32)
    y = (np.arange(30) % 2).astype(np.int32)
    model = build_tempotron(c, key=jax.random.key(1))
    learner = tempotron_learner(model, {"optimizer": {"lr": 1e-2}, "online": True})
    res = fit(model, learner, (x, y), (x, y), epochs=60, batch_size=30, progress=False)
    assert res.history[-1]["test_acc"] == 1.0, res.history[-1]


def test_superposition_refuses_a_nonlinear_array():
    import equinox as eqx
    model = build_tempotron(_config(potential="superposition"), key=jax.random.key(0))
    bad = eqx.tree_at(lambda m: m.array, model, type(model.array)(model.array.weight, jnp.zeros(1)),
                      is_leaf=lambda n: n is None)
    with pytest.raises(ValueError, match="superposition"):
        bad.potential(jnp.ones((1, 3)) * 0.5)
    with pytest.raises(ValueError, match="potential"):
        TempotronConfig(potential="fft")


def test_a_pattern_below_rest_still_learns():
    """A "fire" pattern whose potential stays below rest: t_max is sought after the first input, so
    the rule has a gradient (with the maximum at rest, V(t_max) = 0, it would have none)."""
    c = _config()
    model = _with_weights(build_tempotron(c, key=jax.random.key(0)), [-0.5, -0.3, -0.2])
    x = jnp.asarray(1.0 - np.array([0.050, 0.046, 0.150]) / c.t_window)[None]
    grads, vmax = _rule_and_peak(model, x, jnp.array([1]))
    assert float(vmax[0, 0]) < 0
    assert np.any(np.asarray(grads.array.weight) < 0)
