"""Ensembles: several models (one per seed) trained in one run, vmapped over a member axis.

Researchers report mean +- std over seeds; an ensemble trains those seeds together, in the one
training loop (:func:`~memsnn.training.fit` with ``seed=[0, 1, 2, 3]``, ``memsnn train --seeds 0 1 2
3``), the one checkpoint format and the one jitted step. Design and measured speed-ups:
docs/training.md, section "Ensembles".

* **The ensemble is the model with a leading member axis** on every array leaf (:func:`stack` of
  ``K`` models built from the keys of ``K`` seeds; :func:`member` takes one out). Non-array parts
  (configs, sizes, flags) are shared and must be identical.
* **The learner is vmapped** (:class:`~memsnn.training.learner.EnsembleLearner`, ``eqx.filter_vmap``): ``init`` (the optimiser
  state gains the member axis), ``step`` and ``evaluate`` of the learner written for one model run for
  all members inside the one jitted step that :func:`~memsnn.training.make_step` builds. Members never
  interact: no reduction runs over the member axis, so a member whose loss turns NaN cannot change
  another member's numbers (``fit`` then stops and names the member, its seed, and the simulation's
  own message, found by repeating that member's batch alone on one device).
* **Each member has its own batch order** (its own seed's ``epoch_permutation``) and its own
  augmentation and noise keys: independent seeds, as separate runs would be. The step's batch is
  ``(K, B, ...)``; data parallelism is unchanged: the batch axis (axis 1) is sharded over
  :func:`~memsnn.training.sharding.data_mesh`, the members' parameters are replicated. Member ``k``
  of an ensemble is therefore the run ``fit(..., seed=seeds[k])``: same initialisation, batches,
  keys and updates, up to floating-point rounding (a batched matrix product may sum in another
  order; ``tests/test_ensemble.py`` checks the parameters to 1e-9 relative in float64). Shared
  batches would save the ``K``-fold host-to-device copy of the images (a few MB per step) but make
  the members' spread a spread over initialisations only, not over seeds.
* Test accuracy is measured on the same test batches and evaluation keys for every member, as a
  single run does, so member ``k``'s test accuracy is the single run's.
* **Leaves that are the same in every member are vmapped once** (``in_axes=None``,
  :func:`shared_axes`): the frozen device constants of SPICEprop's MIF neurons, say. Batched, they
  would turn every scalar of the neuron's vector field into a per-member array inside the
  1000-step loop: a SPICEprop step of a one-member ensemble took 82 ms against the single model's
  42 ms (``benchmarks/ensemble.py`` before this sharing, batch 200, one CPU device); shared, the
  two are equal (66.3 against 67.0 ms; docs/training.md). The step shares the frozen leaves equal across members (the trained ones
  always have the member axis), the evaluation every leaf equal across members when it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from .._validation import check_setting
from .sharding import AXIS, check_batch
from .predict import AbstractPredict, as_predict

__all__ = [
    "MemberPredict",
    "build_ensemble",
    "check_seeds",
    "member",
    "member_predict",
    "member_sharded",
    "n_members",
    "shard_members",
    "shared_axes",
    "spread",
    "stack",
]


MAX_SEED = 2**32 - 1  # seeds are JAX keys of 32 bits


def check_seeds(seeds: Sequence[int], owner: str = "train") -> tuple[int, ...]:
    """``seeds`` as a tuple of distinct non-negative ints, or a ``ValueError`` saying what is wrong."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        raise ValueError(f"{owner}: seeds must be a list of distinct non-negative integers (one model per "
                         f"seed), got {seeds!r}.")
    if len(seeds) == 0:
        raise ValueError(f"{owner}: seeds is empty; give at least one seed (one model per seed).")
    checked = tuple(int(check_setting(owner, "seed", s, low=0, high=MAX_SEED, integer=True,
                                      hint="the seed of a JAX key (32 bits)")) for s in seeds)
    repeated = sorted({s for s in checked if checked.count(s) > 1})
    if repeated:
        raise ValueError(f"{owner}: the seeds of an ensemble must be distinct (two members with one seed are "
                         f"the same model trained twice); {repeated} given more than once in {list(checked)}.")
    return checked


def stack(models: Sequence[Any]):
    """One ensemble from ``K`` models of the same structure: every array leaf gains a leading axis ``K``.

    Raises:
        ValueError: no models, or models that differ in structure, shapes or non-array settings.
    """
    models = list(models)
    if not models:
        raise ValueError("stack: no models to stack; give at least one.")
    params, statics = zip(*(eqx.partition(m, eqx.is_array) for m in models))
    structure = jax.tree.structure(params[0])
    for k, (p, s) in enumerate(zip(params, statics)):
        if jax.tree.structure(p) != structure or not eqx.tree_equal(s, statics[0]):
            raise ValueError(f"stack: model {k} differs from model 0 in structure or settings; the members "
                             "of an ensemble are one network built from different seeds.")
        shapes = [jnp.shape(x) for x in jax.tree.leaves(p)]
        if shapes != [jnp.shape(x) for x in jax.tree.leaves(params[0])]:
            raise ValueError(f"stack: model {k} has arrays of other shapes than model 0.")
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *params)
    return eqx.combine(stacked, statics[0])


