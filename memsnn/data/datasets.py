"""MNIST and Fashion-MNIST: locating, downloading, verifying and loading.

Two sources:

``source="full"`` (default)
    The original IDX ``.gz`` files (60,000 train / 10,000 test samples). The folder that holds
    them is, in this order of precedence:

    1. the ``data_dir`` argument;
    2. the environment variable ``MEMSNN_DATA_DIR``;
    3. the cache folder ``$XDG_CACHE_HOME/memsnn`` (or ``~/.cache/memsnn``).

    Only the first of these that is set is used. Inside it, each dataset has a subfolder
    (``mnist/``, ``fashion-mnist/``) with the files under their original names, e.g.
    ``mnist/t10k-images-idx3-ubyte.gz``, or uncompressed (``mnist/t10k-images-idx3-ubyte``, as
    ``gunzip`` leaves them). A missing file is downloaded into that folder from the public mirrors
    when ``download=True`` (written to a temporary file beside it, checked, then renamed into place
    with :func:`os.replace`, so an interrupted download never leaves a file that passes as good).
    Folders are created only inside the default cache folder: in a folder the user named (1 or 2),
    a missing ``mnist/`` or ``fashion-mnist/`` is an error that says what the folder holds
    instead (typically the files of one dataset, i.e. a folder one level too deep). Every file,
    downloaded or found, must match the SHA-256 sum of the public original (compressed or not); a
    file is hashed once per process (the result is remembered by path, size and modification
    time).

``source="bundled"``
    A small subset shipped inside the package (``memsnn/data/bundled/``): the first 4,000 train and
    first 1,000 test samples of each dataset, so examples run offline. See
    ``memsnn/data/bundled/LICENSES.md`` and ``memsnn/data/_make_bundled.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import importlib.resources
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from tqdm import tqdm

from memsnn.data.idx import DatasetError, damaged, read_idx_images, read_idx_labels

__all__ = [
    "BUNDLED_SIZES",
    "DATASETS",
    "ENV_VAR",
    "SOURCES",
    "SPLITS",
    "default_cache_dir",
    "load_dataset",
]

IMAGE_DATASETS = ("mnist", "fashion-mnist")
DATASETS = IMAGE_DATASETS + ("yinyang",)  # yinyang: generated (memsnn.data.yinyang), no files
SPLITS = ("train", "test")
SOURCES = ("full", "bundled")
ENV_VAR = "MEMSNN_DATA_DIR"
BUNDLED_SIZES = {"train": 4000, "test": 1000}

_FILE_PREFIX = {"train": "train", "test": "t10k"}

# SHA-256 of the public originals, "<dataset>/<file>" -> hex digest.
SHA256 = {
    "mnist/t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "mnist/t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "mnist/train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "mnist/train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "fashion-mnist/t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "fashion-mnist/t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "fashion-mnist/train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "fashion-mnist/train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
}

# SHA-256 of the same files uncompressed (``gunzip`` of the originals).
SHA256_RAW = {
    "mnist/t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "mnist/t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "mnist/train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "mnist/train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "fashion-mnist/t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "fashion-mnist/t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    "fashion-mnist/train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "fashion-mnist/train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
}

# Base URLs, tried in order; the file name is appended.
MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}

_CHUNK = 1 << 16
_TIMEOUT_S = 60.0

# (resolved path, size, mtime_ns) -> SHA-256 that the file was found to have.
_verified: dict[tuple[str, int, int], str] = {}


# --------------------------------------------------------------------------------------------
# Where files are
# --------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """The download cache: ``$XDG_CACHE_HOME/memsnn``, or ``~/.cache/memsnn``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "memsnn"


def _data_root(data_dir: str | os.PathLike | None) -> tuple[Path, str, bool]:
    """The folder to use, a phrase saying why it was chosen, and whether the user named it."""
    if data_dir is not None:
        return Path(data_dir).expanduser(), "the data_dir argument, --data-dir of the memsnn command", True
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser(), f"the {ENV_VAR} environment variable", True
    return default_cache_dir(), f"the default cache folder ({ENV_VAR} is not set)", False


