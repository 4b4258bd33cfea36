"""SpikeProp (memsnn.training.spikeprop): gradients of output spike times, rules, clear errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from memsnn.training.spikeprop import (SpikePropConfig, build_spikeprop, check_outputs_fire, quickprop,
                                       spikeprop_ad, spikeprop_loss)

from _models import load_benchmark  # noqa: E402  (tests/ is on sys.path)

XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float64)


def _xor_net(**kw):
    c = SpikePropConfig(**{"n_inputs": 2, "hidden": (5,), "n_classes": 2, "single_output": True, "n_steps": 500,
                           "init_scale": 5.0, "dtype": "float64", "dt": 0.05e-3, **kw})
    return build_spikeprop(c, key=jax.random.key(3))


@pytest.mark.parametrize("train_delays", [False, True])
def test_output_spike_time_gradient_matches_finite_differences(train_delays):
    """d t_out / d w (a hidden and an output terminal) and d t_out / d delay against central finite
    differences of the simulated spike time (float64): SpikeProp's gradient, eq. 11-12 of the paper,
    through the hidden spike times."""
    model = _xor_net(train_delays=train_delays)
    x = jnp.asarray(XOR[1:2])

    def t_out(m):
        return m.run(x)[0][-1][0, 0]

    # The gradient and every time of the differences from one compiled program (eagerly, the
    # network's and the stimulus' operations outside simulate were linearised one by one).
    value_and_grad = eqx.filter_jit(eqx.filter_value_and_grad(t_out))
    time, grads = value_and_grad(model)
    assert float(time) < model.config.n_steps * model.config.dt - 1e-3  # it fires
    picks = [(lambda m: m.weights[0], (2, 1, 3)), (lambda m: m.weights[1], (0, 2, 5))]
    if train_delays:
        # Output-layer delays (the hidden spikes arrive between grid points). The delays of inputs
        # that spike at t = 0 converge only at first order in dt (2 % at dt = 10 us), reported to
        # the spike-time core (docs/supervised-spike-timing.md).
        picks += [(lambda m: m.delay_params[1], (0, 1, 4)), (lambda m: m.delay_params[1], (0, 3, 2))]
    checked = 0
    for where, idx in picks:
        g = float(where(grads)[idx])
        h = 1e-6 * max(1.0, abs(float(where(model)[idx])))
        plus = eqx.tree_at(where, model, where(model).at[idx].add(h))
        minus = eqx.tree_at(where, model, where(model).at[idx].add(-h))
        fd = (float(value_and_grad(plus)[0]) - float(value_and_grad(minus)[0])) / (2 * h)
        if abs(fd) > 0:
            np.testing.assert_allclose(g, fd, rtol=2e-4, atol=1e-9)
            checked += 1
    assert checked >= 2


def test_silent_outputs_are_named_with_the_remedy():
    model = _xor_net(init_scale=0.2)
    with pytest.raises(ValueError, match="never fire.*Remedy: a larger init_scale"):
        check_outputs_fire(model, XOR)


def test_bad_targets_are_refused():
    with pytest.raises(ValueError, match="target at or beyond the end can never be met"):
        SpikePropConfig(n_inputs=2, n_steps=100, dt=0.1e-3, target_late=16e-3)
    with pytest.raises(ValueError, match="target_early < target_late"):
        SpikePropConfig(n_inputs=2, target_early=16e-3, target_late=10e-3)


def test_silent_output_has_a_penalty_gradient():
    """A silent output's spike time has no gradient; the penalty gives one that raises its weights."""
    model = _xor_net()
    model = eqx.tree_at(lambda m: m.weights[1], model, 0.01 * model.weights[1])  # hidden fire, output silent
    # Compiled whole (eagerly, every operation of the linearisation outside simulate compiles alone).
    grads = jax.jit(jax.grad(lambda m: spikeprop_loss(m, jnp.asarray(XOR), jnp.array([0, 1, 1, 0]))[0]))(model)
    assert float(jnp.sum(grads.weights[1])) < 0  # descending it increases the output weights


