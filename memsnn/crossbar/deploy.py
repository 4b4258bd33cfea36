"""Trained models on memristive chips: map them onto crossbars, program once, read later.

Hardware-aware training (``memsnn train ... --crossbar PRESET``) programs its crossbars afresh at
every step. A deployed chip is programmed once: its programming noise and stuck-at faults are then
fixed, its conductances drift, and only the read noise is new at every read. This module turns
any trained model whose synapse arrays are :class:`~memsnn.Dense` (ideal training) or crossbars
(hardware-aware training) into such a chip::

    model, _ = load_trained("runs/spiceprop-mnist/checkpoint.eqx")
    chip = program(on_crossbar(model, "pcm"), key=jax.random.key(0))    # one chip, programmed once
    for t in TIMES.values():                                             # seconds after programming
        accuracy, _ = evaluate(SPICEPROP.predict, at_time(chip, t), images, labels)  # read noise keyed per image

:func:`memsnn.studies.deploy.accuracy_over_time` runs that loop, with and without global drift
compensation; it is what ``memsnn evaluate CHECKPOINT --crossbar PRESET --t-read SECONDS`` runs.

Biases. A crossbar holds a weight matrix only; a dense layer's bias becomes one more row of
devices driven at a constant input of 1 (:class:`~memsnn.crossbar.BiasRow`), programmed and read
like the others.
"""

from __future__ import annotations

import equinox as eqx
import jax
from jaxtyping import PRNGKeyArray

from ..arrays import Dense
from .array import AbstractMemristiveArray, crossbar_from_dense

__all__ = ["as_dense", "at_time", "on_crossbar", "one_read", "program", "read_keys"]


def _is_memristive(x) -> bool:
    return isinstance(x, AbstractMemristiveArray)


def _is_weights(x) -> bool:
    """An array whose weights deployment moves: the ideal dense layer or a memristive array."""
    return isinstance(x, (Dense, AbstractMemristiveArray))


def _ideal(array: Dense | AbstractMemristiveArray) -> Dense:
    return array if isinstance(array, Dense) else array.ideal()


def on_crossbar(model, preset: str, *, w_max: float | None = None, **overrides):
    """``model`` with every dense or memristive array made a crossbar of ``preset``.

    Ideal :class:`~memsnn.Dense` arrays are mapped with :func:`~memsnn.crossbar.crossbar_from_dense`;
    memristive arrays from hardware-aware training (perhaps with another preset) keep their
    weights (:meth:`~memsnn.crossbar.AbstractMemristiveArray.ideal`) and get the new preset;
    programmed crossbars are unprogrammed first. Other arrays (convolutions) stay as they are.
    ``w_max`` and ``overrides`` as in :func:`~memsnn.crossbar.crossbar_from_dense`; ``w_max=None``
    keeps a memristive array's own ``w_max`` (and is ``max |W|`` for a dense layer).
    """
    def convert(array):
        limit = w_max
        if limit is None and not isinstance(array, Dense):
            limit = array.w_max
        return crossbar_from_dense(_ideal(array), preset, w_max=limit, **overrides)

    return jax.tree.map(lambda x: convert(x) if _is_weights(x) else x, model, is_leaf=_is_weights)


def as_dense(model):
    """``model`` with every memristive array replaced by the ideal dense layer of its target weights."""
    return jax.tree.map(lambda x: _ideal(x) if _is_weights(x) else x, model, is_leaf=_is_weights)


def _split_over(model, select, key: PRNGKeyArray | None):
    """One key per memristive array of ``model`` that ``select`` picks, in tree order."""
    count = sum(select(x) for x in jax.tree.leaves(model, is_leaf=_is_memristive) if _is_memristive(x))
    if key is None:
        return iter([None] * count)
    return iter(jax.random.split(key, max(count, 1)))


def program(model, *, key: PRNGKeyArray):
    """``model`` with every memristive array programmed once (one chip).

    Each array not yet programmed draws its programming noise and faults from its own key split
    off ``key`` (:meth:`~memsnn.crossbar.AbstractMemristiveArray.programmed`: a
    :class:`~memsnn.crossbar.Crossbar` becomes a :class:`~memsnn.crossbar.ProgrammedCrossbar`),
    read ``t_read`` after programming.
    """
    return _program(model, key)


# Compiled whole, as _one_read below: op by op, programming a chip compiled many small programs.
@eqx.filter_jit
def _program(model, key):
    unprogrammed = lambda x: not x.is_programmed  # noqa: E731
    keys = _split_over(model, unprogrammed, key)

    def burn(array):
        if not _is_memristive(array) or array.is_programmed:
            return array
        return array.programmed(key=next(keys))

    return jax.tree.map(burn, model, is_leaf=_is_memristive)


def one_read(model, *, key: PRNGKeyArray | None = None):
    """``model`` with every programmed memristive array frozen as one read sees it, wires solved
    exactly.

    Each programmed crossbar (:class:`~memsnn.crossbar.ProgrammedCrossbar`) becomes one whose
    conductances are those one read sees (drift at ``t_read``, read noise drawn from ``key``;
    ``key=None``: noise-free) and, if it has wires, each tile's exact linear map
    (:func:`~memsnn.crossbar.ir_drop_matrix`, conductances in S) in place of its devices, with no
    wires and no read transforms left: reading it computes exactly the currents the chip's IR-drop
    solve would for that read (DAC, I-V nonlinearity, per-tile ADC and partial sums unchanged). A
    batch of inputs then shares one solve per tile: evaluate a chip with wires read by read (a
    read-noise draw per batch) instead of solving the wires per image.

    Args:
        model: a model with programmed memristive arrays (:func:`program`).
        key: the read's noise, split over the programmed arrays.

    Raises:
        ValueError: a crossbar with ``drift_compensation`` (its factor needs the unfrozen read).
    """
    return _one_read(model, key)


# Compiled whole: op by op, freezing a chip (each tile's IR-drop map) compiled hundreds of small
# programs.
@eqx.filter_jit
def _one_read(model, key):
    keys = iter(read_keys(model, key=key))

    def freeze(array):
        if not _is_memristive(array) or not array.is_programmed:
            return array
        return array.frozen(key=next(keys))

    return jax.tree.map(freeze, model, is_leaf=_is_memristive)


def read_keys(model, *, key: PRNGKeyArray | None) -> list:
    """The read-noise key of each programmed memristive array of ``model`` in :func:`one_read`
    (``model``, ``key``), in tree order (``None`` each for ``key=None``): what a meter of that
    read (:func:`memsnn.energy.crossbar_read_energy`) passes to reproduce its conductances."""
    return list(_split_over(model, lambda x: x.is_programmed, key))


def at_time(model, t_read: float, *, drift_compensation: bool | None = None):
    """``model`` with every memristive array read ``t_read`` seconds after programming.

    ``drift_compensation``: switch the crossbars' global drift compensation on or off (``None``:
    leave it as it is).
    """
    def move(array):
        return array.read_at(t_read, drift_compensation=drift_compensation) if _is_memristive(array) else array

    return jax.tree.map(move, model, is_leaf=_is_memristive)
