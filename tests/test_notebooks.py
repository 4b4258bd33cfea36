"""Execute the SPICEprop notebooks end to end (on part of the bundled subset, 2 epochs).

Deselect with ``pytest -m "not notebook"``; they take a few minutes on 2 CPU cores.
"""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")  # the [test] extra installs them; skip where it was not
NotebookClient = pytest.importorskip("nbclient").NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.notebook
# Executed here: the MNIST notebook (the Fashion-MNIST one is the same code on another data set;
# every stored notebook is checked below to be executed, error-free and equal to its builder).
@pytest.mark.parametrize("name", ["spiceprop_mnist.ipynb"])
def test_notebook_runs(name, tmp_path, monkeypatch):
    monkeypatch.delenv("MEMSNN_NOTEBOOK_FULL", raising=False)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    # The cells run as stored except the settings, which take less data: 2 epochs on 200 training
    # images (one batch each), 100 test images, and a shorter simulation, 100 steps one per loop
    # iteration (the quick settings, 3 epochs on 4,000 / 1,000 of 1,000 steps, ran when the notebook
    # was built; test_stored_notebook_is_executed_and_matches_its_builder checks them). Compiling
    # the training step and the predictions was most of this test's time, and a program of 1,000
    # steps five to a loop iteration most of that; every cell still runs, on the same code.
    settings = next(c for c in nb.cells if c.cell_type == "code" and "EPOCHS = 3" in c.source)
    quick = 'DATA = dict(source="bundled", train_subset=None, test_subset=None)'
    assert quick in settings.source
    settings.source = settings.source.replace(
        quick, 'DATA = dict(source="bundled", train_subset=200, test_subset=100)').replace("EPOCHS = 3", "EPOCHS = 2")
    run = next(c for c in nb.cells if c.cell_type == "code" and "result = train(" in c.source)
    assert "**DATA, epochs=EPOCHS," in run.source
    run.source = run.source.replace("**DATA, epochs=EPOCHS,",
                                    '**DATA, model={"n_steps": 100, "unroll": 1}, epochs=EPOCHS,')
    # Run in a scratch folder: the notebook writes its checkpoint under ./runs.
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3  # curves, potentials, confusion
    assert (tmp_path / "runs").is_dir()


def _builder(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, NOTEBOOKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _built_sources():
    """``{notebook file: [cell sources]}`` as the ``_build*.py`` scripts write them."""
    spiceprop, surrogate, solver = _builder("_build"), _builder("_build_surrogate"), _builder("_build_solver_accuracy")
    sources = {info["file"]: [c.source for c in spiceprop.cells(dataset, info["title"], info["classes"], info["paper"])]
               for dataset, info in spiceprop.DATASETS.items()}
    sources["surrogate_mnist.ipynb"] = [c.source for c in surrogate.CELLS]
    sources["solver_accuracy.ipynb"] = [c.source for c in solver.build().cells]
    for notebook, builder in STORED.items():
        sources[notebook] = [c.source for c in _builder(builder).CELLS]
    return sources


# The notebooks of the second half (crossbars, conversion, plasticity, co-design): file -> builder.
STORED = {"crossbar.ipynb": "_build_crossbar", "conversion.ipynb": "_build_conversion",
          "stdp_mnist.ipynb": "_build_stdp", "codesign.ipynb": "_build_codesign",
          "weight_transfer.ipynb": "_build_weight_transfer", "device_gradients.ipynb": "_build_device_gradients",
          "supervised_spike_timing.ipynb": "_build_supervised", "spike_times.ipynb": "_build_spike_times"}


@pytest.mark.parametrize("name, figures", [("spiceprop_mnist.ipynb", 3), ("spiceprop_fashion_mnist.ipynb", 3),
                                           ("surrogate_mnist.ipynb", 3), ("solver_accuracy.ipynb", 5),
                                           ("crossbar.ipynb", 5), ("conversion.ipynb", 4), ("stdp_mnist.ipynb", 4),
                                           ("codesign.ipynb", 4), ("weight_transfer.ipynb", 4),
                                           ("device_gradients.ipynb", 3), ("supervised_spike_timing.ipynb", 5),
                                           ("spike_times.ipynb", 3)])
def test_stored_notebook_is_executed_and_matches_its_builder(name, figures):
    """The notebooks are stored with their outputs (figures visible where they are read, without running
    them); rebuild and re-execute with ``python notebooks/_build*.py --execute``."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert [c.source for c in nb.cells] == _built_sources()[name], (
        f"notebooks/{name} is stale: rebuild it with its notebooks/_build*.py script (--execute)")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), f"notebooks/{name} is stored unexecuted: run its builder with --execute"
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= figures
    # A stored tqdm bar is text at its final state, not the 0 % it had when it appeared, nor a widget.
    assert "widgets" not in nb.metadata
    assert not [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    bars = [o["data"]["text/plain"] for o in outputs if o.get("data", {}).get("text/plain", "").startswith("epoch ")]
    assert all("100%" in b for b in bars), bars
