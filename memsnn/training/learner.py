"""Learners: what a training method does with one batch, behind one small protocol.

:func:`memsnn.training.fit` owns everything every method needs (batches, progress bars,
evaluation, logs, checkpoints, resume, the NaN guard, device placement); a learner owns only the
learning rule:

* ``init(model) -> state``: the learner's own state, a pytree of arrays (an optimiser state, STDP
  traces, or ``None``); it is checkpointed with the model.
* ``updated(model) -> filter``: which leaves of the model ``step`` changes (the rest is frozen).
* ``step(model, state, images, labels, key, *, throw) -> (model, state, metrics)``: learn from one
  batch. ``metrics`` maps names to scalar batch means (``"loss"``, ``"acc"``); ``fit`` averages them
  over the epoch and logs them as ``train_<name>``.
* ``evaluate(model, images, key, *, throw) -> predictions``: the predicted classes of a batch (test
  accuracy); ``key`` is for stochastic models (read noise of a crossbar), fixed per evaluation batch.

``throw`` says what a failed simulation inside them does (an unstable explicit step, NaN): raise
(``True``, as :func:`memsnn.simulate` does), or become data (``False``): a non-finite metric in
``step``, the class :data:`FAILED` in ``evaluate``. ``fit`` runs them with ``throw=False``, because
a batch split over several devices cannot raise safely (see ``throw`` in :func:`memsnn.simulate`),
and names the failure by repeating that batch on one device with ``throw=True``.

:class:`GradientLearner` (a loss, its gradient and an optax optimiser) serves SPICEprop and
surrogate gradients. A conversion method (no gradient through the SNN) or an STDP rule (local
updates, no optimiser) implements the same three methods and gets the rest of ``fit`` for free.

**One model or an ensemble.** ``fit`` drives an :class:`AbstractFitLearner`; how a step's data are
laid out and its step compiled is asked of the learner through a few hooks (``batch_sharding``,
``shard``, ``batch_size``, ``for_step``, ``augmenter``, ``step_key``, ``predictor``,
``failures``, ``ensemble``), never decided in ``fit`` by the learner's type. A learner of one model
subclasses :class:`AbstractLearner`, which implements the hooks for one model (a batch
``(B, ...)``); :class:`EnsembleLearner` implements them for ``K`` models on a member axis (a batch
``(K, B, ...)``, the learner of one model vmapped). ``fit(..., seed=[s0, s1])`` asks its learner
for ``learner.ensemble()``: a new kind of learner of several models needs no change in ``fit``.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..arrays import AbstractProgrammableArray
from .ensemble import MemberPredict, member, member_sharded, n_members, shard_members, shared_axes
from .predict import AbstractPredict, Predict, as_predict
from .sharding import shard_batch, sharded

__all__ = ["FAILED", "AbstractFitLearner", "AbstractLearner", "EnsembleLearner", "GradientLearner",
           "apply_updates", "failed_where_nonfinite", "make_optimizer", "weight_gradients", "weight_view"]

# loss_fn(model, images, labels, *, key, throw) and predict_fn(model, images, *, key, throw): the key
# drives the model's noise (e.g. crossbar read noise); deterministic models ignore it. With
# throw=False a failed simulation makes the loss NaN and the prediction FAILED instead of raising.
FAILED = -1  # the predicted "class" of a sample whose simulation failed (predict with throw=False)


def failed_where_nonfinite(predictions: Int[Array, " batch"], outputs: Float[Array, "batch ..."]
                           ) -> Int[Array, " batch"]:
    """``predictions`` with :data:`FAILED` for every sample whose ``outputs`` (the scores the
    prediction was read from, batch first) are not all finite: after a simulation run with
    ``throw=False``, :meth:`memsnn.Trace.failed_as_nan` made a failed sample's outputs NaN."""
    finite = jnp.all(jnp.isfinite(outputs), axis=tuple(range(1, outputs.ndim)))
    return jnp.where(finite, predictions, FAILED).astype(predictions.dtype)

def _programmable(x) -> bool:
    return isinstance(x, AbstractProgrammableArray)


def weight_view(params):
    """``params`` (a model, or its trainable part) with every
    :class:`~memsnn.arrays.AbstractProgrammableArray` replaced by the weights ``(n_out, n_in)`` it
    holds: the parameters a rule's step is computed on (an optimiser's state is shaped like them).
    A model without such arrays comes back unchanged."""
    return jax.tree.map(lambda x: x.weights(x.held_state) if _programmable(x) else x, params, is_leaf=_programmable)


