"""The one source of every figure that README.md and docs/*.md quote in their results tables.

Each table below is rendered from the results JSON under ``benchmarks/results/`` into the Markdown
between two markers::

    <!-- results:NAME -->
    ...generated, do not edit by hand...
    <!-- /results:NAME -->

Commands (no jax needed)::

    python benchmarks/registry.py            # re-render every table into README.md and docs/*.md
    python benchmarks/registry.py --check    # exit 1 if a file differs from its rendering (CI, tests)
    python benchmarks/registry.py --list     # every figure: table, row, value, file#path

``tests/test_registry.py`` runs ``--check`` and also fails when a number in a *measured* cell is typed
in the template instead of read from a results file, or when a reference points at a missing file
or key.

Adding a row (one line)
-----------------------
1. The results JSON goes in ``benchmarks/results/`` with a ``"conditions"`` block (keys:
   ``CONDITION_KEYS``; ``"not recorded"`` for what was not). If the benchmark did not write one::

       python benchmarks/registry.py --add-conditions my_result.json machine="2-core CPU" \
           'devices={"memsnn": "2 CPU devices", "torch": "1 thread"}' data="bundled MNIST" \
           command="python benchmarks/my_bench.py"

   fills the rest from the file's own fields (load averages, versions, seeds, epochs) and git.
   A benchmark can write the block itself: ``payload["conditions"] = registry.run_conditions(
   data=..., devices={...}, load_before=...)`` (``sys.path`` holds ``benchmarks/`` when it runs).
2. One line in the table's list below (README tables: ``readme-full``, ``readme-bundled``,
   ``readme-numerics``, ``readme-speed``)::

       row("What (conditions in words: network, batch, T, epochs, seeds)",
           "**{my_result.json#speedup|.1f}x** ({my_result.json#memsnn_ms|.1f} vs {my_result.json#peer_ms|.1f} ms)",
           ">= 5x", "`python benchmarks/my_bench.py`"),

   or, for one training run with ``final_test_acc`` / ``best_test_acc`` / ``epochs_done``::

       acc("What", "my_run.json", ">= 98 %", "`python benchmarks/my_train.py`"),

   (final epoch in bold, the best epoch beside it marked as chosen on test). Several seeds:
   ``{meanstd a.json#final_test_acc b.json#final_test_acc|%.2f}``.
3. ``python benchmarks/registry.py`` renders; ``--check`` (and ``tests/test_registry.py``) must pass.
   A new table: ``table("name", "docs/x.md", rows, header=[...], measured=(...), conditions=False)``
   and an empty ``<!-- results:name -->`` / ``<!-- /results:name -->`` pair in the Markdown.

The conditions column (machine, the devices / threads of each side, the load average, versions,
commit) is filled from the ``conditions`` blocks of the files the row cites.

Placeholders in a cell
----------------------
``{FILE#PATH|FORMAT}``: the value at PATH in ``benchmarks/results/FILE``. PATH is dotted keys
(``a.b.c``), list indices (``rows[0]``, ``rows[-1]``), a selection from a list of dicts
(``rows[model=lif,devices=2]``: exactly one row), a filter (``rows[?model=lif]``: a list), every
item (``levels.*.accuracy``: a list) or a quoted key (``devices["neuron.capacitance"]``). FORMAT is an optional scale (``%`` x100,
``k`` x1e3, ``u`` x1e6, ``n`` x1e9, ``M`` /1e6, ``K`` /1e3, ``min`` /60) then a Python format spec (``.2f``,
``,.0f``, ``.1e``). Operators before the references: ``{ratio A B|.1f}`` (A / B), ``{neg A}``,
``{min A|...}``, ``{max A|...}``, ``{median A|...}``, ``{len A}``, ``{list A|...}`` over a list,
``{meanstd A B ...|%.2f}`` (mean +- sample standard deviation of the non-null values, then
"(n = ...)"; with a ``%`` format it writes the % sign itself), ``{count A VALUE}``, ``{load FILE}`` (the load average range the file recorded).

A measured cell may contain no number typed as text: every number in it comes from a placeholder.
Conditions of the measurement (network size, batch, T, epochs) belong in the "What" cell.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

#: Keys of the ``conditions`` block each cited results file carries.
CONDITION_KEYS = (
    "command",        # the command that produced the file (as run)
    "commit",         # git commit of the code measured, or "not recorded" with the commit that added the file
    "code",           # optional: which generation of the code, where the commit is not recorded
    "data",           # dataset and subset (bundled / full, images used for training and test)
    "epochs",         # for training runs
    "seeds",          # seeds of the runs in the file
    "selection",      # how a reported run/setting was chosen (validation split, or "on the test set" said)
    "machine",        # CPU cores / GPU model
    "devices",        # {side: devices or threads} for every side of a comparison
    "load_average",   # 1-min load average(s) during the measurement, or "not recorded"
    "versions",       # {package: version}
)

# --------------------------------------------------------------------------------------------- engine

#: Keys a cited file's conditions must have (their value may be "not recorded").
REQUIRED = ("command", "commit", "machine", "devices", "load_average", "versions")

_cache: dict[str, object] = {}


def load(name: str):
    if name not in _cache:
        path = RESULTS / name
        if not path.exists():
            raise KeyError(f"results file {name} does not exist under benchmarks/results/")
        _cache[name] = json.loads(path.read_text())
    return _cache[name]


_TOKEN = re.compile(r'\["([^"]+)"\]|\[([^\]]+)\]|\.?([^.\[\]]+)')


def _parse_scalar(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def resolve(ref: str):
    """The value of ``FILE#PATH``; a ``*`` in PATH maps the rest of the path over a dict or list."""
    if "#" not in ref:
        raise KeyError(f"reference {ref!r} has no '#': write FILE#PATH")
    name, path = ref.split("#", 1)
    return _resolve_in(load(name), path, ref)


def _resolve_in(value, path, ref):
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m or m.end() == pos:
            raise KeyError(f"cannot parse path {path!r} of {ref!r} at {path[pos:]!r}")
        pos = m.end()
        quoted, bracket, key = m.groups()
        try:
            if quoted is not None:
                value = value[quoted]
            elif key == "*" or bracket == "*":
                rest = path[pos:]
                items = list(value.values() if isinstance(value, dict) else value)
                return _map(items, rest, ref)
            elif bracket is not None and bracket.startswith("?"):
                want = dict(kv.split("=", 1) for kv in re.split(r",(?=\s*\w+=)", bracket[1:]))
                hits = [r for r in value if all(str(r.get(k)) == v for k, v in want.items())]
                rest = path[pos:]
                return _map(hits, rest, ref)
            elif bracket is not None and "=" in bracket:
                want = dict(kv.split("=", 1) for kv in re.split(r",(?=\s*\w+=)", bracket))
                hits = [r for r in value if all(str(r.get(k)) == v or r.get(k) == _parse_scalar(v)
                                                for k, v in want.items())]
                if len(hits) != 1:
                    raise KeyError(f"{len(hits)} rows match [{bracket}]")
                value = hits[0]
            elif bracket is not None:
                value = value[int(bracket)]
            else:
                value = value[key]
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise KeyError(f"{ref}: no value at {path[:pos]!r} ({e})") from None
    return value


def _map(items, rest, ref):
    """The rest of a path over every item that has it (items without it are left out)."""
    if not rest:
        return items
    out = []
    for v in items:
        try:
            out.append(_resolve_in(v, rest, ref))
        except KeyError:
            pass
    if not out:
        raise KeyError(f"{ref}: no item has {rest!r}")
    return out


def _split(body: str) -> list[str]:
    """Whitespace-separated words, keeping [...] and "..." whole."""
    words, cur, depth, quote = [], "", 0, False
    for ch in body:
        if ch == '"':
            quote = not quote
        elif not quote and ch == "[":
            depth += 1
        elif not quote and ch == "]":
            depth -= 1
        if ch.isspace() and depth == 0 and not quote:
            if cur:
                words.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        words.append(cur)
    return words


_SCALES = {"%": 100.0, "k": 1e3, "u": 1e6, "n": 1e9, "M": 1e-6, "K": 1e-3}


def fmt(value, spec: str | None) -> str:
    if isinstance(value, str):
        return value
    if value is None:  # a JSON null: "none" (e.g. never reached)
        return "-"
    if spec is None:
        if isinstance(value, bool) or isinstance(value, int):
            return str(value)
        return f"{value:.4g}"
    scale = 1.0
    if spec and spec.startswith("min"):
        scale, spec = 1 / 60, spec[3:]
    elif spec and spec[0] in _SCALES:
        scale, spec = _SCALES[spec[0]], spec[1:]
    x = value * scale
    if isinstance(value, int) and scale == 1.0 and not spec:
        return str(value)
    text = format(x, spec) if spec else f"{x:.4g}"
    return re.sub(r"e([-+])0*(\d)", lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2), text)


def _values(refs):
    out = []
    for r in refs:
        v = resolve(r)
        out.extend(v if isinstance(v, list) else [v])
    return out


def evaluate(expr: str) -> str:
    """Render one placeholder's text (without braces)."""
    body, _, spec = expr.partition("|")
    spec = spec.strip() or None
    parts = _split(body)
    op, args = (parts[0], parts[1:]) if len(parts) > 1 or parts[0] == "load" else (None, parts)
    if op is None:
        value = resolve(args[0])
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{args[0]} is {value}")
        return fmt(value, spec)
    if op == "ratio":
        return fmt(resolve(args[0]) / resolve(args[1]), spec)
    if op in ("min", "max"):
        return fmt((min if op == "min" else max)(_values(args)), spec)
    if op == "list":
        return ", ".join(fmt(v, spec) for v in _values(args))
    if op == "len":
        return str(len(resolve(args[0])))
    if op == "neg":
        return fmt(-resolve(args[0]), spec)
    if op == "sum":
        return fmt(sum(_values(args)), spec)
    if op == "median":
        return fmt(statistics.median(_values(args)), spec)
    if op == "count":  # {count A VALUE}: how many items of A equal VALUE
        want = _parse_scalar(args[-1])
        return str(sum(1 for v in _values(args[:-1]) if v == want))
    if op == "meanstd":
        vals = [v for v in _values(args) if v is not None]  # nulls: runs without the value
        unit = " %" if spec and spec.startswith("%") else ""
        if len(vals) < 2:
            return f"{fmt(vals[0], spec)}{unit} (n = 1)" if vals else "-"
        unit = " %" if spec and spec.startswith("%") else ""
        return (f"{fmt(statistics.mean(vals), spec)} +- {fmt(statistics.stdev(vals), spec)}{unit}"
                f" (n = {len(vals)})")
    if op == "load":
        return load_text(args[0])
    raise ValueError(f"unknown operator {op!r} in {{{expr}}}")


_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
#: A number typed in a cell: digits not glued to a letter, digit, '_' or '.' before them
#: (so float32, Tsit5, L2 and H100 are names, not numbers).
NUMBER = re.compile(r"(?<![A-Za-z0-9_.])\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")


def refs_of(template: str) -> list[str]:
    out = []
    for expr in _PLACEHOLDER.findall(template):
        body = _split(expr.partition("|")[0])
        if body and body[0] == "load":
            out.append(body[1] + "#")
        out.extend(t for t in body if "#" in t)
    return out


def render_cell(template: str) -> str:
    return _PLACEHOLDER.sub(lambda m: evaluate(m.group(1)), template)


def literal_numbers(template: str) -> list[str]:
    """Numbers typed as text in a template (outside its placeholders)."""
    return NUMBER.findall(_PLACEHOLDER.sub(" ", template))


# ------------------------------------------------------------------------------------ conditions


def _num_range(values) -> str:
    vals = [float(v) for v in values if isinstance(v, (int, float))]
    if not vals:
        return "not recorded"
    lo, hi = min(vals), max(vals)
    return f"{lo:.1f}" if round(lo, 1) == round(hi, 1) else f"{lo:.1f}-{hi:.1f}"


def load_text(name: str) -> str:
    c = load(name).get("conditions", {})
    la = c.get("load_average", "not recorded")
    if isinstance(la, (int, float)):
        return f"{la:.1f}"
    if isinstance(la, list):
        return _num_range(la)
    return str(la)


def conditions_text(files: list[str], sep: str = "<br>") -> str:
    """The conditions cell: for each cited file, machine, sides, load, versions, commit."""
    groups: dict[str, list[str]] = {}
    for name in dict.fromkeys(files):
        c = load(name).get("conditions")
        if c is None:
            groups.setdefault("conditions not recorded", []).append(name)
            continue
        bits = [str(c.get("machine", "machine not recorded"))]
        if c.get("code"):
            code = str(c["code"])
            bits.append(code.split(":")[0] + " code" if code.startswith("wave") else f"code {code}")
        dev = c.get("devices")
        if isinstance(dev, dict):
            bits.append(", ".join(f"{k}: devices not recorded" if v == "not recorded" else f"{k} {v}"
                                  for k, v in dev.items()))
        elif dev:
            bits.append(str(dev))
        bits.append(f"load {load_text(name)}")
        ver = c.get("versions")
        if isinstance(ver, dict) and ver:
            bits.append(", ".join(f"{k} {v}" for k, v in ver.items()))
        commit = str(c.get("commit", "not recorded"))
        m = re.search(r"committed in ([0-9a-f]{7,40})", commit)
        bits.append(f"commit {commit}" if re.fullmatch(r"[0-9a-f]{7,40}", commit)
                    else f"commit not recorded (file from {m.group(1)})" if m else f"commit {commit}")
        groups.setdefault("; ".join(bits), []).append(name)
    return sep.join(", ".join(f"`{n}`" for n in names) + ": " + text for text, names in groups.items())


# ------------------------------------------------------------------------------------------ tables


@dataclass
class Table:
    """A Markdown table rendered between ``<!-- results:name -->`` markers in ``file``.

    ``measured``: indices of the columns whose numbers must all come from placeholders.
    ``conditions``: add a conditions column (filled from the cited files) before the last column;
    without it (the docs' tables), a line under the table gives the cited files and their conditions.
    """

    name: str
    file: str
    header: list[str]
    rows: list[list[str]]
    measured: tuple[int, ...] = (1,)
    conditions: bool = True
    note: str = ""

    def cells(self):
        out = []
        for r in self.rows:
            rendered = [render_cell(c) for c in r]
            if self.conditions:
                files = [ref.split("#", 1)[0] for c in r for ref in refs_of(c)]
                rendered.insert(len(rendered) - 1, conditions_text(files))
            out.append(rendered)
        return out

    def render(self) -> str:
        header = [render_cell(h) for h in self.header]
        if self.conditions:
            header.insert(len(header) - 1, "Conditions")
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in self.cells():
            lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in r) + " |")
        if self.note:
            lines += ["", render_cell(self.note)]
        if not self.conditions:
            files = [ref.split("#", 1)[0] for r in self.rows for c in r for ref in refs_of(c)]
            lines += ["", "Rendered from " + conditions_text(files, sep="; ") + "."]
        return "\n".join(lines)


def row(what, measured, target="", reproduce=""):
    """A README row: What | Measured | Target | (Conditions) | Reproduce."""
    return [what, measured, target, reproduce]


def final_best(file):
    """Final-epoch accuracy in bold, the best epoch beside it, marked as chosen on the test set."""
    return (f"**{{{file}#final_test_acc|%.2f}} %** final (best epoch {{{file}#best_test_acc|%.2f}} %, "
            f"chosen on test: not a result)")


def acc(what, file, target="", reproduce="", extra=""):
    """A README row for one training run: final-epoch test accuracy, the best epoch beside it."""
    return row(what, final_best(file) + f" after {{{file}#epochs_done}} epochs" + (f"; {extra}" if extra else ""),
               target, reproduce)


README = "README.md"

# The event-run delay cases written so far (the benchmark writes them one by one).
_EVD = json.loads((Path(__file__).resolve().parent / "results" / "spike_times_events_delays.json").read_text())
_EVD_CASES, _EVD_CLOSED = len(_EVD["gradients"]), len(_EVD["closed_form"])
HEAD = ["What", "Measured", "Target", "Reproduce"]

TABLES: list[Table] = []


def table(name, file, rows, header=HEAD, **kw):
    TABLES.append(Table(name, file, list(header), rows, **kw))


# ============================================================================== the registry itself
# One Table per marked block. README tables first, then docs figure tables.

# ============================================================================== the registry itself
# One ``table(...)`` per marked block; README tables first, then the docs' figure tables.
# Rows: ``row(what, measured, target, reproduce)``; ``acc(...)`` for one training run.

D = "MEMSNN_DATA_DIR=../shared/data "
# The fully memristive SPICEprop network with its fine-tuning run chosen on the validation split (issue 25).
XV = "crossbar_training_validated.json"
_CHOSEN = load(XV)["selection"]["chosen"]
# Its test deployment on 5 chips with wires (issue 25, item 5; the earlier figure's protocol).
_DV = 'crossbar_training_deploy_validated.json#accuracy["hardware-aware training"]'
_DV_ROW = load("crossbar_training_deploy_validated.json")
_DV_ACC = _DV_ROW["accuracy"]["hardware-aware training"]
_DV_DONE = len(_DV_ACC["per_chip"]) == _DV_ROW["chips"]
_DV_STATUS = ("met" if _DV_ACC["mean"] >= 0.976 else "**missed**") + ("" if _DV_DONE else " so far")
# The choice checked on 5 deployed validation chips per run, wires solved exactly (--stage select).
SV = "crossbar_training_select_validated.json"
_SV = load(SV)
# Its energy per image from the circuit on the deployment's chip 0 (issue 25, item 7), against the
# seed's best chip figure: 51.4 nJ at >= 97.5 %.
_EN = load("crossbar_energy.json")
_EN_IMAGES = ("all {crossbar_energy.json#n_test|,.0f} test images" if _EN["n_test"] == 10000
              else "the first {crossbar_energy.json#n_test|,.0f} test images")
_EN_STATUS = ("energy and accuracy **met**" if _EN["report"]["accuracy"] >= 0.975 else
              "energy met; the accuracy on this chip and subset **missed**") if _EN["report"]["total_J"] <= 51.4e-9 \
    else "energy **missed**"


# SpikeProp on the original Wisconsin set by cross-validation (issue 24): met or missed from the file.
_WBC_CV5_STATUS = ("paper: 97.0 % (" + ("met" if min(load(f)["test_acc_mean"] for f in (
    "spikeprop_wbc_cv5.json", "spikeprop_wbc_cv10.json")) >= 0.970 else "**missed** by both") + ")")


# Binary activations with the straight-through estimator (Yin et al. 2017; issue 25): the seeds
# whose runs are finished, per integration mode (rows cite only those files).
STE_SEEDS = {"discontinuous": [0, 1, 2], "continuous": [0, 1, 2]}
STE_E = "surrogate_ste_energy.json#runs"


def _ste(mode, path="final_test_acc", fmt="%.2f", op="meanstd"):
    """Mean +- std (``op``) over the finished seeds of ``mode``: a run file's ``path``, or
    (``energy.``...) the energy file's entry for that run."""
    if path.startswith("energy."):
        refs = [f"{STE_E}[preset=mnist-ste-{mode},seed={k}].{path}" for k in STE_SEEDS[mode]]
    else:
        refs = [f"surrogate_mnist_ste_{mode}_seed{k}.json#{path}" for k in STE_SEEDS[mode]]
    return "{" + op + " " + " ".join(refs) + "|" + fmt + "}" if refs else "not finished"


STE_WHAT = ("784-1024-10 IF neurons (reset by subtraction), Bernoulli rate-coded pixels, 8 steps, non-firing "
            "readout; Adam 2e-3 cosine, batch 128, 6 epochs on 55,000 training images (the last 5,000 held out "
            "for validation), final epoch")
STE_CMD = f"`{D}python benchmarks/surrogate_train.py mnist-ste-discontinuous mnist-ste-continuous --seeds 0 1 2`"


