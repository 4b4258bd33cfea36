"""Diehl & Cook's network pieces and a tiny unsupervised run through the shared loop (issue 13).

The accuracy figures (82.9 % with 100 neurons) need a long run: benchmarks/stdp_mnist.py.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn.neurons import ConductanceLIF, InhibitedPopulation
from memsnn.cli import main
from memsnn.training import evaluate_checkpoint, fit, load_trained, rstdp, stdp, train
from memsnn.training.checkpoint import load_checkpoint, read_checkpoint_header, save_checkpoint

from _models import load_benchmark  # noqa: E402  (tests/ is on sys.path)

DT = 5e-4


def _one_layer(neuron, n_in=2, n_out=3, weight=1.0):
    return memsnn.Network([memsnn.Layer(memsnn.Dense(jnp.full((n_out, n_in), weight)), None, neuron)])


def test_conductance_lif_jump_decay_refractory_and_adaptation():
    """An impulse opens g_exc (Euler decay (1 - h/tau_exc)^k); a spike resets v, holds it for
    refractory / dt steps, and raises the threshold by theta_plus."""
    neuron = ConductanceLIF(refractory=2e-3)  # fires above -72 mV + theta = -52 mV
    net = _one_layer(neuron, n_in=1, n_out=1, weight=30.0)
    amp = np.zeros((1, 40, 1))
    amp[0, 0, 0] = 1.0
    trace = memsnn.simulate(net, memsnn.Impulses(jnp.asarray(amp)), dt=DT, n_steps=40, record=("state", "spikes"))
    state = trace.state[0].neuron
    g = np.asarray(state.g_exc[0, :, 0])
    np.testing.assert_allclose(g[1:10], 30.0 * (1 - DT / 1e-3) ** np.arange(1, 10), rtol=1e-12)
    spikes = np.asarray(trace.spikes[0][0, :, 0])
    first = int(np.argmax(spikes))
    assert spikes.sum() == 1 and first > 0
    v = np.asarray(state.v[0, :, 0])
    # Held at reset for 2 ms = 4 steps after the spike, then it integrates again.
    np.testing.assert_array_equal(v[first:first + 5], np.full(5, -65e-3))
    assert v[first + 5] != -65e-3
    theta = np.asarray(state.theta[0, :, 0])
    np.testing.assert_allclose(theta[first] - theta[first - 1] * (1 - DT / 1e4), 0.05e-3, rtol=1e-9)


@pytest.mark.parametrize("solver", [memsnn.integrators.Euler(), memsnn.integrators.ExponentialEuler()])
def test_without_the_refractory_clamp_the_membrane_integrates_and_only_spikes_are_blocked(solver):
    """Diehl & Cook's Brian 1 excitatory neurons (clamp_refractory=False): after a spike v starts
    at v_reset and integrates on at once, and no spike comes within refractory / dt = 10 steps.
    Under a constant drive (an impulse every step; its conductance is periodic after a few steps)
    the clamped neuron's inter-spike interval is the free one plus exactly those 10 held steps;
    under a drive strong enough to cross threshold within 5 ms, the free neuron fires every 10 steps."""
    intervals = {}
    for clamp in (True, False):
        neuron = ConductanceLIF(theta_plus=0.0, clamp_refractory=clamp)  # threshold -52 mV
        trace = memsnn.simulate(_one_layer(neuron, n_in=1, n_out=1, weight=1.0),
                                memsnn.Impulses(jnp.ones((1, 120, 1))), dt=DT, n_steps=120,
                                record=("state", "spikes"), solver=solver)
        spikes = np.nonzero(np.asarray(trace.spikes[0][0, :, 0]))[0]
        v = np.asarray(trace.state[0].neuron.v[0, :, 0])
        assert len(spikes) >= 3
        intervals[clamp] = np.diff(spikes[1:])  # after the first spike: periodic
        after = v[spikes[1]:spikes[1] + 10]
        if clamp:
            np.testing.assert_array_equal(after, np.full(10, -65e-3))
        else:
            assert after[0] == -65e-3 and np.all(np.diff(after) > 0)
    assert len(set(intervals[True])) == 1 and len(set(intervals[False])) == 1
    assert intervals[True][0] == intervals[False][0] + 10
    strong = ConductanceLIF(theta_plus=0.0, clamp_refractory=False)
    trace = memsnn.simulate(_one_layer(strong, n_in=1, n_out=1, weight=3.0), memsnn.Impulses(jnp.ones((1, 60, 1))),
                            dt=DT, n_steps=60, record=("state", "spikes"), solver=solver)
    spikes = np.nonzero(np.asarray(trace.spikes[0][0, :, 0]))[0]
    np.testing.assert_array_equal(np.diff(spikes), 10)
    v = np.asarray(trace.state[0].neuron.v[0, :, 0])
    assert v[spikes[0] + 9] > -52e-3  # above threshold before the period ends, yet no spike
    with pytest.raises(ValueError, match="clamp_refractory must be True or False"):
        ConductanceLIF(clamp_refractory=1)


def test_lateral_inhibition_reaches_every_other_excitatory_neuron():
    """Neuron 0 alone is driven to fire; its inhibitory partner fires; every excitatory neuron but
    0 receives w_inh_exc of inhibitory conductance, neuron 0 none."""
    population = InhibitedPopulation()
    weight = jnp.asarray([[200.0], [0.0], [0.0], [0.0]])
    net = memsnn.Network([memsnn.Layer(memsnn.Dense(weight), None, population)])
    amp = np.zeros((1, 20, 1))
    amp[0, 0, 0] = 1.0
    trace = memsnn.simulate(net, memsnn.Impulses(jnp.asarray(amp)), dt=DT, n_steps=20, record="state")
    exc, inh = trace.state[0].neuron.excitatory, trace.state[0].neuron.inhibitory
    inh_spiked = np.asarray(inh.refractory[0]) > 0
    assert inh_spiked[:, 0].any() and not inh_spiked[:, 1:].any()
    step = int(np.argmax(inh_spiked[:, 0]))
    g_inh = np.asarray(exc.g_inh[0, step])
    np.testing.assert_allclose(g_inh, [0.0, 17.0, 17.0, 17.0], rtol=1e-12)


def test_poisson_trains_have_the_rate_of_a_bernoulli_process():
    config = stdp.StdpConfig(n_neurons=2, t_image=0.35)
    images = jnp.full((2, 784), 0.6)
    draw = jax.jit(lambda key: stdp._poisson(key, images, jnp.ones((2,)), config, stdp._spike_cap(config, 1.0)))
    spikes = draw(jax.random.key(0))
    assert spikes.shape == (2, config.n_steps, 784) and set(np.unique(spikes)) <= {0.0, 1.0}
    p = 0.6 * config.max_rate * config.dt
    counts = np.asarray(spikes).sum(axis=1).ravel()
    n = config.n_steps
    assert abs(counts.mean() - n * p) < 4 * np.sqrt(n * p * (1 - p) / counts.size)
    np.testing.assert_allclose(counts.var(), n * p * (1 - p), rtol=0.1)  # binomial, not Poisson-overdispersed


def test_labels_and_vote():
    rates = jnp.asarray([[5.0, 0.0, 1.0], [0.0, 3.0, 2.0]])  # (classes, neurons)
    assignments = stdp.label_from(rates)
    np.testing.assert_array_equal(assignments, [0, 1, 1])
    counts = jnp.asarray([[4.0, 1.0, 1.0], [0.0, 2.0, 4.0]])
    # Class 0: neuron 0 (mean 4 vs 1); class 1: neurons 1, 2 (mean 3 vs 0).
    np.testing.assert_array_equal(stdp.classify(assignments, counts, 2), [0, 1])
    # A neuron silent for every class gets no class (Diehl & Cook's evaluation: -1) and no vote:
    # labelled 0 it would halve class 0's mean (4 / 2 = 2 < 3) and turn the first image to class 1.
    silent = stdp.label_from(jnp.asarray([[5.0, 0.0, 0.0], [0.0, 3.0, 0.0]]))
    np.testing.assert_array_equal(silent, [0, 1, -1])
    counts = jnp.asarray([[4.0, 3.0, 0.0]])
    np.testing.assert_array_equal(stdp.classify(silent, counts, 2), [0])
    np.testing.assert_array_equal(stdp.classify(jnp.asarray([0, 1, 0]), counts, 2), [1])


def test_tiny_unsupervised_run_through_the_shared_loop():
    config = stdp.StdpConfig(n_neurons=6, t_image=0.1)
    model = stdp.build_stdp(config, key=jax.random.key(0))
    x, y = memsnn.data.load_dataset("mnist", "train", source="bundled", subset=8)
    result = fit(model, stdp.StdpLearner(), (x[:6], y[:6]), (x[6:], y[6:]), epochs=1, batch_size=3, progress=False)
    row = result.history[0]
    assert 0.0 <= row["test_acc"] <= 1.0 and row["train_spikes"] >= config.min_spikes
    learned = result.model
    w = np.asarray(learned.weights())
    assert w.min() >= 0.0 and w.max() <= config.w_max
    # Normalised to 78 before the last presentation; one presentation moves the sums by little.
    np.testing.assert_allclose(w.sum(axis=1), 78.0, rtol=0.05)
    assert np.all(np.asarray(learned.theta) >= 20e-3 * np.exp(-1.0)) and np.any(np.asarray(learned.theta) > 20e-3)
    assert not np.allclose(w, np.asarray(model.weights()))
    # Testing uses the learned thresholds: raised by 40 mV, the neurons fall silent.
    keys = jax.random.split(jax.random.key(0), 2)
    responses = jax.jit(stdp.responses)  # one program for both models (the thresholds are an argument)
    counts = responses(learned, jnp.asarray(x[6:]), keys)
    raised = learned.__class__(learned.config, learned.array, learned.neuron, learned.rule, learned.array_state,
                               learned.theta + 40e-3, learned.assignments)
    assert np.asarray(counts).sum() > 0 and np.asarray(responses(raised, jnp.asarray(x[6:]), keys)).sum() == 0


def test_batched_responses_are_the_per_image_ones():
    """Frozen responses of a batch (re-presentations gathered in batches of 2) give every image the
    spike counts it gets alone, with its own key, in any order; some images need re-presentations."""
    config = stdp.StdpConfig(n_neurons=10, t_image=0.05, max_presentations=4)
    model = stdp.build_stdp(config, key=jax.random.key(3))
    x, _ = memsnn.data.load_dataset("mnist", "train", source="bundled", subset=7)
    images = jnp.asarray(x[:7]) * jnp.linspace(0.2, 1.0, 7)[:, None]  # dim ones need showing again
    keys = stdp.image_keys(jax.random.key(5), np.arange(7))
    run = jax.jit(stdp.responses, static_argnames="retry_batch")
    batched = np.asarray(run(model, images, keys, retry_batch=2))
    alone = np.concatenate([np.asarray(run(model, images[i:i + 1], keys[i:i + 1])) for i in range(7)])
    np.testing.assert_array_equal(batched, alone)
    order = np.asarray([6, 2, 0, 5, 1, 3, 4])
    np.testing.assert_array_equal(np.asarray(run(model, images[order], keys[order], retry_batch=3)), batched[order])
    # Some images gave fewer than min_spikes at the first presentation: the retries were exercised.
    first = stdp.StdpConfig(n_neurons=10, t_image=0.05, max_presentations=1)
    once = np.asarray(run(model.__class__(first, model.array, model.neuron, model.rule, model.array_state, model.theta,
                                          model.assignments), images, keys))
    assert np.any(once.sum(1) < config.min_spikes) and not np.array_equal(once, batched)
    with pytest.raises(ValueError, match="one PRNG key per image"):
        stdp.responses(model, images, jax.random.key(0))


def test_config_errors_say_what_is_allowed():
    with pytest.raises(ValueError, match="crossbar must be None \\(ideal weights\\) or one of the crossbar presets"):
        stdp.StdpConfig(crossbar="memristor")
    with pytest.raises(ValueError, match="array must be one of"):
        stdp.StdpConfig.from_dict({"array": "memristor"})
    with pytest.raises(ValueError, match="max_rate \\* dt must stay below 1"):
        stdp.StdpConfig(max_rate=1000.0, dt=1e-3)
    with pytest.raises(ValueError, match="unknown settings"):
        stdp.StdpConfig.from_dict({"neurons": 3})
    with pytest.raises(ValueError, match="learns without a loss"):
        stdp.STDP.loss(None, None, None, key=None)


def test_configs_with_the_old_crossbar_keys_are_migrated():
    # memsnn before issue 22 wrote array / crossbar_preset; --crossbar PRESET is the one option now.
    assert stdp.StdpConfig.from_dict({"array": "crossbar", "crossbar_preset": "pcm"}).crossbar == "pcm"
    assert stdp.StdpConfig.from_dict({"array": "crossbar"}).crossbar == "neurosim"  # the old default preset
    assert stdp.StdpConfig.from_dict({"array": "ideal", "crossbar_preset": "neurosim"}).crossbar is None
    assert "array" not in stdp.StdpConfig.from_dict({"array": "ideal"}).to_dict()
    with pytest.raises(ValueError, match="crossbar_preset='pcm' applies to array='crossbar'"):
        stdp.StdpConfig.from_dict({"array": "ideal", "crossbar_preset": "pcm"})
    assert rstdp.RstdpConfig.from_dict({"array": "crossbar", "crossbar_preset": "reram"}).crossbar == "reram"


def test_integrator_option_and_old_configs_read_as_euler():
    """``integrator`` selects the scheme of every simulate call; a checkpoint's complete config
    written before the option was trained with explicit Euler; partial overrides keep the default."""
    old = {k: v for k, v in stdp.StdpConfig(n_neurons=4).to_dict().items() if k != "integrator"}
    assert stdp.StdpConfig.from_dict(old).integrator == "euler"
    assert stdp.StdpConfig.from_dict({"n_neurons": 4}).integrator == stdp.StdpConfig.integrator
    assert stdp.StdpConfig.from_dict({**old, "integrator": "exponential"}).integrator == "exponential"
    with pytest.raises(ValueError, match="integrator must be one of \\['euler', 'exponential'\\]"):
        stdp.StdpConfig(integrator="rk4")
    parser = argparse.ArgumentParser()
    stdp.STDP.add_arguments(parser.add_argument_group())
    args = parser.parse_args(["--integrator", "exponential"])
    assert stdp.STDP.config_from_args(args) == {"integrator": "exponential"}
    # The scheme reaches simulate: the two integrators learn different weights from one image.
    x, _ = memsnn.data.load_dataset("mnist", "train", source="bundled", subset=1)
    learned = {}
    for name in ("euler", "exponential"):
        model = stdp.build_stdp(stdp.StdpConfig(n_neurons=4, t_image=0.05, integrator=name), key=jax.random.key(0))
        learned[name], _, _, result = stdp.learn_images(model, jnp.asarray(x[:1]), jax.random.key(1))
        assert int(result[0]) == 0
    assert not np.allclose(learned["euler"].weights(), learned["exponential"].weights(), rtol=0, atol=1e-12)


def test_refractory_clamp_option_and_old_configs_read_as_clamped():
    """``clamp_refractory`` reaches the excitatory neurons (not the inhibitory ones, which Brian 1
    clamps); a checkpoint's complete config written before the option was trained with the clamp."""
    old = {k: v for k, v in stdp.StdpConfig(n_neurons=4).to_dict().items() if k != "clamp_refractory"}
    assert stdp.StdpConfig.from_dict(old).clamp_refractory is True
    assert stdp.StdpConfig.from_dict({**old, "clamp_refractory": False}).clamp_refractory is False
    config = stdp.StdpConfig(n_neurons=4, clamp_refractory=False)
    assert stdp.StdpConfig.from_dict(config.to_dict()) == config
    model = stdp.build_stdp(config, key=jax.random.key(0))
    assert model.neuron.excitatory.clamp_refractory is False and model.neuron.inhibitory.clamp_refractory is True
    with pytest.raises(ValueError, match="clamp_refractory must be true or false"):
        stdp.StdpConfig(clamp_refractory="no")
    parser = argparse.ArgumentParser()
    stdp.STDP.add_arguments(parser.add_argument_group())
    assert stdp.STDP.config_from_args(parser.parse_args(["--no-clamp-refractory"])) == {"clamp_refractory": False}
    assert stdp.STDP.config_from_args(parser.parse_args([])) == {}


