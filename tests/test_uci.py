"""memsnn.data.uci: the shipped original Wisconsin breast-cancer file and the UCI loader."""

import hashlib
import importlib.resources

import numpy as np
import pytest

from memsnn.data import DatasetError, load_uci
from memsnn.data import uci


def test_shipped_wbc_is_ucis_file():
    """The bundled file is UCI's breast-cancer-wisconsin.data: 19,889 bytes with the recorded SHA-256,
    699 rows of 11 comma-separated fields (id, 9 scores 1..10, class 2/4), the 16 '?' all in the
    bare-nuclei column, 458 benign / 241 malignant, the ids of UCI's first and last rows."""
    data = importlib.resources.files("memsnn.data").joinpath("bundled", uci.WBC_FILE).read_bytes()
    assert len(data) == 19889 and hashlib.sha256(data).hexdigest() == uci.WBC_SHA256
    rows = [line.split(",") for line in data.decode("ascii").splitlines()]
    assert len(rows) == 699 and {len(r) for r in rows} == {11}
    missing = [(i, j) for i, r in enumerate(rows) for j, v in enumerate(r) if v == "?"]
    assert len(missing) == 16 and {j for _, j in missing} == {6}
    assert rows[0] == "1000025,5,1,1,1,2,1,3,1,1,2".split(",") and rows[-1][0] == "897471"
    assert {v for r in rows for v in r[1:10]} == {str(k) for k in range(1, 11)} | {"?"}

    ids, x, y = uci.read_wbc()
    assert ids.shape == (699,) and len(np.unique(ids)) == 645  # UCI's ids repeat (re-sampled patients)
    assert x.shape == (699, 9) and np.isnan(x).sum() == 16 and np.isnan(x[:, uci.WBC_FEATURES.index("bare_nuclei")]).sum() == 16
    assert np.nanmin(x) == 1 and np.nanmax(x) == 10
    assert np.bincount(y).tolist() == [458, 241]


def test_load_uci_wbc_and_errors(monkeypatch):
    x, y = load_uci("wbc")
    assert x.shape == (699, 9) and x.dtype == np.float64 and y.dtype == np.int32
    with pytest.raises(ValueError, match="'wbc'"):
        load_uci("breast_cancer")
    # A changed file is refused, not read.
    real = uci.WBC_SHA256
    monkeypatch.setattr(uci, "WBC_SHA256", "0" * 64)
    with pytest.raises(DatasetError, match=real):
        load_uci("wbc")


def test_load_uci_sklearn_sets():
    pytest.importorskip("sklearn")
    x, y = load_uci("wdbc")
    assert x.shape == (569, 30) and np.bincount(y).tolist() == [212, 357]
    x, y = load_uci("iris")
    assert x.shape == (150, 4) and np.bincount(y).tolist() == [50, 50, 50]
