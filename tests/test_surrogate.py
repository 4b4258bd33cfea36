"""Surrogate-gradient training: LIF/IF recurrences, Conv2d, gradients, training, CLI, bad inputs."""

import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import memsnn
from memsnn.arrays import Conv2d
from memsnn.spikes import fast_sigmoid, straight_through
from memsnn.training.surrogate import (
    SurrogateConfig,
    build_surrogate,
    surrogate_loss,
    surrogate_predict,
    surrogate_trainable,
)

BETA, THR = 0.9, 1.0
TAU = 1.0 / (1.0 - BETA)


def one_layer(reset, reset_delay=False, n=3, neuron="lif"):
    if neuron == "lif":
        cell = memsnn.LIF(tau=TAU, resistance=TAU, threshold=THR, reset=reset, spike_fn=fast_sigmoid(),
                          reset_delay=reset_delay)
    else:
        cell = memsnn.IF(capacitance=1.0, threshold=THR, reset=reset, spike_fn=fast_sigmoid())
    return memsnn.Network([memsnn.Layer(memsnn.Identity(n), None, cell)])


def reference(drive, reset, beta=BETA, delayed=False):
    """The discrete-time recurrence by hand: v <- beta v + I, spike if v >= thr, then reset."""
    v, pending, vs, ss = np.zeros(drive.shape[1]), np.zeros(drive.shape[1]), [], []
    for current in drive:
        v = beta * v + current - (pending * THR if delayed else 0.0)
        s = (v >= THR).astype(float)
        if delayed:
            pending = s  # snnTorch: subtract the threshold at the next step, undecayed
        elif reset == "subtract":
            v = v - s * THR
        elif reset == "zero":
            v = v * (1 - s)
        vs.append(v.copy())
        ss.append(s)
    return np.array(vs), np.array(ss)


@pytest.mark.parametrize("neuron,beta", [("lif", BETA), ("if", 1.0)])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_lif_and_if_follow_the_discrete_recurrence(neuron, beta, reset):
    rng = np.random.default_rng(0)
    drive = rng.uniform(0.0, 0.6, (20, 3))
    drive[:, 0] = 0.05  # stays sub-threshold with a leak, fires without
    trace = memsnn.simulate(one_layer(reset, neuron=neuron), memsnn.Current(drive[None]), dt=1.0, n_steps=20,
                            record=("membrane_potential", "spikes"))
    v, s = reference(drive, reset, beta)
    np.testing.assert_allclose(trace.membrane_potential[0][0], v, atol=1e-12)
    np.testing.assert_array_equal(trace.spikes[0][0], s)
    assert s.sum() > 5


def test_reset_delay_is_snntorch_timing():
    drive = np.random.default_rng(1).uniform(0.0, 0.8, (30, 4))
    trace = memsnn.simulate(one_layer("subtract", reset_delay=True, n=4), memsnn.Current(drive[None]), dt=1.0,
                            n_steps=30, record=("membrane_potential", "spikes"))
    v, s = reference(drive, "subtract", delayed=True)
    np.testing.assert_allclose(trace.membrane_potential[0][0], v, atol=1e-12)
    np.testing.assert_array_equal(trace.spikes[0][0], s)
    with pytest.raises(ValueError, match="reset_delay=True needs reset='subtract'"):
        memsnn.LIF(reset="zero", reset_delay=True)


def test_simulate_unroll_gives_the_same_numbers():
    drive = np.random.default_rng(2).uniform(0.0, 0.6, (1, 13, 3))
    runs = [memsnn.simulate(one_layer("subtract"), memsnn.Current(drive), dt=1.0, n_steps=13, unroll=u)
            for u in (1, 4)]
    np.testing.assert_array_equal(runs[0].membrane_potential[0], runs[1].membrane_potential[0])
    with pytest.raises(ValueError, match="unroll must be a positive integer"):
        memsnn.simulate(one_layer("subtract"), memsnn.Current(drive), dt=1.0, n_steps=13, unroll=0)


