"""Memristive crossbars as synapse arrays: weights held by device conductances (docs/crossbar.md).

:class:`Crossbar` is the array; :class:`BiasRow` holds a dense layer's bias in one more row of
devices; :class:`ProgrammedCrossbar` is a crossbar after programming (one chip).
"""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._validation import _concrete
from ..arrays import AbstractPlasticArray, AbstractProgrammableArray, AbstractSynapseArray, Dense
from .irdrop import Wires, ir_drop_matrix, solve_ir_drop
from .mapping import ConductanceMapping, Conductances
from .nonideal import AbstractNonideality, Chain, IVNonlinearity, chain, global_drift_compensation
from .periphery import ADC, DAC
from .presets import preset as make_preset
from .update import PulseUpdate


class AbstractMemristiveArray(AbstractSynapseArray):
    """A synapse array whose weights are held by memristive devices: what deploying a trained model
    on a chip needs from it (:mod:`memsnn.crossbar.deploy`).

    A new memristive array kind implements these methods; :func:`~memsnn.crossbar.deploy.on_crossbar`,
    :func:`~memsnn.crossbar.deploy.program`, :func:`~memsnn.crossbar.deploy.at_time` and
    :func:`~memsnn.crossbar.deploy.one_read` only call them.
    """

    @abc.abstractmethod
    def ideal(self) -> Dense:
        """The ideal dense layer of the target weights (a bias held in devices becomes its bias)."""

    @property
    @abc.abstractmethod
    def w_max(self) -> float:
        """The weight mapped to a device's full conductance range."""

    @property
    @abc.abstractmethod
    def is_programmed(self) -> bool:
        """Whether the devices hold fixed programmed conductances (one chip)."""

    @abc.abstractmethod
    def programmed(self, *, key: PRNGKeyArray) -> "AbstractMemristiveArray":
        """This array programmed once (its programming noise and faults drawn with ``key``)."""

    @abc.abstractmethod
    def read_at(self, t_read: float, *, drift_compensation: bool | None = None) -> "AbstractMemristiveArray":
        """This array read ``t_read`` seconds after programming (``drift_compensation``: switch the
        global drift compensation on or off; ``None``: leave it)."""

    @abc.abstractmethod
    def frozen(self, *, key: PRNGKeyArray | None) -> "AbstractMemristiveArray":
        """A programmed array frozen as one read sees it (read noise from ``key``; ``None``:
        noise-free), its wires solved exactly: see :func:`memsnn.crossbar.deploy.one_read`."""


