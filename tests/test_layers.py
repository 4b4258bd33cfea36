"""The import layers of memsnn (docs/architecture.md, "Layers"), read from the source's AST.

Each top-level module or package of ``memsnn/`` has a layer; a module may import its own package,
the packages of its layer (without a cycle between packages) and the layers below, never a layer
above. Every import counts, also one inside a function: a function-level import must not be a way
around a cycle or an upward import. The checks run on the source text, so they need no import of
memsnn and fail on a new module that no layer lists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "memsnn"

#: Layer of each top-level name under memsnn/ (a module ``x.py`` or a package ``x/``); "" is
#: ``memsnn/__init__.py``, the flat public surface.
LAYERS: dict[str, int] = {
    # 1. the protocol and what every component uses
    "_validation": 1, "_spice": 1, "_ngspice": 1, "_nir": 1, "components": 1, "stimulus": 1, "spikes": 1,
    # 2. component kinds
    "devices": 2, "neurons": 2, "synapses": 2, "arrays": 2, "crossbar": 2, "plasticity": 2, "energy": 2,
    # 3. composing and running them, and writing them out
    "network": 3, "integrators": 3, "simulate": 3, "export": 3, "presets": 3, "pulse_programming": 3, "": 3,
    # 4. training methods and their data
    "data": 4, "training": 4,
    # 5. studies of trained networks
    "studies": 5,
    # 6. the command line
    "cli": 6,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _resolve(module: str, path: Path, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The memsnn modules an import statement loads (a name imported from a package that is one of
    its submodules counts as that submodule)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name == "memsnn" or a.name.startswith("memsnn.")]
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = package[: len(package) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not (target == "memsnn" or target.startswith("memsnn.")):
        return []
    found = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        found.append(sub if sub in MODULES else target)
    return found


def _imports() -> list[tuple[str, str, int, bool]]:
    """``(importer, imported, line, inside a function)`` for every import of a memsnn module."""
    edges = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))

        def visit(node, in_function):
            for child in ast.iter_child_nodes(node):
                nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    edges.extend((module, target, child.lineno, in_function) for target in _resolve(module, path, child))
                visit(child, nested)

        visit(tree, False)
    return edges


IMPORTS = _imports()


def _top(module: str) -> str:
    """The top-level name of ``memsnn.x.y`` (``x``; ``""`` for ``memsnn`` itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (its nodes in order, the first repeated at the end), or ``None``."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in colour and (found := visit(nxt)):
                return found
        stack.pop()
        colour[node] = 2
        return None

    for node in sorted(graph):
        if node not in colour and (found := visit(node)):
            return found
    return None


def test_every_module_has_a_layer():
    missing = sorted({_top(m) for m in MODULES} - set(LAYERS))
    assert not missing, (f"memsnn/{missing[0]} has no layer: add it to LAYERS in tests/test_layers.py and to the "
                         "layer list of docs/architecture.md")


def test_no_import_runs_up_the_layers():
    upward = [f"{a} (layer {LAYERS[_top(a)]}) imports {b} (layer {LAYERS[_top(b)]}) at line {line}"
              + (" inside a function" if in_function else "")
              for a, b, line, in_function in IMPORTS
              if _top(a) != _top(b) and LAYERS[_top(b)] > LAYERS[_top(a)]]
    assert not upward, ("imports from a lower layer to a higher one (docs/architecture.md, 'Layers'); move the code "
                        "that needs the higher layer up into it:\n  " + "\n  ".join(upward))


def test_no_cycle_between_packages():
    """Importing ``memsnn.x.y`` runs ``memsnn/x/__init__.py`` first, so a cycle between two packages
    is a cycle of imports whatever modules it goes through."""
    graph: dict[str, set[str]] = {}
    for a, b, _, _ in IMPORTS:
        if _top(a) != _top(b) and _top(a) != "":
            graph.setdefault(_top(a), set()).add(_top(b))
    cycle = _cycle(graph)
    assert cycle is None, "a cycle of imports between packages: " + " -> ".join(f"memsnn.{c}" for c in cycle)


def test_no_cycle_between_modules():
    graph: dict[str, set[str]] = {}
    for a, b, _, _ in IMPORTS:
        if a != b:
            graph.setdefault(a, set()).add(b)
    cycle = _cycle(graph)
    assert cycle is None, "a cycle of imports between modules: " + " -> ".join(cycle)


def test_no_private_module_of_another_package():
    """A package's private modules (``_name.py``) are its own; other packages use its public names."""
    private = [f"{a} imports {b} at line {line}" for a, b, line, _ in IMPORTS
               if _top(a) != _top(b) and _top(b) != "" and any(p.startswith("_") for p in b.split(".")[2:])]
    assert not private, "imports of another package's private module:\n  " + "\n  ".join(private)


@pytest.mark.parametrize("source, message", [
    ("from ..training import fit\n", "imports memsnn.training"),
    ("def f():\n    from ..studies import energy\n", "inside a function"),
])
def test_the_check_catches_an_upward_import(source, message, tmp_path):
    """The check itself: an upward import in a component kind is found, also inside a function."""
    path = PACKAGE / "crossbar" / "array.py"
    tree = ast.parse(source)
    node = next(n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)))
    targets = _resolve("memsnn.crossbar.array", path, node)
    in_function = isinstance(tree.body[0], ast.FunctionDef)
    upward = [(t, in_function) for t in targets if LAYERS[_top(t)] > LAYERS["crossbar"]]
    assert upward
    text = f"imports {upward[0][0]}" + (" inside a function" if upward[0][1] else "")
    assert message in text


def test_the_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
