"""Checkpoint files: a versioned, checksummed format, written atomically.

Layout of ``checkpoint.eqx`` (format version 3)::

    memsnn-checkpoint 3\\n            magic line: the format and its version
    sha256 <hex> <bytes>\\n           SHA-256 and size of everything below this line
    {"config": ..., "epoch": ...}\\n  one line of JSON, the header (see read_checkpoint_header)
    <model leaves>                    eqx.tree_serialise_leaves
    <learner state leaves>            eqx.tree_serialise_leaves (e.g. the optimiser state)

Every read checks the magic line, the version, the size and checksum of the header and the weights
together, and the header's JSON before anything is deserialised, so a truncated or damaged file,
or one whose settings were edited (a conversion's levels, SPICEprop's number of steps, the dataset
name, ...), gives one :class:`CheckpointError` naming what is wrong (never a silently different
model, never a traceback from inside equinox).

Older files are still read: version 2 (memsnn before the whole file was checksummed: the header
holds ``"payload": {"bytes", "sha256"}`` of the weights only, so an edited header is not
detected) and version 1 (no checksum at all). :func:`checkpoint_version` tells them apart; ``memsnn
evaluate`` says so, and resuming such a run rewrites it in the current format.

Writes go to a temporary file ``.checkpoint.eqx.<random>.tmp`` beside the target, are flushed and
fsynced, then renamed over it (:func:`os.replace`): a crash at any moment leaves the old file or the
new one. A temporary file left by a killed process is removed by the next write. Files are created
with mode ``0o666`` less the user's umask, like any file a program writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
from pathlib import Path

import equinox as eqx

__all__ = [
    "CHECKPOINT_VERSION",
    "CheckpointError",
    "atomic_write",
    "checkpoint_version",
    "load_checkpoint",
    "read_checkpoint_header",
    "remove_stale_temporaries",
    "save_checkpoint",
]

CHECKPOINT_VERSION = 3
_MAGIC_PREFIX = b"memsnn-checkpoint "
_READABLE_VERSIONS = (1, 2, 3)


class CheckpointError(ValueError):
    """A checkpoint file is not a memsnn checkpoint, is truncated or damaged, or has another version."""


# --------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    # The rename itself is only durable once the directory entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temporaries(path: str | os.PathLike) -> None:
    """Delete the temporary files that interrupted writes of ``path`` left beside it.

    A process killed (``kill -9``, power cut) between creating its temporary file and the rename
    leaves it behind; it is never a complete file, so nothing is lost.
    """
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one.

    The parent folder is created if needed. The file gets the permissions of any new file
    (``0o666`` less the umask), also when it replaces an existing one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            # os.open with mode 0o666 lets the kernel apply the umask (tempfile.mkstemp forces 0o600).
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


def save_checkpoint(path: str | os.PathLike, model, learner_state, header: dict) -> Path:
    """Write ``model``, ``learner_state`` (e.g. an optimiser state) and the JSON ``header`` to ``path``.

    The write is atomic (see :func:`atomic_write`); the size and SHA-256 of the header and the
    serialised leaves together are written before them, and every read verifies them.

    Args:
        path: the checkpoint file (conventionally ``OUT/checkpoint.eqx``).
        model: an equinox Module (its array leaves are stored).
        learner_state: a pytree of arrays, or ``None``.
        header: JSON-serialisable metadata (the run's config, epoch, history, ...).
    """
    payload = io.BytesIO()
    eqx.tree_serialise_leaves(payload, model)
    eqx.tree_serialise_leaves(payload, learner_state)
    header = {k: v for k, v in header.items() if k != "payload"}  # a version 2 entry, if copied over
    body = json.dumps(header).encode() + b"\n" + payload.getvalue()
    magic = _MAGIC_PREFIX + str(CHECKPOINT_VERSION).encode() + b"\n"
    checksum = f"sha256 {hashlib.sha256(body).hexdigest()} {len(body)}\n".encode()
    return atomic_write(path, magic + checksum + body)


def _damaged(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(f"{path} is damaged: {problem}. It cannot be used; restore the file from a "
                           "copy, or train again.")


def _read(path: Path) -> tuple[dict, bytes]:
    """``(header, payload)`` of a checkpoint, checked; raises :class:`CheckpointError`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint file.") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path} is a folder; give the checkpoint.eqx file inside it.") from None
    except OSError as err:
        raise CheckpointError(f"{path} cannot be read ({err.strerror or err}).") from None
    magic, _, rest = raw.partition(b"\n")
    if not magic.startswith(_MAGIC_PREFIX):
        raise CheckpointError(f"{path} is not a memsnn checkpoint (it starts with {raw[:24]!r}); give the "
                              "checkpoint.eqx that `memsnn train` writes.")
    version_text = magic[len(_MAGIC_PREFIX):].decode("ascii", "replace")
    if not version_text.isdigit():
        raise _damaged(path, f"its first line {magic[:40]!r} names no format version")
    version = int(version_text)
    if version not in _READABLE_VERSIONS:
        from .. import __version__

        newer = "a newer" if version > CHECKPOINT_VERSION else "an unknown"
        raise CheckpointError(f"{path} has checkpoint format version {version}, written by {newer} memsnn; "
                              f"memsnn {__version__} reads versions {_READABLE_VERSIONS[0]} to "
                              f"{_READABLE_VERSIONS[-1]}. Upgrade memsnn to read it.")
    if version >= 3:
        check, newline, rest = rest.partition(b"\n")
        fields = check.decode("ascii", "replace").split(" ")
        if not newline:
            raise _damaged(path, f"truncated inside its header (the file has only {len(raw)} bytes)")
        if len(fields) != 3 or fields[0] != "sha256" or not fields[2].isdigit():
            raise _damaged(path, "its checksum line is garbled")
        written = int(fields[2])
        if len(rest) != written:
            what = "truncated or altered" if len(rest) < written else "longer than written (altered)"
            raise _damaged(path, f"{what}: its settings and weights take {len(rest)} bytes, {written} were written")
        if hashlib.sha256(rest).hexdigest() != fields[1]:
            raise _damaged(path, "the SHA-256 checksum of its settings and weights does not match the one written "
                                 "with them (bytes were changed after writing, e.g. an edited setting in its header)")
    line, newline, payload = rest.partition(b"\n")
    if not newline:
        raise _damaged(path, f"truncated inside its header (the file has only {len(raw)} bytes)")
    try:
        header = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _damaged(path, "its header is not valid JSON") from None
    if not isinstance(header, dict) or "epoch" not in header:
        raise _damaged(path, "its header lacks the entries of a memsnn checkpoint")
    if version == 2:
        expected = header.get("payload")
        if not isinstance(expected, dict) or not {"bytes", "sha256"} <= set(expected):
            raise _damaged(path, "its header has no payload size and checksum")
        if len(payload) != expected["bytes"]:
            what = "truncated" if len(payload) < expected["bytes"] else "longer than written"
            raise _damaged(path, f"{what}: the weights take {len(payload)} bytes, the header says "
                                 f"{expected['bytes']}")
        if hashlib.sha256(payload).hexdigest() != expected["sha256"]:
            raise _damaged(path, "the SHA-256 checksum of its weights does not match the one written "
                                 "with them (bytes were changed after writing)")
    return header, payload


