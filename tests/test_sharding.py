"""Data-parallel training over a mesh: 8 simulated CPU devices and two processes joined by
jax.distributed give the numbers of one device; checkpoints are written once (by process 0) and
resume on another number of devices.

The multi-device runs are subprocesses (the device count is fixed when JAX starts); the
one-device references run here. The 8-device run trains a tiny SPICEprop network (6 inputs, 3 MIF
neurons, 20 steps, float64), so the whole simulate -> loss -> gradient -> Adam path is sharded;
the two-process run a softmax classifier (its subject is the distributed machinery, and it
compiles in a fraction of the time).
"""

import json
import os
import re
import socket
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memsnn.training import CHECKPOINT_NAME, METRICS_NAME, GradientLearner, fit, make_optimizer
from memsnn.training.spiceprop import (
    SpicepropConfig,
    build_spiceprop,
    spiceprop_loss,
    spiceprop_predict,
    spiceprop_trainable,
)

from _models import Softmax, softmax_loss, softmax_predict  # noqa: E402  (tests/ is on sys.path)

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCHS, BATCH = 2, 16


def blobs(n, seed):
    centres = np.random.default_rng(123).normal(size=(3, 6)) * 2
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.int32)
    return np.abs(centres[y] + rng.normal(size=(n, 6))), y


def run(model: str, out_dir=None, *, devices=None, batch_size=BATCH, **kwargs):
    """2 epochs of 96 samples in batches of 16 (12 Adam steps), 40 test samples, after each epoch."""
    if model == "spiceprop":
        # unroll=1: the step once per compiled loop body (the default, 5, compiles it 5 times).
        net = build_spiceprop(SpicepropConfig(n_inputs=6, hidden=(), n_classes=3, n_steps=20,
                                              checkpoint_every=None, unroll=1, dtype="float64"), key=jax.random.key(0))
        learner = GradientLearner(spiceprop_loss, spiceprop_predict, make_optimizer(0.05, total_steps=12),
                                  spiceprop_trainable(net))
    else:
        net = Softmax(6, 3, jax.random.key(0))
        learner = GradientLearner(softmax_loss, softmax_predict, make_optimizer(0.05, total_steps=12))
    return fit(net, learner, blobs(96, 0), blobs(40, 1), epochs=EPOCHS, batch_size=batch_size, out_dir=out_dir,
               progress=False, devices=devices, **kwargs)


def unstable_failures() -> list[str]:
    """What ``fit`` and ``evaluate`` raise for a SPICEprop readout driven far past Euler's stability
    bound (0.8 mA impulses, no drive limit), on whatever devices there are."""
    from memsnn.training import TrainingDiverged, evaluate

    net = build_spiceprop(SpicepropConfig(n_inputs=6, hidden=(), n_classes=3, n_steps=20, drive_limit=None,
                                          drive_scale=1.0, unroll=1, dtype="float64"), key=jax.random.key(0))
    learner = GradientLearner(spiceprop_loss, spiceprop_predict, make_optimizer(0.05, total_steps=1),
                              spiceprop_trainable(net))
    x, y = blobs(16, 0)
    messages = []
    try:
        fit(net, learner, (100 * x, y), epochs=1, batch_size=16, progress=False)
    except TrainingDiverged as err:
        messages.append(f"{err} | {err.__cause__}")
    try:
        evaluate(spiceprop_predict, net, 100 * x, y, batch_size=16)
    except Exception as err:  # equinox's runtime error, with simulate's message
        messages.append(f"{type(err).__name__}: {err}")
    return messages


def summary(result) -> dict:
    """What must agree between device counts: the parameters and the logged metrics."""
    return {"params": [np.asarray(x).tolist() for x in jax.tree.leaves(eqx.filter(result.model, eqx.is_inexact_array))],
            "history": [{k: row[k] for k in ("epoch", "train_loss", "train_acc", "test_acc")} for row in result.history]}


_EIGHT_DEVICES = """
import json, sys
import jax
jax.config.update("jax_enable_x64", True)
sys.path.insert(0, sys.argv[1])
import test_sharding as t
assert len(jax.devices()) == 8
result = t.summary(t.run("spiceprop"))
try:
    t.run("spiceprop", batch_size=12)
    error = None
except ValueError as err:
    error = str(err)
# A failing simulation on a batch split over 8 devices: memsnn's message, not an abort in the
# gradient all-reduce (one device raising while the others wait for it).
failures = t.unstable_failures()
hlo = t.spiceprop_loss_hlo()
loop_collectives = t.collectives_in_time_loops(hlo)
print(json.dumps({**result, "error": error, "failures": failures, "loop_collectives": loop_collectives,
                  "loops": hlo.count(" while(")}))
"""

_DISTRIBUTED = """
import json, sys
pid, port, out = int(sys.argv[2]), sys.argv[3], sys.argv[4]
from memsnn.training import initialize_distributed
initialize_distributed(f"localhost:{port}", 2, pid, cpu_devices=2)
import jax
jax.config.update("jax_enable_x64", True)
sys.path.insert(0, sys.argv[1])
import test_sharding as t
assert len(jax.devices()) == 4 and len(jax.local_devices()) == 2
result = t.run("softmax", out, stop_after_epochs=1)  # epoch 1 of 2, on 4 devices in 2 processes
print(json.dumps({**t.summary(result), "process": jax.process_index()}))
"""


