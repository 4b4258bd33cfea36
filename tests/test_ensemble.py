"""Ensembles: several seeds trained in one run, vmapped over a member axis (memsnn.training.ensemble).

Kept fast (tiny networks: a surrogate 784-8-10 LIF net over 4 steps, SPICEprop 784-8-10 over 3 steps,
the softmax of _models.py), float64 so that "member k equals the single run with seed k" is checked
to rounding. The ensemble run of the module is trained in two pieces (stopped after epoch 1, then
resumed): its members must equal uninterrupted single runs, so resume is checked on the way.
"""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from memsnn.cli import main
from memsnn.training import (
    CHECKPOINT_NAME,
    GradientLearner,
    TrainingDiverged,
    evaluate_checkpoint,
    fit,
    make_step,
    read_checkpoint_header,
    train,
)
from memsnn.training.ensemble import member, member_predict, n_members, shared_axes, stack
from memsnn.training.learner import EnsembleLearner
from memsnn.training.spiceprop import (
    SpicepropConfig,
    build_spiceprop,
    spiceprop_loss,
    spiceprop_predict,
    spiceprop_trainable,
)

from _models import Softmax, softmax_loss, softmax_predict  # noqa: E402  (tests/ is on sys.path)

SEEDS = [0, 5]
TINY = {"hidden": [8], "n_steps": 4, "unroll": 1, "dtype": "float64"}  # unroll 1: the step compiled once, not 4 times
RUN = dict(train_subset=40, test_subset=20, batch_size=20, lr=3e-3, model=TINY, progress=False, augment_shift=1)


def max_rel_diff(a, b) -> float:
    pairs = zip(jax.tree.leaves(eqx.filter(a, eqx.is_inexact_array)),
                jax.tree.leaves(eqx.filter(b, eqx.is_inexact_array)), strict=True)
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y))) / (np.max(np.abs(np.asarray(x))) or 1.0))
               for x, y in pairs)


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    """An ensemble of seeds 0 and 5 trained for 2 epochs in two calls: (out_dir, first part, resumed)."""
    out = tmp_path_factory.mktemp("ensemble") / "run"
    part = train("surrogate", "mnist", seeds=SEEDS, epochs=2, out_dir=out, stop_after_epochs=1, **RUN)
    resumed = train("surrogate", "mnist", out_dir=out, resume=True, progress=False)  # seeds from the checkpoint
    return out, part, resumed


def test_member_k_is_the_single_run_with_seed_k(ensemble_run):
    # Own batch orders, augmentation keys and initialisation per member: a member that got another
    # member's order, keys or parameters (a mixed-up vmap axis) would differ by O(lr), not by rounding.
    _, _, ensemble = ensemble_run
    singles = [train("surrogate", "mnist", seed=s, epochs=2, **RUN) for s in SEEDS]
    assert n_members(ensemble.model) == 2
    for k, single in enumerate(singles):
        assert max_rel_diff(single.model, member(ensemble.model, k)) < 1e-9
        for name in ("train_loss", "train_acc", "test_acc"):
            assert [row[f"{name}_members"][k] for row in ensemble.history] == pytest.approx(
                [row[name] for row in single.history], rel=1e-9)
    assert max_rel_diff(singles[0].model, member(ensemble.model, 1)) > 1e-3
    row = ensemble.history[-1]
    members = row["test_acc_members"]
    assert row["test_acc"] == pytest.approx(np.mean(members))
    assert row["test_acc_std"] == pytest.approx(np.std(members, ddof=1))


