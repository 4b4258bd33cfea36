"""Regenerate the bundled subsets in ``memsnn/data/bundled/`` from the original files.

    MEMSNN_DATA_DIR=../shared/data python -m memsnn.data._make_bundled [--data-dir DIR] [--out DIR]

For each dataset it takes the first :data:`~memsnn.data.datasets.BUNDLED_SIZES` samples of the
train and test splits of the original (SHA-256-verified) files, unchanged, and writes them as one
``<name>.npz`` with the ``uint8`` arrays ``train_images (4000, 28, 28)``, ``train_labels (4000,)``,
``test_images (1000, 28, 28)``, ``test_labels (1000,)``. The archive is written deterministically
(fixed member order and timestamps, deflate level 9), so running this again gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import zipfile
from pathlib import Path

import numpy as np

from memsnn.data.datasets import BUNDLED_SIZES, IMAGE_DATASETS, SPLITS, load_uint8

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as an LZMA-compressed ``.npz`` whose bytes depend only on the data."""
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_LZMA  # ~25% smaller than deflate; np.load reads it
            info.external_attr = 0o644 << 16
            with archive.open(info, "w") as member:
                np.lib.format.write_array(member, np.ascontiguousarray(value), allow_pickle=False)


def make_bundled(out_dir: Path = BUNDLED_DIR, data_dir=None) -> dict[str, Path]:
    """Write ``<out_dir>/<name>.npz`` for every dataset; return ``{name: path}``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in IMAGE_DATASETS:
        arrays = {}
        for split in SPLITS:
            images, labels = load_uint8(name, split, data_dir=data_dir, download=True)
            n = BUNDLED_SIZES[split]
            arrays[f"{split}_images"] = images[:n]
            arrays[f"{split}_labels"] = labels[:n]
        path = out_dir / f"{name}.npz"
        write_npz(path, arrays)
        written[name] = path
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="folder with mnist/ and fashion-mnist/")
    parser.add_argument("--out", type=Path, default=BUNDLED_DIR, help="output folder")
    args = parser.parse_args(argv)
    for name, path in make_bundled(args.out, args.data_dir).items():
        data = path.read_bytes()
        print(f"{path}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