def weight_gradients(params, grads):
    """The gradients ``grads`` of ``params`` (same structure) in :func:`weight_view`'s form: each
    programmable array's state gradient pulled back to its weights
    (:meth:`~memsnn.arrays.AbstractProgrammableArray.weight_gradient`); other leaves unchanged."""
    return jax.tree.map(lambda p, g: p.weight_gradient(g.held_state) if _programmable(p) else g, params, grads,
                        is_leaf=_programmable)


def apply_updates(params, updates, *, key: PRNGKeyArray | None = None):
    """``params`` after a rule's step ``updates`` (shaped like :func:`weight_view` of ``params``).

    A leaf gets ``p + u`` (as ``eqx.apply_updates``; ``None`` updates leave it). A programmable array
    gets its weight change programmed into its held state by its own update law
    (:meth:`~memsnn.arrays.AbstractProgrammableArray.programmed_by`): exact and bounded for a
    :class:`~memsnn.arrays.PlasticDense`, device pulses for a
    :class:`~memsnn.crossbar.ProgrammedCrossbar` (write noise drawn from ``key``, one key per array).
    """
    arrays = [x for x in jax.tree.leaves(params, is_leaf=_programmable) if _programmable(x)]
    keys = iter([None] * len(arrays) if key is None or not arrays else list(jax.random.split(key, len(arrays))))

    def one(p, u):
        if _programmable(p):
            return p.programmed_by(u, key=next(keys))
        return p if u is None else p + u

    return jax.tree.map(one, params, updates, is_leaf=_programmable)


LossFn = Callable[..., "tuple[jax.Array, jax.Array]"]
PredictFn = Callable[..., jax.Array]


class AbstractFitLearner(eqx.Module):
    """What :func:`memsnn.training.fit` drives: a learning rule and how its steps are laid out.

    ``init``, ``updated``, ``step`` and ``evaluate`` are the rule. The hooks below say how ``fit``
    places a step's data, compiles the step, evaluates and names a failure; :class:`AbstractLearner`
    implements them for one model, :class:`EnsembleLearner` for an ensemble (a member axis).

    ``step`` and ``evaluate`` run inside ``jit`` and are written for the whole batch, as on one
    device. When the batch is sharded over several devices (or processes), XLA partitions them and
    inserts the communication itself: a sum or mean over the batch (a gradient, a weight update)
    becomes a reduction over the devices. Nothing in a learner names the devices.
    """

    @abc.abstractmethod
    def init(self, model) -> Any:
        """The learner's state for ``model`` (a pytree of arrays, or ``None``)."""

    @abc.abstractmethod
    def updated(self, model) -> Any:
        """Filter spec of the leaves of ``model`` that ``step`` may change.

        The other leaves are compiled into the step as constants (as a frozen device model should
        be: XLA may fold them), and whatever ``step`` returns for them is ignored.
        """

    @abc.abstractmethod
    def step(self, model, state, images: Float[Array, "batch features"], labels: Int[Array, " batch"],
             key: PRNGKeyArray, *, throw: bool = True) -> tuple[Any, Any, dict[str, Array]]:
        """Learn from one batch: ``(model, state, metrics)`` with scalar batch-mean metrics.

        ``throw=False``: a failed simulation makes a metric non-finite instead of raising.
        """

    @abc.abstractmethod
    def evaluate(self, model, images: Float[Array, "batch features"], key: PRNGKeyArray, *,
                 throw: bool = True) -> Int[Array, " batch"]:
        """The predicted class of each image; ``key`` drives the model's noise, if it has any.

        ``throw=False``: a sample whose simulation failed gets the class :data:`FAILED`.
        """

    # -- hooks: how fit lays out and runs the steps ------------------------------------------

    @abc.abstractmethod
    def ensemble(self) -> "AbstractFitLearner":
        """The learner of an ensemble of this learner's models (``fit(..., seed=[...])``)."""

    @abc.abstractmethod
    def batch_sharding(self, mesh: Mesh) -> NamedSharding:
        """The sharding of a step's images and labels over ``mesh`` (the batch axis split)."""

    @abc.abstractmethod
    def shard(self, mesh: Mesh, *arrays: np.ndarray) -> tuple[jax.Array, ...]:
        """A step's host arrays (images, labels), identical in every process, placed on ``mesh``."""

    @abc.abstractmethod
    def batch_size(self, images) -> int:
        """The number of samples per model in a step's ``images``."""

    @abc.abstractmethod
    def for_step(self, model, frozen, mesh: Mesh) -> tuple["AbstractFitLearner", Any]:
        """``(learner, frozen)`` as the compiled step closes over them, for ``model`` (concrete
        values, outside ``jit``) whose frozen leaves are ``frozen`` and ``mesh``'s devices."""

    @abc.abstractmethod
    def augmenter(self, augment: Callable | None) -> Callable | None:
        """``augment(key, images)`` of one model's batch, as the step applies it (or ``None``)."""

    @abc.abstractmethod
    def step_key(self, model, key: PRNGKeyArray) -> PRNGKeyArray:
        """The step's key made from ``key`` when the caller gives none."""

    @abc.abstractmethod
    def predictor(self) -> AbstractPredict:
        """``evaluate`` as :func:`~memsnn.training.make_predict` compiles it."""

    @abc.abstractmethod
    def failures(self, model, state, images, labels, key, bad: dict[str, np.ndarray]
                 ) -> list[tuple[int | None, tuple]]:
        """What failed in a step whose metrics ``bad`` (those that are not all finite) were not
        finite: ``(member, (model, state, images, labels, key))`` of each model to diagnose alone,
        ``member`` ``None`` for a learner of one model."""


