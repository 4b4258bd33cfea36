"""Predict functions as :func:`~memsnn.training.make_predict` compiles them.

A method's predict function (``predict(model, images, *, key, throw) -> (B,)``) is wrapped in a
:class:`Predict`; an ensemble's is a :class:`~memsnn.training.ensemble.MemberPredict`. Both are
:class:`AbstractPredict`: ``prepared(model)`` runs outside ``jit`` on concrete values (an ensemble
stores the leaves its members share once, :func:`~memsnn.training.ensemble.shared_axes`), then the
compiled function calls the predictor on the prepared model.
"""

from __future__ import annotations

import abc
from typing import Any, Callable

import equinox as eqx

__all__ = ["AbstractPredict", "Predict", "as_predict"]


class AbstractPredict(eqx.Module):
    """``predict(model, images, *, key, throw) -> predictions``, prepared for each model."""

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
    """

    predict_fn: Callable

    def __call__(self, model, images, *, key, throw=True):
        return self.predict_fn(model, images, key=key, throw=throw)

    def prepared(self, model):
        return model, self


def as_predict(predict_fn: Callable | AbstractPredict) -> AbstractPredict:
    """``predict_fn`` as an :class:`AbstractPredict` (a plain function is a :class:`Predict`)."""
    return predict_fn if isinstance(predict_fn, AbstractPredict) else Predict(predict_fn)
