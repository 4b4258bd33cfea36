"""Yin-Yang by first-spike times, memsnn beside jaxsnn, on the same data in one run.

memsnn: ``memsnn train --method ttfs --dataset yinyang`` with its defaults (docs/spike-times.md),
in this process. jaxsnn: its own Yin-Yang example set-up (``jaxsnn.examples.event``,
``yinyang_layered_event_prop``: EventProp; or ``--example analytical``), rebuilt through jaxsnn's API
with the example's values by ``benchmarks/_jaxsnn_yinyang.py`` in the Python environment that has
jaxsnn (``--jaxsnn-python``; e.g. a venv with ``pip install jaxsnn==0.3.0``, which brings the jax
memsnn uses), fed the points of memsnn's Yin-Yang splits (5,000 train / 1,000 test, the authors'
seeds; jaxsnn trains on whole batches of 64: 4,992 and tests 960). Per seed the two runs follow each
other, so both see the same machine load; each epoch's training time (the jitted steps of the
epoch until their results are ready; memsnn's ``train_time_s``, which also includes the Python
loop over batches) and CPU time are recorded, epoch 1 (compilation) apart::

    nice -n 10 python benchmarks/spike_times_vs_jaxsnn.py --epochs 10 --seeds 0 1 2 \\
        --jaxsnn-python /work/jaxsnn-venv/bin/python

Writes ``benchmarks/results/spike_times_vs_jaxsnn.json`` after every run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def _steady(history, key):
    later = [h[key] for h in history[1:]] or [history[0][key]]
    return statistics.median(later)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jaxsnn-python", default=os.environ.get("JAXSNN_PYTHON", "/work/jaxsnn-venv/bin/python"))
    parser.add_argument("--example", choices=("layered_event_prop", "analytical"), default="layered_event_prop")
    parser.add_argument("--model", type=json.loads, default={}, help="extra memsnn TTFSConfig settings as JSON")
    parser.add_argument("--tag", default="")
    args = parser.parse_args(argv)

    import jax
    import numpy as np

    import registry
    from memsnn.data import load_dataset
    from memsnn.training import train

    out = ROOT / "benchmarks" / "results" / f"spike_times_vs_jaxsnn{args.tag}.json"
    load_before = os.getloadavg()[0]
    xtr, ytr = load_dataset("yinyang", "train")
    xte, yte = load_dataset("yinyang", "test")
    work = Path(tempfile.mkdtemp(prefix="memsnn-vs-jaxsnn-"))
    data = work / "yinyang.npz"
    np.savez(data, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    jaxsnn_version = subprocess.run([args.jaxsnn_python, "-c", "import importlib.metadata as m; print(m.version('jaxsnn'))"],
                                    capture_output=True, text=True, check=True).stdout.strip()
    runs = {"memsnn": {}, "jaxsnn": {}}
    started = time.time()

    def summary(tool, time_key, cpu_key):
        done = [r for r in runs[tool].values() if len(r["history"]) >= args.epochs]
        finals = [r["history"][-1]["test_acc"] for r in done]
        return {"final_test_acc_mean": statistics.mean(finals) if finals else None,
                "final_test_acc_std": statistics.stdev(finals) if len(finals) > 1 else None,
                "completed_seeds": len(done),
                "epoch_train_s_median": statistics.median([_steady(r["history"], time_key) for r in done]) if done else None,
                "epoch_cpu_s_median": statistics.median([_steady(r["history"], cpu_key) for r in done]) if done else None,
                "first_epoch_train_s": [r["history"][0][time_key] for r in done]}

    def write():
        mem, jsn = summary("memsnn", "train_time_s", "cpu_time_s"), summary("jaxsnn", "train_s", "cpu_s")
        ratio = (jsn["epoch_train_s_median"] / mem["epoch_train_s_median"]
                 if mem["epoch_train_s_median"] and jsn["epoch_train_s_median"] else None)
        cpu_ratio = (jsn["epoch_cpu_s_median"] / mem["epoch_cpu_s_median"]
                     if mem["epoch_cpu_s_median"] and jsn["epoch_cpu_s_median"] else None)
        payload = {
            "benchmark": "Yin-Yang, time-to-first-spike training, memsnn (ttfs method, exact spike times on a grid) "
                         f"beside jaxsnn {jaxsnn_version} ({args.example} example set-up, event-based), same data",
            "epochs": args.epochs, "seeds": args.seeds, "memsnn_model": args.model, "jaxsnn_example": args.example,
            "memsnn": mem, "jaxsnn": jsn,
            "speedup_per_epoch": ratio, "speedup_cpu_per_epoch": cpu_ratio,
            "runs": runs, "wall_s": time.time() - started,
            "conditions": registry.run_conditions(
                data="memsnn.data yinyang: 5000 train (seed 42) / 1000 test (seed 40); jaxsnn: the first 4992 / 960 "
                     "(whole batches of 64)",
                devices={"memsnn": f"{jax.device_count()} CPU device(s), XLA default threads",
                         "jaxsnn": f"jaxsnn {jaxsnn_version} in {args.jaxsnn_python}, 1 CPU device, XLA default threads"},
                seeds=args.seeds, epochs=args.epochs, selection="final epoch (no selection on the test set)",
                load_before=load_before, jaxsnn=jaxsnn_version,
                timing="median over epochs 2.. of each seed's per-epoch training time, then the median over seeds; "
                       "the two tools run one after the other per seed"),
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2))
        tmp.replace(out)

    for seed in args.seeds:
        load = os.getloadavg()[0]
        result = work / f"jaxsnn-{seed}.json"
        subprocess.run([args.jaxsnn_python, str(ROOT / "benchmarks" / "_jaxsnn_yinyang.py"), "--data", str(data),
                        "--out", str(result), "--example", args.example, "--epochs", str(args.epochs),
                        "--seed", str(seed)], check=True)
        js = json.loads(result.read_text())
        runs["jaxsnn"][str(seed)] = {"history": js["history"], "load": [load, os.getloadavg()[0]],
                                     "train_samples": js["train_samples"], "test_samples": js["test_samples"]}
        write()
        print(f"jaxsnn seed {seed}: final {js['history'][-1]['test_acc']:.4f}", flush=True)

        history = []
        load = os.getloadavg()[0]
        train("ttfs", "yinyang", model=args.model, epochs=args.epochs, seed=seed, progress=False,
              on_epoch_end=lambda m: history.append({k: m[k] for k in ("epoch", "test_acc", "train_time_s",
                                                                      "cpu_time_s", "epoch_time_s") if k in m}))
        runs["memsnn"][str(seed)] = {"history": history, "load": [load, os.getloadavg()[0]]}
        write()
        print(f"memsnn seed {seed}: final {history[-1]['test_acc']:.4f}", flush=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