def test_spiceprop_step_of_an_ensemble_is_each_members_step():
    # The vmapped simulate (fold_batch, scan) of SPICEprop, one step on each member's batch. All
    # members vmapped together, as on an accelerator; the CPU default (one after another) is what
    # the fit-based tests here run.
    config = SpicepropConfig(hidden=(8,), n_steps=3, event_steps=(0,), checkpoint_every=None, unroll=1,
                             dtype="float64")
    models = [build_spiceprop(config, key=jax.random.key(s)) for s in SEEDS]
    learner = GradientLearner(spiceprop_loss, spiceprop_predict, optax.adam(1e-2), spiceprop_trainable(models[0]))
    rng = np.random.default_rng(0)
    images, labels = rng.uniform(0, 1, (2, 4, 784)), rng.integers(0, 10, (2, 4)).astype(np.int32)
    keys = jax.random.split(jax.random.key(1), 2)
    ensemble = stack(models)
    both = EnsembleLearner(learner, members_at_once=2)
    new, _, metrics = make_step(both, ensemble)(ensemble, both.init(ensemble), images, labels, keys)
    assert new.neuron.capacitance.shape == (2,)  # a shared frozen leaf comes back with the member axis
    step = make_step(learner, models[0])
    for k, model in enumerate(models):
        one, _, m = step(model, learner.init(model), images[k], labels[k], keys[k])
        assert max_rel_diff(one, member(new, k)) < 1e-9
        assert float(metrics["loss"][k]) == pytest.approx(float(m["loss"]), rel=1e-12)


def test_resume_of_an_ensemble_checkpoint(ensemble_run):
    # Bit-for-bit against the uninterrupted singles: test_member_k_is_the_single_run_with_seed_k.
    out, part, resumed = ensemble_run
    header = read_checkpoint_header(out / CHECKPOINT_NAME)
    assert header["epoch"] == 2 and header["members"] == 2 and header["seeds"] == SEEDS
    assert header["config"]["seeds"] == SEEDS and header["config"]["seed"] is None
    assert [row["epoch"] for row in resumed.history] == [1, 2] and resumed.history[0] == part.history[0]
    for seeds, message in (([0, 6], r"seeds: \[0, 5\] -> \[0, 6\]"), (None, "seed: None -> 3")):
        with pytest.raises(ValueError, match=message):
            train("surrogate", "mnist", out_dir=out, resume=True, seeds=seeds, seed=None if seeds else 3,
                  progress=False)
    assert read_checkpoint_header(out / CHECKPOINT_NAME) == header


def test_evaluate_reports_each_member_and_mean_std(ensemble_run, capsys):
    out, _, ensemble = ensemble_run
    last = ensemble.history[-1]
    capsys.readouterr()
    assert main(["evaluate", str(out / CHECKPOINT_NAME), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["seeds"] == SEEDS and result["n_samples"] == 20
    assert result["member_accuracy"] == pytest.approx(last["test_acc_members"])
    assert result["accuracy"] == pytest.approx(last["test_acc"])
    assert result["accuracy_std"] == pytest.approx(last["test_acc_std"])
    assert np.asarray(result["confusion"]).shape[0] == 2 and np.sum(result["confusion"]) == 40
    assert main(["evaluate", str(out / CHECKPOINT_NAME)]) == 0
    text = capsys.readouterr().out
    assert "an ensemble of 2" in text and "+-" in text and "seed 5:" in text
    assert main(["evaluate", str(out / CHECKPOINT_NAME), "--energy"]) == 2
    assert "holds an ensemble of 2 (seeds 0 5" in capsys.readouterr().err
    direct = evaluate_checkpoint(out / CHECKPOINT_NAME)
    assert direct["predictions"].shape == (2, 20)
    from memsnn.studies.deploy import evaluate_checkpoint_on_crossbar

    with pytest.raises(ValueError, match="holds an ensemble of 2"):
        evaluate_checkpoint_on_crossbar(out / CHECKPOINT_NAME, preset="realistic")


def test_cli_and_api_errors(tmp_path, capsys):
    common = ["train", "--method", "surrogate", "--dataset", "mnist", "--out", str(tmp_path / "x")]
    with pytest.raises(SystemExit) as exit_:
        main([*common, "--seed", "0", "--seeds", "0", "1"])
    assert exit_.value.code == 2
    assert "argument --seeds: not allowed with argument --seed" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*common, "--seeds", "0", "-1"])
    assert "--seeds: must be an integer in [0, 4294967295], got -1" in capsys.readouterr().err
    assert main([*common, "--seeds", "1", "2", "1"]) == 2
    assert "must be distinct" in capsys.readouterr().err
    assert main(["train", "--method", "stdp", "--dataset", "mnist", "--seeds", "0", "1",
                 "--out", str(tmp_path / "y")]) == 2
    assert "the stdp method learns by a local rule" in capsys.readouterr().err
    with pytest.raises(ValueError, match="the conversion method converts"):
        train("conversion", "mnist", seeds=[0, 1])
    with pytest.raises(ValueError, match="not both"):
        train("surrogate", "mnist", seed=0, seeds=[0, 1])
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def blobs(n=48, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.int32)
    return (np.eye(3, 6)[y] * 2 + rng.normal(size=(n, 6))), y