def test_quickprop_on_a_parabola_jumps_to_the_minimum():
    """On f(w) = (w - 3)^2 QuickProp's second step lands on the minimum (the parabola is exact),
    as long as the growth bound allows it; Fahlman's added gradient term (the slope kept its sign)
    goes on top: 0.1 * 4.8."""
    for add, expected in ((False, 3.0), (True, 3.48)):
        opt = quickprop(0.1, max_growth=10.0, add_gradient=add)
        w = jnp.asarray(0.0)
        state = opt.init(w)
        for _ in range(2):
            g = 2 * (w - 3.0)
            step, state = opt.update(g, state, w)
            w = w + step
        np.testing.assert_allclose(float(w), expected, atol=1e-6)


def test_spikeprop_ad_step_is_bounded_by_the_error():
    """The adaptive rate mu E / |g|^2: on E = 1/2 (w - 3)^2 with mu = 1 one step halves the error."""
    opt = spikeprop_ad(1.0)
    w = jnp.asarray(1.0)
    state = opt.init(w)
    loss = 0.5 * (w - 3.0) ** 2
    step, _ = opt.update(w - 3.0, state, w, value=loss)
    np.testing.assert_allclose(float(w + step), 2.0, rtol=1e-5)  # eps in the rate
    with pytest.raises(ValueError, match="needs the loss value"):
        opt.update(w - 3.0, state, w)
    assert isinstance(opt, optax.GradientTransformationExtraArgs)


def test_spikeprop_ad_takes_a_schedule_of_mu():
    """mu as a schedule of the step count: the first step uses mu(0), the second mu(1)."""
    opt = spikeprop_ad(lambda count: 1.0 / (1.0 + count))
    w = jnp.asarray(1.0)
    state = opt.init(w)
    step, state = opt.update(w - 3.0, state, w, value=0.5 * (w - 3.0) ** 2)
    np.testing.assert_allclose(float(step), 1.0, rtol=1e-5)  # mu(0) = 1: E 2 -> 0.5
    w = w + step
    step, state = opt.update(w - 3.0, state, w, value=0.5 * (w - 3.0) ** 2)
    np.testing.assert_allclose(float(step), 0.5 * 0.5, rtol=1e-5)  # mu(1) = 1/2 of the Polyak step 0.5


def test_gaussian_receptive_fields_closed_form():
    """Bohte et al.'s population code: centres (2i - 3) / 2 / (m - 2), width 1 / (beta (m - 2)),
    response 1 at a centre; feature-major layout; bad field counts refused."""
    from memsnn.data import gaussian_receptive_fields

    m, beta = 7, 1.5
    x = np.array([[0.0, 0.3], [1.0, 0.5]], np.float32)
    r = np.asarray(gaussian_receptive_fields(x, m, beta=beta))
    assert r.shape == (2, 2 * m)
    centres = (2 * np.arange(1, m + 1) - 3) / 2 / (m - 2)
    sigma = 1 / (beta * (m - 2))
    expected = np.exp(-(x[..., None] - centres) ** 2 / (2 * sigma ** 2)).reshape(2, -1)
    np.testing.assert_allclose(r, expected, rtol=1e-5, atol=1e-12)
    on_centre = np.asarray(gaussian_receptive_fields(np.array([[centres[3]]], np.float32), m))
    assert on_centre[0, 3] == pytest.approx(1.0) and on_centre.argmax() == 3
    with pytest.raises(ValueError, match="n_fields"):
        gaussian_receptive_fields(x, 2)


def test_receptive_fields_code_the_inputs():
    """With receptive_fields the network has n_inputs m (+ bias) inputs, a field spikes at
    t_late - r (t_late - t_early), and fields at or below field_threshold stay silent."""
    from memsnn.data import gaussian_receptive_fields

    c = SpikePropConfig(n_inputs=3, receptive_fields=5, field_threshold=0.2, hidden=(2,), n_classes=2,
                        dtype="float64")
    model = build_spikeprop(c, key=jax.random.key(0))
    assert c.sizes == (3 * 5 + 1, 2, 2)
    x = np.array([[0.1, 0.5, 0.95]], np.float64)
    stim = model.stimulus(jnp.asarray(x))
    amp, lag = np.asarray(stim.amplitude), np.asarray(stim.lag)
    r = np.asarray(gaussian_receptive_fields(x, 5))[0]
    fires = amp[0].sum(axis=0)[:15] > 0
    np.testing.assert_array_equal(fires, r > 0.2)
    k = amp[0].argmax(axis=0)[:15]
    t = (k + 1) * c.dt - lag[0, k, np.arange(15)]
    np.testing.assert_allclose(t[fires], (c.t_late - r * (c.t_late - c.t_early))[fires], atol=1e-9)
    with pytest.raises(ValueError, match="receptive_fields"):
        SpikePropConfig(receptive_fields=2)