def _check_layout(root: Path, why: str, dataset: str) -> None:
    """Raise :class:`DatasetError` unless the user's data folder ``root`` has a ``dataset`` subfolder.

    Nothing is created there: a folder the user named is theirs, and a missing subfolder is far
    more often a path one level off than a wish to download.
    """
    if (root / dataset).is_dir():
        return
    if not root.is_dir():
        raise DatasetError(f"the data folder {root} (from {why}) does not exist; point it at the folder "
                           "that holds mnist/ and fashion-mnist/.")
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir() if not p.name.startswith("."))
    shown = ", ".join(entries[:8]) + (f" and {len(entries) - 8} more" if len(entries) > 8 else "")
    message = (f"expected mnist/ and fashion-mnist/ in {root} (the folder comes from {why}), found "
               f"{shown or 'nothing'}.")
    if any(name.rstrip("/").removesuffix(".gz") in _IDX_NAMES for name in entries):
        message += (f" It holds the dataset files themselves: the data folder is one level too deep; "
                    f"use its parent {root.resolve().parent}, or move the files into {root / dataset}/.")
    else:
        message += (f" Put the {dataset} files in {root / dataset}/ (create it to have them downloaded "
                    "there), or leave the data folder unset to download into the default cache folder "
                    f"({default_cache_dir()}).")
    raise DatasetError(message)


