"""Execute the SPICEprop notebooks end to end (quick settings: the bundled subset, 3 epochs).

Deselect with ``pytest -m "not notebook"``; they take a few minutes on 2 CPU cores.
"""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")  # the [test] extra installs them; skip where it was not
NotebookClient = pytest.importorskip("nbclient").NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.notebook
@pytest.mark.parametrize("name", ["spiceprop_mnist.ipynb", "spiceprop_fashion_mnist.ipynb"])
def test_notebook_runs(name, tmp_path, monkeypatch):
    monkeypatch.delenv("MEMSNN_NOTEBOOK_FULL", raising=False)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    # Run in a scratch folder: the notebook writes its checkpoint under ./runs.
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3  # curves, potentials, confusion
    assert (tmp_path / "runs").is_dir()
