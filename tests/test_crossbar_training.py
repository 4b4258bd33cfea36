"""Hardware-aware training on crossbars (SPICEprop, surrogate), and trained models deployed on a chip.

Tiny networks and few time steps: the point is the plumbing (keys, gradients through the
non-idealities, bias rows, one programmed chip read at times after programming), not accuracy.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memsnn.crossbar import chain
from memsnn.crossbar import BiasRow, ProgrammedCrossbar
from memsnn.crossbar.deploy import as_dense, at_time, on_crossbar, program
from memsnn.training.spiceprop import SpicepropConfig, build_spiceprop, spiceprop_loss, spiceprop_predict
from memsnn.training.surrogate import SurrogateConfig, build_surrogate, surrogate_loss

# unroll=1: the time step once per compiled loop body (the default, 5, compiles it 5 times); these
# tests are about the crossbar front ends, not the loop's layout.
_TINY = dict(n_inputs=12, hidden=(6,), n_classes=3, n_steps=40, unroll=1)


def _data(n=4, features=12, classes=3):
    rng = np.random.default_rng(0)
    return jnp.asarray(rng.uniform(0, 1, (n, features))), jnp.asarray(np.arange(n) % classes)


def test_ideal_crossbar_is_the_dense_front_end():
    """The "ideal" preset reads exactly W x (+ b through the bias row): the same loss as Dense."""
    dense = build_spiceprop(SpicepropConfig(**_TINY, dtype="float64"), key=jax.random.key(0))
    cross = on_crossbar(dense, "ideal")
    assert isinstance(cross.front_end[0], BiasRow)
    x, y = _data()
    np.testing.assert_allclose(float(spiceprop_loss(cross, x, y)[0]), float(spiceprop_loss(dense, x, y)[0]), rtol=1e-9)
    np.testing.assert_allclose(np.asarray(as_dense(cross).front_end[0].bias), np.asarray(dense.front_end[0].bias))


def test_front_end_gradient_through_the_ir_drop_matches_finite_differences():
    """The front end on crossbars with 1 Ohm wires (exact IR-drop solve, bias row included):
    the gradient of a random projection of the drive against a central difference along a random
    direction of the first layer's weights."""
    import equinox as eqx

    model = build_spiceprop(SpicepropConfig(**_TINY, dtype="float64"), key=jax.random.key(0))
    model = on_crossbar(model, "realistic", w_max=2.0, nonideality=chain())
    x, _ = _data()
    r = jax.random.normal(jax.random.key(2), (4, 3))

    # Compiled whole: eagerly, every crossbar read compiled its IR-drop solve again under vmap.
    @jax.jit
    def drive(w):
        return eqx.tree_at(lambda m: m.front_end[0].array.weight, model, w).drive(x)

    def f(w):
        return jnp.sum(drive(w) * r)

    w0 = model.front_end[0].array.weight
    direction = jax.random.normal(jax.random.key(1), w0.shape)
    eps = 1e-6
    fd = (f(w0 + eps * direction) - f(w0 - eps * direction)) / (2 * eps)
    np.testing.assert_allclose(float(jnp.sum(jax.jit(jax.grad(f))(w0) * direction)), float(fd), rtol=1e-6)
    # The wires matter here: without them the drive differs.
    no_wires = on_crossbar(model, "realistic", w_max=2.0, nonideality=chain(), wires=None)
    assert float(jnp.max(jnp.abs(eqx.filter_jit(lambda m: m.drive(x))(no_wires) - drive(w0)))) > 0


def test_realistic_spiceprop_loss_is_keyed_and_differentiable():
    import equinox as eqx

    config = SpicepropConfig(**_TINY, crossbar="realistic", crossbar_ir_drop=False)
    model = build_spiceprop(config, key=jax.random.key(0))
    x, y = _data()
    # Compiled whole, once for all three keys (eagerly, hundreds of small programs).
    loss = eqx.filter_jit(lambda model, key: spiceprop_loss(model, x, y, key=key)[0])
    a = loss(model, jax.random.key(1))
    b = loss(model, jax.random.key(1))
    c = loss(model, jax.random.key(2))
    assert float(a) == float(b) and float(a) != float(c) and np.isfinite(float(a))
    # The gradient reaches the weights through programming, faults and noise (checked on the
    # front end: the simulated neurons' gradient is test_gradients.py's business).
    grads = eqx.filter_jit(eqx.filter_grad(
        lambda m: jnp.sum(m.drive(x, key=jax.random.key(1), per_image=False)[:, 0])))(model)
    g = np.asarray(grads.front_end[0].array.weight)
    assert np.all(np.isfinite(g)) and np.abs(g).max() > 0
    with pytest.raises(ValueError, match="draws read noise: pass key"):
        spiceprop_loss(model, x, y)


