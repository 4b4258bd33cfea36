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
"""

from __future__ import annotations

import abc
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

__all__ = ["FAILED", "AbstractLearner", "GradientLearner", "failed_where_nonfinite", "make_optimizer"]

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

LossFn = Callable[..., "tuple[jax.Array, jax.Array]"]
PredictFn = Callable[..., jax.Array]


class AbstractLearner(eqx.Module):
    """A learning rule, as :func:`memsnn.training.fit` drives it.

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


class GradientLearner(AbstractLearner):
    """Gradient descent on a loss with an optax optimiser (SPICEprop, surrogate gradients).

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
        return self.optimizer.init(eqx.filter(model, self.trainable))

    def updated(self, model):
        return self.trainable

    def step(self, model, state, images, labels, key, *, throw=True):
        params, frozen = eqx.partition(model, self.trainable)
        # fit also augments with this step's key: the model's noise gets a stream of its own.
        noise_key = jax.random.fold_in(key, 1)

        def objective(p):
            return self.loss_fn(eqx.combine(p, frozen), images, labels, key=noise_key, throw=throw)

        (loss, predictions), grads = eqx.filter_value_and_grad(objective, has_aux=True)(params)
        if isinstance(self.optimizer, optax.GradientTransformationExtraArgs):
            # Rules that need the loss (an adaptive learning rate, e.g. spikeprop.spikeprop_ad).
            updates, state = self.optimizer.update(grads, state, params, value=loss)
        else:
            updates, state = self.optimizer.update(grads, state, params)
        model = eqx.combine(eqx.apply_updates(params, updates), frozen)
        return model, state, {"loss": loss, "acc": jnp.mean(predictions == labels)}

    def evaluate(self, model, images, key, *, throw=True):
        return self.predict_fn(model, images, key=key, throw=throw)


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