class AbstractLearner(AbstractFitLearner):
    """The learner of one model: write ``init``, ``updated``, ``step`` and ``evaluate``; the hooks
    of :class:`AbstractFitLearner` are implemented here for one model (a batch ``(B, ...)`` split
    over the mesh), and :meth:`ensemble` trains several seeds of it at once."""

    def ensemble(self) -> "EnsembleLearner":
        return EnsembleLearner(self)

    def batch_sharding(self, mesh):
        return sharded(mesh)

    def shard(self, mesh, *arrays):
        return shard_batch(mesh, *arrays)

    def batch_size(self, images):
        return images.shape[0]

    def for_step(self, model, frozen, mesh):
        return self, frozen

    def augmenter(self, augment):
        return augment

    def step_key(self, model, key):
        return key

    def predictor(self):
        return Predict(self.evaluate)

    def failures(self, model, state, images, labels, key, bad):
        return [(None, (model, state, images, labels, key))]


class GradientLearner(AbstractLearner):
    """Gradient descent on a loss with an optax optimiser (SPICEprop, surrogate gradients).

    The step is computed on the weights (:func:`weight_view`): a model whose weights are held by
    :class:`~memsnn.arrays.AbstractProgrammableArray` (a chip, :class:`~memsnn.crossbar.ProgrammedCrossbar`)
    gets the gradient with respect to the weights its devices hold, and the optimiser's step
    programmed into them as device pulses (:func:`apply_updates`); other leaves are updated as usual.

    Attributes:
        loss_fn: ``loss_fn(model, images (B, F), labels (B,), *, key, throw) -> (loss (), predictions (B,))``,
            the batch-mean loss and the predicted classes (for the running training accuracy);
            ``key`` draws the model's noise (hardware-aware training), fresh at every step; with
            ``throw=False`` a failed simulation makes the loss NaN instead of raising (a loss
            without a simulation ignores ``throw``).
        predict_fn: ``predict_fn(model, images (B, F), *, key, throw) -> predictions (B,)``; with
            ``throw=False`` a failed sample's prediction is :data:`FAILED`.
        optimizer: an optax transformation (see :func:`make_optimizer`).
        trainable: filter (a function of a leaf, or a pytree of bools shaped like the model)
            choosing the leaves that are trained; the rest of the model is frozen.
    """

    loss_fn: LossFn = eqx.field(static=True)
    predict_fn: PredictFn = eqx.field(static=True)
    optimizer: optax.GradientTransformation = eqx.field(static=True)
    trainable: Any = eqx.is_inexact_array

    def init(self, model):
        return self.optimizer.init(weight_view(eqx.filter(model, self.trainable)))

    def updated(self, model):
        return self.trainable

    def step(self, model, state, images, labels, key, *, throw=True):
        params, frozen = eqx.partition(model, self.trainable)
        # fit also augments with this step's key: the model's noise gets a stream of its own.
        noise_key = jax.random.fold_in(key, 1)

        def objective(p):
            return self.loss_fn(eqx.combine(p, frozen), images, labels, key=noise_key, throw=throw)

        (loss, predictions), grads = eqx.filter_value_and_grad(objective, has_aux=True)(params)
        grads, weights = weight_gradients(params, grads), weight_view(params)
        if isinstance(self.optimizer, optax.GradientTransformationExtraArgs):
            # Rules that need the loss (an adaptive learning rate, e.g. spikeprop.spikeprop_ad).
            updates, state = self.optimizer.update(grads, state, weights, value=loss)
        else:
            updates, state = self.optimizer.update(grads, state, weights)
        # Write noise of programmed devices: a stream of its own.
        model = eqx.combine(apply_updates(params, updates, key=jax.random.fold_in(key, 2)), frozen)
        return model, state, {"loss": loss, "acc": jnp.mean(predictions == labels)}

    def evaluate(self, model, images, key, *, throw=True):
        return self.predict_fn(model, images, key=key, throw=throw)

    def predictor(self):
        # A method's predictor keyed per image (Predict(..., per_image_keys=True)) stays so.
        return Predict(self.evaluate, per_image_keys=as_predict(self.predict_fn).per_image_keys)


