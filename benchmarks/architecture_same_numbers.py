"""Same numbers before and after a change of architecture (issue 22): small training runs through
the CLI of two checkouts of memsnn, their final metrics and the SHA-256 of their checkpoint weights.

Each run trains through ``memsnn train`` (one CPU device, no progress bar) into a folder of its own;
what is compared is the last line of ``metrics.jsonl`` (times and memory left out) and the SHA-256
of the checkpoint's weights (the bytes after its JSON header: model leaves and learner state). The
"after" side also evaluates every "before" checkpoint with the new code (``memsnn evaluate
--json``): old checkpoints must still load (STDP's crossbar keys are migrated on read) and give the
accuracy they were trained to.

    # 1. the checkout before (e.g. `git archive <commit> | tar -x -C /tmp/before`)
    PYTHONPATH=/tmp/before python benchmarks/architecture_same_numbers.py run --checkout /tmp/before \\
        --label before --spelling old --out /tmp/same/before.json
    # 2. this checkout
    PYTHONPATH=$PWD python benchmarks/architecture_same_numbers.py run --checkout $PWD --label after \\
        --spelling new --out /tmp/same/after.json --evaluate-from /tmp/same/before.json
    # 3. the comparison, written to benchmarks/results/architecture_same_numbers.json
    python benchmarks/architecture_same_numbers.py compare /tmp/same/before.json /tmp/same/after.json

``--spelling old`` gives STDP/R-STDP's crossbar as ``--array crossbar --crossbar-preset P`` (memsnn
before issue 22), ``new`` as ``--crossbar P``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

DATA = ["--dataset", "mnist", "--data", "bundled", "--no-progress", "--cpu-devices", "1", "--overwrite"]

# name -> (argv without the crossbar spelling, the STDP crossbar preset or None). Small settings:
# each run well under 2 minutes on one loaded CPU core.
RUNS = {
    "spiceprop_3ep": ["--method", "spiceprop", "--epochs", "3", "--train-subset", "400", "--test-subset", "200",
                      "--batch-size", "100", "--steps", "300"],
    "surrogate_dense_1ep": ["--method", "surrogate", "--epochs", "1", "--train-subset", "1000",
                            "--test-subset", "500", "--batch-size", "100", "--hidden", "100", "--steps", "10"],
    "surrogate_dense_ensemble_2x1ep": ["--method", "surrogate", "--epochs", "1", "--train-subset", "1000",
                                       "--test-subset", "500", "--batch-size", "100", "--hidden", "100",
                                       "--steps", "10", "--seeds", "0", "1"],
    "surrogate_crossbar_1ep": ["--method", "surrogate", "--epochs", "1", "--train-subset", "200",
                               "--test-subset", "100", "--batch-size", "50", "--hidden", "50", "--steps", "5",
                               "--crossbar", "neurosim"],
    "conversion_dense": ["--method", "conversion", "--architecture", "dense", "--hidden", "100", "--epochs", "1",
                         "--train-subset", "1000", "--test-subset", "500", "--batch-size", "100",
                         "--calibration-samples", "500", "--eval-steps", "8", "16"],
    "stdp_200": ["--method", "stdp", "--neurons", "20", "--train-subset", "200", "--test-subset", "100",
                 "--t-image", "0.1", "--batch-size", "50", "--eval-batch-size", "50"],
    "stdp_crossbar_100": ["--method", "stdp", "--neurons", "20", "--train-subset", "100", "--test-subset", "50",
                          "--t-image", "0.1", "--batch-size", "50", "--eval-batch-size", "50", "CROSSBAR=neurosim"],
}


def crossbar_spelling(argv: list[str], spelling: str) -> list[str]:
    out = []
    for arg in argv:
        if arg.startswith("CROSSBAR="):
            preset = arg.split("=", 1)[1]
            out += (["--array", "crossbar", "--crossbar-preset", preset] if spelling == "old"
                    else ["--crossbar", preset])
        else:
            out.append(arg)
    return out


def weights_sha256(checkpoint: Path) -> str:
    """SHA-256 of a checkpoint's weights: everything after its JSON header line (format 3: line 3)."""
    data = checkpoint.read_bytes()
    lines = 3 if data.startswith(b"memsnn-checkpoint 3") else 2
    at = 0
    for _ in range(lines):
        at = data.index(b"\n", at) + 1
    return hashlib.sha256(data[at:]).hexdigest()


