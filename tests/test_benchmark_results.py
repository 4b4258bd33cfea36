"""The benchmarks' results files: none is replaced by a run of another configuration without being
told to (benchmarks/_timing.py), and run folders are held with memsnn's run lock (issue 26)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def timing(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("memsnn_bench_timing", ROOT / "benchmarks" / "_timing.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "RESULTS", tmp_path)
    monkeypatch.delenv(mod.REPLACE_ENV, raising=False)
    return mod


def test_a_result_of_another_configuration_is_not_replaced(timing, tmp_path, monkeypatch):
    path = timing.write_json("r.json", {"accuracy": 0.5}, configuration={"epochs": 1})
    assert json.loads(path.read_text())["configuration"] == {"epochs": 1}
    timing.write_json("r.json", {"accuracy": 0.6}, configuration={"epochs": 1})  # same configuration: refreshed
    assert json.loads(path.read_text())["accuracy"] == 0.6
    with pytest.raises(SystemExit, match="another configuration") as err:
        timing.write_json("r.json", {"accuracy": 0.7}, configuration={"epochs": 2})
    assert "'epochs': 1" in str(err.value) and "'epochs': 2" in str(err.value) and "BENCH_REPLACE" in str(err.value)
    assert json.loads(path.read_text())["accuracy"] == 0.6  # untouched
    assert json.loads((tmp_path / "r.refused.json").read_text())["accuracy"] == 0.7  # the run's result kept
    assert "r.refused.json" in str(err.value)
    # Checked before a long run starts, too.
    with pytest.raises(SystemExit):
        timing.check_result(path, {"epochs": 2})
    monkeypatch.setenv(timing.REPLACE_ENV, "1")
    timing.write_json("r.json", {"accuracy": 0.7}, configuration={"epochs": 2})
    assert json.loads(path.read_text())["accuracy"] == 0.7


def test_results_that_record_only_a_command_compare_commands(timing, tmp_path, capsys):
    old = tmp_path / "c.json"
    old.write_text(json.dumps({"conditions": {"command": "python b.py ideal 128"}}))
    with pytest.raises(SystemExit, match="another command"):
        timing.write_json("c.json", {"command": "python b.py realistic 128"})
    timing.write_json("c.json", {"command": "python b.py ideal 128", "x": 1})
    bare = tmp_path / "b.json"
    bare.write_text("{}")
    timing.write_json("b.json", {"x": 2})  # nothing to compare: replaced, and said so
    assert "replacing" in capsys.readouterr().err


def test_a_benchmark_run_folder_is_held_by_the_run_lock(timing, tmp_path):
    folder = tmp_path / "run"
    with timing.run_folder(folder):
        assert (folder / ".memsnn-run.lock").exists()
        other = subprocess.run(
            [sys.executable, "-c", "import sys; from memsnn.training.runlock import run_lock\n"
             "with run_lock(sys.argv[1]): pass", str(folder)],
            capture_output=True, text=True, cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
        assert other.returncode != 0 and "in use by another run" in other.stderr
    assert not (folder / ".memsnn-run.lock").exists()