table("readme-full", README, [
    row("SPICEprop, MNIST, paper network (784-100-10 front end -> 10 MIF neurons, 1000 steps), 40 epochs",
        final_best("spiceprop_mnist_idle.json") + "; the same recipe on the loaded machine: "
        "{spiceprop_mnist.json#final_test_acc|%.2f} % final",
        ">= 98.0 % (paper 97.58 %)", f"`{D}python benchmarks/spiceprop_train.py --dataset mnist --tag _idle`"),
    row("SPICEprop as published (ReLU on both dense layers), MNIST and Fashion-MNIST, same network and schedule, but the "
        "drive units' biases initialised to 0.3 (chosen on an MNIST validation split: with the paper's uniform init the ReLU "
        "drive units die; docs/training.md)",
        "MNIST **{spiceprop_mnist_relu.json#final_test_acc|%.2f} %** final after {spiceprop_mnist_relu.json#epochs_done} of "
        "{spiceprop_mnist_relu.json#epochs_planned} epochs (best epoch {spiceprop_mnist_relu.json#best_test_acc|%.2f} %, "
        "chosen on test: not a result); Fashion-MNIST **{spiceprop_fashion-mnist_relu.json#final_test_acc|%.2f} %** final "
        "after {spiceprop_fashion-mnist_relu.json#epochs_done} of {spiceprop_fashion-mnist_relu.json#epochs_planned} epochs "
        "(best epoch {spiceprop_fashion-mnist_relu.json#best_test_acc|%.2f} %, chosen on test: not a result); MNIST with the "
        "uniform init: {spiceprop_mnist_relu_uniform.json#final_test_acc|%.2f} % after "
        "{spiceprop_mnist_relu_uniform.json#epochs_done} epochs",
        "paper 97.58 % MNIST, 75.26 % Fashion-MNIST (both **met** at the final epoch); memsnn's default linear drive: the rows above and below",
        f"`{D}python benchmarks/spiceprop_train.py --dataset mnist --output-activation relu --drive-bias 0.3 --tag _relu` "
        "(`--dataset fashion-mnist` for Fashion-MNIST; uniform init: `--output-activation relu --tag _relu_uniform`)"),
    row("SPICEprop, Fashion-MNIST, same network, 40 epochs", final_best("spiceprop_fashion-mnist.json"),
        ">= 87 % (paper 75.26 %)", f"`{D}python benchmarks/spiceprop_train.py --dataset fashion-mnist`"),
    row("SPICEprop, MNIST, same network, random shifts of up to 2 px, 40 epochs",
        "**{spiceprop_mnist_shift2.json#final_test_acc|%.2f} %** final", "",
        f"`{D}python benchmarks/spiceprop_train.py --dataset mnist --augment-shift 2 --tag _shift2`"),
    row("SPICEprop, MNIST, on the **GPU** (8 of 40 planned epochs run)",
        "{spiceprop_mnist_gpu.json#final_test_acc|%.2f} % after {spiceprop_mnist_gpu.json#epochs_done} epochs",
        "", f"`{D}python benchmarks/spiceprop_train.py --dataset mnist --tag _gpu`"),
    row("Surrogate, MNIST 784-1000-10 LIF, 25 steps, spike-count loss, AdamW, 12 epochs",
        final_best("surrogate_mnist_dense_count.json"),
        ">= 98.5 % (**missed** at the final epoch)", f"`{D}python benchmarks/surrogate_train.py mnist-dense-count`"),
    row("Surrogate, conv SNN 12C5-AP2-64C5-AP2-FC10 LIF, 10 steps, integrator output, MNIST with shifts of up to 2 px, 12 epochs",
        "CPU, seed {surrogate_mnist_conv.json#conditions.seeds[0]}: **{surrogate_mnist_conv.json#final_test_acc|%.2f} %**; **GPU**, "
        "**{meanstd surrogate_mnist_conv_gpu.json#final_test_acc surrogate_mnist_conv_gpu_seed1.json#final_test_acc|%.2f}**",
        ">= 99.3 % (met by the CPU run only; the GPU seeds' mean misses it)",
        f"`{D}python benchmarks/surrogate_train.py mnist-conv [--seed 1 --tag _gpu_seed1]`"),
    row("Surrogate, conv SNN 32C5-AP2-64C5-AP2-FC10, trainable per-neuron decay and threshold, slope 5, MNIST with shifts of up to 2 px (**GPU**, seeds 0 and 1; 64C5-128C5 seed 0)",
        "{surrogate_mnist_conv_wide_gpu.json#epochs_done} epochs: **{meanstd surrogate_mnist_conv_wide_gpu.json#final_test_acc surrogate_mnist_conv_wide_gpu_seed1.json#final_test_acc|%.2f}**; "
        "{surrogate_mnist_conv_wide_gpu_e25.json#epochs_done} epochs: {meanstd surrogate_mnist_conv_wide_gpu_e25.json#final_test_acc surrogate_mnist_conv_wide_gpu_e25_seed1.json#final_test_acc|%.2f}; "
        "channels doubled (one seed): {surrogate_mnist_conv_wide_gpu_c64x128.json#final_test_acc|%.2f} %",
        ">= 99.3 % (at the seed mean)",
        f"`{D}python benchmarks/surrogate_train.py mnist-conv-wide [--seed 1] [--epochs 25] [--channels 64 128] --tag _gpu`"),
    row("Surrogate, conv SNN 32C5-AP2-64C5-AP2-FC10, trainable decay and threshold, slope 5, **Fashion-MNIST**, 15 epochs; GPU seeds 0 and 1, CPU seed 0",
        "**GPU**: **{meanstd surrogate_fashion_conv_wide_gpu.json#final_test_acc surrogate_fashion_conv_wide_gpu_seed1.json#final_test_acc|%.2f}**; "
        "CPU, one seed: {surrogate_fashion_conv_wide.json#final_test_acc|%.2f} % ({surrogate_fashion_conv_wide.json#train_wall_time_s|,.0f} s)",
        ">= 90 %", f"`{D}python benchmarks/surrogate_train.py fashion-conv-wide [--seed 1] [--tag _gpu]`"),
    row("Surrogate, conv SNN 12C5-AP2-64C5 (narrower), Fashion-MNIST: plain recipe 10 epochs (CPU); trainable decay/threshold, slope 5, 8 epochs (CPU); the same 15 epochs (**GPU**, seeds 0 and 1)",
        "{surrogate_fashion_conv.json#final_test_acc|%.2f} % (train {surrogate_fashion_conv.json#history[-1].train_acc|%.1f} %: underfits); "
        "{surrogate_fashion_conv_learn.json#final_test_acc|%.2f} %; "
        "{meanstd surrogate_fashion_conv_learn_15_gpu.json#final_test_acc surrogate_fashion_conv_learn_15_gpu_seed1.json#final_test_acc|%.2f}",
        ">= 90 % (not with this width)",
        "`... surrogate_train.py fashion-conv`, `fashion-conv-learn`, `fashion-conv-learn --epochs 15 --tag _15_gpu`"),
    row("Fully memristive SPICEprop, MNIST (784-100-10 crossbars + 10 MIF), \"realistic\" preset (16 levels, 1 % programming noise, 2 % read noise, 1 % stuck-at programmed fault-aware, 1 Ohm wires on 256x256 tiles); "
        "ideal SPICEprop 12 epochs and two hardware-aware fine-tuning runs (15 epochs with +-1 px shifts; 8 without) trained on 55,000 images, "
        "the run **chosen on the validation split** (the other 5,000 training images), final epoch; "
        "deployed as the earlier figure was: 5 chips (keys 100-104) programmed by the deployment path, wires solved exactly, "
        "all 10,000 test images, one read (read-noise draw) per 2,500 images; beside it the training's own final-epoch test "
        "(batches of 1,000, each on a freshly programmed simulated chip, wires left out as in training)",
        "hardware-aware, chosen on validation (" + _CHOSEN + "), deployed: **{meanstd " + _DV + ".per_chip|%.2f}**"
        + ("" if _DV_DONE else " (**not finished**: the chips measured before the session's end)") + "; "
        "training's final-epoch test {" + XV + "#" + _CHOSEN + ".final_test_acc|%.2f} %; "
        "validation: hwa-shift1-val5000 {" + XV + "#selection.candidates[\"hwa-shift1-val5000\"].final_val_acc|%.2f} %, "
        "hwa-val5000 {" + XV + "#selection.candidates[\"hwa-val5000\"].final_val_acc|%.2f} % (the same simulated chips); "
        "on deployed validation chips with wires {meanstd " + SV + "#candidates[\"hwa-shift1-val5000\"].per_chip|%.2f} vs "
        "{meanstd " + SV + "#candidates[\"hwa-val5000\"].per_chip|%.2f}. "
        "Earlier figure (trained on all the training images, the run **chosen on the test set**, not a result): "
        "{meanstd crossbar_training.json#deploy.accuracy[\"hardware-aware training\"].per_chip|%.2f} on deployed chips (n: chips)",
        ">= 97.6 % (" + _DV_STATUS + ")",
        f"`{D}python benchmarks/crossbar_training.py --ideal-name ideal-val5000 --validation 5000 --resume` with "
        "`--stage ideal`, `--stage hwa --hwa-name hwa-shift1-val5000 --hwa-epochs 15 --hwa-lr 1e-3 --hwa-augment-shift 1`, "
        "`--stage hwa --hwa-name hwa-val5000 --hwa-epochs 8 --hwa-lr 1e-3`, `--stage deploy --hwa-name CHOSEN --chips 5 "
        "--only-hwa --result-key deploy_validated --read-batch 2500`; ablation and drift (earlier run): "
        "[docs/crossbar.md](docs/crossbar.md)"),
    row("ANN-to-SNN conversion, **MNIST**, QCFS L = 8 with batch norm folded into the weights (32C5-AP2-BN-64C5-AP2-BN-FC10), 10 epochs (AdamW lr 3e-3, weight decay 0.01, cosine; +-2 px shifts) on 55,000 training images (the other 5,000 a validation split), final epoch, one seed; all 10,000 test images, SNN at T = 4 / 8 / 16; SpikingJelly 2.0 ann2snn (its 99.9 % mode, QCFS as ReLU) on the same folded weights, all 10,000 test images, the same T",
        "ANN {conversion_qcfs_bn_mnist.json#datasets.mnist.ann_qcfs.ann_accuracy|%.2f} % (validation {conversion_qcfs_bn_mnist.json#datasets.mnist.ann_qcfs.final_val_acc|%.2f} %); SNN {conversion_qcfs_bn_mnist.json#datasets.mnist.memsnn.qcfs.rows[steps=4].accuracy|%.2f} / "
        "{conversion_qcfs_bn_mnist.json#datasets.mnist.memsnn.qcfs.rows[steps=8].accuracy|%.2f} / **{conversion_qcfs_bn_mnist.json#datasets.mnist.memsnn.qcfs.rows[steps=16].accuracy|%.2f}** %; "
        "SpikingJelly {conversion_qcfs_bn_mnist.json#datasets.mnist.compare.qcfs.spikingjelly.rows[steps=4].accuracy|%.2f} / {conversion_qcfs_bn_mnist.json#datasets.mnist.compare.qcfs.spikingjelly.rows[steps=8].accuracy|%.2f} / "
        "{conversion_qcfs_bn_mnist.json#datasets.mnist.compare.qcfs.spikingjelly.rows[steps=16].accuracy|%.2f} %",
        ">= 99.3 % at T <= 16 (met at T = 8 and 16)",
        "`memsnn train --method conversion --dataset mnist --data full --validation 5000 --conv-channels 32 64 --batch-norm --activation qcfs --levels 8 --epochs 10 --lr 3e-3 --schedule cosine --weight-decay 0.01 --augment-shift 2 --eval-steps 4 8 16 32 --out runs/a25-conversion-mnist-qcfs --resume` (started as `--epochs 7`, resumed after epoch 2 with `--epochs 10`), then `python benchmarks/conversion.py --datasets mnist --runs runs/a25 --activations qcfs --steps 4 8 16 --compare-subset 10000 --out benchmarks/results/conversion_qcfs_bn_mnist.json`"),
    row("ANN-to-SNN conversion, **Fashion-MNIST**, QCFS L = 8 with batch norm folded into the weights (32C5-AP2-BN-64C5-AP2-BN-FC10), 15 epochs (AdamW lr 3e-3, weight decay 0.01, cosine; +-1 px shifts and horizontal flips) on 55,000 training images (the other 5,000 a validation split), final epoch, one seed; all 10,000 test images, SNN at T = 4 / 8 / 16 / 32; SpikingJelly 2.0 ann2snn (its 99.9 % mode, QCFS as ReLU) on the same folded weights, all 10,000 test images, the same T",
        "ANN {conversion_qcfs_bn_fashion-mnist.json#datasets.fashion-mnist.ann_qcfs.ann_accuracy|%.2f} % (validation {conversion_qcfs_bn_fashion-mnist.json#datasets.fashion-mnist.ann_qcfs.final_val_acc|%.2f} %); SNN {conversion_qcfs_bn_fashion-mnist.json#datasets.fashion-mnist.memsnn.qcfs.rows[steps=4].accuracy|%.2f} / "
        "{conversion_qcfs_bn_fashion-mnist.json#datasets.fashion-mnist.memsnn.qcfs.rows[steps=8].accuracy|%.2f} / {conversion_qcfs_bn_fashion-mnist.json#datasets.fashion-mnist.memsnn.qcfs.rows[steps=16].accuracy|%.2f} / **{conversion_qcfs_bn_fashion-mnist.json#datasets.fashion-mnist.memsnn.qcfs.rows[steps=32].accuracy|%.2f}** %; "
        "SpikingJelly {conversion_qcfs_bn_fashion-mnist.json#datasets.fashion-mnist.compare.qcfs.spikingjelly.rows[steps=4].accuracy|%.2f} / {conversion_qcfs_bn_fashion-mnist.json#datasets.fashion-mnist.compare.qcfs.spikingjelly.rows[steps=8].accuracy|%.2f} / "
        "{conversion_qcfs_bn_fashion-mnist.json#datasets.fashion-mnist.compare.qcfs.spikingjelly.rows[steps=16].accuracy|%.2f} / {conversion_qcfs_bn_fashion-mnist.json#datasets.fashion-mnist.compare.qcfs.spikingjelly.rows[steps=32].accuracy|%.2f} %",
        ">= 90 % at T <= 32 (met at every T from 4)",
        "`memsnn train --method conversion --dataset fashion-mnist --data full --validation 5000 --conv-channels 32 64 --batch-norm --activation qcfs --levels 8 --epochs 15 --lr 3e-3 --schedule cosine --weight-decay 0.01 --augment-shift 1 --augment-flip --eval-steps 4 8 16 32 --out runs/a25-conversion-fashion-mnist-qcfs --resume`, then `python benchmarks/conversion.py --datasets fashion-mnist --runs runs/a25 --activations qcfs --steps 4 8 16 32 --compare-subset 10000 --out benchmarks/results/conversion_qcfs_bn_fashion-mnist.json`"),
    row("ANN-to-SNN conversion, MNIST, QCFS L = 8, 16C5-AP2-32C5-AP2-FC10, 4 epochs, all 10,000 test images; SNN at T = 4 / 8 / 16 / 32 / 64 / 128",
        "ANN {conversion_mnist_qcfs_full_test.json#ann_accuracy|%.2f} %; SNN **{conversion_mnist_qcfs_full_test.json#snn[0].accuracy|%.2f}** / "
        "{conversion_mnist_qcfs_full_test.json#snn[1].accuracy|%.2f} / **{conversion_mnist_qcfs_full_test.json#snn[2].accuracy|%.2f}** / "
        "{conversion_mnist_qcfs_full_test.json#snn[3].accuracy|%.2f} / {conversion_mnist_qcfs_full_test.json#snn[4].accuracy|%.2f} / "
        "{conversion_mnist_qcfs_full_test.json#snn[5].accuracy|%.2f} %",
        ">= 99.3 % at T <= 16 (**missed**: the ANN itself is below it after 4 epochs)",
        "`memsnn train --method conversion --dataset mnist --data full --activation qcfs --epochs 4 --lr 5e-3 --augment-shift 2`"),
    row("ANN-to-SNN conversion, **Fashion-MNIST**, QCFS L = 8, 32C5-AP2-64C5-AP2-FC10, 10 epochs, +-1 px shifts, all 10,000 test images, SNN at T = 4 / 8 / 16 / 32; SpikingJelly 2.0 ann2snn (its 99.9 % mode) on the same weights, first 2,000 test images, T = 32",
        "ANN {conversion_qcfs_32-64.json#datasets.fashion-mnist.ann_qcfs.ann_accuracy|%.2f} %; SNN {conversion_qcfs_32-64.json#datasets.fashion-mnist.memsnn.qcfs.rows[steps=4].accuracy|%.2f} / {conversion_qcfs_32-64.json#datasets.fashion-mnist.memsnn.qcfs.rows[steps=8].accuracy|%.2f} / "
        "**{conversion_qcfs_32-64.json#datasets.fashion-mnist.memsnn.qcfs.rows[steps=16].accuracy|%.2f}** / {conversion_qcfs_32-64.json#datasets.fashion-mnist.memsnn.qcfs.rows[steps=32].accuracy|%.2f} %; "
        "SpikingJelly {conversion_qcfs_32-64.json#datasets.fashion-mnist.compare.qcfs.spikingjelly.rows[steps=32].accuracy|%.2f} % vs memsnn {conversion_qcfs_32-64.json#datasets.fashion-mnist.compare.qcfs.memsnn.rows[steps=32].accuracy|%.2f} %",
        ">= 90 % at T <= 32 (**missed**: the ANN itself is below it)",
        "`python benchmarks/conversion.py --datasets fashion-mnist --activations qcfs --channels 32 64 --epochs-qcfs 10 --augment-shift 1 --steps 4 8 16 32 --compare-subset 2000 --out benchmarks/results/conversion_qcfs_32-64.json`"),
    row("ANN-to-SNN conversion, **MNIST**, the same pre-declared setting (QCFS L = 8, 32C5-AP2-64C5-AP2-FC10, 10 epochs, +-1 px shifts), all 10,000 test images, SNN at T = 4 / 8 / 16 / 32; SpikingJelly 2.0 ann2snn (its 99.9 % mode) on the same weights, first 2,000 test images, T = 16",
        "ANN {conversion_qcfs_32-64_mnist.json#datasets.mnist.ann_qcfs.ann_accuracy|%.2f} %; SNN {conversion_qcfs_32-64_mnist.json#datasets.mnist.memsnn.qcfs.rows[steps=4].accuracy|%.2f} / {conversion_qcfs_32-64_mnist.json#datasets.mnist.memsnn.qcfs.rows[steps=8].accuracy|%.2f} / "
        "**{conversion_qcfs_32-64_mnist.json#datasets.mnist.memsnn.qcfs.rows[steps=16].accuracy|%.2f}** / {conversion_qcfs_32-64_mnist.json#datasets.mnist.memsnn.qcfs.rows[steps=32].accuracy|%.2f} %; "
        "SpikingJelly {conversion_qcfs_32-64_mnist.json#datasets.mnist.compare.qcfs.spikingjelly.rows[steps=16].accuracy|%.2f} % vs memsnn {conversion_qcfs_32-64_mnist.json#datasets.mnist.compare.qcfs.memsnn.rows[steps=16].accuracy|%.2f} %",
        ">= 99.3 % at T <= 16 (**missed**: the ANN itself is below it)",
        "`python benchmarks/conversion.py --datasets mnist --activations qcfs --channels 32 64 --epochs-qcfs 10 --augment-shift 1 --steps 4 8 16 32 --compare-subset 2000 --out benchmarks/results/conversion_qcfs_32-64_mnist.json`"),
    row("Conversion, accuracy against T (first 2,000 test images): ReLU max norm / 99.9 % norm / QCFS; MNIST at T = 4 and T = 16, Fashion-MNIST at T = 32",
        "MNIST: {conversion.json#datasets.mnist.memsnn.relu_max.rows[steps=4].accuracy|%.1f} / {conversion.json#datasets.mnist.memsnn.relu_percentile.rows[steps=4].accuracy|%.2f} / {conversion.json#datasets.mnist.memsnn.qcfs.rows[steps=4].accuracy|%.2f} and "
        "{conversion.json#datasets.mnist.memsnn.relu_max.rows[steps=16].accuracy|%.2f} / {conversion.json#datasets.mnist.memsnn.relu_percentile.rows[steps=16].accuracy|%.2f} / {conversion.json#datasets.mnist.memsnn.qcfs.rows[steps=16].accuracy|%.2f} %; "
        "Fashion-MNIST: {conversion.json#datasets.fashion-mnist.memsnn.relu_max.rows[steps=32].accuracy|%.2f} / {conversion.json#datasets.fashion-mnist.memsnn.relu_percentile.rows[steps=32].accuracy|%.2f} / {conversion.json#datasets.fashion-mnist.memsnn.qcfs.rows[steps=32].accuracy|%.2f} % "
        "(ANN: ReLU {conversion.json#datasets.fashion-mnist.ann_relu.ann_accuracy|%.2f} %, QCFS {conversion.json#datasets.fashion-mnist.ann_qcfs.ann_accuracy|%.2f} %)",
        "F-MNIST >= 90 % at T <= 32 (**missed**)", "`python benchmarks/conversion.py --datasets mnist fashion-mnist --test-subset 2000`"),
    row("Quantized weight transfer by weight-map STDP programming (Hwang et al. 2021), 784-800-10 MNIST, 3 levels (n = 1), varied devices (d2d 0.1, c2c 0.05), SNN at T = 64; the range over n = 1..7 (3..15 levels) at T = 64",
        "**{weight_transfer.json#levels.1.varied.snn[steps=64].accuracy|%.2f} %** in **{weight_transfer.json#levels.1.varied.steps|,.0f}** programming steps "
        "vs {weight_transfer.json#levels.1.one_by_one.steps|,.0f} one by one ({weight_transfer.json#levels.1.weights|,.0f} weights) and "
        "{weight_transfer.json#levels.1.write_verify.steps|M.2f} M write-verify pulses; over all level counts: "
        "{min weight_transfer.json#levels.*.varied.snn[steps=64].accuracy|%.2f}-{max weight_transfer.json#levels.*.varied.snn[steps=64].accuracy|%.2f} %",
        ">= 97.58 % (paper)", f"`{D}python benchmarks/weight_transfer.py`"),
    row("The same, device-to-device spread sigma 0.2 / 0.5 (n = 1, T = 32, mean of 2 seeds)",
        "{weight_transfer.json#sweeps[n=1,kind=d2d,sigma=0.2].snn_accuracy_mean|%.2f} / {weight_transfer.json#sweeps[n=1,kind=d2d,sigma=0.5].snn_accuracy_mean|%.2f} %",
        "", "same (`--sweeps-only`)"),
    row("Diehl & Cook unsupervised MNIST, 100 excitatory neurons, one pass over the 60,000 training images (the paper's protocol), "
        "explicit Euler at 0.5 ms (as their Brian code); labels from the frozen responses to 10,000 training images, all 10,000 test images, seed 0",
        "**{stdp_mnist_N100.json#test_accuracy|%.1f} %**", ">= 82.9 % (**missed**, full epoch)",
        f"`{D}python benchmarks/stdp_mnist.py --neurons 100 --integrator euler --out runs/stdp100` (`--resume` continues)"),
    row("The same 100-neuron protocol with exponential Euler at 0.5 ms (`memsnn.ExponentialEuler`, the default for new runs since the 400-neuron blow-up; "
        "not chosen on this run's accuracy), one full pass, labels from 10,000 training images, all 10,000 test images, seed 0",
        "**{stdp_mnist_N100_exp.json#test_accuracy|%.2f} %**", ">= 82.9 % (**missed**, full epoch)",
        f"`{D}python benchmarks/stdp_mnist.py --neurons 100 --integrator exponential --out runs/stdp100-exp --tag _exp` (`--resume` continues)"),
    row("The same 100-neuron exponential-Euler pass (its 60,000-image checkpoint, the learning unchanged) labelled as Diehl & Cook's evaluation script does: "
        "a neuron silent for every class gets no label (before: class 0, diluting class 0's mean); the refractory handling "
        "(their Brian 1 code lets the membrane integrate through it) chosen on a validation split, not on the test set: "
        "held at the reset {stdp_mnist_N100_val10k_base.json#validation_accuracy|%.2f} % against integrating {stdp_mnist_N100_val10k_noclamp.json#validation_accuracy|%.2f} % "
        "(10,000 learning images, 5,000 held-out training images 50,000-54,999); all 10,000 test images. No neuron was silent for every class: "
        "the labels, and so the accuracy, are the row above's; the gap to the paper stays open (docs/plasticity.md lists every difference from their code)",
        "**{stdp_mnist_N100_exp_relabel.json#test_accuracy|%.2f} %**", ">= 82.9 % (**missed**, full epoch)",
        f"`{D}python benchmarks/stdp_mnist.py --neurons 100 --integrator exponential --out COPY_OF_runs/stdp100-exp --resume --evaluate-only --tag _exp_relabel`; "
        f"validation: `... --images 10000 --validation 10000 --label-images 5000 --test-images 5000 [--no-clamp-refractory]`"),
    row("The same 100-neuron protocol (exponential Euler, membrane held through the refractory period: the configuration kept on the validation split, where "
        "Diehl & Cook's simulated rest did not help and their input delays were too slow to try), two more seeds, each one full pass over the 60,000 training images, "
        "labels from 10,000 training images, all 10,000 test images; beside the first seed's pass above (the three seeds: mean +- sd)",
        "**{meanstd stdp_mnist_N100_exp_relabel.json#test_accuracy stdp_mnist_N100_exp_seed1.json#test_accuracy stdp_mnist_N100_exp_seed2.json#test_accuracy|%.2f}** over the three seeds "
        "(the second seed: {stdp_mnist_N100_exp_seed1.json#test_accuracy|%.2f} %; the third, a later session at load {load stdp_mnist_N100_exp_seed2.json}: {stdp_mnist_N100_exp_seed2.json#test_accuracy|%.2f} %; "
        "the first seed's pass: {stdp_mnist_N100_exp_relabel.json#test_accuracy|%.2f} %)", ">= 82.9 % (**missed**, full epoch)",
        f"`{D}python benchmarks/stdp_mnist.py --neurons 100 --integrator exponential --seed 1 --tag _exp_seed1 --out runs/dc100-final-seed1` (`--resume` continues; "
        f"the third: `--seed 2 --tag _exp_seed2 --out runs/dc100-final-seed2`)"),
    row("Diehl & Cook, 400 excitatory neurons, exponential Euler (`--integrator exponential`: explicit Euler's inhibition bursts "
        "blew a 400-neuron run up at 1,250 images), one full pass over the **{stdp_mnist_N400.json#training_images_seen|,.0f}** training images "
        "(the paper's protocol; run in three parts with `--resume`), labels from 10,000 training images, all 10,000 test images, seed 0",
        "**{stdp_mnist_N400.json#test_accuracy|%.2f} %** (the same run after {stdp_mnist_N400_14700.json#training_images_seen|,.0f} images: {stdp_mnist_N400_14700.json#test_accuracy|%.2f} %, "
        "after {stdp_mnist_N400_53500.json#training_images_seen|,.0f}: {stdp_mnist_N400_53500.json#test_accuracy|%.2f} %)", ">= 87.0 % (met, after the paper's one pass)",
        f"`{D}python benchmarks/stdp_mnist.py --neurons 400 --integrator exponential --out runs/stdp400` (`--resume` continues)"),
    row("Diehl & Cook on NeuroSim crossbar devices (cycle-to-cycle write noise drawn for every device written) vs ideal weights, 200 training images (500 test images)",
        "{stdp_mnist_N100_crossbar_200img_writenoise.json#test_accuracy|%.1f} % vs {stdp_mnist_N100_200img_writenoise.json#test_accuracy|%.1f} % "
        "(before the writes drew noise: {stdp_mnist_N100_crossbar_200img.json#test_accuracy|%.1f} % vs {stdp_mnist_N100_200img.json#test_accuracy|%.1f} %); "
        "on the crossbar only the weight normalisation wrote pulses: the rule's own requests (nearly) all stayed below half a pulse, which nearest rounding loses", "",
        f"`{D}python benchmarks/stdp_mnist.py --neurons 100 --images 200 --label-images 500 --test-images 500 [--crossbar neurosim] --tag _200img_writenoise`"),
    row("Binary activations with the straight-through estimator (Yin et al. 2017), MNIST: " + STE_WHAT + ". The "
        "paper's own set-up (the authors' code, ShihuiYin/BASNN): 784-1024-1024-10, 400 epochs, dropout, squared "
        "hinge loss; discontinuous integration (here: window 1, every step from rest) trained one step at a time and tested at a chosen number of steps "
        "(default 1); continuous integration shown on N-MNIST. The chip's network size and steps: not in the "
        "abstract, not known here" + ("" if all(len(v) == 3 for v in STE_SEEDS.values()) else
                                      ". **Partial**: not every mode has its 3 seeds finished (n below)"),
        "discontinuous integration: **" + _ste("discontinuous") + "**; continuous: **"
        + _ste("continuous") + "**; epochs done per seed " + _ste("discontinuous", "epochs_done", ".0f", "list") + " / "
        + _ste("continuous", "epochs_done", ".0f", "list"),
        ">= 98.0 % each, mean of 3 seeds (paper: > 98 %): met by both modes", STE_CMD),
    row("Energy per MNIST image (10,000 test images) of the binary-activation network above, mean over its seeds: "
        "NeuroBench synaptic operations (all accumulates: every layer's inputs are spikes) at 0.9 pJ per AC. A "
        "count priced by a proxy: neuron updates, memory traffic and leakage not counted (docs/energy.md, 3b)",
        "discontinuous: **" + _ste("discontinuous", "energy.proxy_total_J", "n.1f") + " nJ**; continuous: **"
        + _ste("continuous", "energy.proxy_total_J", "n.1f") + " nJ**",
        "compare the seed's chip: 51.4-773 nJ (measured in 28 nm: everything the chip draws)",
        f"`{D}python benchmarks/surrogate_train.py mnist-ste-discontinuous mnist-ste-continuous --seeds 0 1 2 "
        "--energy surrogate_ste_energy`; `memsnn evaluate CKPT --energy`"),
    row("Energy per MNIST image (10,000 test images), SPICEprop network: per component, with the MAC proxy of the front end",
        "{codesign_energy.json#report.total_J|n.1f} nJ at {codesign_energy.json#report.accuracy|%.2f} % (MAC proxy {codesign_energy.json#report.proxy_total_J|n.2f} nJ); "
        "with the co-designed readout devices **{codesign_energy_codesigned.json#report.total_J|n.1f} nJ**, same accuracy "
        "({codesign_energy_codesigned.json#report.accuracy|%.2f} %)",
        "compare the seed's binary-activation chip, 51.4-773 nJ (measured, 28 nm; its lowest figure not reached: "
        "the MAC proxy alone is above it)",
        "`memsnn evaluate CKPT --energy`; `python benchmarks/codesign.py energy --checkpoint CKPT`"),
    row("Energy per MNIST image of the **fully memristive** SPICEprop network (784-100-10 crossbars + 10 MIF, "
        "the run chosen on the validation split; one \"realistic\" chip (the deployment's chip 0), " + _EN_IMAGES + ") **from the circuit**: "
        "the crossbars' read energy from their nodal solve (every cell's and wire segment's V I, IR drop included; "
        "8 bit-serial 10 ns pulses at 0.2 V per image), ISAAC's DAC / ADC / sample-and-hold / shift-add energy per "
        "conversion, the MIF readout's meter (docs/energy.md, 5)",
        "**{crossbar_energy.json#report.total_J|n.1f} nJ** at {crossbar_energy.json#report.accuracy|%.2f} %: "
        "ADCs {sum crossbar_energy.json#report.front_end_J.*.adc|n.2f} nJ, DACs (rows and readout drive) "
        "{sum crossbar_energy.json#report.front_end_J.*.dac|n.2f} nJ, arrays "
        "{sum crossbar_energy.json#report.front_end_J.*.supplied|n.3f} nJ, readout circuit "
        "{crossbar_energy.json#report.circuit_J.supplied|n.2f} nJ; with a digital front end (proxy) "
        "{crossbar_energy.json#report.digital_total_J|n.1f} nJ",
        "<= 51.4 nJ at >= 97.5 % (the seed's best chip figure): " + _EN_STATUS,
        f"`{D}python benchmarks/crossbar_training.py --ideal-name ideal-val5000 --validation 5000 --stage energy "
        "--hwa-name CHOSEN --first-chip 0 --read-batch 2500`; `memsnn evaluate CKPT --energy`"),
    row("Co-design of the readout devices re-checked by re-training (8,000 training images, 1 epoch; first 2,000 test images)",
        "re-trained at the co-designed devices {codesign_codesign.json#runs.retrained_at_found_devices.accuracy|%.2f} % with a "
        "{codesign_codesign.json#runs.retrained_at_found_devices.circuit_nJ|.1f} nJ circuit vs "
        "{codesign_codesign.json#runs.retrained_at_original_devices.accuracy|%.2f} % / {codesign_codesign.json#runs.retrained_at_original_devices.circuit_nJ|.1f} nJ at the original devices",
        "", "`python benchmarks/codesign.py codesign --checkpoint CKPT`"),
])