def header(checkpoint: Path) -> dict:
    data = checkpoint.read_bytes()
    lines = data.split(b"\n", 3)
    line = lines[2] if data.startswith(b"memsnn-checkpoint 3") else lines[1]
    return json.loads(line)


_VOLATILE = ("time", "peak_rss")


def final_metrics(run_dir: Path) -> dict:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {k: v for k, v in rows[-1].items() if not any(word in k for word in _VOLATILE)}


def _stable(value):
    """A JSON value without its timing and memory entries (they differ from run to run)."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if not any(word in k for word in ("seconds", *_VOLATILE))}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def other_outputs(run_dir: Path) -> dict:
    """Other files a method writes (conversion: converted.eqx, conversion.json): weights SHA-256
    or the JSON without timings."""
    out = {}
    for path in sorted(run_dir.iterdir()):
        if path.name in ("checkpoint.eqx", "metrics.jsonl") or path.name.startswith("."):
            continue
        if path.suffix == ".eqx":
            out[path.name] = weights_sha256(path)
        elif path.suffix == ".json":
            out[path.name] = _stable(json.loads(path.read_text()))
    return out


# ISPP on VTEAM devices (the tests' linear device, 64 random states and targets, with and without
# cycle and verify noise; the default VTEAM, 16 devices), in float64 and float32: the SHA-256 of every
# output array. ISPP moved from memsnn.crossbar.programming to memsnn.pulse_programming (issue 22).
ISPP_CODE = r"""
import hashlib, json, sys
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_x64", sys.argv[1] == "64")
try:
    from memsnn.pulse_programming import ispp
    where = "memsnn.pulse_programming.ispp"
except ImportError:
    from memsnn.crossbar.programming import ispp
    where = "memsnn.crossbar.programming.ispp"
from memsnn.devices import VTEAM
rng = np.random.default_rng(0)
R = lambda w: 100.0 + 9900.0 * w / 3e-9
g, x0 = 1.0 / R(rng.uniform(0.3e-9, 2.7e-9, 64)), rng.uniform(0.5e-9, 2.5e-9, 64)
linear = VTEAM(alpha_on=1.0, alpha_off=1.0)
ramp = dict(v_start=0.4, v_step=0.1, v_max=2.0, pulse_width=3e-5, tolerance=2e-8, max_pulses=40)
d = VTEAM()
lo, hi = d.state_bounds
g_ends = sorted(float(d.conductance(jnp.asarray(b), 0.1)) for b in (lo, hi))
cases = {
    "linear": lambda: ispp(linear, x0, g, **ramp),
    "linear_noisy": lambda: ispp(linear, x0, g, **ramp, cycle_noise=0.1, verify_noise=1e-8, key=jax.random.key(3)),
    "vteam_default": lambda: ispp(d, np.full(16, 0.5 * (lo + hi)),
                                  np.linspace(g_ends[0] + 0.1 * (g_ends[1] - g_ends[0]),
                                              g_ends[1] - 0.1 * (g_ends[1] - g_ends[0]), 16),
                                  v_start=0.4, v_step=0.1, v_max=2.0, pulse_width=1e-5, tolerance=1e-6, max_pulses=30),
}
out = {"function": where}
for name, run in cases.items():
    r = run()
    arrays = [np.asarray(getattr(r, f)) for f in ("conductances", "pulses", "energy", "converged", "device_state")]
    out[name] = {"sha256": hashlib.sha256(b"".join(a.tobytes() for a in arrays)).hexdigest(),
                 "total_pulses": int(np.sum(arrays[1])), "total_energy_J": float(np.sum(arrays[2]))}
