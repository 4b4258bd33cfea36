"""The Tempotron (Gütig & Sompolinsky 2006): a LIF neuron that classifies spike-time patterns.

Each afferent ``i`` spikes at times ``t_i``; the neuron's potential is a sum of post-synaptic
potentials::

    V(t) = sum_i w_i sum_{t_i < t} K(t - t_i) + V_rest,
    K(t) = V0 (exp(-t / tau) - exp(-t / tau_s)),                  (V0 normalises max K to 1)

and the neuron "fires" for a pattern when ``V`` reaches the threshold ``V_thr`` within the
pattern's window. Learning: when a pattern that should make it fire does not (a P+ error) or one
that should not does (a P- error), every weight moves by::

    dw_i = +- lambda sum_{t_i < t_max} K(t_max - t_i),           t_max: the time of max V

That is gradient descent on the cost ``E = sum_errors |V_thr - V(t_max)|`` (Gütig & Sompolinsky,
eq. 3): ``dV(t_max)/dw_i`` is exactly the sum of the afferent's kernels at ``t_max``. memsnn writes
it that way: ``K`` is the membrane of a :class:`~memsnn.LIF` (``tau``, no reset) driven by an
:class:`~memsnn.ExponentialSynapse` (``tau_s``) with ``R = V0 (tau - tau_s) / tau_s``, simulated by
:func:`memsnn.simulate`; the loss is the cost above, and its gradient through the simulation is the
Tempotron rule (``tests/test_tempotron.py`` checks it against the closed form for one input spike).
Plain SGD with learning rate ``lambda`` and momentum ``mu`` (``optax.sgd``) is the paper's
learning with its momentum heuristic, applied per batch of patterns (``batch_size=1``: the paper's
pattern-by-pattern learning).

Only whether the neuron fires matters, so its potential is not reset (the paper shunts the inputs
after the first spike; that changes nothing before it, and ``t_max`` of an erroneous P- pattern
is taken on the unshunted potential, as in SpikingJelly's Tempotron). ``t_max`` is sought after
the first input spike has landed: before it ``V`` is at rest and has no gradient, so a "fire"
pattern whose potential stays below rest would take its maximum there and never be learnt (it
blocked error-free learning at load 1 in the capacity benchmark).

Multi-class: one Tempotron per class (``n_classes > 2``), each trained to fire for its class only;
the predicted class is the Tempotron with the highest maximal potential. ``n_classes = 2``: one
Tempotron, class 1 = it fires.

Inputs: each feature ``x_i`` in ``[0, 1]`` is one spike of afferent ``i`` at
``t_i = (1 - x_i) t_window`` (latency code: large values early); ``x_i <= 0`` is no spike. Spike
times are rounded down to the grid ``dt`` (an impulse at step ``k`` lands at ``(k + 1) dt``,
docs/architecture.md). The default integrator is a fixed-step Tsit5 (diffrax), accurate to ~1e-6
of ``K`` at ``dt = tau_s / 8``.

It is ``memsnn train --method tempotron`` (:data:`memsnn.training.METHODS`); the capacity
benchmark (``benchmarks/tempotron_capacity.py``) calls :func:`memsnn.training.fit` with it on
random patterns.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..arrays import AbstractSynapseArray, Dense
from ..crossbar import Crossbar, preset as crossbar_preset
from ..integrators import Diffrax, Euler
from ..network import Layer, Network
from ..neurons import LIF
from ..simulate import simulate
from ..stimulus import Impulses
from ..synapses import ExponentialSynapse
from ._config import JsonConfig
from ._method import Method, cli_type
from .layout import add_crossbar_argument, check_crossbar_preset, crossbar_from_args
from .learner import AbstractLearner, GradientLearner, apply_updates, failed_where_nonfinite, weight_gradients, \
    weight_view

__all__ = ["TEMPOTRON", "OnlineTempotronLearner", "TempotronConfig", "Tempotron", "build_tempotron", "kernel", "latency_impulses",
           "tempotron_learner", "tempotron_loss", "tempotron_predict", "tempotron_trainable"]

SOLVERS = ("tsit5", "euler")
POTENTIALS = ("simulate", "superposition")


@dataclasses.dataclass(frozen=True)
class TempotronConfig(JsonConfig):
    """A Tempotron (or one per class), stored in checkpoints as JSON.

    Attributes:
        n_inputs: afferents.
        n_classes: 2 (one Tempotron: class 1 = it fires) or more (one Tempotron per class).
        tau, tau_s: membrane and synaptic time constants of the kernel (s); ``tau_s=None``:
            ``tau / 4`` (the paper's).
        t_window: duration of a pattern (s).
        dt: grid step (s); spike times are rounded down to it.
        threshold: ``V_thr`` relative to ``V_rest`` (the paper: 1, weights in its units).
        w_init_std: initial weights are Gaussian, mean 0, this standard deviation (the paper: 1e-3).
        momentum: ``mu`` of the momentum heuristic (the paper: 0.99), used by the learner.
        solver: ``"tsit5"`` (fixed-step diffrax Tsit5, accurate) or ``"euler"``.
        potential: how ``V(t)`` is computed. ``"simulate"``: the whole network through
            :func:`memsnn.simulate` for every pattern (any synapse array). ``"superposition"``: the
            neuron has no reset and the synapse is linear, so ``V`` is the sum of the afferents'
            kernels: the kernel ``K`` on the grid is simulated once (the membrane's response to one
            impulse, by :func:`memsnn.simulate` with ``solver``) and every pattern's potential is
            its weighted spikes convolved with it (a Toeplitz matrix product): the same grid values
            up to rounding, for an ideal :class:`~memsnn.Dense` array without bias only.
        dtype: ``"float32"`` or ``"float64"``.
        crossbar: ``None`` (ideal weights, a :class:`~memsnn.Dense`) or a
            :func:`memsnn.crossbar.preset` name: the efficacies are held by one chip of that
            preset's devices (a :class:`~memsnn.crossbar.ProgrammedCrossbar`, read through the
            crossbar in every simulation), and every learning step is programmed into them as
            device pulses (:func:`memsnn.training.apply_updates`). Needs ``potential="simulate"``.
        crossbar_w_max: the efficacy mapped to a device's full conductance range.
    """

    n_inputs: int = 500
    n_classes: int = 2
    tau: float = 15e-3
    tau_s: float | None = None
    t_window: float = 0.5
    dt: float = 0.5e-3
    threshold: float = 1.0
    w_init_std: float = 1e-3
    momentum: float = 0.99
    solver: str = "tsit5"
    dtype: str = "float32"
    potential: str = "simulate"
    crossbar: str | None = None
    crossbar_w_max: float = 0.1

    def __post_init__(self):
        for name in ("n_inputs", "n_classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (2 if name == "n_classes" else 1):
                raise ValueError(f"TempotronConfig: {name} must be an integer >= "
                                 f"{2 if name == 'n_classes' else 1}, got {value!r}.")
        for name in ("tau", "t_window", "dt", "threshold"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TempotronConfig: {name} must be > 0, got {getattr(self, name)!r}.")
        if self.tau_s is not None and not 0 < self.tau_s < self.tau:
            raise ValueError(f"TempotronConfig: tau_s must lie in (0, tau) = (0, {self.tau}) s (the kernel's rise "
                             f"is the faster time constant), got {self.tau_s!r}; None gives tau / 4.")
        if not self.w_init_std >= 0:
            raise ValueError(f"TempotronConfig: w_init_std must be >= 0, got {self.w_init_std!r}.")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"TempotronConfig: momentum must lie in [0, 1), got {self.momentum!r}.")
        if self.solver not in SOLVERS:
            raise ValueError(f"TempotronConfig: solver must be one of {SOLVERS}, got {self.solver!r}.")
        if self.potential not in POTENTIALS:
            raise ValueError(f"TempotronConfig: potential must be one of {POTENTIALS}, got {self.potential!r}.")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"TempotronConfig: dtype must be 'float32' or 'float64', got {self.dtype!r}.")
        if self.crossbar is not None:
            check_crossbar_preset("TempotronConfig", self.crossbar)
            if self.potential != "simulate":
                raise ValueError("TempotronConfig: crossbar synapses are read through the crossbar in every "
                                 "simulation; use potential='simulate' (superposition sums ideal kernels).")
        if not self.crossbar_w_max > 0:
            raise ValueError(f"TempotronConfig: crossbar_w_max must be > 0, got {self.crossbar_w_max!r}.")
        if self.n_steps < 2:
            raise ValueError(f"TempotronConfig: t_window / dt must give at least 2 steps, got "
                             f"t_window={self.t_window}, dt={self.dt}.")

    @property
    def synaptic_tau(self) -> float:
        return self.tau / 4 if self.tau_s is None else self.tau_s

    @property
    def n_steps(self) -> int:
        return int(round(self.t_window / self.dt))

    @property
    def n_tempotrons(self) -> int:
        return 1 if self.n_classes == 2 else self.n_classes


def kernel_peak(tau: float, tau_s: float) -> tuple[float, float]:
    """``(t_peak, V0)``: the time of the kernel's maximum and the normalisation making it 1."""
    t_peak = tau * tau_s * math.log(tau / tau_s) / (tau - tau_s)
    return t_peak, 1.0 / (math.exp(-t_peak / tau) - math.exp(-t_peak / tau_s))


