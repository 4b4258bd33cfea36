"""The supervised rules on crossbar synapses: a rule's weight change programmed as device pulses.

One protocol: a rule computes a requested weight change, the array programs it
(:meth:`memsnn.arrays.AbstractPlasticArray.updated`). Checked here: the pull-back of a state gradient
to the weights is exact for an ideal read; on ideal devices the crossbar step is the ideal step; on
linear devices with many levels it is within half a pulse of it; a nonlinear, coarse device
(NeuroSim's) reaches a different change and still learns.
"""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn.arrays import PlasticDense
from memsnn.crossbar import ConductanceMapping, Crossbar, PulseUpdate
from memsnn.plasticity import ReSuMe
from memsnn.training import apply_updates, weight_gradients, weight_view
from memsnn.training.resume import learn_target_trains
from memsnn.training.spikeprop import SpikePropConfig, build_spikeprop, spikeprop_learner
from memsnn.training.tempotron import TempotronConfig, build_tempotron, tempotron_learner, tempotron_predict


def _linear(bar: Crossbar, levels: int) -> Crossbar:
    """``bar`` with linear devices of ``levels`` pulses over the range (no noise)."""
    return dataclasses.replace(bar, update=PulseUpdate(bar.mapping.g_min, bar.mapping.g_max, levels))


def _with_update(model, chips, update_of):
    return eqx.tree_at(chips, model, [dataclasses.replace(c, crossbar=update_of(c.crossbar)) for c in chips(model)])


@eqx.filter_jit
def _first_step(learner, model, x, y, key):
    """``learner``'s step from its initial state, compiled whole (eagerly, its operations and
    their gradients outside simulate compiled one by one)."""
    return learner.step(model, learner.init(model), x, y, key)


@pytest.mark.parametrize("scheme", ["differential", "reference"])
def test_weight_gradient_is_the_gradient_of_the_weights_the_devices_hold(scheme):
    """L = sum(c * W(G)) read through the conductances: the state gradient pulled back is c."""
    w = jax.random.uniform(jax.random.key(0), (3, 4), minval=-0.5, maxval=0.5)
    chip = Crossbar(w, mapping=ConductanceMapping(1e-6, 1e-4, scheme=scheme, w_max=1.0)).programmed(key=jax.random.key(1))
    c = jax.random.normal(jax.random.key(2), (3, 4))
    grad = jax.grad(lambda g: jnp.sum(c * chip.weights(g)))(chip.held_state)
    np.testing.assert_allclose(chip.weight_gradient(grad), c, rtol=1e-12)
    # The same through a read of the crossbar (y = W x, its gradient c x^T).
    x = jnp.array([0.1, 0.4, 0.7, 1.0])  # inside the DAC's input range [0, 1]
    grad = jax.grad(lambda g: jnp.dot(c[:, 0], chip(x, g)))(chip.held_state)
    np.testing.assert_allclose(chip.weight_gradient(grad), np.outer(c[:, 0], x), rtol=1e-9)


def test_apply_updates_programs_pulses_and_leaves_other_leaves_additive():
    """A ProgrammedCrossbar leaf gets round(k |dw| / step) pulses; an array leaf gets p + u."""
    bar = Crossbar(jnp.zeros((1, 2)), mapping=ConductanceMapping(0.0, 1.0, w_max=1.0))
    chip = _linear(bar, 10).programmed(key=jax.random.key(0))
    params = {"chip": chip, "bias": jnp.ones(2)}
    updates = {"chip": jnp.array([[0.26, -0.04]]), "bias": jnp.array([0.5, -0.5])}
    assert jax.tree.structure(weight_view(params)) == jax.tree.structure(updates)
    out = apply_updates(params, updates)
    # 0.26 is 2.6 pulses of 0.1: 3 pulses; -0.04 is 0.4 pulses: none.
    np.testing.assert_allclose(out["chip"].weights(out["chip"].held_state), [[0.3, 0.0]], atol=1e-12)
    np.testing.assert_allclose(out["bias"], [1.5, 0.5])


def _tempotron(**over):
    c = dict(n_inputs=20, t_window=0.1, dt=1e-3, solver="euler", dtype="float64", w_init_std=0.05, momentum=0.5)
    return TempotronConfig(**{**c, **over})