table("readme-bundled", README, [  # bundled MNIST subset and generated data: runs offline
    row("Four SPICEprop seeds in one run (`memsnn train --seeds 0 1 2 3`), bundled MNIST, 2 epochs",
        "**{ensemble_runs_cpu.json#test_acc_mean|%.2f} +- {ensemble_runs_cpu.json#test_acc_std|%.2f} %** (n = {len ensemble_runs_cpu.json#test_acc_members}); {ensemble_runs_cpu.json#ensemble_s|.1f} s as one run vs "
        "{ensemble_runs_cpu.json#separate_s|.1f} s as four; each member equal to its single run",
        "", "`python benchmarks/ensemble.py --whole-runs --seeds 0 1 2 3`"),
    row("Same seed on 1 and 8 simulated CPU devices, bundled MNIST, 1 epoch",
        "**{scaling_same_seed.json#runs.1.test_acc[0]|%.2f} % / {scaling_same_seed.json#runs.8.test_acc[0]|%.2f} %** "
        "(loss {scaling_same_seed.json#runs.1.train_loss[0]|.4f} / {scaling_same_seed.json#runs.8.train_loss[0]|.4f})",
        "same to 0.1 %", "`python benchmarks/scaling.py --same-seed`"),
    row("Tempotron capacity (Gütig & Sompolinsky 2006): 500 afferents, one spike each in 500 ms, the paper's online rule (lambda 1e-3, momentum 0.99), at most 1,500 learning cycles up to alpha = 1.5, 4,000 at alpha = 2 and 300 above ([docs/supervised-spike-timing.md](docs/supervised-spike-timing.md)); SpikingJelly 2.0's Tempotron on the same patterns with the same rule",
        "error-free up to alpha = **{tempotron_capacity.json#largest_error_free_alpha|.1f}**; fraction correct at alpha = "
        "{tempotron_capacity.json#rows[-1].alpha|.1f}: {tempotron_capacity.json#rows[-1].fraction_correct|.3f}. SpikingJelly at alpha = "
        "{tempotron_capacity.json#spikingjelly.rows[0].alpha|.1f}: {tempotron_capacity.json#spikingjelly.rows[0].fraction_correct|.3f} correct after "
        "{tempotron_capacity.json#spikingjelly.rows[0].epochs_run} cycles (memsnn: error-free in {tempotron_capacity.json#rows[0].first_error_free_epoch}). "
        "One cycle of {tempotron_capacity.json#timing.n_patterns} patterns: memsnn {tempotron_capacity.json#timing.memsnn_median_wall_s|.2f} s, "
        "SpikingJelly {tempotron_capacity.json#timing.spikingjelly_median_wall_s|.1f} s: **{tempotron_capacity.json#timing.speedup_wall|.0f}x** wall, "
        "{tempotron_capacity.json#timing.speedup_cpu|.0f}x CPU time",
        "paper: error-free up to alpha_c ~ 3 (**missed** within these cycle limits at lambda 1e-3); >= 10x faster per epoch than SpikingJelly",
        "`python benchmarks/tempotron_capacity.py --alphas 0.5 1 1.5 2 --max-epochs 1500`, then `--alphas 2.5 3 --max-epochs 300 --merge --sj-alphas 0.5 --sj-max-epochs 30 --time-alpha 1`, then `--alphas 2 --max-epochs 4000 --chunk 100 --merge`"),
    row("Tempotron capacity near alpha_c with the learning rate lowered in steps when the error rate stops falling: the same patterns, rule and momentum; alpha = 2.5: lambda 3e-4 for 400 cycles, then 1e-4; alpha = 3: 3e-4 for 400, 1e-4 to cycle 578, then 3e-5 (each from the previous checkpoint; [docs/supervised-spike-timing.md](docs/supervised-spike-timing.md))",
        "alpha = {tempotron_capacity_alpha2.5_anneal.json#rows[0].alpha|.1f}: **error-free** in cycle {tempotron_capacity_alpha2.5_anneal.json#rows[0].first_error_free_epoch}; "
        "alpha = {tempotron_capacity_alpha3_anneal.json#rows[0].alpha|.1f}: **error-free** in cycle {tempotron_capacity_alpha3_anneal.json#rows[0].first_error_free_epoch} "
        "(fraction correct after: {tempotron_capacity_alpha2.5_anneal.json#rows[0].fraction_correct|.3f} / {tempotron_capacity_alpha3_anneal.json#rows[0].fraction_correct|.3f}; "
        "at lambda {tempotron_capacity.json#rows[4].lr|g}: {tempotron_capacity.json#rows[4].fraction_correct|.3f} / {tempotron_capacity.json#rows[5].fraction_correct|.3f} after {tempotron_capacity.json#rows[4].epochs_run} cycles)",
        "paper: error-free up to alpha_c ~ 3 (**met**, one seed, with the lowered learning rate)",
        "`python benchmarks/tempotron_capacity.py --alphas 2.5 --lr 3e-4 --max-epochs 400 --chunk 100 --out runs/tc_lr3e-4 --json PROBE.json`, then `--alphas 2.5 --lr 1e-4 --max-epochs 1400 --chunk 100 --out runs/tc_lr3e-4 --json tempotron_capacity_alpha2.5_anneal.json`; alpha = 3: `--alphas 3 --lr 3e-4 --max-epochs 400 --out runs/tc_a3`, `--lr 1e-4 --max-epochs 1400` (stopped at cycle 578), `--lr 3e-5 --max-epochs 900 --json tempotron_capacity_alpha3_anneal.json` (same `--out`)"),
    row("R-STDP task (method `rstdp`): 2 classes of Poisson rate patterns, 3 epochs, 3 seeds, with and without the reward baseline",
        "with the baseline **{meanstd rstdp_task.json#rows[?baseline_rate=0.05].final_test_acc|%.1f}**; without: "
        "{meanstd rstdp_task.json#rows[?baseline_rate=None].final_test_acc|%.1f}",
        "", "`python benchmarks/rstdp_task.py --seeds 0 1 2 --epochs 3`"),
    row("Yin-Yang (generated, 5,000 / 1,000 points), time-to-first-spike training on exact spike times (`memsnn train --method ttfs`), 4+1 -> 200 -> 3 LIF (`--hidden 200`), otherwise the method's defaults (squared error to target times 1.0 / 1.2 tau_syn, neurons fire once, 0.5 ms grid, Adam 1e-2 cosine, batch 64, 60 epochs); settings chosen on the validation split; 5 seeds ([docs/spike-times.md](docs/spike-times.md))",
        "**{meanstd spike_times_yinyang_ens_hidden200.json#rows.*.final_test_acc|%.1f}** final-epoch test accuracy (the default hidden size: {meanstd spike_times_yinyang_lif_t12.json#runs.*.history[-1].test_acc|%.1f}); with SPICEprop MIF neurons, the method's MIF defaults: {meanstd spike_times_yinyang_ens_mif.json#rows.*.final_test_acc|%.1f} after {spike_times_yinyang_ens_mif.json#epochs} epoch (most seeds at chance; [docs/spike-times.md](docs/spike-times.md))",
        ">= 98 % (**met** by the mean, by less than its standard error; 80.0 % with the first defaults)", "`python benchmarks/spike_times_yinyang_select.py --seeds 0 1 2 3 4 --epochs 60 --lr 1e-2` with the `--model` JSON hidden = [200] (the default size: `python benchmarks/spike_times_yinyang.py --neuron lif --seeds 0 1 2 3 4 --tag _t12`)"),
    row("Latency-coded MNIST (full, one spike per pixel, bright first), time-to-first-spike training on exact spike times (`memsnn train --method ttfs --inputs images`), 784+1 -> 700 -> 10 LIF, the image defaults (cross-entropy xi 0.2, image weight scales, neurons fire again after a reset to 0, silent-hidden regulariser gamma_hidden 1) on a 1 ms grid (20 steps), training images shifted by up to 1 pixel (width and shifts chosen on a validation split), Adam 3e-3 cosine over {spike_times_mnist_lif_s7e36.json#epochs} epochs, batch 64, 55,000 training images (5,000 held out for validation), three seeds, each its own run ([docs/spike-times.md](docs/spike-times.md))",
        "**{meanstd spike_times_mnist_lif_s7e36.json#runs.0.final_test_acc spike_times_mnist_lif_s9e36.json#runs.1.final_test_acc spike_times_mnist_lif_s9e36b.json#runs.2.final_test_acc|%.2f}** final-epoch test accuracy over the three seeds (the first: {spike_times_mnist_lif_s7e36.json#runs.0.final_test_acc|%.2f} %, validation {spike_times_mnist_lif_s7e36.json#runs.0.history[-1].val_acc|%.2f} %; "
        "the second, a later session, load {load spike_times_mnist_lif_s9e36.json}: {spike_times_mnist_lif_s9e36.json#runs.1.final_test_acc|%.2f} %, validation {spike_times_mnist_lif_s9e36.json#runs.1.history[-1].val_acc|%.2f} %; the third, the same session beside it: {spike_times_mnist_lif_s9e36b.json#runs.2.final_test_acc|%.2f} %, validation {spike_times_mnist_lif_s9e36b.json#runs.2.history[-1].val_acc|%.2f} %); "
        "the same recipe over {spike_times_mnist_lif_s8e48.json#epochs} epochs (a later session; load {load spike_times_mnist_lif_s8e48.json}): {spike_times_mnist_lif_s8e48.json#runs.0.final_test_acc|%.2f} % (validation {spike_times_mnist_lif_s8e48.json#runs.0.history[-1].val_acc|%.2f} %: below the shorter run on validation too, which stays the recipe); "
        "{spike_times_mnist_lif_s6e18.json#config.hidden[0]} hidden neurons without shifts over {spike_times_mnist_lif_s6e18.json#epochs} epochs: {spike_times_mnist_lif_s6e18.json#runs.0.final_test_acc|%.2f} % (validation {spike_times_mnist_lif_s6e18.json#runs.0.history[-1].val_acc|%.2f} %); "
        "the same over {spike_times_mnist_lif_s5e12.json#epochs} epochs: {spike_times_mnist_lif_s5e12.json#runs.0.final_test_acc|%.2f} % (validation {spike_times_mnist_lif_s5e12.json#runs.0.history[-1].val_acc|%.2f} %); "
        "the same over {spike_times_mnist_lif_s4b.json#epochs} epochs: {spike_times_mnist_lif_s4b.json#runs.0.final_test_acc|%.2f} % (validation {spike_times_mnist_lif_s4b.json#runs.0.history[-1].val_acc|%.2f} %); "
        "the third session's run (the finer default grid, {spike_times_mnist_lif_s3.json#epochs} epochs): {spike_times_mnist_lif_s3.json#runs.0.final_test_acc|%.2f} % (validation {spike_times_mnist_lif_s3.json#runs.0.history[-1].val_acc|%.2f} %); the previous image defaults (fire-once neurons, no regulariser): {spike_times_mnist_lif.json#runs.0.final_test_acc|%.2f} % after {spike_times_mnist_lif.json#runs.0.history[-1].epoch} epochs",
        ">= 97.6 % (EventProp's figure, 97.6 +- 0.1 %; **missed** by the mean)",
        "`python benchmarks/spike_times_yinyang.py --dataset mnist --hidden 700 --validation 5000 --epochs 36 --lr 3e-3 --seeds 0 --save-every 10000 --augment-shift 1 --tag _s7e36` (the others: `--seeds 1 --tag _s9e36`, `--seeds 2 --tag _s9e36b`) with the `--model` JSON dt = 0.001, n_steps = 20 (350 hidden, 18 epochs: `--hidden 350 --epochs 18 --tag _s6e18` without `--augment-shift`; 12 epochs: `--epochs 12 --tag _s5e12`; 3 epochs: `--epochs 3 --tag _s4b`) with the `--model` JSON dt = 0.001, n_steps = 20 (session 3: `--epochs 2 --tag _s3` with the `--model` JSON v_reset = 0, gamma_hidden = 1, the image defaults since) (previous defaults: `python benchmarks/spike_times_yinyang.py --dataset mnist --hidden 350 --validation 5000 --epochs 5 --lr 3e-3 --seeds 0 --save-every 10000`)"),
    row("Yin-Yang TTFS beside jaxsnn 0.3.0 (its EventProp Yin-Yang example set-up, event-based) on the same data, memsnn with the ttfs defaults (LIF target times 1.0 / 1.2 tau_syn), {spike_times_vs_jaxsnn_t12.json#epochs} epochs, {spike_times_vs_jaxsnn_t12.json#memsnn.completed_seeds} seeds, the two alternating seed by seed in one run ([docs/spike-times.md](docs/spike-times.md))",
        "test accuracy memsnn {meanstd spike_times_vs_jaxsnn_t12.json#runs.memsnn.*.history[-1].test_acc|%.1f}, jaxsnn {meanstd spike_times_vs_jaxsnn_t12.json#runs.jaxsnn.*.history[-1].test_acc|%.1f}; "
        "CPU time per epoch {spike_times_vs_jaxsnn_t12.json#memsnn.epoch_cpu_s_median|.2f} s vs {spike_times_vs_jaxsnn_t12.json#jaxsnn.epoch_cpu_s_median|.2f} s: **{spike_times_vs_jaxsnn_t12.json#speedup_cpu_per_epoch|.2f}x**; "
        "wall time {spike_times_vs_jaxsnn_t12.json#memsnn.epoch_train_s_median|.2f} s vs {spike_times_vs_jaxsnn_t12.json#jaxsnn.epoch_train_s_median|.2f} s: {spike_times_vs_jaxsnn_t12.json#speedup_per_epoch|.2f}x (load {load spike_times_vs_jaxsnn_t12.json}); "
        "the earlier run (jaxsnn's target times, the defaults then; {spike_times_vs_jaxsnn.json#epochs} epochs): {meanstd spike_times_vs_jaxsnn.json#runs.memsnn.*.history[-1].test_acc|%.1f} vs {meanstd spike_times_vs_jaxsnn.json#runs.jaxsnn.*.history[-1].test_acc|%.1f}, {spike_times_vs_jaxsnn.json#speedup_cpu_per_epoch|.2f}x CPU",
        "same accuracy within noise, >= 2x faster per epoch (**met** in CPU and wall time, on the loaded CPU; half the earlier run's epochs, for the shared machine's time)", "`python benchmarks/spike_times_vs_jaxsnn.py --epochs 10 --seeds 0 1 2 --tag _t12`"),
    row("SpikeProp XOR (Bohte et al. 2002), 16 terminals, 10 seeds, at most 300 cycles, the adaptive rate rule (`ad`); converged: summed squared error of the 4 patterns below 1 ms^2",
        "**{spikeprop_xor.json#rows[rule=ad].converged_seeds} of {spikeprop_xor.json#rows[rule=ad].seeds}** seeds converge, in "
        "{meanstd spikeprop_xor.json#rows[rule=ad].epochs_to_converge|.0f} cycles (other rules: [docs/supervised-spike-timing.md](docs/supervised-spike-timing.md))",
        "paper: about 250 cycles", "`python benchmarks/spikeprop_xor.py --rules rprop quickprop momentum sgd ad --epochs 300`"),
    row("SpikeProp on Iris (scikit-learn, stratified 80 train / 20 validation / 50 test per seed), the paper's population code (each feature by 12 Gaussian receptive fields, `SpikePropConfig.receptive_fields`: 48 + 1 bias inputs), 10 hidden, 3 outputs, 16 terminals, adaptive rate, 15 epochs; mu constant or decayed (cosine) to 5 %, chosen on the validation split of seeds 0-1; 5 seeds ([docs/supervised-spike-timing.md](docs/supervised-spike-timing.md))",
        "final-epoch test accuracy **{meanstd spikeprop_iris_rf.json#chosen_runs.*.final_test_acc|%.1f}** (per seed {list spikeprop_iris_rf.json#chosen_runs.*.final_test_acc|%.0f} %; "
        "mu final fraction {spikeprop_iris_rf.json#selection.mu_final} chosen); one latency spike per feature instead ({spikeprop_iris_val.json#settings.epochs} epochs, chosen the same way): {meanstd spikeprop_iris_val.json#chosen_runs.*.final_test_acc|%.1f}",
        "paper: 96.1 % (**met** in the mean; seeds 92-100 %)", "`python benchmarks/spikeprop_uci.py --dataset iris --seeds 0 1 2 3 4 --epochs 15 --batch-size 20 --val 20 --fields 12 --mu-finals 1 0.05 --select-on-seeds 2 --json spikeprop_iris_rf.json` (run as seeds 0-1 of both settings, then resumed with `--keep spikeprop_iris_rf.json`)"),
    row("SpikeProp on the paper's breast-cancer set, the *original* Wisconsin one (UCI `breast-cancer-wisconsin.data`, shipped with memsnn and SHA-256 checked, `load_uci('wbc')`: 699 samples, 9 scores 1-10, 16 missing bare-nuclei values, which send no spike; `--dataset wbc`), stratified 2/3 : 1/3 split (466 training / 233 test samples); the paper's population code (each feature by 7 Gaussian receptive fields: 63 + 1 bias = the paper's 64 inputs), 15 hidden, 2 outputs, 16 terminals, adaptive rate, dt = 0.2 ms; the setting chosen before on 50 held-out training samples (standardised scores, mu cosine-decayed to 5 %, {spikeprop_wbc_full20.json#final_epoch} epochs of 10 / 20, by one sample; the paper: 1,500 iterations), here trained on the **whole training split** ([docs/supervised-spike-timing.md](docs/supervised-spike-timing.md#the-original-wisconsin-set))",
        "final-epoch test accuracy **{meanstd spikeprop_wbc_full20.json#chosen_runs.*.final_test_acc|%.1f}** (per seed {list spikeprop_wbc_full20.json#chosen_runs.*.final_test_acc|%.1f} %); the same with {spikeprop_wbc_full.json#final_epoch} epochs: {meanstd spikeprop_wbc_full.json#chosen_runs.*.final_test_acc|%.1f} (per seed {list spikeprop_wbc_full.json#chosen_runs.*.final_test_acc|%.1f} %); "
        "scikit-learn classifiers on the same splits (defaults, a reference): logistic regression {meanstd spikeprop_wbc_full.json#chosen_runs.*.reference_test_acc.logistic_regression|%.1f}, RBF SVM {meanstd spikeprop_wbc_full.json#chosen_runs.*.reference_test_acc.svm_rbf|%.1f}, nearest neighbours (scikit-learn's default, five) {meanstd spikeprop_wbc_full.json#chosen_runs.*.reference_test_acc.knn5|%.1f}; "
        "earlier, with the {spikeprop_wbc_epochs.json#settings.val} validation samples held out of training: {spikeprop_wbc_epochs.json#selection.epochs} epochs (chosen) {meanstd spikeprop_wbc_epochs.json#chosen_runs.*.final_test_acc|%.1f}, "
        "{spikeprop_wbc_tiebreak.json#final_epoch} epochs (scaling {spikeprop_wbc_tiebreak.json#selection.scaling}, mu final fraction {spikeprop_wbc_tiebreak.json#selection.mu_final} chosen) {meanstd spikeprop_wbc_tiebreak.json#chosen_runs.*.final_test_acc|%.1f}; "
        "the first run, whose four settings tied on validation accuracy and kept the first of the grid (scaling {spikeprop_wbc.json#selection.scaling}, mu final fraction {spikeprop_wbc.json#selection.mu_final}): {meanstd spikeprop_wbc.json#chosen_runs.*.final_test_acc|%.1f}",
        "paper: 97.0 % (**missed** in the mean, as by the standard classifiers on these splits; one seed of five above it)", "`python benchmarks/spikeprop_uci.py --dataset wbc --seeds 0 1 2 3 4 --epochs 20 --batch-size 20 --dt 0.2e-3 --fields 7 --hidden 15 --scalings zscore --mu-finals 0.05 --json spikeprop_wbc_full20.json` (run as one process a seed, `--seeds S --json full20_sS.json` with `PJRT_NPROC=1`, then merged by this command with `--keep` of the five files); `--epochs 10 ... --json spikeprop_wbc_full.json` the same way; earlier: `--val 50 --epochs 10 20 --scalings zscore --select-on-seeds 2 --keep spikeprop_wbc_tiebreak.json --json spikeprop_wbc_epochs.json`, from `--val 50 --epochs 10 --scalings minmax zscore --mu-finals 0.05 1 --select-on-seeds 2 --json spikeprop_wbc_tiebreak.json`, the first run the same with `--json spikeprop_wbc.json`, before ties were broken by the validation loss"),
    row("SpikeProp on the original Wisconsin set (699 samples, `--dataset wbc`) tested by **stratified 5-fold and 10-fold cross-validation** of the whole set (`--test-folds 5` / `10`; seed 0 shuffles the partition and draws the initial weights: every sample tested once, each fold trained on the other folds, 559 / 629 samples, scaled by them); the setting chosen before on validation, unchanged (7 receptive fields per score, 15 hidden, 2 outputs, 16 terminals, standardised scores, mu cosine-decayed to 5 %, {spikeprop_wbc_cv5.json#final_epoch} epochs, dt = 0.2 ms); the paper's own split and averaging were not found ([docs/supervised-spike-timing.md](docs/supervised-spike-timing.md#the-original-wisconsin-set))",
        "final-epoch test accuracy over the folds, {spikeprop_wbc_cv5.json#settings.test_folds}-fold: **{meanstd spikeprop_wbc_cv5.json#chosen_runs.*.final_test_acc|%.1f}** (per fold {list spikeprop_wbc_cv5.json#chosen_runs.*.final_test_acc|%.1f} %); "
        "scikit-learn classifiers on the same folds (defaults, a reference): logistic regression {meanstd spikeprop_wbc_cv5.json#chosen_runs.*.reference_test_acc.logistic_regression|%.1f}, RBF SVM {meanstd spikeprop_wbc_cv5.json#chosen_runs.*.reference_test_acc.svm_rbf|%.1f}, nearest neighbours (five) {meanstd spikeprop_wbc_cv5.json#chosen_runs.*.reference_test_acc.knn5|%.1f}; "
        "{spikeprop_wbc_cv10.json#settings.test_folds}-fold: **{meanstd spikeprop_wbc_cv10.json#chosen_runs.*.final_test_acc|%.1f}** (per fold {list spikeprop_wbc_cv10.json#chosen_runs.*.final_test_acc|%.1f} %), scikit-learn on those folds: logistic regression {meanstd spikeprop_wbc_cv10.json#chosen_runs.*.reference_test_acc.logistic_regression|%.1f}, RBF SVM {meanstd spikeprop_wbc_cv10.json#chosen_runs.*.reference_test_acc.svm_rbf|%.1f}, nearest neighbours {meanstd spikeprop_wbc_cv10.json#chosen_runs.*.reference_test_acc.knn5|%.1f}",
        _WBC_CV5_STATUS, "`python benchmarks/spikeprop_uci.py --dataset wbc --seeds 0 --epochs 20 --batch-size 20 --dt 0.2e-3 --fields 7 --hidden 15 --scalings zscore --mu-finals 0.05 --test-folds 5 --json spikeprop_wbc_cv5.json` (run as one process a fold, `--test-fold-ids k --json cv5_s0_fk.json`, one XLA thread each, then merged by this command with `--keep` of the five files); `--test-folds 10 ... --json spikeprop_wbc_cv10.json` the same way"),
    row("SpikeProp on WDBC, the Wisconsin *diagnostic* breast-cancer set (scikit-learn's `load_breast_cancer`, `--dataset wdbc`: 569 samples, 30 features; not the paper's set, the original Wisconsin one of the SpikeProp row on it below; stratified 2/3 : 1/3 split, 40 of the training samples held out for validation), one latency spike per feature (run before the receptive-field code was affordable; kept as history, next row), adaptive rate, 10 hidden, 16 terminals, dt = 0.2 ms, 8 epochs; mu constant or decayed (cosine) to 5 %, chosen on the validation split of seed 0 ([docs/supervised-spike-timing.md](docs/supervised-spike-timing.md))",
        "final-epoch test accuracy **{meanstd spikeprop_breast_cancer_val.json#chosen_runs.*.final_test_acc|%.1f}** (per seed {list spikeprop_breast_cancer_val.json#chosen_runs.*.final_test_acc|%.1f} %; mu final fraction {spikeprop_breast_cancer_val.json#selection.mu_final} chosen); "
        "first figure ({spikeprop_breast_cancer.json#settings.epochs} epochs, constant mu, one seed): {spikeprop_breast_cancer.json#runs[0].final_test_acc|%.1f} %",
        "paper: 97.0 % on the original set, not this one (**missed** here)", "`python benchmarks/spikeprop_uci.py --dataset wdbc --seeds 0 1 2 3 4 --epochs 8 --batch-size 20 --val 40 --dt 0.2e-3 --mu-finals 0.05 1 --select-on-seeds 1 --json spikeprop_breast_cancer_val.json` (run as `--dataset breast_cancer`, this set's name then)"),
    row("SpikeProp on WDBC (the Wisconsin diagnostic set, not the paper's) with the paper's population code (the same scikit-learn set and splits as the row above; each of the 30 features by 7 Gaussian receptive fields, `SpikePropConfig.receptive_fields`: 210 + 1 bias inputs), 15 hidden, 2 outputs, 16 terminals, adaptive rate with mu decayed (cosine) to 5 %, dt = 0.2 ms, 10 epochs; features scaled to [0, 1] by the training split's range or standardised (mean +- 2 std), chosen on the validation split of seeds 0-1 (a tie, 0.9625 each: the first of the grid, the range, kept) ([docs/supervised-spike-timing.md](docs/supervised-spike-timing.md))",
        "final-epoch test accuracy **{meanstd spikeprop_breast_cancer_rf.json#chosen_runs.*.final_test_acc|%.1f}** (per seed {list spikeprop_breast_cancer_rf.json#chosen_runs.*.final_test_acc|%.1f} %; scaling {spikeprop_breast_cancer_rf.json#selection.scaling} chosen)",
        "paper: 97.0 % on the original set, not this one (**missed** here)", "`python benchmarks/spikeprop_uci.py --dataset wdbc --seeds 0 1 2 3 4 --epochs 10 --batch-size 20 --val 40 --dt 0.2e-3 --fields 7 --hidden 15 --scalings minmax zscore --mu-finals 0.05 --select-on-seeds 2 --json spikeprop_breast_cancer_rf.json` (run as `--dataset breast_cancer`, this set's name then)"),
    row("SpikeProp XOR with 4 terminals instead of 16, adaptive rate, 10 seeds, at most 300 cycles: trainable delays (Schrauwen & Van Campenhout 2004) vs the fixed delays 1, 6, 11, 16 ms",
        "trainable: **{spikeprop_xor_delays.json#rows[rule=ad].converged_seeds} of {spikeprop_xor_delays.json#rows[rule=ad].seeds}** seeds, {meanstd spikeprop_xor_delays.json#rows[rule=ad].epochs_to_converge|.0f} cycles; "
        "fixed: {spikeprop_xor_4terminals.json#rows[rule=ad].converged_seeds} of {spikeprop_xor_4terminals.json#rows[rule=ad].seeds}, {meanstd spikeprop_xor_4terminals.json#rows[rule=ad].epochs_to_converge|.0f} cycles",
        "same accuracy with fewer terminals (no advantage of delay learning on XOR)", "`python benchmarks/spikeprop_xor.py --rules ad --terminals 4 --train-delays --epochs 300` (without `--train-delays` for fixed)"),
    row("Gradient-free training (evosax) on Iris (scikit-learn, stratified 80 train / 20 validation / 50 test per seed), dense LIF 4-10-3 with exact (Heaviside) spikes, fitness the cross-entropy of the output spike counts, SNES, population 32, std 1.0, 200 generations; per seed 3 restarts (new initial network and search key), the one with the best final-generation validation accuracy kept (ties: the earliest); 5 seeds; a vmapped population against a Python loop of single runs ([docs/supervised-spike-timing.md](docs/supervised-spike-timing.md))",
        "final-generation test accuracy **{meanstd evolution_iris_restarts.json#chosen_runs.*.test_acc|%.0f}** (per seed {list evolution_iris_restarts.json#chosen_runs.*.test_acc|%.0f} %); "
        "without restarts (seeds {list evolution_iris_val.json#seeds}, CMA-ES chosen over SNES on validation): {meanstd evolution_iris_val.json#chosen_runs.*.test_acc|%.0f}; evaluations per second "
        "**{evolution_iris_restarts.json#speed.speedup_wall|.1f}x** wall ({evolution_iris_restarts.json#speed.vmapped_evals_per_s|.0f} vs {evolution_iris_restarts.json#speed.loop_evals_per_s|.0f}), {evolution_iris_restarts.json#speed.speedup_cpu|.1f}x CPU time (load {evolution_iris_restarts.json#speed.load_average[0]|.0f} on the shared CPU)",
        "a small network solved: **met** in every seed (without restarts some runs stick at two classes; the docs give the counts)", "`python benchmarks/evolution_iris.py --seeds 0 1 2 3 4 --generations 200 --population 32 --val 20 --algorithms SNES --std-inits 1.0 --restarts 3 --json evolution_iris_restarts.json`"),
    row("Gradient-free device design (evosax): the SPICEprop MIF neuron's memristor (R_on, R_off, V_on) chosen so that its spike counts under 24 regular impulse trains match those of a hidden device drawn per seed; CMA-ES, population 16, through the same vmapped-population learner; std_init and generations chosen on 4 validation trains, searched on 12, reported on 8 held-out trains; seeds 0-2; a vmapped population against a Python loop of single runs ([docs/supervised-spike-timing.md](docs/supervised-spike-timing.md#gradient-free-training-evosax))",
        "final-generation exact counts on the held-out trains **{list evolution_device.json#chosen_runs.*.final_held_out.exact_fraction|%.0f} %** "
        "(the preset device: {list evolution_device.json#chosen_runs.*.preset_held_out.exact_fraction|%.0f} %); evaluations per second "
        "**{evolution_device.json#speed.speedup_wall|.1f}x** wall ({evolution_device.json#speed.vmapped_evals_per_s|.0f} vs {evolution_device.json#speed.loop_evals_per_s|.0f}), "
        "{evolution_device.json#speed.speedup_cpu|.1f}x CPU time (load {evolution_device.json#speed.load_average[0]|.0f})",
        "a non-differentiable device objective through the evosax path (issue 24): runs and improves the counts; solved in one seed of three (**partly met**), parameters not identified",
        "`python benchmarks/evolution_device.py --seeds 0 1 2`"),
    row("ReSuMe (Ponulak & Kasinski 2010): 5-spike target trains learnt by one LIF neuron and by a layer of 5 from 200 Poisson inputs, 300 epochs; inputs through a current synapse (tau_s 2 ms), learning window tau = tau_m = 10 ms, rate 0.032, chosen on seeds 0-2; reported on the fresh seeds 3-7, final epoch ([docs/supervised-spike-timing.md](docs/supervised-spike-timing.md))",
        "final-epoch correlation (worst neuron): one neuron **{meanstd resume_target_current.json#rows[?neurons=1,selection_seed=False].final_min_correlation|.3f}**, "
        "layer **{meanstd resume_target_current.json#rows[?neurons=5,selection_seed=False].final_min_correlation|.3f}**; first epoch at the target correlation: "
        "{list resume_target_current.json#rows[?neurons=1,selection_seed=False][\"first_epoch_all_ge_0.95\"]} (one neuron), "
        "{list resume_target_current.json#rows[?neurons=5,selection_seed=False][\"first_epoch_all_ge_0.95\"]} (layer); the first figure's set-up (impulses straight onto the membrane, its window and rate): layer "
        "{meanstd resume_target_delta.json#rows[?neurons=5,selection_seed=False].final_min_correlation|.2f}",
        "correlation >= 0.95 (**met**; the paper's epochs not checked offline)",
        "`python benchmarks/resume_target.py --synapse-tau 2e-3 --window-tau 10e-3 --learning-rate 0.032 --seeds 0 1 2 3 4 5 6 7 --selection-seeds 0 1 2 --json resume_target_current.json`"),
    row("The supervised rules on crossbar synapses (NeuroSim's devices: 31 nonlinear pulses, write noise; each rule's change programmed as pulses): "
        "Tempotron N = 100 at alpha = 0.5 (seeds 0-2); SpikeProp on Iris, 30 epochs (seeds 0-2); ReSuMe, one neuron, 300 epochs (seeds 0-2) "
        "([docs/supervised-spike-timing.md](docs/supervised-spike-timing.md#on-crossbar-synapses))",
        "Tempotron fraction correct: ideal {list supervised_crossbar.json#rows[?task=tempotron,device=ideal].fraction_correct|.2f}, "
        "nearest rounding {list supervised_crossbar.json#rows[?task=tempotron,device=neurosim].fraction_correct|.2f}, "
        "stochastic rounding **{list supervised_crossbar.json#rows[?task=tempotron,device=neurosim-stochastic].fraction_correct|.2f}**; "
        "SpikeProp Iris test (ideal / nearest / stochastic): {list supervised_crossbar.json#rows[?task=spikeprop_iris,device=ideal].final_test_acc|%.0f} / "
        "{list supervised_crossbar.json#rows[?task=spikeprop_iris,device=neurosim].final_test_acc|%.0f} / "
        "{list supervised_crossbar.json#rows[?task=spikeprop_iris,device=neurosim-stochastic].final_test_acc|%.0f} %; "
        "ReSuMe correlation (last ten epochs): ideal {list supervised_crossbar.json#rows[?task=resume,device=ideal].correlation_last10_mean|.2f}, "
        "nearest {list supervised_crossbar.json#rows[?task=resume,device=neurosim].correlation_last10_mean|.2f}, "
        "stochastic {list supervised_crossbar.json#rows[?task=resume,device=neurosim-stochastic].correlation_last10_mean|.2f}, "
        "stochastic with the pulses counted along each device's curve (chosen on the selection seeds) "
        "**{list supervised_crossbar.json#rows[?task=resume,device=neurosim-stochastic-curve].correlation_last10_mean|.2f}**",
        "each rule on crossbar synapses (issue 24): the Tempotron learns with stochastic rounding; SpikeProp learns with it "
        "(below ideal in two seeds of three), not with nearest rounding in two of three; ReSuMe learns once the run's key "
        "reaches its writes (stochastic rounding), below its ideal weights: **missed** (docs)",
        "`python benchmarks/supervised_crossbar.py --tasks tempotron spikeprop resume --seeds 0 1 2 --tempotron-n 100 --tempotron-cycles 60 --spikeprop-epochs 30 --resume-epochs 300`"),
])