def build_ensemble(build: Callable[..., Any], seeds: Sequence[int]):
    """``stack([build(key=jax.random.key(s)) for s in seeds])``: member ``k`` is the model seed ``k`` builds."""
    return stack([build(key=jax.random.key(s)) for s in check_seeds(seeds, "build_ensemble")])


def n_members(ensemble) -> int:
    """The number of members (the leading axis shared by every array leaf).

    Raises:
        ValueError: the model has no arrays, or its arrays disagree on the leading axis (not a
            :func:`stack` of models).
    """
    sizes = {jnp.shape(x)[0] if jnp.ndim(x) else None for x in jax.tree.leaves(eqx.filter(ensemble, eqx.is_array))}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"this model is not an ensemble: its arrays' leading axes are {sorted(map(str, sizes))}, "
                         "not one member axis; build it with memsnn.training.ensemble.stack.")
    return sizes.pop()


def member(ensemble, k: int):
    """Member ``k`` of an ensemble (or of a stacked learner state): every array leaf indexed ``[k]``."""
    return jax.tree.map(lambda x: x[k] if eqx.is_array(x) else x, ensemble)


def spread(values) -> tuple[float, float | None]:
    """``(mean, std)`` over the members; the sample standard deviation (``ddof=1``, the spread one
    would expect between seeds), ``None`` for a single member."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.mean(values)), (float(np.std(values, ddof=1)) if values.size > 1 else None)


def _same_in_all_members(x) -> bool:
    if not eqx.is_array(x) or jnp.ndim(x) == 0 or jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        return False
    return bool(jnp.all(x == x[:1]))


def shared_axes(ensemble):
    """``(reduced, axes)``: ``ensemble`` with every array leaf that is the same in all members stored
    once (member 0's, without the member axis), and the ``in_axes`` that vmap ``reduced`` over the
    members (``0`` for a leaf per member, ``None`` for a shared leaf or a non-array).

    Holes (``None`` leaves, as :func:`equinox.partition` leaves them) stay holes in both. Compares
    concrete values: call it outside ``jit``.
    """
    reduced = jax.tree.map(lambda x: x[0] if _same_in_all_members(x) else x, ensemble)
    axes = jax.tree.map(lambda x: 0 if eqx.is_array(x) and not _same_in_all_members(x) else None, ensemble)
    return reduced, axes


class MemberPredict(AbstractPredict):
    """``predict(ensemble, images (B, F), *, key, throw) -> (K, B)``: the prediction of one model,
    vmapped over the members; all members see the same images and the same noise key, as ``K``
    single runs evaluated with the same seed do.

    Attributes:
        predict_fn: ``predict_fn(model, images, *, key, throw) -> (B,)`` of one model (a field,
            not static, as in :class:`~memsnn.training.predict.Predict`).
        model_axes: ``in_axes`` of the ensemble (:func:`shared_axes`), or ``None``: every array
            has the member axis. :func:`~memsnn.training.make_predict` sets it for each model.
    """

    predict_fn: Callable
    model_axes: Any = None
    per_image_keys: bool = eqx.field(static=True, default=False, kw_only=True)

    def __call__(self, ensemble, images, *, key, throw=True):
        axes = eqx.if_array(0) if self.model_axes is None else self.model_axes
        return eqx.filter_vmap(lambda m: self.predict_fn(m, images, key=key, throw=throw), in_axes=(axes,))(ensemble)

    def with_axes(self, model_axes) -> "MemberPredict":
        return dataclasses.replace(self, model_axes=model_axes)

    def prepared(self, ensemble):
        # What all members have in common is vmapped once (shared_axes).
        reduced, axes = shared_axes(ensemble)
        return reduced, self.with_axes(axes)


def member_predict(predict_fn: Callable) -> MemberPredict:
    """:class:`MemberPredict` of ``predict_fn`` (a method's predict function for one model; keyed per
    image if it is, :class:`~memsnn.training.predict.Predict`'s ``per_image_keys``)."""
    return MemberPredict(predict_fn, per_image_keys=as_predict(predict_fn).per_image_keys)


def member_sharded(mesh: Mesh) -> NamedSharding:
    """The sharding of an ensemble's batch ``(K, B, ...)``: members whole, the batch axis split over ``mesh``."""
    return NamedSharding(mesh, P(None, AXIS))


def shard_members(mesh: Mesh, *arrays: np.ndarray) -> tuple[jax.Array, ...]:
    """The members' batches ``(K, B, ...)`` (identical in every process), axis 1 sharded over ``mesh``.

    Raises:
        ValueError: ``B`` does not split evenly over the devices (see
            :func:`~memsnn.training.sharding.check_batch`).
    """
    check_batch(np.shape(arrays[0])[1], mesh)
    sharding = member_sharded(mesh)
    return tuple(jax.device_put(np.asarray(a), sharding) for a in arrays)