def kernel(t, tau: float, tau_s: float):
    """The normalised PSP kernel ``K(t)`` (0 for ``t < 0``; max 1 at ``t_peak``)."""
    _, v0 = kernel_peak(tau, tau_s)
    t = jnp.asarray(t)
    return jnp.where(t > 0, v0 * (jnp.exp(-t / tau) - jnp.exp(-t / tau_s)), 0.0)


def _spike_steps(x, n_steps: int):
    """The grid step of each feature's spike: ``floor((1 - x) n_steps)``, clipped to the run."""
    return jnp.clip(jnp.floor((1.0 - jnp.asarray(x)) * n_steps).astype(jnp.int32), 0, n_steps - 1)


def latency_impulses(x: Float[Array, "batch n_in"], n_steps: int, dtype=None) -> Impulses:
    """One spike per feature at step ``floor((1 - x) n_steps)`` (clipped to the run), none where
    ``x <= 0``: dense :class:`~memsnn.Impulses` ``(batch, n_steps, n_in)`` of 0/1."""
    x = jnp.asarray(x)
    step = _spike_steps(x, n_steps)
    onehot = jax.nn.one_hot(step, n_steps, dtype=dtype or x.dtype) * (x > 0)[..., None]
    return Impulses(jnp.swapaxes(onehot, 1, 2))


