"""Checkpoint format (version, checksum, atomic writes, permissions) and the learner protocol of fit."""

import hashlib
import io
import json
import os
import stat

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import memsnn.training
from memsnn.training import (
    CHECKPOINT_NAME,
    AbstractLearner,
    CheckpointError,
    fit,
    load_checkpoint,
    read_checkpoint_header,
    save_checkpoint,
)
from memsnn.training.checkpoint import CHECKPOINT_VERSION, checkpoint_version


from _models import Softmax  # noqa: E402  (tests/ is on sys.path)


def model():
    return Softmax(60, 10, jax.random.key(0))  # 610 parameters: 4,880 bytes of float64 payload


def written(tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    save_checkpoint(path, model(), None, {"epoch": 3, "config": {"method": "x"}})
    return path


def test_format_has_magic_version_and_checksum_of_header_and_weights(tmp_path):
    raw = written(tmp_path).read_bytes()
    magic, check, body = raw.split(b"\n", 2)
    assert magic == f"memsnn-checkpoint {CHECKPOINT_VERSION}".encode() and CHECKPOINT_VERSION == 3
    assert check == f"sha256 {hashlib.sha256(body).hexdigest()} {len(body)}".encode()
    assert json.loads(body.split(b"\n", 1)[0]) == {"epoch": 3, "config": {"method": "x"}}
    assert checkpoint_version(tmp_path / CHECKPOINT_NAME) == 3
    loaded, _, header = load_checkpoint(tmp_path / CHECKPOINT_NAME, Softmax(60, 10, jax.random.key(1)))
    assert header["epoch"] == 3 and np.array_equal(loaded.weight, model().weight)


def _flip_payload_bytes(raw: bytes, n: int) -> bytes:
    start = raw.index(b"\n", raw.index(b"\n", raw.index(b"\n") + 1) + 1) + 1
    data = bytearray(raw)
    for i in np.random.default_rng(0).choice(np.arange(start, len(raw)), n, replace=False):
        data[i] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize("damage, match", [
    (lambda raw: raw[: len(raw) // 2], r"is damaged: truncated or altered: its settings and weights take \d+ bytes, \d+ were"),
    (lambda raw: raw[:60], r"is damaged: truncated inside its header \(the file has only 60 bytes\)"),
    (lambda raw: _flip_payload_bytes(raw, 400), r"is damaged: the SHA-256 checksum of its settings and weights does not"),
    (lambda raw: raw.replace(b'"epoch": 3', b'"epoch": 4', 1), r"does not match .*an edited setting in its header"),
    (lambda raw: b"PK\x03\x04" + raw[4:], r"is not a memsnn checkpoint \(it starts with b'PK"),
    (lambda raw: raw.replace(b"memsnn-checkpoint 3", b"memsnn-checkpoint 4", 1),
     r"has checkpoint format version 4, written by a newer memsnn; memsnn .* reads versions 1 to 3"),
    (lambda raw: raw.replace(b"\nsha256 ", b"\nsha1 ", 1), r"is damaged: its checksum line is garbled"),
    (lambda raw: raw + b"extra", r"is damaged: longer than written \(altered\)"),
])
def test_damaged_checkpoint_gives_one_clear_error(tmp_path, damage, match):
    path = written(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    for read in (lambda: read_checkpoint_header(path), lambda: load_checkpoint(path, model())):
        with pytest.raises(CheckpointError, match=match) as err:
            read()
        assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_version_2_checkpoints_still_load_their_weights_checked(tmp_path):
    # memsnn before the whole file was checksummed: the header held the weights' size and SHA-256.
    path = tmp_path / CHECKPOINT_NAME
    payload = io.BytesIO()
    eqx.tree_serialise_leaves(payload, model())
    eqx.tree_serialise_leaves(payload, None)
    payload = payload.getvalue()
    header = {"epoch": 2, "payload": {"bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}}
    path.write_bytes(b"memsnn-checkpoint 2\n" + json.dumps(header).encode() + b"\n" + payload)
    assert checkpoint_version(path) == 2
    loaded, _, header = load_checkpoint(path, Softmax(60, 10, jax.random.key(1)))
    assert header["epoch"] == 2 and np.array_equal(loaded.weight, model().weight)
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF  # a byte of the weights
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="checksum of its weights does not match"):
        load_checkpoint(path, model())
    # Saved again (a resumed run's next save), it is version 3.
    save_checkpoint(path, loaded, None, header)
    assert checkpoint_version(path) == 3 and "payload" not in read_checkpoint_header(path)


def test_version_1_checkpoints_still_load_and_their_damage_is_named(tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    payload = io.BytesIO()
    eqx.tree_serialise_leaves(payload, model())
    path.write_bytes(b"memsnn-checkpoint 1\n" + json.dumps({"epoch": 2}).encode() + b"\n" + payload.getvalue())
    loaded, _, header = load_checkpoint(path, Softmax(60, 10, jax.random.key(1)))
    assert header["epoch"] == 2 and np.array_equal(loaded.weight, model().weight)
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(CheckpointError, match="does not hold the network its settings describe"):
        load_checkpoint(path, model())


def test_files_follow_the_umask_and_stale_temporaries_are_removed(tmp_path):
    stale = tmp_path / f".{CHECKPOINT_NAME}.deadbeef0000.tmp"  # left by a killed writer
    stale.write_bytes(b"half a model")
    old = os.umask(0o022)
    try:
        path = written(tmp_path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        os.umask(0o077)
        path = written(tmp_path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)
    assert sorted(os.listdir(tmp_path)) == [CHECKPOINT_NAME]


def test_methods_are_listed_not_registered():
    from memsnn.training import methods

    assert sorted(methods.METHODS) == ["conversion", "rstdp", "spiceprop", "spikeprop", "stdp", "surrogate", "tempotron",
                                      "ttfs"]
    assert not hasattr(methods, "register_method") and not hasattr(memsnn.training, "register_method")


# --------------------------------------------------------------------------------------------
# A learner without gradients or optimiser shares fit's checkpoints, resume and logs
# --------------------------------------------------------------------------------------------


class Centroids(eqx.Module):
    means: jax.Array  # (classes, features)


class NearestCentroid(AbstractLearner):
    """Running class means, updated locally from each batch: no loss, no gradient, no optax."""

    n_classes: int = eqx.field(static=True)

    def init(self, model):
        return jnp.zeros(self.n_classes)  # samples seen per class

    def updated(self, model):
        return eqx.is_array

    def step(self, model, state, images, labels, key, *, throw=True):
        onehot = jax.nn.one_hot(labels, self.n_classes, dtype=images.dtype)
        sums, counts = onehot.T @ images, onehot.sum(0)
        total = state + counts
        means = (model.means * state[:, None] + sums) / jnp.maximum(total, 1)[:, None]
        new = Centroids(means)
        return new, total, {"acc": jnp.mean(self.evaluate(new, images, key) == labels)}

    def evaluate(self, model, images, key, *, throw=True):
        return jnp.argmin(jnp.sum((images[:, None, :] - model.means) ** 2, axis=-1), axis=-1)


def blobs(n, seed):
    centres = np.random.default_rng(123).normal(size=(3, 6)) * 2
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.int32)
    return (centres[y] + rng.normal(size=(n, 6))), y


def test_a_learner_without_gradients_trains_checkpoints_and_resumes(tmp_path):
    learner, start = NearestCentroid(3), Centroids(jnp.zeros((3, 6)))
    run = dict(epochs=3, batch_size=16, progress=False)
    whole = fit(start, learner, blobs(96, 0), blobs(60, 1), out_dir=tmp_path / "whole", **run)
    fit(start, learner, blobs(96, 0), blobs(60, 1), out_dir=tmp_path / "part", stop_after_epochs=1, **run)
    stale = tmp_path / "part" / f".{CHECKPOINT_NAME}.0123456789ab.tmp"  # a writer killed mid-write
    stale.write_bytes(b"half")
    resumed = fit(start, learner, blobs(96, 0), blobs(60, 1), out_dir=tmp_path / "part", resume=True, **run)
    assert not stale.exists()
    assert whole.history[-1]["test_acc"] > 0.9 and "train_acc" in whole.history[-1]
    np.testing.assert_array_equal(whole.model.means, resumed.model.means)
    _, counts, header = load_checkpoint(resumed.checkpoint, start, learner.init(start))
    assert header["epoch"] == 3 and float(counts.sum()) == 3 * 96


def test_training_changes_no_jax_configuration(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(jax.config, "update", lambda *args: calls.append(args))
    fit(Centroids(jnp.zeros((3, 6))), NearestCentroid(3), blobs(32, 0), epochs=1, batch_size=16, progress=False)
    assert calls == []