def _patterns(n, n_in=20, seed=1):
    x = jax.random.uniform(jax.random.key(seed), (n, n_in))
    return x, (jnp.arange(n) % 2).astype(jnp.int32)


@pytest.mark.parametrize("online", [True, False])
def test_tempotron_on_crossbar_is_the_ideal_rule_in_the_limit_of_linear_many_level_devices(online):
    ideal = build_tempotron(_tempotron(), key=jax.random.key(0))
    chip = build_tempotron(_tempotron(crossbar="ideal", crossbar_w_max=1.0), key=jax.random.key(0))
    x, y = _patterns(8)
    config = {"optimizer": {"lr": 1e-2}, "online": online}
    learner = tempotron_learner(ideal, config)
    m_ideal, _, _ = _first_step(learner, ideal, x, y, jax.random.key(2))
    change = m_ideal.array.weight - ideal.array.weight
    assert float(jnp.max(jnp.abs(change))) > 1e-3  # the step learns something
    # Each programming event is within half a pulse of its request (8 patterns: at most 8 events).
    for levels, tol in ((None, 1e-14), (100_000, len(y) * 0.5 * 2.0 / 100_000)):
        model = chip if levels is None else _with_update(chip, lambda m: [m.array], lambda b: _linear(b, levels))
        on_chip = tempotron_learner(model, config)
        stepped, _, _ = _first_step(on_chip, model, x, y, jax.random.key(2))
        reached = stepped.array.weights(stepped.array.held_state) - ideal.array.weight
        np.testing.assert_allclose(reached, change, atol=tol, rtol=0)
    # Coarse linear devices (31 pulses over 2 units of weight): changes below half a pulse are lost.
    coarse = _with_update(chip, lambda m: [m.array], lambda b: _linear(b, 31))
    on_chip = tempotron_learner(coarse, config)
    stepped, _, _ = _first_step(on_chip, coarse, x, y, jax.random.key(2))
    reached = stepped.array.weights(stepped.array.held_state) - ideal.array.weight
    assert float(jnp.max(jnp.abs(reached - change))) > 0.01


def test_tempotron_on_nonlinear_devices_learns_with_a_different_change():
    """NeuroSim's devices (31 nonlinear pulses, write noise): the change reached differs from the
    ideal rule's, the patterns are still learnt (ideal 100 %; the chip at least 90 %)."""
    x, y = _patterns(16)
    accs = {}
    for name, over in (("ideal", {}), ("neurosim", {"crossbar": "neurosim", "crossbar_w_max": 1.0})):
        model = build_tempotron(_tempotron(**over), key=jax.random.key(0))
        learner = tempotron_learner(model, {"optimizer": {"lr": 0.05}, "online": True})
        state, step = learner.init(model), eqx.filter_jit(learner.step)
        for cycle in range(30):
            model, state, _ = step(model, state, x, y, jax.random.key(cycle))
        accs[name] = float(jnp.mean(tempotron_predict(model, x, key=jax.random.key(99)) == y))
        if name == "neurosim":
            w = model.array.weights(model.array.held_state)
            levels = np.unique(np.round(np.asarray(model.array.held_state.positive) / 1e-9))
            assert levels.size > 2  # the devices moved
    assert accs["ideal"] == 1.0
    assert accs["neurosim"] >= 0.9, accs
    assert float(jnp.max(jnp.abs(w))) <= 1.0 + 1e-6  # held inside the devices' range


def test_spikeprop_step_on_crossbar_is_the_ideal_step_within_half_a_pulse():
    c = dict(n_inputs=2, hidden=(3,), n_classes=2, single_output=True, terminals=2, delay_max=4e-3,
             n_steps=200, dtype="float64", rule="sgd", init_scale=4.0)
    ideal = build_spikeprop(SpikePropConfig(**c), key=jax.random.key(0))
    chip = build_spikeprop(SpikePropConfig(**c, crossbar="ideal", crossbar_w_max=2.0), key=jax.random.key(0))
    chip = _with_update(chip, lambda m: list(m.weights), lambda b: _linear(b, 100_000))
    for a, b in zip(ideal.terminal_weights(), chip.terminal_weights()):
        np.testing.assert_allclose(a, b, atol=1e-14)
    x, y = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), jnp.array([0, 1, 1, 0])
    learner, on_chip = (spikeprop_learner(m, {"optimizer": {"lr": 1e-3}}) for m in (ideal, chip))
    m_ideal, _, met_ideal = _first_step(learner, ideal, x, y, jax.random.key(2))
    m_chip, _, met_chip = _first_step(on_chip, chip, x, y, jax.random.key(2))
    assert float(met_ideal["loss"]) == pytest.approx(float(met_chip["loss"]), rel=1e-9)
    for before, a, b in zip(ideal.terminal_weights(), m_ideal.terminal_weights(), m_chip.terminal_weights()):
        assert float(jnp.max(jnp.abs(a - before))) > 1e-4
        np.testing.assert_allclose(b, a, atol=0.5 * 2.0 / 100_000, rtol=0)  # w_max 2: a pulse is 2e-5