_IDX_NAMES = {f"{prefix}-{kind}" for prefix in _FILE_PREFIX.values()
              for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")}


def _file_names(split: str) -> tuple[str, str]:
    prefix = _FILE_PREFIX[split]
    return f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"


# --------------------------------------------------------------------------------------------
# Verification and download
# --------------------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _cache_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def _verify(path: Path, expected: str) -> None:
    """Raise :class:`DatasetError` unless ``path`` has SHA-256 ``expected`` (hashed once)."""
    key = _cache_key(path)
    actual = _verified.get(key)
    if actual is None:
        actual = _sha256_file(path)
        _verified[key] = actual
    if actual != expected:
        raise damaged(
            path,
            f"SHA-256 mismatch (got {actual}, expected {expected}); the file is damaged or not "
            "the original",
        )


def _open_url(url: str):
    """Open ``url`` for reading. The only place that touches the network (tests replace it)."""
    request = urllib.request.Request(url, headers={"User-Agent": "memsnn"})
    return urllib.request.urlopen(request, timeout=_TIMEOUT_S)


def _download_one(url: str, dest: Path, expected: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, _open_url(url) as response:
            length = response.headers.get("Content-Length")
            with tqdm(
                total=int(length) if length else None,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=f"{dest.parent.name}/{dest.name}",
                leave=False,
            ) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != expected:
            raise DatasetError(
                f"{url}: downloaded data has SHA-256 {actual}, expected {expected} "
                "(damaged or changed upstream); nothing was kept"
            )
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _verified[_cache_key(dest)] = actual


def _download(dataset: str, dest: Path, expected: str) -> None:
    """Fetch ``dest.name`` from the mirrors of ``dataset`` into ``dest``, verified and atomically."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(
            f"cannot create {dest.parent} to download into ({exc}); pass data_dir= or set "
            f"{ENV_VAR} to a writable folder"
        ) from exc
    failures = []
    for base in MIRRORS[dataset]:
        url = base + dest.name
        try:
            _download_one(url, dest, expected)
            return
        except (OSError, http.client.HTTPException, DatasetError) as exc:  # URLError is an OSError
            failures.append(f"  {url}: {exc}")
    raise DatasetError(
        f"could not download {dataset}/{dest.name} to {dest}:\n"
        + "\n".join(failures)
        + f"\nCheck the network, or put the original files in a folder and point {ENV_VAR} (or "
        "data_dir=) at it."
    )


def _locate(dataset: str, filename: str, data_dir, download: bool) -> Path:
    """The verified path of ``<root>/<dataset>/<filename>`` (or of it uncompressed), downloading it if allowed."""
    root, why, user_named = _data_root(data_dir)
    path = root / dataset / filename
    expected = SHA256[f"{dataset}/{filename}"]
    if path.is_file():
        _verify(path, expected)
        return path
    raw = path.with_suffix("")  # the same file after gunzip
    if raw.is_file():
        _verify(raw, SHA256_RAW[f"{dataset}/{raw.name}"])
        return raw
    if user_named:
        _check_layout(root, why, dataset)
    if not download:
        raise DatasetError(
            f"{dataset}/{filename} not found: looked for {path} and {raw.name} beside it (the folder "
            f"comes from {why}). "
            f"To fix: call with download=True to fetch it from the public mirrors into that "
            f"folder; or set {ENV_VAR} (or pass data_dir=) to a folder holding mnist/ and "
            f"fashion-mnist/ subfolders with the original .gz files; or use source='bundled' for "
            f"the small subset shipped with memsnn."
        )
    _download(dataset, path, expected)
    return path


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _load_full_uint8(name: str, split: str, data_dir, download: bool) -> tuple[np.ndarray, np.ndarray]:
    images_name, labels_name = _file_names(split)
    images_path = _locate(name, images_name, data_dir, download)
    labels_path = _locate(name, labels_name, data_dir, download)
    images = read_idx_images(images_path)
    labels = read_idx_labels(labels_path)
    if len(images) != len(labels):
        raise DatasetError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels; the files do not belong together"
        )
    return images, labels


def bundled_file(name: str):
    """The bundled ``.npz`` of dataset ``name`` (an :mod:`importlib.resources` traversable)."""
    return importlib.resources.files("memsnn.data").joinpath("bundled").joinpath(f"{name}.npz")


def _load_bundled_uint8(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    resource = bundled_file(name)
    try:
        with resource.open("rb") as f, np.load(f, allow_pickle=False) as npz:
            return npz[f"{split}_images"], npz[f"{split}_labels"]
    except (OSError, KeyError, ValueError) as exc:
        raise DatasetError(
            f"the bundled {name} subset ({resource}) is missing or damaged ({exc}); reinstall "
            "memsnn, or regenerate it with `python -m memsnn.data._make_bundled`"
        ) from exc


def _check_choice(what: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"load_dataset: {what} must be one of {choices}, got {value!r}.")


def load_uint8(
    name: str,
    split: str,
    *,
    source: str = "full",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`load_dataset` but the raw arrays: images ``uint8 (N, 28, 28)``, labels ``uint8 (N,)``."""
    _check_choice("name", name, DATASETS)
    _check_choice("split", split, SPLITS)
    _check_choice("source", source, SOURCES)
    if source == "bundled":
        return _load_bundled_uint8(name, split)
    return _load_full_uint8(name, split, data_dir, download)


def load_dataset(
    name: str,
    split: str,
    *,
    source: str = "full",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    subset: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST or Fashion-MNIST as flat float images and integer labels (or the generated
    Yin-Yang points: ``name="yinyang"``, splits ``"train"`` 5,000 / ``"validation"`` 1,000 /
    ``"test"`` 1,000 with the authors' seeds, :mod:`memsnn.data.yinyang`; ``source`` is ignored).

    Args:
        name: ``"mnist"``, ``"fashion-mnist"`` or ``"yinyang"``.
        split: ``"train"`` or ``"test"``.
        source: ``"full"`` (the original files, 60,000 / 10,000 samples) or ``"bundled"`` (the
            subset shipped with memsnn: the first 4,000 train / 1,000 test samples; needs no files
            and no network, and ignores ``data_dir`` and ``download``).
        data_dir: folder holding ``mnist/`` and ``fashion-mnist/`` with the original ``.gz``
            files. Defaults to ``$MEMSNN_DATA_DIR``, then to the cache folder
            (:func:`default_cache_dir`).
        download: fetch missing files from the public mirrors into that folder. With ``False`` a
            missing file raises :class:`DatasetError` saying where it was looked for.
        subset: if given, return only the first ``subset`` samples.

    Returns:
        ``(images, labels)``: NumPy ``float32`` array ``(N, 784)`` with values in ``[0, 1]``
        (pixel / 255, row-major 28x28), and NumPy ``int32`` array ``(N,)`` with values 0..9.

    Raises:
        ValueError: an unknown ``name``/``split``/``source`` or a bad ``subset``.
        DatasetError: a file is missing (``download=False``), cannot be downloaded, or fails
            its SHA-256 or format check. (:class:`DatasetError` is a ``ValueError``.)
    """
    if subset is not None and (
        isinstance(subset, bool) or not isinstance(subset, (int, np.integer)) or subset <= 0
    ):
        raise ValueError(f"load_dataset: subset must be a positive integer or None, got {subset!r}.")
    if name == "yinyang":
        from memsnn.data.yinyang import YIN_YANG_SPLITS, yin_yang
        if split not in YIN_YANG_SPLITS:
            raise ValueError(f"load_dataset: the yinyang splits are {sorted(YIN_YANG_SPLITS)}, got {split!r}.")
        size, seed = YIN_YANG_SPLITS[split]
        if subset is not None and subset > size:
            raise ValueError(f"load_dataset: subset={subset} but the yinyang {split} split has only {size} samples.")
        points, labels = yin_yang(size if subset is None else subset, seed)
        return points, labels
    images, labels = load_uint8(name, split, source=source, data_dir=data_dir, download=download)
    if subset is not None:
        if subset > len(labels):
            raise ValueError(
                f"load_dataset: subset={subset} but the {source} {name} {split} split has only "
                f"{len(labels)} samples."
            )
        images, labels = images[:subset], labels[:subset]
    flat = images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)
    return flat, labels.astype(np.int32)
