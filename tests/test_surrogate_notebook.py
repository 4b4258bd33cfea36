"""The surrogate-gradient notebook runs from top to bottom on the bundled data."""

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "surrogate_mnist.ipynb"


@pytest.mark.notebook
def test_surrogate_notebook_executes(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)  # the notebook writes its run folder under the working directory
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(o.get("text", "") for cell in nb.cells for o in cell.get("outputs", []))
    assert "test accuracy" in outputs and "predicted" in outputs
