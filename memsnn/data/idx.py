"""Reading IDX files (the format MNIST and Fashion-MNIST are published in), with validation.

An IDX file is a big-endian header followed by raw data:

* bytes 0-1: zero; byte 2: the element type (``0x08`` is unsigned byte, the only type these
  datasets use); byte 3: the number of dimensions ``ndim``;
* ``ndim`` big-endian ``uint32`` sizes;
* ``prod(sizes)`` elements.

Read as one big-endian ``int32``, the first four bytes are the *magic number*: 2051 for an image
file (``ndim == 3``, shape ``(N, rows, cols)``) and 2049 for a label file (``ndim == 1``, shape
``(N,)``). Files may be gzip-compressed (as published) or raw; the reader tells them apart by the
gzip signature, not by the file name.

Anything wrong with a file (bad gzip stream, wrong magic, truncated data, trailing bytes) raises
:class:`DatasetError`, whose message names the file and says how to recover.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "DatasetError",
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "read_idx",
    "read_idx_images",
    "read_idx_labels",
]

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_UBYTE = 0x08
_GZIP_SIGNATURE = b"\x1f\x8b"

RECOVERY_HINT = (
    "delete it and run again to re-download, or point MEMSNN_DATA_DIR at a folder with the "
    "original files"
)


class DatasetError(ValueError):
    """A dataset file is missing, damaged, or not what it claims to be."""


def damaged(path: str | os.PathLike, problem: str) -> DatasetError:
    """The :class:`DatasetError` for a damaged file: names the file, the problem and the fix."""
    return DatasetError(f"{os.fspath(path)}: {problem}; {RECOVERY_HINT}.")


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file.") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc}).") from exc
    if raw[:2] != _GZIP_SIGNATURE:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        # BadGzipFile is an OSError; a cut-off stream raises EOFError.
        raise damaged(path, f"not a valid gzip file ({type(exc).__name__}: {exc})") from exc


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read an unsigned-byte IDX file (gzipped or raw) into a ``uint8`` array.

    Args:
        path: the file.
        expected_magic: if given (:data:`IMAGES_MAGIC` or :data:`LABELS_MAGIC`), the magic number
            the file must carry.

    Returns:
        A read-only ``uint8`` array with the shape written in the header.

    Raises:
        DatasetError: the file is missing, not valid gzip, has the wrong magic number or element
            type, or holds fewer or more bytes than its header says.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise damaged(path, f"truncated: {len(data)} bytes, too short for an IDX header")
    magic = struct.unpack(">i", data[:4])[0]
    if expected_magic is not None and magic != expected_magic:
        raise damaged(
            path,
            f"wrong magic number {magic} (expected {expected_magic}); this is not the IDX "
            f"{'image' if expected_magic == IMAGES_MAGIC else 'label'} file it should be",
        )
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != _UBYTE or ndim == 0:
        raise damaged(path, f"not an unsigned-byte IDX file (magic number {magic})")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise damaged(path, f"truncated: {len(data)} bytes, the header alone needs {header_len}")
    shape = struct.unpack(f">{ndim}I", data[4:header_len])
    expected_len = header_len + int(np.prod(shape, dtype=np.int64))
    if len(data) < expected_len:
        raise damaged(
            path, f"truncated: {len(data)} bytes, the header {shape} needs {expected_len}"
        )
    if len(data) > expected_len:
        raise damaged(
            path,
            f"size mismatch: {len(data)} bytes, the header {shape} needs {expected_len} "
            f"({len(data) - expected_len} bytes too many)",
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(shape)


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX image file (magic 2051): ``uint8`` array of shape ``(N, rows, cols)``."""
    return read_idx(path, IMAGES_MAGIC)


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX label file (magic 2049): ``uint8`` array of shape ``(N,)``."""
    return read_idx(path, LABELS_MAGIC)