table("readme-numerics", README, [
    row("MIF neuron vs ngspice (SPICEprop schedule, 5 weights, float64), adaptive diffrax Tsit5 rtol 1e-5 / 1e-7; memsnn's converged solution vs ngspice at reltol 1e-10",
        "v rel. L2 **{max solver_accuracy.json#spiceprop.rows[family=Tsit5,setting=rtol = 1e-5].v_rel_l2|.1e} / {max solver_accuracy.json#spiceprop.rows[family=Tsit5,setting=rtol = 1e-7].v_rel_l2|.1e}**; "
        "converged: {max solver_accuracy.json#spiceprop.reference.memsnn_converged_vs_reference.v|.1e}",
        "<= 2e-4", "`python benchmarks/solver_accuracy.py` (needs ngspice)"),
    row("Convergence order of v against ngspice (log-log fit over dt): Euler / SPICEprop ordering / Heun / implicit Euler",
        "**{solver_accuracy.json#spiceprop.orders.Euler|.2f}** / {solver_accuracy.json#spiceprop.orders.SpicepropEuler|.2f} / "
        "{solver_accuracy.json#spiceprop.orders.Heun|.2f} / {solver_accuracy.json#spiceprop.orders.ImplicitEuler|.2f}",
        "~1 for Euler", "same"),
    row("Explicit-Euler stability limit at dt = 10 us (constant current, mA): memsnn's check / theory / where plain Euler oscillates; as one event's weight",
        "{solver_accuracy.json#stability.memsnn_check_current_mA|.5f} / {solver_accuracy.json#stability.theory.current_mA|.5f}-{solver_accuracy.json#stability.theory.linear_current_mA|.5f} / "
        "{solver_accuracy.json#stability.euler_oscillation_current_mA|.5f} mA; one event above {solver_accuracy.json#stability.memsnn_check_weight_mA|.4f} mA",
        "", "same"),
    row("Crossbar IR drop (exact nodal analysis) vs ngspice on the exported netlist, 64x64 and 128x128, random G, wires 1 and 10 Ohm (float64)",
        "max relative error **{max crossbar_irdrop_spice.json#accuracy.*.relative_error|.1e}**", "<= 1e-6",
        "`python benchmarks/crossbar_irdrop.py --skip-speed` (needs ngspice)"),
    row("Energy of one MIF spike (float64): energy meter vs the closed-form integral of i v vs ngspice",
        "{codesign_spike.json#spike.simulation_J|n.6f} nJ; rel. error **{codesign_spike.json#spike.rel_err_vs_closed_form|.1e}** (closed form), "
        "**{codesign_spike.json#spike.rel_err_vs_ngspice|.1e}** (ngspice)", "<= 1e-4", "`python benchmarks/codesign.py spike`"),
    row("Data-parallel training step on 1/2/4/8 simulated CPU devices: parameters after a step against one device's (max relative difference)",
        "SPICEprop {max scaling_cpu.json#rows[?model=spiceprop].max_rel_diff|.0e}, LIF {max scaling_cpu.json#rows[?model=surrogate].max_rel_diff|.0e}",
        "", "`python benchmarks/scaling.py`"),
    row("Exact spike-time gradients (autodiff through the located threshold crossings, and through the root-found event times of adaptive runs with events) vs central finite differences of the simulated spike times, float64: LIF, conductance LIF, MIF, delays, recurrence ([docs/spike-times.md](docs/spike-times.md))",
        "max relative error **{spike_times_gradients.json#max_rel_error_all|.1e}** over {len spike_times_gradients.json#gradients} cases; "
        "closed-form LIF spike time to {spike_times_gradients.json#closed_form_lif[0].max_abs_error_s|.1e} s (Tsit5 + Hermite crossing)",
        "", "`python benchmarks/spike_times_gradients.py`"),
    row("Spike-time gradients in event runs with synaptic delays and recurrence (delayed events: a spike at t* arrives at t* + d, where the adaptive solve stops) vs central finite differences of the simulated spike times, float64: LIF, conductance LIF, MIF ([docs/spike-times.md](docs/spike-times.md))",
        "max relative error **{spike_times_events_delays.json#max_rel_error_all|.1e}** over {len spike_times_events_delays.json#gradients} cases"
        + "".join(f"; {label} to {{spike_times_events_delays.json#closed_form[{i}].max_abs_error_s|.1e}} s"
                  for i, label in enumerate(("a spike through a delay d moves the output spike by d",
                                             "two-neuron loop through a recurrent delay d fires at t_0 + k d"))
                  if i < _EVD_CLOSED),
        "<= 1e-5", "`python benchmarks/spike_times_gradients.py --events-delays`"),
])

table("readme-speed", README, [
    row("SPICEprop training step (batch 200, 1000 steps, fwd + bwd + Adam, float32) vs PyTorch eager / `torch.compile` of the same equations, timed in alternating blocks; the readout's gradient from forward sensitivities ([docs/training.md](docs/training.md#the-spiceprop-training-steps-speed-levers-measured-issue-27))",
        "idle machine: CPU time {spiceprop_vs_torch_s10_idle.json#cpu_ms_median.memsnn|.1f} vs {spiceprop_vs_torch_s10_idle.json#cpu_ms_median.torch_eager|,.0f} / "
        "{spiceprop_vs_torch_s10_idle.json#cpu_ms_median.torch_compile|.0f} ms: **{spiceprop_vs_torch_s10_idle.json#speedup_cpu_time.torch_eager|.1f}x / {spiceprop_vs_torch_s10_idle.json#speedup_cpu_time.torch_compile|.1f}x** CPU, "
        "**{spiceprop_vs_torch_s10_idle.json#speedup|.1f}x / {spiceprop_vs_torch_s10_idle.json#speedup_vs_torch_compile|.1f}x** wall "
        "(one JAX device: **{spiceprop_vs_torch_s10_idle_1device.json#speedup_cpu_time.torch_eager|.1f}x / {spiceprop_vs_torch_s10_idle_1device.json#speedup_cpu_time.torch_compile|.1f}x** CPU, "
        "**{spiceprop_vs_torch_s10_idle_1device.json#speedup|.1f}x / {spiceprop_vs_torch_s10_idle_1device.json#speedup_vs_torch_compile|.1f}x** wall); "
        "the same code on the loaded machine: {spiceprop_vs_torch_s10.json#memsnn_step_ms|.0f} ms vs {spiceprop_vs_torch_s10.json#torch_eager_step_ms|,.0f} ms / {spiceprop_vs_torch_s10.json#torch_compile_step_ms|,.0f} ms wall (loaded machine): "
        "**{spiceprop_vs_torch_s10.json#speedup|.1f}x / {spiceprop_vs_torch_s10.json#speedup_vs_torch_compile|.1f}x**; CPU time {spiceprop_vs_torch_s10.json#cpu_ms_median.memsnn|.1f} vs {spiceprop_vs_torch_s10.json#cpu_ms_median.torch_eager|,.0f} / "
        "{spiceprop_vs_torch_s10.json#cpu_ms_median.torch_compile|.0f} ms: **{spiceprop_vs_torch_s10.json#speedup_cpu_time.torch_eager|.1f}x / {spiceprop_vs_torch_s10.json#speedup_cpu_time.torch_compile|.1f}x**; "
        "memsnn on one JAX device: **{spiceprop_vs_torch_s10_1device.json#speedup_cpu_time.torch_eager|.1f}x / {spiceprop_vs_torch_s10_1device.json#speedup_cpu_time.torch_compile|.1f}x** CPU ({spiceprop_vs_torch_s10_1device.json#cpu_ms_median.memsnn|.1f} ms), "
        "**{spiceprop_vs_torch_s10_1device.json#speedup|.1f}x / {spiceprop_vs_torch_s10_1device.json#speedup_vs_torch_compile|.1f}x** wall; "
        "the session before, the loop in unrolled chunks: **{spiceprop_vs_torch_s9.json#speedup_cpu_time.torch_eager|.1f}x / {spiceprop_vs_torch_s9.json#speedup_cpu_time.torch_compile|.1f}x** CPU ({spiceprop_vs_torch_s9.json#cpu_ms_median.memsnn|.1f} ms) on two devices, "
        "**{spiceprop_vs_torch_s9_1device.json#speedup_cpu_time.torch_eager|.1f}x / {spiceprop_vs_torch_s9_1device.json#speedup_cpu_time.torch_compile|.1f}x** ({spiceprop_vs_torch_s9_1device.json#cpu_ms_median.memsnn|.1f} ms) on one; "
        "before (reverse mode through the checkpointed loop): **{spiceprop_vs_torch_s9_before.json#speedup_cpu_time.torch_eager|.1f}x / {spiceprop_vs_torch_s9_before.json#speedup_cpu_time.torch_compile|.1f}x** CPU ({spiceprop_vs_torch_s9_before.json#cpu_ms_median.memsnn|.1f} ms) that session, "
        "**{spiceprop_vs_torch_s8.json#speedup_cpu_time.torch_eager|.1f}x / {spiceprop_vs_torch_s8.json#speedup_cpu_time.torch_compile|.1f}x** CPU ({spiceprop_vs_torch_s8.json#cpu_ms_median.memsnn|.1f} ms) two sessions earlier; "
        "traces agree to {spiceprop_vs_torch_s10.json#traces_same_weights.torch_eager_max_abs_diff_mV|.1e} mV",
        ">= 30x / >= 8x, in CPU time too (**missed** idle, in CPU and in wall time; wall met only on the loaded machine, where torch slows more than memsnn)", "`python benchmarks/spiceprop_vs_torch.py` (`pip install -e \".[torch]\"`)"),
    row("Why SPICEprop misses torch.compile: the step's CPU time against the batch (one device; batch 20 / 50 / 100 / 200; before the summed-NLL loss change)",
        "{loop_profile.json#memsnn_spiceprop_batch_sweep.rows[0].cpu_ms|.1f} / {loop_profile.json#memsnn_spiceprop_batch_sweep.rows[1].cpu_ms|.1f} / "
        "{loop_profile.json#memsnn_spiceprop_batch_sweep.rows[2].cpu_ms|.1f} / {loop_profile.json#memsnn_spiceprop_batch_sweep.rows[3].cpu_ms|.1f} ms: "
        "a line through about zero ({loop_profile.json#memsnn_spiceprop_batch_sweep.slope_ms_per_sample|k.0f} us per sample), bound by arithmetic, not kernel launches",
        "", "`python benchmarks/loop_profile.py`"),
    row("LIF training step (snnTorch tutorial network 784-1000-10, batch 128, 25 steps) vs snnTorch 1.0 / Spyx 1.0 hand-written `lax.scan` / Spyx `spyx.nn.run`",
        "{surrogate_vs_snntorch.json#memsnn_step_ms_median|.1f} ms vs {surrogate_vs_snntorch.json#snntorch_step_ms_median|.1f} / "
        "{surrogate_vs_snntorch.json#spyx.hand_written.step_ms_median|.1f} / {surrogate_vs_snntorch.json#spyx.documented.step_ms_median|.1f} ms: "
        "**{surrogate_vs_snntorch.json#speedup|.1f}x / {surrogate_vs_snntorch.json#spyx.hand_written.memsnn_speedup|.2f}x / {surrogate_vs_snntorch.json#spyx.documented.memsnn_speedup|.2f}x** wall; "
        "traces equal to {surrogate_vs_snntorch.json#equivalence_float32.hidden_membrane.max_abs_diff|.1e}, "
        "{surrogate_vs_snntorch.json#equivalence_float32.hidden_spikes.mismatches} spike mismatches in {surrogate_vs_snntorch.json#equivalence_float32.hidden_spikes.total|M.1f} M",
        ">= 6x / >= 1.3x", "`python benchmarks/surrogate_vs_snntorch.py` (`pip install -e \".[snntorch,spyx]\"`)"),
    row("The same on the **GPU** (snnTorch on CUDA), full float32 matmuls in both; with TF32 matmuls (JAX's default)",
        "{surrogate_vs_snntorch_gpu.json#memsnn_step_ms_median|.2f} ms vs {surrogate_vs_snntorch_gpu.json#snntorch_step_ms_median|.1f} ms: "
        "**{surrogate_vs_snntorch_gpu.json#speedup|.1f}x**, {surrogate_vs_snntorch_gpu.json#equivalence_float32.hidden_spikes.mismatches} spike mismatches; "
        "TF32: {surrogate_vs_snntorch_gpu_tf32.json#speedup|.0f}x, but {surrogate_vs_snntorch_gpu_tf32.json#equivalence_float32.hidden_spikes.mismatches} of "
        "{surrogate_vs_snntorch_gpu_tf32.json#equivalence_float32.hidden_spikes.total|M.1f} M spikes flip",
        "", "`python benchmarks/surrogate_vs_snntorch.py --torch-device cuda --out benchmarks/results/surrogate_vs_snntorch_gpu.json` (`--matmul-precision default` for TF32)"),
    row("No slowdown of the existing training steps across this round's redesign (issues 22, 23): `make_step` on 1 CPU device, SPICEprop 784-100-10 -> 10 MIF (batch 200, 1000 steps) and LIF surrogate 784-1000-10 (batch 128, 25 steps), the code at 8c125f8 against now, one worker process per checkout, blocks of steps interleaved A/B, B/A",
        "new / old, CPU time: SPICEprop **{speed_before_after.json#results.spiceprop.cpu.ratio_after_over_before|.3f}x** (per-round ratios, quartiles {speed_before_after.json#results.spiceprop.cpu.per_round_ratio_quartiles[0]|.2f}-{speed_before_after.json#results.spiceprop.cpu.per_round_ratio_quartiles[2]|.2f}), "
        "LIF **{speed_before_after.json#results.lif.cpu.ratio_after_over_before|.3f}x** ({speed_before_after.json#results.lif.cpu.per_round_ratio_quartiles[0]|.2f}-{speed_before_after.json#results.lif.cpu.per_round_ratio_quartiles[2]|.2f}); "
        "wall time, median per-round ratio: SPICEprop {speed_before_after.json#results.spiceprop.wall.per_round_ratio_median|.2f}x ({speed_before_after.json#results.spiceprop.wall.per_round_ratio_quartiles[0]|.2f}-{speed_before_after.json#results.spiceprop.wall.per_round_ratio_quartiles[2]|.2f}), "
        "LIF {speed_before_after.json#results.lif.wall.per_round_ratio_median|.2f}x ({speed_before_after.json#results.lif.wall.per_round_ratio_quartiles[0]|.2f}-{speed_before_after.json#results.lif.wall.per_round_ratio_quartiles[2]|.2f}): too noisy on the loaded machine to settle the criterion; "
        "{speed_before_after.json#results.spiceprop.cpu.before_ms_median|.1f} vs {speed_before_after.json#results.spiceprop.cpu.after_ms_median|.1f} ms and {speed_before_after.json#results.lif.cpu.before_ms_median|.1f} vs {speed_before_after.json#results.lif.cpu.after_ms_median|.1f} ms CPU per step",
        "within 5 %", "`git worktree add --detach /tmp/before 8c125f8 && python benchmarks/speed_before_after.py --before /tmp/before --rounds 40 --spiceprop-steps 15 --lif-steps 40`"),
    row("Core: fwd + bwd of the SPICEprop output layer (10 MIF, batch 200, 1000 steps), diffrax fixed-step Euler over the Euler scan (the GPU file predates the component-protocol redesign)",
        "CPU **{core_speed.json#rows[integrator=diffrax Euler, fixed step].ratio_to_euler_scan|.2f}x** ({core_speed.json#rows[0].median_s|.3f} s scan, "
        "{core_speed.json#rows[integrator=diffrax Euler, fixed step].median_s|.3f} s diffrax Euler, {core_speed.json#rows[integrator=memsnn SPICEprop ordering].median_s|.3f} s SPICEprop ordering); "
        "**GPU** {core_speed_gpu.json#rows[integrator=diffrax Euler, fixed step].ratio_to_euler_scan|.2f}x ({core_speed_gpu.json#rows[0].median_s|.3f} s scan)",
        "<= 1.5x", "`python benchmarks/core_speed.py [--tag _gpu]`"),
    row("200 MIF neurons to 1e-3 rel. L2, memsnn (Euler) vs ngspice (one netlist), steady state; counting memsnn's one-off compile",
        "{solver_accuracy.json#speed.summary.memsnn_per_neuron_s|k.3f} ms vs {solver_accuracy.json#speed.summary.ngspice_per_neuron_s|k.2f} ms per neuron: "
        "**{solver_accuracy.json#speed.summary.speedup|.0f}x**; with the compile {solver_accuracy.json#speed.summary.speedup_with_compile|.1f}x (ngspice faster)",
        "memsnn faster", "`python benchmarks/solver_accuracy.py` (needs ngspice)"),
    row("Exact IR-drop solve (batch 200, float64, 1 Ohm wires) vs badcrossbar 1.1 (scipy's SuperLU, 1 OpenBLAS thread), forward solve, one process per measurement, side by side in one run; 784x100 and 256x256",
        "{crossbar_irdrop.json#speed[0].size}: {crossbar_irdrop.json#speed[0].badcrossbar_forward.median_s|.2f} s vs {crossbar_irdrop.json#speed[0].memsnn_forward.median_s|.2f} s, "
        "**{ratio crossbar_irdrop.json#speed[0].badcrossbar_forward.median_s crossbar_irdrop.json#speed[0].memsnn_forward.median_s|.0f}x** (CPU time {crossbar_irdrop.json#speed[0].speedup_forward_cpu_time|.0f}x), "
        "fwd + bwd {crossbar_irdrop.json#speed[0].memsnn_forward_backward.median_s|.2f} s = {crossbar_irdrop.json#speed[0].forward_backward_over_forward|.1f}x the forward (CPU {crossbar_irdrop.json#speed[0].forward_backward_over_forward_cpu_time|.1f}x); "
        "{crossbar_irdrop.json#speed[1].size}: {crossbar_irdrop.json#speed[1].badcrossbar_forward.median_s|.2f} s vs {crossbar_irdrop.json#speed[1].memsnn_forward.median_s|.2f} s, "
        "**{ratio crossbar_irdrop.json#speed[1].badcrossbar_forward.median_s crossbar_irdrop.json#speed[1].memsnn_forward.median_s|.1f}x** (CPU time {crossbar_irdrop.json#speed[1].speedup_forward_cpu_time|.1f}x), "
        "fwd + bwd {crossbar_irdrop.json#speed[1].forward_backward_over_forward|.1f}x the forward (CPU {crossbar_irdrop.json#speed[1].forward_backward_over_forward_cpu_time|.1f}x)",
        ">= 10x at both (met at both, at load 7-20: wall and CPU time); fwd + bwd <= 2x the forward in CPU time (**missed narrowly**: 784x100 2.1x, from 2.7x: its gradient now reduces row by row, no node field, 243 -> 125 MiB of temporaries; the wall ratio, 1.2x, mixes loads 20 and 15; 256x256 2.2x, its code unchanged: 2.0x in the run before; an exact adjoint does >= 2.4x (784x100) / ~1.9x (256x256) the forward's arithmetic here, so 2x holds only while the backward runs faster per flop than the forward: docs/crossbar.md, session 9)",
        "`python benchmarks/crossbar_irdrop.py --skip-spice --badcrossbar-python /work/peers-bc/bin/python` (badcrossbar in a venv of its own)"),
    row("Exact IR-drop solve of a 1024x1024 tile (batch 200, float64, 1 Ohm wires): the currents, factors not stored (the down sweep inside the factorisation's scan); badcrossbar 1.1 beside it under a memory limit",
        "memsnn {crossbar_irdrop_1024.json#speed[0].memsnn_forward.median_s|.0f} s wall ({crossbar_irdrop_1024.json#speed[0].memsnn_forward.run_queue_wait_s[0]|.0f} s of its threads' time waiting for a CPU, summed over threads), {crossbar_irdrop_1024.json#speed[0].memsnn_forward.median_cpu_s|.0f} s CPU, peak RSS {crossbar_irdrop_1024.json#speed[0].memsnn_forward.peak_rss_above_setup_mb|.0f} MiB above setup (XLA temporaries {crossbar_irdrop_1024.json#speed[0].memsnn_forward.xla_temp_mb|.0f} MiB); badcrossbar: out of its {crossbar_irdrop_1024.json#speed[0].badcrossbar_forward.out_of_memory_limit_gb|.0f} GB limit in SuperLU's solve",
        "solved; time and memory reported",
        "`python benchmarks/crossbar_irdrop.py --skip-spice --speed-sizes 1024x1024 --forward-only --repeats 1 --badcrossbar-timeout 300 --badcrossbar-memory-gb 5 --badcrossbar-python /work/bcvenv/bin/python --tag _1024`"),
    row("Diehl & Cook training (100 neurons, 30 bundled MNIST images) vs Brian2 2.9 (Cython), same network, side by side in one process: both on 2 cores / the process pinned to 1 core",
        "on {len stdp_vs_brian2_2cores.json#cores_used} cores with one XLA thread (what `memsnn train --method stdp` uses): {stdp_vs_brian2_2cores.json#memsnn.cpu_s_per_image|k.1f} vs {stdp_vs_brian2_2cores.json#brian2.cpu_s_per_image|k.0f} ms CPU per image, **{stdp_vs_brian2_2cores.json#speedup_cpu|.1f}x CPU time**, "
        "{stdp_vs_brian2_2cores.json#speedup_wall|.0f}x wall (Brian2's wall time waits on the loaded machine); right before it with XLA's default threads: "
        "{stdp_vs_brian2_2cores_xladefault.json#memsnn.cpu_s_per_image|k.1f} vs {stdp_vs_brian2_2cores_xladefault.json#brian2.cpu_s_per_image|k.0f} ms, {stdp_vs_brian2_2cores_xladefault.json#speedup_cpu|.1f}x (load {load stdp_vs_brian2_2cores_xladefault.json}; a repeat pair: {stdp_vs_brian2_2cores.json#repeat.speedup_cpu|.1f}x with one thread, {stdp_vs_brian2_2cores_xladefault.json#repeat.speedup_cpu|.1f}x with the default: under load the thread setting changes memsnn's CPU time little); on {len stdp_vs_brian2_1core.json#cores_used} core: "
        "{stdp_vs_brian2_1core.json#memsnn.cpu_s_per_image|k.1f} vs {stdp_vs_brian2_1core.json#brian2.cpu_s_per_image|k.0f} ms, **{stdp_vs_brian2_1core.json#speedup_cpu|.1f}x** CPU, {stdp_vs_brian2_1core.json#speedup_wall|.1f}x wall; "
        "again on the nearly idle machine (one other process; load {load stdp_vs_brian2_1core_idle.json}): on {len stdp_vs_brian2_1core_idle.json#cores_used} core **{stdp_vs_brian2_1core_idle.json#speedup_cpu|.1f}x** CPU; on {len stdp_vs_brian2_2cores_idle.json#cores_used} cores {stdp_vs_brian2_2cores_idle.json#memsnn.cpu_s_per_image|k.1f} vs {stdp_vs_brian2_2cores_idle.json#brian2.cpu_s_per_image|k.0f} ms CPU, "
        "**{stdp_vs_brian2_2cores_idle.json#speedup_cpu|.1f}x** CPU, {stdp_vs_brian2_2cores_idle.json#speedup_wall|.1f}x wall with XLA's default threads (its second thread burns CPU time on this small step); idle again at the session's end (load {load stdp_vs_brian2_2cores_idle_1thread.json}): on {len stdp_vs_brian2_2cores_idle_1thread.json#cores_used} cores with one XLA thread {stdp_vs_brian2_2cores_idle_1thread.json#memsnn.cpu_s_per_image|k.1f} vs {stdp_vs_brian2_2cores_idle_1thread.json#brian2.cpu_s_per_image|k.0f} ms CPU, **{stdp_vs_brian2_2cores_idle_1thread.json#speedup_cpu|.1f}x** CPU, right after it with XLA's default threads {stdp_vs_brian2_2cores_idle_xladefault.json#memsnn.cpu_s_per_image|k.1f} vs {stdp_vs_brian2_2cores_idle_xladefault.json#brian2.cpu_s_per_image|k.0f} ms, {stdp_vs_brian2_2cores_idle_xladefault.json#speedup_cpu|.1f}x",
        ">= 20x in CPU time (**met** on 1 core and on 2 cores with one XLA thread, what `memsnn train --method stdp` uses, idle and at load ~11; with XLA's default threads met under load, **missed** idle)",
        "`python benchmarks/stdp_vs_brian2.py --neurons 100 --images 30` (`--cores 1 --out benchmarks/results/stdp_vs_brian2_1core.json`)"),
    row("Vmapped sweep of 256 device settings of the SPICEprop output layer vs a Python loop, 1 image per setting",
        "**{codesign_timing.json#timings[0].speedup|.1f}x** ({codesign_timing.json#timings[0].vmap_s|.2f} s vs {codesign_timing.json#timings[0].loop_s|.2f} s)",
        ">= 20x (**missed**: each setting costs little on a CPU)", "`python benchmarks/codesign.py timing --checkpoint CKPT`"),
    row("Data-parallel step, one device against the batch split over 2 (2 CPU cores), strong / weak efficiency: SPICEprop, dense LIF, conv LIF",
        "SPICEprop **{scaling_cpu_idle.json#rows[model=spiceprop,mode=strong,devices=2].efficiency|.2f} / {scaling_cpu_idle.json#rows[model=spiceprop,mode=weak,devices=2].efficiency|.2f}**; "
        "dense LIF {scaling_cpu_idle.json#rows[model=surrogate,mode=strong,devices=2].efficiency|.2f} / {scaling_cpu_idle.json#rows[model=surrogate,mode=weak,devices=2].efficiency|.2f}; "
        "conv LIF {scaling_cpu_idle_conv.json#rows[mode=strong,devices=2].efficiency|.2f} (strong)",
        "scaling curves", "`python benchmarks/scaling.py --models spiceprop surrogate --devices 1 2 --repeats 10 --out benchmarks/results/scaling_cpu_idle.json`, `--models surrogate-conv`"),
    row("Co-design sweep (256 settings) and Monte-Carlo (64 samples), 1 vs 2 CPU devices, 8 images per setting, in the run where the process got both cores",
        "sweep **{codesign_sharded_rerun.json#rows[experiment=sweep].speedup|.2f}x**, Monte-Carlo {codesign_sharded_rerun.json#rows[experiment=monte_carlo].speedup|.2f}x",
        "", "`python benchmarks/codesign.py sharded --checkpoint CKPT`"),
    row("Several seeds in one run: 8 SPICEprop members, throughput over 8 separate runs (one device), members one after another in the step / all vmapped",
        "**{ensemble_cpu.json#rows[model=spiceprop,members=8,way=map].gain|.2f}x** / {ensemble_cpu.json#rows[model=spiceprop,members=8,way=vmap].gain|.2f}x",
        "", "`python benchmarks/ensemble.py`"),
    row("SPICEprop, 40 MNIST epochs on 2 CPU cores (the accuracy row's idle run)",
        "**{spiceprop_mnist_idle.json#wall_time_s|min.1f} min** (median epoch {median spiceprop_mnist_idle.json#history.*.epoch_time_s|.1f} s)",
        "<= 15 min", f"`{D}python benchmarks/spiceprop_train.py --dataset mnist --tag _idle`"),
    row("SPICEprop MNIST epoch on the **GPU** (8 epochs)",
        "median epoch {median spiceprop_mnist_gpu.json#history.*.epoch_time_s|.1f} s, no faster than the CPU row above: the sequential steps of a small network are bound by kernel launches",
        "", f"`{D}python benchmarks/spiceprop_train.py --dataset mnist --tag _gpu`"),
    row("Peak memory of a SPICEprop training step (batch 200, one device)",
        "RSS {spiceprop_memory.json#rows[0].peak_rss_mb|.0f} MB; XLA temporaries {spiceprop_memory.json#rows[0].xla_temp_mb|.0f} MB, "
        "**{spiceprop_memory.json#rows[checkpoint_every=10,devices=1].xla_temp_mb|.0f} MB** with `checkpoint_every={spiceprop_memory.json#rows[1].checkpoint_every}`",
        "bounded by checkpointing", "`python benchmarks/spiceprop_train.py --memory`"),
    row("Hardware-aware surrogate training step on crossbars (784-1000-10 LIF, 25 steps, batch 128, 1 CPU device): 'realistic' preset (1 Ohm wires on 256x256 tiles, read/programming noise, stuck-at faults) vs 'ideal', one chip programmed and read once per step; before: each tile's map under `jax.checkpoint`, all 256 unit inputs (commit a38f65b, step benchmark); now: partly used tiles solved for their rows in use, nothing kept for the gradient (the short runs of the next row, run side by side). Before and now were timed at different loads: their wall times do not compare; the ratio now does",
        "before: peak RSS {surrogate_crossbar_memory.json#rows[preset=realistic].peak_rss_mb|,.0f} MB vs {surrogate_crossbar_memory.json#rows[preset=ideal].peak_rss_mb|,.0f} MB, "
        "step {median surrogate_crossbar_memory.json#rows[preset=realistic].step_s|.0f} s vs {median surrogate_crossbar_memory.json#rows[preset=ideal].step_s|.2f} s; "
        "now: step {surrogate_crossbar_memory.json#short_run.runs[crossbar=realistic].progress.steady_step_s|.0f} s ({surrogate_crossbar_memory.json#short_run.realistic_step_cpu_s_median|.0f} CPU seconds) vs {surrogate_crossbar_memory.json#short_run.runs[crossbar=ideal].progress.steady_step_s|.1f} s "
        "(**{surrogate_crossbar_memory.json#short_run.realistic_over_ideal_step|.0f}x**), peak RSS of the whole run {surrogate_crossbar_memory.json#short_run.runs[crossbar=realistic].time_v.peak_rss_mb|,.0f} MB vs {surrogate_crossbar_memory.json#short_run.runs[crossbar=ideal].time_v.peak_rss_mb|,.0f} MB",
        "fits in 4 GB at the default batch (met); step within 5x of ideal (**missed**: two exact factorisations of every 256x256 tile per step, forward and backward)",
        "`python benchmarks/surrogate_crossbar_memory.py realistic 128 3` (and `ideal`)"),
    row("Hardware-aware surrogate training on crossbars, short run: 1 epoch on the first 1,024 bundled MNIST training images (8 steps of 128, lr 5e-4 cosine), final-epoch test accuracy on the 1,000 bundled test images, 'realistic' preset vs 'ideal' crossbar (1 seed)",
        "**{surrogate_crossbar_memory.json#short_run.runs[crossbar=realistic].final_test_acc|%.1f} %** vs {surrogate_crossbar_memory.json#short_run.runs[crossbar=ideal].final_test_acc|%.1f} %",
        "short-run accuracy recorded (met)",
        "`memsnn train --method surrogate --crossbar realistic --dataset mnist --train-subset 1024 --epochs 1 --out runs/realistic` (and `ideal`), then `python benchmarks/surrogate_crossbar_memory.py record runs/realistic runs/ideal`"),
])