def test_a_diverging_member_is_named_and_does_not_touch_the_others(tmp_path):
    models = [Softmax(6, 3, jax.random.key(s)) for s in (0, 7)]
    models[1] = eqx.tree_at(lambda m: m.weight, models[1], models[1].weight.at[0, 0].set(jnp.nan))
    learner = GradientLearner(softmax_loss, softmax_predict, optax.adam(0.05))
    ensemble = stack(models)
    both = EnsembleLearner(learner)
    x, y = blobs()
    images, labels = np.stack([x[:16], x[16:32]]), np.stack([y[:16], y[16:32]])
    keys = jax.random.split(jax.random.key(0), 2)
    step = make_step(both, ensemble)
    new, _, metrics = step(ensemble, both.init(ensemble), images, labels, keys)
    healthy = stack([models[0], Softmax(6, 3, jax.random.key(7))])
    unaffected, _, _ = step(healthy, both.init(healthy), images, labels, keys)
    assert np.isnan(metrics["loss"][1]) and np.isfinite(metrics["loss"][0])
    assert max_rel_diff(member(unaffected, 0), member(new, 0)) == 0.0  # as if member 1 were healthy
    with pytest.raises(TrainingDiverged) as err:
        fit(ensemble, learner, (x, y), epochs=1, batch_size=16, seed=[0, 7], out_dir=tmp_path, progress=False)
    assert "member 1 (seed 7): the loss is nan" in str(err.value) and "epoch 1, step 1" in str(err.value)
    assert "member 0" not in str(err.value)
    with pytest.raises(ValueError, match="2 members but 3 seeds"):
        fit(ensemble, learner, (x, y), epochs=1, batch_size=16, seed=[0, 7, 8], progress=False)


def test_leaves_common_to_all_members_are_vmapped_once():
    models = [Softmax(6, 3, jax.random.key(s)) for s in (0, 7)]  # biases: zeros in both
    reduced, axes = shared_axes(stack(models))
    assert reduced.bias.shape == (3,) and reduced.weight.shape == (2, 3, 6)
    assert axes.bias is None and axes.weight == 0
    x = np.ones((4, 6))
    predictions = member_predict(softmax_predict).with_axes(axes)(reduced, x, key=None)
    assert predictions.shape == (2, 4)
    np.testing.assert_array_equal(predictions[1], softmax_predict(models[1], x))


def test_a_members_failed_simulation_is_diagnosed_alone(tmp_path):
    # Member 1 drives its MIF neurons far beyond forward Euler's stability limit; its batch is
    # repeated alone on one device with throw=True, so simulate's own message names the failure.
    config = SpicepropConfig(hidden=(8,), n_steps=8, event_steps=(0,), checkpoint_every=None, unroll=1,
                             dtype="float64", drive_limit=None)
    models = [build_spiceprop(config, key=jax.random.key(s)) for s in (0, 7)]
    models[1] = eqx.tree_at(lambda m: m.front_end[-1].bias, models[1], models[1].front_end[-1].bias + 1e3)
    learner = GradientLearner(spiceprop_loss, spiceprop_predict, optax.adam(1e-3), spiceprop_trainable(models[0]))
    x = np.random.default_rng(0).uniform(0, 1, (8, 784))
    with pytest.raises(TrainingDiverged, match=r"step 1 of 2: member 1 \(seed 7\): the simulation failed .*unstable"):
        fit(stack(models), learner, (x, np.arange(8) % 10), epochs=1, batch_size=4, seed=[0, 7], out_dir=tmp_path,
            progress=False)
    assert not (tmp_path / CHECKPOINT_NAME).exists()