def test_a_checkpoint_with_the_old_crossbar_keys_loads_evaluates_and_resumes(tmp_path, capsys):
    # A run trained with --crossbar, its header rewritten as memsnn before issue 22 wrote it; its
    # evaluation in two batch sizes (the per-image keys) as well.
    run = ["train", "--method", "stdp", "--dataset", "mnist", "--neurons", "4", "--t-image", "0.02",
           "--train-subset", "4", "--test-subset", "4", "--batch-size", "2", "--eval-batch-size", "2",
           "--epochs", "1", "--no-progress", "--cpu-devices", "1"]
    assert main([*run, "--array", "crossbar", "--crossbar-preset", "pcm", "--out", str(tmp_path / "old")]) == 0
    assert ("memsnn train: warning: stdp: --array crossbar --crossbar-preset pcm is deprecated; it is --crossbar pcm"
            in capsys.readouterr().err)
    with pytest.warns(FutureWarning, match="--array crossbar is deprecated; it is --crossbar neurosim"):
        assert stdp.STDP.config_from_args(argparse.Namespace(array="crossbar")) == {"crossbar": "neurosim"}
    assert main([*run, "--crossbar", "pcm", "--out", str(tmp_path / "new")]) == 0
    old, new = tmp_path / "old" / "checkpoint.eqx", tmp_path / "new" / "checkpoint.eqx"
    header = read_checkpoint_header(new)
    assert header["config"]["model"]["crossbar"] == "pcm" and read_checkpoint_header(old)["config"] == header["config"]
    assert old.read_bytes().split(b"\n", 3)[3] == new.read_bytes().split(b"\n", 3)[3]  # the same weights
    model, _ = load_trained(new)
    _, state, _ = load_checkpoint(new, model, stdp.StdpLearner().init(model))
    settings = {k: v for k, v in header["config"]["model"].items() if k != "crossbar"}
    header["config"]["model"] = {**settings, "array": "crossbar", "crossbar_preset": "pcm"}
    save_checkpoint(old, model, state, header)
    assert read_checkpoint_header(old)["config"]["model"]["array"] == "crossbar"
    reloaded, _ = load_trained(old)
    assert reloaded.config.crossbar == "pcm"
    # The same predictions as the new run's, also in another batch size: memsnn evaluate keys each
    # test image by its index (image_keys), so batches of 2 and of 3 (a padded last batch) agree.
    np.testing.assert_array_equal(evaluate_checkpoint(old, batch_size=3)["predictions"],
                                  evaluate_checkpoint(new, batch_size=2)["predictions"])
    resumed = train("stdp", "mnist", out_dir=tmp_path / "old", resume=True, epochs=2, progress=False)
    assert len(resumed.history) == 2 and read_checkpoint_header(old)["config"]["model"]["crossbar"] == "pcm"



