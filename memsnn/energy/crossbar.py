"""Read energy of a memristive crossbar from its nodal solve, and of its converters (docs/energy.md, 5).

A read drives the word lines with voltages ``v`` for a pulse of width ``t``; the cells and the
wires dissipate ``P(v) t``. The power comes from the same exact nodal solve that gives the
crossbar's currents (:func:`~memsnn.crossbar.solve_ir_drop_nodes`, IR drop included): every cell
dissipates ``g (w - b)^2`` (its word- and bit-line node voltages ``w``, ``b``), every wire segment
``r i^2`` (the current it carries: the sum of the cell currents beyond it on its line). The
circuit is linear in ``v``, so each of these powers is a quadratic form ``v^T Q v``: ``Q`` comes
from one solve of the tile with a unit voltage on each row in use (one factorisation shared by
all of them), and then prices every image of a read exactly, without a solve per image. Their sum
is the power the drivers supply (Tellegen), checked at every read.

The converters are priced per conversion (:class:`ReadScheme`), from ISAAC (Shafiee et al.,
ISCA 2016, Table 1, 32 nm): inputs are applied bit-serially, one read pulse per input bit, each
on 1-bit drivers; every pulse's column currents (``I+ - I-`` of each pair) are sampled, converted
by an 8-bit SAR ADC and shift-added into the column's digital partial sum (across row tiles too).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ..crossbar.array import AbstractMemristiveArray, BiasRow, Crossbar, ProgrammedCrossbar
from ..crossbar.irdrop import Wires, solve_ir_drop_nodes
from ..crossbar.mapping import Conductances

__all__ = ["ReadScheme", "CrossbarReadEnergy", "tile_power_forms", "crossbar_read_energy"]

#: J per 1-bit row drive: ISAAC's 8 x 128 1-bit DACs draw 4 mW together, one drive each per 100 ns
#: cycle (4 mW / 1024 x 100 ns).
ISAAC_DAC_ENERGY = 4e-3 / 1024 * 100e-9
#: J per 8-bit conversion: ISAAC's 8 SAR ADCs draw 16 mW at 1.2 GS/s each (Kull et al., ISSCC 2013,
#: 32 nm SOI), 16 mW / (8 x 1.2 GS/s) -- the figure Accelergy's ISAAC model uses.
ISAAC_ADC_ENERGY = 16e-3 / (8 * 1.2e9)
#: J per column sample: ISAAC's 8 x 128 sample-and-hold circuits draw 10 uW together, one sample per
#: 100 ns cycle.
ISAAC_SAMPLE_HOLD_ENERGY = 10e-6 / 1024 * 100e-9
#: J per shift-and-add of a converted value into a 16-bit partial sum: ISAAC's shift-and-add units,
#: 0.2 mW at the ADC's 1.2 GS/s x 8 (0.021 pJ, as Accelergy's ISAAC model prices it).
ISAAC_SHIFT_ADD_ENERGY = 0.2e-3 / (8 * 1.2e9)


class ReadScheme(eqx.Module):
    """How a chip reads its crossbars for one image, and what each conversion costs.

    Every input is quantised to ``input_bits`` (``k = round(u (2^B - 1))``, ``u`` the DAC's
    normalised input ``clip(x / x_max, 0, 1)``) and applied bit-serially: pulse ``b`` drives the
    rows whose bit ``b`` is 1 at the crossbar's ``v_read`` for ``pulse_width`` seconds (the others
    stay at 0 V), and the column currents of each pulse are converted and shift-added with weight
    ``2^b / (2^B - 1)``. Because the array is linear, the sum equals one read at the amplitude-coded
    voltages ``v_read k / (2^B - 1)`` (what :class:`~memsnn.crossbar.Crossbar` computes, with an
    ideal ADC). Counted per pulse: one DAC drive per row whose input is nonzero (its driver is
    clocked in every pulse of the image), one sample, conversion and shift-add per used column
    (pair) of every row tile.

    Attributes:
        pulse_width: read pulse width (s); default 10 ns, MLP_NeuroSim's ``readPulseWidth``.
        input_bits: bits per input value (pulses per read of an image), >= 1.
        dac_energy: J per 1-bit row drive (default ISAAC's, 0.39 pJ).
        adc_energy: J per conversion (default ISAAC's 8-bit SAR ADC, 1.67 pJ).
        sample_hold_energy: J per column sample (default ISAAC's, 1 fJ).
        shift_add_energy: J per shift-and-add into a partial sum (default ISAAC's, 0.021 pJ).
    """

    pulse_width: float = eqx.field(static=True, default=10e-9)
    input_bits: int = eqx.field(static=True, default=8)
    dac_energy: float = eqx.field(static=True, default=ISAAC_DAC_ENERGY)
    adc_energy: float = eqx.field(static=True, default=ISAAC_ADC_ENERGY)
    sample_hold_energy: float = eqx.field(static=True, default=ISAAC_SAMPLE_HOLD_ENERGY)
    shift_add_energy: float = eqx.field(static=True, default=ISAAC_SHIFT_ADD_ENERGY)

    def __check_init__(self):
        if not (math.isfinite(self.pulse_width) and self.pulse_width > 0):
            raise ValueError(f"ReadScheme: pulse_width must be > 0 s, got {self.pulse_width!r}.")
        if isinstance(self.input_bits, bool) or not float(self.input_bits).is_integer() or not 1 <= self.input_bits <= 16:
            raise ValueError(f"ReadScheme: input_bits must be an integer in [1, 16], got {self.input_bits!r}.")
        for name in ("dac_energy", "adc_energy", "sample_hold_energy", "shift_add_energy"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"ReadScheme: {name} must be >= 0 J, got {value!r}.")


class CrossbarReadEnergy(NamedTuple):
    """Energy (J) of reading one crossbar layer, per image (each field ``(batch,)``).

    Attributes:
        cells: Joule heat in the devices, ``sum g (w - b)^2 t`` over the pulses.
        word_wires: in the word-line segments, the drivers' output resistance included.
        bit_wires: in the bit-line segments, the sense amplifiers' input resistance included.
        supplied: what the row drivers delivered, ``sum_i v_i i_i t`` (= the three above).
        dac: the row drives; ``adc``, ``sample_hold``, ``shift_add``: the column conversions.
        pulses: read pulses per image (``input_bits``); ``dac_drives``, ``conversions``: counts.
    """

    cells: Float[Array, " batch"]
    word_wires: Float[Array, " batch"]
    bit_wires: Float[Array, " batch"]
    supplied: Float[Array, " batch"]
    dac: Float[Array, " batch"]
    adc: Float[Array, " batch"]
    sample_hold: Float[Array, " batch"]
    shift_add: Float[Array, " batch"]
    pulses: int
    dac_drives: Float[Array, " batch"]
    conversions: int


def tile_power_forms(g: Float[Array, "n_in n_out"], wires: Wires | None, rows: int | None = None
                     ) -> Float[Array, "4 rows rows"]:
    """The power of one tile as quadratic forms of its row voltages (S).

    ``P_c(v) = v^T Q[c] v`` (W) for voltages ``v`` ``(rows,)`` (V) on its first ``rows`` rows (the
    others at 0 V): ``c = 0`` the cells, ``1`` the word-line wires (driver resistance included),
    ``2`` the bit-line wires (sense resistance included), ``3`` what the drivers supply. From one
    :func:`~memsnn.crossbar.solve_ir_drop_nodes` with a unit voltage on each of those rows.

    Args:
        g: ``(n_in, n_out)`` cell conductances (S), rows = word lines.
        wires: the tile's line resistances, or ``None`` (ideal lines: only the cells dissipate).
        rows: the rows in use (default all).

    Raises:
        ValueError: through ``eqx.error_if`` when the solve fails its KCL check, or when the
            components do not add up to the supplied power (relative 1e-3 in float32).
    """
    n_in, n_out = g.shape
    rows = n_in if rows is None else int(rows)
    wires = Wires() if wires is None else wires
    sol = solve_ir_drop_nodes(g, jnp.eye(rows, n_in, dtype=g.dtype), wires)
    drop = sol.word_voltages - sol.bit_voltages  # (rows, n_in, n_out): unit input k -> every cell
    drop = eqx.error_if(drop, ~sol.converged, "tile_power_forms: the nodal solve failed its KCL check.")
    current = g * drop  # each cell's current, word line -> bit line (A per V of input k)
    cells = jnp.einsum("kij,lij->kl", current, drop)
    # Word line i: its segment j (j = 0: driver and first wire) carries the cells j.. of the row.
    word_current = jnp.flip(jnp.cumsum(jnp.flip(current, axis=2), axis=2), axis=2)
    # Bit line j: the segment below row i carries the cells of rows 0..i (open top end).
    bit_current = jnp.cumsum(current, axis=1)
    zero = jnp.zeros_like(cells)
    if wires.row_ideal:
        word = zero
    else:
        r = jnp.full((n_out,), wires.r_row, g.dtype).at[0].add(wires.r_source)
        word = jnp.einsum("kij,lij,j->kl", word_current, word_current, r)
    if wires.col_ideal:
        bit = zero
    else:
        r = jnp.full((n_in,), wires.r_col, g.dtype).at[-1].add(wires.r_sense)
        bit = jnp.einsum("kij,lij,i->kl", bit_current, bit_current, r)
    # What driver k supplies: v_k times its row's first-segment current (symmetrised: reciprocity).
    supplied = word_current[:, :rows, 0].T
    forms = jnp.stack([cells, word, bit, supplied])
    forms = 0.5 * (forms + jnp.swapaxes(forms, 1, 2))
    total = forms[0] + forms[1] + forms[2]
    mismatch = jnp.max(jnp.abs(total - forms[3])) / jnp.maximum(jnp.max(jnp.abs(forms[3])), 1e-30)
    tolerance = 1e-3 if jnp.finfo(g.dtype).bits < 64 else 1e-8
    return eqx.error_if(forms, mismatch > tolerance,
                        "tile_power_forms: the cells' and wires' power does not add up to what the drivers supply.")


def _bit_planes(u: Float[Array, "batch n"], bits: int) -> Float[Array, "bits batch n"]:
    levels = jnp.round(jnp.clip(u, 0.0, 1.0) * (2**bits - 1)).astype(jnp.int32)
    return jnp.stack([((levels >> b) & 1) for b in range(bits)]).astype(u.dtype)


def _programmed(array: AbstractMemristiveArray) -> tuple[ProgrammedCrossbar, bool]:
    if isinstance(array, BiasRow):
        inner, _ = _programmed(array.array)
        return inner, True
    if isinstance(array, ProgrammedCrossbar):
        return array, False
    if isinstance(array, Crossbar):
        raise ValueError("crossbar_read_energy: the crossbar is not programmed; a chip's read energy needs its "
                         "conductances: program it first (memsnn.crossbar.deploy.program(model, key=...)).")
    raise ValueError(f"crossbar_read_energy: expected a programmed crossbar (or its BiasRow), got {type(array).__name__}.")


def crossbar_read_energy(array: AbstractMemristiveArray, inputs: Float[Array, "batch n_in"], scheme: ReadScheme,
                         *, key: PRNGKeyArray | None = None) -> CrossbarReadEnergy:
    """Energy per image of reading ``array`` with ``inputs``, one read of the chip for the batch.

    The read sees the conductances :meth:`~memsnn.crossbar.Crossbar.read_conductances` gives with
    ``key`` (drift and read noise; the key :func:`memsnn.crossbar.deploy.read_keys` assigns this
    array, so the read is the one :func:`~memsnn.crossbar.deploy.one_read` evaluates), the tiles,
    wires and DAC of its crossbar, and a bias row (:class:`~memsnn.crossbar.BiasRow`) driven at 1.

    Args:
        array: a :class:`~memsnn.crossbar.ProgrammedCrossbar` or a ``BiasRow`` holding one.
        inputs: ``(batch, n_in)`` activity at the DAC's input (pixels, ReLU outputs).
        scheme: the read pulses and the converters' prices.
        key: the read's noise (``None``: noise-free).

    Raises:
        ValueError: an unprogrammed crossbar, a signed DAC (a bit-serial read drives one polarity),
            or inputs of the wrong width.
    """
    programmed, bias = _programmed(array)
    crossbar = programmed.crossbar
    if crossbar.dac.signed:
        raise ValueError("crossbar_read_energy: the bit-serial read drives one polarity; a signed DAC is not priced.")
    inputs = jnp.asarray(inputs)
    if inputs.ndim != 2 or inputs.shape[1] != array.n_inputs:
        raise ValueError(f"crossbar_read_energy: inputs must be (batch, {array.n_inputs}), got {inputs.shape}.")
    if bias:
        inputs = jnp.concatenate([inputs, jnp.ones((inputs.shape[0], 1), inputs.dtype)], axis=1)
    g = crossbar.read_conductances(programmed.conductances, key=key)
    n_out, n_in = g.positive.shape
    rows, cols = crossbar.tile if crossbar.tile is not None else (n_in, n_out)
    r_tiles, c_tiles = -(-n_in // rows), -(-n_out // cols)
    dtype = g.positive.dtype
    planes = _bit_planes((inputs / crossbar.dac.x_max).astype(dtype), scheme.input_bits)  # (bits, batch, n_in)
    v = crossbar.dac.v_read
    power = jnp.zeros((4, inputs.shape[0]), dtype)  # cells, word, bit, supplied: sum over pulses of v^T Q v
    pad = lambda a: jnp.pad(a.T, ((0, r_tiles * rows - n_in), (0, c_tiles * cols - n_out)),  # noqa: E731
                            constant_values=crossbar.mapping.g_min)
    for conductance in Conductances(*g):
        tiles = pad(conductance)
        for r in range(r_tiles):
            used = min(rows, n_in - r * rows)
            x = planes[:, :, r * rows: r * rows + used] * v
            for c in range(c_tiles):
                forms = tile_power_forms(tiles[r * rows:(r + 1) * rows, c * cols:(c + 1) * cols], crossbar.wires, used)
                power = power + jnp.einsum("pbk,ckl,pbl->cb", x, forms, x)
    energy = power * scheme.pulse_width
    active = jnp.sum(inputs != 0, axis=1).astype(dtype)
    drives = scheme.input_bits * active
    conversions = scheme.input_bits * r_tiles * n_out
    return CrossbarReadEnergy(
        cells=energy[0], word_wires=energy[1], bit_wires=energy[2], supplied=energy[3],
        dac=drives * scheme.dac_energy, adc=jnp.full_like(active, conversions * scheme.adc_energy),
        sample_hold=jnp.full_like(active, conversions * scheme.sample_hold_energy),
        shift_add=jnp.full_like(active, conversions * scheme.shift_add_energy),
        pulses=scheme.input_bits, dac_drives=drives, conversions=conversions)