class EnsembleLearner(AbstractFitLearner):
    """A learner written for one model, run for every member of an ensemble (``eqx.filter_vmap``;
    on a CPU, members one after another: ``members_at_once``).

    :func:`~memsnn.training.fit` asks its learner for one (:meth:`AbstractLearner.ensemble`) when it
    is given several seeds; use it directly only with :func:`~memsnn.training.make_step`. It
    implements the hooks of :class:`AbstractFitLearner` for a member axis: the batch ``(K, B, ...)``
    split along ``B``, the frozen leaves all members share closed over once, a failure diagnosed
    member by member (memsnn.training.ensemble; docs/training.md, "Ensembles"). Shapes: ``step`` takes ``images (K, B,
    F)``, ``labels (K, B)`` and ``key (K,)`` (a key per member) and returns metrics of shape
    ``(K,)``; ``evaluate`` takes the shared ``images (B, F)`` and ``key`` and returns ``(K, B)``.

    Attributes:
        learner: the learner of one model (e.g. a :class:`~memsnn.training.GradientLearner`).
        model_axes: ``in_axes`` of the model given to ``step`` and ``evaluate`` (a pytree like the
            model, :func:`shared_axes`), or ``None``: every array has the member axis.
            :func:`~memsnn.training.make_step` sets it, sharing the frozen leaves that all members
            have in common.
        members_at_once: how many members ``step`` vmaps together: ``None`` (all: one kernel
            launch serves every member, what an accelerator wants) or ``m``: chunks of ``m``
            members vmapped, the chunks one after another inside the same jitted step
            (``jax.lax.map(..., batch_size=m)``; the same numbers). :func:`~memsnn.training.make_step`
            chooses 1 on a CPU when it is left at ``None``: there a step is compute and cache bound,
            and vmapping K members multiplies its working set (8 members on 2 cores: 0.92x the
            throughput of 8 single SPICEprop steps vmapped, 1.29x one after another; surrogate
            784-1000-10 LIF 0.81x / 1.04x; docs/training.md, "Ensembles").
    """

    learner: AbstractLearner
    model_axes: Any = None
    members_at_once: int | None = eqx.field(default=None, static=True)

    def __check_init__(self):
        if not isinstance(self.learner, AbstractLearner):
            raise ValueError("EnsembleLearner: the learner is already an ensemble's; wrap the learner of one model "
                             "(an AbstractLearner).")

    def init(self, model):
        return eqx.filter_vmap(self.learner.init)(model)

    def updated(self, model):
        # Same tree as one member's: a filter pytree (or function) of one model selects the same leaves.
        return self.learner.updated(model)

    def step(self, model, state, images, labels, key, *, throw=True):
        def one(m, s, x, y, k):
            return self.learner.step(m, s, x, y, k, throw=throw)

        axes = eqx.if_array(0) if self.model_axes is None else self.model_axes
        n = labels.shape[0]
        if self.members_at_once is None or self.members_at_once >= n:
            return eqx.filter_vmap(one, in_axes=(axes, eqx.if_array(0), 0, 0, 0))(model, state, images, labels, key)
        # Members in chunks: the shared leaves are closed over, the others mapped.
        mask = eqx.is_array if self.model_axes is None else jax.tree.map(
            lambda a: a == 0, self.model_axes, is_leaf=lambda x: x is None)
        per_member, shared = eqx.partition(model, mask)

        def chunk(args):
            m, s, x, y, k = args
            new_model, s, metrics = one(eqx.combine(m, shared), s, x, y, k)
            return eqx.filter(new_model, mask), s, metrics

        new_model, state, metrics = jax.lax.map(chunk, (per_member, state, images, labels, key),
                                                batch_size=self.members_at_once)
        # The contract of step: every array of the model with the member axis.
        shared = jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *jnp.shape(x))) if eqx.is_array(x) else x, shared)
        return eqx.combine(new_model, shared), state, metrics

    def evaluate(self, model, images, key, *, throw=True):
        return MemberPredict(self.learner.evaluate, self.model_axes)(model, images, key=key, throw=throw)

    # -- hooks: a member axis in front of every batch and every array of the model -------------

    def ensemble(self):
        raise ValueError("fit: give the learner of one model and seed=[...] with one seed per member; fit "
                         "vmaps it over the ensemble itself.")

    def batch_sharding(self, mesh):
        return member_sharded(mesh)

    def shard(self, mesh, *arrays):
        return shard_members(mesh, *arrays)

    def batch_size(self, images):
        return images.shape[1]

    def for_step(self, model, frozen, mesh):
        # The frozen leaves all members have in common (device constants) go in once, unbatched:
        # batched, every scalar of a neuron's vector field becomes a per-member array (ensemble.py).
        inside, frozen_axes = shared_axes(frozen)
        spec = self.updated(model)
        params_axes = jax.tree.map(lambda x: 0 if eqx.is_array(x) else None, eqx.filter(model, spec))
        # On a CPU the members go one after another (cache bound; see members_at_once).
        at_once = self.members_at_once
        if at_once is None and mesh.devices.flat[0].platform == "cpu":
            at_once = 1
        return dataclasses.replace(self, model_axes=eqx.combine(params_axes, frozen_axes),
                                   members_at_once=at_once), inside

    def augmenter(self, augment):
        return None if augment is None else eqx.filter_vmap(augment)

    def step_key(self, model, key):
        return jax.random.split(key, n_members(model))

    def predictor(self):
        return MemberPredict(self.learner.evaluate, per_image_keys=self.learner.predictor().per_image_keys)

    def failures(self, model, state, images, labels, key, bad):
        members = sorted({int(k) for value in bad.values() for k in np.flatnonzero(~np.isfinite(value))})
        return [(k, (member(model, k), member(state, k), images[k], labels[k], key[k])) for k in members]


