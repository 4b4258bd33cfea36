"""Shared timing helpers for the benchmarks: compile time apart from steady-state time."""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

import jax

RESULTS = Path(__file__).resolve().parent / "results"


def block(tree):
    return jax.tree.map(lambda x: x.block_until_ready() if hasattr(x, "block_until_ready") else x, tree)


def repeat_times(fn, repeats: int) -> list[float]:
    """Wall time (s) of each of ``repeats`` calls of ``fn()`` (which must block until done)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def wall_and_cpu(fn, repeats: int, wall: list, cpu: list) -> None:
    """Append the wall time and this process's CPU time (all threads) of ``repeats`` calls of ``fn``.

    On a machine shared with other jobs the wall time includes waiting for a core; the CPU time
    is the work done, a steadier figure for comparing implementations run side by side.
    """
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)


def time_call(fn, *args, repeats: int = 5) -> dict:
    """First call (compile + run) and the median / min of ``repeats`` further calls, in seconds."""
    start = time.perf_counter()
    block(fn(*args))
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        block(fn(*args))
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {"first_call_s": first, "compile_s": max(first - median, 0.0), "median_s": median, "min_s": min(times),
            "repeats": repeats}


def machine() -> dict:
    import os

    return {"platform": platform.platform(), "python": platform.python_version(), "jax": jax.__version__,
            "backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()], "cpu_count": os.cpu_count()}


def commit() -> str | None:
    """The git commit the benchmarks run from (``None`` outside a git checkout)."""
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def versions() -> dict:
    """Versions of Python and of the packages a result depends on."""
    from importlib.metadata import version

    return {"python": platform.python_version(), **{p: version(p) for p in ("jax", "jaxlib", "equinox", "optax")}}


# Set BENCH_REPLACE=1 to let a benchmark replace a results file of another configuration.
REPLACE_ENV = "BENCH_REPLACE"


def _recorded(payload: dict) -> tuple[str, object] | None:
    """What a results file says it measured: its ``configuration``, else its command line."""
    if not isinstance(payload, dict):
        return None
    if "configuration" in payload:
        return "configuration", payload["configuration"]
    conditions = payload.get("conditions")
    command = payload.get("command") or (conditions.get("command") if isinstance(conditions, dict) else None)
    return ("command", command) if command else None


def check_result(path: str | Path, configuration: dict | None = None, *, command: str | None = None,
                 replace: bool = False) -> None:
    """Refuse (``SystemExit``, before a long run starts) to overwrite ``path`` if it holds the result
    of another configuration: its recorded ``configuration`` (else its ``command``) differs from
    this run's. A file that records neither is replaced with a line saying so. ``replace`` (or
    ``BENCH_REPLACE=1`` in the environment) replaces it anyway."""
    import os
    import sys

    path = Path(path)
    if not path.exists() or replace or os.environ.get(REPLACE_ENV) == "1":
        return
    try:
        old = _recorded(json.loads(path.read_text()))
    except (OSError, ValueError):
        old = None
    new = ("configuration", configuration) if configuration is not None else (("command", command) if command else None)
    if old is None or new is None or old[0] != new[0]:
        print(f"note: replacing {path} (it records no {new[0] if new else 'configuration'} to compare with)",
              file=sys.stderr)
        return
    if old[1] != new[1]:
        sys.exit(f"{path} holds the result of another {old[0]}:\n  there: {old[1]}\n  here:  {new[1]}\n"
                 f"Give this run another output name (--tag / --out where the benchmark has it), or set "
                 f"{REPLACE_ENV}=1 to replace it.")


def write_json(name: str | Path, payload: dict, *, configuration: dict | None = None, replace: bool = False) -> Path:
    """Write ``payload`` to ``RESULTS / name`` atomically (with ``configuration`` recorded in it if
    given), unless the file there holds another configuration's result (:func:`check_result`)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    if configuration is not None:
        payload = {**payload, "configuration": configuration}
    try:
        check_result(path, configuration, command=_recorded(payload)[1] if _recorded(payload) else None,
                      replace=replace)
    except SystemExit as refused:
        # The run is done: keep its result beside the file it may not replace.
        kept = path.with_name(path.stem + ".refused.json")
        kept.write_text(json.dumps(payload, indent=2))
        raise SystemExit(f"{refused.code}\nThis run's result is kept in {kept}.") from None
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(path)
    return path


def run_folder(path: str | Path):
    """Hold a run folder for the ``with`` block (memsnn's run lock, ``memsnn.training.runlock``): a
    second benchmark writing the same folder is refused at once, naming the first (PID, host)."""
    from memsnn.training.runlock import run_lock

    return run_lock(path)


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c, "")
            cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