class Tempotron(eqx.Module):
    """One Tempotron per class (one for two classes): an array and the kernel's LIF + synapse.

    Attributes:
        config: the :class:`TempotronConfig`.
        array: ``(n_tempotrons, n_inputs)`` synaptic efficacies (units of ``threshold``); an ideal
            :class:`~memsnn.Dense` or any synapse array.
        synapse, neuron: the kernel (``tau_s``) and the membrane (``tau``, no reset).
    """

    config: TempotronConfig = eqx.field(static=True)
    array: AbstractSynapseArray
    synapse: ExponentialSynapse
    neuron: LIF

    def network(self) -> Network:
        return Network([Layer(self.array, self.synapse, self.neuron)])

    def _solver(self):
        return Diffrax(diffrax.Tsit5()) if self.config.solver == "tsit5" else Euler()

    def kernel_matrix(self) -> Float[Array, "n_steps n_steps"]:
        """``M[k, j] = K((j - k) dt)``: the potential at grid time ``(j + 1) dt`` of one unit
        impulse given at step ``k`` (it lands at ``(k + 1) dt``); ``K`` is the membrane of this
        Tempotron's synapse and neuron after one impulse, simulated once by :func:`memsnn.simulate`."""
        c = self.config
        dtype = self.neuron.tau.dtype
        one = Network([Layer(Dense(jnp.ones((1, 1), dtype)), self.synapse, self.neuron)])
        impulse = Impulses(jnp.zeros((1, c.n_steps, 1), dtype).at[0, 0, 0].set(1.0))
        trace = simulate(one, impulse, dt=c.dt, n_steps=c.n_steps, solver=self._solver(),
                         record=("membrane_potential",))
        k = trace.membrane_potential[0][0, :, 0] - self.neuron.v_rest
        lag = jnp.arange(c.n_steps)[None, :] - jnp.arange(c.n_steps)[:, None]
        return jnp.where(lag >= 0, k[jnp.clip(lag, 0, c.n_steps - 1)], 0.0)

    def potential(self, x: Float[Array, "batch n_in"], *, key=None, throw: bool = True,
                  kernel_matrix: Float[Array, "n_steps n_steps"] | None = None
                  ) -> Float[Array, "batch n_steps n_tempotrons"]:
        """Membrane potential over the window (V relative to rest, units of the threshold).

        ``kernel_matrix``: :meth:`kernel_matrix`, computed once by the caller for many calls
        (``potential="superposition"`` only; computed here when ``None``)."""
        c = self.config
        if c.potential == "superposition":
            if type(self.array) is not Dense or self.array.bias is not None:
                raise ValueError(f"Tempotron: potential='superposition' needs an ideal Dense array without bias (a "
                                 f"linear sum of kernels); this one is {type(self.array).__name__}: use "
                                 f"potential='simulate'.")
            m = self.kernel_matrix() if kernel_matrix is None else kernel_matrix
            x = jnp.asarray(x)
            step = _spike_steps(x, c.n_steps)
            w = self.array.weight.T  # (n_in, n_tempotrons)
            amp = w[None] * (x > 0)[..., None].astype(w.dtype)  # (batch, n_in, n_tempotrons)
            rows = jnp.broadcast_to(jnp.arange(x.shape[0])[:, None], step.shape)
            drive = jnp.zeros((x.shape[0], c.n_steps, w.shape[1]), w.dtype).at[rows, step].add(amp)
            return jnp.einsum("bkc,kj->bjc", drive, m.astype(w.dtype))
        trace = simulate(self.network(), latency_impulses(x, c.n_steps, self.neuron.tau.dtype), dt=c.dt,
                         n_steps=c.n_steps, solver=self._solver(), record=("membrane_potential",), key=key,
                         throw=throw)
        return trace.failed_as_nan(trace.membrane_potential[0]) - self.neuron.v_rest

    def max_potential(self, x, *, key=None, throw: bool = True, kernel_matrix=None
                      ) -> Float[Array, "batch n_tempotrons"]:
        """``V(t_max)`` per pattern and Tempotron; its gradient is the Tempotron rule's ``sum K(t_max - t_i)``."""
        v = self.potential(x, key=key, throw=throw, kernel_matrix=kernel_matrix)
        # Until the first input has landed and begun to move V (grid steps up to the first spike's),
        # V is at rest and carries no gradient: a pattern whose V stays below rest would otherwise
        # take its maximum there, t_max would be that rest, and the rule could never correct it.
        first = jnp.min(jnp.where(jnp.asarray(x) > 0, _spike_steps(x, self.config.n_steps), self.config.n_steps),
                        axis=1)
        after = jnp.arange(self.config.n_steps)[None, :] > first[:, None]
        any_after = jnp.any(after, axis=1, keepdims=True)
        return jnp.where(any_after, jnp.max(jnp.where(after[..., None], v, -jnp.inf), axis=1), 0.0)