def test_learning_updates_the_weight_matrix_in_place():
    """The time loop of a learning presentation changes the weight matrix in place: no copy of it
    at every step (simulate orders the rule's update after the step's read; a copy cost a quarter
    of a Diehl & Cook training step on the CPU)."""
    import re
    if jax.default_backend() != "cpu":
        pytest.skip("checks XLA's CPU program")
    config = stdp.StdpConfig(n_neurons=7, t_image=0.01)
    model = stdp.build_stdp(config, key=jax.random.key(0))
    images = jnp.full((2, 784), 0.3)
    text = jax.jit(lambda m, x, k: stdp.learn_images(m, x, k)[1]).lower(model, images, jax.random.key(1)).compile()
    text = text.as_text()
    bodies = []
    for loop in re.finditer(r"while\(.*?\), condition=%[\w.]+, body=(%[\w.]+)", text):
        start = text.find("\n" + loop.group(1) + " ")
        body = text[start:text.find("\n}\n", start)]
        if " dot(" in body and "7,784]" in body:
            bodies.append(body)
    assert bodies, "no time loop that reads the weights found"
    for body in bodies:
        assert not re.search(r"f(32|64)\[(1,)?7,784\]\{[\d,]+\} copy\(", body)
    # Nor in the rule's full update (a loop of zero or one pass inside the time step).
    for loop in re.finditer(r"while\(.*?\), condition=%[\w.]+, body=(%[\w.]+)", text):
        start = text.find("\n" + loop.group(1) + " ")
        body = text[start:text.find("\n}\n", start)]
        if "7,784]" in body and " dot(" not in body and " while(" not in body:
            assert not re.search(r"f(32|64)\[(1,)?7,784\]\{[\d,]+\} copy\(", body)