@pytest.mark.parametrize("fields", [0, 5])
def test_missing_feature_sends_no_spike(fields):
    """A NaN feature (a missing value, e.g. the original Wisconsin set's bare nuclei) silences its
    input(s), latency code or all its receptive fields; the other features and the bias are coded
    as without it, and the run's spike times stay finite."""
    c = SpikePropConfig(n_inputs=3, receptive_fields=fields, hidden=(2,), n_classes=2, dtype="float64")
    model = build_spikeprop(c, key=jax.random.key(0))
    full = np.array([[0.1, 0.5, 0.95]], np.float64)
    gap = full.copy()
    gap[0, 1] = np.nan
    fired = lambda x: np.asarray(model.stimulus(jnp.asarray(x)).amplitude)[0].sum(axis=0) > 0  # noqa: E731
    m = fields or 1
    own = np.zeros(c.sizes[0], bool)
    own[m:2 * m] = True
    assert fired(full)[own].any()
    assert not fired(gap)[own].any()
    np.testing.assert_array_equal(fired(gap)[~own], fired(full)[~own])
    assert fired(gap)[-1]  # the bias
    times, _ = model.run(jnp.asarray(gap))
    assert all(np.isfinite(np.asarray(t)).all() for t in times)


def test_uci_benchmark_folds_partition_the_training_split():
    """benchmarks/spikeprop_uci.py --folds: each fold holds out a stratified third of the training
    split (the test split untouched), the folds' held-out parts add up to the training split, and
    each fold is scaled by its own training part."""
    pytest.importorskip("sklearn")
    bench = load_benchmark("spikeprop_uci")
    (x_tr, y_tr), (x_te, y_te) = bench.split("iris", 0)
    held = []
    for k in range(3):
        (xf, yf), (xt, yt), (xv, yv) = bench.split("iris", 0, folds=3, fold=k)
        np.testing.assert_array_equal(yt, y_te)  # the same test samples (scaled by the fold's part)
        assert xt.shape == x_te.shape
        assert len(yf) + len(yv) == len(y_tr)
        assert np.abs(np.bincount(yv, minlength=3) - np.bincount(y_tr, minlength=3) / 3).max() <= 1
        np.testing.assert_allclose(xf.min(0), 0.0)
        np.testing.assert_allclose(xf.max(0), 1.0)
        held.append(len(yv))
    assert sum(held) == len(y_tr)
    with pytest.raises(ValueError, match="exclusive"):
        bench.split("iris", 0, val=10, folds=3)


def test_uci_benchmark_test_folds_partition_the_whole_set():
    """benchmarks/spikeprop_uci.py --test-folds: the test folds are a stratified partition of the
    whole set (every sample tested once per seed), each fold's training split is the rest, scaled
    by its own range, and the seed reshuffles the partition."""
    pytest.importorskip("sklearn")
    bench = load_benchmark("spikeprop_uci")
    n = 150
    tested = []
    for k in range(5):
        (x_tr, y_tr), (x_te, y_te) = bench.split("iris", 0, test_folds=5, test_fold=k)
        assert len(y_tr) + len(y_te) == n
        np.testing.assert_array_equal(np.bincount(y_te, minlength=3), [10, 10, 10])
        np.testing.assert_allclose(x_tr.min(0), 0.0)
        np.testing.assert_allclose(x_tr.max(0), 1.0)
        tested.append(y_te)
    assert sum(len(t) for t in tested) == n
    first = bench.split("iris", 0, test_folds=5, test_fold=0)[1][0]
    other = bench.split("iris", 1, test_folds=5, test_fold=0)[1][0]
    assert first.shape == other.shape and not np.array_equal(first, other)
    # the holdout split is unchanged without test folds (Iris: 50 test samples)
    assert len(bench.split("iris", 0)[1][1]) == 50
    refs = bench.reference_classifiers("iris", 0, "minmax", 5, 0)
    assert set(refs) == {"logistic_regression", "svm_rbf", "knn5"} and all(0.5 < v <= 1.0 for v in refs.values())