class Crossbar(AbstractPlasticArray, AbstractMemristiveArray):
    """``y = W x`` computed by a crossbar of memristive devices, a drop-in for :class:`~memsnn.Dense`.

    The state (slot ``array``) is the programmed :class:`~memsnn.crossbar.Conductances` (S,
    ``(n_out, n_in)`` each). A read, ``t_read`` seconds after programming:

    1. the non-idealities' ``read`` transforms the state (drift, read noise with the read's ``key``);
    2. the DAC turns activity ``x`` into row voltages ``v`` (V), the cells' I-V nonlinearity
       into effective voltages;
    3. each tile (``tile = (rows, cols)``; one tile when ``None``) produces column currents
       ``I+ - I-`` (A): ``G^T v``, or the exact IR-drop solve when ``wires`` is given; the ADC
       converts them and the tiles' partial sums are added digitally;
    4. the output is in weight units, ``(I+ - I-) / (v_read k)`` (``k`` = ``mapping.scale``), so
       that an ideal crossbar returns exactly ``W x``. With ``drift_compensation`` it is scaled by
       aihwkit's global drift compensation factor.

    ``init_state`` programs the devices: the mapping's target conductances of ``weight`` (clipped
    to ``±w_max``), then the non-idealities' ``programmed`` transforms drawn with ``key``.
    Gradients reach ``weight`` through all of it (hardware-aware training). ``state=None`` reads
    the ideal target (no programming error) with the read transforms.

    Attributes:
        weight: ``(n_out, n_in)`` target weights (trainable).
        mapping: :class:`~memsnn.crossbar.ConductanceMapping`.
        nonideality: :class:`~memsnn.crossbar.Chain` of non-idealities (empty: ideal devices).
        wires: :class:`~memsnn.crossbar.Wires` of each tile, or ``None`` (no IR drop).
        dac, adc: :class:`~memsnn.crossbar.DAC`, :class:`~memsnn.crossbar.ADC`.
        tile: ``(rows, cols)`` of one physical array, or ``None``. A matrix that is not a
            multiple of the tile fills the last tiles partly (unused rows at 0 V, unused devices
            at ``g_min``).
        t_read: seconds since programming at which reads happen (>= 0).
        update: the devices' pulse response used by :meth:`updated`, or ``None`` (ideal).
        drift_compensation: scale outputs by the global drift compensation factor.
    """

    weight: Float[Array, "n_out n_in"]
    mapping: ConductanceMapping
    nonideality: Chain
    wires: Wires | None
    dac: DAC
    adc: ADC
    tile: tuple[int, int] | None = eqx.field(static=True)
    t_read: float = eqx.field(static=True)
    update: PulseUpdate | None
    drift_compensation: bool = eqx.field(static=True)

    def __init__(self, weight, *, mapping: ConductanceMapping | None = None,
                 nonideality: AbstractNonideality | None = None, wires: Wires | None = None,
                 dac: DAC | None = None, adc: ADC | None = None, tile: tuple[int, int] | None = None,
                 t_read: float = 1.0, update: PulseUpdate | None = None, drift_compensation: bool = False):
        weight = jnp.asarray(weight, dtype=float)
        if weight.ndim != 2:
            raise ValueError(f"Crossbar: weight must be 2-D (n_out, n_in), got shape {weight.shape}.")
        concrete = _concrete(weight)
        if concrete is not None and not np.all(np.isfinite(concrete)):
            raise ValueError(f"Crossbar: weight has {int(np.sum(~np.isfinite(concrete)))} NaN or inf entries; "
                             "a crossbar holds finite weights (check where they came from).")
        if mapping is None:
            concrete = _concrete(weight)
            w_max = float(np.max(np.abs(concrete))) if concrete is not None and concrete.size else 1.0
            mapping = ConductanceMapping(1e-6, 100e-6, w_max=w_max if w_max > 0 else 1.0)
        if not isinstance(mapping, ConductanceMapping):
            raise TypeError(f"Crossbar: mapping must be a memsnn.crossbar.ConductanceMapping, got {type(mapping).__name__}.")
        if nonideality is None:
            nonideality = chain()
        if not isinstance(nonideality, AbstractNonideality):
            raise TypeError(f"Crossbar: nonideality must be a memsnn.crossbar non-ideality or chain(...), "
                            f"got {type(nonideality).__name__}.")
        if not isinstance(nonideality, Chain):
            nonideality = chain(nonideality)
        if wires is not None and not isinstance(wires, Wires):
            raise TypeError(f"Crossbar: wires must be memsnn.crossbar.Wires or None, got {type(wires).__name__}.")
        dac = DAC() if dac is None else dac
        adc = ADC() if adc is None else adc
        if not isinstance(dac, DAC) or not isinstance(adc, ADC):
            raise TypeError("Crossbar: dac and adc must be memsnn.crossbar.DAC and memsnn.crossbar.ADC.")
        n_out, n_in = weight.shape
        if tile is not None:
            if (not isinstance(tile, (tuple, list)) or len(tile) != 2
                    or any(isinstance(t, bool) or not float(t).is_integer() or int(t) < 1 for t in tile)):
                raise ValueError(f"Crossbar: tile must be (rows, cols), two integers >= 1, or None; got {tile!r}.")
            tile = (int(tile[0]), int(tile[1]))
            if tile[0] > n_in or tile[1] > n_out:
                raise ValueError(
                    f"Crossbar: a tile of {tile[0]} rows x {tile[1]} columns does not fit a weight matrix with "
                    f"{n_in} inputs (rows) and {n_out} outputs (columns); the tile must not be larger than the "
                    f"matrix. Use tile=None for one array, or at most ({n_in}, {n_out}).")
        t_read = float(t_read)
        if not (math.isfinite(t_read) and t_read >= 0):
            raise ValueError(f"Crossbar: t_read must be >= 0 s (time since programming), got {t_read!r}.")
        if update is not None:
            if not isinstance(update, PulseUpdate):
                raise TypeError(f"Crossbar: update must be a memsnn.crossbar.PulseUpdate or None, got {type(update).__name__}.")
            if not (math.isclose(update.g_min, mapping.g_min, rel_tol=1e-9, abs_tol=1e-15)
                    and math.isclose(update.g_max, mapping.g_max, rel_tol=1e-9)):
                raise ValueError(
                    f"Crossbar: the pulse update's range [{update.g_min:g}, {update.g_max:g}] S differs from the "
                    f"mapping's [{mapping.g_min:g}, {mapping.g_max:g}] S; both describe the same devices.")
        self.weight = weight
        self.mapping, self.nonideality, self.wires, self.dac, self.adc = mapping, nonideality, wires, dac, adc
        self.tile, self.t_read, self.update = tile, t_read, update
        self.drift_compensation = bool(drift_compensation)

    @classmethod
    def from_dense(cls, dense: Dense, preset: str = "ideal", *, w_max: float | None = None, seed: int = 0,
                   **overrides) -> "Crossbar":
        """A crossbar holding ``dense.weight`` with the pieces of :func:`memsnn.crossbar.preset`
        (``w_max`` defaults to ``max |W|``; a preset's tile larger than the matrix shrinks to it);
        keyword ``overrides`` replace single pieces (e.g. ``wires=None``, ``t_read=3600.0``)."""
        if not isinstance(dense, Dense):
            raise TypeError(f"Crossbar.from_dense: expected a memsnn.Dense, got {type(dense).__name__}.")
        if dense.bias is not None:
            raise ValueError("Crossbar.from_dense: the Dense layer has a bias, which a crossbar does not hold; "
                             "build the Dense without bias (or fold the bias into the next layer).")
        if w_max is None:
            concrete = _concrete(dense.weight)
            w_max = float(np.max(np.abs(concrete))) if concrete is not None and concrete.size else 1.0
            w_max = w_max if w_max > 0 else 1.0
        pieces = make_preset(preset, w_max=w_max, seed=seed)._asdict()
        if pieces["tile"] is not None:
            # A preset's physical array size, for a matrix smaller than one array: one partly used tile.
            n_out, n_in = dense.weight.shape
            pieces["tile"] = (min(pieces["tile"][0], n_in), min(pieces["tile"][1], n_out))
        pieces.update(overrides)
        return cls(dense.weight, **pieces)

    @property
    def n_inputs(self) -> int:
        return self.weight.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.weight.shape[0]

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        """Whether reads or programming draw noise (then :func:`memsnn.simulate` needs a key)."""
        return self.nonideality.stochastic or (self.update is not None and (
            self.update.sigma_c2c > 0 or self.update.rounding == "stochastic"))

    def target(self) -> Conductances:
        """The ideal conductances (S) of ``weight`` (clipped to ``±w_max``), before programming."""
        return self.mapping.to_conductances(self.weight, saturate=True)

    def init_state(self, n, *, key: PRNGKeyArray | None = None) -> Conductances:
        if n != self.n_outputs:
            raise ValueError(f"Crossbar: a layer of {n} neurons cannot use an array with {self.n_outputs} outputs.")
        return self.nonideality.programmed(self.target(), self.mapping, key=key)

    def weights(self, state: Conductances) -> Float[Array, "n_out n_in"]:
        return self.mapping.to_weight(state)

    def read_conductances(self, state: Conductances | None = None, *,
                          key: PRNGKeyArray | None = None) -> Conductances:
        """The conductances (S) one read sees, ``t_read`` after programming (``key``: read noise)."""
        g = self.target() if state is None else state
        return self.nonideality.read(g, self.mapping, t=self.t_read, key=key)

    def _tile_currents(self, g: Float[Array, "n_in n_out"], v: Float[Array, " n_in"]) -> Float[Array, "tr tc cols"]:
        """Column currents (A) of every tile, ``(row tiles, column tiles, cols)``."""
        n_in, n_out = g.shape
        rows, cols = self.tile if self.tile is not None else (n_in, n_out)
        r_tiles, c_tiles = -(-n_in // rows), -(-n_out // cols)
        pad_in, pad_out = r_tiles * rows - n_in, c_tiles * cols - n_out
        if pad_in or pad_out:
            g = jnp.pad(g, ((0, pad_in), (0, pad_out)), constant_values=self.mapping.g_min)
            v = jnp.pad(v, (0, pad_in))
        g = g.reshape(r_tiles, rows, c_tiles, cols).transpose(0, 2, 1, 3)
        v = v.reshape(r_tiles, rows)
        if self.wires is None:
            return jnp.einsum("rcij,ri->rcj", g, v)
        wires = self.wires
        solve = jax.vmap(jax.vmap(lambda gt, vt: solve_ir_drop(gt, vt, wires), in_axes=(0, None)))
        return solve(g, v)

    def __call__(self, presynaptic, state=None, *, key=None):
        if jnp.shape(presynaptic)[-1:] != (self.n_inputs,):
            raise ValueError(f"Crossbar: the input must have {self.n_inputs} entries (one per row), got shape "
                             f"{jnp.shape(presynaptic)}.")
        if state is not None:
            for name, g in (("positive", state.positive), ("negative", state.negative)):
                concrete = _concrete(g)
                if concrete is not None and (np.any(concrete < 0) or not np.all(np.isfinite(concrete))):
                    raise ValueError(f"Crossbar: the state's {name} conductances must be finite and >= 0 S, got "
                                     f"min {np.min(concrete):g} S; a device conductance cannot be negative.")
        g = self.read_conductances(state, key=key)
        v = self.nonideality.voltage(self.dac(presynaptic))
        rows = self.tile[0] if self.tile is not None else self.n_inputs
        i_pos = self._tile_currents(g.positive.T, v)
        i_neg = self._tile_currents(g.negative.T, v)
        full_scale = rows * self.dac.v_read * (self.mapping.g_max - self.mapping.g_min)
        digital = self.adc(i_pos - i_neg, full_scale)
        current = jnp.sum(digital, axis=0).reshape(-1)[: self.n_outputs]
        out = current / (self.dac.v_read * self.mapping.scale)
        if self.drift_compensation:
            programmed = self.target() if state is None else state
            drifted = self.nonideality.read(programmed, self.mapping, t=self.t_read, key=None)
            out = out * global_drift_compensation(self.mapping.to_weight(programmed), self.mapping.to_weight(drifted))
        return out

    def updated(self, state: Conductances, delta, *, key: PRNGKeyArray | None = None) -> Conductances:
        """Program a weight change ``delta`` ``(n_out, n_in)`` into the devices.

        The change ``k delta`` (S) first lowers the device of the opposite sign (down to ``g_min``),
        and the rest raises the other one: the pair keeps the mapping's form (one device at
        ``g_min``), so with ideal devices ``updated(to_conductances(w), d)`` is
        ``to_conductances(clip(w + d))``. In the ``reference`` scheme the one device moves by
        ``k delta``. With ``update`` (a :class:`~memsnn.crossbar.PulseUpdate`) each device gets
        ``update.pulse_count(change)`` identical pulses (``round(|change| / step)``, or stochastic
        rounding) and responds with its nonlinear curve (and
        cycle-to-cycle noise drawn with ``key``, one number per device written:
        :meth:`~memsnn.crossbar.PulseUpdate.programmed`); without it the change is exact, then
        clipped to ``[g_min, g_max]``. The arithmetic is element by element: :meth:`updated_columns`
        applies it to a few columns alone.
        """
        k = self.mapping.scale
        change = k * jnp.asarray(delta, dtype=state.positive.dtype)
        g_min = self.mapping.g_min
        if self.mapping.differential:
            up = jnp.maximum(change, 0.0)
            down = jnp.maximum(-change, 0.0)
            lower_neg = jnp.minimum(up, jnp.maximum(state.negative - g_min, 0.0))
            lower_pos = jnp.minimum(down, jnp.maximum(state.positive - g_min, 0.0))
            d_pos = (up - lower_neg) - lower_pos
            d_neg = (down - lower_pos) - lower_neg
        else:
            d_pos, d_neg = change, jnp.zeros_like(change)
        if self.update is None:
            return self.mapping.clip(Conductances(state.positive + d_pos, state.negative + d_neg))
        keys = (None, None) if key is None else tuple(jax.random.split(key))
        positive = self.update.programmed(state.positive, d_pos, key=keys[0])
        negative = (self.update.programmed(state.negative, d_neg, key=keys[1]) if self.mapping.differential
                    else state.negative)
        return Conductances(positive, negative)

    def updated_columns(self, state: Conductances, columns, delta, *, key: PRNGKeyArray | None = None
                        ) -> Conductances:
        # Only the k columns are read, programmed (updated's element-wise arithmetic on (n_out, k))
        # and written back: the devices of the other columns are not written, so they draw no
        # noise (a learning step's write costs k columns, not the whole array). Noise-free, the
        # conductances are those of updated with the full change (bitwise op by op; compiled, the
        # fusion may round the device curve differently, ~1e-6 of a pulse); with noise, the written
        # devices draw the same distribution from other numbers.
        columns = jnp.asarray(columns)
        g_min = self.mapping.g_min  # the padding columns' devices (index n_inputs): dropped below

        def block(g):
            return g.at[:, columns].get(mode="fill", fill_value=g_min)

        new = self.updated(Conductances(block(state.positive), block(state.negative)), delta, key=key)
        negative = (state.negative.at[:, columns].set(new.negative, mode="drop") if self.mapping.differential
                    else state.negative)  # the reference devices are never written
        return Conductances(state.positive.at[:, columns].set(new.positive, mode="drop"), negative)

    # Deployment (AbstractMemristiveArray).

    def ideal(self) -> Dense:
        return Dense(self.weight)

    @property
    def w_max(self) -> float:
        return self.mapping.w_max

    @property
    def is_programmed(self) -> bool:
        return False

    def programmed(self, *, key: PRNGKeyArray) -> "ProgrammedCrossbar":
        return ProgrammedCrossbar(self, self.init_state(self.n_outputs, key=key))

    def read_at(self, t_read: float, *, drift_compensation: bool | None = None) -> "Crossbar":
        # t_read and drift_compensation are static fields: a new crossbar, not a tree_at.
        changes = {"t_read": float(t_read)}
        if drift_compensation is not None:
            changes["drift_compensation"] = bool(drift_compensation)
        return dataclasses.replace(self, **changes)

    def frozen(self, *, key: PRNGKeyArray | None) -> "Crossbar":
        return self  # not programmed: nothing to freeze

    def tile_maps(self, g: Float[Array, "n_out n_in"]) -> Float[Array, "n_out n_in"]:
        """Each tile of ``g`` (S, the weight's layout) replaced by its exact IR-drop map
        (:func:`~memsnn.crossbar.ir_drop_matrix`, transposed back).

        The maps depend on the conductances only: one call per read (per optimiser step in
        hardware-aware training), shared by every input of the batch and every time step."""
        n_out, n_in = g.shape
        rows, cols = self.tile if self.tile is not None else (n_in, n_out)
        r_tiles, c_tiles = -(-n_in // rows), -(-n_out // cols)
        # The crossbar pads a partly used tile with g_min devices on 0 V rows: the same here, so that
        # the unused devices load the lines as they do in the chip.
        padded = jnp.pad(g.T, ((0, r_tiles * rows - n_in), (0, c_tiles * cols - n_out)),
                         constant_values=self.mapping.g_min)
        blocks = padded.reshape(r_tiles, rows, c_tiles, cols).transpose(0, 2, 1, 3)  # (r, c, rows, cols)
        # One tile after another, nothing kept for the gradient (the backward pass solves a tile
        # again): a tile's solve for all its unit inputs holds rows * cols^2 numbers per sweep (67 MB
        # for 256 x 256 in float32), which all tiles at once, kept for the gradient, multiplied into
        # tens of GiB in training. The last row of tiles holds n_in - (r_tiles - 1) rows in use: only
        # those inputs are solved for (the rest are 0 V; their map rows stay zero and are cut below).
        def maps(stack, used):
            return jax.lax.map(lambda b: ir_drop_matrix(b, self.wires, rows=used, recompute=True), stack)

        used_last = n_in - (r_tiles - 1) * rows
        if used_last == rows:
            out = maps(blocks.reshape(-1, rows, cols), rows).reshape(r_tiles, c_tiles, rows, cols)
        else:
            last = jnp.pad(maps(blocks[-1], used_last), ((0, 0), (0, rows - used_last), (0, 0)))[None]
            if r_tiles > 1:
                full = maps(blocks[:-1].reshape(-1, rows, cols), rows).reshape(r_tiles - 1, c_tiles, rows, cols)
                last = jnp.concatenate([full, last], axis=0)
            out = last
        return out.transpose(0, 2, 1, 3).reshape(r_tiles * rows, c_tiles * cols)[:n_in, :n_out].T


class BiasRow(AbstractMemristiveArray):
    """``array`` with one input more than the layer has, held at 1: a bias stored in devices.

    ``BiasRow(crossbar)(x) = crossbar([x, 1])``: the crossbar's last column of weights is the bias.

    Attributes:
        array: the memristive array with ``n_inputs + 1`` inputs (a :class:`Crossbar`, or one
            programmed).
    """

    array: AbstractMemristiveArray
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

    def ideal(self) -> Dense:
        inner = self.array.ideal()
        return Dense(inner.weight[:, :-1], inner.weight[:, -1])

    @property
    def w_max(self) -> float:
        return self.array.w_max

    @property
    def is_programmed(self) -> bool:
        return self.array.is_programmed

    def programmed(self, *, key: PRNGKeyArray) -> "BiasRow":
        return BiasRow(self.array.programmed(key=key))

    def read_at(self, t_read: float, *, drift_compensation: bool | None = None) -> "BiasRow":
        return BiasRow(self.array.read_at(t_read, drift_compensation=drift_compensation))

    def frozen(self, *, key: PRNGKeyArray | None) -> "BiasRow":
        return BiasRow(self.array.frozen(key=key))


class ProgrammedCrossbar(AbstractMemristiveArray, AbstractProgrammableArray):
    """A crossbar after programming: one chip, whose programmed conductances it holds.

    :meth:`init_state` returns the same conductances every time (no new programming noise or
    faults), so every sample, batch and evaluation reads the same chip; reads still draw their own
    read noise, and drift follows ``crossbar.t_read``.

    Learning on the chip (:class:`~memsnn.arrays.AbstractProgrammableArray`): a rule's weight change
    is programmed into the held conductances by the crossbar's :meth:`Crossbar.updated` (device
    pulses with ``crossbar.update``), inside a simulation (a plasticity rule) or between runs (a
    gradient rule's step, :func:`memsnn.training.apply_updates`).

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

    def weights(self, state: Conductances) -> Float[Array, "n_out n_in"]:
        return self.crossbar.weights(state)

    def updated(self, state: Conductances, delta, *, key: PRNGKeyArray | None = None) -> Conductances:
        return self.crossbar.updated(state, delta, key=key)

    def updated_columns(self, state: Conductances, columns, delta, *, key: PRNGKeyArray | None = None
                        ) -> Conductances:
        return self.crossbar.updated_columns(state, columns, delta, key=key)

    @property
    def held_state(self) -> Conductances:
        return self.conductances

    def starting_from(self, state: Conductances) -> "ProgrammedCrossbar":
        return eqx.tree_at(lambda a: a.conductances, self, Conductances(*state))

    def ideal(self) -> Dense:
        return self.crossbar.ideal()

    @property
    def w_max(self) -> float:
        return self.crossbar.w_max

    @property
    def is_programmed(self) -> bool:
        return True

    def programmed(self, *, key: PRNGKeyArray) -> "ProgrammedCrossbar":
        return self  # one chip: programmed once

    def read_at(self, t_read: float, *, drift_compensation: bool | None = None) -> "ProgrammedCrossbar":
        return ProgrammedCrossbar(self.crossbar.read_at(t_read, drift_compensation=drift_compensation),
                                  self.conductances)

    def frozen(self, *, key: PRNGKeyArray | None) -> "ProgrammedCrossbar":
        crossbar = self.crossbar
        if crossbar.drift_compensation:
            raise ValueError("one_read: a crossbar with drift_compensation=True cannot be frozen (the compensation "
                             "factor is computed from the unfrozen read); switch it off with at_time(..., "
                             "drift_compensation=False).")
        g = crossbar.read_conductances(self.conductances, key=key)
        if crossbar.wires is not None:
            # Both arrays: the reference column of the reference scheme sees the wires too.
            g = Conductances(*(crossbar.tile_maps(x) for x in g))
        # Only the cells' I-V nonlinearity acts at read time on a frozen read.
        kept = chain(*(n for n in crossbar.nonideality.nonidealities if isinstance(n, IVNonlinearity)))
        return ProgrammedCrossbar(dataclasses.replace(crossbar, nonideality=kept, wires=None), g)


def crossbar_from_dense(dense: Dense, preset: str, *, w_max: float | None = None, **overrides) -> AbstractSynapseArray:
    """``dense`` as a crossbar of ``preset`` (:meth:`~memsnn.crossbar.Crossbar.from_dense`), its bias
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
