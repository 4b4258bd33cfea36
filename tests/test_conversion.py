"""ANN-to-SNN conversion: rate identity, normalisation scales, QCFS, batch-norm folding, errors."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memsnn.arrays import Conv2d, Dense
from memsnn.training import evaluate_checkpoint, train
from memsnn.training.conversion import (
    ConversionConfig,
    activation_scales,
    build_conversion,
    calibrate,
    conversion_predict,
    evaluate_snn,
    fold_batch_norm,
    model_based_scales,
    qcfs,
    run_snn,
    snn_network,
    with_settings,
)


def _mlp(weights, biases, **settings):
    """A dense ConversionNet with the given (out, in) weights and biases, float64."""
    n_in = weights[0].shape[1]
    config = dict(architecture="dense", image_shape=(1, 1, n_in), hidden=tuple(w.shape[0] for w in weights[:-1]),
                  n_classes=weights[-1].shape[0], dtype="float64", **settings)
    model = build_conversion(config, key=jax.random.key(0))
    arrays = tuple(Dense(jnp.asarray(w), jnp.asarray(b)) for w, b in zip(weights, biases))
    return eqx.tree_at(lambda m: m.arrays, model, arrays)


def _random_mlp(key, sizes, **settings):
    keys = jax.random.split(key, 2 * len(sizes))
    weights = [np.asarray(jax.random.normal(keys[2 * i], (b, a))) / np.sqrt(a) for i, (a, b) in
               enumerate(zip(sizes[:-1], sizes[1:]))]
    biases = [0.1 * np.asarray(jax.random.normal(keys[2 * i + 1], (b,))) for i, b in enumerate(sizes[1:])]
    return _mlp(weights, biases, **settings)


def test_rates_reproduce_relu_activations_within_closed_form_bound():
    # IF with reset by subtraction, constant input z per step, threshold theta, v(0) = 0: the count
    # after T steps is floor(T z / theta) for 0 <= z <= theta, so |rate - z / theta| < 1 / T. The
    # output membrane / T is then the ANN's logits up to sum_i |W_ji| lambda / T.
    model = _random_mlp(jax.random.key(1), (6, 5, 3), activation="relu", normalisation="max")
    images = np.asarray(jax.random.uniform(jax.random.key(2), (40, 6)))
    model = calibrate(model, images)
    hidden, logits = model.activations(jnp.asarray(images))
    lam = float(model.scales[0])
    n_steps = 50
    membrane, spikes = run_snn(model, jnp.asarray(images), n_steps, record_spikes=True)
    rates = np.asarray(spikes[0]).mean(axis=1)
    assert np.max(np.abs(rates - np.asarray(hidden) / lam)) <= 1.0 / n_steps + 1e-12
    bound = np.abs(np.asarray(model.arrays[1].weight)).sum(axis=1) * lam / n_steps
    assert np.all(np.abs(np.asarray(membrane) / n_steps - np.asarray(logits)) <= bound + 1e-12)


def test_qcfs_snn_at_t_equal_l_is_exactly_the_qcfs_ann():
    # Bu et al. 2022: with v(0) = theta / 2 and T = L, the first layer's spike count is
    # clip(floor(T z / lambda + 1/2), 0, T), i.e. lambda * count / T is the QCFS activation.
    levels = 6
    model = _random_mlp(jax.random.key(3), (8, 7, 3), activation="qcfs", levels=levels)
    model = eqx.tree_at(lambda m: m.thresholds, model, (jnp.asarray(0.9),))
    images = jnp.asarray(jax.random.uniform(jax.random.key(4), (50, 8)))
    model = calibrate(model, np.asarray(images))
    assert model.config.initial_membrane == "half" and float(model.scales[0]) == pytest.approx(0.9)
    _, spikes = run_snn(model, images, levels, record_spikes=True)
    ann_hidden = model.activations(images)[0]
    np.testing.assert_allclose(0.9 * np.asarray(spikes[0]).sum(axis=1) / levels, ann_hidden, atol=1e-12)


def test_qcfs_forward_and_gradient_follow_the_formula():
    z = jnp.linspace(-1.0, 3.0, 401) + 1e-3  # off the kinks at 0 and lambda
    lam, levels = 2.0, 4
    expected = lam / levels * jnp.clip(jnp.floor(z * levels / lam + 0.5), 0, levels)
    np.testing.assert_allclose(qcfs(z, lam, levels), expected, atol=1e-12)
    # Straight-through floor: d/dz = 1 inside (0, lambda), 0 where the clip acts.
    dz = jax.vmap(jax.grad(lambda x: qcfs(x, lam, levels)))(z)
    inside = (z > 0) & (z < lam)
    np.testing.assert_allclose(dz, jnp.where(inside, 1.0, 0.0), atol=1e-12)
    # d/d lambda above the clip is 1 (the output is lambda).
    assert float(jax.grad(lambda t: qcfs(jnp.asarray(5.0), t, levels))(2.0)) == pytest.approx(1.0)


def test_model_based_scales_are_the_max_positive_weight_sums():
    w1 = np.array([[0.5, -1.0, 2.0], [1.0, 1.0, -3.0]])
    b1 = np.array([0.25, -0.5])
    w2 = np.array([[2.0, -1.0], [0.5, 0.5]])
    b2 = np.array([0.0, 1.0])
    model = calibrate(_mlp([w1, w2], [b1, b2], activation="relu", normalisation="model"), np.zeros((1, 3)))
    lam1 = max(0.5 + 2.0 + 0.25, 1.0 + 1.0 + 0.0)  # 2.75
    lam = model_based_scales(model)
    assert lam == pytest.approx((lam1,))
    assert float(model.scales[0]) == pytest.approx(lam1)
    # A convolution: per output channel, the positive kernel weights times the input bound.
    kernel = np.zeros((2, 1, 2, 2))
    kernel[0, 0] = [[1.0, -2.0], [0.5, 0.5]]
    kernel[1, 0] = [[3.0, 0.0], [-1.0, 0.0]]
    conv_model = build_conversion(dict(image_shape=(1, 4, 4), conv_channels=(2,), kernel_size=2, pool=1,
                                       dtype="float64", activation="relu", normalisation="model"),
                                  key=jax.random.key(0))
    conv = Conv2d(kernel, np.array([0.1, -0.2]), in_shape=(1, 4, 4), pool=1)
    conv_model = eqx.tree_at(lambda m: m.arrays[0], conv_model, conv)
    assert model_based_scales(conv_model) == pytest.approx((max(2.0 + 0.1, 3.0),))


def test_data_based_scales_match_a_hand_computation():
    model = _random_mlp(jax.random.key(5), (4, 6, 5, 2), activation="relu")
    images = np.asarray(jax.random.uniform(jax.random.key(6), (300, 4)))
    w1, b1 = (np.asarray(model.arrays[0].weight), np.asarray(model.arrays[0].bias))
    w2, b2 = (np.asarray(model.arrays[1].weight), np.asarray(model.arrays[1].bias))
    a1 = np.maximum(images @ w1.T + b1, 0)
    a2 = np.maximum(a1 @ w2.T + b2, 0)
    assert activation_scales(model, images, normalisation="max", batch_size=64) == pytest.approx(
        (a1.max(), a2.max()))
    assert activation_scales(model, images, normalisation="percentile", percentile=99.0, batch_size=64) == \
        pytest.approx((np.percentile(a1, 99.0), np.percentile(a2, 99.0)))
    calibrated = calibrate(model, images)  # default: the 99.9th percentile
    assert [float(s) for s in calibrated.scales] == pytest.approx([np.percentile(a1, 99.9), np.percentile(a2, 99.9)])


def test_threshold_balancing_and_weight_normalisation_give_the_same_spikes():
    # (A percentile, not the max: the largest activation would sit exactly on the threshold, where
    # rounding decides.)
    model = _random_mlp(jax.random.key(7), (5, 6, 4, 3), activation="relu", normalisation="percentile",
                        percentile=90.0, reset="zero", initial_membrane="half")
    images = np.asarray(jax.random.uniform(jax.random.key(8), (20, 5)))
    model = calibrate(model, images)
    by_threshold = run_snn(model, jnp.asarray(images), 30, record_spikes=True)
    by_weights = run_snn(with_settings(model, balance="weights"), jnp.asarray(images), 30, record_spikes=True)
    for a, b in zip(by_threshold[1], by_weights[1]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(by_threshold[0], by_weights[0], rtol=1e-9, atol=1e-9)


def test_batch_norm_folding_equals_the_unfolded_network():
    key = jax.random.key(9)
    conv = Conv2d.uniform((2, 6, 6), 3, 3, key=key, pool=2)
    scale, shift, mean = (jnp.asarray(v) for v in ([1.5, 0.5, 2.0], [0.1, -0.2, 0.3], [0.2, -0.1, 0.05]))
    var = jnp.asarray([0.5, 2.0, 0.1])
    x = jax.random.uniform(jax.random.key(10), (2 * 6 * 6,))
    z = conv(x).reshape(3, -1)
    unfolded = (z - mean[:, None]) * (scale / jnp.sqrt(var + 1e-5))[:, None] + shift[:, None]
    np.testing.assert_allclose(fold_batch_norm(conv, scale, shift, mean, var)(x), unfolded.ravel(), rtol=1e-10)
    # A conv network with batch norm: after calibration the ANN uses the population statistics,
    # and the SNN (folded weights) reproduces it like a network without batch norm.
    config = dict(image_shape=(1, 8, 8), conv_channels=(3,), kernel_size=3, pool=2, dtype="float64",
                  activation="relu", normalisation="max", batch_norm=True)
    model = build_conversion(config, key=jax.random.key(11))
    images = np.asarray(jax.random.uniform(jax.random.key(12), (16, 64)))
    model = calibrate(model, images)
    z = jax.vmap(model.arrays[0])(jnp.asarray(images)).reshape(16, 3, -1)
    np.testing.assert_allclose(model.bn_mean[0], z.mean(axis=(0, 2)), rtol=1e-8)
    np.testing.assert_allclose(model.bn_var[0], z.var(axis=(0, 2)), rtol=1e-8)
    hidden, logits = model.activations(jnp.asarray(images))
    n_steps = 60
    membrane, spikes = run_snn(model, jnp.asarray(images), n_steps, record_spikes=True)
    lam = float(model.scales[0])
    assert np.max(np.abs(np.asarray(spikes[0]).mean(axis=1) - np.asarray(hidden) / lam)) <= 1 / n_steps + 1e-12
    bound = np.abs(np.asarray(model.arrays[1].weight)).sum(axis=1) * lam / n_steps
    assert np.all(np.abs(np.asarray(membrane) / n_steps - np.asarray(logits)) <= bound + 1e-12)


def test_rate_coded_input_and_lif_run():
    model = _random_mlp(jax.random.key(13), (6, 5, 3), activation="relu", normalisation="max", encoding="rate")
    images = np.asarray(jax.random.uniform(jax.random.key(14), (8, 6)))
    model = calibrate(model, images)
    a = run_snn(model, jnp.asarray(images), 16, key=jax.random.key(0))[0]
    b = run_snn(model, jnp.asarray(images), 16, key=jax.random.key(0))[0]
    c = run_snn(model, jnp.asarray(images), 16, key=jax.random.key(1))[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    leaky = with_settings(model, neuron="lif", beta=0.9, encoding="analog")
    network, _ = snn_network(leaky)
    assert type(network.layers[0].neuron).__name__ == "LIF"
    assert np.all(np.isfinite(run_snn(leaky, jnp.asarray(images), 16)[0]))


def test_bad_settings_and_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="normalisation='qcfs' uses the trained QCFS thresholds"):
        ConversionConfig(activation="relu", normalisation="qcfs")
    with pytest.raises(ValueError, match="percentile"):
        ConversionConfig(percentile=120)
    with pytest.raises(ValueError, match="levels"):
        ConversionConfig(levels=0)
    with pytest.raises(ValueError, match="reset must be one of"):
        ConversionConfig(reset="none")
    with pytest.raises(ValueError, match="unknown settings"):
        ConversionConfig.from_dict({"level": 4})
    model = _random_mlp(jax.random.key(15), (4, 3, 2), activation="relu")
    with pytest.raises(ValueError, match=r"images must be \(batch, 4\)"):
        model.activations(jnp.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"images must be \(N >= 1, 4\)"):
        calibrate(model, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="has not been calibrated .* call memsnn.training.conversion.calibrate"):
        evaluate_snn(model, np.zeros((2, 4)), np.zeros(2, int), steps=(4,))
    with pytest.raises(ValueError, match="conversion_predict: the network has not been calibrated"):
        conversion_predict(with_settings(model, n_steps=4), jnp.zeros((2, 4)))
    calibrated = calibrate(model, np.ones((3, 4)))
    with pytest.raises(ValueError, match="steps must be positive"):
        evaluate_snn(calibrated, np.zeros((2, 4)), np.zeros(2, int), steps=(0,))
    with pytest.raises(ValueError, match="n_steps must be an integer >= 1"):
        run_snn(calibrated, jnp.zeros((2, 4)), 0)
    with pytest.raises(ValueError, match="2 images and 3 labels"):
        evaluate_snn(calibrated, np.zeros((2, 4)), np.zeros(3, int), steps=(4,))


def test_train_converts_and_evaluates_the_snn(tmp_path):
    model = {"architecture": "dense", "hidden": [16], "activation": "qcfs", "levels": 4, "eval_steps": [4, 8]}
    result = train("conversion", "mnist", train_subset=128, test_subset=50, epochs=1, batch_size=64, lr=3e-3,
                   model=model, out_dir=tmp_path, progress=False)
    report = json.loads((tmp_path / "conversion.json").read_text())
    assert [row["steps"] for row in report["snn"]] == [4, 8]
    assert result.checkpoint == tmp_path / "converted.eqx"
    # `memsnn evaluate converted.eqx --steps 8` reproduces the table's row for T = 8.
    evaluated = evaluate_checkpoint(result.checkpoint, model={"n_steps": 8}, batch_size=25)
    assert evaluated["accuracy"] == pytest.approx(report["snn"][1]["accuracy"])
    assert 0 <= min(report["snn"][1]["firing_rates"]) and max(report["snn"][1]["firing_rates"]) <= 1
