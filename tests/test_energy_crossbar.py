"""Read energy of a crossbar from its nodal solve: the closed form without wires, every cell's and
wire segment's V I from the node voltages with wires, and the fully memristive SPICEprop report."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memsnn.crossbar import Crossbar, Wires, solve_ir_drop_nodes
from memsnn.crossbar.deploy import on_crossbar, program
from memsnn.energy import ReadScheme, crossbar_read_energy, tile_power_forms
from memsnn.studies import spiceprop_energy
from memsnn.training.spiceprop import SpicepropConfig, build_spiceprop

T = 10e-9


def _chip(weight, wires=None, tile=None, v_read=0.2):
    from memsnn.crossbar import DAC

    crossbar = Crossbar(weight, wires=wires, tile=tile, dac=DAC(v_read=v_read))
    return crossbar.programmed(key=jax.random.key(0))


def test_no_wires_is_sum_v2_g_t():
    """Without wires a read of binary inputs dissipates E = sum_i v_i^2 sum_j (G+_ij + G-_ij) t."""
    weight = jax.random.uniform(jax.random.key(1), (5, 7), minval=-1.0, maxval=1.0)
    chip = _chip(weight)
    x = jnp.array([[1, 0, 1, 1, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1]], dtype=float)
    e = crossbar_read_energy(chip, x, ReadScheme(pulse_width=T, input_bits=1))
    g = chip.conductances.positive + chip.conductances.negative  # (n_out, n_in)
    expected = T * 0.2**2 * x @ jnp.sum(g, axis=0)
    np.testing.assert_allclose(e.cells, expected, rtol=1e-12)
    np.testing.assert_allclose(e.supplied, expected, rtol=1e-12)
    np.testing.assert_array_equal(e.word_wires, 0.0)
    np.testing.assert_array_equal(e.dac_drives, [4, 0, 7])
    assert e.conversions == 5


def test_bit_serial_pulses_add_their_energies():
    """8-bit inputs: one pulse per bit at v_read, each row driven where its bit is 1; tiles add up."""
    weight = jax.random.uniform(jax.random.key(2), (4, 6), minval=-1.0, maxval=1.0)
    levels = jnp.array([[255, 0, 3, 128, 17, 64]])
    x = levels / 255.0
    whole = crossbar_read_energy(_chip(weight), x, ReadScheme(pulse_width=T))
    tiled = crossbar_read_energy(_chip(weight, tile=(4, 4)), x, ReadScheme(pulse_width=T))
    g = np.asarray(jnp.sum(_chip(weight).conductances.positive + _chip(weight).conductances.negative, axis=0))
    bits = (np.asarray(levels)[0][None, :] >> np.arange(8)[:, None]) & 1
    expected = T * 0.2**2 * np.sum(bits @ g)
    np.testing.assert_allclose(whole.cells, [expected], rtol=1e-12)
    np.testing.assert_allclose(tiled.cells, [expected], rtol=1e-12)
    assert whole.conversions == 8 * 4 and tiled.conversions == 8 * 2 * 4
    np.testing.assert_array_equal(whole.dac_drives, [8 * 5])


@pytest.mark.parametrize("wires", [Wires(2.0, 3.0), Wires(2.0, 3.0, r_source=50.0, r_sense=20.0), Wires(0.0, 5.0),
                                   Wires(4.0, 0.0)])
def test_forms_are_every_cell_and_segment_v_i(wires):
    """v^T Q v equals the V I of every cell and wire segment from the node voltages of one solve,
    and the parts add up to what the drivers supply."""
    g = jax.random.uniform(jax.random.key(3), (6, 4), minval=1e-4, maxval=1e-2)
    v = jax.random.uniform(jax.random.key(4), (5,), minval=0.0, maxval=0.3)
    forms = tile_power_forms(g, wires, rows=5)
    sol = solve_ir_drop_nodes(g, jnp.concatenate([v, jnp.zeros(1)]), wires)
    w, b = np.asarray(sol.word_voltages), np.asarray(sol.bit_voltages)
    v_full = np.concatenate([np.asarray(v), [0.0]])
    cells = np.sum(np.asarray(g) * (w - b) ** 2)
    word = 0.0
    if wires.r_row > 0 or wires.r_source > 0:
        first = v_full - w[:, 0]
        word = np.sum(first**2) / float(wires.r_source + wires.r_row)
        word += np.sum((w[:, :-1] - w[:, 1:]) ** 2) / float(wires.r_row) if wires.r_row > 0 else 0.0
    bit = 0.0
    if wires.r_col > 0 or wires.r_sense > 0:
        bit = np.sum(b[-1] ** 2) / float(wires.r_col + wires.r_sense)
        bit += np.sum((b[:-1] - b[1:]) ** 2) / float(wires.r_col) if wires.r_col > 0 else 0.0
    cell_currents = np.asarray(g) * (w - b)
    supplied = np.sum(v_full * np.sum(cell_currents, axis=1))
    got = [float(v @ forms[c] @ v) for c in range(4)]
    np.testing.assert_allclose(got, [cells, word, bit, supplied], rtol=1e-9, atol=1e-20)
    np.testing.assert_allclose(got[0] + got[1] + got[2], got[3], rtol=1e-9)
    assert got[1] > 0 or wires.row_ideal
    assert got[2] > 0 or wires.col_ideal


def test_unprogrammed_crossbar_is_refused():
    crossbar = Crossbar(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="not programmed"):
        crossbar_read_energy(crossbar, jnp.ones((1, 3)), ReadScheme())
    with pytest.raises(ValueError, match="input_bits"):
        ReadScheme(input_bits=0)


def test_spiceprop_on_crossbars_report():
    """The fully memristive SPICEprop network: the chip's parts add up to its total, the digital proxy
    stays beside it, and the accuracy is the one chip's."""
    # unroll=1: the step once per compiled loop body (the default, 5, compiles it 5 times). Both
    # layers 5 -> 5 (bias rows included, 6 x 5 devices): one compiled meter serves both.
    config = SpicepropConfig(n_inputs=5, hidden=(5,), n_classes=5, n_steps=40, event_steps=(0, 20), dtype="float64",
                             unroll=1)
    model = build_spiceprop(config, key=jax.random.key(0))
    model = on_crossbar(model, "realistic", w_max=0.3)
    images = jax.random.uniform(jax.random.key(5), (6, 5))
    labels = np.array([0, 1, 2, 0, 1, 2])
    report = spiceprop_energy(model, images, labels, batch_size=6)
    front = report.front_end_J
    assert set(front) == {"dense1", "dense2", "readout_drive"}
    for name in ("dense1", "dense2"):
        row = front[name]
        assert row["cells"] > 0 and row["word_wires"] > 0 and row["bit_wires"] > 0
        np.testing.assert_allclose(row["cells"] + row["word_wires"] + row["bit_wires"], row["supplied"], rtol=1e-6)
        np.testing.assert_allclose(row["total"], row["supplied"] + row["dac"] + row["adc"] + row["sample_hold"]
                                   + row["shift_add"], rtol=1e-12)
    chip = sum(front[n]["total"] for n in ("dense1", "dense2")) + front["readout_drive"]["dac"]
    np.testing.assert_allclose(report.total_J, chip + report.circuit_J["supplied"], rtol=1e-12)
    np.testing.assert_allclose(report.digital_total_J, report.proxy_total_J + report.circuit_J["supplied"], rtol=1e-12)
    # dense1: 8 pulses x 1 row tile x 5 columns; the bias row is driven in every pulse.
    np.testing.assert_allclose(front["dense1"]["adc"], 8 * 5 * ReadScheme().adc_energy, rtol=1e-12)
    assert front["dense1"]["dac_drives"] >= 8
    assert 0.0 <= report.accuracy <= 1.0
    assert any("front end" in line for line in report.lines())
    # The same chip (program key 100) read with the same keys gives the same report.
    again = spiceprop_energy(program(model, key=jax.random.key(100)), images, labels, batch_size=6)
    np.testing.assert_allclose(again.total_J, report.total_J, rtol=1e-12)
