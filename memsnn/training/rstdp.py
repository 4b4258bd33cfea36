"""Reward-modulated STDP on a classification task, with a reward baseline: ``dw = gamma e (r - b)``.

One layer of LIF neurons (``per_class`` for each class) reads Poisson spike trains (rate
``x max_rate`` for a feature ``x`` in [0, 1]) through a plastic array; the learning rule is
:class:`memsnn.plasticity.RewardSTDP` with an eligibility trace (MSTDPET, Florian 2007). Each
training sample is one episode, simulated by :func:`memsnn.simulate`:

1. **presentation** (``t_present``): the input spikes; the reward is 0, so the weights do not
   move, and STDP writes every synapse's eligibility trace ``e``;
2. **decision**: the class whose neurons fired most (a tie, e.g. no spike at all, is wrong);
3. **reward**: ``r = reward_correct`` or ``reward_wrong``, delivered with
   :func:`memsnn.plasticity.set_reward`: the rule's modulator becomes ``r - b`` (``b``: a running
   mean of the rewards, ``baseline_rate``; ``b = 0`` without a baseline);
4. **credit** (``t_reward``, no input): the weights of the deciding class's neurons follow
   ``dw/dt = gamma (r - b) e`` while the eligibility decays. Only the decision's neurons are
   credited (their eligibility is kept, the others' cleared; the winner-only credit of Mozafari et
   al. 2018): with one reward for every neuron, the losing class's neurons would be rewarded for
   the inputs of the class that beat them, and punished for their own.

The weights and the baseline carry from episode to episode (one network instance; a batch of ``B``
samples is ``B`` episodes in order inside one jitted step, as in :mod:`~memsnn.training.stdp`);
everything else starts again from rest. With rewards that are never negative (1 for a correct
answer, 0 otherwise) and no baseline, every correct episode potentiates whatever fired, the weights
climb to their bound and the classes blur; the baseline turns a reward that is merely as good as
usual into no change and a worse one into depression (Frémaux, Sprekeler & Gerstner 2010).

The array is :class:`~memsnn.arrays.PlasticDense` or a memristive :class:`~memsnn.crossbar.Crossbar`
(``array="crossbar"``): the rule's changes are then programming pulses on its devices.

It is ``memsnn train --method rstdp`` (:data:`memsnn.training.METHODS`);
``benchmarks/rstdp_task.py`` runs the task with and without a baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..arrays import AbstractPlasticArray, Dense, PlasticDense
from ..crossbar import Crossbar, preset as crossbar_preset
from ..network import Layer, Network
from ..neurons import LIF
from ..plasticity import RewardSTDP, set_reward
from ..simulate import simulate
from ..stimulus import Impulses
from ._config import JsonConfig
from .layout import add_crossbar_argument, add_old_crossbar_aliases, check_crossbar_preset, crossbar_from_args, \
    migrated_crossbar_keys
from ._method import Method, cli_type
from .learner import AbstractLearner
from .predict import Predict, image_keys

__all__ = ["RSTDP", "RstdpConfig", "RstdpLearner", "RstdpNet", "build_rstdp", "rstdp_predict"]



@dataclasses.dataclass(frozen=True)
class RstdpConfig(JsonConfig):
    """The R-STDP classifier (stored in checkpoints as JSON).

    Attributes:
        n_inputs, n_classes: input features and classes.
        per_class: output neurons per class (the decision sums their spikes).
        dt: time step (s).
        t_present, t_reward: presentation and credit periods of an episode (s).
        max_rate: Poisson rate (Hz) of a feature of value 1.
        w_init, w_max: initial weights uniform in ``[0, w_init]``, bounded in ``[0, w_max]``
            (membrane jump per input spike, units of the threshold).
        a_plus, a_minus, tau_stdp: the STDP window of the eligibility.
        tau_eligibility: eligibility time constant (s).
        learning_rate: ``gamma`` (weight per unit modulator and eligibility, per s).
        reward_correct, reward_wrong: the rewards of a correct and a wrong decision.
        baseline_rate: how fast the baseline follows the rewards (``None``: no baseline, ``b = 0``).
        crossbar: ``None`` (ideal weights) or a :func:`memsnn.crossbar.preset` name (its devices;
            ``--crossbar PRESET``). Configs with the old ``array`` / ``crossbar_preset`` keys are
            migrated on read (:meth:`from_dict`).
    """

    n_inputs: int = 784
    n_classes: int = 10
    per_class: int = 1
    dt: float = 1e-3
    t_present: float = 0.1
    t_reward: float = 0.1
    max_rate: float = 50.0
    w_init: float = 0.2
    w_max: float = 0.5
    a_plus: float = 1.0
    a_minus: float = 1.05
    tau_stdp: float = 20e-3
    tau_eligibility: float = 0.1
    learning_rate: float = 0.05
    reward_correct: float = 1.0
    reward_wrong: float = 0.0
    baseline_rate: float | None = 0.05
    crossbar: str | None = None

    @classmethod
    def from_dict(cls, d: dict) -> "RstdpConfig":
        """The config of ``d``; the old ``array`` / ``crossbar_preset`` keys become ``crossbar``."""
        return super().from_dict(migrated_crossbar_keys(d, cls.__name__))

    def __post_init__(self):
        for name in ("n_inputs", "n_classes", "per_class"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"RstdpConfig: {name} must be a positive integer, got {value!r}.")
        for name in ("dt", "t_present", "t_reward", "max_rate", "w_init", "w_max", "tau_stdp", "tau_eligibility",
                     "learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"RstdpConfig: {name} must be > 0, got {getattr(self, name)!r}.")
        if self.max_rate * self.dt > 1:
            raise ValueError(f"RstdpConfig: max_rate * dt must be <= 1 (a Bernoulli draw per step), got "
                             f"{self.max_rate} Hz * {self.dt} s.")
        if self.baseline_rate is not None and not 0 < self.baseline_rate <= 1:
            raise ValueError(f"RstdpConfig: baseline_rate must lie in (0, 1] or be None, got {self.baseline_rate!r}.")
        if self.crossbar is not None:
            check_crossbar_preset("RstdpConfig", self.crossbar)

    def steps(self, period: float) -> int:
        return max(1, int(round(period / self.dt)))

    @property
    def n_neurons(self) -> int:
        return self.n_classes * self.per_class


class RstdpNet(eqx.Module):
    """The classifier and what it learned.

    Attributes:
        config: the :class:`RstdpConfig`.
        array: the plastic array ``(n_neurons, n_inputs)``.
        neuron: the LIF neurons (membrane jump = input weight, threshold 1).
        rule: the reward-modulated rule.
        array_state: the learned state of the array (weights, or device states of a crossbar).
        baseline: the reward baseline ``b`` (0 without one).
    """

    config: RstdpConfig = eqx.field(static=True)
    array: AbstractPlasticArray
    neuron: LIF
    rule: RewardSTDP
    array_state: Any
    baseline: Float[Array, ""]

    def network(self, learning: bool = True) -> Network:
        if learning:
            return Network([Layer(self.array, None, self.neuron, plasticity=self.rule)])
        return Network([Layer(Dense(self.weights()), None, self.neuron)])

    def weights(self) -> Float[Array, "n_neurons n_inputs"]:
        return self.array.weights(self.array_state)


def build_rstdp(config: RstdpConfig | dict, *, key: PRNGKeyArray) -> RstdpNet:
    """A fresh classifier: weights uniform in ``[0, w_init]``, baseline 0."""
    c = config if isinstance(config, RstdpConfig) else RstdpConfig.from_dict(config)
    weight = jax.random.uniform(key, (c.n_neurons, c.n_inputs), maxval=c.w_init)
    if c.crossbar is None:
        array = PlasticDense(weight, w_min=0.0, w_max=c.w_max)
    else:
        array = Crossbar(weight, **crossbar_preset(c.crossbar, w_max=c.w_max)._asdict())
    tau_m = 20e-3
    neuron = LIF(tau=tau_m, resistance=tau_m, threshold=1.0, reset="zero")  # charge q moves v by q
    rule = RewardSTDP(c.n_inputs, a_plus=c.a_plus, a_minus=c.a_minus, tau_plus=c.tau_stdp, tau_minus=c.tau_stdp,
                      learning_rate=c.learning_rate, tau_eligibility=c.tau_eligibility,
                      baseline_rate=c.baseline_rate)
    return RstdpNet(c, array, neuron, rule, array.init_state(c.n_neurons), jnp.zeros(()))


def _poisson(key, x, config: RstdpConfig, n_steps: int):
    p = jnp.clip(x * config.max_rate * config.dt, 0.0, 1.0)
    return jax.random.bernoulli(key, p[:, None, :], (x.shape[0], n_steps, x.shape[1])).astype(jnp.float32)


def _decide(config: RstdpConfig, counts: Float[Array, "B n"]) -> Int[Array, " B"]:
    """The class with the most spikes; ``n_classes`` (wrong for every label) on a tie for the first
    place (not -1, which is :data:`~memsnn.training.learner.FAILED`)."""
    per_class = jnp.sum(counts.reshape(counts.shape[0], config.n_classes, config.per_class), axis=-1)
    top = jnp.max(per_class, axis=-1, keepdims=True)
    tie = jnp.sum(per_class == top, axis=-1) > 1
    return jnp.where(tie, config.n_classes, jnp.argmax(per_class, axis=-1)).astype(jnp.int32)


def learn_episodes(model: RstdpNet, images: Float[Array, "B n_in"], labels: Int[Array, " B"], key: PRNGKeyArray):
    """Episodes in order (module docstring): ``(model, decisions (B,), rewards (B,), failed (B,))``."""
    c = model.config
    network = model.network(learning=True)
    n_present, n_reward = c.steps(c.t_present), c.steps(c.t_reward)
    silence = Impulses(jnp.zeros((1, n_reward, c.n_inputs), jnp.float32))

    def episode(carry, inputs):
        array_state, baseline = carry
        image, label, k = inputs
        fresh = network.init_state()
        traces = fresh[0].plasticity
        if c.baseline_rate is not None:
            traces = traces._replace(baseline=baseline)
        layer = fresh[0]._replace(array=array_state, plasticity=traces)
        state = jax.tree.map(lambda x: x[None], (layer,))
        noise = jax.random.fold_in(k, 1) if network.stochastic else None
        spikes = _poisson(k, image[None], c, n_present)
        shown = simulate(network, Impulses(spikes), dt=c.dt, n_steps=n_present, initial_state=state,
                         record="spikes", throw=False, key=noise)
        decision = _decide(c, jnp.sum(shown.spikes[0], axis=1))[0]
        reward = jnp.where(decision == label, c.reward_correct, c.reward_wrong)
        # Credit to the deciding class's neurons only: the others' eligibility is cleared.
        winner = jnp.repeat(jnp.arange(c.n_classes) == decision, c.per_class).astype(jnp.float32)
        layer = shown.final_state[0]
        traces = layer.plasticity._replace(eligibility=layer.plasticity.eligibility * winner[None, :, None])
        state = set_reward((layer._replace(plasticity=traces),), 0, reward)
        credited = simulate(network, silence, dt=c.dt, n_steps=n_reward, initial_state=state, record=(),
                            throw=False, key=None if noise is None else jax.random.fold_in(k, 2))
        final = credited.final_state[0]
        failed = (shown.result[0] != 0) | (credited.result[0] != 0)
        # A failed episode (non-finite state) is dropped, so it cannot poison the weights.
        new_array = jax.tree.map(lambda new, old: jnp.where(failed, old, new[0]), final.array, array_state)
        new_baseline = baseline if c.baseline_rate is None else jnp.where(failed, baseline,
                                                                           final.plasticity.baseline[0])
        return (new_array, new_baseline), (decision, reward, failed)

    keys = jax.random.split(key, images.shape[0])
    (array_state, baseline), (decisions, rewards, failed) = jax.lax.scan(
        episode, (model.array_state, model.baseline), (images, labels.astype(jnp.int32), keys))
    model = eqx.tree_at(lambda m: (m.array_state, m.baseline), model, (array_state, baseline))
    return model, decisions, rewards, failed


def rstdp_predict(model: RstdpNet, images, *, key, throw: bool = True) -> Int[Array, " B"]:
    """Decisions ``(B,)`` for ``images`` ``(B, n_inputs)`` with learning off (``n_classes`` on a
    tie: counted wrong).

    ``key``: ``(B,)`` keys, one per image (:func:`~memsnn.training.predict.image_keys` of the
    images' indices in the data set, as :func:`~memsnn.training.evaluate` passes them), or one key:
    image ``i`` of ``images`` then gets ``fold_in(key, i)``. An image's Poisson spikes (and the
    noise of a stochastic array) depend on its key only, so its decision does not depend on the
    batch it is evaluated in.
    """
    c = model.config
    n = c.steps(c.t_present)
    keys = image_keys(key, jnp.arange(images.shape[0])) if key.shape == () else key
    if keys.shape != (images.shape[0],):
        raise ValueError(f"rstdp_predict: key must be one PRNG key or one per image ({images.shape[0]},), got "
                         f"keys of shape {keys.shape}.")
    spikes = jax.vmap(lambda k, x: _poisson(jax.random.fold_in(k, 0), x[None], c, n)[0])(keys, images)
    network = model.network(learning=False)
    noise = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys) if network.stochastic else None
    trace = simulate(network, Impulses(spikes), dt=c.dt, n_steps=n, record="spikes", throw=throw, key=noise)
    return _decide(c, jnp.sum(trace.spikes[0], axis=1))


class RstdpLearner(AbstractLearner):
    """R-STDP episodes as a learner of :func:`~memsnn.training.fit` (:func:`learn_episodes`).

    Metrics: ``acc`` (the decisions of the episodes, made before each one's credit), ``reward``
    and ``baseline`` (after the batch), ``failed`` (episodes dropped).
    """

    def init(self, model):
        return None

    def updated(self, model):
        spec = jax.tree.map(lambda _: False, model)
        return eqx.tree_at(lambda m: (m.array_state, m.baseline), spec,
                           replace=(jax.tree.map(lambda _: True, model.array_state), True))

    def step(self, model, state, images, labels, key, *, throw=True):
        model, decisions, rewards, failed = learn_episodes(model, images, labels, key)
        metrics = {"acc": jnp.mean(decisions == labels), "reward": jnp.mean(rewards),
                   "baseline": model.baseline, "failed": jnp.mean(failed.astype(jnp.float32))}
        return model, state, metrics

    def evaluate(self, model, images, key, *, throw=True):
        return rstdp_predict(model, images, key=key, throw=throw)

    def predictor(self):
        # Keyed per image: the test accuracy does not depend on the evaluation batch size.
        return Predict(self.evaluate, per_image_keys=True)


def _rstdp_loss(model, images, labels, *, key, throw=True):
    raise ValueError("rstdp: reward-modulated STDP learns without a loss; train it with RstdpLearner "
                     "(memsnn train --method rstdp does).")


def _arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--per-class", type=cli_type(int, low=1, integer=True), metavar="N",
                       help="output neurons per class (default 1)")
    group.add_argument("--baseline-rate", type=cli_type(float, low=0, high=1), metavar="ETA",
                       help="reward baseline b <- b + ETA (r - b) (default 0.05; 0: no baseline)")
    add_crossbar_argument(group, "the synapses", training="learn on them with the rule")
    add_old_crossbar_aliases(group)


def _config_from_args(args: argparse.Namespace) -> dict:
    given = {"per_class": getattr(args, "per_class", None)}
    config = {**{k: v for k, v in given.items() if v is not None}, **crossbar_from_args(args, "rstdp")}
    rate = getattr(args, "baseline_rate", None)
    if rate is not None:
        config["baseline_rate"] = None if rate == 0 else rate
    return config


RSTDP = Method(
    name="rstdp",
    summary="reward-modulated STDP with a reward baseline, dw = gamma e (r - b) (Florian 2007, Izhikevich 2007)",
    model_config=lambda overrides: RstdpConfig.from_dict(overrides).to_dict(),
    build=build_rstdp,
    loss=_rstdp_loss,
    predict=Predict(rstdp_predict, per_image_keys=True),
    trainable=lambda model: RstdpLearner().updated(model),
    add_arguments=_arguments,
    config_from_args=_config_from_args,
    # lr, schedule, weight_decay and clip_norm are not used (the rule's rate is learning_rate).
    defaults={"epochs": 1, "batch_size": 50, "lr": 1e-3, "schedule": "constant", "weight_decay": 0.0,
              "clip_norm": None, "eval_batch_size": 100},
    learner=lambda model, config: RstdpLearner(),
)
