"""Small UCI tables for the spike-timing benchmarks: Iris, and the two Wisconsin breast-cancer sets.

``load_uci(name)`` returns every sample of one table, unsplit and unscaled (the caller splits and
scales by its training part):

``"wbc"``: Wisconsin Breast Cancer, *original* (Wolberg & Mangasarian 1990; UCI
    "breast-cancer-wisconsin.data"), the set of Bohte, Kok & La Poutré 2002. 699 samples, 9
    cytology scores 1..10 (clump thickness, uniformity of cell size, of cell shape, marginal
    adhesion, single epithelial cell size, bare nuclei, bland chromatin, normal nucleoli, mitoses),
    16 missing bare-nuclei scores (``NaN``), 458 benign (label 0) and 241 malignant (label 1).
    Shipped with memsnn (``memsnn/data/bundled/breast-cancer-wisconsin.data``, the UCI file
    unchanged, CC BY 4.0; see ``bundled/LICENSES.md``) and checked against its SHA-256 on load.
``"wdbc"``: Wisconsin *Diagnostic* Breast Cancer (Street, Wolberg & Mangasarian 1993): 569 samples,
    30 real features of cell-nucleus images, 212 malignant / 357 benign; scikit-learn's
    ``load_breast_cancer`` (its labels: 0 malignant, 1 benign). Needs scikit-learn
    (``pip install memsnn[sklearn]``).
``"iris"``: Fisher's Iris, 150 samples, 4 features, 3 classes; scikit-learn's ``load_iris``.
"""

from __future__ import annotations

import hashlib
import importlib.resources

import numpy as np

from memsnn.data.idx import DatasetError

__all__ = ["UCI_DATASETS", "WBC_FEATURES", "WBC_SHA256", "load_uci"]

UCI_DATASETS = ("iris", "wdbc", "wbc")

#: SHA-256 of UCI's ``breast-cancer-wisconsin.data`` (19,889 bytes; its MD5 is 52b89051b9bd37a91a54e8570b963719).
WBC_SHA256 = "402c585309c399237740f635ef9919dc512cca12cbeb20de5e563a4593f22b64"
WBC_FEATURES = ("clump_thickness", "uniformity_of_cell_size", "uniformity_of_cell_shape", "marginal_adhesion",
                "single_epithelial_cell_size", "bare_nuclei", "bland_chromatin", "normal_nucleoli", "mitoses")
WBC_FILE = "breast-cancer-wisconsin.data"


def read_wbc() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shipped original Wisconsin file, verified: ``(ids int64 (699,), features float64 (699, 9)``
    with ``NaN`` for the ``'?'`` entries, ``labels int32 (699,)`` 0 benign / 1 malignant ``)``."""
    resource = importlib.resources.files("memsnn.data").joinpath("bundled").joinpath(WBC_FILE)
    try:
        data = resource.read_bytes()
    except OSError as exc:
        raise DatasetError(f"the bundled {WBC_FILE} ({resource}) is missing ({exc}); reinstall memsnn") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != WBC_SHA256:
        raise DatasetError(f"{resource}: SHA-256 {digest}, expected {WBC_SHA256} (UCI's file); the file is "
                           "damaged or not the original; reinstall memsnn")
    rows = [line.split(",") for line in data.decode("ascii").splitlines() if line]
    table = np.array([[np.nan if v == "?" else float(v) for v in row] for row in rows])
    classes = table[:, 10]
    return table[:, 0].astype(np.int64), table[:, 1:10], np.where(classes == 4, 1, 0).astype(np.int32)


def load_uci(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Every sample of UCI table ``name`` (``"iris"``, ``"wdbc"`` or ``"wbc"``; see the module).

    Returns:
        ``(features, labels)``: float64 ``(N, F)`` (``NaN`` where a value is missing: only ``"wbc"``,
        16 bare-nuclei entries) and int32 ``(N,)`` class indices.

    Raises:
        ValueError: an unknown ``name``.
        DatasetError: the shipped ``"wbc"`` file is missing or fails its SHA-256 check.
        ImportError: ``"iris"`` / ``"wdbc"`` without scikit-learn.
    """
    if name not in UCI_DATASETS:
        raise ValueError(f"load_uci: name must be one of {UCI_DATASETS}, got {name!r} (the original Wisconsin "
                         "breast-cancer set of Bohte et al. 2002 is 'wbc', scikit-learn's diagnostic one 'wdbc').")
    if name == "wbc":
        _, features, labels = read_wbc()
        return features, labels
    try:
        from sklearn.datasets import load_breast_cancer, load_iris
    except ImportError as exc:
        raise ImportError(f"load_uci({name!r}) reads scikit-learn's copy: pip install 'memsnn[sklearn]' "
                          "(the 'wbc' set is shipped and needs nothing)") from exc
    x, y = (load_iris if name == "iris" else load_breast_cancer)(return_X_y=True)
    return np.asarray(x, np.float64), np.asarray(y, np.int32)
