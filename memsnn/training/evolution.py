"""Gradient-free training: evolution strategies and genetic algorithms (evosax) over ``simulate``.

:class:`EvolutionLearner` is a learner of the shared loop (:func:`memsnn.training.fit`): at every
batch it asks an evosax algorithm for a population of candidate parameter sets, evaluates the
method's loss of every candidate on the batch (one :func:`memsnn.simulate` of the whole population,
``jax.vmap`` over the candidates, inside the one jitted step), and tells the algorithm the losses.
It needs no gradient, so it trains what gradients cannot reach: networks with exact (Heaviside)
spikes and no surrogate, losses on spike counts, device parameters behind a non-differentiable
objective (a spike-count constraint, a discrete choice encoded as a number), and it treats a
failed simulation as the worst fitness instead of a NaN gradient.

The model is the algorithm's mean for distribution-based algorithms (CMA-ES, OpenAI-ES, SNES,
PGPE, ...) and its best solution so far for population-based ones (genetic algorithms,
differential evolution, PSO). Only the leaves chosen by ``trainable`` evolve; the rest of the
model is frozen.

evosax is an optional dependency: ``pip install memsnn[evo]``.

    learner = EvolutionLearner.create(model, loss_fn, predict_fn, algorithm="CMA_ES",
                                      population_size=32, std_init=0.1, trainable=filter_spec)
    result = fit(model, learner, train_data, test_data, epochs=20, batch_size=150)
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from .learner import AbstractLearner, LossFn, PredictFn

__all__ = ["EvolutionLearner", "evosax_algorithm"]


def _evosax():
    try:
        import evosax.algorithms as algorithms
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("memsnn.training.evolution needs evosax: pip install 'memsnn[evo]' "
                          "(or pip install evosax).") from err
    return algorithms


def evosax_algorithm(name: str, population_size: int, solution, **options):
    """The evosax algorithm ``name`` (e.g. ``"CMA_ES"``, ``"Open_ES"``, ``"SNES"``, ``"SimpleGA"``)
    for parameter pytrees shaped like ``solution``; ``options`` go to its constructor.

    Raises:
        ValueError: an unknown name (the message lists evosax's algorithms).
    """
    algorithms = _evosax()
    known = sorted(set(algorithms.distribution_based_algorithms) | set(algorithms.population_based_algorithms))
    if name not in known:
        raise ValueError(f"evosax_algorithm: unknown algorithm {name!r}; evosax has {known}.")
    if isinstance(population_size, bool) or int(population_size) != population_size or population_size < 2:
        raise ValueError(f"evosax_algorithm: population_size must be an integer >= 2, got {population_size!r}.")
    return getattr(algorithms, name)(population_size=int(population_size), solution=solution, **options)


_WORST = 3.0e38  # the fitness of a failed candidate (float32-safe)


class EvolutionLearner(AbstractLearner):
    """An evosax algorithm as a learner of :func:`memsnn.training.fit` (module docstring).

    Attributes:
        loss_fn, predict_fn: the method's ``loss(model, images, labels, *, key, throw) -> (loss,
            predictions)`` and ``predict`` (the same functions as for gradient training).
        algorithm: an evosax algorithm built for the trainable leaves (:func:`evosax_algorithm`).
        params: the algorithm's hyper-parameters (``algorithm.default_params`` with changes).
        trainable: filter spec of the leaves that evolve.
        distribution: whether the algorithm keeps a search distribution (its mean is the model) or
            a population (its best solution is the model).
        init_std: population-based algorithms only: the first population is the model plus
            Gaussian noise of this standard deviation.
        sequential: evaluate the candidates one after another (``jax.lax.map``) instead of
            vmapped together: less memory for large populations, and on CPUs sometimes faster
            for networks that do not vectorise well.
    """

    loss_fn: LossFn = eqx.field(static=True)
    predict_fn: PredictFn = eqx.field(static=True)
    algorithm: Any = eqx.field(static=True)
    params: Any
    trainable: Any
    distribution: bool = eqx.field(static=True)
    init_std: float = eqx.field(static=True, default=0.1)
    sequential: bool = eqx.field(static=True, default=False)

    @classmethod
    def create(cls, model, loss_fn: LossFn, predict_fn: PredictFn, *, algorithm: str = "CMA_ES",
               population_size: int = 32, std_init: float = 0.1, trainable: Any = eqx.is_inexact_array,
               sequential: bool = False, **options) -> "EvolutionLearner":
        """An :class:`EvolutionLearner` for ``model``: ``algorithm`` by evosax name, its initial
        search width ``std_init`` (distribution-based: the search distribution's; population-based:
        the noise of the first population and of the mutations), ``options`` for its constructor."""
        algorithms = _evosax()
        solution, _ = eqx.partition(model, trainable)
        es = evosax_algorithm(algorithm, population_size, solution, **options)
        distribution = algorithm in algorithms.distribution_based_algorithms
        params = es.default_params
        names = {f for f in getattr(params, "__dataclass_fields__", {})}
        if "std_init" in names:
            params = params.replace(std_init=jnp.asarray(std_init, dtype=float))
        return cls(loss_fn, predict_fn, es, params, trainable, distribution, float(std_init), bool(sequential))

    def init(self, model):
        solution, _ = eqx.partition(model, self.trainable)
        key = jax.random.key(0)  # the algorithms' initial states are deterministic given the model
        if self.distribution:
            return self.algorithm.init(key, solution, self.params)
        noise = jax.vmap(lambda k: jax.tree.map(
            lambda x: x + self.init_std * jax.random.normal(jax.random.fold_in(k, x.size), x.shape, x.dtype),
            solution))(jax.random.split(key, self.algorithm.population_size))
        fitness = jnp.full((self.algorithm.population_size,), _WORST)
        return self.algorithm.init(key, noise, fitness, self.params)

    def updated(self, model):
        return self.trainable

    def _model(self, state, frozen, template):
        if self.distribution:
            solution = self.algorithm.get_mean(state)
        else:
            best = jnp.where(jnp.isfinite(state.best_fitness), state.best_solution,
                             self.algorithm._ravel_solution(template))
            solution = self.algorithm._unravel_solution(best)
        return eqx.combine(solution, frozen)

    def step(self, model, state, images, labels, key: PRNGKeyArray, *, throw: bool = True):
        params, frozen = eqx.partition(model, self.trainable)
        ask_key, tell_key, noise_key = jax.random.split(key, 3)
        population, state = self.algorithm.ask(ask_key, state, self.params)

        def evaluate(candidate):
            loss, predictions = self.loss_fn(eqx.combine(candidate, frozen), images, labels, key=noise_key,
                                             throw=throw)
            return loss, jnp.mean(predictions == labels)

        losses, accs = jax.lax.map(evaluate, population) if self.sequential else jax.vmap(evaluate)(population)
        # A failed simulation (NaN loss with throw=False) is the worst candidate, not a NaN update
        # (finite: fit stops on a state that is not).
        fitness = jnp.where(jnp.isfinite(losses), losses, _WORST)
        state, _ = self.algorithm.tell(tell_key, population, fitness, state, self.params)
        best = jnp.argmin(fitness)
        metrics = {"loss": jnp.nanmean(jnp.where(jnp.isfinite(losses), losses, jnp.nan)),
                   "best_loss": fitness[best], "acc": accs[best],
                   "failed": jnp.mean((~jnp.isfinite(losses)).astype(float))}
        return self._model(state, frozen, params), state, metrics

    def evaluate(self, model, images, key, *, throw: bool = True):
        return self.predict_fn(model, images, key=key, throw=throw)


