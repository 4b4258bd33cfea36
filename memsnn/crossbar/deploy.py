"""Trained models on memristive chips: map them onto crossbars, program once, read later.

Hardware-aware training (``memsnn train ... --crossbar PRESET``) programs its crossbars afresh at
every step. A deployed chip is programmed once: its programming noise and stuck-at faults are then
fixed, its conductances drift, and only the read noise is new at every read. This module turns
any trained model whose synapse arrays are :class:`~memsnn.Dense` (ideal training) or crossbars
(hardware-aware training) into such a chip::

    model, _ = load_trained("runs/spiceprop-mnist/checkpoint.eqx")
    chip = program(on_crossbar(model, "pcm"), key=jax.random.key(0))    # one chip, programmed once
    for t in TIMES.values():                                             # seconds after programming
        accuracy, _ = evaluate(spiceprop_predict, at_time(chip, t), images, labels)

:func:`accuracy_over_time` runs that loop, with and without global drift compensation; it is what
``memsnn evaluate CHECKPOINT --crossbar PRESET --t-read SECONDS`` runs.

Biases. A crossbar holds a weight matrix only; a dense layer's bias becomes one more row of
devices driven at a constant input of 1 (:class:`BiasRow`), programmed and read like the others.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..arrays import AbstractSynapseArray, Crossbar, Dense
from .irdrop import ir_drop_matrix
from .mapping import Conductances
from .nonideal import IVNonlinearity, chain

__all__ = ["TIMES", "BiasRow", "ProgrammedCrossbar", "accuracy_over_time", "at_time", "crossbar_from_dense",
           "on_crossbar", "one_read", "program"]

#: The times after programming of issue 11's figure (s): 1 s, 1 h, 1 day, 1 year.
TIMES = {"1 s": 1.0, "1 h": 3600.0, "1 day": 86400.0, "1 year": 365.25 * 86400.0}


class BiasRow(AbstractSynapseArray):
    """``array`` with one input more than the layer has, held at 1: a bias stored in devices.

    ``BiasRow(crossbar)(x) = crossbar([x, 1])``: the crossbar's last column of weights is the bias.

    Attributes:
        array: the array with ``n_inputs + 1`` inputs (a :class:`~memsnn.arrays.Crossbar`).
    """

    array: AbstractSynapseArray
    linear_time_invariant: ClassVar[bool] = False

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        return self.array.stochastic

    @property
    def n_inputs(self) -> int:
        return self.array.n_inputs - 1

    @property
    def n_outputs(self) -> int:
        return self.array.n_outputs

    def init_state(self, n, *, key=None):
        return self.array.init_state(n, key=key)

    def __call__(self, presynaptic, state=None, *, key=None):
        one = jnp.ones(presynaptic.shape[:-1] + (1,), presynaptic.dtype)
        return self.array(jnp.concatenate([presynaptic, one], axis=-1), state, key=key)


class ProgrammedCrossbar(AbstractSynapseArray):
    """A crossbar after programming: one chip, whose programmed conductances are fixed.

    :meth:`init_state` returns the same conductances every time (no new programming noise or
    faults), so every sample, batch and evaluation reads the same chip; reads still draw their own
    read noise, and drift follows ``crossbar.t_read``.

    Attributes:
        crossbar: the crossbar (mapping, non-idealities, wires, periphery, ``t_read``).
        conductances: its programmed conductances (S), each ``(n_out, n_in)``.
    """

    crossbar: Crossbar
    conductances: Conductances
    linear_time_invariant: ClassVar[bool] = False

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        return self.crossbar.stochastic

    @property
    def n_inputs(self) -> int:
        return self.crossbar.n_inputs

    @property
    def n_outputs(self) -> int:
        return self.crossbar.n_outputs

    def init_state(self, n, *, key=None):
        if n != self.n_outputs:
            raise ValueError(f"ProgrammedCrossbar: a layer of {n} neurons cannot use a crossbar with "
                             f"{self.n_outputs} outputs.")
        return self.conductances

    def __call__(self, presynaptic, state=None, *, key=None):
        return self.crossbar(presynaptic, self.conductances if state is None else state, key=key)


def crossbar_from_dense(dense: Dense, preset: str, *, w_max: float | None = None, **overrides) -> AbstractSynapseArray:
    """``dense`` as a crossbar of ``preset`` (:meth:`~memsnn.arrays.Crossbar.from_dense`), its bias
    (if any) a :class:`BiasRow`.

    Args:
        dense: the ideal layer.
        preset: a :func:`memsnn.crossbar.preset` name.
        w_max: the weight mapped to the full conductance range (weights beyond it saturate when
            programmed); ``None``: ``max |W|`` (bias included).
        overrides: replace pieces of the preset (``wires=None``, ``nonideality=...``, ``t_read=...``).
    """
    if dense.bias is None:
        return Crossbar.from_dense(dense, preset, w_max=w_max, **overrides)
    augmented = Dense(jnp.concatenate([dense.weight, dense.bias[:, None]], axis=1))
    return BiasRow(Crossbar.from_dense(augmented, preset, w_max=w_max, **overrides))


def _is_array(x) -> bool:
    return isinstance(x, (Dense, Crossbar, BiasRow, ProgrammedCrossbar))


def _dense_of(array) -> Dense:
    """The ideal layer that ``array`` holds (its target weights; a bias row becomes the bias)."""
    if isinstance(array, Dense):
        return array
    if isinstance(array, ProgrammedCrossbar):
        return _dense_of(array.crossbar)
    if isinstance(array, BiasRow):
        inner = _dense_of(array.array)
        return Dense(inner.weight[:, :-1], inner.weight[:, -1])
    return Dense(array.weight)


def on_crossbar(model, preset: str, *, w_max: float | None = None, **overrides):
    """``model`` with every dense or crossbar array made a crossbar of ``preset``.

    Ideal :class:`~memsnn.Dense` arrays are mapped with :func:`crossbar_from_dense`; crossbars from
    hardware-aware training (perhaps with another preset) keep their weights and get the new
    preset; programmed crossbars are unprogrammed first. Other arrays (convolutions) stay as they
    are. ``w_max`` and ``overrides`` as in :func:`crossbar_from_dense`; ``w_max=None`` keeps a
    crossbar's own ``mapping.w_max`` (and is ``max |W|`` for a dense layer).
    """
    def convert(array):
        limit = w_max
        if limit is None and not isinstance(array, Dense):
            limit = _crossbar_of(array).mapping.w_max
        return crossbar_from_dense(_dense_of(array), preset, w_max=limit, **overrides)

    return jax.tree.map(lambda x: convert(x) if _is_array(x) else x, model, is_leaf=_is_array)


def _crossbar_of(array) -> Crossbar:
    if isinstance(array, BiasRow):
        return _crossbar_of(array.array)
    if isinstance(array, ProgrammedCrossbar):
        return array.crossbar
    return array


def as_dense(model):
    """``model`` with every crossbar replaced by the ideal dense layer of its target weights."""
    return jax.tree.map(lambda x: _dense_of(x) if _is_array(x) else x, model, is_leaf=_is_array)


def program(model, *, key: PRNGKeyArray):
    """``model`` with every :class:`~memsnn.arrays.Crossbar` programmed once (one chip).

    Each crossbar draws its programming noise and faults from its own key split off ``key``; they
    become :class:`ProgrammedCrossbar` s, read ``t_read`` after programming.
    """
    is_crossbar = lambda x: isinstance(x, (Crossbar, ProgrammedCrossbar))  # noqa: E731
    count = sum(isinstance(x, Crossbar) for x in jax.tree.leaves(model, is_leaf=is_crossbar))
    keys = iter(jax.random.split(key, max(count, 1)))

    def burn(array):
        if not isinstance(array, Crossbar):
            return array
        return ProgrammedCrossbar(array, array.init_state(array.n_outputs, key=next(keys)))

    return jax.tree.map(burn, model, is_leaf=is_crossbar)


def one_read(model, *, key: PRNGKeyArray | None = None):
    """``model`` with every programmed crossbar frozen as one read sees it, wires solved exactly.

    Each :class:`ProgrammedCrossbar` becomes one whose conductances are those one read sees
    (drift at ``t_read``, read noise drawn from ``key``; ``key=None``: noise-free) and, if it has
    wires, each tile's exact linear map (:func:`~memsnn.crossbar.ir_drop_matrix`, conductances in S)
    in place of its devices, with no wires and no read transforms left: reading it computes exactly
    the currents the chip's IR-drop solve would for that read (DAC, I-V nonlinearity, per-tile ADC
    and partial sums unchanged). A batch of inputs then shares one solve per tile: evaluate a chip
    with wires read by read (a read-noise draw per batch) instead of solving the wires per image.

    Args:
        model: a model with :class:`ProgrammedCrossbar` arrays (:func:`program`).
        key: the read's noise, split over the crossbars.

    Raises:
        ValueError: a crossbar with ``drift_compensation`` (its factor needs the unfrozen read).
    """
    is_programmed = lambda x: isinstance(x, ProgrammedCrossbar)  # noqa: E731
    count = sum(is_programmed(x) for x in jax.tree.leaves(model, is_leaf=is_programmed))
    keys = iter([None] * count if key is None else jax.random.split(key, max(count, 1)))

    def freeze(array: ProgrammedCrossbar) -> ProgrammedCrossbar:
        crossbar = array.crossbar
        if crossbar.drift_compensation:
            raise ValueError("one_read: a crossbar with drift_compensation=True cannot be frozen (the compensation "
                             "factor is computed from the unfrozen read); switch it off with at_time(..., "
                             "drift_compensation=False).")
        g = crossbar.read_conductances(array.conductances, key=next(keys))
        if crossbar.wires is not None:
            # Both arrays: the reference column of the reference scheme sees the wires too.
            g = Conductances(*(_tile_maps(crossbar, x) for x in g))
        # Only the cells' I-V nonlinearity acts at read time on a frozen read.
        kept = chain(*(n for n in crossbar.nonideality.nonidealities if isinstance(n, IVNonlinearity)))
        return ProgrammedCrossbar(dataclasses.replace(crossbar, nonideality=kept, wires=None), g)

    return jax.tree.map(lambda x: freeze(x) if is_programmed(x) else x, model, is_leaf=is_programmed)


def _tile_maps(crossbar: Crossbar, g: Float[Array, "n_out n_in"]) -> Float[Array, "n_out n_in"]:
    """Each tile of ``g`` (S, the weight's layout) replaced by its exact IR-drop map (transposed back)."""
    n_out, n_in = g.shape
    rows, cols = crossbar.tile if crossbar.tile is not None else (n_in, n_out)
    r_tiles, c_tiles = -(-n_in // rows), -(-n_out // cols)
    # The crossbar pads a partly used tile with g_min devices on 0 V rows: the same here, so that
    # the unused devices load the lines as they do in the chip.
    padded = jnp.pad(g.T, ((0, r_tiles * rows - n_in), (0, c_tiles * cols - n_out)),
                     constant_values=crossbar.mapping.g_min)
    blocks = padded.reshape(r_tiles, rows, c_tiles, cols).transpose(0, 2, 1, 3)
    maps = jax.vmap(jax.vmap(lambda b: ir_drop_matrix(b, crossbar.wires)))(blocks)
    return maps.transpose(0, 2, 1, 3).reshape(r_tiles * rows, c_tiles * cols)[:n_in, :n_out].T


def at_time(model, t_read: float, *, drift_compensation: bool | None = None):
    """``model`` with every crossbar read ``t_read`` seconds after programming.

    ``drift_compensation``: switch the crossbars' global drift compensation on or off (``None``:
    leave it as it is).
    """
    def move(crossbar: Crossbar) -> Crossbar:
        # t_read and drift_compensation are static fields: a new crossbar, not a tree_at.
        changes = {"t_read": float(t_read)}
        if drift_compensation is not None:
            changes["drift_compensation"] = bool(drift_compensation)
        return dataclasses.replace(crossbar, **changes)

    return jax.tree.map(lambda x: move(x) if isinstance(x, Crossbar) else x, model,
                        is_leaf=lambda x: isinstance(x, Crossbar))


def accuracy_over_time(model, predict_fn, images: Float[Array, "n features"], labels: Int[Array, " n"], *,
                       preset: str, times=tuple(TIMES.values()), compensation=(False, True),
                       key: PRNGKeyArray, batch_size: int = 1000, seed: int = 0, w_max: float | None = None
                       ) -> list[dict]:
    """Test accuracy of ``model`` programmed once onto ``preset`` crossbars, read at ``times``.

    Args:
        model: a trained model (ideal or hardware-aware; see :func:`on_crossbar`).
        predict_fn: the method's ``predict(model, images, *, key)``.
        images, labels: the test set.
        preset: the chip's crossbar preset (e.g. ``"pcm"``: aihwkit's PCM drift and noise).
        times: seconds after programming.
        compensation: the global drift compensation settings to evaluate at each time.
        key: programming noise and faults of the chip (one chip for every time and setting).
        batch_size, seed: of :func:`memsnn.training.evaluate` (``seed``: the read noise).
        w_max: see :func:`on_crossbar`.

    Returns:
        One dict per (time, compensation): ``t_read`` (s), ``drift_compensation``, ``accuracy``.
    """
    from ..training.loop import evaluate

    chip = program(on_crossbar(model, preset, w_max=w_max), key=key)
    rows = []
    for t in times:
        for compensate in compensation:
            accuracy, _ = evaluate(predict_fn, at_time(chip, t, drift_compensation=compensate), np.asarray(images),
                                   np.asarray(labels), batch_size=batch_size, seed=seed)
            rows.append({"t_read": float(t), "drift_compensation": bool(compensate), "accuracy": accuracy})
    return rows


def evaluate_checkpoint_on_crossbar(path, *, preset: str, t_read: float = 1.0, drift_compensation: bool = False,
                                    chip: int = 0, source: str | None = None, subset: int | None = None,
                                    batch_size: int | None = None, w_max: float | None = None) -> dict:
    """Test accuracy of the model in a checkpoint, programmed once onto a ``preset`` chip and read
    ``t_read`` seconds later (``memsnn evaluate CHECKPOINT --crossbar PRESET --t-read SECONDS``).

    Args:
        path: a ``checkpoint.eqx`` of ``memsnn train`` (ideal or hardware-aware training).
        preset: the chip's crossbar preset.
        t_read: seconds after programming.
        drift_compensation: global drift compensation on the chip's outputs.
        chip: seed of the chip's programming noise and faults (and of the read noise).
        source, subset, batch_size: the test data and batch size (default: the run's).
        w_max: see :func:`on_crossbar` (default: the model's ``crossbar_w_max`` if it has one).

    Returns:
        ``{"accuracy", "n_samples", "preset", "t_read", "drift_compensation", "chip", "epoch"}``.
    """
    from ..data import load_dataset
    from ..training.methods import get_method
    from ..training.run import load_trained

    model, header = load_trained(path)
    config = header["config"]
    if config.get("seeds") is not None:
        raise ValueError(f"evaluate_checkpoint_on_crossbar: {path} holds an ensemble of {len(config['seeds'])} "
                         f"(seeds {config['seeds']}, memsnn train --seeds); a chip holds one network. Take a "
                         "member out with memsnn.training.ensemble.member(model, k) and deploy it with "
                         "on_crossbar and program, or train that member alone with --seed.")
    data = config["data"]
    images, labels = load_dataset(data["dataset"], "test", source=source or data["source"], data_dir=data.get("data_dir"),
                                  subset=subset or data.get("test_subset"))
    if w_max is None:
        w_max = config["model"].get("crossbar_w_max")
    rows = accuracy_over_time(model, get_method(config["method"]).predict, images, labels, preset=preset,
                              times=(t_read,), compensation=(drift_compensation,), key=jax.random.key(chip),
                              batch_size=batch_size or config["eval_batch_size"], seed=chip, w_max=w_max)
    return {**rows[0], "accuracy": rows[0]["accuracy"], "n_samples": len(labels), "preset": preset, "chip": chip,
            "epoch": header["epoch"]}
