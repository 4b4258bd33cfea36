"""Tests of memsnn.data: IDX reading, dataset loading/verification/download, bundled subsets, encoders.

Never touches the network: the real files come from ``../shared/data`` (through MEMSNN_DATA_DIR),
and the download path is exercised with a fake URL opener that serves local bytes.
"""

from __future__ import annotations

import gzip
import io
import shutil
import struct
import urllib.error
import urllib.response
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memsnn.data import (
    DatasetError,
    default_cache_dir,
    direct_current,
    impulse_schedule,
    latency,
    load_dataset,
    rate,
    read_idx,
    read_idx_images,
    read_idx_labels,
)
from memsnn.data import datasets as ds
from memsnn.data import _make_bundled
from memsnn.data._make_bundled import make_bundled

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MNIST_TEST_IMAGES = SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz"
MNIST_TEST_LABELS = SHARED_DATA / "mnist" / "t10k-labels-idx1-ubyte.gz"

needs_data = pytest.mark.skipif(
    not MNIST_TEST_IMAGES.is_file(), reason=f"original dataset files not found in {SHARED_DATA}"
)


@pytest.fixture(autouse=True)
def data_env(monkeypatch, tmp_path):
    """Point the loader at the shared files, send the cache to tmp, and forbid real network use."""
    monkeypatch.setenv("MEMSNN_DATA_DIR", str(SHARED_DATA))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))

    def no_network(url):
        raise AssertionError(f"test tried to download {url}")

    monkeypatch.setattr(ds, "_open_url", no_network)


def _idx_bytes(array: np.ndarray) -> bytes:
    magic = {3: 2051, 1: 2049}[array.ndim]
    return struct.pack(">i", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


# --------------------------------------------------------------------------------------------
# IDX reader
# --------------------------------------------------------------------------------------------


def test_read_idx_raw_and_gzip_round_trip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    labels = np.array([3, 7], dtype=np.uint8)
    (tmp_path / "im").write_bytes(_idx_bytes(images))
    (tmp_path / "im.gz").write_bytes(gzip.compress(_idx_bytes(images)))
    (tmp_path / "lb").write_bytes(_idx_bytes(labels))
    for name in ("im", "im.gz"):
        got = read_idx_images(tmp_path / name)
        assert got.dtype == np.uint8 and got.shape == (2, 3, 4)
        np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(read_idx_labels(tmp_path / "lb"), labels)
    np.testing.assert_array_equal(read_idx(tmp_path / "lb"), labels)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b[:-5], "truncated"),
        (lambda b: b[:6], "truncated"),
        (lambda b: b + b"\0\0", "size mismatch"),
        (lambda b: struct.pack(">i", 2049) + b[4:], "wrong magic number 2049"),
        (lambda b: gzip.compress(b)[:-20], "not a valid gzip file"),
        (lambda b: b"\x1f\x8b" + b"garbage" * 10, "not a valid gzip file"),
    ],
    ids=["truncated-data", "truncated-header", "trailing-bytes", "wrong-magic", "cut-gzip", "bad-gzip"],
)
def test_read_idx_rejects_damaged_files(tmp_path, mutate, message):
    path = tmp_path / "images.idx"
    path.write_bytes(mutate(_idx_bytes(np.zeros((3, 28, 28), np.uint8))))
    with pytest.raises(DatasetError, match=message) as info:
        read_idx_images(path)
    assert str(path) in str(info.value)
    assert "MEMSNN_DATA_DIR" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        read_idx(tmp_path / "nope.gz")


@needs_data
def test_corrupted_gzip_copy_of_real_file(tmp_path):
    data = bytearray(MNIST_TEST_LABELS.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="gzip") as info:
        read_idx_labels(path)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------------------------
# Full datasets from MEMSNN_DATA_DIR
# --------------------------------------------------------------------------------------------


