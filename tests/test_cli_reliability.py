"""What a user of the ``memsnn`` command meets: no lost runs, no tracebacks, clear messages (issue 16).

One tiny SPICEprop run (40 images, 30 steps, 8 hidden units) is trained once per module and copied
where a test needs a run folder.
"""

import json
import shutil
import signal
import subprocess
import sys
import time

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
    start = raw.index(b"\n", raw.index(b"\n") + 1) + 1  # in the weights, after the header
    for i in np.random.default_rng(0).choice(np.arange(start, len(raw)), 400, replace=False):
        data[i] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize("damage, problem", [
    (_truncate_half, "is damaged: truncated"),
    (_flip_400_bytes, "is damaged: the SHA-256 checksum of its weights does not match"),
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
    (dict(epochs=0), r"train: epochs must be an integer >= 1, got 0"),
    (dict(batch_size=2.5), r"train: batch_size must be an integer >= 1, got 2.5"),
    (dict(seed=-1), r"train: seed must be an integer >= 0, got -1"),
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
    assert main(["train", "--dataset", "mnist", *TINY, "--epochs", "3", "--no-progress", "--out", str(out)]) == 130
    assert one_line(capsys.readouterr().err.splitlines()[-1]) == (
        f"memsnn train: stopped at epoch 1 (epoch 1 is saved); resume with: memsnn train --resume --out {out}")


def test_ctrl_c_during_a_real_run(tmp_path):
    # pytest-xdist workers ignore SIGINT and a child inherits that (Python then installs no
    # KeyboardInterrupt handler), so the child puts Python's handler back before running the CLI.
    start = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
             "runpy.run_module('memsnn.cli', run_name='__main__')")
    proc = subprocess.Popen([sys.executable, "-u", "-c", start, "train", "--dataset", "mnist",
                             "--train-subset", "400", "--test-subset", "20", "--batch-size", "20", "--steps",
                             "300", "--hidden", "8", "--epochs", "100", "--out", str(tmp_path / "r")],
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
