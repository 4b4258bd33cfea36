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

:func:`memsnn.studies.deploy.accuracy_over_time` runs that loop, with and without global drift
compensation; it is what ``memsnn evaluate CHECKPOINT --crossbar PRESET --t-read SECONDS`` runs.

Biases. A crossbar holds a weight matrix only; a dense layer's bias becomes one more row of
devices driven at a constant input of 1 (:class:`~memsnn.crossbar.BiasRow`), programmed and read
like the others.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ..arrays import Dense
from .array import BiasRow, Crossbar, ProgrammedCrossbar, crossbar_from_dense
from .irdrop import ir_drop_matrix
from .mapping import Conductances
from .nonideal import IVNonlinearity, chain

__all__ = ["as_dense", "at_time", "on_crossbar", "one_read", "program"]


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
    """``model`` with every :class:`~memsnn.crossbar.Crossbar` programmed once (one chip).

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