@pytest.mark.parametrize("input_delay", [0.0, 0.01])
def test_the_sparse_weight_update_learns_the_weights_of_the_full_update(monkeypatch, input_delay):
    """Between output spikes the rule changes only the columns of the inputs that spiked
    (memsnn.plasticity.pair.updated_at_spikes): Diehl & Cook's learning then ends with bitwise the
    weights and thresholds of the full update at every step; also through input delays (the
    columns' depression reads the post trace at the arrivals alone, the full update with the
    delayed pre trace)."""
    from memsnn.plasticity import pair
    config = stdp.StdpConfig(n_neurons=7, t_image=0.05, input_delay=input_delay)
    model = stdp.build_stdp(config, key=jax.random.key(0))
    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.uniform(0.2, 1.0, (3, 784)) * (rng.uniform(size=(3, 784)) < 0.25))

    def learn():
        return jax.jit(lambda m, x, k: stdp.learn_images(m, x, k)[:2])(model, images, jax.random.key(1))

    sparse, counts = learn()
    with monkeypatch.context() as m:
        m.setattr(pair, "SPARSE_COLUMNS", 784)  # the full update at every step
        full, _ = learn()
    assert float(jnp.sum(counts)) > 0  # potentiation happened too
    assert not np.array_equal(np.asarray(sparse.weights()), np.asarray(model.weights()))
    np.testing.assert_array_equal(np.asarray(sparse.weights()), np.asarray(full.weights()))
    np.testing.assert_array_equal(np.asarray(sparse.theta), np.asarray(full.theta))


