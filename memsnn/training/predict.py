"""Predict functions as :func:`~memsnn.training.make_predict` compiles them.

A method's predict function (``predict(model, images, *, key, throw) -> (B,)``) is wrapped in a
:class:`Predict`; an ensemble's is a :class:`~memsnn.training.ensemble.MemberPredict`. Both are
:class:`AbstractPredict`: ``prepared(model)`` runs outside ``jit`` on concrete values (an ensemble
stores the leaves its members share once, :func:`~memsnn.training.ensemble.shared_axes`), then the
compiled function calls the predictor on the prepared model.

A predictor keyed per image (``per_image_keys``) gets ``(B,)`` keys, ``image_keys(key, index)`` of
the images' indices in the data set, instead of one key per batch: its predictions do not depend
on the batch size (:func:`~memsnn.training.evaluate`).
"""

from __future__ import annotations

import abc
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Int, PRNGKeyArray

__all__ = ["AbstractPredict", "Predict", "as_predict", "image_keys"]


def image_keys(key: PRNGKeyArray, index: Int[jax.Array, " B"]) -> PRNGKeyArray:
    """``(B,)`` per-image keys ``fold_in(key, index[i])``: image ``index[i]`` of a data set gets the
    same noise (spike trains) whatever batch it is evaluated in."""
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.asarray(index))


class AbstractPredict(eqx.Module):
    """``predict(model, images, *, key, throw) -> predictions``, prepared for each model.

    ``per_image_keys``: ``key`` is ``(B,)`` keys, one per image (:func:`image_keys` of the images'
    indices in the data set), instead of one key for the batch.
    """

    per_image_keys: eqx.AbstractVar[bool]

    @abc.abstractmethod
    def __call__(self, model, images, *, key, throw: bool = True):
        """The predicted classes of ``images``."""

    @abc.abstractmethod
    def prepared(self, model) -> tuple[Any, "AbstractPredict"]:
        """``(model, predictor)`` as the compiled prediction takes them (concrete values, outside ``jit``)."""


class Predict(AbstractPredict):
    """The predict function of one model.

    Attributes:
        predict_fn: ``predict_fn(model, images (B, F), *, key, throw) -> (B,)``. A field, not
            static: a learner's bound ``evaluate`` carries the learner's arrays (an evolution
            learner's hyper-parameters), which ``jit`` then traces instead of hashing.
        per_image_keys: ``predict_fn`` takes ``(B,)`` keys, one per image (default: one key).
    """

    predict_fn: Callable
    per_image_keys: bool = eqx.field(static=True, default=False, kw_only=True)

    def __call__(self, model, images, *, key, throw=True):
        return self.predict_fn(model, images, key=key, throw=throw)

    def prepared(self, model):
        return model, self


def as_predict(predict_fn: Callable | AbstractPredict) -> AbstractPredict:
    """``predict_fn`` as an :class:`AbstractPredict` (a plain function is a :class:`Predict`)."""
    return predict_fn if isinstance(predict_fn, AbstractPredict) else Predict(predict_fn)