def test_crossbar_config_errors_name_the_presets():
    with pytest.raises(ValueError, match="one of the crossbar presets"):
        SpicepropConfig(crossbar="memristor")
    with pytest.raises(ValueError, match="needs architecture='dense'"):
        SurrogateConfig(architecture="conv", crossbar="realistic")


def test_surrogate_on_crossbars_trains_through_them():
    config = SurrogateConfig(image_shape=(1, 3, 4), hidden=(5,), n_classes=3, n_steps=4, crossbar="reram")
    model = build_surrogate(config, key=jax.random.key(0))
    x, y = _data()
    loss, grads = jax.jit(jax.value_and_grad(lambda m: surrogate_loss(m, x, y, key=jax.random.key(3))[0]))(model)
    assert np.isfinite(float(loss))
    g = np.asarray(grads.arrays[0].array.weight)
    assert np.all(np.isfinite(g)) and np.abs(g).max() > 0


def test_a_programmed_chip_is_fixed_and_drifts():
    model = build_spiceprop(SpicepropConfig(**_TINY, dtype="float64"), key=jax.random.key(0))
    x, _ = _data(8)
    chip = program(on_crossbar(model, "pcm"), key=jax.random.key(0))
    assert isinstance(chip.front_end[0].array, ProgrammedCrossbar)
    # The same chip: only the read noise (the key) differs between reads.
    d1 = chip.drive(x, key=jax.random.key(1), per_image=False)
    d2 = chip.drive(x, key=jax.random.key(1), per_image=False)
    np.testing.assert_array_equal(np.asarray(d1), np.asarray(d2))
    # A year of PCM drift shrinks the conductances; global drift compensation restores the scale.
    ideal = model.drive(x)
    late = at_time(chip, 3.15e7, drift_compensation=False).drive(x, key=jax.random.key(1), per_image=False)
    fixed = at_time(chip, 3.15e7, drift_compensation=True).drive(x, key=jax.random.key(1), per_image=False)
    err = lambda d: float(jnp.linalg.norm(d - ideal) / jnp.linalg.norm(ideal))  # noqa: E731
    assert err(fixed) < err(late)
    assert float(jnp.linalg.norm(late)) < float(jnp.linalg.norm(ideal))
    assert spiceprop_predict(chip, x, key=jax.random.key(1)).shape == (8,)


def test_cli_trains_on_crossbars_and_evaluates_a_chip_later(tmp_path, capsys):
    from memsnn.cli import main
    from memsnn.training import read_checkpoint_header

    # 8 test images: evaluated as one group of KEYED_IMAGES_AT_ONCE (10 compiled a group of 8 and a
    # remainder of 2: the chip's reads twice in each evaluation program).
    out = tmp_path / "run"
    assert main(["train", "--method", "spiceprop", "--dataset", "mnist", "--train-subset", "20", "--test-subset", "8",
                 "--epochs", "1", "--batch-size", "10", "--steps", "20", "--hidden", "4", "--crossbar", "reram",
                 "--out", str(out), "--no-progress"]) == 0
    assert read_checkpoint_header(out / "checkpoint.eqx")["config"]["model"]["crossbar"] == "reram"
    capsys.readouterr()
    assert main(["evaluate", str(out / "checkpoint.eqx"), "--crossbar", "pcm", "--t-read", "3600",
                 "--drift-compensation", "--json"]) == 0
    import json

    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["t_read"] == 3600.0 and result["drift_compensation"] and result["n_samples"] == 8
    assert 0.0 <= result["accuracy"] <= 1.0