def build_tempotron(config: TempotronConfig | dict, *, key: PRNGKeyArray) -> Tempotron:
    """A fresh Tempotron: Gaussian weights ``N(0, w_init_std^2)``; with ``crossbar``, programmed
    into one chip of the preset (programming noise drawn from ``key``)."""
    c = config if isinstance(config, TempotronConfig) else TempotronConfig.from_dict(config)
    dtype = jnp.float64 if c.dtype == "float64" else jnp.float32
    tau_s = c.synaptic_tau
    _, v0 = kernel_peak(c.tau, tau_s)
    weight = c.w_init_std * jax.random.normal(key, (c.n_tempotrons, c.n_inputs), dtype)
    neuron = LIF(tau=c.tau, resistance=v0 * (c.tau - tau_s) / tau_s, threshold=c.threshold, reset="none")
    array = Dense(weight)
    if c.crossbar is not None:
        bar = Crossbar(weight, **crossbar_preset(c.crossbar, w_max=c.crossbar_w_max)._asdict())
        array = bar.programmed(key=jax.random.fold_in(key, 1))
    model = Tempotron(c, array, ExponentialSynapse(tau_s), neuron)
    return jax.tree.map(lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x, model)


def _targets(config: TempotronConfig, labels: Int[Array, " batch"]) -> Float[Array, "batch n_tempotrons"]:
    labels = labels.astype(jnp.int32)
    if config.n_classes == 2:
        return (labels == 1)[:, None].astype(float)
    return jax.nn.one_hot(labels, config.n_classes)