# ------------------------------------------------------------------------------------ docs tables
# Figure tables of docs/*.md (no conditions column: a line under each table names its files and
# their conditions). Every cell that holds a figure reads it from a results file.

XB = "crossbar_irdrop.json"
table("crossbar-ngspice", "docs/crossbar.md",
      [[f"{{{XB}#accuracy[{i}].size}}", f"{{{XB}#accuracy[{i}].r_wire_ohm|.0f}}",
        f"{{{XB}#accuracy[{i}].relative_error|.1e}}", f"{{{XB}#accuracy[{i}].ir_drop_vs_ideal|%.1f}} %",
        f"{{{XB}#accuracy[{i}].severity|.2f}}"] for i in range(4)],
      header=["crossbar", "wire (Ohm)", "rel. error vs ngspice", "IR drop vs ideal product", "severity"],
      measured=(0, 1, 2, 3, 4), conditions=False)

table("crossbar-speed", "docs/crossbar.md",
      [[f"{{{XB}#speed[{i}].size}}",
        f"{{{XB}#speed[{i}].badcrossbar_forward.median_s|.2f}} s",
        f"{{{XB}#speed[{i}].memsnn_forward.median_s|.3f}} s",
        f"{{ratio {XB}#speed[{i}].badcrossbar_forward.median_s {XB}#speed[{i}].memsnn_forward.median_s|.1f}}x",
        f"{{{XB}#speed[{i}].speedup_forward_cpu_time|.1f}}x",
        f"{{{XB}#speed[{i}].memsnn_forward_backward.median_s|.2f}} s",
        f"{{{XB}#speed[{i}].forward_backward_over_forward|.2f}} ({{{XB}#speed[{i}].forward_backward_over_forward_cpu_time|.2f}})",
        f"{{{XB}#speed[{i}].memsnn_forward_float32.median_s|.3f}} s",
        f"{{{XB}#speed[{i}].currents_relative_difference|.0e}} ({{{XB}#speed[{i}].float32_currents_relative_difference|.0e}})",
        f"{{{XB}#speed[{i}].memsnn_forward.xla_temp_mb|.0f}} / {{{XB}#speed[{i}].memsnn_forward_backward.xla_temp_mb|.0f}} MiB",
        f"{{{XB}#speed[{i}].memsnn_forward.peak_rss_above_setup_mb|.0f}} / {{{XB}#speed[{i}].memsnn_forward_backward.peak_rss_above_setup_mb|.0f}} / "
        f"{{{XB}#speed[{i}].badcrossbar_forward.peak_rss_above_setup_mb|.0f}} MiB",
        f"{{min {XB}#speed[{i}].*.load_before|.1f}}-{{max {XB}#speed[{i}].*.load_after|.1f}}"] for i in range(2)],
      header=["crossbar (batch 200)", "badcrossbar fwd", "memsnn fwd", "speed-up", "speed-up (CPU time)", "memsnn fwd+bwd",
              "fwd+bwd / fwd (CPU time)", "memsnn float32 fwd",
              "currents vs badcrossbar (float32)", "XLA temp fwd / fwd+bwd", "peak RSS fwd / fwd+bwd / badcrossbar",
              "load average"],
      measured=tuple(range(12)), conditions=False)

CT = "crossbar_training.json"
table("crossbar-deploy", "docs/crossbar.md",
      [[t, f"{{meanstd {CT}#deploy.accuracy[\"{t}\"].per_chip|%.2f}}; {{min {CT}#deploy.accuracy[\"{t}\"].per_chip|%.2f}} .. "
           f"{{max {CT}#deploy.accuracy[\"{t}\"].per_chip|%.2f}} %"]
       for t in ("ideal training", "hardware-aware training")]
      + [["hardware-aware, the other fine-tuning run (8 epochs, no shifts; 3 chips)",
          f"{{meanstd {CT}#deploy_other_runs[\"runs/bench-crossbar/hwa\"].per_chip|%.2f}}"]],
      header=["model (earlier runs, trained on all 60,000 training images)",
              "accuracy on realistic chips, 10,000 test images (n: chips)"], conditions=False,
      note="The hardware-aware run above was chosen between these two fine-tuning runs **by test accuracy**; "
           "no validation split was held out for that choice. The figure chosen on a validation split is below.")

table("crossbar-deploy-validated", "docs/crossbar.md",
      [[f"ideal SPICEprop ({{{XV}#ideal-val5000.epochs_done}} epochs), ideal weights",
        f"{{{XV}#ideal-val5000.final_val_acc|%.2f}} %", f"{{{XV}#ideal-val5000.final_test_acc|%.2f}} %"]]
      + [[f"{n}: {what}" + (" (**chosen**)" if n == _CHOSEN else ""),
          f"{{{XV}#selection.candidates[\"{n}\"].final_val_acc|%.2f}} %",
          f"{{{XV}#selection.candidates[\"{n}\"].final_test_acc|%.2f}} %"]
         for n, what in (("hwa-shift1-val5000", "15 epochs, +-1 pixel shifts"), ("hwa-val5000", "8 epochs, no shifts"))]
      + [[f"**{_CHOSEN} deployed: 5 chips (keys 100-104), wires solved exactly, one read per 2,500 images**"
          + ("" if _DV_DONE else " (**not finished**: the chips measured before the session's end)"),
          "-", "**{meanstd " + _DV + ".per_chip|%.2f}**; per chip {list " + _DV + ".per_chip|%.2f} %"],
         [f"{_CHOSEN} deployed: chip 0 (key 100), wires solved exactly, one read per 2,500 images",
          "-", "{crossbar_energy.json#report.accuracy|%.2f} % (" + _EN_IMAGES + ", the energy run)"],
         [f"{_CHOSEN} deployed: validation chip 10 (key 110), wires solved exactly, one read per 1,000 images "
          "(the first, stopped run of the check below)",
          f"{{list {XV}#selection.deployed_validation_partial[\"hwa-shift1-val5000\"].per_chip|%.2f}} %", "-"]]
      + [[f"{n} deployed: 5 validation chips (keys 110-114), wires solved exactly, one read per 2,500 images "
          "(`--stage select`, a check of the choice)" + (" (**chosen** by it too)" if n == _SV["chosen"] else ""),
          "{meanstd " + SV + "#candidates[\"" + n + "\"].per_chip|%.2f}; per chip {list " + SV + "#candidates[\"" + n
          + "\"].per_chip|%.2f} %", "-"] for n in ("hwa-shift1-val5000", "hwa-val5000")],
      header=["model (trained on 55,000 images), final epoch", "validation (5,000 held-out training images)",
              "test (10,000 images)"], measured=(1, 2), conditions=False,
      note=f"Chosen on validation: **{_CHOSEN}**; the test set was used for nothing but the figures. The first two "
           "columns are the training's own evaluation: batches of 1,000 images, each on a freshly programmed "
           "simulated chip (the same chips for both runs), wires left out as in training.")

_ABL = ["none (ideal weights)", "mapping only (w_max, DAC range)", "16 levels", "programming noise 1 %",
        "stuck-at 1 %, plain mapping", "stuck-at 1 %, fault-aware", "read noise 2 %", "1 Ohm wires (IR drop)",
        "all but the wires, plain mapping", "all but the wires", "all, plain mapping", "all (realistic)"]
table("crossbar-ablation", "docs/crossbar.md",
      [[f"{{{CT}#ablation.rows[training=ideal training,nonideality={n}].nonideality}}",
        f"{{{CT}#ablation.rows[training=ideal training,nonideality={n}].accuracy|%.2f}} %",
        f"{{{CT}#ablation.rows[training=hardware-aware training,nonideality={n}].accuracy|%.2f}} %"] for n in _ABL],
      header=["non-ideality (earlier, test-chosen runs: trained on all 60,000 images)", "ideal training",
              "hardware-aware (hwa-shift1, chosen by test accuracy)"], measured=(0, 1, 2), conditions=False,
      note="These are the earlier runs of the table `crossbar-deploy` (no validation split; the fine-tuning run "
           "was chosen by test accuracy), not the validation-chosen hwa-shift1-val5000.")

table("crossbar-drift", "docs/crossbar.md",
      [[f"{{{CT}#drift.rows[training={tr},t_read={t},drift_compensation=false].time}}",
        f"{{{CT}#drift.rows[training={tr},t_read={t},drift_compensation=false].accuracy|%.2f}} -> "
        f"{{{CT}#drift.rows[training={tr},t_read={t},drift_compensation=true].accuracy|%.2f}} %",
        ] for tr in ("hardware-aware training",) for t in ("1.0", "3600.0", "86400.0", "31557600.0")]
      + [[f"{{{CT}#drift.rows[training=ideal training,t_read=31557600.0,drift_compensation=false].time}}, ideal training",
          f"{{{CT}#drift.rows[training=ideal training,t_read=31557600.0,drift_compensation=false].accuracy|%.2f}} -> "
          f"{{{CT}#drift.rows[training=ideal training,t_read=31557600.0,drift_compensation=true].accuracy|%.2f}} %"]],
      header=["read after programming (pcm preset; earlier, test-chosen hwa-shift1 unless the row says)",
              "accuracy without -> with global drift compensation (10,000 test images)"],
      measured=(1,), conditions=False,
      note="The earlier runs of the table `crossbar-deploy` (trained on all 60,000 images, the fine-tuning run chosen "
           "by test accuracy), not the validation-chosen hwa-shift1-val5000.")


EN = "codesign_energy.json#report"
table("energy-per-image", "docs/energy.md", [
    [f"dense1: {{{EN}.layers.dense1.synops|,.0f}} MACs", f"{{{EN}.layers.dense1.proxy_J|n.2f}} nJ"],
    [f"dense2: {{{EN}.layers.dense2.synops|,.0f}} MACs", f"{{{EN}.layers.dense2.proxy_J|n.2f}} nJ"],
    [f"readout synaptic events: {{{EN}.layers.readout.synops|,.0f}} MACs", f"{{{EN}.layers.readout.proxy_J|n.2f}} nJ"],
    ["readout circuit: heat in memristors M1 / M2",
     f"{{{EN}.circuit_J.memristor1|n.2f}} / {{{EN}.circuit_J.memristor2|n.2f}} nJ"],
    [f"readout circuit: supplied (synapse {{{EN}.circuit_J.synapse|n.2f}}, battery E2 {{neg {EN}.circuit_J.battery2|n.2f}})",
     f"{{{EN}.circuit_J.supplied|n.2f}} nJ"],
    ["**total**", f"**{{{EN}.total_J|n.2f}} nJ** (proxy alone {{{EN}.proxy_total_J|n.2f}} nJ)"],
], header=["part", "per image"], measured=(0, 1), conditions=False)


XE = "crossbar_energy.json#report"
table("energy-crossbar", "docs/energy.md", [
    [f"layer {i} ({w}): array, from the nodal solve: cells / word-line wires / bit-line wires",
     f"{{{XE}.front_end_J.dense{i}.cells|n.4f}} / {{{XE}.front_end_J.dense{i}.word_wires|n.5f}} / "
     f"{{{XE}.front_end_J.dense{i}.bit_wires|n.5f}} nJ"] for i, w in ((1, "785 x 100: 4 row tiles"), (2, "101 x 10"))
] + [
    [f"layer {i}: DAC drives ({{{XE}.front_end_J.dense{i}.dac_drives|,.0f}}) / ADC conversions "
     f"({{{XE}.front_end_J.dense{i}.conversions|,.0f}}) / sample and hold / shift-add",
     f"{{{XE}.front_end_J.dense{i}.dac|n.3f}} / {{{XE}.front_end_J.dense{i}.adc|n.3f}} / "
     f"{{{XE}.front_end_J.dense{i}.sample_hold|n.4f}} / {{{XE}.front_end_J.dense{i}.shift_add|n.4f}} nJ"] for i in (1, 2)
] + [
    [f"drive values written into the readout ({{{XE}.front_end_J.readout_drive.dac_drives|,.0f}} 1-bit drives)",
     f"{{{XE}.front_end_J.readout_drive.dac|n.3f}} nJ"],
    [f"readout circuit (10 MIF, `MIFEnergy`): supplied (heat in M1 / M2: {{{XE}.circuit_J.memristor1|n.2f}} / "
     f"{{{XE}.circuit_J.memristor2|n.2f}})", f"{{{XE}.circuit_J.supplied|n.2f}} nJ"],
    [f"**total**, test accuracy of the same chip {{{XE}.accuracy|%.2f}} % (" + _EN_IMAGES + ")",
     f"**{{{XE}.total_J|n.2f}} nJ**"],
    ["for comparison: the same network with a digital front end (MAC proxy + the readout circuit)",
     f"{{{XE}.digital_total_J|n.2f}} nJ (proxy {{{XE}.proxy_total_J|n.2f}})"],
], header=["part (per image)", "energy"], conditions=False)


table("energy-ste", "docs/energy.md", [
    [f"{mode}: " + ", ".join(f"seed {k}" for k in STE_SEEDS[mode]), _ste(mode, "energy.accuracy"),
     _ste(mode, "energy.layers.dense1.synops", ",.0f") + " / " + _ste(mode, "energy.layers.dense2.synops", ",.0f"),
     _ste(mode, "energy.spikes_per_image.dense1", ",.0f"), _ste(mode, "energy.activation_sparsity", ".3f"),
     "**" + _ste(mode, "energy.proxy_total_J", "n.1f") + "**"]
    for mode in ("discontinuous", "continuous")
], header=["integration, seeds", "test accuracy", "SynOps per image, dense1 (784 -> 1024) / dense2 (1024 -> 10)",
           "hidden spikes per image", "activation sparsity (hidden)", "proxy nJ/image"],
   measured=(1, 2, 3, 4, 5), conditions=False)


def _dev(f, label, how):
    r = f"{f}#report"
    return [label, f"{{{r}.accuracy|%.2f}} %", f"{{{r}.total_J|n.2f}}", f"{{{r}.circuit_J.supplied|n.2f}}",
            f"{{ratio {r}.proxy_total_J {r}.total_J|%.0f}} %", how]


table("energy-devices", "docs/energy.md", [
    _dev("codesign_energy.json", "as trained (nominal devices)", "-"),
    _dev("codesign_energy_pareto.json", "low-energy end of the sweep's Pareto front: R_off 20 kOhm (both), C 5 nF",
         "**on test images**: the sweep ran on the first 100 test images, which are among the 10,000 scored here"),
    _dev("codesign_energy_codesigned.json", "found by the co-design run (section 4)",
         "gradient descent on 8,000 training images"),
], header=["readout devices (same trained weights)", "accuracy, 10,000 test images", "total nJ/image",
           "circuit nJ/image", "MAC proxy's share", "how the devices were chosen"],
   measured=(1, 2, 3, 4), conditions=False)

CC = "codesign_codesign.json#runs"
table("energy-codesign", "docs/energy.md", [
    [label, f"{{{CC}.{k}.accuracy|%.2f}} %", f"{{{CC}.{k}.energy_nJ|.2f}}", f"{{{CC}.{k}.circuit_nJ|.2f}}"]
    for label, k in (("trained network, original devices", "baseline_as_trained"),
                     ("co-design (weights + devices)", "codesign"),
                     ("check: found devices fixed, weights re-trained", "retrained_at_found_devices"),
                     ("control: original devices, weights re-trained", "retrained_at_original_devices"),
                     ("found devices, no re-training", "found_devices_no_retraining"))
], header=["run (same 2,000 test images)", "accuracy", "total nJ/image", "circuit nJ/image"],
   measured=(1, 2, 3), conditions=False)


def _sh(f, exp):
    r = f"{f}#rows[experiment={exp}]"
    return [f"`{f}` (load {{load {f}}})" if exp == "sweep" else "",
            ("sweep " if exp == "sweep" else "Monte-Carlo ") + f"{{{r}.points}} x {{{r}.images_per_point}}",
            f"{{{r}.devices1_s|.2f}} s", f"{{{r}.devices2_s|.2f}} s ({{{r}.devices2_cores_used|.2f}})",
            f"{{{r}.speedup|.2f}}x"]


table("energy-sharded", "docs/energy.md",
      [_sh(f, e) for f in ("codesign_sharded_rerun.json", "codesign_sharded_32.json", "codesign_sharded.json")
       for e in ("sweep", "monte_carlo")],
      header=["run (load average 1 min)", "points x images", "1 device", "2 devices (cores got)", "speed-up"],
      measured=(0, 1, 2, 3, 4), conditions=False)


EC = "ensemble_cpu.json#rows"


def _ens(model, label):
    one = f"{EC}[model={model},members=1]"
    out = [[f"{label} (single step {{{one}.single_step_ms|.1f}} ms)", f"{{{one}.members}}", "",
            f"{{{one}.step_ms|.1f}}", f"{{{one}.ms_per_model_step|.1f}}", f"{{{one}.gain|.2f}}"]]
    for k in (2, 4, 8):
        v, m = f"{EC}[model={model},members={k},way=vmap]", f"{EC}[model={model},members={k},way=map]"
        out.append(["", f"{{{v}.members}}", "vmap / map", f"{{{v}.step_ms|.3g}} / {{{m}.step_ms|.3g}}",
                    f"{{{v}.ms_per_model_step|.1f}} / {{{m}.ms_per_model_step|.1f}}", f"{{{v}.gain|.2f}} / {{{m}.gain|.2f}}"])
    return out


table("training-ensemble", "docs/training.md",
      _ens("spiceprop", "SPICEprop 784-100-10 MIF, 1000 steps, batch 200")
      + _ens("surrogate", "surrogate 784-1000-10 LIF, 25 steps, batch 128"),
      header=["network", "K", "way", "ensemble step, ms", "per model-step, ms", "gain over K runs"],
      measured=(1, 2, 3, 4, 5), conditions=False)


def _relu_probe(key: str, label: str) -> list:
    v = f'spiceprop_relu_probe.json#variants["{key}"]'
    return [label, f"{{{v}.train_subset}} - {{{v}.validation}}", f"{{{v}.rows[epoch=1].drive_units_dead_on_own_class}} / "
            f"{{{v}.rows[-1].drive_units_dead_on_own_class}}", f"{{{v}.rows[-1].dead_drive_units}}",
            f"{{{v}.rows[-1].dead_hidden_fraction[0]|%.0f}} %", f"{{{v}.rows[-1].drive_active_fraction|%.0f}} %",
            f"{{{v}.rows[-1].val_acc|%.2f}}"]


table("spiceprop-relu-probe", "docs/training.md",
      [_relu_probe("mnist/12000/relu-lr2e-3", "ReLU drive, uniform init, lr 2e-3"),
       _relu_probe("mnist/12000/relu-lr5e-4", "ReLU drive, uniform init, lr 5e-4"),
       _relu_probe("mnist/12000/relu-lr2e-3-bias0.1", "ReLU drive, drive bias 0.1, lr 2e-3"),
       _relu_probe("mnist/12000/relu-lr5e-4-bias0.1", "ReLU drive, drive bias 0.1, lr 5e-4"),
       _relu_probe("mnist/25000/linear-lr2e-3", "linear drive (memsnn's default), lr 2e-3"),
       _relu_probe("mnist/25000/relu-lr1e-3-bias0.1", "ReLU drive, drive bias 0.1, lr 1e-3"),
       _relu_probe("mnist/25000/relu-lr2e-3-bias0.1", "ReLU drive, drive bias 0.1, lr 2e-3"),
       _relu_probe("mnist/25000/relu-lr2e-3-bias0.3", "ReLU drive, drive bias 0.3, lr 2e-3 (chosen)")],
      header=["3 epochs, full MNIST's first N training images, the last 5,000 held out", "N - held out",
              "drive units dead on their own class, epoch 1 / 3", "drive units dead on all", "dead hidden units",
              "active (image, drive unit) pairs", "validation accuracy, %"],
      measured=(1, 2, 3, 4, 5, 6), conditions=False)


def _spiceprop_vs_torch(file: str, label: str) -> list:
    f = f"spiceprop_vs_torch{file}.json"
    return [label, f"{{{f}#jax_devices}}", f"{{{f}#cpu_ms_median.memsnn|.1f}}",
            f"{{{f}#cpu_ms_median.torch_eager|,.0f}} / {{{f}#cpu_ms_median.torch_compile|.0f}}",
            f"**{{{f}#speedup_cpu_time.torch_eager|.1f}}x / {{{f}#speedup_cpu_time.torch_compile|.1f}}x**",
            f"{{{f}#speedup|.1f}}x / {{{f}#speedup_vs_torch_compile|.1f}}x", f"{{load {f}}}"]


table("spiceprop-forward-sensitivity", "docs/training.md",
      [_spiceprop_vs_torch("_s8", "reverse mode (session 8)"),
       _spiceprop_vs_torch("_s9_before", "reverse mode (session 9, before)"),
       _spiceprop_vs_torch("_s9", "forward sensitivities (session 9, after)"),
       _spiceprop_vs_torch("_s9_1device", "forward sensitivities, one JAX device"),
       _spiceprop_vs_torch("_s10", "forward sensitivities, one step per loop iteration (session 10)"),
       _spiceprop_vs_torch("_s10_1device", "the same, one JAX device"),
       _spiceprop_vs_torch("_s10_idle", "the same code on the idle machine (session 10's end)"),
       _spiceprop_vs_torch("_s10_idle_1device", "the same, idle, one JAX device")],
      header=["SPICEprop step, batch 200, 1000 steps, torch 1 thread", "memsnn CPU devices", "memsnn CPU ms",
              "torch eager / torch.compile CPU ms", "CPU-time ratio (goal 30x / 8x)", "wall-time ratio",
              "load"],
      measured=(1, 2, 3, 4, 5, 6), conditions=False)


def _conversion_full(dataset: str, label: str, steps: tuple) -> list:
    f = f"conversion_qcfs_bn_{dataset}.json#datasets.{dataset}"
    cells = lambda tool: [f"{{{f}.{tool}.rows[steps={t}].accuracy|%.2f}}" if t in steps else "" for t in (4, 8, 16, 32)]
    return [[f"{label}, memsnn", f"{{{f}.ann_qcfs.ann_accuracy|%.2f}}"] + cells("memsnn.qcfs"),
            [f"{label}, SpikingJelly 2.0", ""] + cells("compare.qcfs.spikingjelly")]


table("conversion-full", "docs/conversion.md",
      _conversion_full("mnist", "MNIST", (4, 8, 16)) + _conversion_full("fashion-mnist", "Fashion-MNIST", (4, 8, 16, 32)),
      header=["all 10,000 test images", "ANN", "T=4", "T=8", "T=16", "T=32"],
      measured=(1, 2, 3, 4, 5), conditions=False)

CV = "conversion.json#datasets.mnist"
table("conversion-mnist", "docs/conversion.md",
      [[label, f"{{{CV}.{ann}.ann_accuracy|%.2f}}"]
       + [f"{{{CV}.memsnn.{k}.rows[steps={t}].accuracy|%.2f}}" for t in (4, 8, 16, 32, 64)]
       for label, k, ann in (("ReLU, max norm", "relu_max", "ann_relu"), ("ReLU, 99.9 % norm", "relu_percentile", "ann_relu"),
                             ("QCFS, L = 8", "qcfs", "ann_qcfs"))]
      + [["QCFS, L = 8, all 10,000 test images (`memsnn train`'s own table; T = 4 ... 128)",
          "{conversion_mnist_qcfs_full_test.json#ann_accuracy|%.2f}"]
         + [f"{{conversion_mnist_qcfs_full_test.json#snn[steps={t}].accuracy|%.2f}}" for t in (4, 8, 16, 32, 64)]],
      header=["MNIST, first 2,000 test images unless said", "ANN", "T=4", "T=8", "T=16", "T=32", "T=64"],
      measured=(1, 2, 3, 4, 5, 6), conditions=False,
      note="At T = 128 the full-test-set QCFS network gives {conversion_mnist_qcfs_full_test.json#snn[steps=128].accuracy|%.2f} %.")