def checkpoint_version(path: str | os.PathLike) -> int | None:
    """The format version of a checkpoint file from its first line (``None``: not a checkpoint).

    Versions below :data:`CHECKPOINT_VERSION` are read, but their settings header is not covered
    by a checksum (2) or nothing is (1).
    """
    with contextlib.suppress(OSError), open(path, "rb") as f:
        magic = f.readline(64)
        text = magic[len(_MAGIC_PREFIX):].strip()
        if magic.startswith(_MAGIC_PREFIX) and text.isdigit():
            return int(text)
    return None


def read_checkpoint_header(path: str | os.PathLike) -> dict:
    """The verified JSON header of a checkpoint: ``config``, ``epoch`` (completed epochs), ``history``, ...

    Raises:
        CheckpointError: not a checkpoint, another format version, truncated or damaged.
    """
    return _read(Path(path))[0]


def load_checkpoint(path: str | os.PathLike, like_model, like_learner_state=None):
    """Read a checkpoint written by :func:`save_checkpoint`, after verifying it.

    Args:
        path: the checkpoint file.
        like_model: a model of the same structure (e.g. freshly built from the header's config);
            its leaves are replaced by the stored ones.
        like_learner_state: likewise for the learner state, or ``None`` to skip it.

    Returns:
        ``(model, learner_state, header)``; ``learner_state`` is ``None`` if ``like_learner_state`` was.

    Raises:
        CheckpointError: as :func:`read_checkpoint_header`, or the stored leaves do not fit
            ``like_model`` (a checkpoint of another network).
    """
    path = Path(path)
    header, payload = _read(path)
    f = io.BytesIO(payload)
    try:
        model = eqx.tree_deserialise_leaves(f, like_model)
        state = None if like_learner_state is None else eqx.tree_deserialise_leaves(f, like_learner_state)
    except Exception as err:  # equinox/numpy raise several types for a mismatched or cut stream
        raise CheckpointError(f"{path} does not hold the network its settings describe "
                              f"({type(err).__name__}); it was written by another version of memsnn or "
                              "is damaged.") from None
    return model, state, header