def _predict_from(config: TempotronConfig, vmax):
    if config.n_classes == 2:
        return (vmax[:, 0] >= config.threshold).astype(jnp.int32)
    return jnp.argmax(vmax, axis=-1).astype(jnp.int32)


def tempotron_loss(model: Tempotron, images: Float[Array, "batch n_in"], labels: Int[Array, " batch"], *,
                   key: PRNGKeyArray | None = None, throw: bool = True, kernel_matrix=None):
    """Gütig & Sompolinsky's cost, summed over the batch and the Tempotrons:
    ``(V_thr - V(t_max))_+`` for a Tempotron that should fire, ``(V(t_max) - V_thr)_+`` for one
    that should not; and the predicted classes. Its gradient is the Tempotron rule (summed over
    the batch's errors)."""
    c = model.config
    vmax = model.max_potential(images, key=key, throw=throw, kernel_matrix=kernel_matrix)
    target = _targets(c, labels).astype(vmax.dtype)
    theta = model.neuron.threshold
    cost = target * jax.nn.relu(theta - vmax) + (1 - target) * jax.nn.relu(vmax - theta)
    return jnp.sum(cost), failed_where_nonfinite(_predict_from(c, vmax), vmax)


def tempotron_predict(model: Tempotron, images, *, key=None, throw: bool = True) -> Int[Array, " batch"]:
    """Class 1 if the Tempotron fires (two classes), else the Tempotron with the highest ``V(t_max)``."""
    vmax = model.max_potential(images, key=key, throw=throw)
    return failed_where_nonfinite(_predict_from(model.config, vmax), vmax)


def tempotron_trainable(model: Tempotron):
    """Filter spec: the synaptic efficacies only (the kernel is the neuron's physics)."""
    spec = jax.tree.map(lambda _: False, model)
    return eqx.tree_at(lambda m: m.array, spec, replace=jax.tree.map(eqx.is_inexact_array, model.array))


class OnlineTempotronLearner(AbstractLearner):
    """The paper's learning, pattern by pattern: a ``fit`` step presents the batch's patterns one
    after another (a ``lax.scan``), and after each error every weight moves by
    ``dw = lambda sum_{t_i < t_max} K(t_max - t_i) + mu dw_prev`` (the gradient of the pattern's
    cost, plus the momentum heuristic of Gütig & Sompolinsky: the previous update, carried from
    error to error; correct patterns change nothing). With several Tempotrons (multi-class) an
    error of any of them counts as an error trial for the momentum of all.

    One step over the whole training set (``batch_size = P``) is one learning cycle: ``fit``'s
    ``train_acc`` is then the fraction of patterns classified correctly when presented, and an
    error-free cycle (``train_acc == 1``) is the paper's stopping criterion.

    On synapses held by devices (``TempotronConfig.crossbar``) each error's ``dw`` is programmed
    into them as pulses (:func:`memsnn.training.apply_updates`); the momentum carries the requested
    ``dw``, not the change the devices reached.

    Attributes:
        lr: ``lambda`` (units of the threshold per unit kernel).
        momentum: ``mu`` (0: none).
        trainable: filter spec of the trained leaves (:func:`tempotron_trainable`).
    """

    lr: float
    momentum: float
    trainable: Any

    def init(self, model):
        return jax.tree.map(jnp.zeros_like, weight_view(eqx.filter(model, self.trainable)))

    def updated(self, model):
        return self.trainable

    def step(self, model, state, images, labels, key, *, throw=True):
        params, frozen = eqx.partition(model, self.trainable)
        m = model.kernel_matrix() if model.config.potential == "superposition" else None
        noise_key, write_key = jax.random.fold_in(key, 1), jax.random.fold_in(key, 2)

        def cost(p, x, y, k):
            return tempotron_loss(eqx.combine(p, frozen), x[None], y[None], key=k, throw=throw, kernel_matrix=m)

        def one(carry, xyi):
            p, velocity = carry
            x, y, i = xyi
            (loss, prediction), grads = eqx.filter_value_and_grad(cost, has_aux=True)(
                p, x, y, jax.random.fold_in(noise_key, i))
            error = loss > 0
            velocity = jax.tree.map(lambda g, v: jnp.where(error, -self.lr * g + self.momentum * v, v),
                                    weight_gradients(p, grads), velocity)
            change = jax.tree.map(lambda v: jnp.where(error, v, 0.0), velocity)
            p = apply_updates(p, change, key=jax.random.fold_in(write_key, i))
            return (p, velocity), (loss, prediction[0] == y)

        index = jnp.arange(labels.shape[0])
        (params, state), (losses, correct) = jax.lax.scan(one, (params, state), (images, labels, index))
        return eqx.combine(params, frozen), state, {"loss": jnp.mean(losses), "acc": jnp.mean(correct)}

    def evaluate(self, model, images, key, *, throw=True):
        return tempotron_predict(model, images, key=key, throw=throw)