def make_optimizer(
    lr: float,
    *,
    total_steps: int,
    schedule: str = "cosine",
    weight_decay: float = 0.0,
    clip_norm: float | None = None,
    warmup_steps: int = 0,
) -> optax.GradientTransformation:
    """Adam (AdamW when ``weight_decay > 0``) with a learning-rate schedule.

    Args:
        lr: peak learning rate.
        total_steps: number of optimiser steps in the whole run (epochs x batches per epoch).
        schedule: ``"constant"``, ``"cosine"`` (decay to 0 over the run, after ``warmup_steps`` of
            linear warm-up) or ``"step"`` (x0.1 at 50% and 75% of the run).
        weight_decay: decoupled weight decay (AdamW).
        clip_norm: clip the global gradient norm to this value first, or ``None``.
        warmup_steps: linear warm-up from 0 (``"cosine"`` only).
    """
    total_steps = max(int(total_steps), 1)
    if schedule == "constant":
        rate = optax.constant_schedule(lr)
    elif schedule == "cosine":
        if warmup_steps > 0:
            rate = optax.warmup_cosine_decay_schedule(0.0, lr, warmup_steps, total_steps)
        else:
            rate = optax.cosine_decay_schedule(lr, total_steps)
    elif schedule == "step":
        rate = optax.piecewise_constant_schedule(
            lr, {int(total_steps * 0.5): 0.1, int(total_steps * 0.75): 0.1})
    else:
        raise ValueError(f"make_optimizer: schedule must be 'constant', 'cosine' or 'step', got {schedule!r}.")
    adam = optax.adamw(rate, weight_decay=weight_decay) if weight_decay > 0 else optax.adam(rate)
    return adam if clip_norm is None else optax.chain(optax.clip_by_global_norm(clip_norm), adam)
