"""Gradient-free training (memsnn.training.evolution): evosax algorithms as a learner of fit."""

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("evosax")

import memsnn  # noqa: E402
from memsnn.training import fit  # noqa: E402
from memsnn.training.evolution import EvolutionLearner, evosax_algorithm  # noqa: E402


class Drive(eqx.Module):
    """One LIF neuron driven by a constant current ``gain * x``: the trainable gain."""

    gain: jax.Array

    def counts(self, x, *, throw=True):
        net = memsnn.Network([memsnn.Layer(memsnn.Dense(self.gain.reshape(1, 1)), None,
                                           memsnn.LIF(tau=20e-3, resistance=1.0, threshold=1.0, reset="zero"))])
        trace = memsnn.simulate(net, memsnn.Current(x), dt=1e-3, n_steps=100, record=("spikes",), throw=throw)
        return jnp.sum(trace.failed_as_nan(trace.spikes[0]), axis=(1, 2))


def count_loss(model, images, labels, *, key=None, throw=True):
    """|spike count - label|: piecewise constant in the gain, so its gradient is zero everywhere."""
    counts = model.counts(images, throw=throw)
    return jnp.mean(jnp.abs(counts - labels)), jnp.round(counts).astype(jnp.int32)


def count_predict(model, images, *, key=None, throw=True):
    return jnp.round(model.counts(images, throw=throw)).astype(jnp.int32)


@pytest.mark.parametrize("algorithm", ["CMA_ES", "SimpleGA"])
def test_evolution_meets_a_spike_count_that_gradients_cannot_see(algorithm):
    model = Drive(jnp.asarray(1.2))
    x, y = np.ones((4, 1)), np.full((4,), 5, np.int32)  # five spikes in 100 ms
    grad = jax.grad(lambda m: count_loss(m, jnp.asarray(x), jnp.asarray(y))[0])(model)
    assert float(grad.gain) == 0.0  # exact spikes: no gradient to follow
    learner = EvolutionLearner.create(model, count_loss, count_predict, algorithm=algorithm, population_size=16,
                                      std_init=0.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit(model, learner, (x, y), (x, y), epochs=25, batch_size=4, progress=False)
    assert res.history[-1]["test_acc"] == 1.0, res.history[-1]
    # The learner's arrays (its hyper-parameters) reach the compiled prediction as arrays, not as
    # static values (equinox warns "A JAX array is being set as static" then).
    assert not [w for w in caught if "static" in str(w.message)], [str(w.message) for w in caught]
    assert int(np.round(np.asarray(res.model.counts(jnp.asarray(x[:1])))[0])) == 5


def test_failed_candidates_are_the_worst_not_nan():
    """Candidates whose loss is NaN (a failed simulation with throw=False) rank last; training goes on."""
    class Vec(eqx.Module):
        w: jax.Array

    def loss(m, images, labels, *, key=None, throw=True):
        value = jnp.sum((m.w - 3.0) ** 2)
        return jnp.where(m.w[0] > 4.0, jnp.nan, value), jnp.zeros(images.shape[:1], jnp.int32)

    def predict(m, images, *, key=None, throw=True):
        return jnp.zeros(images.shape[:1], jnp.int32)

    model = Vec(jnp.zeros(3))
    learner = EvolutionLearner.create(model, loss, predict, algorithm="CMA_ES", population_size=12, std_init=2.0)
    res = fit(model, learner, (np.zeros((2, 1)), np.zeros(2, np.int32)), None, epochs=60, batch_size=2,
              progress=False)
    np.testing.assert_allclose(np.asarray(res.model.w), 3.0, atol=0.05)
    assert max(h["train_failed"] for h in res.history) > 0


def test_unknown_algorithm_named():
    with pytest.raises(ValueError, match="unknown algorithm 'CMAES'"):
        evosax_algorithm("CMAES", 8, jnp.zeros(2))
