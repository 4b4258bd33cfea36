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


def write_json(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(path)
    return path


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c, "")
            cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
