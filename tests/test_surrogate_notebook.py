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
    # The cells run as stored except that both trainings see 256 of the 4,000 bundled training
    # images (two batches) and 200 of the 1,000 test images, simulate one time step per loop
    # iteration (unroll=1: the default, 5, compiles the step five times; compiling was most of this
    # test's time), and the first one trains 2 epochs instead of 3 (the stored outputs are of the
    # full cells, checked by test_notebooks.py's stored-notebook test).
    call = 'train("surrogate", "mnist", source="bundled", '
    runs = [c for c in nb.cells if c.cell_type == "code" and call in c.source]
    assert len(runs) == 2 and "epochs=3," in runs[0].source
    for cell in runs:
        assert cell.source.count("model=dict(") == 1
        cell.source = cell.source.replace('source="bundled", ', 'source="bundled", train_subset=256, test_subset=200, '
                                          ).replace("model=dict(", "model=dict(unroll=1, ")
    runs[0].source = runs[0].source.replace("epochs=3,", "epochs=2,")
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(o.get("text", "") for cell in nb.cells for o in cell.get("outputs", []))
    assert "test accuracy" in outputs and "predicted" in outputs
