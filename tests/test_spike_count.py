"""Device parameters for target spike counts through the evolution learner (issue 24, scope 6)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memsnn.studies.spike_count import regular_trains, spike_count_design, spike_count_loss, spike_count_predict
from memsnn.training import fit
from memsnn.training.evolution import EvolutionLearner

pytest.importorskip("evosax")

TRAINS = regular_trains([2e-6, 3e-6], [120, 160, 240], 1000)


def test_evolution_finds_a_device_with_the_target_counts_where_the_preset_misses_them():
    model = spike_count_design(("memristor1.R_on", "memristor1.V_on"))
    hidden = model.with_values({"memristor1.R_on": 2000.0, "memristor1.V_on": 0.13})
    targets = np.asarray(spike_count_predict(hidden, jnp.asarray(TRAINS)))
    preset = np.asarray(spike_count_predict(model, jnp.asarray(TRAINS)))
    assert np.all(targets >= 0) and not np.array_equal(preset, targets)  # something to find
    learner = EvolutionLearner.create(model, spike_count_loss, spike_count_predict, algorithm="CMA_ES",
                                      population_size=12, std_init=1.0, trainable=model.trainable())
    res = fit(model, learner, (TRAINS.astype(np.float32), targets), None, epochs=25, batch_size=len(TRAINS),
              seed=0, progress=False)
    found = np.asarray(spike_count_predict(res.model, jnp.asarray(TRAINS)))
    np.testing.assert_array_equal(found, targets)
    # Only the searched coordinates moved; the devices stay inside their physical ranges.
    assert res.model.neuron is model.neuron or eqx.tree_equal(res.model.neuron, model.neuron)
    values = res.model.values()
    assert 1e2 < values["memristor1.R_on"] < 1e4 and 0.05 < values["memristor1.V_on"] < 0.5


def test_vmapped_population_loss_is_the_loss_of_each_candidate():
    model = spike_count_design(("memristor1.R_on", "memristor1.R_off", "memristor1.V_on"))
    targets = jnp.asarray(np.asarray(spike_count_predict(model, jnp.asarray(TRAINS))))
    learner = EvolutionLearner.create(model, spike_count_loss, spike_count_predict, algorithm="CMA_ES",
                                      population_size=6, std_init=1.0, trainable=model.trainable())
    params, frozen = eqx.partition(model, learner.trainable)
    population, _ = learner.algorithm.ask(jax.random.key(1), learner.init(model), learner.params)

    def one(candidate):
        return spike_count_loss(eqx.combine(candidate, frozen), jnp.asarray(TRAINS), targets, throw=False)[0]

    together = np.asarray(jax.vmap(one)(population))
    alone = [float(one(jax.tree.map(lambda x, i=i: x[i], population))) for i in range(6)]
    np.testing.assert_allclose(together, alone, rtol=1e-6)
    assert float(one(params)) == 0.0  # the preset's own counts


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="no physical range"):
        spike_count_design(("memristor1.colour",))
    with pytest.raises(ValueError, match="attribute path"):
        spike_count_design(("tau_a",))  # a synapse parameter, not the neuron's
    with pytest.raises(ValueError, match="not searched"):
        spike_count_design(("memristor1.R_on",)).with_values({"memristor1.V_on": 0.1})
    with pytest.raises(ValueError, match="gaps must be"):
        regular_trains([1e-6], [0], 10)
