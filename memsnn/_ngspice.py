"""Run ngspice in batch mode and read its raw output file back into numpy arrays."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

INSTALL_HINT = (
    "Install ngspice: `apt-get install ngspice` on Debian/Ubuntu, `dnf install ngspice` on Fedora, "
    "`brew install ngspice` on macOS, or `conda install -c conda-forge ngspice`; or point memsnn at "
    "an existing binary with the MEMSNN_NGSPICE environment variable or `executable=`."
)


class NgspiceNotFoundError(FileNotFoundError):
    """The ngspice executable is not on PATH (nor given by ``MEMSNN_NGSPICE`` / ``executable=``)."""


class NgspiceError(RuntimeError):
    """ngspice ran but did not produce a transient result; the message ends with its output."""


def find_ngspice(executable: str | os.PathLike | None = None) -> str:
    """Path of the ngspice binary: ``executable``, else ``$MEMSNN_NGSPICE``, else ``ngspice`` on PATH.

    Raises:
        NgspiceNotFoundError: with the install hint, if none is found.
    """
    candidate = executable or os.environ.get("MEMSNN_NGSPICE") or "ngspice"
    found = shutil.which(str(candidate))
    if found is None:
        raise NgspiceNotFoundError(f"memsnn.export: ngspice executable {str(candidate)!r} not found. {INSTALL_HINT}")
    return found


def ngspice_version(executable: str | os.PathLike | None = None) -> str:
    """The version line of ngspice, e.g. ``"ngspice-39"``."""
    out = subprocess.run([find_ngspice(executable), "--version"], capture_output=True, text=True, timeout=30)
    match = re.search(r"ngspice-\S+", out.stdout + out.stderr)
    return match.group(0) if match else (out.stdout.strip().splitlines() or ["unknown"])[0]


def run_ngspice(
    netlist: str,
    *,
    executable: str | os.PathLike | None = None,
    timeout: float | None = None,
    workdir: str | os.PathLike | None = None,
    analysis: str = "transient",
) -> dict[str, np.ndarray]:
    """Run one netlist with ``ngspice -b`` and return its transient vectors.

    The netlist is plain SPICE (``.tran``, ``.save``, ``.options``, no ``.control`` block needed);
    the saved vectors are read from the binary raw file ngspice writes (``-r``), so the values are
    the simulator's own float64 numbers at its own time points.

    Args:
        netlist: the netlist text.
        executable: the ngspice binary (default: see :func:`find_ngspice`).
        timeout: seconds before ngspice is killed (``None``: no limit).
        workdir: keep ``netlist.cir``, ``out.raw`` and ``ngspice.log`` in this folder (default: a
            temporary folder, removed afterwards).
        analysis: the plot to return, by the start of its name: ``"transient"`` (``.tran``) or
            ``"operating point"`` (``.op``; one point, e.g. a crossbar read).

    Returns:
        ``{"time": (n_points,), name: (n_points,), ...}`` with ngspice's lower-case vector names,
        e.g. ``"v(v_0)"``; time in s, node voltages in V.

    Raises:
        NgspiceNotFoundError: no ngspice binary.
        NgspiceError: ngspice failed, timed out, or wrote no transient data.
    """
    exe = find_ngspice(executable)
    with tempfile.TemporaryDirectory(prefix="memsnn-ngspice-") as tmp:
        folder = Path(workdir) if workdir is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "netlist.cir").write_text(netlist)
        raw = folder / "out.raw"
        raw.unlink(missing_ok=True)
        # -n: ignore the user's .spiceinit so that results do not depend on the machine.
        cmd = [exe, "-b", "-n", "-r", "out.raw", "netlist.cir"]
        try:
            proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise NgspiceError(f"memsnn.export: ngspice did not finish within {timeout} s.") from err
        log = proc.stdout + proc.stderr
        (folder / "ngspice.log").write_text(log)
        failed = [line for line in log.splitlines() if re.search(r"\berror\b|aborted|too small", line, re.I)]
        if proc.returncode != 0 or failed or not raw.exists():
            tail = "\n".join(log.strip().splitlines()[-25:])
            raise NgspiceError(
                f"memsnn.export: ngspice failed (exit code {proc.returncode}). Its output ends with:\n{tail}"
            )
        plots = read_raw(raw)
    for plot in plots:
        if plot["plotname"].lower().startswith(analysis):
            return plot["vectors"]
    raise NgspiceError(f"memsnn.export: ngspice wrote no {analysis} analysis (plots: {[p['plotname'] for p in plots]}).")


def read_raw(path: str | os.PathLike) -> list[dict]:
    """Parse a binary ngspice raw file (real data) into ``[{"plotname", "vectors"}]``.

    ``vectors`` maps lower-case variable names to float64 arrays of length ``n_points``.
    """
    data = Path(path).read_bytes()
    plots, pos = [], 0
    while pos < len(data):
        header, names, n_points, pos = _read_header(data, pos)
        if header is None:
            break
        n_vars = len(names)
        if "complex" in header.get("flags", ""):
            raise NgspiceError("memsnn.export: complex raw data (AC analysis) is not supported.")
        if header["format"] != "binary":
            raise NgspiceError("memsnn.export: only binary raw files are read (ngspice -r writes them).")
        # A run that stopped early leaves fewer points than the header announced.
        n_points = min(n_points, (len(data) - pos) // (8 * n_vars))
        values = np.frombuffer(data, dtype="<f8", count=n_points * n_vars, offset=pos).reshape(n_points, n_vars)
        pos += 8 * n_points * n_vars
        plots.append({"plotname": header.get("plotname", ""),
                      "vectors": {name: values[:, k].copy() for k, name in enumerate(names)}})
    return plots


def _read_header(data: bytes, pos: int):
    header: dict[str, str] = {}
    names: list[str] = []
    n_vars = n_points = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        line = data[pos:end].decode("latin-1").strip()
        pos = end + 1
        if not line:
            continue
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("binary", "values"):
            header["format"] = "binary" if key == "binary" else "ascii"
            return header, names, n_points, pos
        if key == "no. variables":
            n_vars = int(value)
        elif key == "no. points":
            n_points = int(value)
        elif key == "variables":
            for _ in range(n_vars):
                end = data.find(b"\n", pos)
                fields = data[pos:end].decode("latin-1").split()
                names.append(fields[1].lower())
                pos = end + 1
        else:
            header[key] = value.strip().lower() if key == "flags" else value.strip()
    return None, names, n_points, pos