def test_the_running_accuracy_of_the_benchmark_goes_on_across_a_resume(tmp_path):
    """benchmarks/stdp_mnist.py stopped at 10 images and resumed logs the running accuracy of the
    uninterrupted run: its window is saved in the checkpoint, not restarted."""
    import json
    script = load_benchmark("stdp_mnist")
    tiny = ["--neurons", "4", "--chunk", "5", "--save-every", "5", "--source", "bundled", "--no-eval",
            "--tag", "_pytest_resume"]

    def logged(out):
        return [json.loads(line)["running_acc_last_1000"] for line in (out / "log.jsonl").read_text().splitlines()]

    script.main([*tiny, "--images", "20", "--out", str(tmp_path / "whole")])
    script.main([*tiny, "--images", "10", "--out", str(tmp_path / "parts")])
    script.main([*tiny, "--images", "20", "--out", str(tmp_path / "parts"), "--resume"])
    whole = logged(tmp_path / "whole")
    assert len(whole) == 4 and logged(tmp_path / "parts") == whole
    header = read_checkpoint_header(tmp_path / "parts" / "checkpoint.eqx")
    assert len(header["correct_last_1000"]) == 20 and np.mean(header["correct_last_1000"]) == whole[-1]


def test_the_benchmark_time_step_option_reaches_the_config_and_a_resume_keeps_it(tmp_path):
    """benchmarks/stdp_mnist.py --dt sets StdpConfig.dt (stored in the checkpoint); resumed without
    --dt the run goes on at the checkpoint's step, and only a step other than the default is part
    of the result's configuration."""
    script = load_benchmark("stdp_mnist")
    tiny = ["--neurons", "4", "--chunk", "2", "--save-every", "2", "--source", "bundled", "--no-eval",
            "--tag", "_pytest_dt", "--out", str(tmp_path)]
    script.main([*tiny, "--images", "2", "--dt", "0.001"])
    assert read_checkpoint_header(tmp_path / "checkpoint.eqx")["config"]["dt"] == 0.001
    script.main([*tiny, "--images", "4", "--resume"])
    header = read_checkpoint_header(tmp_path / "checkpoint.eqx")
    assert header["config"]["dt"] == 0.001 and header["images_seen"] == 4
    base = dict(neurons=4, images=4, chunk=2, label_images=4, test_images=4, crossbar=None, source="bundled", seed=0,
                validation=0, integrator=None, clamp_refractory=None, input_delay=None, carry_rest=None)
    assert script._configuration(argparse.Namespace(**base, dt=0.001))["dt"] == 0.001
    for default in (None, stdp.StdpConfig.dt):
        assert "dt" not in script._configuration(argparse.Namespace(**base, dt=default))