def test_conv2d_matches_a_direct_convolution_with_pooling():
    rng = np.random.default_rng(3)
    w, b = rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4)
    conv = Conv2d(w, b, in_shape=(2, 8, 8), pool=2)
    assert conv.conv_shape == (4, 6, 6) and conv.out_shape == (4, 3, 3)
    assert (conv.n_inputs, conv.n_outputs) == (128, 36)
    x = rng.normal(size=(2, 8, 8))
    direct = np.zeros((4, 6, 6))
    for o in range(4):
        for i in range(6):
            for j in range(6):
                direct[o, i, j] = np.sum(w[o] * x[:, i:i + 3, j:j + 3]) + b[o]
    pooled = direct.reshape(4, 3, 2, 3, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(conv(jnp.asarray(x.ravel())), pooled.ravel(), rtol=1e-12)
    assert jax.vmap(conv)(jnp.ones((5, 128))).shape == (5, 36)


@pytest.mark.parametrize("bad,match", [
    (lambda: Conv2d(np.ones((4, 3, 3, 3)), in_shape=(2, 8, 8)), "the input has 2 channels"),
    (lambda: Conv2d(np.ones((4, 2, 3, 3)), in_shape=(2, 8, 8), pool=4), "does not divide"),
    (lambda: Conv2d(np.ones((4, 2, 9, 9)), in_shape=(2, 8, 8)), "does not fit"),
    (lambda: Conv2d(np.ones((4, 2, 3)), in_shape=(2, 8, 8)), "must be 4-D"),
    (lambda: Conv2d(np.ones((4, 2, 3, 3)), in_shape=(2, 8, 8))(jnp.ones(100)), r"expected a flattened input of shape \(128,\)"),
])
def test_conv2d_bad_inputs(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def test_layerwise_and_whole_network_simulation_agree():
    for arch in ("dense", "conv"):
        kw = dict(architecture=arch, image_shape=(1, 8, 8), hidden=(12,), conv_channels=(3,), kernel_size=3,
                  pool=2, n_steps=4, dtype="float64", threshold=0.3, unroll=1)
        images = jax.random.uniform(jax.random.key(0), (4, 64))
        runs = [build_surrogate(dict(kw, layerwise=lw), key=jax.random.key(1)).run(images) for lw in (True, False)]
        for a, b in zip(jax.tree.leaves(runs[0]), jax.tree.leaves(runs[1])):
            np.testing.assert_allclose(a, b, atol=1e-12)
        assert sum(float(s.sum()) for s in runs[0][0]) > 0


def hand_written_loss(w1, b1, w2, b2, images, labels, n_steps, beta, slope):
    """The 2-layer LIF network and the membrane cross-entropy, written directly in JAX."""
    spike = fast_sigmoid(slope)

    def step(carry, _):
        v1, v2 = carry
        v1 = beta * v1 + images @ w1.T + b1
        s1 = spike(v1 - THR)
        v1 = v1 - s1 * THR
        v2 = beta * v2 + s1 @ w2.T + b2
        s2 = spike(v2 - THR)
        v2 = v2 - s2 * THR
        return (v1, v2), v2

    zeros = (jnp.zeros((len(images), w1.shape[0])), jnp.zeros((len(images), w2.shape[0])))
    _, v2 = jax.lax.scan(step, zeros, None, length=n_steps)
    log_p = jax.nn.log_softmax(v2, axis=-1)
    return -jnp.mean(jnp.sum(jnp.take_along_axis(log_p, labels[None, :, None], axis=-1), axis=0))


def test_gradient_matches_a_hand_written_recurrence():
    cfg = dict(hidden=(16,), image_shape=(1, 4, 5), n_classes=3, n_steps=7, beta=BETA, threshold=THR,
               dtype="float64", loss="ce_membrane", slope=5.0, unroll=1)
    model = build_surrogate(cfg, key=jax.random.key(0))
    model = eqx.tree_at(lambda m: m.arrays[0].weight, model, model.arrays[0].weight * 4)
    images = jax.random.uniform(jax.random.key(1), (6, 20))
    labels = jnp.array([0, 1, 2, 0, 1, 2])
    params, static = eqx.partition(model, surrogate_trainable(model))
    ours = jax.jit(jax.grad(lambda p: surrogate_loss(eqx.combine(p, static), images, labels)[0]))(params)
    (d1, d2) = model.arrays
    theirs = jax.grad(hand_written_loss, argnums=(0, 1, 2, 3))(d1.weight, d1.bias, d2.weight, d2.bias, images,
                                                              labels, 7, 1 - 1 / (1 / (1 - BETA)), 5.0)
    for a, b in zip((ours.arrays[0].weight, ours.arrays[0].bias, ours.arrays[1].weight, ours.arrays[1].bias), theirs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert float(jnp.abs(theirs[0]).max()) > 0  # gradients do flow through the hidden spikes


def test_discontinuous_integration_restarts_the_membrane_every_window():
    cfg = dict(hidden=(8,), image_shape=(1, 3, 3), n_classes=2, n_steps=6, encoding="rate",
               integration="discontinuous", window=1, reset="none", surrogate="straight_through", slope=1.0,
               dtype="float64", unroll=1)
    model = build_surrogate(cfg, key=jax.random.key(0))
    images = jax.random.uniform(jax.random.key(1), (3, 9))
    spikes, membranes = model.run(images)
    drive = model.stimulus(images).amplitude  # (3, 6, 9) Bernoulli spikes
    # Every step is its own binary-activation network: the hidden membrane is just W x[k] + b.
    expected = drive @ model.arrays[0].weight.T + model.arrays[0].bias
    np.testing.assert_allclose(membranes[0], expected, atol=1e-12)
    assert membranes[-1].shape == (3, 6, 2)
    cont = build_surrogate(dict(cfg, integration="continuous"), key=jax.random.key(0)).run(images)[1][0]
    assert not np.allclose(cont, expected)  # continuous integration carries the membrane over


@pytest.mark.parametrize("architecture", ["dense", "conv"])
def test_integrator_output_is_a_leaky_sum_of_the_hidden_spikes(architecture):
    cfg = dict(architecture=architecture, hidden=(12,), conv_channels=(2,), kernel_size=3, image_shape=(1, 6, 6),
               n_classes=3, n_steps=8, beta=0.8, output="integrator", readout="membrane", loss="ce_membrane",
               dtype="float64", unroll=1)
    model = build_surrogate(cfg, key=jax.random.key(0))
    model = eqx.tree_at(lambda m: m.arrays[-1].weight, model, model.arrays[-1].weight * 20)
    images = jax.random.uniform(jax.random.key(1), (4, 36))
    spikes, membranes = model.run(images)
    assert float(spikes[-2].sum()) > 0  # the hidden layer fires ...
    assert float(spikes[-1].sum()) == 0  # ... the output layer never does
    drive = spikes[-2] @ model.arrays[-1].weight.T + model.arrays[-1].bias  # (4, 8, 3)
    v, expected = jnp.zeros((4, 3)), []
    for k in range(8):  # v <- beta v + I, no threshold, no reset
        v = 0.8 * v + drive[:, k]
        expected.append(v)
    np.testing.assert_allclose(membranes[-1], jnp.stack(expected, axis=1), rtol=1e-10, atol=1e-12)
    assert float(jnp.abs(membranes[-1]).max()) > 1.0  # well past the threshold, still no spike
    assert surrogate_predict(model, images).tolist() == jnp.argmax(membranes[-1].mean(axis=1), axis=-1).tolist()


@pytest.mark.parametrize("loss", ["ce_count", "ce_membrane", "mse_rate"])
def test_a_short_training_run_lowers_the_loss(loss):
    from memsnn.data import load_dataset

    x, y = load_dataset("mnist", "train", source="bundled", subset=64)
    x, y = jnp.asarray(x), jnp.asarray(y)
    model = build_surrogate(dict(hidden=(32,), n_steps=5, loss=loss, learn_beta=True, learn_threshold=True, unroll=1),
                            key=jax.random.key(0))
    params, static = eqx.partition(model, surrogate_trainable(model))
    opt = optax.adam(2e-3)
    state = opt.init(params)

    @eqx.filter_jit
    def step(params, state):
        value, grads = eqx.filter_value_and_grad(lambda p: surrogate_loss(eqx.combine(p, static), x, y)[0])(params)
        updates, state = opt.update(grads, state, params)
        return eqx.apply_updates(params, updates), state, value

    losses = []
    for _ in range(10):
        params, state, value = step(params, state)
        losses.append(float(value))
    assert losses[-1] < 0.8 * losses[0]
    trained = eqx.combine(params, static)
    assert not np.allclose(trained.beta[0], 0.95) and not np.allclose(trained.threshold[0], 1.0)
    assert surrogate_predict(trained, x).shape == (64,)


@pytest.mark.parametrize("bad,match", [
    (dict(surrogate="relu"), "unknown spike function 'relu'"),
    (dict(slope=0.0), "slope must be a finite number > 0"),
    (dict(threshold=0.0), "threshold must be > 0"),
    (dict(threshold=-1.0), "threshold must be > 0"),
    (dict(beta=1.0), r"beta must lie in \[0, 1\)"),
    (dict(n_steps=10, integration="discontinuous", window=3), "must be >= 1 and divide n_steps=10"),
    (dict(loss="hinge"), "loss must be one of"),
    (dict(reset_delay=True, reset="zero"), "reset_delay needs"),
    (dict(output="integrator", readout="count"), "output='integrator' never fires"),
    (dict(output="linear"), "output must be one of"),
    (dict(hidden_layers=3), r"unknown settings \['hidden_layers'\]"),
])
def test_bad_configs_raise_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        SurrogateConfig.from_dict(bad)


def test_bad_inputs_raise_clear_errors():
    model = build_surrogate(dict(hidden=(4,), n_steps=2, unroll=1), key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"images must be \(batch, 784\).*got shape \(2, 783\)"):
        model.run(jnp.zeros((2, 783)))
    with pytest.raises(ValueError, match="threshold must be > 0"):
        memsnn.LIF(threshold=0.0, spike_fn=fast_sigmoid())
    with pytest.raises(ValueError, match="threshold must be > 0"):
        memsnn.IF(threshold=-1.0, spike_fn=straight_through())


def test_cli_trains_the_surrogate_method(tmp_path, capsys):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "memsnn.cli", "train", "--method", "surrogate", "--dataset", "mnist",
           "--epochs", "1", "--train-subset", "128", "--test-subset", "64", "--batch-size", "64",
           "--hidden", "32", "--steps", "4", "--surrogate", "arctan", "--slope", "2", "--out", str(out),
           "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "test accuracy" in done.stdout and (out / "checkpoint.eqx").is_file()
    model, header = memsnn.training.load_trained(out / "checkpoint.eqx")
    assert header["config"]["model"]["surrogate"] == "arctan" and model.config.n_steps == 4
    # A refused option, in this process (the command line above already ran the entry point): the
    # same exit status and message without starting another interpreter.
    from memsnn.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as bad:
        main(cmd[3:-3] + ["--surrogate", "relu", "--out", str(tmp_path / "bad")])
    assert bad.value.code == 2 and "relu" in capsys.readouterr().err