print(json.dumps(out))
"""


def ispp_numbers(checkout: str) -> dict:
    env = dict(os.environ, PYTHONPATH=checkout)
    out = {}
    for bits in ("64", "32"):
        done = subprocess.run([sys.executable, "-c", ISPP_CODE, bits], env=env, cwd=checkout, capture_output=True,
                              text=True)
        out[f"float{bits}"] = json.loads(done.stdout) if done.returncode == 0 else {"stderr": done.stderr[-2000:]}
    return out


def cli(checkout: str, argv: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ, PYTHONPATH=checkout, MEMSNN_DATA_DIR=os.environ.get("MEMSNN_DATA_DIR", "/work/shared/data"))
    code = f"import sys; from memsnn.cli import main; sys.exit(main({argv!r}))"
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=checkout, capture_output=True, text=True)
    return done, time.perf_counter() - t0


def run(args) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = json.loads(out.read_text()) if out.exists() else {"label": args.label, "checkout": args.checkout,
                                                                 "runs": {}, "evaluations": {}}
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=args.checkout, capture_output=True, text=True).stdout.strip()
    result["commit"] = commit or args.commit
    names = args.only or list(RUNS)
    if args.ispp or args.ispp_only:
        result["ispp"] = ispp_numbers(args.checkout)
        print("ispp", json.dumps(result["ispp"]), flush=True)
        out.write_text(json.dumps(result, indent=1))
        if args.ispp_only:
            names = []
    for name in names:
        run_dir = Path(args.runs) / args.label / name
        argv = ["train", *crossbar_spelling(RUNS[name], args.spelling), *DATA, "--out", str(run_dir)]
        load0 = os.getloadavg()
        done, wall = cli(args.checkout, argv)
        entry = {"command": "memsnn " + " ".join(argv), "returncode": done.returncode, "wall_s": round(wall, 1),
                 "load_before": [round(x, 2) for x in load0], "load_after": [round(x, 2) for x in os.getloadavg()],
                 "stderr_tail": "\n".join(line for line in done.stderr.splitlines()
                                          if "Warning" in line or "warn" in line.lower())[-2000:]}
        if done.returncode == 0:
            checkpoint = run_dir / "checkpoint.eqx"
            entry.update(metrics=final_metrics(run_dir), weights_sha256=weights_sha256(checkpoint),
                         config=header(checkpoint)["config"], other_outputs=other_outputs(run_dir))
        else:
            entry["stderr"] = done.stderr[-3000:]
        result["runs"][name] = entry
        print(name, entry["returncode"], entry["wall_s"], entry.get("metrics"), entry.get("weights_sha256"), flush=True)
        out.write_text(json.dumps(result, indent=1))
    if args.evaluate_from and not args.ispp_only:
        before = json.loads(Path(args.evaluate_from).read_text())
        for name, entry in before["runs"].items():
            if entry.get("returncode") != 0 or (args.only and name not in args.only):
                continue
            checkpoint = Path(args.runs) / before["label"] / name / "checkpoint.eqx"
            argv = ["evaluate", str(checkpoint), "--json", "--no-progress", "--cpu-devices", "1"]
            done, wall = cli(args.checkout, argv)
            got = {"command": "memsnn " + " ".join(argv), "returncode": done.returncode, "wall_s": round(wall, 1),
                   "warnings": [line for line in done.stderr.splitlines() if "arn" in line][-5:]}
            if done.returncode == 0:
                text = done.stdout[done.stdout.index("{"):]
                got["result"] = json.loads(text)
            else:
                got["stderr"] = done.stderr[-3000:]
            result["evaluations"][name] = got
            print("evaluate", name, got["returncode"], got.get("result"), flush=True)
            out.write_text(json.dumps(result, indent=1))


def compare(args) -> None:
    before, after = (json.loads(Path(p).read_text()) for p in (args.before, args.after))
    rows = {}
    for name in before["runs"]:
        b, a = before["runs"][name], after["runs"].get(name, {})
        rows[name] = {
            "command_before": b["command"], "command_after": a.get("command"),
            "metrics_before": b.get("metrics"), "metrics_after": a.get("metrics"),
            "other_outputs_before": b.get("other_outputs"), "other_outputs_after": a.get("other_outputs"),
            "weights_sha256_before": b.get("weights_sha256"), "weights_sha256_after": a.get("weights_sha256"),
            "same_metrics": (b.get("metrics") is not None and b.get("metrics") == a.get("metrics")
                             and b.get("other_outputs") == a.get("other_outputs")),
            "same_weights": b.get("weights_sha256") is not None and b.get("weights_sha256") == a.get("weights_sha256"),
            "wall_s_before": b.get("wall_s"), "wall_s_after": a.get("wall_s"),
            "load_at_start_before_after": [b.get("load_before"), a.get("load_before")],
        }
        if b.get("config") != a.get("config"):
            old, new = _flat(b.get("config") or {}), _flat(a.get("config") or {})
            rows[name]["config_changes"] = {k: [old.get(k), new.get(k)] for k in sorted(set(old) | set(new))
                                            if old.get(k) != new.get(k)}
        evaluation = after.get("evaluations", {}).get(name)
        if evaluation is not None:
            got = evaluation.get("result") or {}
            kept = {k: got[k] for k in ("accuracy", "accuracy_std", "member_accuracy", "n_samples", "epoch") if k in got}
            rows[name]["old_checkpoint_evaluated_with_new_code"] = {
                "command": evaluation["command"], "returncode": evaluation["returncode"], **kept,
                "warnings": evaluation.get("warnings"),
                "equals_trained_test_acc": kept.get("accuracy") == (b.get("metrics") or {}).get("test_acc")}
    out = {
        "what": "small training runs through the CLI before and after the issue-22 steps (ensembles as a learner "
                "hook, one crossbar option, conversion split, ISPP through the integrators): final metrics and "
                "SHA-256 of the checkpoint weights (model leaves and learner state)",
        "conditions": {
            "machine": platform.node(), "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "jax_devices": "1 CPU device (--cpu-devices 1)", "python": platform.python_version(),
            "commit_before": before.get("commit"), "commit_after": after.get("commit"),
            "command": " ".join(sys.argv), "load_at_compare": [round(x, 2) for x in os.getloadavg()],
            "note": "wall times taken on a shared, loaded 2-core machine (load averages beside each run); "
                    "before and after ran one after another, not side by side",
        },
        "ispp": _ispp_rows(before.get("ispp"), after.get("ispp")),
        "all_same_metrics": all(r["same_metrics"] for r in rows.values()),
        "all_same_weights": all(r["same_weights"] for r in rows.values()),
        "runs": rows,
    }
    Path(args.result).write_text(json.dumps(out, indent=1) + "\n")
    for name, r in rows.items():
        print(f"{name:32s} metrics {'same' if r['same_metrics'] else 'DIFFER'}  weights "
              f"{'same' if r['same_weights'] else 'DIFFER'}  wall {r['wall_s_before']} -> {r['wall_s_after']} s")


def _flat(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _ispp_rows(before, after):
    if before is None or after is None:
        return None
    rows = {}
    for bits in before:
        for case, value in before[bits].items():
            if case == "function":
                continue
            other = after.get(bits, {}).get(case, {})
            rows[f"{case}_{bits}"] = {"before": value, "after": other, "same": value.get("sha256") == other.get("sha256")}
    return {"function_before": before["float64"].get("function"), "function_after": after["float64"].get("function"),
            "cases": rows, "all_same": all(r["same"] for r in rows.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--checkout", required=True)
    r.add_argument("--label", required=True)
    r.add_argument("--spelling", choices=("old", "new"), default="new")
    r.add_argument("--out", required=True)
    r.add_argument("--runs", default="/tmp/a22-same/runs")
    r.add_argument("--only", nargs="*")
    r.add_argument("--commit", default=None)
    r.add_argument("--evaluate-from", default=None)
    r.add_argument("--ispp", action="store_true", help="also the ISPP cases")
    r.add_argument("--ispp-only", action="store_true", help="only the ISPP cases")
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    c.add_argument("--result", default=str(Path(__file__).parent / "results" / "architecture_same_numbers.json"))
    args = parser.parse_args()
    (run if args.command == "run" else compare)(args)


if __name__ == "__main__":
    main()