def test_input_delays_option_builds_their_delayed_array_and_old_configs_read_without():
    """``input_delay``: each input connection delayed by uniform [0, input_delay) floored to steps
    (Diehl & Cook: 10 ms = 20 steps of 0.5 ms), learned through and tested through the same
    delays; configs written before the option read as 0 (no delays), ``carry_rest`` as False."""
    old = {k: v for k, v in stdp.StdpConfig(n_neurons=4).to_dict().items() if k not in ("input_delay", "carry_rest")}
    assert stdp.StdpConfig.from_dict(old).input_delay == 0.0 and stdp.StdpConfig.from_dict(old).carry_rest is False
    with pytest.raises(ValueError, match="input_delay must be a number of seconds"):
        stdp.StdpConfig(input_delay=-0.01)
    parser = argparse.ArgumentParser()
    stdp.STDP.add_arguments(parser.add_argument_group())
    assert stdp.STDP.config_from_args(parser.parse_args(["--input-delay", "0.01", "--carry-rest"])) == {
        "input_delay": 0.01, "carry_rest": True}
    config = stdp.StdpConfig(n_neurons=4, t_image=0.05, input_delay=0.01)
    model = stdp.build_stdp(config, key=jax.random.key(0))
    assert isinstance(model.array, memsnn.arrays.DelayedPlastic) and model.rule.delay_taps == 21
    steps = np.asarray(model.array.delay_steps)
    assert steps.min() == 0 and steps.max() == 19 and len(np.unique(steps)) == 20
    # The same initial weights as without delays (the delays come from their own key).
    plain = stdp.build_stdp(stdp.StdpConfig(n_neurons=4, t_image=0.05), key=jax.random.key(0))
    np.testing.assert_array_equal(model.weights(), plain.weights())
    x, _ = memsnn.data.load_dataset("mnist", "train", source="bundled", subset=2)
    learned, counts, _, result = stdp.learn_images(model, jnp.asarray(x[:2]), jax.random.key(1))
    assert np.all(np.asarray(result) == 0) and np.all(np.isfinite(np.asarray(learned.weights())))
    assert not np.allclose(learned.weights(), model.weights())
    frozen = learned.network(learning=False).layers[0].array
    assert isinstance(frozen, memsnn.arrays.DelayedPlastic)
    np.testing.assert_array_equal(frozen.delay_steps, steps)
    np.testing.assert_array_equal(frozen.array.initial_weight, learned.weights())
    assert stdp.responses(learned, jnp.asarray(x[:2]), stdp.image_keys(jax.random.key(2), np.arange(2))).shape == (2, 4)