@needs_data
@pytest.mark.parametrize(
    "name, first_labels", [("mnist", [7, 2, 1, 0, 4]), ("fashion-mnist", [9, 2, 1, 1, 6])]
)
def test_full_test_sets(name, first_labels):
    images, labels = load_dataset(name, "test", download=False)
    assert images.shape == (10000, 784) and images.dtype == np.float32
    assert labels.shape == (10000,) and labels.dtype == np.int32
    assert images.min() == 0.0 and images.max() == 1.0
    assert labels[:5].tolist() == first_labels
    counts = np.bincount(labels, minlength=10)
    assert counts.sum() == 10000 and len(counts) == 10
    if name == "fashion-mnist":
        assert counts.tolist() == [1000] * 10
    else:
        assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # Pixels are the raw bytes / 255.
    raw = read_idx_images(SHARED_DATA / name / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(images[:3], raw[:3].reshape(3, -1) / np.float32(255))


@needs_data
def test_full_train_size_and_subset():
    images, labels = load_dataset("mnist", "train", download=False)
    assert images.shape == (60000, 784) and labels.shape == (60000,)
    assert np.bincount(labels).sum() == 60000
    sub_x, sub_y = load_dataset("mnist", "train", download=False, subset=100)
    assert sub_x.shape == (100, 784)
    np.testing.assert_array_equal(sub_x, images[:100])
    np.testing.assert_array_equal(sub_y, labels[:100])


@needs_data
def test_explicit_data_dir_overrides_env(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMSNN_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(DatasetError):
        load_dataset("mnist", "test", download=False)
    images, _ = load_dataset("mnist", "test", data_dir=SHARED_DATA, download=False, subset=5)
    assert images.shape == (5, 784)


@needs_data
def test_checksums_verified_once(monkeypatch):
    calls = []
    real = ds._sha256_file
    monkeypatch.setattr(ds, "_verified", {})
    monkeypatch.setattr(ds, "_sha256_file", lambda p: calls.append(p) or real(p))
    load_dataset("mnist", "test", download=False, subset=1)
    assert len(calls) == 2  # images and labels, each hashed and found good
    load_dataset("mnist", "test", download=False, subset=1)
    assert len(calls) == 2  # second load: remembered by path, size, mtime


@needs_data
def test_corrupted_copy_fails_checksum(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for src in (MNIST_TEST_IMAGES, MNIST_TEST_LABELS):
        shutil.copy(src, folder / src.name)
    bad = folder / MNIST_TEST_IMAGES.name
    data = bytearray(bad.read_bytes())
    data[1000] ^= 0x01
    bad.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="SHA-256 mismatch") as info:
        load_dataset("mnist", "test", data_dir=tmp_path, download=False)
    message = str(info.value)
    assert str(bad) in message and "delete it" in message and "MEMSNN_DATA_DIR" in message


@needs_data
def test_truncated_copy_fails_checksum(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    shutil.copy(MNIST_TEST_IMAGES, folder / MNIST_TEST_IMAGES.name)
    (folder / MNIST_TEST_LABELS.name).write_bytes(MNIST_TEST_LABELS.read_bytes()[:100])
    with pytest.raises(DatasetError, match="SHA-256 mismatch") as info:
        load_dataset("mnist", "test", data_dir=tmp_path, download=False)
    assert MNIST_TEST_LABELS.name in str(info.value)


def test_missing_file_without_download_explains(tmp_path):
    (tmp_path / "fashion-mnist").mkdir()
    with pytest.raises(DatasetError) as info:
        load_dataset("fashion-mnist", "train", data_dir=tmp_path, download=False)
    message = str(info.value)
    expected = tmp_path / "fashion-mnist" / "train-images-idx3-ubyte.gz"
    assert str(expected) in message
    assert "data_dir argument" in message
    assert "download=True" in message and "MEMSNN_DATA_DIR" in message and "bundled" in message


@needs_data
def test_uncompressed_idx_files_are_accepted_and_verified(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for src in (MNIST_TEST_IMAGES, MNIST_TEST_LABELS):  # as `gunzip` leaves them
        (folder / src.name.removesuffix(".gz")).write_bytes(gzip.decompress(src.read_bytes()))
    images, labels = load_dataset("mnist", "test", data_dir=tmp_path, download=False)
    reference = load_dataset("mnist", "test", data_dir=SHARED_DATA, download=False)
    np.testing.assert_array_equal(images, reference[0])
    np.testing.assert_array_equal(labels, reference[1])
    raw = folder / "t10k-labels-idx1-ubyte"
    data = bytearray(raw.read_bytes())
    data[100] = (data[100] + 1) % 10  # a changed label is still a well-formed IDX file
    raw.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=f"{raw}: SHA-256 mismatch"):
        load_dataset("mnist", "test", data_dir=tmp_path, download=False)


@needs_data
@pytest.mark.parametrize("via_env", [False, True])
def test_data_dir_one_level_too_deep_is_explained_not_downloaded(tmp_path, monkeypatch, via_env):
    deep = tmp_path / "mnist"  # the user points at the dataset's own folder
    deep.mkdir()
    for src in (MNIST_TEST_IMAGES, MNIST_TEST_LABELS):
        shutil.copy(src, deep / src.name)
    monkeypatch.setattr(ds, "_open_url", lambda url: pytest.fail(f"tried the network: {url}"))
    if via_env:
        monkeypatch.setenv("MEMSNN_DATA_DIR", str(deep))
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist", "test", data_dir=None if via_env else deep, download=True)
    message = str(info.value)
    assert f"expected mnist/ and fashion-mnist/ in {deep}" in message
    assert "found t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz" in message
    assert "one level too deep" in message and f"use its parent {tmp_path.resolve()}" in message
    assert ("MEMSNN_DATA_DIR" if via_env else "--data-dir") in message
    assert sorted(p.name for p in deep.iterdir()) == [MNIST_TEST_IMAGES.name, MNIST_TEST_LABELS.name]


def test_data_dir_without_dataset_folders_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(ds, "_open_url", lambda url: pytest.fail(f"tried the network: {url}"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"expected mnist/ and fashion-mnist/ in .*, found notes.txt\. Put"):
        load_dataset("fashion-mnist", "test", data_dir=tmp_path, download=True)
    with pytest.raises(DatasetError, match=r"the data folder .*missing.* does not exist"):
        load_dataset("fashion-mnist", "test", data_dir=tmp_path / "missing", download=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_default_cache_dir(monkeypatch, tmp_path):
    assert default_cache_dir() == tmp_path / "xdg-cache" / "memsnn"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "memsnn"
    monkeypatch.delenv("MEMSNN_DATA_DIR")
    with pytest.raises(DatasetError, match="default cache folder"):
        load_dataset("mnist", "test", download=False)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="emnist", split="test"), "name"),
        (dict(name="mnist", split="valid"), "split"),
        (dict(name="mnist", split="test", source="web"), "source"),
        (dict(name="mnist", split="test", subset=0), "subset"),
        (dict(name="mnist", split="test", subset=2.5), "subset"),
        (dict(name="mnist", split="test", source="bundled", subset=1001), "only 1000"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_dataset(**kwargs)


# --------------------------------------------------------------------------------------------
# Downloads (fake opener serving local bytes)
# --------------------------------------------------------------------------------------------


def _serve(monkeypatch, payloads):
    """Make ``_open_url`` serve ``payloads[url]`` (bytes, or an exception to raise); log the URLs."""
    requested = []

    def fake_open(url):
        requested.append(url)
        payload = payloads[url]
        if isinstance(payload, Exception):
            raise payload
        headers = {"Content-Length": str(len(payload))}
        return urllib.response.addinfourl(io.BytesIO(payload), headers, url)

    monkeypatch.setattr(ds, "_open_url", fake_open)
    return requested


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@needs_data
def test_download_installs_verified_file(monkeypatch, tmp_path):
    monkeypatch.delenv("MEMSNN_DATA_DIR")
    cache = default_cache_dir()
    primary, fallback = (base + MNIST_TEST_LABELS.name for base in ds.MIRRORS["mnist"])
    requested = _serve(
        monkeypatch,
        {primary: urllib.error.URLError("mirror down"), fallback: MNIST_TEST_LABELS.read_bytes()},
    )
    path = ds._locate("mnist", MNIST_TEST_LABELS.name, None, download=True)
    assert requested == [primary, fallback]
    assert path == cache / "mnist" / MNIST_TEST_LABELS.name
    assert path.read_bytes() == MNIST_TEST_LABELS.read_bytes()
    assert _leftovers(cache / "mnist") == [MNIST_TEST_LABELS.name]  # no temp file
    # Present now: found and used without another request.
    ds._locate("mnist", MNIST_TEST_LABELS.name, None, download=True)
    assert len(requested) == 2


@needs_data
def test_download_of_full_split_through_load_dataset(monkeypatch, tmp_path):
    payloads = {
        ds.MIRRORS["mnist"][0] + src.name: src.read_bytes()
        for src in (MNIST_TEST_IMAGES, MNIST_TEST_LABELS)
    }
    _serve(monkeypatch, payloads)
    (tmp_path / "d" / "mnist").mkdir(parents=True)  # memsnn creates no folder in a folder the user named
    images, labels = load_dataset("mnist", "test", data_dir=tmp_path / "d", subset=5)
    assert images.shape == (5, 784) and labels.tolist() == [7, 2, 1, 0, 4]


@needs_data
def test_download_with_bad_bytes_leaves_nothing(monkeypatch, tmp_path):
    good = MNIST_TEST_LABELS.read_bytes()
    bad = good[:-1] + bytes([good[-1] ^ 0xFF])
    urls = [base + MNIST_TEST_LABELS.name for base in ds.MIRRORS["mnist"]]
    _serve(monkeypatch, {urls[0]: bad, urls[1]: good[: len(good) // 2]})
    (tmp_path / "mnist").mkdir()
    shutil.copy(MNIST_TEST_IMAGES, tmp_path / "mnist" / MNIST_TEST_IMAGES.name)  # labels missing
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist", "test", data_dir=tmp_path, download=True)
    message = str(info.value)
    assert f"could not download mnist/{MNIST_TEST_LABELS.name}" in message
    assert all(url in message for url in urls) and "SHA-256" in message
    # Neither the labels file nor a temp file is left behind.
    assert _leftovers(tmp_path / "mnist") == [MNIST_TEST_IMAGES.name]


def test_download_interrupted_leaves_nothing(monkeypatch, tmp_path):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 0:
                raise ConnectionResetError("connection reset")
            return super().read(10)

    def fake_open(url):
        return urllib.response.addinfourl(Broken(b"x" * 100), {"Content-Length": "100"}, url)

    monkeypatch.setattr(ds, "_open_url", fake_open)
    (tmp_path / "fashion-mnist").mkdir()
    with pytest.raises(DatasetError, match="connection reset"):
        load_dataset("fashion-mnist", "test", data_dir=tmp_path)
    assert _leftovers(tmp_path / "fashion-mnist") == []


# --------------------------------------------------------------------------------------------
# Bundled subsets
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("split, n", [("train", 4000), ("test", 1000)])
def test_bundled_shapes(name, split, n, monkeypatch, tmp_path):
    monkeypatch.setenv("MEMSNN_DATA_DIR", str(tmp_path / "nothing-here"))  # bundled needs no files
    images, labels = load_dataset(name, split, source="bundled")
    assert images.shape == (n, 784) and images.dtype == np.float32
    assert labels.shape == (n,) and labels.dtype == np.int32
    assert 0.0 <= images.min() and images.max() == 1.0
    assert set(np.unique(labels)) == set(range(10))
    sub, _ = load_dataset(name, split, source="bundled", subset=10)
    np.testing.assert_array_equal(sub, images[:10])


@needs_data
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_bundled_is_first_samples_of_originals(name):
    for split, n in ds.BUNDLED_SIZES.items():
        bx, by = load_dataset(name, split, source="bundled")
        fx, fy = load_dataset(name, split, download=False, subset=n)
        np.testing.assert_array_equal(bx, fx)
        np.testing.assert_array_equal(by, fy)


@needs_data
def test_make_bundled_reproduces_shipped_files(tmp_path, monkeypatch):
    # The archives' LZMA compression is ~4 of this test's ~5 CPU s: write_npz is checked on its own
    # (below), so here it records what make_bundled selects and where it would write it.
    selected = {}
    monkeypatch.setattr(_make_bundled, "write_npz", lambda path, arrays: selected.__setitem__(path, arrays))
    written = make_bundled(tmp_path)
    assert set(written) == set(ds.IMAGE_DATASETS) and len(selected) == len(written)
    for name, path in written.items():
        assert path == tmp_path / f"{name}.npz"
        new = selected[path]
        with ds.bundled_file(name).open("rb") as f, np.load(f) as shipped:
            assert sorted(new) == sorted(shipped.files)
            for key in new:
                assert new[key].dtype == np.uint8
                np.testing.assert_array_equal(new[key], shipped[key])


def test_write_npz_is_a_deterministic_lzma_archive_that_np_load_reads(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"train_images": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
              "train_labels": rng.integers(0, 10, 30, dtype=np.uint8)}
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    _make_bundled.write_npz(first, arrays)
    _make_bundled.write_npz(second, {k: v.copy() for k, v in arrays.items()})
    assert first.read_bytes() == second.read_bytes()  # the bytes depend only on the data
    with zipfile.ZipFile(first) as archive:
        assert [i.filename for i in archive.infolist()] == ["train_images.npy", "train_labels.npy"]
        assert all(i.compress_type == zipfile.ZIP_LZMA for i in archive.infolist())
    with np.load(first) as back:
        assert sorted(back.files) == sorted(arrays)
        for key, value in arrays.items():
            assert back[key].dtype == np.uint8
            np.testing.assert_array_equal(back[key], value)


# --------------------------------------------------------------------------------------------
# Encoders
# --------------------------------------------------------------------------------------------


def test_impulse_schedule():
    images = jnp.array([[0.0, 0.5, 1.0], [0.25, 0.75, 0.1]])
    amplitudes, steps = impulse_schedule(images)
    assert steps == (0, 400, 800)
    assert amplitudes.shape == (2, 3, 3) and amplitudes.dtype == jnp.float32
    for k in range(3):
        np.testing.assert_array_equal(amplitudes[:, k, :], jnp.asarray(images, dtype=jnp.float32))
    amplitudes, steps = impulse_schedule(images, n_steps=10, event_steps=(2, 9))
    assert steps == (2, 9) and amplitudes.shape == (2, 2, 3)
    jitted = jax.jit(lambda x: impulse_schedule(x, 10, (3,))[0])
    np.testing.assert_array_equal(jitted(images)[:, 0], jnp.asarray(images, dtype=jnp.float32))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_steps=10, event_steps=(0, 10)), r"\[0, n_steps\)"),
        (dict(n_steps=10, event_steps=(-1,)), r"\[0, n_steps\)"),
        (dict(n_steps=10, event_steps=(5, 2)), "strictly increasing"),
        (dict(n_steps=10, event_steps=()), "at least one"),
        (dict(n_steps=10, event_steps=(1.5,)), "integers"),
        (dict(n_steps=0), "n_steps"),
    ],
)
def test_impulse_schedule_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        impulse_schedule(jnp.zeros((1, 4)), **kwargs)


def test_rate_mean_matches_intensity():
    intensities = jnp.linspace(0.0, 1.0, 11)[None, :]
    n_steps = 4000
    spikes = rate(intensities, n_steps, jax.random.key(0))
    assert spikes.shape == (1, n_steps, 11) and spikes.dtype == jnp.float32
    assert set(np.unique(np.asarray(spikes)).tolist()) <= {0.0, 1.0}
    mean = np.asarray(spikes.mean(axis=1))[0]
    p = np.asarray(intensities)[0]
    tolerance = 5 * np.sqrt(p * (1 - p) / n_steps) + 1e-9  # 5 standard errors
    assert np.all(np.abs(mean - p) <= tolerance)
    half = rate(intensities, n_steps, jax.random.key(1), max_rate=0.5)
    assert np.all(np.abs(np.asarray(half.mean(axis=1))[0] - 0.5 * p) <= 5 * np.sqrt(0.25 / n_steps))
    jitted = jax.jit(rate, static_argnums=1)
    np.testing.assert_array_equal(jitted(intensities, 7, jax.random.key(2)), rate(intensities, 7, jax.random.key(2)))


@pytest.mark.parametrize("linear", [False, True])
def test_latency_one_spike_brighter_earlier(linear):
    intensities = jnp.array([[0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.3, 0.6, 1.0]])
    n_steps = 25
    spikes = latency(intensities, n_steps, linear=linear)
    assert spikes.shape == (1, n_steps, 9) and spikes.dtype == jnp.float32
    s = np.asarray(spikes)[0]
    assert set(np.unique(s).tolist()) <= {0.0, 1.0}
    counts = s.sum(axis=0)
    above = np.asarray(intensities)[0] > 0.01
    np.testing.assert_array_equal(counts, above.astype(np.float32))  # one spike iff above threshold
    times = s.argmax(axis=0)[above]
    assert np.all(np.diff(times) <= 0)  # brighter (to the right) spikes no later
    assert times[0] > times[-1]
    if linear:
        assert times[-1] == 0 and times[0] == round(0.98 * (n_steps - 1))
    else:  # t = tau ln(I / (I - threshold)), rounded, clipped to the last step
        expected = np.clip(np.round(5.0 * np.log(np.array([0.02, 0.05, 0.1, 0.3, 0.6, 1.0])
                                                  / (np.array([0.02, 0.05, 0.1, 0.3, 0.6, 1.0]) - 0.01))),
                           0, n_steps - 1)
        np.testing.assert_array_equal(times, expected)


def test_latency_late_spikes_clip_to_last_step():
    spikes = latency(jnp.array([[0.011, 1.0]]), 5, tau=5.0)
    s = np.asarray(spikes)[0]
    assert s.sum(axis=0).tolist() == [1.0, 1.0]
    assert s[:, 0].argmax() == 4 and s[:, 1].argmax() == 0
    jitted = jax.jit(latency, static_argnums=1)
    np.testing.assert_array_equal(jitted(jnp.array([[0.011, 1.0]]), 5), spikes)


def test_direct_current_repeats():
    images = jnp.array([[0.1, 0.9], [0.0, 1.0], [0.5, 0.5]])
    out = direct_current(images, 6)
    assert out.shape == (3, 6, 2) and out.dtype == jnp.float32
    for t in range(6):
        # Encoders return float32 whatever the input precision (x64 is on in the tests).
        np.testing.assert_array_equal(out[:, t, :], images.astype(jnp.float32))


@pytest.mark.parametrize(
    "encode",
    [
        lambda x: rate(x, 5, jax.random.key(0)),
        lambda x: latency(x, 5),
        lambda x: direct_current(x, 5),
        lambda x: impulse_schedule(x, 5, (0,)),
    ],
    ids=["rate", "latency", "direct_current", "impulse_schedule"],
)
def test_encoders_reject_bad_inputs(encode):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        encode(jnp.array([[0.5, 1.5]]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        encode(jnp.array([[-0.1, 0.5]]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        encode(jnp.array([[jnp.nan, 0.5]]))
    with pytest.raises(ValueError, match="2-D"):
        encode(jnp.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="2-D"):
        encode(jnp.zeros(784))


@pytest.mark.parametrize("n_steps", [0, -3, 2.5, True])
def test_encoders_reject_bad_n_steps(n_steps):
    x = jnp.zeros((1, 3))
    for call in (
        lambda: rate(x, n_steps, jax.random.key(0)),
        lambda: latency(x, n_steps),
        lambda: direct_current(x, n_steps),
    ):
        with pytest.raises(ValueError, match="n_steps"):
            call()


def test_encoder_parameter_checks():
    x = jnp.zeros((1, 3))
    with pytest.raises(ValueError, match="max_rate"):
        rate(x, 3, jax.random.key(0), max_rate=1.5)
    with pytest.raises(ValueError, match="tau"):
        latency(x, 3, tau=0.0)
    with pytest.raises(ValueError, match="threshold"):
        latency(x, 3, threshold=1.0)
