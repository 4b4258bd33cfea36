"""Execute a built notebook with nbclient and store it with its outputs (used by the ``_build*.py`` scripts).

    python notebooks/_build.py --execute            # and _build_surrogate.py, _build_solver_accuracy.py

Stored outputs make the plots visible where the notebooks are read (the repository page) without
running them. tqdm's notebook bar is a widget whose text is captured when it first appears (at 0 %);
each bar is stored as text at its final state, read from the widget state nbclient records, and the
widgets themselves are dropped (a static page cannot run them, and GitHub's renderer refuses some
widget metadata).
Needs the ``notebooks`` extra (``pip install -e '.[notebooks]'``: nbclient, ipykernel, ipywidgets,
matplotlib).
"""

from __future__ import annotations

import html
import re
import tempfile
import time
from pathlib import Path

import nbformat

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _widget_text(model_id: str, states: dict) -> str | None:
    """The final text of a tqdm bar (an HBox of description, progress and meter) from widget states."""
    box = states.get(model_id, {}).get("state", {})
    children = [c.removeprefix("IPY_MODEL_") for c in box.get("children", [])]
    if len(children) != 3:
        return None
    left, bar, right = (states.get(c, {}).get("state", {}) for c in children)
    value, total = bar.get("value"), bar.get("max")
    if value is None or not total:
        return None
    filled = round(10 * value / total)
    text = f"{left.get('value', '')}|{'█' * filled}{' ' * (10 - filled)}|{right.get('value', '')}"
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def _finalize_widgets(nb: nbformat.NotebookNode) -> int:
    states = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    replaced = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                continue
            text = _widget_text(view.get("model_id", ""), states)
            if text is not None:
                output["data"]["text/plain"] = text
                replaced += 1
            del output["data"][WIDGET_VIEW]
    nb.metadata.pop("widgets", None)
    return replaced


def execute(path: Path, *, cwd: Path | None = None, timeout: int = 3600) -> None:
    """Run the notebook at ``path`` top to bottom and write it back with its outputs.

    ``cwd`` is the kernel's working directory; by default a scratch folder, so the run folders a
    notebook writes (``runs/...``) do not land in the repository.
    """
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        where = str(cwd if cwd is not None else scratch)
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": where}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        raise RuntimeError(f"{path.name}: a cell failed ({errors[0].get('ename')}: {errors[0].get('evalue')}); "
                           "the notebook was not written.")
    bars = _finalize_widgets(nb)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    print(f"executed {path} in {time.perf_counter() - start:.0f} s ({bars} progress bars)")


def write(cells: list, name: str, argv: list[str], *, cwd: Path | None = None) -> Path:
    """Write ``cells`` as ``notebooks/<name>`` (Python 3 kernel); with ``--execute`` in ``argv``,
    run it and store it with its outputs. The one ``main`` of every ``_build_*.py`` script."""
    from nbformat.v4 import new_notebook

    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    path = Path(__file__).with_name(name)
    nbformat.write(nb, path)
    print(f"wrote {path}")
    if "--execute" in argv:
        execute(path, cwd=cwd)
    return path