table("plasticity-results", "docs/plasticity.md", [
    ["Diehl & Cook, 100 neurons, one pass over the 60,000 training images, explicit Euler at 0.5 ms; labels from 10,000 training images, all 10,000 test images. Paper: 82.9 % after 60,000",
     "{stdp_mnist_N100.json#test_accuracy|%.1f} %",
     "`python benchmarks/stdp_mnist.py --neurons 100 --integrator euler --out runs/stdp100` (`--resume` continues)"],
    ["Diehl & Cook, 100 neurons, exponential Euler at 0.5 ms, one pass over the 60,000 training images; labels from 10,000 training images, all 10,000 test images. Paper: 82.9 %",
     "{stdp_mnist_N100_exp.json#test_accuracy|%.2f} %",
     "`python benchmarks/stdp_mnist.py --neurons 100 --integrator exponential --out runs/stdp100-exp --tag _exp` (`--resume` continues)"],
    ["Diehl & Cook, 100 neurons: the exponential-Euler pass above (its checkpoint) labelled as their evaluation script does (neurons silent for every class unlabelled); all 10,000 test images. Paper: 82.9 %",
     "{stdp_mnist_N100_exp_relabel.json#test_accuracy|%.2f} %",
     "`python benchmarks/stdp_mnist.py --neurons 100 --integrator exponential --out COPY_OF_runs/stdp100-exp --resume --evaluate-only --tag _exp_relabel` (no neuron was silent: the labels and the accuracy are the row above's)"],
    ["Diehl & Cook, 100 neurons, the configuration kept on the validation split (exponential Euler, clamp; no simulated rest, no input delays), seed 1: one pass over the 60,000 training images; labels from 10,000 training images, all 10,000 test images. Paper: 82.9 %",
     "{stdp_mnist_N100_exp_seed1.json#test_accuracy|%.2f} % (the first seed's pass above: {stdp_mnist_N100_exp_relabel.json#test_accuracy|%.2f} %)",
     "`python benchmarks/stdp_mnist.py --neurons 100 --integrator exponential --seed 1 --tag _exp_seed1 --out runs/dc100-final-seed1` (`--resume` continues)"],
    ["The same configuration, seed 2 (session 9; nice 0, then -5, beside helpers' jobs at nice 10): one pass over the 60,000 training images; labels from 10,000 training images, all 10,000 test images. Paper: 82.9 %",
     "{stdp_mnist_N100_exp_seed2.json#test_accuracy|%.2f} % (the three seeds: {meanstd stdp_mnist_N100_exp_relabel.json#test_accuracy stdp_mnist_N100_exp_seed1.json#test_accuracy stdp_mnist_N100_exp_seed2.json#test_accuracy|%.2f})",
     "`python benchmarks/stdp_mnist.py --neurons 100 --integrator exponential --seed 2 --tag _exp_seed2 --out runs/dc100-final-seed2 --save-every 2000` (`--resume` continues)"],
    ["Diehl & Cook, 100 neurons: the seed-2 network above (its 60,000-image checkpoint, learning off) labelled as the paper did, from the frozen responses to all 60,000 training images "
     "instead of the last 10,000; all 10,000 test images; run once, as it came (not chosen on validation, so not the default). Paper: 82.9 %",
     "{stdp_mnist_N100_exp_seed2_label60k.json#test_accuracy|%.2f} % (the same network with the default labelling, above: {stdp_mnist_N100_exp_seed2.json#test_accuracy|%.2f} %)",
     "`python benchmarks/stdp_mnist.py --neurons 100 --integrator exponential --seed 2 --out COPY_OF_runs/dc100-final-seed2 --resume --evaluate-only --label-images 60000 --tag _exp_seed2_label60k` (the copy without `labelled.eqx`)"],
    ["Choosing the excitatory refractory handling on a validation split (`--validation 10000`: learn from training images 0-9,999, label from the frozen responses to 5,000-9,999, classify held-out training images 50,000-54,999; the test set is not read), 100 neurons, exponential Euler: membrane held at the reset (memsnn's default) against integrating through the 5 ms (their Brian 1 code, `--no-clamp-refractory`)",
     "{stdp_mnist_N100_val10k_base.json#validation_accuracy|%.2f} % against {stdp_mnist_N100_val10k_noclamp.json#validation_accuracy|%.2f} %: the clamp kept. "
     "Afterwards, for information, explicit Euler (`--integrator euler`): integrating through the period (their numerics in full) {stdp_mnist_N100_val10k_euler_noclamp.json#validation_accuracy|%.2f} %, "
     "held {stdp_mnist_N100_val10k_euler_clamp.json#validation_accuracy|%.2f} %",
     "`python benchmarks/stdp_mnist.py --neurons 100 --integrator exponential --images 10000 --validation 10000 --label-images 5000 --test-images 5000 [--no-clamp-refractory] --tag _val10k_base|_val10k_noclamp`"],
    ["The same validation split, 100 neurons, exponential Euler, clamp: the baseline with another seed, and Diehl & Cook's simulated rest (`--carry-rest`: each presentation starts with exp(-t_rest/tau) of the membranes' deviation and of the traces), chosen by a rule fixed before its result (adopt if at least the baseline seeds' mean)",
     "baseline seed {stdp_mnist_N100_val10k_base.json#configuration.seed|.0f} {stdp_mnist_N100_val10k_base.json#validation_accuracy|%.2f} %, seed {stdp_mnist_N100_val10k_seed1.json#configuration.seed|.0f} {stdp_mnist_N100_val10k_seed1.json#validation_accuracy|%.2f} %; "
     "carry_rest (seed {stdp_mnist_N100_val10k_carry_rest.json#configuration.seed|.0f}) {stdp_mnist_N100_val10k_carry_rest.json#validation_accuracy|%.2f} %: not adopted",
     "`python benchmarks/stdp_mnist.py --neurons 100 --integrator exponential --images 10000 --validation 10000 --label-images 5000 --test-images 5000 [--seed 1 --tag _val10k_seed1 \\| --carry-rest --tag _val10k_carry_rest]`"],
    ["Diehl & Cook's input delays (`--input-delay 0.01`: `DelayedPlastic`, the rule reading its traces at the arrivals) against none, 100 neurons, the same seed, chunks of `--chunk` training images alternating (the compiling chunk left out), then `--eval-images` images classified with learning off (the values in the command); goal: learning within 1.5x of the time without delays",
     "learning {stdp_delay_speed.json#learn_ms_per_image_median.delay|.1f} against {stdp_delay_speed.json#learn_ms_per_image_median.no_delay|.1f} ms of CPU per image ({stdp_delay_speed.json#learn_ratio_delay_over_no_delay|.1f}x, **missed**), "
     "classifying {stdp_delay_speed.json#evaluate_ms_per_image.delay|.1f} against {stdp_delay_speed.json#evaluate_ms_per_image.no_delay|.1f} ms of CPU per image ({stdp_delay_speed.json#evaluate_ratio|.1f}x). "
     "On the validation split above (seed {stdp_mnist_N100_val10k_delay.json#configuration.seed|.0f}): {stdp_mnist_N100_val10k_delay.json#validation_accuracy|%.2f} % against the baseline's {stdp_mnist_N100_val10k_base.json#validation_accuracy|%.2f} %, within the seeds' spread: not used",
     "`python benchmarks/stdp_delay_speed.py --chunks 3 --chunk 20 --eval-images 50`; validation: `python benchmarks/stdp_mnist.py --neurons 100 --integrator exponential --images 10000 --validation 10000 --label-images 5000 --test-images 5000 --input-delay 0.01 --tag _val10k_delay`"],
    ["Diehl & Cook, 400 neurons, exponential Euler (explicit Euler blew up at 1,250 images), one pass over the {stdp_mnist_N400.json#training_images_seen|,.0f} training images (the same run after {stdp_mnist_N400_14700.json#training_images_seen|,.0f}: {stdp_mnist_N400_14700.json#test_accuracy|%.2f} %, after {stdp_mnist_N400_53500.json#training_images_seen|,.0f}: {stdp_mnist_N400_53500.json#test_accuracy|%.2f} %); labels from 10,000 training images, all 10,000 test images. Paper: 87.0 % after 60,000",
     "{stdp_mnist_N400.json#test_accuracy|%.2f} %",
     "`python benchmarks/stdp_mnist.py --neurons 400 --integrator exponential --out runs/stdp400` (`--resume` continues)"],
    ["memristive synapses (NeuroSim devices, `--crossbar neurosim`, cycle-to-cycle write noise drawn for every device written) beside ideal, 100 neurons, 200 training images, labels from 500, 500 test images",
     "{stdp_mnist_N100_crossbar_200img_writenoise.json#test_accuracy|%.1f} % on the crossbar against {stdp_mnist_N100_200img_writenoise.json#test_accuracy|%.1f} % ideal "
     "(on the crossbar only the weight normalisation wrote pulses: the rule's own requests (nearly) all stayed below half a pulse); "
     "learning {stdp_mnist_N100_crossbar_200img_writenoise.json#ms_per_training_image|K.2f} s per image on the crossbar against {stdp_mnist_N100_200img_writenoise.json#ms_per_training_image|K.2f} s "
     "(with the first chunk's compilation; before the column write: {stdp_mnist_N100_crossbar_200img_writenoise_fulldraw.json#ms_per_training_image|K.2f} s against {stdp_mnist_N100_200img_writenoise_fulldraw.json#ms_per_training_image|K.2f} s), "
     "one after the other; before the writes drew noise (an earlier session): {stdp_mnist_N100_crossbar_200img.json#test_accuracy|%.1f} % against {stdp_mnist_N100_200img.json#test_accuracy|%.1f} %, "
     "{stdp_mnist_N100_crossbar_200img.json#ms_per_training_image|K.2f} s against {stdp_mnist_N100_200img.json#ms_per_training_image|K.2f} s per image",
     "`python benchmarks/stdp_mnist.py --neurons 100 --images 200 --label-images 500 --test-images 500 --crossbar neurosim --tag _200img_writenoise --out runs/x200` (and without `--crossbar`)"],
    ["speed against Brian2 2.9 (Cython), same network, 30 bundled MNIST images, side by side in one process on 2 cores / pinned to 1 core",
     "on {len stdp_vs_brian2_2cores.json#cores_used} cores with one XLA thread (the stdp method's setting; XLA's default threads right before it: {stdp_vs_brian2_2cores_xladefault.json#memsnn.cpu_s_per_image|k.1f} ms CPU, {stdp_vs_brian2_2cores_xladefault.json#speedup_cpu|.1f}x): memsnn {stdp_vs_brian2_2cores.json#memsnn.cpu_s_per_image|k.1f} ms CPU / {stdp_vs_brian2_2cores.json#memsnn.s_per_image|k.0f} ms wall per training image; "
     "Brian2 {stdp_vs_brian2_2cores.json#brian2.cpu_s_per_image|k.0f} ms CPU / {stdp_vs_brian2_2cores.json#brian2.s_per_image|.1f} s wall: "
     "{stdp_vs_brian2_2cores.json#speedup_cpu|.1f}x in CPU time, {stdp_vs_brian2_2cores.json#speedup_wall|.0f}x in wall time (load {load stdp_vs_brian2_2cores.json}); on {len stdp_vs_brian2_1core.json#cores_used} core: "
     "{stdp_vs_brian2_1core.json#memsnn.cpu_s_per_image|k.1f} vs {stdp_vs_brian2_1core.json#brian2.cpu_s_per_image|k.0f} ms CPU, {stdp_vs_brian2_1core.json#speedup_cpu|.1f}x (load {load stdp_vs_brian2_1core.json})",
     "`python benchmarks/stdp_vs_brian2.py --neurons 100 --images 30 [--cores 1 --out benchmarks/results/stdp_vs_brian2_1core.json]`"],
    ["explicit Euler against exponential Euler at dt = 0.5 ms (`--integrator`), Euler first in each pair. (a) The 400-neuron run replayed from its checkpoint at 1,000 images "
     "with the same inputs: the largest chunk mean of spikes per image and the unstable presentations, Euler to 1,300 images, exponential to 1,500. (b) 100 neurons trained from "
     "scratch (seed 0): running accuracy of the last 1,000 training images at 1,000 and 3,500 images, then spikes and presentations per image over the 3,500. (c) A frozen "
     "400-neuron network (the checkpoint of a run with exponential Euler at 9,000 images) shown 20 training images: spikes per image, then those of the converged model (both schemes with 512 sub-steps)",
     "(a) {stdp_integrators.json#training.euler_400_replay.at.1300.max_chunk_spikes_per_image|,.0f} ({stdp_integrators.json#training.euler_400_replay.at.1300.unstable_presentations} unstable) / "
     "{stdp_integrators.json#training.exponential_400_replay.at.1500.max_chunk_spikes_per_image|.1f} ({stdp_integrators.json#training.exponential_400_replay.at.1500.unstable_presentations} unstable); "
     "(b) {stdp_integrators.json#training.euler_100.at.1000.running_acc_last_1000|%.1f} / {stdp_integrators.json#training.exponential_100.at.1000.running_acc_last_1000|%.1f} % and "
     "{stdp_integrators.json#training.euler_100.at.3500.running_acc_last_1000|%.1f} / {stdp_integrators.json#training.exponential_100.at.3500.running_acc_last_1000|%.1f} %; "
     "{stdp_integrators.json#training.euler_100.at.3500.spikes_per_image|.1f} / {stdp_integrators.json#training.exponential_100.at.3500.spikes_per_image|.1f} spikes, "
     "{stdp_integrators.json#training.euler_100.at.3500.presentations|.2f} / {stdp_integrators.json#training.exponential_100.at.3500.presentations|.2f} presentations; "
     "(c) {stdp_integrators.json#discretisation.schemes.euler.spikes_per_image|.1f} / {stdp_integrators.json#discretisation.schemes.exponential.spikes_per_image|.1f}, converged {stdp_integrators.json#discretisation.reference_spikes_per_image|.1f}",
     "`python benchmarks/stdp_integrators.py --checkpoint CKPT --first 1000 --images 20 --log NAME=LOG ... --at 1000 1300 1500 2000 3000 3500` over "
     "`benchmarks/stdp_mnist.py` runs with `--integrator euler` / `exponential` (replays: `--resume` from a copy of the checkpoint)"],
], header=["figure", "measured", "command"], measured=(1,), conditions=False)


WT = "weight_transfer.json"


def _snn(n, devices):
    return " / ".join(f"{{{WT}#levels.{n}.{devices}.snn[steps={t}].accuracy|%.2f}}" for t in (8, 16, 32, 64))


table("weight-transfer-accuracy", "docs/weight-transfer.md",
      [[str(n), f"{{{WT}#levels.{n}.levels}}",
        f"{{{WT}#levels.{n}.ptq_ann_accuracy|%.2f}}",
        f"{{{WT}#levels.{n}.qat_ann_accuracy|%.2f}} (QAT {{{WT}#levels.{n}.qat_epochs}} ep.)",
        _snn(n, "noiseless"), _snn(n, "varied")] for n in range(1, 8)],
      header=["n", "levels", "PTQ ANN", "QAT ANN", "SNN, noiseless devices", "SNN, varied devices"],
      measured=(1, 2, 3, 4, 5), conditions=False,
      note="Float 784-800-10 ANN: {weight_transfer.json#float.ann_accuracy|%.2f} %; as an IF network at T = 8 / 16 / 32 / 64: "
           "{weight_transfer.json#float.snn[steps=8].accuracy|%.2f} / {weight_transfer.json#float.snn[steps=16].accuracy|%.2f} / "
           "{weight_transfer.json#float.snn[steps=32].accuracy|%.2f} / {weight_transfer.json#float.snn[steps=64].accuracy|%.2f} %.")

table("weight-transfer-programming", "docs/weight-transfer.md",
      [[str(n), f"{{{WT}#levels.{n}.varied.steps|,.0f}} ({{{WT}#levels.{n}.weight_map_steps_bound|,.0f}})",
        f"{{{WT}#levels.{n}.one_by_one.steps|,.0f}}", f"{{{WT}#levels.{n}.write_verify.steps|,.0f}}",
        f"{{{WT}#levels.{n}.weights|,.0f}}",
        f"{{{WT}#levels.{n}.varied.device_energy_J|k.2f}} + {{{WT}#levels.{n}.varied.half_select_energy_J|k.0f}}",
        f"{{{WT}#levels.{n}.one_by_one.device_energy_J|k.2f}} + {{{WT}#levels.{n}.one_by_one.half_select_energy_J|k.0f}}",
        f"{{{WT}#levels.{n}.write_verify.energy_J|k.2f}} + {{{WT}#levels.{n}.write_verify.half_select_energy_J|k.0f}}"]
       for n in range(1, 8)],
      header=["n", "weight-map steps (bound 810 x 2n)", "one-by-one steps (non-zero weights)", "write-verify pulses",
              "weights", "energy weight maps", "energy one by one", "energy write-verify"],
      measured=(1, 2, 3, 4, 5, 6, 7), conditions=False)


def _sw(n, kind, sigma):
    k = "d2d" if sigma == "0.0" else kind  # sigma 0 is the same noiseless transfer for both kinds
    return f"{{{WT}#sweeps[n={n},kind={k},sigma={sigma}].snn_accuracy_mean|%.2f}}"


table("weight-transfer-variation", "docs/weight-transfer.md",
      [[str(n), kind] + [_sw(n, kind, s) for s in ("0.0", "0.05", "0.1", "0.2", "0.3", "0.5")]
       for n in (1, 3, 7) for kind in ("d2d", "c2c")],
      header=["n", "kind", "0", "0.05", "0.1", "0.2", "0.3", "0.5"], measured=(2, 3, 4, 5, 6, 7), conditions=False,
      note="Seeds per cell: n = 1: {weight_transfer.json#sweeps[n=1,kind=d2d,sigma=0.0].seeds} (mean), "
           "n = 3 and 7: {weight_transfer.json#sweeps[n=3,kind=d2d,sigma=0.0].seeds}. Crossbar check "
           "(n = 1, varied devices, first {weight_transfer.json#crossbar.samples} test images, T = {weight_transfer.json#crossbar.steps}): "
           "the conductances in `memsnn.crossbar.Crossbar` layers with read noise give {weight_transfer.json#crossbar.crossbar_accuracy|%.1f} %, "
           "the Dense version {weight_transfer.json#crossbar.dense_accuracy|%.1f} %, same prediction on "
           "{weight_transfer.json#crossbar.agreement|%.1f} % of the images.")


ST = "spike_times_gradients.json"
table("spike-times-gradients", "docs/spike-times.md",
      [[f"{{{ST}#gradients[{i}].case}}", f"{{{ST}#gradients[{i}].max_rel_error|.1e}}"] for i in range(13)],
      header=["case", "max rel. error"], measured=(1,), conditions=False)

table("spike-times-closed-form", "docs/spike-times.md",
      [[f"{{{ST}#closed_form_lif[{i}].integrator}}", f"{{{ST}#closed_form_lif[{i}].dt_s|k.2g}} ms",
        f"{{{ST}#closed_form_lif[{i}].max_abs_error_s|.1e}} s",
        f"{{{ST}#closed_form_lif[{i}].max_abs_error_all_spikes_s|.1e}} s"] for i in range(5)],
      header=["integrator", "grid step h", "max error of the first spike time",
              "max error of all 6 spike times in 30 ms (resets to 0 between)"],
      measured=(1, 2, 3), conditions=False)

EVD = "spike_times_events_delays.json"
table("spike-times-events-delays", "docs/spike-times.md",
      [[f"{{{EVD}#gradients[{i}].case}}", f"{{{EVD}#gradients[{i}].max_rel_error|.1e}}"] for i in range(_EVD_CASES)]
      + [[f"closed form: {{{EVD}#closed_form[{i}].check}}",
          f"{{{EVD}#closed_form[{i}].max_abs_error_s|.1e}} s; gradient off by {{{EVD}#closed_form[{i}].max_gradient_error|.1e}}"]
         for i in range(_EVD_CLOSED)],
      header=["case", "max rel. error (closed forms: max error)"], measured=(1,), conditions=False)

EC = "spike_times_events_cost.json"


def _ec(name, key, spec):
    return f"{{{EC}#{key.format(name)}|{spec}}}"


table("spike-times-events-cost", "docs/spike-times.md", [
    ["one run (forward)"] + [_ec(n, "median_s.{}.forward", "k.0f") + " ms" for n in ("located", "located_same_adjoint", "events")]
    + [_ec("", "ratio_events_over_located.forward", ".1f") + "x / " + _ec("", "ratio_events_over_located_same_adjoint.forward", ".1f") + "x"],
    ["gradient of the summed first output spike times (all parameters)"]
    + [_ec(n, "median_s.{}.gradient", ".2f") + " s" for n in ("located", "located_same_adjoint", "events")]
    + [_ec("", "ratio_events_over_located.gradient", ".2f") + "x / " + _ec("", "ratio_events_over_located_same_adjoint.gradient", ".1f") + "x"],
    ["compilation, forward / gradient"]
    + [_ec(n, "compile_s.{}.forward", ".0f") + " / " + _ec(n, "compile_s.{}.gradient", ".0f") + " s"
       for n in ("located", "located_same_adjoint", "events")] + [""],
    ["largest error of first spike times against a 100x finer grid, hidden / output"]
    + [_ec(n, "accuracy_vs_fine_grid.{}.first_spike_max_abs_error_s[0]", ".1e") + " / "
       + _ec(n, "accuracy_vs_fine_grid.{}.first_spike_max_abs_error_s[1]", ".1e") + " s"
       for n in ("located", "located_same_adjoint", "events")] + [""],
    ["spikes, hidden / output, whole batch (the finer grid: "
     + _ec("", "accuracy_vs_fine_grid.reference_10us.spikes[0]", ".0f") + " / "
     + _ec("", "accuracy_vs_fine_grid.reference_10us.spikes[1]", ".0f") + ")"]
    + [_ec(n, "accuracy_vs_fine_grid.{}.spikes[0]", ".0f") + " / " + _ec(n, "accuracy_vs_fine_grid.{}.spikes[1]", ".0f")
       for n in ("located", "located_same_adjoint", "events")] + [""],
], header=["2-layer LIF 4-8-3, batch 16, 60 x 1 ms, adaptive Tsit5 rtol 1e-8, float64", "located crossing",
           "located, RecursiveCheckpointAdjoint()", "events", "events / located (each adjoint)"],
   measured=(1, 2, 3, 4), conditions=False)


table("crossbar-factor-forms", "docs/crossbar.md",
      [[f"{{irdrop_factor_forms.json#rows[{i}].size}}",
        f"{{irdrop_factor_forms.json#rows[{i}].cpu_s_median.series_forward|.2f}} / {{irdrop_factor_forms.json#rows[{i}].cpu_s_median.series_forward_backward|.2f}} s",
        f"{{irdrop_factor_forms.json#rows[{i}].cpu_s_median.product_free_forward|.2f}} / {{irdrop_factor_forms.json#rows[{i}].cpu_s_median.product_free_forward_backward|.2f}} s",
        f"{{irdrop_factor_forms.json#rows[{i}].cpu_speedup_forward|.2f}}x",
        f"{{irdrop_factor_forms.json#rows[{i}].currents_relative_difference|.1e}}"] for i in range(2)],
      header=["crossbar (batch 200, float64)", "series form, CPU fwd / fwd+bwd", "product-free form, CPU fwd / fwd+bwd",
              "forward speed-up", "currents differ by"], measured=(0, 1, 2, 3, 4), conditions=False)


table("tempotron-capacity", "docs/supervised-spike-timing.md",
      [["fraction correct after learning"] + [f"{{tempotron_capacity.json#rows[{i}].fraction_correct|.3f}}" for i in range(6)],
       ["first error-free cycle"] + [f"{{tempotron_capacity.json#rows[{i}].first_error_free_epoch}}" for i in range(6)],
       ["cycles allowed"] + [f"{{tempotron_capacity.json#rows[{i}].max_epochs}}" for i in range(6)]],
      header=["load alpha = P/N"] + [f"{{tempotron_capacity.json#rows[{i}].alpha|.1f}}" for i in range(6)],
      measured=(1, 2, 3, 4, 5, 6), conditions=False)


SC = "supervised_crossbar.json"
_SC_CMD = ("`python benchmarks/supervised_crossbar.py --tasks tempotron spikeprop resume --seeds 0 1 2 --tempotron-n 100 "
           "--tempotron-cycles 60 --spikeprop-epochs 30 --resume-epochs 300` (resumable: finished rows are kept)")


def _sc(task, device, key, spec):
    sep = "" if key.startswith("[") else "."
    return f"{{list {SC}#rows[?task={task},device={device}]{sep}{key}|{spec}}}"


table("supervised-crossbar", "docs/supervised-spike-timing.md", [
    ["Tempotron: N = 100 afferents, alpha = 0.5 (50 patterns), online rule (lambda 1e-3, mu 0.99), at most 60 cycles, "
     "seeds 0-2: fraction correct with the final weights (first error-free cycle), per seed"]
    + [_sc("tempotron", d, "fraction_correct", ".2f") + " (" + _sc("tempotron", d, "first_error_free_cycle", "") + ")"
       for d in ("ideal", "neurosim", "neurosim-stochastic")] + ["not run", _SC_CMD],
    ["SpikeProp: Iris, one latency spike per feature + bias, 10 hidden, 16 terminals, adaptive rate (mu 0.5), "
     "30 epochs, 100/50 split, seeds 0-2: final-epoch test accuracy, per seed"]
    + [_sc("spikeprop_iris", d, "final_test_acc", "%.0f") + " %" for d in ("ideal", "neurosim", "neurosim-stochastic")]
    + ["not run", _SC_CMD],
    ["ReSuMe (the first figure's set-up: impulses onto the membrane, window 5 ms, rate 0.002): one LIF neuron, 200 "
     "Poisson inputs, 5 target spikes, 300 epochs, seeds 0-2: correlation over the last 10 epochs (first epoch >= 0.95), "
     "per seed"]
    + [_sc("resume", d, "correlation_last10_mean", ".3f") + " (" + _sc("resume", d, '["first_epoch_ge_0.95"]', "") + ")"
       for d in ("ideal", "neurosim", "neurosim-stochastic", "neurosim-stochastic-curve")] + [_SC_CMD],
    ["ReSuMe, the selection of the pulse counting on the selection seeds 10-12 (same set-up; "
     "`supervised_crossbar_resume_selection.json`): correlation over the last 10 epochs, per seed"]
    + [f"{{list supervised_crossbar_resume_selection.json#rows[?task=resume,device={d}].correlation_last10_mean|.3f}}"
       for d in ("ideal", "neurosim", "neurosim-stochastic", "neurosim-stochastic-curve")]
    + ["`python benchmarks/supervised_crossbar.py --tasks resume --seeds 10 11 12 --resume-epochs 300 "
       "--json supervised_crossbar_resume_selection.json`"],
], header=["task (chip w_max: the ideal run's largest weight; ReSuMe's: 1)", "ideal weights",
           "NeuroSim devices, nearest rounding", "NeuroSim devices, stochastic rounding",
           "NeuroSim devices, stochastic rounding of the pulses counted along each device's curve", "Reproduce"],
    measured=(1, 2, 3, 4), conditions=True)


