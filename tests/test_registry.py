"""The README's and docs' results tables are the registry's rendering of benchmarks/results/*.json.

Fails when a table was edited by hand (or a results file changed without re-rendering), when a
measured cell types a number instead of reading it from a results file, or when a reference points
at a missing file or key. Fix: edit benchmarks/registry.py, run `python benchmarks/registry.py`.
"""
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def registry():
    spec = importlib.util.spec_from_file_location("memsnn_results_registry", ROOT / "benchmarks" / "registry.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_tables_match_their_rendering(registry):
    assert registry.problems() == []


def test_every_cited_file_records_its_conditions(registry):
    for t in registry.TABLES:
        for r in t.rows:
            for c in r:
                for ref in registry.refs_of(c):
                    name = ref.split("#", 1)[0]
                    cond = json.loads((registry.RESULTS / name).read_text()).get("conditions")
                    assert cond is not None, name
                    for key in ("command", "commit", "machine", "load_average"):
                        assert key in cond, (name, key)


def test_a_typed_number_is_rejected(registry):
    assert registry.literal_numbers("**98.0 %** after {x.json#epochs} epochs") == ["98.0"]
    assert registry.literal_numbers("float32 on an H100, Tsit5, L2: {a.json#b|.1e}") == []
    t = registry.Table("t", "README.md", ["What", "Measured"], [["w", "21.4x faster"]], conditions=False)
    registry.TABLES.append(t)
    try:
        assert any("typed" in p for p in registry.problems())
    finally:
        registry.TABLES.remove(t)


def test_a_missing_key_is_rejected(registry):
    t = registry.Table("t", "README.md", ["What", "Measured"],
                       [["w", "{spiceprop_vs_torch.json#no_such_key|.1f}x"]], conditions=False)
    registry.TABLES.append(t)
    try:
        assert any("no_such_key" in p for p in registry.problems())
    finally:
        registry.TABLES.remove(t)


def test_a_hand_edit_is_detected(registry, tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- results:readme-speed -->")
    body = re.sub(r"\*\*(\d)", lambda m: "**" + str((int(m.group(1)) + 1) % 10), readme[start:], count=1)
    edited = readme[:start] + body  # one figure of the speed table changed by hand
    assert edited != readme
    monkeypatch.setattr(registry, "ROOT", tmp_path)
    (tmp_path / "benchmarks").symlink_to(ROOT / "benchmarks")  # the scripts the rows name
    for t in registry.TABLES:
        dest = tmp_path / t.file
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            dest.write_text((ROOT / t.file).read_text())
    (tmp_path / "README.md").write_text(edited)
    assert any("README.md differs" in p for p in registry.problems())


def test_formats_and_operators(registry):
    assert registry.fmt(0.98005, "%.2f") == "98.00"
    assert registry.fmt(3.3e-13, ".1e") == "3.3e-13"
    assert registry.fmt(1.5e-05, ".1e") == "1.5e-5"
    assert registry.fmt(1.0375e-07, "n.1f") == "103.8"
    assert registry.evaluate("meanstd spiceprop_mnist.json#final_test_acc spiceprop_mnist_idle.json#final_test_acc|%.2f") \
        == "98.00 +- 0.00 % (n = 2)"


def test_a_figure_typed_in_the_results_prose_is_rejected(registry):
    text = ("## Results\n\nThe step is 21.4x faster and uses 38 MB.\n\n<!-- results:x -->\n| 98.0 % |\n"
            "<!-- /results:x -->\n\n## Development\n\n12 ms\n")
    assert registry.prose_figures(text) == ["21.4x", "38 MB"]


def test_run_conditions_holds_every_required_key(registry):
    c = registry.run_conditions(data="bundled MNIST", devices={"memsnn": "1 CPU device"}, load_before=1.0)
    assert all(k in c for k in registry.REQUIRED)
    assert c["load_average"][0] == 1.0 and c["devices"] == {"memsnn": "1 CPU device"}