def _cpu_env(xla_flags: str = "", **extra):
    # JAX_PLATFORMS=cpu: on a machine with a GPU, the devices would be the GPU. xla_flags join the
    # inherited XLA_FLAGS (the suite's compile settings, tests/conftest.py).
    env = {**os.environ, "JAX_PLATFORMS": "cpu", **extra}
    if xla_flags:
        env["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {xla_flags}".strip()
    return env


def _last_json(text: str) -> dict:
    # gloo prints its own lines to stdout; the result is the last one.
    return json.loads(text.strip().splitlines()[-1])


def _assert_same(multi: dict, one: dict) -> None:
    # Only the order of the sums over the batch differs (per device, then across devices).
    for a, b in zip(multi["params"], one["params"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    for a, b in zip(multi["history"], one["history"], strict=True):
        assert (a["epoch"], a["train_acc"], a["test_acc"]) == (b["epoch"], b["train_acc"], b["test_acc"])
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-9)


def _one_device():
    return jax.devices("cpu")[:1]


_COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")


def collectives_in_time_loops(hlo: str) -> list[str]:
    """The collective operations inside the while-loop bodies of an optimised HLO module's text.

    Data parallelism must leave the time loop without any: one collective per step is a rendezvous
    of all devices per step (on 2 CPU devices it made a SPICEprop step slower than on one).
    """
    bodies, name, found = set(re.findall(r"body=%?([\w.\-]+)", hlo)), None, []
    for line in hlo.splitlines():
        head = re.match(r"^(?:ENTRY )?%?([\w.\-]+) .*\{$", line)
        if head and not line.startswith(" "):
            name = head.group(1)
        elif line.startswith("}"):
            name = None
        elif name in bodies and any(f" {op}(" in line or f" {op}-start(" in line for op in _COLLECTIVES):
            found.append(f"{name}: {line.strip()[:120]}")
    return found


def spiceprop_loss_hlo() -> str:
    """The optimised HLO of a SPICEprop loss on a batch sharded over all devices (100 steps, one
    per loop iteration, so that the time loop stays a loop)."""
    from memsnn.training.sharding import data_mesh, shard_batch

    net = build_spiceprop(SpicepropConfig(n_inputs=6, hidden=(), n_classes=3, n_steps=100, unroll=1,
                                          checkpoint_every=None, dtype="float64"), key=jax.random.key(0))
    images, labels = shard_batch(data_mesh(), *blobs(16, 0))
    loss = jax.jit(lambda n, x, y: spiceprop_loss(n, x, y, throw=False)[0])
    return loss.lower(net, images, labels).compile().as_text()


def test_eight_devices_train_a_spiceprop_network_as_one_device():
    proc = subprocess.run([sys.executable, "-c", _EIGHT_DEVICES, HERE], capture_output=True, text=True,
                          env=_cpu_env(xla_flags="--xla_force_host_platform_device_count=8"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    eight = _last_json(proc.stdout)
    _assert_same(eight, summary(run("spiceprop", devices=_one_device())))
    # The time loop stays sharded: no trace is gathered onto one device (XLA warns when it must,
    # e.g. for an error check whose callback would receive the whole membrane trace).
    assert "Involuntary full rematerialization" not in proc.stderr
    training, evaluation = eight["failures"]
    assert "Training diverged at epoch 1, step 1" in training and "explicit integrator is unstable" in training
    assert evaluation.startswith("EquinoxRuntimeError") and "explicit integrator is unstable" in evaluation
    # The batch stays split inside the time loop: no collective per step (the mean loss is
    # reduced over the devices after the loop).
    assert eight["loops"] > 0 and eight["loop_collectives"] == []
    assert eight["error"].startswith("the batch size 12 does not split evenly over the 8 cpu devices; "
                                     "choose a batch size that is a multiple of 8 (e.g. 16)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_joined_by_jax_distributed_write_once_and_resume_on_one_device(tmp_path):
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, "-c", _DISTRIBUTED, HERE, str(pid), str(port), str(tmp_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_cpu_env())
             for pid in (0, 1)]
    outputs = [p.communicate(timeout=180) for p in procs]
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    first, second = (_last_json(out) for out, _ in outputs)
    assert (first["process"], second["process"]) == (0, 1)
    assert first["params"] == second["params"]  # every process holds the whole (replicated) model
    # Written once, by process 0: one log line for the epoch, not one per process.
    assert [json.loads(line)["epoch"] for line in (tmp_path / METRICS_NAME).read_text().splitlines()] == [1]
    # Epoch 2 here, on one device, from the checkpoint the 4 devices wrote: the one-device run.
    resumed = run("softmax", tmp_path, resume=True, devices=_one_device())
    whole = summary(run("softmax", devices=_one_device()))
    _assert_same(first, {"params": first["params"], "history": whole["history"][:1]})
    _assert_same(summary(resumed), whole)
    assert (tmp_path / CHECKPOINT_NAME).is_file()