def test_one_read_freezes_a_chip_read_with_its_wires_solved_exactly():
    """one_read: a chip with wires, read noise and padded tiles, frozen for one read, gives the
    currents of the chip's own IR-drop solve for that read (float64)."""
    import dataclasses

    from memsnn.arrays import Dense
    from memsnn.crossbar import Crossbar
    from memsnn.crossbar import Wires
    from memsnn.crossbar.deploy import one_read

    w = jax.random.uniform(jax.random.key(0), (4, 7), jnp.float64, -1.0, 1.0)
    bar = Crossbar.from_dense(Dense(w), "realistic", tile=(3, 3), wires=Wires(20.0, 20.0))
    chip = program(bar, key=jax.random.key(1))
    x = jax.random.uniform(jax.random.key(2), (7,), jnp.float64)
    key = jax.random.key(3)
    frozen = one_read(chip, key=key)
    assert frozen.crossbar.wires is None
    np.testing.assert_allclose(np.asarray(frozen(x)), np.asarray(chip(x, key=jax.random.split(key, 1)[0])), rtol=1e-10)
    # The wires matter (by 1e-3 here, far above the agreement of 1e-10): the same devices without
    # wires, read with the same noise; and so does the read noise: another read of the chip (the
    # freeze compiled once for both reads of the chip: each compile solves every tile).
    no_wires = ProgrammedCrossbar(dataclasses.replace(chip.crossbar, wires=None), chip.conductances)
    read = frozen(x)
    assert float(jnp.max(jnp.abs(one_read(no_wires, key=key)(x) - read))) > 1e-4
    assert float(jnp.max(jnp.abs(one_read(chip, key=jax.random.key(4))(x) - read))) > 1e-4


def _per_sample_reads(model, key):
    """The old per-sample computation of ``surrogate_loss(model, ..., key=key)``'s chip: the same
    chip and read noise, but the wires left in the crossbars, so that every sample at every time
    step solves the IR drop of every tile itself (no shared factorisation, no tile maps)."""
    import dataclasses

    from memsnn.crossbar.nonideal import IVNonlinearity

    k_program, k_read, _ = jax.random.split(key, 3)
    chip = program(model, key=k_program)
    is_chip = lambda x: isinstance(x, ProgrammedCrossbar)  # noqa: E731
    count = sum(is_chip(x) for x in jax.tree.leaves(chip, is_leaf=is_chip))
    keys = iter(jax.random.split(k_read, count))

    def read(array):
        if not is_chip(array):
            return array
        bar = array.crossbar
        g = bar.read_conductances(array.conductances, key=next(keys))
        kept = chain(*(n for n in bar.nonideality.nonidealities if isinstance(n, IVNonlinearity)))
        return ProgrammedCrossbar(dataclasses.replace(bar, nonideality=kept), g)

    return jax.tree.map(read, chip, is_leaf=is_chip)


