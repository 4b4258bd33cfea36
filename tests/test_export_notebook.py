"""notebooks/solver_accuracy.ipynb runs top to bottom (nbclient), and is what its builder writes."""

import os
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")  # the [test] extra installs it; skip where it was not

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.skipif(shutil.which("ngspice") is None and not os.environ.get("CI"),
                    reason="ngspice is not installed (apt-get install ngspice); CI installs it and runs this")
def test_solver_accuracy_notebook_runs():
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / "solver_accuracy.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs)
    assert "-> order" in outputs and "relative L2 error" in outputs


def test_notebook_matches_its_builder():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_nb", NOTEBOOKS / "_build_solver_accuracy.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    saved = nbformat.read(NOTEBOOKS / "solver_accuracy.ipynb", as_version=4)
    assert [c.source for c in saved.cells] == [c.source for c in builder.build().cells], (
        "notebooks/solver_accuracy.ipynb is stale: run python notebooks/_build_solver_accuracy.py")
