"""Datasets (MNIST, Fashion-MNIST) and spike encoders.

Loading::

    from memsnn.data import load_dataset
    x, y = load_dataset("mnist", "test")                      # float32 (10000, 784), int32 (10000,)
    x, y = load_dataset("fashion-mnist", "train", source="bundled")  # 4000 samples, offline

Files are looked for in ``data_dir``, else ``$MEMSNN_DATA_DIR``, else ``~/.cache/memsnn`` (downloaded
there on first use and checked against the SHA-256 sums of the originals). See
:mod:`memsnn.data.datasets`.

Encoding (``images`` of shape ``(B, F)`` in ``[0, 1]``)::

    from memsnn.data import rate, latency, direct_current, impulse_schedule
    spikes = rate(x[:32], 100, jax.random.key(0))             # (32, 100, 784)

Small UCI tables (Iris, the original and the diagnostic Wisconsin breast-cancer sets)::

    x, y = load_uci("wbc")    # float64 (699, 9), NaN where missing; int32 (699,); shipped, verified
"""

from memsnn.data.datasets import (
    BUNDLED_SIZES,
    DATASETS,
    ENV_VAR,
    SOURCES,
    SPLITS,
    default_cache_dir,
    load_dataset,
)
from memsnn.data.encoders import (direct_current, gaussian_receptive_fields, impulse_schedule, latency,
                                  latency_times, rate, spike_time_impulses)
from memsnn.data.uci import UCI_DATASETS, load_uci
from memsnn.data.yinyang import yin_yang
from memsnn.data.idx import DatasetError, read_idx, read_idx_images, read_idx_labels

__all__ = [
    "BUNDLED_SIZES",
    "DATASETS",
    "ENV_VAR",
    "SOURCES",
    "SPLITS",
    "UCI_DATASETS",
    "DatasetError",
    "default_cache_dir",
    "direct_current",
    "gaussian_receptive_fields",
    "impulse_schedule",
    "latency",
    "latency_times",
    "spike_time_impulses",
    "yin_yang",
    "load_dataset",
    "load_uci",
    "rate",
    "read_idx",
    "read_idx_images",
    "read_idx_labels",
]
