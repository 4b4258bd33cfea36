"""Learners: what a training method does with one batch, behind one small protocol.

:func:`memsnn.training.fit` owns everything every method needs (batches, progress bars,
evaluation, logs, checkpoints, resume, the NaN guard, device placement); a learner owns only the
learning rule:

* ``init(model) -> state``: the learner's own state, a pytree of arrays (an optimiser state, STDP
  traces, or ``None``); it is checkpointed with the model.
* ``updated(model) -> filter``: which leaves of the model ``step`` changes (the rest is frozen).
* ``step(model, state, images, labels, key) -> (model, state, metrics)``: learn from one batch.
  ``metrics`` maps names to scalar batch means (``"loss"``, ``"acc"``); ``fit`` averages them over
  the epoch and logs them as ``train_<name>``.
* ``evaluate(model, images, key) -> predictions``: the predicted classes of a batch (test accuracy);
  ``key`` is for stochastic models (read noise of a crossbar), fixed per evaluation batch.

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

__all__ = ["AbstractLearner", "GradientLearner", "make_optimizer"]

# loss_fn(model, images, labels, *, key) and predict_fn(model, images, *, key): the key drives the
# model's noise (e.g. crossbar read noise); deterministic models ignore it.
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
             key: PRNGKeyArray) -> tuple[Any, Any, dict[str, Array]]:
        """Learn from one batch: ``(model, state, metrics)`` with scalar batch-mean metrics."""

    @abc.abstractmethod
    def evaluate(self, model, images: Float[Array, "batch features"], key: PRNGKeyArray) -> Int[Array, " batch"]:
        """The predicted class of each image; ``key`` drives the model's noise, if it has any."""


class GradientLearner(AbstractLearner):
    """Gradient descent on a loss with an optax optimiser (SPICEprop, surrogate gradients).

    Attributes:
        loss_fn: ``loss_fn(model, images (B, F), labels (B,), *, key) -> (loss (), predictions (B,))``,
            the batch-mean loss and the predicted classes (for the running training accuracy);
            ``key`` draws the model's noise (hardware-aware training), fresh at every step.
        predict_fn: ``predict_fn(model, images (B, F), *, key) -> predictions (B,)``.
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

    def step(self, model, state, images, labels, key):
        params, frozen = eqx.partition(model, self.trainable)
        # fit also augments with this step's key: the model's noise gets a stream of its own.
        noise_key = jax.random.fold_in(key, 1)

        def objective(p):
            return self.loss_fn(eqx.combine(p, frozen), images, labels, key=noise_key)

        (loss, predictions), grads = eqx.filter_value_and_grad(objective, has_aux=True)(params)
        updates, state = self.optimizer.update(grads, state, params)
        model = eqx.combine(eqx.apply_updates(params, updates), frozen)
        return model, state, {"loss": loss, "acc": jnp.mean(predictions == labels)}

    def evaluate(self, model, images, key):
        return self.predict_fn(model, images, key=key)


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
