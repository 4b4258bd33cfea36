"""The shared training loop and SPICEprop: gradients, determinism, resume, NaN guard, checkpoints, CLI.

Kept fast: the loop's mechanics are tested on a tiny softmax regression (compiles in a blink), and
SPICEprop on a few images with 40-100 time steps instead of 1000.
"""

import json
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn.cli import main
from memsnn.presets import MILLIVOLT
from memsnn.training import (
    CHECKPOINT_NAME,
    METRICS_NAME,
    GradientLearner,
    TrainingDiverged,
    evaluate_checkpoint,
    fit,
    load_checkpoint,
    load_trained,
    make_optimizer,
    read_checkpoint_header,
    save_checkpoint,
    train,
)
from memsnn.training.augment import augmentation, random_drop, random_flip, random_shift
from memsnn.training.spiceprop import (
    SpicepropConfig,
    build_spiceprop,
    forward_sensitivity,
    make_integrator,
    spiceprop_loss,
    spiceprop_predict,
    spiceprop_trainable,
    summed_nll,
)

# --------------------------------------------------------------------------------------------
# A tiny model for the loop's mechanics
# --------------------------------------------------------------------------------------------


from _models import Softmax, softmax_loss, softmax_predict  # noqa: E402  (tests/ is on sys.path)


def blobs(n=96, n_in=6, n_classes=3, seed=0):
    centres = np.random.default_rng(123).normal(size=(n_classes, n_in)) * 2
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n).astype(np.int32)
    x = (centres[y] + rng.normal(size=(n, n_in))).astype(np.float64)
    return x, y


