"""What a user of the ``memsnn`` command meets: no lost runs, no tracebacks, clear messages (issue 16).

One tiny SPICEprop run (40 images, 30 steps, 8 hidden units) is trained once per module and copied
where a test needs a run folder.
"""

import json
import re
import shutil
import signal
import subprocess
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn
from memsnn import cli
from memsnn.cli import main
from memsnn.training import CHECKPOINT_NAME, METRICS_NAME, RunExistsError, read_checkpoint_header, train

TINY = ["--train-subset", "40", "--test-subset", "20", "--batch-size", "20", "--steps", "30", "--hidden", "8"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "run"
    assert main(["train", "--dataset", "mnist", *TINY, "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    return out


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    for leak in ("Traceback", "EQX_ON_ERROR", "equinox", "JSONDecodeError", "Expecting value", "Diffrax("):
        assert leak not in lines[0]
    return lines[0]


# --------------------------------------------------------------------------------------------
# B: a run is never overwritten by accident; --resume alone finds it
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("out_option", [[], ["--out", "runs/spiceprop-mnist"]])
def test_train_into_an_existing_run_refuses_and_changes_nothing(tiny_run, in_tmp, capsys, out_option):
    run = in_tmp / "runs" / "spiceprop-mnist"  # the default folder of --method spiceprop --dataset mnist
    shutil.copytree(tiny_run, run)
    before = {name: (run / name).read_bytes() for name in (CHECKPOINT_NAME, METRICS_NAME)}
    capsys.readouterr()
    assert main(["train", "--dataset", "mnist", *TINY, "--epochs", "1", "--no-progress", *out_option]) == 2
    message = capsys.readouterr().err.splitlines()[-1]
    assert "runs/spiceprop-mnist already holds a run (a checkpoint after epoch 1); nothing was changed" in message
    assert "memsnn train --resume --out runs/spiceprop-mnist" in message and "--out DIR" in message
    assert "--overwrite" in message
    assert {name: (run / name).read_bytes() for name in before} == before


def test_overwrite_replaces_the_run(tiny_run, in_tmp):
    run = in_tmp / "runs" / "spiceprop-mnist"
    shutil.copytree(tiny_run, run)
    (run / METRICS_NAME).write_text('{"epoch": 1}\n{"epoch": 2}\n')
    assert main(["train", "--dataset", "mnist", *TINY, "--epochs", "1", "--no-progress", "--overwrite"]) == 0
    assert len((run / METRICS_NAME).read_text().splitlines()) == 1
    assert read_checkpoint_header(run / CHECKPOINT_NAME)["epoch"] == 1


def test_train_api_refuses_an_existing_run(tiny_run):
    before = (tiny_run / CHECKPOINT_NAME).read_bytes()
    with pytest.raises(RunExistsError, match=r"already holds a run .* resume=True.* overwrite=True"):
        train("spiceprop", "mnist", train_subset=40, test_subset=20, batch_size=20, epochs=1,
              model={"hidden": [8], "n_steps": 30}, out_dir=tiny_run, progress=False)
    assert (tiny_run / CHECKPOINT_NAME).read_bytes() == before


def test_resume_alone_finds_the_run(tiny_run, in_tmp, capsys):
    shutil.copytree(tiny_run, in_tmp / "runs" / "spiceprop-mnist")
    assert main(["train", "--resume", "--epochs", "2", "--no-progress"]) == 0
    assert read_checkpoint_header(in_tmp / "runs" / "spiceprop-mnist" / CHECKPOINT_NAME)["epoch"] == 2
    shutil.copytree(tiny_run, in_tmp / "runs" / "other")
    capsys.readouterr()
    assert main(["train", "--resume", "--no-progress"]) == 2
    assert "several runs under runs/ (other, spiceprop-mnist); choose one with --out DIR" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# C: damaged checkpoints give one clear line on evaluate and on resume
# --------------------------------------------------------------------------------------------


def _truncate_half(raw: bytes) -> bytes:
    return raw[: len(raw) // 2]


def _flip_400_bytes(raw: bytes) -> bytes:
    data = bytearray(raw)
    start = raw.index(b"\n", raw.index(b"\n", raw.index(b"\n") + 1) + 1) + 1  # in the weights, after the header
    for i in np.random.default_rng(0).choice(np.arange(start, len(raw)), 400, replace=False):
        data[i] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize("damage, problem", [
    (_truncate_half, "is damaged: truncated"),
    (_flip_400_bytes, "is damaged: the SHA-256 checksum of its settings and weights does not match"),
])
def test_damaged_checkpoint_on_evaluate_and_resume(tiny_run, tmp_path, capsys, damage, problem):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    checkpoint = run / CHECKPOINT_NAME
    checkpoint.write_bytes(damage(checkpoint.read_bytes()))
    capsys.readouterr()
    assert main(["evaluate", str(checkpoint)]) == 2
    assert problem in one_line(capsys.readouterr().err)
    assert main(["train", "--resume", "--out", str(run), "--no-progress"]) == 2
    message = one_line(capsys.readouterr().err)
    assert message.startswith("memsnn train: cannot resume:") and problem in message and "--overwrite" in message


# --------------------------------------------------------------------------------------------
# D: numeric options are checked, at the command line and in train()
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("option, value, message", [
    ("--lr", "-0.002", "argument --lr: must be a number in (0, 1], got -0.002; the peak learning rate of Adam"),
    ("--lr", "1e6", "argument --lr: must be a number in (0, 1], got 1000000.0"),
    ("--lr", "nan", "argument --lr: must be a number in (0, 1], got nan"),
    ("--lr", "inf", "argument --lr: must be a number in (0, 1], got inf"),
    ("--clip-norm", "0", "argument --clip-norm: must be a number > 0, got 0.0; leave the option out"),
    ("--weight-decay", "-1", "argument --weight-decay: must be a number >= 0, got -1.0"),
    ("--checkpoint-every", "-1", "argument --checkpoint-every: must be an integer >= 0, got -1"),
    ("--augment-shift", "-3", "argument --augment-shift: must be an integer in [0, 27], got -3"),
    ("--augment-drop", "1.5", "argument --augment-drop: must be a number in [0, 1], got 1.5"),
    ("--epochs", "0", "argument --epochs: must be an integer >= 1, got 0"),
    ("--batch-size", "0", "argument --batch-size: must be an integer >= 1, got 0"),
    ("--steps", "-5", "argument --steps: must be an integer >= 1, got -5"),
])
def test_bad_numeric_option_exits_2_with_what_is_allowed(capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--dataset", "mnist", option, value])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=-0.002), r"train: lr must be a number in \(0, 1\], got -0.002"),
    (dict(lr=float("nan")), r"train: lr must be a number in \(0, 1\], got nan"),
    (dict(lr=1e6), r"train: lr must be a number in \(0, 1\], got 1000000.0"),
    (dict(clip_norm=0.0), r"train: clip_norm must be a number > 0, got 0.0; .* None turns clipping off"),
    (dict(weight_decay=-1.0), r"train: weight_decay must be a number >= 0, got -1.0"),
    (dict(augment_shift=-3), r"train: augment_shift must be an integer in \[0, 27\], got -3"),
    (dict(augment_drop=-0.1), r"train: augment_drop must be a number in \[0, 1\], got -0.1"),
    (dict(epochs=0), r"train: epochs must be an integer >= 1, got 0"),
    (dict(batch_size=2.5), r"train: batch_size must be an integer >= 1, got 2.5"),
    (dict(seed=-1), r"train: seed must be an integer in \[0, 4294967295\], got -1"),
    (dict(model={"checkpoint_every": -1}), r"spiceprop model: checkpoint_every must be an integer >= 1, got -1"),
])
def test_bad_numeric_setting_in_train_is_a_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        train("spiceprop", "mnist", progress=False, **kwargs)


# --------------------------------------------------------------------------------------------
# E: what the user sees while training
# --------------------------------------------------------------------------------------------


def test_test_accuracy_of_every_epoch_is_shown_with_the_bar_on(tmp_path, capsys):
    assert main(["train", "--dataset", "mnist", *TINY, "--epochs", "2", "--out", str(tmp_path / "r")]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1", "epoch 2"]
    assert all("test accuracy" in line for line in lines)
    assert "epoch 1/2" in captured.err and "test_acc=" in captured.err.split("epoch 2/2")[0]


def test_ctrl_c_in_process_says_how_to_resume(tmp_path, capsys, monkeypatch):
    def interrupt(row):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_print_epoch", interrupt)
    out = tmp_path / "r"
    # 2 epochs: the step of the 2-epoch run above (the cosine schedule's length is compiled in).
    assert main(["train", "--dataset", "mnist", *TINY, "--epochs", "2", "--no-progress", "--out", str(out)]) == 130
    assert one_line(capsys.readouterr().err.splitlines()[-1]) == (
        f"memsnn train: stopped at epoch 1 (epoch 1 is saved); resume with: memsnn train --resume --out {out}")


def test_ctrl_c_during_a_real_run(tmp_path):
    # pytest-xdist workers ignore SIGINT and a child inherits that (Python then installs no
    # KeyboardInterrupt handler), so the child puts Python's handler back before running the CLI.
    start = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
             "runpy.run_module('memsnn.cli', run_name='__main__')")
    proc = subprocess.Popen([sys.executable, "-u", "-c", start, "train", "--dataset", "mnist",
                             "--train-subset", "400", "--test-subset", "20", "--batch-size", "20", "--steps",
                             "30", "--hidden", "8", "--epochs", "100", "--out", str(tmp_path / "r")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()  # "epoch 1: ..." once the first epoch is saved
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert first.startswith("epoch 1:") and proc.returncode == 130
    assert "Traceback" not in err
    assert f"resume with: memsnn train --resume --out {tmp_path / 'r'}" in err.splitlines()[-1]
    assert read_checkpoint_header(tmp_path / "r" / CHECKPOINT_NAME)["epoch"] >= 1


def test_unstable_training_names_cli_options_and_leaves_no_traceback(tmp_path):
    # A subprocess: the whole of stderr counts, up to and including the interpreter's exit.
    proc = subprocess.run([sys.executable, "-m", "memsnn.cli", "train", "--dataset", "mnist", *TINY, "--epochs", "1",
                           "--no-progress", "--drive-limit", "0", "--drive-scale", "1", "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    message = one_line(proc.stderr.split("pass --data full for the complete dataset.")[1])
    assert "training diverged at epoch 1, step 1: the explicit integrator became unstable" in message
    assert "--drive-limit" in message and "nothing was saved" in message


# --------------------------------------------------------------------------------------------
# G: memsnn simulate writes the trace
# --------------------------------------------------------------------------------------------


def test_simulate_writes_npz_json_csv_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "v.npz"
    args = ["simulate", "--amplitude", "0.01", "--steps", "200", "--events", "0", "100", "--out", str(out)]
    assert main([*args, "--csv"]) == 0
    data = np.load(out)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert data["membrane_potential_mV"].shape == (200,) and data["time_ms"][0] == pytest.approx(0.01)
    assert meta["amplitude_mA"] == 0.01 and meta["event_steps"] == [0, 100] and meta["solver"] == "spiceprop"
    table = np.loadtxt(out.with_suffix(".csv"), delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 1], data["membrane_potential_mV"], rtol=1e-8)
    # The same neuron through the Python API.
    stim = memsnn.Impulses(np.full((1, 2, 1), 0.01 * memsnn.presets.MILLIAMP), (0, 100))
    trace = memsnn.simulate(memsnn.presets.spiceprop_neuron_network(1), stim, dt=memsnn.presets.SPICEPROP_DT,
                            n_steps=200, solver=memsnn.SpicepropEuler())
    np.testing.assert_allclose(data["membrane_potential_mV"],
                               np.asarray(trace.membrane_potential[0])[0, :, 0] / memsnn.presets.MILLIVOLT, rtol=1e-12)
    capsys.readouterr()
    assert main(args) == 2
    assert "already exist" in capsys.readouterr().err and "--overwrite" in capsys.readouterr().err + "--overwrite"
    assert main([*args, "--overwrite"]) == 0


def test_simulate_plot_without_matplotlib_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert main(["simulate", "--out", str(tmp_path / "v.npz"), "--plot", str(tmp_path / "v.png")]) == 2
    assert "pip install 'memsnn[bench]'" in one_line(capsys.readouterr().err)
    assert not (tmp_path / "v.npz").exists()


def test_simulate_instability_names_cli_options(tmp_path, capsys):
    assert main(["simulate", "--amplitude", "0.1", "--out", str(tmp_path / "v.npz")]) == 1
    message = one_line(capsys.readouterr().err)
    assert "unstable" in message and "--solver euler --substeps 8" in message
    assert main(["simulate", "--amplitude", "0.1", "--solver", "euler", "--substeps", "8",
                 "--out", str(tmp_path / "v.npz")]) == 0


# --------------------------------------------------------------------------------------------
# H: nothing lost (issue 26): one run per folder, no resume over a log, altered files detected,
# saves within an epoch
# --------------------------------------------------------------------------------------------

HOLD = ("import sys, time; from memsnn.training.runlock import run_lock\n"
        "with run_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(600)")


def test_a_second_run_into_a_folder_in_use_is_refused_and_a_killed_runs_lock_is_taken_over(tiny_run, tmp_path,
                                                                                            capsys):
    import os
    import socket

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = {name: (run / name).read_bytes() for name in (CHECKPOINT_NAME, METRICS_NAME)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        capsys.readouterr()
        started = time.perf_counter()
        assert main(["train", "--resume", "--out", str(run), "--epochs", "2", "--no-progress"]) == 2
        assert time.perf_counter() - started < 10  # refused at once, before any data or compilation
        message = one_line(capsys.readouterr().err)
        assert f"{run} is in use by another run (PID {holder.pid} on host {socket.gethostname()}, started " in message
        assert "nothing was changed" in message and "--out DIR" in message
        assert {name: (run / name).read_bytes() for name in before} == before
        with pytest.raises(memsnn.training.RunLockedError, match=f"PID {holder.pid}"):
            train("spiceprop", out_dir=run, resume=True, progress=False)
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # kill -9: the lock file stays, its lock does not
        holder.wait()
    assert (run / ".memsnn-run.lock").exists()
    assert main(["train", "--resume", "--out", str(run), "--epochs", "2", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"locked by a run that ended without releasing it (PID {holder.pid} on host" in err
    assert read_checkpoint_header(run / CHECKPOINT_NAME)["epoch"] == 2
    assert not (run / ".memsnn-run.lock").exists()


def test_resume_of_a_folder_with_a_log_but_no_checkpoint_keeps_the_log(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    log = b'{"epoch": 1, "test_acc": 0.5}\n'
    (run / METRICS_NAME).write_bytes(log)
    assert main(["train", "--dataset", "mnist", *TINY, "--resume", "--out", str(run), "--no-progress"]) == 2
    message = capsys.readouterr().err.splitlines()[-1]
    assert "holds a training log (1 line(s) of metrics.jsonl) but no checkpoint, so there is nothing to resume" in message
    assert "--overwrite instead of --resume" in message and "starting a new run" not in message
    assert (run / METRICS_NAME).read_bytes() == log and sorted(p.name for p in run.iterdir()) == [METRICS_NAME]


@pytest.mark.parametrize("old, new", [
    (b'"n_steps": 30', b'"n_steps": 60'),  # SPICEprop's time steps
    (b'"drive_scale": 0.0078125', b'"drive_scale": 0.015625'),  # SPICEprop's drive scale
    (b'"dataset": "mnist"', b'"dataset": "fashion-mnist"'),  # the dataset name
])
def test_an_altered_setting_in_the_header_is_reported_as_damage(tiny_run, tmp_path, capsys, old, new):
    checkpoint = tmp_path / CHECKPOINT_NAME
    raw = (tiny_run / CHECKPOINT_NAME).read_bytes()
    assert raw.count(old) == 1
    checkpoint.write_bytes(raw.replace(old, new))
    capsys.readouterr()
    assert main(["evaluate", str(checkpoint)]) == 2
    message = one_line(capsys.readouterr().err)
    # The same length: the checksum does not match; another length: the size does not.
    assert "is damaged: " in message and ("an edited setting in its header" in message or "altered" in message)


@pytest.mark.parametrize("method, setting, old, new", [
    ("conversion", "levels", 8, 4),  # a conversion's QCFS levels
    ("stdp", "theta_plus", 5e-05, 6e-05),  # STDP's threshold increase (the same length)
])
def test_an_altered_setting_of_other_methods_is_damage(tmp_path, method, setting, old, new):
    from memsnn.training import CheckpointError, get_method, load_trained, save_checkpoint

    spec = get_method(method)
    config = {"method": method, "model": spec.complete_config({"n_neurons": 4} if method == "stdp" else {})}
    assert config["model"][setting] == old
    net = spec.build(config["model"], key=jax.random.key(0))
    path = save_checkpoint(tmp_path / CHECKPOINT_NAME, net, None, {"config": config, "epoch": 1})
    assert load_trained(path)[1]["config"] == json.loads(json.dumps(config))
    raw = path.read_bytes()
    text = f'"{setting}": {json.dumps(old)}'.encode()
    assert raw.count(text) == 1
    path.write_bytes(raw.replace(text, f'"{setting}": {json.dumps(new)}'.encode()))
    with pytest.raises(CheckpointError, match="an edited setting in its header"):
        load_trained(path)


def test_stdp_saves_within_an_epoch_and_resumes_to_the_same_numbers(tmp_path, monkeypatch):
    from memsnn.training import loop

    run = dict(train_subset=40, test_subset=10, batch_size=10, save_every=20, progress=False,
               model={"n_neurons": 6, "t_image": 0.02})
    whole = train("stdp", "mnist", out_dir=tmp_path / "whole", **run)
    make_step, calls = loop.make_step, []

    def killed_at_the_third_step(*args, **kwargs):
        step = make_step(*args, **kwargs)

        def run_step(*a, **k):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt  # as if killed: the save after image 20 is the last one
            return step(*a, **k)

        return run_step

    monkeypatch.setattr(loop, "make_step", killed_at_the_third_step)
    with pytest.raises(memsnn.training.TrainingInterrupted):
        train("stdp", "mnist", out_dir=tmp_path / "part", **run)
    monkeypatch.undo()
    header = read_checkpoint_header(tmp_path / "part" / CHECKPOINT_NAME)
    assert header["epoch"] == 0 and header["partial"]["epoch"] == 1 and header["partial"]["images"] == 20
    resumed = train("stdp", "mnist", out_dir=tmp_path / "part", resume=True, progress=False)
    for a, b in zip(jax.tree.leaves(whole.model), jax.tree.leaves(resumed.model)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    drop = ("epoch_time_s", "train_time_s", "cpu_time_s", "peak_rss_mb")
    assert [{k: v for k, v in row.items() if k not in drop} for row in resumed.history] == \
           [{k: v for k, v in row.items() if k not in drop} for row in whole.history]
    assert "partial" not in read_checkpoint_header(tmp_path / "part" / CHECKPOINT_NAME)


# --------------------------------------------------------------------------------------------
# I: every option that does not apply, and every unclear case of the probe, answered clearly
# (issue 26). One table: the command, its exit status, what its last line of stderr says.
# --------------------------------------------------------------------------------------------

PROBE = [
    # options that do not apply to the chosen method or mode
    ("conversion --crossbar", ["train", "--method", "conversion", "--dataset", "mnist", "--crossbar", "realistic"], 2,
     "--crossbar is an option of --method rstdp, spiceprop, stdp, surrogate, tempotron, not of conversion"),
    ("stdp's deprecated --crossbar-preset without --array crossbar",
     ["train", "--method", "stdp", "--dataset", "mnist", "--crossbar-preset", "realistic"], 2,
     "crossbar_preset='realistic' applies to array='crossbar'"),
    ("--data-dir with bundled data (warned) and --t-image below one step",
     ["train", "--method", "stdp", "--dataset", "mnist", "--data-dir", "/nowhere", "--t-image", "1e-4"], 2,
     "t_image=0.0001 s is shorter than one time step dt=0.0005 s"),
    ("surrogate --window in continuous mode", ["train", "--method", "surrogate", "--dataset", "mnist", "--window", "5"],
     2, "window=5 applies to integration='discontinuous'"),
    ("evaluate --t-read without --crossbar", ["evaluate", "{run}", "--t-read", "2"], 2,
     "--t-read describe(s) the chip of --crossbar PRESET"),
    ("evaluate --chip without --crossbar", ["evaluate", "{run}", "--chip", "3"], 2, "--chip describe(s) the chip"),
    ("evaluate --drift-compensation without --crossbar", ["evaluate", "{run}", "--drift-compensation"], 2,
     "--drift-compensation describe(s) the chip"),
    ("evaluate --energy with --crossbar", ["evaluate", "{run}", "--energy", "--crossbar", "realistic"], 2,
     "they are separate evaluations"),
    ("simulate --out an existing folder", ["simulate", "--out", "{tmp}"], 2, "is a folder; give a file name"),
    # unclear answers
    ("huge --seed", ["train", "--dataset", "mnist", "--seed", "99999999999999999999"], 2,
     "argument --seed: must be an integer in [0, 4294967295]"),
    ("--out a file", ["train", "--dataset", "mnist", "--out", "{tmp}/file"], 2, "is a file; give a folder"),
    ("--out under a file", ["train", "--dataset", "mnist", "--out", "{tmp}/file/run"], 2,
     "is a file, so the folder cannot be created"),
    ("--t-read 1e300", ["evaluate", "{run}", "--crossbar", "realistic", "--t-read", "1e300"], 2,
     "argument --t-read: must be a number in [0, 3.2e+09]"),
    ("evaluate a folder without a checkpoint", ["evaluate", "{tmp}"], 2, "is a folder without a checkpoint.eqx"),
    ("an absurd drive: no sub-step advice", ["simulate", "--amplitude", "1000", "--steps", "50", "--events", "0",
                                             "--out", "{tmp}/v.npz"], 1, "far beyond the MIF neuron's range"),
    ("an impulse after the last step", ["simulate", "--steps", "50", "--out", "{tmp}/v.npz"], 2,
     "--events 400 800 lie(s) beyond the last step of --steps 50"),
    ("--plot into a missing folder", ["simulate", "--out", "{tmp}/v.npz", "--plot", "{tmp}/missing/v.png"], 2,
     "the folder {tmp}/missing of --plot does not exist"),
]


@pytest.mark.parametrize("argv, status, message", [case[1:] for case in PROBE], ids=[case[0] for case in PROBE])
def test_probe_cases_are_answered_clearly(tiny_run, tmp_path, capsys, argv, status, message):
    (tmp_path / "file").write_text("not a folder")
    fill = {"run": str(tiny_run / CHECKPOINT_NAME), "tmp": str(tmp_path)}
    argv = [a.format(**fill) for a in argv]
    capsys.readouterr()
    try:
        got = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        got = exit_.code
    err = capsys.readouterr().err
    assert got == status, err
    assert message.format(**fill) in err.strip().splitlines()[-1]
    assert "Traceback" not in err
    if "--data-dir" in argv:
        assert "warning: --data-dir /nowhere is not used: it is read with --data full only" in err
    assert not (tmp_path / "v.npz").exists()  # nothing written before the error


def test_evaluate_takes_a_run_folder_and_shows_progress(tiny_run, capsys):
    assert main(["evaluate", str(tiny_run)]) == 0
    captured = capsys.readouterr()
    assert f"{tiny_run / CHECKPOINT_NAME} (epoch 1): test accuracy" in captured.out
    assert "evaluating" in captured.err  # the progress bar


def test_a_step_that_would_not_fit_is_refused_before_it_runs(tmp_path, capsys, monkeypatch):
    from memsnn.training import loop

    monkeypatch.setattr(loop, "free_memory_bytes", lambda device: 1000)
    assert main(["train", "--dataset", "mnist", *TINY, "--epochs", "1", "--no-progress",
                 "--out", str(tmp_path / "r")]) == 2
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert "this run does not fit in memory: one training step at batch size 20 needs about" in message
    assert "nothing was run" in message and "--batch-size" in message
    # SPICEprop's readout gradient is in forward mode here (no --train-device): it keeps no time steps,
    # so --checkpoint-every would not help and is not offered.
    assert "checkpoint" not in message
    assert "diverged" not in message


@pytest.mark.parametrize("method, offered", [("spiceprop", False), ("surrogate", True)])
def test_running_out_of_memory_in_the_cli_names_the_options_that_help(method, offered, tmp_path, capsys,
                                                                       monkeypatch):
    import memsnn.training
    from memsnn.training.loop import OutOfMemory

    def oom(*args, **kwargs):
        raise OutOfMemory(3, "", "RESOURCE_EXHAUSTED: Out of memory")

    monkeypatch.setattr(memsnn.training, "train", oom)
    assert main(["train", "--method", method, "--dataset", "mnist", "--no-progress", "--out", str(tmp_path / "r")]) == 1
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert "ran out of memory at step 3 (RESOURCE_EXHAUSTED: Out of memory); use a smaller --batch-size" in message
    assert ("--checkpoint-every K" in message) == offered and "batch_size" not in message


def test_the_memory_errors_offer_checkpoint_every_only_where_it_helps():
    from memsnn.cli import _keeps_time_steps
    from memsnn.training import get_method

    spiceprop, surrogate = get_method("spiceprop"), get_method("surrogate")
    assert not _keeps_time_steps(spiceprop, {})  # forward sensitivities
    assert _keeps_time_steps(spiceprop, {"train_device": True})  # reverse mode, checkpointed
    assert _keeps_time_steps(surrogate, {})
    assert not _keeps_time_steps(get_method("stdp"), {})


def test_running_out_of_memory_is_not_divergence():
    from memsnn.training.loop import OutOfMemory, _checked

    def oom():
        raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 191 GiB.")

    with pytest.raises(OutOfMemory, match=r"ran out of memory at step 3 \(RESOURCE_EXHAUSTED.*smaller batch_size"):
        _checked(oom, lambda step, reason: AssertionError("reported as divergence"), 3)


def test_simulate_help_names_the_csv_columns_it_writes(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    assert "time_ms, membrane_potential_mV, synaptic_current_mA" in " ".join(capsys.readouterr().out.split())
    assert main(["simulate", "--steps", "20", "--events", "0", "--csv", "--out", str(tmp_path / "v.npz")]) == 0
    assert (tmp_path / "v.csv").read_text().splitlines()[0] == "time_ms,membrane_potential_mV,synaptic_current_mA"


API_PROBE = [
    ("Crossbar with NaN weights", lambda: memsnn.crossbar.Crossbar(np.array([[0.1, np.nan]])), ValueError,
     "weight has 1 NaN or inf entries"),
    ("Crossbar state with negative conductances",
     lambda: memsnn.crossbar.Crossbar(np.ones((2, 3)))(np.ones(3), memsnn.crossbar.Conductances(-np.ones((2, 3)),
                                                                                                np.ones((2, 3)))),
     ValueError, "conductances must be finite and >= 0 S"),
    ("Crossbar input of the wrong length", lambda: memsnn.crossbar.Crossbar(np.ones((2, 3)))(np.ones(4)), ValueError,
     "the input must have 3 entries"),
    ("PairSTDP a_plus < 0", lambda: memsnn.plasticity.PairSTDP(2, a_plus=-0.01), ValueError,
     "a_plus must be a finite amplitude >= 0"),
    ("PairSTDP a_plus NaN", lambda: memsnn.plasticity.PairSTDP(2, a_plus=float("nan")), ValueError,
     "a_plus must be a finite amplitude >= 0"),
    ("Dense.uniform(-3, 4)", lambda: memsnn.Dense.uniform(-3, 4, key=jax.random.key(0)), ValueError,
     "n_in must be a positive integer (a layer size), got -3"),
    ("to_nir(SurrogateNet)", lambda: memsnn.export.to_nir(memsnn.training.surrogate.build_surrogate(
        {"hidden": [4]}, key=jax.random.key(0)), dt=1.0), TypeError, "pass model.network()"),
]


@pytest.mark.parametrize("make, error, message", [case[1:] for case in API_PROBE], ids=[case[0] for case in API_PROBE])
def test_api_constructors_check_their_documented_ranges(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()


def test_a_checkpoint_goes_to_nir_and_back_with_the_same_spikes(tmp_path):
    # README: from a checkpoint to NIR: load_trained(path) -> model.network() -> to_nir.
    pytest.importorskip("nir")
    from memsnn.export import from_nir, to_nir
    from memsnn.training import get_method, load_trained, save_checkpoint

    spec = get_method("surrogate")
    config = {"method": "surrogate", "model": spec.complete_config({"hidden": [12], "n_steps": 10, "reset": "zero"})}
    net = spec.build(config["model"], key=jax.random.key(0))
    net = eqx.tree_at(lambda m: m.arrays, net, tuple(eqx.tree_at(lambda a: a.weight, a, a.weight * 4.0)
                                                      for a in net.arrays))  # trained-like: every layer fires
    path = save_checkpoint(tmp_path / CHECKPOINT_NAME, net, None, {"config": config, "epoch": 1})
    model, _ = load_trained(path)
    network = from_nir(to_nir(model.network(), dt=1.0), dt=1.0)
    images = jnp.asarray(np.random.default_rng(0).random((3, 784)), jnp.float32)
    ours, _ = model.run(images)
    theirs = memsnn.simulate(network, memsnn.Current(images), dt=1.0, n_steps=10, record="spikes").spikes
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert float(np.mean(np.asarray(ours[0]))) > 0.01


def test_evaluate_of_a_conversion_says_whether_the_ann_or_the_snn_was_tested():
    assert cli._tested({"method": "conversion", "n_steps": None}) == (
        ", the trained ANN; --steps T tests the converted SNN")
    assert cli._tested({"method": "conversion", "n_steps": 32}) == ", the converted SNN at 32 time steps"
    assert cli._tested({"method": "spiceprop", "n_steps": 1000}) == ""