def test_surrogate_shared_ir_drop_maps_equal_the_per_sample_solves_with_gradient():
    """Hardware-aware surrogate training solves each tile's IR drop once per step (one map per tile,
    shared by the batch and every time step; partly used tiles solved for their rows in use only;
    nothing kept for the gradient, solved again backward). Loss and weight gradient equal those of
    the per-sample solves on the same chip and read (float64, partly used tiles, 20 Ohm wires)."""
    import dataclasses

    import equinox as eqx

    from memsnn.crossbar import Wires

    # unroll=1: one time step per loop iteration, so each program holds the step once (the default
    # unroll, 5, compiles it 6 times here: the per-sample reference took twice as long to compile);
    # the maps are still solved once before the loop and shared by all 6 steps.
    config = SurrogateConfig(image_shape=(1, 2, 2), hidden=(3,), n_classes=3, n_steps=6, crossbar="realistic",
                             crossbar_w_max=0.5, unroll=1, dtype="float64", beta=0.8, threshold=0.3)
    model = build_surrogate(config, key=jax.random.key(0))
    # Tiles of 4 x 2 devices: 5 x 3 and 4 x 3 matrices (bias rows included) fill their last tiles
    # partly (the first in rows and columns, the second in columns; 6 tiles in all, each per-sample
    # solve compiled once per tile); strong wires make the IR drop large.
    model = eqx.tree_at(lambda m: m.arrays, model, replace=tuple(
        BiasRow(dataclasses.replace(a.array, tile=(4, 2), wires=Wires(20.0, 20.0))) for a in model.arrays))
    assert [a.array.weight.shape for a in model.arrays] == [(3, 5), (3, 4)]  # (outputs, inputs + bias)
    images, labels = _data(n=5, features=4)
    images = 3.0 * images
    key = jax.random.key(7)

    def shared(m):
        return surrogate_loss(m, images, labels, key=key)[0]

    def per_sample(m):
        # And the loss of the same chip without wires (forward only), in the same program: compiled
        # on its own (eagerly: programming, freezing and simulate apart) it cost a sixth of the test.
        params, static = eqx.partition(m, eqx.is_inexact_array)
        frozen = eqx.combine(jax.lax.stop_gradient(params), static)
        no_wires = eqx.tree_at(lambda m: m.arrays, frozen, replace=tuple(
            BiasRow(dataclasses.replace(a.array, wires=None)) for a in frozen.arrays))
        return (surrogate_loss(_per_sample_reads(m, key), images, labels)[0],
                surrogate_loss(no_wires, images, labels, key=key)[0])

    # Compiled whole: op by op, the per-sample solves' Python-level dispatch takes most of the time.
    loss, grads = eqx.filter_jit(eqx.filter_value_and_grad(shared))(model)
    (loss_ref, loss_no_wires), grads_ref = eqx.filter_jit(eqx.filter_value_and_grad(per_sample, has_aux=True))(model)
    np.testing.assert_allclose(float(loss), float(loss_ref), rtol=1e-10)
    for g, g_ref in zip(grads.arrays, grads_ref.arrays):
        g, g_ref = np.asarray(g.array.weight), np.asarray(g_ref.array.weight)
        assert np.max(np.abs(g_ref)) > 0
        np.testing.assert_allclose(g, g_ref, rtol=0, atol=1e-10 * np.max(np.abs(g_ref)))
    # The wires matter here (far above the agreement asked for).
    assert abs(float(loss_no_wires) - float(loss)) > 1e-4


def test_spiceprop_predictions_on_crossbars_do_not_depend_on_the_batch():
    """Evaluation keys every image by its index (chip and read noise drawn with the image's own key),
    so the same images evaluated in batches of 3 and of 10 get the same predictions and drives.
    Before, one chip and one read-noise draw served a whole batch: the drive of an image changed
    with the batch it was in. (Batches of 3 are mapped as one remainder group, batches of 10 as one
    group of KEYED_IMAGES_AT_ONCE = 8 and a remainder of 2.)"""
    import equinox as eqx

    from memsnn.training import evaluate
    from memsnn.training.predict import image_keys
    from memsnn.training.spiceprop import KEYED_IMAGES_AT_ONCE, SPICEPROP

    assert 3 < KEYED_IMAGES_AT_ONCE < 10
    config = SpicepropConfig(**_TINY, crossbar="realistic", crossbar_ir_drop=False)
    model = build_spiceprop(config, key=jax.random.key(0))
    x, y = _data(n=10)
    images, labels = np.asarray(x), np.asarray(y)
    _, small = evaluate(SPICEPROP.predict, model, images, labels, batch_size=3, devices=jax.devices()[:1])
    _, large = evaluate(SPICEPROP.predict, model, images, labels, batch_size=10, devices=jax.devices()[:1])
    np.testing.assert_array_equal(small, large)

    # The drives themselves (one compiled program): image 9 alone and inside the whole batch, with
    # its own key; with another image's key; and with one key for the batch, which draws the chip
    # once for all of it (the training loss's way), not the per-image draw.
    @eqx.filter_jit
    def drives(model, x, keys):
        return (model.drive(x[9:10], key=keys[9:10]), model.drive(x, key=keys)[9:10],
                model.drive(x[9:10], key=keys[8:9]), model.drive(x, key=jax.random.key(0), per_image=False)[9:10])

    alone, together, other_key, one_chip = drives(model, x, image_keys(jax.random.key(0), jnp.arange(10)))
    # The same key gives the same drive up to rounding (float32 here: the batch's shape changes how
    # XLA vectorises the sums); another draw of the noise moves it by far more than that (10-20 % of
    # the largest drive).
    np.testing.assert_allclose(np.asarray(together), np.asarray(alone), rtol=1e-6, atol=0)
    scale = float(jnp.max(jnp.abs(alone)))
    assert float(jnp.max(jnp.abs(other_key - alone))) > 1e-2 * scale
    assert float(jnp.max(jnp.abs(one_chip - alone))) > 1e-2 * scale