def fit_softmax(tmp_path=None, epochs=3, seed=0, data=None, **kwargs):
    train_data = data or blobs()
    model = Softmax(6, 3, jax.random.key(seed))
    optimizer = make_optimizer(0.05, total_steps=epochs * (len(train_data[1]) // 16))
    learner = GradientLearner(softmax_loss, softmax_predict, optimizer)
    kwargs = {"batch_size": 16, **kwargs}
    return fit(model, learner, train_data, blobs(seed=1),
               epochs=epochs, seed=seed, out_dir=tmp_path, progress=False, **kwargs)


def leaves_equal(a, b):
    return all(np.array_equal(np.asarray(x), np.asarray(y))
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def without_times(history):
    return [{k: v for k, v in row.items() if not k.endswith("_s") and k != "peak_rss_mb"} for row in history]


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


def test_same_seed_same_result_and_log(tmp_path):
    a = fit_softmax(tmp_path / "a")
    b = fit_softmax(tmp_path / "b")
    c = fit_softmax(tmp_path / "c", seed=1)
    assert leaves_equal(a.model, b.model)
    assert without_times(a.history) == without_times(b.history)
    assert not leaves_equal(a.model, c.model)
    rows = [json.loads(line) for line in (tmp_path / "a" / METRICS_NAME).read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert set(rows[0]) >= {"epoch", "train_loss", "train_acc", "test_acc", "epoch_time_s", "peak_rss_mb"}
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert rows[-1]["test_acc"] > 0.9


def noisy(key, x):
    return x + 0.3 * jax.random.normal(key, x.shape)


def test_resume_equals_uninterrupted(tmp_path):
    # With augmentation, so the random keys must also continue where they stopped.
    whole = fit_softmax(tmp_path / "whole", epochs=4, augment=noisy)
    part = fit_softmax(tmp_path / "part", epochs=4, stop_after_epochs=1, augment=noisy)
    assert len(part.history) == 1 and read_checkpoint_header(part.checkpoint)["epoch"] == 1
    # A crash after the log line was written but before the next checkpoint: resume drops it.
    with open(tmp_path / "part" / METRICS_NAME, "a") as f:
        f.write('{"epoch": 2, "partial": true}\n')
    resumed = fit_softmax(tmp_path / "part", epochs=4, resume=True, augment=noisy)
    assert leaves_equal(whole.model, resumed.model)
    assert without_times(whole.history) == without_times(resumed.history)
    rows = [json.loads(line) for line in (tmp_path / "part" / METRICS_NAME).read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4] and not any("partial" in r for r in rows)
    # The optimiser state came back too (the schedule's step count, Adam's moments).
    _, opt_state, _ = load_checkpoint(resumed.checkpoint, whole.model,
                                      make_optimizer(0.05, total_steps=24).init(whole.model))
    assert int(jax.tree.leaves(opt_state)[0]) == 4 * (96 // 16)


_TWO_DEVICES = """
import sys, json
from memsnn.training import use_cpu_cores
assert use_cpu_cores(2) == 2
import jax
jax.config.update("jax_enable_x64", True)
sys.path.insert(0, sys.argv[1])
import test_training as t
result = t.fit_softmax(epochs=2)
try:  # 15 samples cannot be split over 2 devices: an error, not a quiet fall back to one device
    t.fit_softmax(epochs=1, batch_size=15)
    split_error = None
except ValueError as err:
    split_error = str(err)
print(json.dumps({"weight": result.model.weight.tolist(), "loss": result.history[-1]["train_loss"],
                  "split_error": split_error}))
"""


def test_two_devices_split_the_batch_and_agree_with_one(tmp_path):
    # Each of 2 CPU devices takes half of every batch; losses and gradients are averaged.
    # JAX_PLATFORMS=cpu: on a machine with a GPU, JAX's local devices would be the one GPU.
    proc = subprocess.run([sys.executable, "-c", _TWO_DEVICES, os.path.dirname(__file__)],
                          capture_output=True, text=True, check=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    two = json.loads(proc.stdout.strip().splitlines()[-1])
    one = fit_softmax(epochs=2)
    np.testing.assert_allclose(two["weight"], one.model.weight, rtol=1e-9, atol=1e-12)
    assert two["loss"] == pytest.approx(one.history[-1]["train_loss"], rel=1e-9)
    assert "the batch size 15 does not split evenly over the 2 cpu devices" in two["split_error"]


def test_nan_guard_names_epoch_and_keeps_last_good_checkpoint(tmp_path):
    fit_softmax(tmp_path, epochs=3, stop_after_epochs=1)
    good = (tmp_path / CHECKPOINT_NAME).read_bytes()
    x, y = blobs()
    x[5] = np.nan
    with pytest.raises(TrainingDiverged) as err:
        fit_softmax(tmp_path, epochs=3, data=(x, y), resume=True)
    message = str(err.value)
    assert "epoch 2" in message and "the loss is nan" in message
    assert str(tmp_path / CHECKPOINT_NAME) in message and "end of epoch 1" in message
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == good


def test_random_shift_moves_pixels_within_bounds():
    image = np.zeros((28, 28))
    image[10, 12] = 1.0
    batch = jnp.asarray(np.repeat(image.reshape(1, -1), 64, axis=0))
    shifted = np.asarray(random_shift(jax.random.key(0), batch, 2)).reshape(64, 28, 28)
    rows, cols = np.nonzero(shifted)[1:]
    assert len(rows) == 64 and set(rows) == set(range(8, 13)) and set(cols) == set(range(10, 15))
    np.testing.assert_array_equal(shifted, np.asarray(random_shift(jax.random.key(0), batch, 2)).reshape(64, 28, 28))
    with pytest.raises(ValueError, match=r"max_shift must be a whole number of pixels in \[0, 27\], got -3"):
        random_shift(jax.random.key(0), batch, -3)


def _rewrite_header(path, change):
    """Change a checkpoint's header in place, its checksum written anew (as save_checkpoint would)."""
    import hashlib

    from memsnn.training import checkpoint

    header, payload = checkpoint._read(path)
    change(header)
    body = json.dumps(header).encode() + b"\n" + payload
    magic = checkpoint._MAGIC_PREFIX + str(checkpoint.CHECKPOINT_VERSION).encode() + b"\n"
    path.write_bytes(magic + f"sha256 {hashlib.sha256(body).hexdigest()} {len(body)}\n".encode() + body)


def test_random_flip_mirrors_about_half_and_composes_with_shifts():
    image = np.zeros((28, 28))
    image[10, 3] = 1.0
    batch = jnp.asarray(np.repeat(image.reshape(1, -1), 200, axis=0))
    flipped = np.asarray(random_flip(jax.random.key(0), batch)).reshape(200, 28, 28)
    rows, cols = np.nonzero(flipped)[1:]
    assert len(cols) == 200 and set(rows) == {10} and set(cols) == {3, 24}
    assert 60 < np.sum(cols == 24) < 140
    np.testing.assert_array_equal(flipped, np.asarray(random_flip(jax.random.key(0), batch)).reshape(200, 28, 28))
    # Off: no augmentation; shifts alone draw exactly what they always drew (runs stay reproducible).
    assert augmentation(0, False) is None
    key = jax.random.key(3)
    np.testing.assert_array_equal(augmentation(2, False)(key, batch), random_shift(key, batch, 2))
    both = np.asarray(augmentation(2, True)(key, batch)).reshape(200, 28, 28)
    cols = np.nonzero(both)[2]
    assert len(cols) == 200 and cols.min() < 6 and cols.max() > 21


def test_random_drop_zeroes_about_rate_of_the_pixels_and_keeps_the_others():
    batch = jnp.asarray(np.random.default_rng(0).uniform(0.2, 1.0, (200, 784)), jnp.float32)
    dropped = np.asarray(random_drop(jax.random.key(0), batch, 0.2))
    zero = dropped == 0
    assert 0.19 < zero.mean() < 0.21  # 156,800 pixels: the fraction within 0.01 of 0.2
    np.testing.assert_array_equal(dropped[~zero], np.asarray(batch)[~zero])  # kept pixels not rescaled
    np.testing.assert_array_equal(dropped, np.asarray(random_drop(jax.random.key(0), batch, 0.2)))
    assert not (np.asarray(random_drop(jax.random.key(1), batch, 0.2)) == dropped).all()
    # In the pipeline after shifts and flips, from a key of its own: shifts alone still draw what they drew.
    key = jax.random.key(3)
    np.testing.assert_array_equal(augmentation(2, False, 0.2)(key, batch),
                                  random_drop(jax.random.fold_in(key, 2), random_shift(key, batch, 2), 0.2))
    assert augmentation(0, False, 0.0) is None
    for rate in (-0.1, 1.0):
        with pytest.raises(ValueError, match="in \\[0, 1\\)"):
            augmentation(0, False, rate)
    with pytest.raises(ValueError, match="augment_drop must be below 1"):
        train("spiceprop", "mnist", epochs=1, train_subset=32, test_subset=16, augment_drop=1.0, progress=False)


def test_checkpoint_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / CHECKPOINT_NAME
    model = Softmax(6, 3, jax.random.key(0))
    save_checkpoint(path, model, None, {"epoch": 1})
    good = path.read_bytes()

    def fail(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)  # after the data went into the temporary file
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, None, {"epoch": 2})
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == [CHECKPOINT_NAME]  # no temporary file left behind
    monkeypatch.undo()
    loaded, _, header = load_checkpoint(path, Softmax(6, 3, jax.random.key(1)))
    assert header["epoch"] == 1 and leaves_equal(loaded, model)


def test_not_a_checkpoint(tmp_path):
    bad = tmp_path / "x.eqx"
    bad.write_bytes(b"hello\n")
    with pytest.raises(ValueError, match="not a memsnn checkpoint"):
        read_checkpoint_header(bad)


# --------------------------------------------------------------------------------------------
# SPICEprop
# --------------------------------------------------------------------------------------------

TINY = dict(hidden=(5,), n_steps=40, event_steps=(0, 20), dtype="float64")

# The runs through train(): 16 images a batch, 16 test images, 16 hidden units, 40 steps; unroll=1:
# the time step once per compiled loop body (the default, 5, compiles it 5 times). These tests are
# about the run's settings and the loop, not the loop's layout. One network and a constant learning
# rate for all of them: a cosine schedule's length (epochs x steps) is a constant of the compiled
# step, so with it every run of another length (a resume, a validation split) compiled its step
# again; this way runs without augmentation share the module run's step, and all its predictions.
SMALL = dict(test_subset=16, batch_size=16, lr=3e-3, schedule="constant",
             model={"hidden": [16], "n_steps": 40, "unroll": 1}, progress=False)
SMALL_EPOCHS = 3


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """One plain run (48 images, 3 epochs, no augmentation, no validation split), trained once for
    the module: it lowers the loss, logs no val_acc, and is the run whose old checkpoint resumes."""
    out = tmp_path_factory.mktemp("small") / "run"
    result = train("spiceprop", "mnist", train_subset=48, epochs=SMALL_EPOCHS, out_dir=out, **SMALL)
    return SimpleNamespace(out=out, result=result, config=read_checkpoint_header(out / CHECKPOINT_NAME)["config"])


def images(n=3, seed=0):
    return jnp.asarray(np.random.default_rng(seed).uniform(0, 1, (n, 784)))


@pytest.fixture(scope="module")
def tiny():
    """A tiny float64 SPICEprop net, a batch of 3, and its loss and gradient (one program, compiled once)."""
    model = build_spiceprop(SpicepropConfig(**TINY), key=jax.random.key(0))
    x, y = images(), jnp.array([1, 7, 3])
    params, static = eqx.partition(model, spiceprop_trainable(model))
    loss_and_grad = jax.jit(jax.value_and_grad(lambda p: spiceprop_loss(eqx.combine(p, static), x, y)[0]))

    def loss(p):
        return loss_and_grad(p)[0]

    return SimpleNamespace(model=model, x=x, y=y, params=params, loss=loss, grads=loss_and_grad(params)[1])


def test_gradient_matches_finite_differences(tiny):
    # The largest weight and bias derivatives of each front-end layer, against central differences.
    for i in range(len(tiny.model.front_end)):
        for name in ("weight", "bias"):
            def where(p, i=i, name=name):
                return getattr(p.front_end[i], name)

            grad = where(tiny.grads)
            index = np.unravel_index(np.argmax(np.abs(grad)), grad.shape)
            value = where(tiny.params)

            def shifted(h, where=where, index=index, value=value):
                return tiny.loss(eqx.tree_at(where, tiny.params, value.at[index].add(h)))

            eps = 1e-5
            numeric = (shifted(eps) - shifted(-eps)) / (2 * eps)
            assert abs(grad[index]) > 1e-2
            np.testing.assert_allclose(grad[index], numeric, rtol=1e-6)


def test_summed_nll_is_log_softmax_picked_at_the_label():
    # The loss's one-hot contraction against the plain form (log_softmax, take_along_axis), value
    # and gradient, in float64; logits far apart so that the log-sum-exp's shift matters.
    rng = np.random.default_rng(0)
    logits = jnp.asarray(rng.normal(0.0, 40.0, (4, 7, 10)))
    labels = jnp.array([3, 0, 9, 3])

    def plain(x):
        log_p = jax.nn.log_softmax(x, axis=-1)
        return jnp.mean(jnp.sum(-jnp.take_along_axis(log_p, labels[:, None, None], axis=-1)[..., 0], axis=1))

    np.testing.assert_allclose(summed_nll(logits, labels), plain(logits), rtol=1e-14)
    np.testing.assert_allclose(jax.grad(summed_nll)(logits, labels), jax.grad(plain)(logits), rtol=1e-12, atol=1e-15)


def test_checkpointing_and_batch_layout_do_not_change_numbers(tiny):
    # Checkpointing applies where the readout is differentiated in reverse mode (train_device):
    # the default (checkpoint_every = unroll = 5) against storing every step, one step per loop
    # iteration, both in reverse mode; and the front end's gradient against the forward-mode one.
    def reverse_grads(**loop):
        model = build_spiceprop(SpicepropConfig(**TINY, train_device=True, **loop), key=jax.random.key(0))
        params, static = eqx.partition(model, spiceprop_trainable(model))
        return eqx.filter_jit(jax.grad(lambda p: spiceprop_loss(eqx.combine(p, static), tiny.x, tiny.y)[0]))(params)

    chunked, plain = reverse_grads(), reverse_grads(checkpoint_every=None, unroll=1)
    assert max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(chunked.device_log_scale)) > 0
    for a, b in zip(jax.tree.leaves(chunked), jax.tree.leaves(plain), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    for a, b in zip(jax.tree.leaves(tiny.grads.front_end), jax.tree.leaves(chunked.front_end), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    # The batch is simulated as one population of batch x classes neurons: compare with the
    # ordinary batched simulation of the 10 output neurons.
    config = tiny.model.config
    drive = tiny.model.drive(tiny.x)
    network = memsnn.Network([memsnn.presets.spiceprop_layer(10)])
    stimulus = memsnn.Impulses(jnp.broadcast_to(drive[:, None, :], (3, len(config.steps), 10)), config.steps)
    trace = memsnn.simulate(network, stimulus, dt=config.dt, n_steps=config.n_steps,
                            solver=make_integrator(config.solver))
    np.testing.assert_allclose(tiny.model.membrane_potentials(tiny.x), trace.membrane_potential[0] / MILLIVOLT,
                               rtol=1e-12)


def test_forward_sensitivity_is_the_reverse_mode_gradient():
    # A nonlinear recurrence per column (each output column a function of its own input only),
    # float64: the VJP from the forward sensitivities against reverse mode through the plain
    # function, for the input; and, when the shared constants are differentiated too, for both
    # (reverse mode), against the plain function's.
    modes = []

    def readout(x, c, reverse=False):
        modes.append(reverse)

        def step(y, _):
            y = y + c["rate"] * jnp.tanh(x * c["gain"] - y) ** 2
            return y, jnp.sin(y)
        return jnp.moveaxis(jax.lax.scan(step, jnp.zeros_like(x), None, length=6)[1], 0, 1)

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(3, 4)))
    c = {"rate": jnp.asarray(0.7), "gain": jnp.asarray(1.3)}
    g = jnp.asarray(rng.normal(size=(3, 6, 4)))

    def objective(fn, x, c):
        return jnp.sum(g * fn(x, c) ** 2)

    np.testing.assert_array_equal(forward_sensitivity(readout, x, c), readout(x, c))
    fast = jax.grad(objective, argnums=1)(lambda x, c: forward_sensitivity(readout, x, c), x, c)
    plain = jax.grad(objective, argnums=1)(readout, x, c)
    assert float(jnp.max(jnp.abs(plain))) > 0.1
    np.testing.assert_allclose(fast, plain, rtol=1e-12, atol=1e-15)
    assert modes and not any(modes)  # readout is told it runs forward (or undifferentiated)
    fast = jax.grad(objective, argnums=(1, 2))(lambda x, c: forward_sensitivity(readout, x, c), x, c)
    assert modes[-1] is True  # and that it is differentiated in reverse mode
    plain = jax.grad(objective, argnums=(1, 2))(readout, x, c)
    for a, b in zip(jax.tree.leaves(fast), jax.tree.leaves(plain), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert abs(float(fast[1]["gain"])) > 0.1
    # A float32 input whose outputs are float64 (the float64 constants promote them): the gradient
    # comes back in the input's dtype, as reverse mode gives it.
    x32 = x.astype(jnp.float32)
    fast = jax.grad(objective, argnums=1)(lambda x, c: forward_sensitivity(readout, 1.5 * x, c), x32, c)
    plain = jax.grad(objective, argnums=1)(lambda x, c: readout(1.5 * x, c), x32, c)
    assert fast.dtype == plain.dtype == jnp.float32
    np.testing.assert_allclose(fast, plain, rtol=1e-5, atol=1e-5)


def test_drive_saturates_below_the_euler_stability_limit(tiny):
    big = eqx.tree_at(lambda m: m.front_end[-1].bias, tiny.model, jnp.full(10, 1e4))
    drive_ma = big.drive(tiny.x) / 1e-3
    assert float(drive_ma.max()) <= 0.025 and float(drive_ma.max()) > 0.0249
    v = big.membrane_potentials(tiny.x)  # simulate would raise if unstable
    assert np.all(np.isfinite(v))


def test_drive_bias_sets_the_drive_units_bias_only():
    plain = build_spiceprop(SpicepropConfig(**TINY), key=jax.random.key(0))
    model = build_spiceprop(SpicepropConfig(**TINY, drive_bias=0.1), key=jax.random.key(0))
    np.testing.assert_array_equal(model.front_end[-1].bias, np.full(10, 0.1))
    np.testing.assert_array_equal(model.front_end[-1].weight, plain.front_end[-1].weight)
    np.testing.assert_array_equal(model.front_end[0].bias, plain.front_end[0].bias)
    assert SpicepropConfig.from_dict(SpicepropConfig(drive_bias=0.1).to_dict()).drive_bias == 0.1
    with pytest.raises(ValueError, match="drive_bias must be a finite number"):
        SpicepropConfig(drive_bias=float("nan"))


def test_positive_drive_bias_starts_relu_drive_units_active():
    # The paper's 784-100-10 front end on MNIST digits: with the uniform init about half of the
    # (image, drive unit) pairs are inactive, and a ReLU drive unit passes no gradient where it is
    # inactive; +0.1 makes most of them active at the start (the front end only: no simulation).
    from memsnn.data import load_dataset
    x, _ = load_dataset("mnist", "train", source="bundled", subset=200)
    def active(**kw):
        model = build_spiceprop(SpicepropConfig(output_activation="relu", **kw), key=jax.random.key(0))
        return float(jnp.mean(model.drive(jnp.asarray(x)) > 0))
    assert active() < 0.6
    assert active(drive_bias=0.1) > 0.75


def test_ideal_neuron_is_a_linear_membrane():
    config = SpicepropConfig(**TINY, neuron="ideal", drive_limit=None)
    model = build_spiceprop(config, key=jax.random.key(0))
    rest = float(model.neuron.v_rest) / MILLIVOLT
    v = model.membrane_potentials(jnp.concatenate([images(2), jnp.zeros((1, 784))]))
    model = eqx.tree_at(lambda m: m.front_end[-1], model, jax.tree.map(lambda w: 2 * w, model.front_end[-1]))
    v2 = model.membrane_potentials(jnp.concatenate([images(2), jnp.zeros((1, 784))]))
    np.testing.assert_allclose(v2 - rest, 2 * (v - rest), rtol=1e-9, atol=1e-9)


def test_unstable_drive_stops_training_with_a_clear_message(tmp_path):
    x, y = np.asarray(images(8)), np.arange(8, dtype=np.int32) % 10
    # unroll=1: the step once per compiled loop body (the default, 5, compiles it 5 times).
    config = SpicepropConfig(**TINY, drive_limit=None, drive_scale=1.0, unroll=1)
    model = build_spiceprop(config, key=jax.random.key(0))
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 1 of 2: the simulation failed .*unstable"):
        learner = GradientLearner(spiceprop_loss, spiceprop_predict, make_optimizer(1e-3, total_steps=2),
                                  spiceprop_trainable(model))
        fit(model, learner, (x, y), epochs=1, batch_size=4, out_dir=tmp_path, progress=False)
    assert not (tmp_path / CHECKPOINT_NAME).exists()


def test_device_parameters_train_only_when_asked(tiny):
    assert tiny.model.device_log_scale is None
    assert not any(jax.tree.leaves(eqx.filter(spiceprop_trainable(tiny.model).neuron, lambda b: b is True)))
    # unroll=1 (the same numbers as the default layout), compiled whole.
    model = build_spiceprop(SpicepropConfig(**TINY, train_device=True, unroll=1), key=jax.random.key(0))
    params, static = eqx.partition(model, spiceprop_trainable(model))
    value_and_grad = jax.jit(jax.value_and_grad(lambda p: spiceprop_loss(eqx.combine(p, static), tiny.x, tiny.y)[0]))
    loss, grads = value_and_grad(params)
    np.testing.assert_allclose(loss, tiny.loss(tiny.params), rtol=1e-12)  # exp(0) = unchanged devices
    synapse_grad, neuron_grad = grads.device_log_scale
    assert abs(float(synapse_grad.tau_a)) > 0 and abs(float(neuron_grad.memristor1.R_on)) > 0
    assert all(leaf is None for leaf in jax.tree.leaves(grads.neuron))


def test_augment_flip_and_drop_are_run_settings_and_old_checkpoints_resume(tmp_path, small_run):
    """augment_flip and augment_drop are stored with the run (changing either on resume is refused);
    a checkpoint written before the settings existed resumes as a run without flips or input
    dropout, and asking it for either is refused. One run with both here; the one without is the
    module's run (each run traces and compiles its step: the two settings share them)."""
    settings = dict(train_subset=32, **SMALL)
    train("spiceprop", "mnist", epochs=1, out_dir=tmp_path, augment_flip=True, augment_drop=0.25, **settings)
    config = read_checkpoint_header(tmp_path / CHECKPOINT_NAME)["config"]
    assert config["augment_flip"] is True and config["augment_drop"] == 0.25
    with pytest.raises(ValueError, match="augment_flip: True -> False"):
        train("spiceprop", "mnist", epochs=2, out_dir=tmp_path, resume=True, augment_flip=False, **settings)
    with pytest.raises(ValueError, match="augment_drop: 0.25 -> 0.0"):
        train("spiceprop", "mnist", epochs=2, out_dir=tmp_path, resume=True, augment_drop=0.0, **settings)
    old = tmp_path / "old"
    shutil.copytree(small_run.out, old)
    assert small_run.config["augment_flip"] is False and small_run.config["augment_drop"] == 0.0

    def as_before_the_settings(header):
        header["config"].pop("augment_flip")
        header["config"].pop("augment_drop")

    _rewrite_header(old / CHECKPOINT_NAME, as_before_the_settings)
    assert not {"augment_flip", "augment_drop"} & set(read_checkpoint_header(old / CHECKPOINT_NAME)["config"])
    resumed = train("spiceprop", "mnist", epochs=SMALL_EPOCHS + 1, out_dir=old, resume=True, progress=False)
    assert [row["epoch"] for row in resumed.history] == list(range(1, SMALL_EPOCHS + 2))
    stored = read_checkpoint_header(old / CHECKPOINT_NAME)["config"]
    assert stored == {**small_run.config, "epochs": SMALL_EPOCHS + 1}  # stored as a plain run now
    with pytest.raises(ValueError, match="augment_flip: False -> True"):
        train("spiceprop", "mnist", epochs=9, out_dir=old, resume=True, augment_flip=True, progress=False)
    with pytest.raises(ValueError, match="augment_drop: 0.0 -> 0.1"):
        train("spiceprop", "mnist", epochs=9, out_dir=old, resume=True, augment_drop=0.1, progress=False)


def test_training_lowers_the_loss(small_run):
    losses = [row["train_loss"] for row in small_run.result.history]
    assert len(losses) == SMALL_EPOCHS and losses[-1] < 0.7 * losses[0]
    model, header = load_trained(small_run.out / CHECKPOINT_NAME)
    assert header["config"]["model"]["hidden"] == [16]
    assert leaves_equal(eqx.filter(model, eqx.is_array), eqx.filter(small_run.result.model, eqx.is_array))


def test_validation_split_is_held_out_and_logged(tmp_path, small_run):
    """validation=N trains on all but the last N training images and logs the accuracy on those N
    (val_acc) every epoch; the split is part of the run's settings."""
    from memsnn.data import load_dataset

    settings = dict(train_subset=64, **SMALL)
    result = train("spiceprop", "mnist", validation=16, epochs=1, out_dir=tmp_path, **settings)
    header = read_checkpoint_header(tmp_path / CHECKPOINT_NAME)
    assert header["config"]["data"]["validation"] == 16 and header["steps_per_epoch"] == 48 // 16
    x, y = load_dataset("mnist", "train", source="bundled", subset=64)
    held_out = np.mean(np.asarray(spiceprop_predict(result.model, jnp.asarray(x[48:]))) == y[48:])
    assert result.history[-1]["val_acc"] == pytest.approx(held_out)
    assert json.loads((tmp_path / METRICS_NAME).read_text().splitlines()[-1])["val_acc"] == pytest.approx(held_out)
    with pytest.raises(ValueError, match="cannot resume"):
        train("spiceprop", "mnist", validation=8, epochs=2, out_dir=tmp_path, resume=True, **settings)
    with pytest.raises(ValueError, match="validation=64 must be"):
        train("spiceprop", "mnist", validation=64, epochs=1, **settings)
    # Without a split no val_acc is logged (the module's run, the same settings but the split).
    assert small_run.config["data"]["validation"] in (None, 0)
    assert all("val_acc" not in row for row in small_run.result.history)
    assert all("val_acc" not in json.loads(line) for line in (small_run.out / METRICS_NAME).read_text().splitlines())


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def test_cli_train_resume_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    # A constant learning rate: the resumed run's step is then the first run's (a cosine schedule's
    # length is a constant of the compiled step, and the resume makes the run longer).
    common = ["--train-subset", "40", "--test-subset", "30", "--batch-size", "20", "--steps", "30",
              "--hidden", "8", "--schedule", "constant", "--no-progress"]
    assert main(["train", "--method", "spiceprop", "--dataset", "fashion-mnist", "--epochs", "2",
                 "--out", str(out), *common]) == 0
    assert main(["train", "--out", str(out), "--resume", "--epochs", "3", "--no-progress"]) == 0
    header = read_checkpoint_header(out / CHECKPOINT_NAME)
    assert header["epoch"] == 3 and header["config"]["data"]["dataset"] == "fashion-mnist"
    capsys.readouterr()
    assert main(["evaluate", str(out / CHECKPOINT_NAME), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_samples"] == 30 and result["epoch"] == 3
    assert result["accuracy"] == pytest.approx(header["history"][-1]["test_acc"])
    assert np.sum(result["confusion"]) == 30
    direct = evaluate_checkpoint(out / CHECKPOINT_NAME)
    np.testing.assert_array_equal(direct["confusion"], result["confusion"])
    assert direct["accuracy"] == pytest.approx(np.mean(direct["predictions"] == direct["labels"]))
    # Changing the network of a run cannot be a resume.
    assert main(["train", "--out", str(out), "--resume", "--hidden", "9", "--no-progress"]) == 2
    assert "cannot resume" in capsys.readouterr().err


def test_cli_help_and_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--dataset", "--data", "--resume", "--hidden", "--solver", "--checkpoint-every", "examples:"):
        assert option in text
    assert main(["train", "--method", "spiceprop"]) == 2
    assert "--dataset mnist" in capsys.readouterr().err
    assert main(["evaluate", "/nonexistent/checkpoint.eqx"]) == 2
    assert main(["simulate", "--amplitude", "0.01", "--steps", "60", "--events", "0",
                 "--out", str(tmp_path / "v.npz")]) == 0
    assert "peak" in capsys.readouterr().out