def test_carry_rest_keeps_what_the_rest_leaves_in_closed_form():
    """``carry_rest``: the next presentation starts with ``exp(-t_rest / tau)`` of each membrane's
    deviation from rest and ``exp(-t_rest / tau_trace)`` of each trace; without it, at rest."""
    x, _ = memsnn.data.load_dataset("mnist", "train", source="bundled", subset=1)
    for carry in (False, True):
        model = stdp.build_stdp(stdp.StdpConfig(n_neurons=4, t_image=0.05, carry_rest=carry), key=jax.random.key(0))
        network = model.network(learning=True)
        state = network.init_state()[0]
        neuron = state.neuron._replace(excitatory=state.neuron.excitatory._replace(v=jnp.full((4,), -0.075)))
        traces = state.plasticity._replace(r1=jnp.full((784,), 0.5), o1=jnp.full((4,), 0.25), o2=jnp.ones((4,)))
        v, rested = stdp._rested(model, state._replace(neuron=neuron, plasticity=traces))
        if not carry:
            np.testing.assert_array_equal(v, model.neuron.init_state(4).excitatory.v)
            np.testing.assert_array_equal(rested.o2, 0.0)
            continue
        np.testing.assert_allclose(v, -0.065 - 0.010 * np.exp(-0.15 / 0.1), rtol=1e-6)
        np.testing.assert_allclose(rested.r1, 0.5 * np.exp(-0.15 / 0.02), rtol=1e-5)
        np.testing.assert_allclose(rested.o1, 0.25 * np.exp(-0.15 / 0.02), rtol=1e-5)
        np.testing.assert_allclose(rested.o2, np.exp(-0.15 / 0.04), rtol=1e-5)
        # And it reaches the presentations: the carried state changes what is learned.
        learned = [stdp.learn_images(stdp.build_stdp(stdp.StdpConfig(n_neurons=4, t_image=0.05, carry_rest=c),
                                                     key=jax.random.key(0)), jnp.asarray(x[:1].repeat(2, 0)),
                                     jax.random.key(1))[0].weights() for c in (False, True)]
        assert not np.allclose(learned[0], learned[1], rtol=0, atol=1e-12)