def tempotron_learner(model: Tempotron, config: dict) -> GradientLearner | OnlineTempotronLearner:
    """The Tempotron rule with learning rate ``lambda`` (the run's ``lr``) and the paper's
    momentum heuristic (``model.config.momentum``) on :func:`tempotron_loss`.

    ``config["online"]`` true: :class:`OnlineTempotronLearner` (pattern by pattern within each
    batch, the paper's learning); otherwise SGD on the batch's summed cost (``optax.sgd`` with
    momentum ``mu``, applied once per batch)."""
    lr = config["optimizer"]["lr"]
    mu = model.config.momentum
    if config.get("online"):
        return OnlineTempotronLearner(lr, mu, tempotron_trainable(model))
    optimizer = optax.sgd(lr, momentum=mu if mu > 0 else None)
    return GradientLearner(tempotron_loss, tempotron_predict, optimizer, tempotron_trainable(model))


def _arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--tau", type=cli_type(float, low=0, low_open=True), metavar="S",
                       help="membrane time constant of the kernel (default 0.015 s; tau_s = tau / 4)")
    group.add_argument("--t-window", type=cli_type(float, low=0, low_open=True), metavar="S",
                       help="pattern duration; a feature x is one spike at (1 - x) t_window (default 0.5 s)")
    group.add_argument("--dt", type=cli_type(float, low=0, low_open=True), metavar="S",
                       help="grid step (default 0.5 ms)")
    group.add_argument("--momentum", type=cli_type(float, low=0, high=1), metavar="MU",
                       help="momentum of the learning heuristic (default 0.99, the paper's)")
    add_crossbar_argument(group, "the synapses", training="learn on them (each step programmed as device pulses)")


def _config_from_args(args: argparse.Namespace) -> dict:
    given = {"tau": getattr(args, "tau", None), "t_window": getattr(args, "t_window", None),
             "dt": getattr(args, "dt", None), "momentum": getattr(args, "momentum", None)}
    return {**{k: v for k, v in given.items() if v is not None}, **crossbar_from_args(args, "tempotron")}


def _model_config(overrides: dict) -> dict:
    # MNIST-like datasets: 784 afferents and 10 classes unless the caller says otherwise.
    return TempotronConfig.from_dict({"n_inputs": 784, "n_classes": 10, **overrides}).to_dict()


TEMPOTRON = Method(
    name="tempotron",
    summary="Tempotron (Gütig & Sompolinsky 2006): one LIF per class, latency-coded inputs, the rule at t_max",
    model_config=_model_config,
    build=build_tempotron,
    loss=tempotron_loss,
    predict=tempotron_predict,
    trainable=tempotron_trainable,
    add_arguments=_arguments,
    config_from_args=_config_from_args,
    defaults={"epochs": 5, "batch_size": 50, "lr": 1e-3, "schedule": "constant", "weight_decay": 0.0,
              "clip_norm": None, "eval_batch_size": 500},
    learner=tempotron_learner,
)