table("spike-times-selection", "docs/spike-times.md", [
    ["{spike_times_yinyang_selection.json#rows[0].what}", "{spike_times_yinyang_selection.json#rows[0].epochs}", "{spike_times_yinyang_selection.json#rows[0].lr|g}", "{spike_times_yinyang_selection.json#rows[0].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[0].note}"],
    ["{spike_times_yinyang_selection.json#rows[1].what}", "{spike_times_yinyang_selection.json#rows[1].epochs}", "{spike_times_yinyang_selection.json#rows[1].lr|g}", "{spike_times_yinyang_selection.json#rows[1].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[1].note}"],
    ["{spike_times_yinyang_selection.json#rows[2].what}", "{spike_times_yinyang_selection.json#rows[2].epochs}", "{spike_times_yinyang_selection.json#rows[2].lr|g}", "{spike_times_yinyang_selection.json#rows[2].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[2].note}"],
    ["{spike_times_yinyang_selection.json#rows[3].what}", "{spike_times_yinyang_selection.json#rows[3].epochs}", "{spike_times_yinyang_selection.json#rows[3].lr|g}", "{spike_times_yinyang_selection.json#rows[3].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[3].note}"],
    ["{spike_times_yinyang_selection.json#rows[4].what}", "{spike_times_yinyang_selection.json#rows[4].epochs}", "{spike_times_yinyang_selection.json#rows[4].lr|g}", "{spike_times_yinyang_selection.json#rows[4].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[4].note}"],
    ["{spike_times_yinyang_selection.json#rows[5].what}", "{spike_times_yinyang_selection.json#rows[5].epochs}", "{spike_times_yinyang_selection.json#rows[5].lr|g}", "{spike_times_yinyang_selection.json#rows[5].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[5].note}"],
    ["{spike_times_yinyang_selection.json#rows[6].what}", "{spike_times_yinyang_selection.json#rows[6].epochs}", "{spike_times_yinyang_selection.json#rows[6].lr|g}", "{spike_times_yinyang_selection.json#rows[6].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[6].note}"],
    ["{spike_times_yinyang_selection.json#rows[7].what}", "{spike_times_yinyang_selection.json#rows[7].epochs}", "{spike_times_yinyang_selection.json#rows[7].lr|g}", "{spike_times_yinyang_selection.json#rows[7].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[7].note}"],
    ["{spike_times_yinyang_selection.json#rows[8].what}", "{spike_times_yinyang_selection.json#rows[8].epochs}", "{spike_times_yinyang_selection.json#rows[8].lr|g}", "{spike_times_yinyang_selection.json#rows[8].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[8].note}"],
    ["{spike_times_yinyang_selection.json#rows[9].what}", "{spike_times_yinyang_selection.json#rows[9].epochs}", "{spike_times_yinyang_selection.json#rows[9].lr|g}", "{spike_times_yinyang_selection.json#rows[9].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[9].note}"],
    ["{spike_times_yinyang_selection.json#rows[10].what}", "{spike_times_yinyang_selection.json#rows[10].epochs}", "{spike_times_yinyang_selection.json#rows[10].lr|g}", "{spike_times_yinyang_selection.json#rows[10].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[10].note}"],
    ["{spike_times_yinyang_selection.json#rows[11].what}", "{spike_times_yinyang_selection.json#rows[11].epochs}", "{spike_times_yinyang_selection.json#rows[11].lr|g}", "{spike_times_yinyang_selection.json#rows[11].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[11].note}"],
    ["{spike_times_yinyang_selection.json#rows[12].what}", "{spike_times_yinyang_selection.json#rows[12].epochs}", "{spike_times_yinyang_selection.json#rows[12].lr|g}", "{spike_times_yinyang_selection.json#rows[12].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[12].note}"],
    ["{spike_times_yinyang_selection.json#rows[13].what}", "{spike_times_yinyang_selection.json#rows[13].epochs}", "{spike_times_yinyang_selection.json#rows[13].lr|g}", "{spike_times_yinyang_selection.json#rows[13].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[13].note}"],
    ["{spike_times_yinyang_selection.json#rows[14].what}", "{spike_times_yinyang_selection.json#rows[14].epochs}", "{spike_times_yinyang_selection.json#rows[14].lr|g}", "{spike_times_yinyang_selection.json#rows[14].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[14].note}"],
    ["{spike_times_yinyang_selection.json#rows[15].what}", "{spike_times_yinyang_selection.json#rows[15].epochs}", "{spike_times_yinyang_selection.json#rows[15].lr|g}", "{spike_times_yinyang_selection.json#rows[15].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[15].note}"],
    ["{spike_times_yinyang_selection.json#rows[16].what}", "{spike_times_yinyang_selection.json#rows[16].epochs}", "{spike_times_yinyang_selection.json#rows[16].lr|g}", "{spike_times_yinyang_selection.json#rows[16].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[16].note}"],
    ["{spike_times_yinyang_selection.json#rows[17].what}", "{spike_times_yinyang_selection.json#rows[17].epochs}", "{spike_times_yinyang_selection.json#rows[17].lr|g}", "{spike_times_yinyang_selection.json#rows[17].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[17].note}"],
    ["{spike_times_yinyang_selection.json#rows[18].what}", "{spike_times_yinyang_selection.json#rows[18].epochs}", "{spike_times_yinyang_selection.json#rows[18].lr|g}", "{spike_times_yinyang_selection.json#rows[18].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[18].note}"],
    ["{spike_times_yinyang_selection.json#rows[19].what}", "{spike_times_yinyang_selection.json#rows[19].epochs}", "{spike_times_yinyang_selection.json#rows[19].lr|g}", "{spike_times_yinyang_selection.json#rows[19].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[19].note}"],
    ["{spike_times_yinyang_selection.json#rows[20].what}", "{spike_times_yinyang_selection.json#rows[20].epochs}", "{spike_times_yinyang_selection.json#rows[20].lr|g}", "{spike_times_yinyang_selection.json#rows[20].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[20].note}"],
    ["{spike_times_yinyang_selection.json#rows[21].what}", "{spike_times_yinyang_selection.json#rows[21].epochs}", "{spike_times_yinyang_selection.json#rows[21].lr|g}", "{spike_times_yinyang_selection.json#rows[21].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[21].note}"],
    ["{spike_times_yinyang_selection.json#rows[22].what}", "{spike_times_yinyang_selection.json#rows[22].epochs}", "{spike_times_yinyang_selection.json#rows[22].lr|g}", "{spike_times_yinyang_selection.json#rows[22].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[22].note}"],
    ["{spike_times_yinyang_selection.json#rows[23].what}", "{spike_times_yinyang_selection.json#rows[23].epochs}", "{spike_times_yinyang_selection.json#rows[23].lr|g}", "{spike_times_yinyang_selection.json#rows[23].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[23].note}"],
    ["{spike_times_yinyang_selection.json#rows[24].what}", "{spike_times_yinyang_selection.json#rows[24].epochs}", "{spike_times_yinyang_selection.json#rows[24].lr|g}", "{spike_times_yinyang_selection.json#rows[24].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[24].note}"],
    ["{spike_times_yinyang_selection.json#rows[25].what}", "{spike_times_yinyang_selection.json#rows[25].epochs}", "{spike_times_yinyang_selection.json#rows[25].lr|g}", "{spike_times_yinyang_selection.json#rows[25].final_val_acc|%.1f} %", "{spike_times_yinyang_selection.json#rows[25].note}"],
    ["{spike_times_yinyang_ens_hidden200.json#rows[0].what}", "{spike_times_yinyang_ens_hidden200.json#rows[0].epochs}", "{spike_times_yinyang_ens_hidden200.json#rows[0].lr|g}", "{spike_times_yinyang_ens_hidden200.json#rows[0].final_val_acc|%.1f} %", "{spike_times_yinyang_ens_hidden200.json#rows[0].note}"],
    ["{spike_times_yinyang_ens_hidden200.json#rows[1].what}", "{spike_times_yinyang_ens_hidden200.json#rows[1].epochs}", "{spike_times_yinyang_ens_hidden200.json#rows[1].lr|g}", "{spike_times_yinyang_ens_hidden200.json#rows[1].final_val_acc|%.1f} %", "{spike_times_yinyang_ens_hidden200.json#rows[1].note}"],
    ["{spike_times_yinyang_ens_hidden200.json#rows[2].what}", "{spike_times_yinyang_ens_hidden200.json#rows[2].epochs}", "{spike_times_yinyang_ens_hidden200.json#rows[2].lr|g}", "{spike_times_yinyang_ens_hidden200.json#rows[2].final_val_acc|%.1f} %", "{spike_times_yinyang_ens_hidden200.json#rows[2].note}"],
    ["{spike_times_yinyang_ens_hidden200.json#rows[3].what}", "{spike_times_yinyang_ens_hidden200.json#rows[3].epochs}", "{spike_times_yinyang_ens_hidden200.json#rows[3].lr|g}", "{spike_times_yinyang_ens_hidden200.json#rows[3].final_val_acc|%.1f} %", "{spike_times_yinyang_ens_hidden200.json#rows[3].note}"],
    ["{spike_times_yinyang_ens_hidden200.json#rows[4].what}", "{spike_times_yinyang_ens_hidden200.json#rows[4].epochs}", "{spike_times_yinyang_ens_hidden200.json#rows[4].lr|g}", "{spike_times_yinyang_ens_hidden200.json#rows[4].final_val_acc|%.1f} %", "{spike_times_yinyang_ens_hidden200.json#rows[4].note}"],
], header=["settings", "epochs", "lr", "validation accuracy (last epoch)", "note"], measured=(3,), conditions=False)