def test_resume_on_crossbar_is_the_ideal_rule_in_the_limit_of_linear_many_level_devices():
    """One ReSuMe epoch: on a chip of linear 100,000-pulse devices the learned weights are
    PlasticDense's within half a pulse per programming event; NeuroSim's coarse devices lose the
    changes below half a pulse."""
    dt, n_steps, n_in = 1e-3, 60, 10
    rng = np.random.default_rng(0)
    w0 = jnp.asarray(rng.uniform(0.0, 0.3, (1, n_in)))
    spikes = memsnn.Impulses(jnp.asarray((rng.random((1, n_steps, n_in)) < 0.1).astype(float)))
    rule = ReSuMe(n_in, [[0.02, 0.045]], dt=dt, learning_rate=0.05, a=0.05)
    neuron = memsnn.LIF(tau=10e-3, resistance=10e-3, threshold=1.0, reset="zero")

    def learned(array):
        state, _ = learn_target_trains(memsnn.Layer(array, None, neuron, plasticity=rule), spikes, dt=dt,
                                       n_steps=n_steps, epochs=1, key=jax.random.key(3))
        return array.weights(jax.tree.map(lambda s: s[0], state.array))

    ideal = learned(PlasticDense(w0, w_min=-1.0, w_max=1.0)) - w0
    assert float(jnp.max(jnp.abs(ideal))) > 1e-2
    bar = Crossbar(w0, mapping=ConductanceMapping(1e-6, 1e-4, w_max=1.0))
    fine = learned(_linear(bar, 100_000).programmed(key=jax.random.key(0))) - w0
    events = 2 * n_steps  # at most one potentiation and one depression per step
    np.testing.assert_allclose(fine, ideal, atol=events * 0.5 * 2.0 / 100_000, rtol=0)
    np.testing.assert_allclose(fine, ideal, atol=1e-3, rtol=0)
    neurosim = Crossbar(w0, **memsnn.crossbar.preset("neurosim", w_max=1.0)._asdict())
    coarse = learned(dataclasses.replace(neurosim, nonideality=memsnn.crossbar.chain()).programmed(
        key=jax.random.key(0))) - w0
    assert float(jnp.max(jnp.abs(coarse - ideal))) > 1e-2


def test_stochastic_rounding_programs_the_requested_change_on_average():
    """0.3 of a pulse: nearest rounding never moves the device; stochastic rounding gives one pulse
    with probability 0.3 (the mean change over many devices is the request)."""
    bar = Crossbar(jnp.zeros((100, 100)), mapping=ConductanceMapping(0.0, 1.0, w_max=1.0))
    nearest = _linear(bar, 10)
    stochastic = dataclasses.replace(nearest, update=dataclasses.replace(nearest.update, rounding="stochastic"))
    assert stochastic.stochastic and not nearest.stochastic
    g = bar.init_state(100)
    delta = jnp.full((100, 100), 0.03)
    np.testing.assert_array_equal(nearest.weights(nearest.updated(g, delta, key=jax.random.key(0))), 0.0)
    w = stochastic.weights(stochastic.updated(g, delta, key=jax.random.key(0)))
    assert set(np.unique(np.round(np.asarray(w), 12))) == {0.0, 0.1}
    assert float(jnp.mean(w)) == pytest.approx(0.03, abs=0.002)  # 4 sigma of the mean of 10^4 draws
    with pytest.raises(ValueError, match="rounding"):
        PulseUpdate(0.0, 1.0, 10, rounding="up")
