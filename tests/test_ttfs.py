"""Time-to-first-spike training (docs/spike-times.md): Yin-Yang generator, latency codes at
continuous times, the ttfs method through the shared train/fit."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn.data import latency_times, load_dataset, spike_time_impulses, yin_yang
from memsnn.data.yinyang import yin_yang_class
from memsnn.training import train
from memsnn.training.ttfs import IMAGE_INIT_MEAN, IMAGE_INIT_STD, TTFSConfig, build_ttfs, ttfs_loss, ttfs_predict


def test_yin_yang_is_the_authors_definition():
    x, y = yin_yang(300, seed=42)
    assert x.shape == (300, 4) and x.dtype == np.float32 and set(np.unique(y)) == {0, 1, 2}
    np.testing.assert_allclose(x[:, 2:], 1 - x[:, :2], atol=1e-6)
    assert np.all(np.hypot(x[:, 0] - 0.5, x[:, 1] - 0.5) <= 0.5)
    assert all(yin_yang_class(a, b) == c for (a, b, _, _), c in zip(x.astype(float), y))
    # Mirror symmetry of the shape: a point and its point reflection swap yin and yang.
    assert yin_yang_class(0.3, 0.8) == 1 - yin_yang_class(0.7, 0.2)
    # Sizes and seeds of the splits; the class is drawn first, so the classes are balanced.
    train_x, train_y = load_dataset("yinyang", "train")
    assert train_x.shape == (5000, 4) and np.all(np.abs(np.bincount(train_y) - 5000 / 3) < 100)
    np.testing.assert_array_equal(load_dataset("yinyang", "test", subset=10)[0], yin_yang(10, seed=40)[0])
    with pytest.raises(ValueError, match="splits"):
        load_dataset("yinyang", "dev")


def test_latency_impulses_place_spikes_at_their_times():
    times = latency_times(jnp.array([[0.0, 0.25, 1.0]]), t_early=1e-3, t_late=5e-3, larger_earlier=False,
                          bias_times=(0.0,))
    np.testing.assert_allclose(np.asarray(times), [[1e-3, 2e-3, 5e-3, 0.0]], atol=1e-9)
    stim = spike_time_impulses(times, dt=0.3e-3, n_steps=30)
    steps = np.argmax(np.asarray(stim.amplitude[0]), axis=0)
    arrival = (steps + 1) * 0.3e-3 - np.asarray(stim.lag[0])[steps, np.arange(4)]
    np.testing.assert_allclose(arrival, np.asarray(times[0]), atol=1e-8)
    assert float(stim.amplitude.sum()) == 4.0
    silent = latency_times(jnp.array([[0.05, 0.9]]), t_early=0.0, t_late=1e-2, threshold=0.1)
    assert np.isinf(float(silent[0, 0])) and float(spike_time_impulses(silent, dt=1e-3, n_steps=20).amplitude.sum()) == 1


def test_ttfs_loss_has_gradients_for_lif_and_mif():
    x, y = yin_yang(8, seed=1)
    for neuron, over in (("lif", {"n_steps": 80}), ("mif", {"n_steps": 150, "t_late": 1e-3})):
        model = build_ttfs({"neuron": neuron, "hidden": [12], **over}, key=jax.random.key(0))
        # Under jit, as fit runs it (a value that must be concrete would fail here, not in training).
        (loss, pred), grads = eqx.filter_jit(eqx.filter_value_and_grad(ttfs_loss, has_aux=True))(model, x, y)
        norms = [float(jnp.linalg.norm(g)) for g in grads.weights]
        assert np.isfinite(float(loss)) and all(np.isfinite(norms)) and all(n > 0 for n in norms), (neuron, norms)


def test_image_inputs_take_their_own_defaults_and_points_keep_theirs():
    points, images = TTFSConfig(), TTFSConfig(inputs="images", n_inputs=784, n_classes=10)
    assert (points.loss, points.xi, points.init_mean, points.init_std) == ("mse", 0.4, (6.7, 5.5), (3.6, 8.8))
    assert points.target_times == (1.0, 1.2) and TTFSConfig(neuron="mif").target_times == (0.9, 1.1)
    assert TTFSConfig(target_times=(0.9, 1.1)).target_times == (0.9, 1.1)
    assert (images.loss, images.xi, images.init_mean, images.init_std) == ("ce", 0.2, IMAGE_INIT_MEAN, IMAGE_INIT_STD)
    assert (images.v_reset, images.gamma_hidden, points.v_reset, points.gamma_hidden) == (0.0, 1.0, -1000.0, 0.0)
    explicit = TTFSConfig(inputs="images", n_inputs=784, n_classes=10, loss="mse", xi=0.4, init_mean=(6.7, 5.5))
    assert (explicit.loss, explicit.xi, explicit.init_mean) == ("mse", 0.4, (6.7, 5.5))
    # stored configs reload unchanged
    assert TTFSConfig.from_dict(images.to_dict()) == images
    # on an MNIST-like image about half of the hidden neurons fire at initialisation, not all at once
    rng = np.random.default_rng(0)
    x = jnp.asarray((rng.random((4, 784)) < 0.19) * rng.uniform(0.5, 1.0, (4, 784)), jnp.float32)
    model = build_ttfs({"inputs": "images", "n_inputs": 784, "n_classes": 10, "hidden": [64]}, key=jax.random.key(0))
    c = model.config
    trace = memsnn.simulate(model.network(), model.stimulus(x), dt=c.dt, n_steps=c.n_steps, spike_timing="exact",
                            record=("spike_times",))
    fired = np.asarray(trace.first_spike_times(0)) < c.n_steps * c.dt
    assert 0.1 < fired.mean() < 0.95, fired.mean()


def test_ttfs_trains_through_the_shared_train():
    result = train("ttfs", "yinyang", train_subset=500, test_subset=200, epochs=3, batch_size=25, lr=1e-2,
                   model={"loss": "ce"}, progress=False)
    accs = [m["test_acc"] for m in result.history]
    assert accs[-1] > 0.45, accs  # chance is 1/3


def test_silent_outputs_keep_a_gradient_through_their_continued_times():
    # Outputs held below threshold: without the continuation their times are the run's end, with
    # no gradient, and the cross-entropy cannot bring the label neuron back; with it (the default),
    # the loss and the prediction see T + tau_syn (1 - max v / theta).
    x, y = yin_yang(8, seed=3)
    for slope in (0.0, 1.0):
        model = build_ttfs({"hidden": [10], "loss": "ce", "silent_slope": slope}, key=jax.random.key(0))
        model = eqx.tree_at(lambda m: m.weights[1], model, jnp.full_like(model.weights[1], 0.05))
        times, peak = model(x)
        assert np.all(np.asarray(times) == model.config.n_steps * model.config.dt) and np.all(np.asarray(peak) < 0)
        grads = eqx.filter_grad(lambda m: ttfs_loss(m, x, y)[0])(model)
        norm = float(jnp.linalg.norm(grads.weights[1]))
        assert (norm > 0) == (slope > 0), (slope, norm)
    # The predicted class of an all-silent sample is the output nearest to its threshold.
    nearest = np.argmax(np.asarray(peak), axis=1)
    np.testing.assert_array_equal(np.asarray(ttfs_predict(model, x)), nearest)


def test_silent_hidden_neurons_get_a_gradient_only_from_their_regulariser():
    # Hidden neurons 0-4 held silent on every sample (negative input weights): they have no spike
    # time, so without gamma_hidden no gradient reaches their input weights; with it, the loss
    # pushes their membrane towards the threshold. The firing neurons' terms are 0 either way.
    x, y = yin_yang(8, seed=3)
    grads = {}
    for gamma in (0.0, 0.5):
        model = build_ttfs({"hidden": [10], "gamma_hidden": gamma}, key=jax.random.key(0))
        model = eqx.tree_at(lambda m: m.weights[0], model, model.weights[0].at[:5].set(-0.5))
        grads[gamma] = eqx.filter_grad(lambda m: ttfs_loss(m, x, y)[0])(model).weights[0]
    silent_norm = {g: float(jnp.linalg.norm(v[:5])) for g, v in grads.items()}
    assert silent_norm[0.0] == 0.0 and silent_norm[0.5] > 0, silent_norm
    assert float(jnp.sum(grads[0.5][:5])) < 0  # descent raises their input weights
    with pytest.raises(ValueError, match="gamma_hidden"):
        TTFSConfig(gamma_hidden=-1.0)


def test_a_method_asked_for_a_spike_timing_it_cannot_use_is_refused(tmp_path, capsys):
    from memsnn.cli import main

    # Exact (event) spike times for a surrogate-gradient method, grid spikes for TTFS: refused before
    # any data are read or anything is written, naming the methods that do use the timing asked for.
    with pytest.raises(ValueError, match=r"surrogate method cannot use spike_timing='exact'.*ttfs"):
        train("surrogate", "mnist", spike_timing="exact", out_dir=tmp_path / "a")
    with pytest.raises(ValueError, match=r"ttfs method cannot use spike_timing='grid'.*spiceprop"):
        train("ttfs", "yinyang", spike_timing="grid", out_dir=tmp_path / "b")
    with pytest.raises(ValueError, match="must be one of"):
        train("ttfs", "yinyang", spike_timing="event")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    code = main(["train", "--method", "spiceprop", "--dataset", "mnist", "--spike-timing", "exact",
                 "--out", str(tmp_path / "c"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "spiceprop method cannot use spike_timing='exact'" in err and "spikeprop, ttfs" in err
    assert not (tmp_path / "c").exists()


def test_impulses_within_a_window_run_as_the_dense_ones_and_refuse_later_times():
    """``spike_time_impulses(..., t_max=)`` keeps rows for the code's window only: the first array is
    read for those rows (half the input layer's work on a run twice the window), the spike times and
    their gradients are those of the dense impulses, and a time after ``t_max`` is an error."""
    rng = np.random.default_rng(3)
    x = jnp.asarray((rng.random((3, 30)) < 0.5) * rng.uniform(0.2, 1.0, (3, 30)))
    times = latency_times(x, t_early=0.0, t_late=4e-3, threshold=0.1, bias_times=(0.0,))
    window = spike_time_impulses(times, dt=0.5e-3, n_steps=20, t_max=3.6e-3)
    assert window.amplitude.shape == (3, 8, 31) and window.steps == tuple(range(8))
    dense = spike_time_impulses(times, dt=0.5e-3, n_steps=20)
    assert dense.steps is None and dense.amplitude.shape == (3, 20, 31)
    np.testing.assert_array_equal(np.asarray(dense.amplitude[:, 8:]), 0.0)
    w0 = jnp.asarray(rng.normal(0.4, 0.5, (6, 31)))
    w1 = jnp.asarray(rng.normal(0.6, 0.5, (3, 6)))

    def first_times(ws, stim):
        net = memsnn.Network([memsnn.Layer(memsnn.Dense(w), memsnn.ExponentialSynapse(2e-3),
                                           memsnn.LIF(tau=5e-3, threshold=1.0, v_reset=0.0, reset="zero"))
                              for w in ws])
        trace = memsnn.simulate(net, stim, dt=0.5e-3, n_steps=20, spike_timing="exact", record=("spike_times",))
        return trace.first_spike_times(0), trace.first_spike_times(1)

    @eqx.filter_jit
    def times_and_gradient(ws, stim):
        # The spike times and the gradient of the output times' sum from one compiled program per
        # stimulus (eagerly, every operation of the linearisation outside simulate compiled alone).
        def summed(ws):
            t = first_times(ws, stim)
            return jnp.sum(jnp.where(t[1] < 10e-3, t[1], 0.0)), t

        grad, t = jax.grad(summed, has_aux=True)(ws)
        return t, grad

    (got, g_window), (want, g_dense) = times_and_gradient((w0, w1), window), times_and_gradient((w0, w1), dense)
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-15)
    fired = np.asarray(want[1]) < 10e-3
    assert fired.any() and (~np.asarray(want[0] < 10e-3)).any()  # some spike, some not: a real test
    for a, b in zip(g_window, g_dense):
        assert float(jnp.linalg.norm(b)) > 0
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-12)
    with pytest.raises(Exception, match="t_max"):
        jax.block_until_ready(spike_time_impulses(times, dt=0.5e-3, n_steps=20, t_max=2e-3).amplitude)
    with pytest.raises(ValueError, match="t_max"):
        spike_time_impulses(times, dt=0.5e-3, n_steps=20, t_max=-1.0)