table("spike-times-mnist-selection", "docs/spike-times.md", [
    ["the points' defaults of then (squared error to target times 0.9 / 1.1 tau_syn, weights 6.7 +- 3.6 / 5.5 +- 8.8)", "{spike_times_mnist_lif_probe_default.json#lr|g}",
     "{spike_times_mnist_lif_probe_default.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_default.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["the same, lr 1e-3", "{spike_times_mnist_lif_probe_default_lr1e-3.json#lr|g}",
     "{spike_times_mnist_lif_probe_default_lr1e-3.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_default_lr1e-3.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["squared error, image weights 1.0 +- 3.6 / 5.5 +- 8.8", "{spike_times_mnist_lif_probe_init1.json#lr|g}",
     "{spike_times_mnist_lif_probe_init1.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_init1.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["the same, lr 1e-3", "{spike_times_mnist_lif_probe_init1_lr1e-3.json#lr|g}",
     "{spike_times_mnist_lif_probe_init1_lr1e-3.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_init1_lr1e-3.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["image weights, cross-entropy xi 0.2", "{spike_times_mnist_lif_probe_init1_ce.json#lr|g}",
     "{spike_times_mnist_lif_probe_init1_ce.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_init1_ce.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["image weights, cross-entropy xi 0.4", "{spike_times_mnist_lif_probe_init1_ce_xi0.4.json#lr|g}",
     "{spike_times_mnist_lif_probe_init1_ce_xi0.4.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_init1_ce_xi0.4.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["image weights, cross-entropy xi 0.2, lr 3e-3 (chosen)", "{spike_times_mnist_lif_probe_init1_ce_lr3e-3.json#lr|g}",
     "{spike_times_mnist_lif_probe_init1_ce_lr3e-3.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_init1_ce_lr3e-3.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["image weights, cross-entropy xi 0.4, lr 3e-3 (after the long run)", "{spike_times_mnist_lif_probe_init1_ce_xi0.4_lr3e-3.json#lr|g}",
     "{spike_times_mnist_lif_probe_init1_ce_xi0.4_lr3e-3.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_init1_ce_xi0.4_lr3e-3.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["image weights, cross-entropy xi 0.2, lr 1e-3 (after the long run)", "{spike_times_mnist_lif_probe_init1_ce_lr1e-3.json#lr|g}",
     "{spike_times_mnist_lif_probe_init1_ce_lr1e-3.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_init1_ce_lr1e-3.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["wider input weights 2.0 +- 10, cross-entropy xi 0.2, lr 3e-3", "{spike_times_mnist_lif_probe_init2_ce_lr3e-3.json#lr|g}",
     "{spike_times_mnist_lif_probe_init2_ce_lr3e-3.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_init2_ce_lr3e-3.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["the chosen image defaults again (issue 23 session 3; the run the diagnosis below reads)", "{spike_times_mnist_lif_probe_base2.json#lr|g}",
     "{spike_times_mnist_lif_probe_base2.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_base2.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["hidden and output neurons fire again after a reset to 0 (v_reset 0)", "{spike_times_mnist_lif_probe_reset0.json#lr|g}",
     "{spike_times_mnist_lif_probe_reset0.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_reset0.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["output weights 2.0 +- 4.4 (outputs wait for more hidden spikes)", "{spike_times_mnist_lif_probe_outinit2.json#lr|g}",
     "{spike_times_mnist_lif_probe_outinit2.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_outinit2.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["silent-hidden regulariser gamma_hidden 0.1", "{spike_times_mnist_lif_probe_gh0.1.json#lr|g}",
     "{spike_times_mnist_lif_probe_gh0.1.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_gh0.1.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["silent-hidden regulariser gamma_hidden 1", "{spike_times_mnist_lif_probe_gh1.json#lr|g}",
     "{spike_times_mnist_lif_probe_gh1.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_gh1.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["silent-hidden regulariser gamma_hidden 3", "{spike_times_mnist_lif_probe_gh3.json#lr|g}",
     "{spike_times_mnist_lif_probe_gh3.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_gh3.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["v_reset 0 and gamma_hidden 1 (the best gamma_hidden of 0.1 and 1, with the better of the first two levers; chosen for the long run)", "{spike_times_mnist_lif_probe_reset0_gh1.json#lr|g}",
     "{spike_times_mnist_lif_probe_reset0_gh1.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_probe_reset0_gh1.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["the image defaults of the third session (v_reset 0, gamma_hidden 1) on a 1 ms grid: 20 steps of 1 ms instead of 40 of 0.5 ms (issue 23 session 4)", "{spike_times_mnist_lif_p4_dt1.json#lr|g}",
     "{spike_times_mnist_lif_p4_dt1.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_p4_dt1.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["the same, lr 1e-2 (chosen for the long run of session 4)", "{spike_times_mnist_lif_p4_dt1_lr1e-2.json#lr|g}",
     "{spike_times_mnist_lif_p4_dt1_lr1e-2.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_p4_dt1_lr1e-2.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["1 ms grid, membrane time constant 20 ms (EventProp's; the weight scales stay those calibrated at 10 ms)", "{spike_times_mnist_lif_p4_dt1_taum20.json#lr|g}",
     "{spike_times_mnist_lif_p4_dt1_taum20.json#runs.0.final_val_acc|%.1f} %", "{spike_times_mnist_lif_p4_dt1_taum20.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["full training set (55,000 images): session 3's long run (0.5 ms grid), its epoch 1 of 2", "{spike_times_mnist_lif_s3.json#lr|g}",
     "{spike_times_mnist_lif_s3.json#runs.0.history[0].val_acc|%.1f} %", "{spike_times_mnist_lif_s3.json#runs.0.history[0].train_acc|%.1f} %"],
    ["full training set, 1 ms grid, lr 1e-2 (the probes' choice): epoch 1 of a run stopped in epoch 2 (planned over 3 epochs, resumed with 2 after 20,000 images; "
     "its validation accuracy below the row above made lr 3e-3 the choice for the long run)", "{spike_times_mnist_lif_s4_lr1e-2_stopped.json#lr|g}",
     "{spike_times_mnist_lif_s4_lr1e-2_stopped.json#runs.0.history[0].val_acc|%.1f} %", "{spike_times_mnist_lif_s4_lr1e-2_stopped.json#runs.0.history[0].train_acc|%.1f} %"],
    ["session 6 probes, 3 epochs of 20,000 images (validation: the next 5,000): the image defaults on the 1 ms grid (20 steps)", "{spike_times_mnist_lif_p6_base.json#lr|g}",
     "{spike_times_mnist_lif_p6_base.json#runs.0.final_val_acc|%.1f} % (per epoch {list spike_times_mnist_lif_p6_base.json#runs.0.history[*].val_acc|%.1f} %)", "{spike_times_mnist_lif_p6_base.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["the same on a 0.5 ms grid (40 steps; 2.1x the CPU time per epoch)", "{spike_times_mnist_lif_p6_dt05.json#lr|g}",
     "{spike_times_mnist_lif_p6_dt05.json#runs.0.final_val_acc|%.1f} % (per epoch {list spike_times_mnist_lif_p6_dt05.json#runs.0.history[*].val_acc|%.1f} %)", "{spike_times_mnist_lif_p6_dt05.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["the same on the 1 ms grid, cross-entropy temperature xi 0.4 (EventProp set-ups' 0.4 tau_syn)", "{spike_times_mnist_lif_p6_xi04.json#lr|g}",
     "{spike_times_mnist_lif_p6_xi04.json#runs.0.final_val_acc|%.1f} % (per epoch {list spike_times_mnist_lif_p6_xi04.json#runs.0.history[*].val_acc|%.1f} %)", "{spike_times_mnist_lif_p6_xi04.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["session 7 probes, the same 3 epochs of 20,000 images on the 1 ms grid: 700 hidden neurons (784+1 -> 700 -> 10; 1.8x the CPU time per epoch)", "{spike_times_mnist_lif_p7_h700.json#lr|g}",
     "{spike_times_mnist_lif_p7_h700.json#runs.0.final_val_acc|%.1f} % (per epoch {list spike_times_mnist_lif_p7_h700.json#runs.0.history[*].val_acc|%.1f} %)", "{spike_times_mnist_lif_p7_h700.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["350 hidden, training images shifted by up to 1 pixel (`--augment-shift 1`)", "{spike_times_mnist_lif_p7_shift1.json#lr|g}",
     "{spike_times_mnist_lif_p7_shift1.json#runs.0.final_val_acc|%.1f} % (per epoch {list spike_times_mnist_lif_p7_shift1.json#runs.0.history[*].val_acc|%.1f} %)", "{spike_times_mnist_lif_p7_shift1.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["350 hidden, input dropout 0.2 (`--augment-drop 0.2`: each training pixel silent with probability 0.2, as EventProp's GeNN MNIST set-up)", "{spike_times_mnist_lif_p7_drop02.json#lr|g}",
     "{spike_times_mnist_lif_p7_drop02.json#runs.0.final_val_acc|%.1f} % (per epoch {list spike_times_mnist_lif_p7_drop02.json#runs.0.history[*].val_acc|%.1f} %)", "{spike_times_mnist_lif_p7_drop02.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["350 hidden, tau_mem 20 ms (EventProp's) with both weight scales x1.6 (1.6 +- 5.76 / 8.8 +- 14.1: at initialisation 34-50 % of the hidden neurons silent per image at x1.7-1.4, against 41 % at 10 ms with the image defaults)", "{spike_times_mnist_lif_p7_taum20.json#lr|g}",
     "{spike_times_mnist_lif_p7_taum20.json#runs.0.final_val_acc|%.1f} % (per epoch {list spike_times_mnist_lif_p7_taum20.json#runs.0.history[*].val_acc|%.1f} %)", "{spike_times_mnist_lif_p7_taum20.json#runs.0.history[-1].train_acc|%.1f} %"],
    ["700 hidden and shifts of up to 1 pixel", "{spike_times_mnist_lif_p7_h700_shift1.json#lr|g}",
     "{spike_times_mnist_lif_p7_h700_shift1.json#runs.0.final_val_acc|%.1f} % (per epoch {list spike_times_mnist_lif_p7_h700_shift1.json#runs.0.history[*].val_acc|%.1f} %)", "{spike_times_mnist_lif_p7_h700_shift1.json#runs.0.history[-1].train_acc|%.1f} %"],
], header=["settings (784+1 -> 350 -> 10 LIF, batch 64, Adam cosine)", "lr", "validation accuracy", "training accuracy in the epoch"],
   measured=(1, 2, 3), conditions=False)


table("spike-times-mnist-diagnosis", "docs/spike-times.md", [
    ["{spike_times_mnist_diagnose.json#rows[0].what}", "{spike_times_mnist_diagnose.json#rows[0].layers[0].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[0].layers[0].dead_on_batch|%.1f} %", "{spike_times_mnist_diagnose.json#rows[0].layers[0].spikes_per_neuron|.2f}", "{spike_times_mnist_diagnose.json#rows[0].layers[0].fraction_before_label_output|%.0f} %", "{spike_times_mnist_diagnose.json#rows[0].label_output_ms_quartiles[1]|.1f} ms", "{spike_times_mnist_diagnose.json#rows[0].layers[1].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[0].accuracy|%.1f} %"],
    ["{spike_times_mnist_diagnose.json#rows[1].what}", "{spike_times_mnist_diagnose.json#rows[1].layers[0].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[1].layers[0].dead_on_batch|%.1f} %", "{spike_times_mnist_diagnose.json#rows[1].layers[0].spikes_per_neuron|.2f}", "{spike_times_mnist_diagnose.json#rows[1].layers[0].fraction_before_label_output|%.0f} %", "{spike_times_mnist_diagnose.json#rows[1].label_output_ms_quartiles[1]|.1f} ms", "{spike_times_mnist_diagnose.json#rows[1].layers[1].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[1].accuracy|%.1f} %"],
    ["{spike_times_mnist_diagnose.json#rows[2].what}", "{spike_times_mnist_diagnose.json#rows[2].layers[0].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[2].layers[0].dead_on_batch|%.1f} %", "{spike_times_mnist_diagnose.json#rows[2].layers[0].spikes_per_neuron|.2f}", "{spike_times_mnist_diagnose.json#rows[2].layers[0].fraction_before_label_output|%.0f} %", "{spike_times_mnist_diagnose.json#rows[2].label_output_ms_quartiles[1]|.1f} ms", "{spike_times_mnist_diagnose.json#rows[2].layers[1].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[2].accuracy|%.1f} %"],
    ["{spike_times_mnist_diagnose.json#rows[3].what}", "{spike_times_mnist_diagnose.json#rows[3].layers[0].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[3].layers[0].dead_on_batch|%.1f} %", "{spike_times_mnist_diagnose.json#rows[3].layers[0].spikes_per_neuron|.2f}", "{spike_times_mnist_diagnose.json#rows[3].layers[0].fraction_before_label_output|%.0f} %", "{spike_times_mnist_diagnose.json#rows[3].label_output_ms_quartiles[1]|.1f} ms", "{spike_times_mnist_diagnose.json#rows[3].layers[1].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[3].accuracy|%.1f} %"],
    ["{spike_times_mnist_diagnose.json#rows[4].what}", "{spike_times_mnist_diagnose.json#rows[4].layers[0].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[4].layers[0].dead_on_batch|%.1f} %", "{spike_times_mnist_diagnose.json#rows[4].layers[0].spikes_per_neuron|.2f}", "{spike_times_mnist_diagnose.json#rows[4].layers[0].fraction_before_label_output|%.0f} %", "{spike_times_mnist_diagnose.json#rows[4].label_output_ms_quartiles[1]|.1f} ms", "{spike_times_mnist_diagnose.json#rows[4].layers[1].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[4].accuracy|%.1f} %"],
    ["{spike_times_mnist_diagnose.json#rows[5].what}", "{spike_times_mnist_diagnose.json#rows[5].layers[0].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[5].layers[0].dead_on_batch|%.1f} %", "{spike_times_mnist_diagnose.json#rows[5].layers[0].spikes_per_neuron|.2f}", "{spike_times_mnist_diagnose.json#rows[5].layers[0].fraction_before_label_output|%.0f} %", "{spike_times_mnist_diagnose.json#rows[5].label_output_ms_quartiles[1]|.1f} ms", "{spike_times_mnist_diagnose.json#rows[5].layers[1].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[5].accuracy|%.1f} %"],
    ["{spike_times_mnist_diagnose.json#rows[6].what}", "{spike_times_mnist_diagnose.json#rows[6].layers[0].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[6].layers[0].dead_on_batch|%.1f} %", "{spike_times_mnist_diagnose.json#rows[6].layers[0].spikes_per_neuron|.2f}", "{spike_times_mnist_diagnose.json#rows[6].layers[0].fraction_before_label_output|%.0f} %", "{spike_times_mnist_diagnose.json#rows[6].label_output_ms_quartiles[1]|.1f} ms", "{spike_times_mnist_diagnose.json#rows[6].layers[1].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[6].accuracy|%.1f} %"],
    ["{spike_times_mnist_diagnose.json#rows[7].what}", "{spike_times_mnist_diagnose.json#rows[7].layers[0].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[7].layers[0].dead_on_batch|%.1f} %", "{spike_times_mnist_diagnose.json#rows[7].layers[0].spikes_per_neuron|.2f}", "{spike_times_mnist_diagnose.json#rows[7].layers[0].fraction_before_label_output|%.0f} %", "{spike_times_mnist_diagnose.json#rows[7].label_output_ms_quartiles[1]|.1f} ms", "{spike_times_mnist_diagnose.json#rows[7].layers[1].silent_per_image|%.0f} %", "{spike_times_mnist_diagnose.json#rows[7].accuracy|%.1f} %"],
], header=["784+1 -> 350 -> 10 LIF, 1,000 validation images", "hidden neurons silent per image", "hidden neurons silent on all 1,000 (dead)", "hidden spikes per neuron and image", "hidden spikes before the label output's first", "label output's first spike (median)", "outputs silent per image", "accuracy on the 1,000"],
   measured=(1, 2, 3, 4, 5, 6, 7), conditions=False)


table("spike-times-mnist", "docs/spike-times.md", [
    ["MNIST, 784+1 -> 700 -> 10 LIF, TTFS, the image defaults (cross-entropy xi 0.2, image weights, v_reset 0, gamma_hidden 1) on a 1 ms grid (20 steps of 1 ms), training images shifted by up to 1 pixel, "
     "Adam 3e-3 cosine over 36 epochs, batch 64, 55,000 training images (the last 5,000 the validation split), 1 seed; width and shifts chosen on the validation split (session 7)",
     "`python benchmarks/spike_times_yinyang.py --dataset mnist --hidden 700 --validation 5000 --epochs 36 --lr 3e-3 --seeds 0 --save-every 10000 --augment-shift 1 --tag _s7e36` with the `--model` JSON dt = 0.001, n_steps = 20 (nice 0)",
     "test accuracy **{spike_times_mnist_lif_s7e36.json#runs.0.final_test_acc|%.2f} %** after {spike_times_mnist_lif_s7e36.json#runs.0.history[-1].epoch} "
     "of {spike_times_mnist_lif_s7e36.json#epochs} epochs (validation {spike_times_mnist_lif_s7e36.json#runs.0.history[-1].val_acc|%.2f} %, training accuracy over the epoch {spike_times_mnist_lif_s7e36.json#runs.0.history[-1].train_acc|%.1f} %; per epoch: validation "
     "{list spike_times_mnist_lif_s7e36.json#runs.0.history[*].val_acc|%.1f} %, test {list spike_times_mnist_lif_s7e36.json#runs.0.history[*].test_acc|%.1f} %); "
     "epochs of {list spike_times_mnist_lif_s7e36.json#runs.0.history[*].epoch_time_s|min.0f} min at load {list spike_times_mnist_lif_s7e36.json#runs.0.history[*].load|.0f} "
     "({list spike_times_mnist_lif_s7e36.json#runs.0.history[*].cpu_time_s|.0f} s of CPU)"],
    ["The same recipe, seed 1 (session 9)",
     "`python benchmarks/spike_times_yinyang.py --dataset mnist --hidden 700 --validation 5000 --epochs 36 --lr 3e-3 --seeds 1 --save-every 10000 --augment-shift 1 --tag _s9e36` with the `--model` JSON dt = 0.001, n_steps = 20 (nice 0, then -5, beside five helpers' jobs at nice 10)",
     "test accuracy **{spike_times_mnist_lif_s9e36.json#runs.1.final_test_acc|%.2f} %** after {spike_times_mnist_lif_s9e36.json#runs.1.history[-1].epoch} "
     "of {spike_times_mnist_lif_s9e36.json#epochs} epochs (validation {spike_times_mnist_lif_s9e36.json#runs.1.history[-1].val_acc|%.2f} %, training accuracy over the epoch {spike_times_mnist_lif_s9e36.json#runs.1.history[-1].train_acc|%.1f} %; per epoch: validation "
     "{list spike_times_mnist_lif_s9e36.json#runs.1.history[*].val_acc|%.1f} %, test {list spike_times_mnist_lif_s9e36.json#runs.1.history[*].test_acc|%.1f} %); "
     "load {load spike_times_mnist_lif_s9e36.json}; the two seeds of this recipe: {meanstd spike_times_mnist_lif_s7e36.json#runs.0.final_test_acc spike_times_mnist_lif_s9e36.json#runs.1.final_test_acc|%.2f}"],
    ["The same recipe, seed 2 (session 9, beside the seed-1 run and a Diehl & Cook run, both at nice 0/-5)",
     "`python benchmarks/spike_times_yinyang.py --dataset mnist --hidden 700 --validation 5000 --epochs 36 --lr 3e-3 --seeds 2 --save-every 10000 --augment-shift 1 --tag _s9e36b` with the `--model` JSON dt = 0.001, n_steps = 20 (nice 0, then -5)",
     "test accuracy **{spike_times_mnist_lif_s9e36b.json#runs.2.final_test_acc|%.2f} %** after {spike_times_mnist_lif_s9e36b.json#runs.2.history[-1].epoch} "
     "of {spike_times_mnist_lif_s9e36b.json#epochs} epochs (validation {spike_times_mnist_lif_s9e36b.json#runs.2.history[-1].val_acc|%.2f} %, training accuracy over the epoch {spike_times_mnist_lif_s9e36b.json#runs.2.history[-1].train_acc|%.1f} %; per epoch: validation "
     "{list spike_times_mnist_lif_s9e36b.json#runs.2.history[*].val_acc|%.1f} %, test {list spike_times_mnist_lif_s9e36b.json#runs.2.history[*].test_acc|%.1f} %); "
     "load {load spike_times_mnist_lif_s9e36b.json}; the three seeds of this recipe: {meanstd spike_times_mnist_lif_s7e36.json#runs.0.final_test_acc spike_times_mnist_lif_s9e36.json#runs.1.final_test_acc spike_times_mnist_lif_s9e36b.json#runs.2.final_test_acc|%.2f}"],
    ["The same, Adam 3e-3 cosine over 48 epochs (session 8): does a longer schedule help? Not on validation",
     "`python benchmarks/spike_times_yinyang.py --dataset mnist --hidden 700 --validation 5000 --epochs 48 --lr 3e-3 --seeds 0 --save-every 10000 --augment-shift 1 --tag _s8e48` with the `--model` JSON dt = 0.001, n_steps = 20 (nice 0, then -5, beside five helpers' jobs at nice 10)",
     "test accuracy **{spike_times_mnist_lif_s8e48.json#runs.0.final_test_acc|%.2f} %** after {spike_times_mnist_lif_s8e48.json#runs.0.history[-1].epoch} "
     "of {spike_times_mnist_lif_s8e48.json#epochs} epochs (validation {spike_times_mnist_lif_s8e48.json#runs.0.history[-1].val_acc|%.2f} %, training accuracy over the epoch {spike_times_mnist_lif_s8e48.json#runs.0.history[-1].train_acc|%.1f} %; per epoch: validation "
     "{list spike_times_mnist_lif_s8e48.json#runs.0.history[*].val_acc|%.1f} %, test {list spike_times_mnist_lif_s8e48.json#runs.0.history[*].test_acc|%.1f} %); "
     "load {load spike_times_mnist_lif_s8e48.json}"],
    ["MNIST, 784+1 -> 350 -> 10 LIF, TTFS, the image defaults (cross-entropy xi 0.2, image weights, v_reset 0, gamma_hidden 1) on a 1 ms grid (20 steps of 1 ms), Adam 3e-3 cosine over 18 epochs, batch 64, "
     "55,000 training images (the last 5,000 the validation split), 1 seed; the input layer read for the code's window only (session 6)",
     "`python benchmarks/spike_times_yinyang.py --dataset mnist --hidden 350 --validation 5000 --epochs 18 --lr 3e-3 --seeds 0 --save-every 10000 --tag _s6e18` with the `--model` JSON dt = 0.001, n_steps = 20",
     "test accuracy **{spike_times_mnist_lif_s6e18.json#runs.0.final_test_acc|%.2f} %** after {spike_times_mnist_lif_s6e18.json#runs.0.history[-1].epoch} "
     "of {spike_times_mnist_lif_s6e18.json#epochs} epochs (validation {spike_times_mnist_lif_s6e18.json#runs.0.history[-1].val_acc|%.2f} %, training accuracy over the epoch {spike_times_mnist_lif_s6e18.json#runs.0.history[-1].train_acc|%.1f} %; per epoch: validation "
     "{list spike_times_mnist_lif_s6e18.json#runs.0.history[*].val_acc|%.1f} %, test {list spike_times_mnist_lif_s6e18.json#runs.0.history[*].test_acc|%.1f} %); "
     "epochs of {list spike_times_mnist_lif_s6e18.json#runs.0.history[*].epoch_time_s|min.0f} min at load {list spike_times_mnist_lif_s6e18.json#runs.0.history[*].load|.0f} "
     "({list spike_times_mnist_lif_s6e18.json#runs.0.history[*].cpu_time_s|.0f} s of CPU)"],
    ["MNIST, 784+1 -> 350 -> 10 LIF, TTFS, the image defaults (cross-entropy xi 0.2, image weights, v_reset 0, gamma_hidden 1) on a 1 ms grid (20 steps of 1 ms; session 5), Adam 3e-3 cosine over 12 epochs, batch 64, "
     "55,000 training images (the last 5,000 the validation split), 1 seed",
     "`python benchmarks/spike_times_yinyang.py --dataset mnist --hidden 350 --validation 5000 --epochs 12 --lr 3e-3 --seeds 0 --save-every 10000 --tag _s5e12` with the `--model` JSON dt = 0.001, n_steps = 20",
     "test accuracy **{spike_times_mnist_lif_s5e12.json#runs.0.final_test_acc|%.2f} %** after {spike_times_mnist_lif_s5e12.json#runs.0.history[-1].epoch} "
     "of {spike_times_mnist_lif_s5e12.json#epochs} epochs (validation {spike_times_mnist_lif_s5e12.json#runs.0.history[-1].val_acc|%.2f} %, training accuracy over the epoch {spike_times_mnist_lif_s5e12.json#runs.0.history[-1].train_acc|%.1f} %; per epoch: validation "
     "{list spike_times_mnist_lif_s5e12.json#runs.0.history[*].val_acc|%.1f} %, test {list spike_times_mnist_lif_s5e12.json#runs.0.history[*].test_acc|%.1f} %); "
     "epochs of {list spike_times_mnist_lif_s5e12.json#runs.0.history[*].epoch_time_s|min.0f} min at load {list spike_times_mnist_lif_s5e12.json#runs.0.history[*].load|.0f} "
     "({list spike_times_mnist_lif_s5e12.json#runs.0.history[*].cpu_time_s|.0f} s of CPU)"],
    ["MNIST, 784+1 -> 350 -> 10 LIF, TTFS, the image defaults (cross-entropy xi 0.2, image weights, v_reset 0, gamma_hidden 1) on a 1 ms grid (20 steps of 1 ms; session 4), Adam 3e-3 cosine over 3 epochs, batch 64, "
     "55,000 training images (the last 5,000 the validation split), 1 seed",
     "`python benchmarks/spike_times_yinyang.py --dataset mnist --hidden 350 --validation 5000 --epochs 3 --lr 3e-3 --seeds 0 --save-every 10000 --tag _s4b` with the `--model` JSON dt = 0.001, n_steps = 20",
     "test accuracy **{spike_times_mnist_lif_s4b.json#runs.0.final_test_acc|%.2f} %** after {spike_times_mnist_lif_s4b.json#runs.0.history[-1].epoch} "
     "of {spike_times_mnist_lif_s4b.json#epochs} epochs (validation {spike_times_mnist_lif_s4b.json#runs.0.history[-1].val_acc|%.2f} %, training accuracy over the epoch {spike_times_mnist_lif_s4b.json#runs.0.history[-1].train_acc|%.1f} %; per epoch: validation "
     "{list spike_times_mnist_lif_s4b.json#runs.0.history[*].val_acc|%.1f} %, test {list spike_times_mnist_lif_s4b.json#runs.0.history[*].test_acc|%.1f} %); "
     "epochs of {list spike_times_mnist_lif_s4b.json#runs.0.history[*].epoch_time_s|min.0f} min at load {list spike_times_mnist_lif_s4b.json#runs.0.history[*].load|.0f} "
     "({list spike_times_mnist_lif_s4b.json#runs.0.history[*].cpu_time_s|.0f} s of CPU)"],
    ["MNIST, 784+1 -> 350 -> 10 LIF, TTFS, the image defaults of the third session (cross-entropy xi 0.2, image weights, neurons fire again: v_reset 0, silent-hidden regulariser gamma_hidden 1), Adam 3e-3 cosine over 2 epochs, batch 64, "
     "55,000 training images (the last 5,000 the validation split), 1 seed",
     "`python benchmarks/spike_times_yinyang.py --dataset mnist --hidden 350 --validation 5000 --epochs 2 --lr 3e-3 --seeds 0 --save-every 10000 --tag _s3` with the `--model` JSON v_reset = 0, gamma_hidden = 1 (the image defaults since; given explicitly because the run started before they were)",
     "test accuracy **{spike_times_mnist_lif_s3.json#runs.0.final_test_acc|%.2f} %** after {spike_times_mnist_lif_s3.json#runs.0.history[-1].epoch} "
     "of {spike_times_mnist_lif_s3.json#epochs} epochs (validation {spike_times_mnist_lif_s3.json#runs.0.history[-1].val_acc|%.2f} %, training accuracy over the epoch {spike_times_mnist_lif_s3.json#runs.0.history[-1].train_acc|%.1f} %; per epoch: test "
     "{list spike_times_mnist_lif_s3.json#runs.0.history[*].test_acc|%.1f} %); "
     "{spike_times_mnist_lif_s3.json#runs.0.history[-1].epoch_time_s|min.0f} min per epoch at load {spike_times_mnist_lif_s3.json#runs.0.history[-1].load|.0f}"],
    ["MNIST, 784+1 -> 350 -> 10 LIF, TTFS, the image defaults (cross-entropy xi 0.2, image weights), Adam 3e-3 cosine, batch 64, "
     "55,000 training images (the last 5,000 the validation split), 1 seed",
     "`python benchmarks/spike_times_yinyang.py --dataset mnist --hidden 350 --validation 5000 --epochs 5 --lr 3e-3 --seeds 0 --save-every 10000`",
     "final-epoch test accuracy **{spike_times_mnist_lif.json#runs.0.final_test_acc|%.2f} %** after {spike_times_mnist_lif.json#runs.0.history[-1].epoch} "
     "of {spike_times_mnist_lif.json#epochs} epochs (validation {spike_times_mnist_lif.json#runs.0.final_val_acc|%.2f} %; per epoch: test "
     "{list spike_times_mnist_lif.json#runs.0.history[*].test_acc|%.1f} %); "
     "{spike_times_mnist_lif.json#runs.0.history[-1].epoch_time_s|min.0f} min per epoch at load {spike_times_mnist_lif.json#runs.0.history[-1].load|.0f}"],
    ["MNIST, 784+1 -> 350 -> 10 SPICEprop MIF hidden and readout (the MIF ttfs settings: squared error to target times, inputs over 2 ms, 400 steps of 10 us), explicit Euler with 4 sub-steps (with the default 2 the simulation goes unstable in the first evaluation: the memristors switch on under the drive of 785 inputs), "
     "cost only: 2 epochs of 128 training images (160 with 32 held out), batch 32, 64 test images",
     "`python benchmarks/spike_times_yinyang.py --dataset mnist --neuron mif --hidden 350 --train-subset 160 --validation 32 --test-subset 64 --epochs 2 --batch-size 32 --seeds 0 --tag _cost` with the `--model` JSON substeps = 4",
     "not trained: {spike_times_mnist_mif_cost.json#runs.0.history[-1].cpu_time_s|.1f} s of CPU ({spike_times_mnist_mif_cost.json#runs.0.history[-1].train_time_s|.0f} s wall at load {spike_times_mnist_mif_cost.json#runs.0.history[-1].load|.0f}) for the second epoch's training images; "
     "test accuracy {spike_times_mnist_mif_cost.json#runs.0.final_test_acc|%.1f} % (chance)"],
], header=["task", "command", "result"], measured=(2,), conditions=False)


table("spike-times-vs-jaxsnn", "docs/spike-times.md", [
    ["memsnn (ttfs defaults, LIF targets 1.0 / 1.2 tau_syn, exact spike times on a 0.5 ms grid), {spike_times_vs_jaxsnn_t12.json#epochs} epochs", "{list spike_times_vs_jaxsnn_t12.json#runs.memsnn.*.history[-1].test_acc|%.1f} %",
     "{spike_times_vs_jaxsnn_t12.json#memsnn.epoch_train_s_median|.2f} s", "{spike_times_vs_jaxsnn_t12.json#memsnn.epoch_cpu_s_median|.2f} s"],
    ["jaxsnn 0.3.0 (EventProp example set-up, event-based), {spike_times_vs_jaxsnn_t12.json#epochs} epochs", "{list spike_times_vs_jaxsnn_t12.json#runs.jaxsnn.*.history[-1].test_acc|%.1f} %",
     "{spike_times_vs_jaxsnn_t12.json#jaxsnn.epoch_train_s_median|.2f} s", "{spike_times_vs_jaxsnn_t12.json#jaxsnn.epoch_cpu_s_median|.2f} s"],
    ["memsnn speed-up", "", "{spike_times_vs_jaxsnn_t12.json#speedup_per_epoch|.2f}x", "**{spike_times_vs_jaxsnn_t12.json#speedup_cpu_per_epoch|.2f}x**"],
    ["earlier run: memsnn with jaxsnn's target times (the defaults then), {spike_times_vs_jaxsnn.json#epochs} epochs", "{list spike_times_vs_jaxsnn.json#runs.memsnn.*.history[-1].test_acc|%.1f} %",
     "{spike_times_vs_jaxsnn.json#memsnn.epoch_train_s_median|.2f} s", "{spike_times_vs_jaxsnn.json#memsnn.epoch_cpu_s_median|.2f} s"],
    ["earlier run: jaxsnn, {spike_times_vs_jaxsnn.json#epochs} epochs", "{list spike_times_vs_jaxsnn.json#runs.jaxsnn.*.history[-1].test_acc|%.1f} %",
     "{spike_times_vs_jaxsnn.json#jaxsnn.epoch_train_s_median|.2f} s", "{spike_times_vs_jaxsnn.json#jaxsnn.epoch_cpu_s_median|.2f} s"],
    ["earlier run: memsnn speed-up", "", "{spike_times_vs_jaxsnn.json#speedup_per_epoch|.2f}x", "{spike_times_vs_jaxsnn.json#speedup_cpu_per_epoch|.2f}x"],
], header=["", "final-epoch test accuracy per seed", "training time per epoch (median)", "CPU time per epoch (median)"],
   measured=(1, 2, 3), conditions=False)


table("spike-times-yinyang", "docs/spike-times.md", [
    ["Yin-Yang, 4+1 -> 200 -> 3 LIF, TTFS, the method's defaults but 200 hidden neurons (chosen on the validation split, issue 23 session 3), 60 epochs",
     "`python benchmarks/spike_times_yinyang_select.py --seeds 0 1 2 3 4 --epochs 60 --lr 1e-2` with the `--model` JSON hidden = [200] (the five seeds side by side through `fit`, each member the run `memsnn train` makes with its seed; test accuracy logged beside the validation accuracy, not used for the choice)",
     "final-epoch test accuracy **{meanstd spike_times_yinyang_ens_hidden200.json#rows.*.final_test_acc|%.1f}**; per seed: {list spike_times_yinyang_ens_hidden200.json#rows.*.final_test_acc|%.1f} % (validation {meanstd spike_times_yinyang_ens_hidden200.json#rows.*.final_val_acc|%.1f})"],
    ["Yin-Yang, 4+1 -> 120 -> 3 LIF, TTFS, the method's defaults (squared error to target times 1.0 / 1.2 tau_syn, 0.5 ms grid, Adam 1e-2 cosine, batch 64, 60 epochs)",
     "`python benchmarks/spike_times_yinyang.py --neuron lif --seeds 0 1 2 3 4 --tag _t12` (run with the targets given as `--model` JSON, before they became the defaults)",
     "final-epoch test accuracy **{meanstd spike_times_yinyang_lif_t12.json#runs.*.history[-1].test_acc|%.1f}**; per seed: {list spike_times_yinyang_lif_t12.json#runs.*.history[-1].test_acc|%.1f} %"],
    ["the same with the previous defaults' targets 0.9 / 1.1 tau_syn (jaxsnn's)",
     "`python benchmarks/spike_times_yinyang.py --neuron lif --seeds 0 1 2 3 4` (run before the targets changed)",
     "final-epoch test accuracy {meanstd spike_times_yinyang_lif.json#runs.*.history[-1].test_acc|%.1f}; per seed: {list spike_times_yinyang_lif.json#runs.*.history[-1].test_acc|%.1f} %"],
    ["the same with SPICEprop MIF neurons (10 us, 400 steps, Euler x2), the defaults (squared error to target times, 0.9 / 1.1 ms), Adam 3e-3, batch 50, 2 epochs, 1 seed",
     "`python benchmarks/spike_times_yinyang.py --neuron mif --seeds 0 --epochs 2 --lr 3e-3 --batch-size 50 --tag _mse`",
     "{spike_times_yinyang_mif_mse.json#runs.0.history[0].test_acc|%.1f} % after the first epoch, {spike_times_yinyang_mif_mse.json#runs.0.final_test_acc|%.1f} % final "
     "({spike_times_yinyang_mif_mse.json#runs.0.history[0].epoch_time_s|min.0f} and {spike_times_yinyang_mif_mse.json#runs.0.history[1].epoch_time_s|min.0f} min per epoch)"],
    ["SPICEprop MIF neurons, the method's MIF defaults (squared error to target times, Adam 1e-2 cosine, batch 64), 5 seeds side by side through `fit`, {spike_times_yinyang_ens_mif.json#epochs} epoch (what the shared machine allowed; no setting chosen on validation in this run)",
     "`python benchmarks/spike_times_yinyang_select.py --seeds 0 1 2 3 4 --epochs 1 --lr 1e-2 --setting mif` with the `--model` JSON neuron = mif",
     "final-epoch test accuracy **{meanstd spike_times_yinyang_ens_mif.json#rows.*.final_test_acc|%.1f}**; per seed: {list spike_times_yinyang_ens_mif.json#rows.*.final_test_acc|%.1f} % (validation {list spike_times_yinyang_ens_mif.json#rows.*.final_val_acc|%.1f} %): three seeds at chance; far below LIF's (first row)"],
    ["MIF as above with the cross-entropy (and continued silent times)",
     "the same with the model setting loss = ce (`--model` JSON; run when the cross-entropy was the MIF default, without it)",
     "{spike_times_yinyang_mif.json#runs.0.history[0].test_acc|%.1f} % after the first epoch, {spike_times_yinyang_mif.json#runs.0.final_test_acc|%.1f} % final (chance: a third): does not learn (below)"],
    ["interval task (B 5 or 10 ms after A), 2 LIF outputs, 7 terminals per connection, TTFS, trainable delays (initialised spread over 0.5-11.5 ms) vs none (all at 0 ms), Adam 1e-2, 3 seeds, 60 steps; trained longer (150 steps)",
     "`python benchmarks/spike_times_delays.py --steps 60 --tag _60steps`; `--steps 150`",
     "short run: {list spike_times_delays_60steps.json#results[\"trainable delays\"].*.test_acc|%.1f} % with trainable delays, "
     "{list spike_times_delays_60steps.json#results[\"no delays (weights only)\"].*.test_acc|%.1f} % without (chance: a half). Longer run: the delay runs drift away again: "
     "{list spike_times_delays.json#results[\"trainable delays\"].*.test_acc|%.1f} % (without: {list spike_times_delays.json#results[\"no delays (weights only)\"].*.test_acc|%.1f} %); "
     "the number of steps was not selected on a validation split"],
], header=["task", "command", "result"], measured=(2,), conditions=False)


table("spikeprop-rprop", "docs/supervised-spike-timing.md",
      [[f"{{spikeprop_xor_rprop_lr{lr}.json#rows[0].lr}}",
        f"{{spikeprop_xor_rprop_lr{lr}.json#rows[0].converged_seeds}}",
        f"{{meanstd spikeprop_xor_rprop_lr{lr}.json#rows[0].epochs_to_converge|.0f}}"] for lr in ("0.0003", "0.003", "0.01")],
      header=["RProp initial step (optax.rprop)", "converged seeds (of 10, <= 300 cycles)", "cycles to converge, mean +- std"],
      measured=(0, 1, 2), conditions=False)


table("resume-target", "docs/supervised-spike-timing.md",
      [[label,
        f"{{meanstd {f}#rows[?neurons=1,selection_seed=False].final_min_correlation|.3f}} (min {{min {f}#rows[?neurons=1,selection_seed=False].final_min_correlation|.3f}})",
        f"{{list {f}#rows[?neurons=1,selection_seed=False][\"first_epoch_all_ge_0.95\"]}}",
        f"{{meanstd {f}#rows[?neurons=5,selection_seed=False].final_min_correlation|.3f}} (min {{min {f}#rows[?neurons=5,selection_seed=False].final_min_correlation|.3f}})",
        f"{{list {f}#rows[?neurons=5,selection_seed=False][\"first_epoch_all_ge_0.95\"]}}",
        f"{{list {f}#rows[?neurons=5,selection_seed=False][\"epochs_below_0.95_in_last_50\"]}}"]
       for label, f in (("impulses onto the membrane, window 5 ms, rate 0.002 (the first figure's set-up)", "resume_target_delta.json"),
                        ("current synapse 2 ms, window 10 ms, rate 0.002", "resume_target_current_lr0.002.json"),
                        ("current synapse 2 ms, window 10 ms, rate 0.032 (chosen)", "resume_target_current.json"))],
      header=["set-up (seeds 3-7, not looked at to choose)", "one neuron: final correlation, mean +- std", "one neuron: first epoch >= 0.95",
              "layer of 5: final worst-neuron correlation", "layer of 5: first epoch all >= 0.95", "layer of 5: epochs < 0.95 among the last 50"],
      measured=(1, 2, 3, 4, 5), conditions=False)


table("spikeprop-xor", "docs/supervised-spike-timing.md",
      [[f"{{spikeprop_xor.json#rows[rule={r}].rule}} ({{spikeprop_xor.json#rows[rule={r}].lr}})",
        f"{{spikeprop_xor.json#rows[rule={r}].converged_seeds}}",
        f"{{meanstd spikeprop_xor.json#rows[rule={r}].epochs_to_converge|.0f}}",
        f"{{count spikeprop_xor.json#rows[rule={r}].final_test_acc 1.0}} of {{len spikeprop_xor.json#rows[rule={r}].final_test_acc}}"]
       for r in ("rprop", "quickprop", "momentum", "sgd", "ad")],
      header=["rule (lr)", "converged seeds (of 10, <= 300 cycles)", "cycles to converge, mean +- std",
              "final test accuracy 1.0"], measured=(0, 1, 2, 3), conditions=False)


# ------------------------------------------------------------------------------ adding conditions

NR = "not recorded"


def auto_conditions(name: str, d: dict) -> dict:
    """What a results file's own fields and git say about its conditions (the rest: "not recorded")."""
    import subprocess

    c: dict = {}
    m = d.get("machine") if isinstance(d.get("machine"), dict) else {}
    meta = d.get("meta") if isinstance(d.get("meta"), dict) else {}
    la = NR
    if isinstance(d.get("load_average_before"), list) and isinstance(d.get("load_average_after"), list):
        la = [d["load_average_before"][0], d["load_average_after"][0]]
    else:
        for src, key in ((d, "load_average"), (d, "load_average_1min"), (d, "load_average_1min_per_epoch"),
                         (m, "load_average"), (meta, "load_average"), (d, "load_average_during_learning")):
            v = src.get(key)
            if isinstance(v, list) and v:
                la = v if key.endswith(("per_epoch", "1min")) else v[:1]
                break
            if isinstance(v, (int, float, str)):
                la = v
                break
        else:
            rows = d.get("rows") if isinstance(d.get("rows"), list) else []
            per_row = [r["load_average"][0] if isinstance(r.get("load_average"), list) else r.get("load_average")
                       for r in rows if isinstance(r, dict) and "load_average" in r]
            if per_row:
                la = per_row
    versions = {}
    for src in (d, m, meta, d.get("versions") if isinstance(d.get("versions"), dict) else {}):
        for key in ("memsnn", "jax", "diffrax", "torch", "snntorch", "spyx", "brian2", "ngspice", "badcrossbar"):
            if isinstance(src.get(key), str):
                versions[key] = src[key]
    for key, pkg in (("jax_version", "jax"), ("torch_version", "torch"), ("ngspice_version", "ngspice")):
        if isinstance(d.get(key), str):
            versions[pkg] = d[key]
    if isinstance(d.get("versions"), dict):
        versions.update({k: v for k, v in d["versions"].items() if isinstance(v, str)})
    cfg = d.get("config") if isinstance(d.get("config"), dict) else {}
    try:
        last = subprocess.run(["git", "log", "-1", "--format=%h", "--", str(RESULTS / name)], cwd=ROOT,
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        last = ""
    c["command"] = d.get("command", NR)
    if isinstance(d.get("commit"), str):
        c["commit"] = d["commit"][:12]
    else:
        c["commit"] = f"{NR} (results file committed in {last})" if last else NR
    c["data"] = NR
    if "epochs_done" in d:
        c["epochs"] = d["epochs_done"]
    seeds = d.get("seeds", [d.get("seed", cfg.get("seed"))] if ("seed" in d or "seed" in cfg) else NR)
    c["seeds"] = seeds
    c["selection"] = NR
    c["machine"] = NR
    c["devices"] = d.get("devices", NR) if isinstance(d.get("devices"), (dict, str)) else NR
    if "threads" in d:
        c["threads"] = d["threads"]
    c["load_average"] = la
    c["versions"] = versions or NR
    return c


def run_conditions(*, data=NR, devices=NR, seeds=NR, epochs=None, selection=NR, machine=None,
                   load_before=None, **extra) -> dict:
    """A ``conditions`` block for a benchmark to put in its results JSON as it writes them.

    Call it at the end of the run (``load_before``: ``os.getloadavg()[0]`` taken at the start);
    the command, commit (with ``-dirty`` for uncommitted changes), machine, load average and the
    versions of the packages the process imported are filled in here; ``devices`` should name
    every side of a comparison, e.g. ``{"memsnn": "2 CPU devices", "torch": "1 thread"}``.
    """
    import os
    import platform
    import subprocess

    def git(*a):
        try:
            return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""

    commit = git("rev-parse", "--short", "HEAD") or NR
    if commit != NR and git("status", "--porcelain", "--untracked-files=no"):
        commit += "-dirty"
    versions = {}
    for pkg in ("memsnn", "jax", "jaxlib", "diffrax", "equinox", "torch", "snntorch", "spyx", "brian2",
                "spikingjelly", "badcrossbar", "numpy"):
        mod = sys.modules.get(pkg)
        if mod is not None and isinstance(getattr(mod, "__version__", None), str):
            versions[pkg] = mod.__version__
    load_now = os.getloadavg()[0]
    c = {"command": " ".join(["python", *sys.argv]), "commit": commit, "data": data, "seeds": seeds,
         "selection": selection,
         "machine": machine or f"{platform.machine()} {os.cpu_count()}-core CPU ({platform.platform()})",
         "devices": devices,
         "load_average": [round(load_before, 2), round(load_now, 2)] if load_before is not None else [round(load_now, 2)],
         "versions": versions}
    if epochs is not None:
        c["epochs"] = epochs
    c.update(extra)
    return c


def add_conditions(name: str, given: dict) -> dict:
    """Append a ``conditions`` block to ``benchmarks/results/NAME`` (its formatting kept); ``given``
    (KEY=VALUE pairs, VALUE as JSON where it parses) overrides what the file and git say."""
    path = RESULTS / name
    text = path.read_text().rstrip()
    d = json.loads(text)
    if "conditions" in d:
        raise SystemExit(f"{name} already has a conditions block: edit it there")
    c = auto_conditions(name, d)
    c.update(given)
    indent = re.search(r'\n(\s+)"', text)
    ind = indent.group(1) if indent else ""
    block = json.dumps(c, indent=len(ind) or None, ensure_ascii=False)
    if ind:
        new = text[:-1].rstrip() + ",\n" + ind + '"conditions": ' + block.replace("\n", "\n" + ind) + "\n}\n"
    else:
        new = text[:-1].rstrip() + ', "conditions": ' + block + "}\n"
    json.loads(new)
    path.write_text(new)
    _cache.pop(name, None)
    return c


# ---------------------------------------------------------------------------------------- files

def _block_re(name):
    return re.compile(r"^([ \t]*)<!-- results:%s -->\n.*?<!-- /results:%s -->" % (re.escape(name), re.escape(name)),
                      re.S | re.M)


def _block(name, body, indent):
    lines = [f"<!-- results:{name} -->", *body.split("\n"), f"<!-- /results:{name} -->"]
    return "\n".join((indent + ln) if ln else ln for ln in lines)


def rendered_files() -> dict[str, str]:
    """{file: its text with every table re-rendered}."""
    texts: dict[str, str] = {}
    for t in TABLES:
        path = ROOT / t.file
        text = texts.get(t.file, path.read_text())
        rx = _block_re(t.name)
        if not rx.search(text):
            raise KeyError(f"{t.file} has no <!-- results:{t.name} --> ... <!-- /results:{t.name} --> block")
        body = t.render()
        texts[t.file] = rx.sub(lambda m: _block(t.name, body, m.group(1)), text, count=1)
    return texts


#: A figure with a unit, as typed in prose.
FIGURE = re.compile(r"(?<![\w.\-])\d[\d,]*(?:\.\d+)?(?:e-?\d+)? ?(?:%|x\b|ms\b|s\b|nJ\b|min\b|MiB\b|MB\b)")


def prose_figures(readme: str) -> list[str]:
    """Figures typed in README's "## Results" section outside the rendered blocks."""
    start = readme.find("## Results")
    if start < 0:
        return []
    end = readme.find("\n## ", start + 1)
    section = readme[start:end if end > 0 else None]
    section = re.sub(r"<!-- results:(\S+) -->.*?<!-- /results:\1 -->", "", section, flags=re.S)
    return FIGURE.findall(section)


def problems() -> list[str]:
    """Everything the check rejects: typed numbers in measured cells, broken references, drift."""
    out = []
    names = [t.name for t in TABLES]
    for n in set(names):
        if names.count(n) > 1:
            out.append(f"table {n} is defined {names.count(n)} times")
    for t in TABLES:
        for i, r in enumerate(t.rows):
            for j in t.measured:
                typed = literal_numbers(r[j])
                if typed:
                    out.append(f"{t.name} row {i + 1} ({r[0][:50]!r}): numbers typed instead of read "
                               f"from a results file: {typed}")
            for c in r:
                for ref in refs_of(c):
                    name = ref.split("#", 1)[0]
                    if not (RESULTS / name).exists():
                        out.append(f"{t.name} row {i + 1}: {name} does not exist")
                    elif "conditions" not in load(name):
                        out.append(f"{t.name} row {i + 1}: {name} has no 'conditions' block "
                                   f"(python benchmarks/registry.py --add-conditions {name} KEY=VALUE ...)")
                    else:
                        lacking = [k for k in REQUIRED if k not in load(name)["conditions"]]
                        if lacking:
                            out.append(f"{t.name} row {i + 1}: {name}'s conditions lack {lacking}")
                try:
                    render_cell(c)
                except (KeyError, ValueError, TypeError, ZeroDivisionError) as e:
                    out.append(f"{t.name} row {i + 1}: {e}")
    for t in TABLES:
        for i, r in enumerate(t.rows):
            for script in re.findall(r"benchmarks/[\w/]+\.(?:py|sh)", " ".join(r)):
                if not (ROOT / script).exists():
                    out.append(f"{t.name} row {i + 1}: its command names {script}, which does not exist")
    readme = (ROOT / README).read_text()
    for fig in prose_figures(readme):
        out.append(f"README.md's Results section quotes {fig!r} outside the rendered tables: add it as a row")
    if out:
        return out
    for f, text in rendered_files().items():
        if (ROOT / f).read_text() != text:
            out.append(f"{f} differs from its rendering: run `python benchmarks/registry.py`")
    return out


def listing():
    for t in TABLES:
        for r in t.rows:
            for j in t.measured:
                for expr in _PLACEHOLDER.findall(r[j]):
                    print(f"{t.file}\t{t.name}\t{r[0][:40]}\t{evaluate(expr)}\t{expr}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="fail if a file differs or a figure has no entry")
    p.add_argument("--list", action="store_true", help="list every figure and its source")
    p.add_argument("--add-conditions", nargs="+", metavar=("FILE", "KEY=VALUE"),
                   help="append a conditions block to benchmarks/results/FILE from its own fields and git, "
                        "with KEY=VALUE overrides (e.g. machine='2-core CPU' devices='{\"memsnn\": \"2 CPU devices\"}')")
    a = p.parse_args(argv)
    if a.add_conditions:
        name, *pairs = a.add_conditions
        given = {}
        for kv in pairs:
            key, _, value = kv.partition("=")
            given[key] = _parse_scalar(value)
        print(json.dumps(add_conditions(name, given), indent=2))
        missing = [k for k, v in load(name)["conditions"].items() if v == NR]
        if missing:
            print(f"not recorded: {', '.join(missing)} (give them as KEY=VALUE where they are known)")
        return 0
    if a.list:
        listing()
        return 0
    if a.check:
        bad = problems()
        for b in bad:
            print(b)
        return 1 if bad else 0
    bad = [b for b in problems() if "differs from its rendering" not in b]
    if bad:
        print("\n".join(bad))
        return 1
    for f, text in rendered_files().items():
        if (ROOT / f).read_text() != text:
            (ROOT / f).write_text(text)
            print(f"rendered {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
