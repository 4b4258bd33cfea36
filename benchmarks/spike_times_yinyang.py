"""Yin-Yang (or latency-coded MNIST) by time-to-first-spike training on exact spike times
(docs/spike-times.md).

Trains ``memsnn train --method ttfs`` on the generated Yin-Yang set (5,000 train / 1,000 test, the
authors' seeds), or with ``--dataset mnist`` on the full MNIST (60,000 / 10,000; pixels as latency
codes, ``inputs="images"``), for several seeds, one after another, each through the shared
``train`` (resumable run folders under ``runs/``), and rewrites
``benchmarks/results/spike_times_<dataset>_<neuron><tag>.json`` after every epoch: per seed the
test accuracy after each epoch (and the validation accuracy with ``--validation N``: the last N
training samples held out), final (the headline: last epoch, no selection on the test set) and
best; mean +- std over the seeds of the final accuracies::

    nice -n 10 python benchmarks/spike_times_yinyang.py --neuron lif --seeds 0 1 2 3 4
    nice -n 10 python benchmarks/spike_times_yinyang.py --neuron mif --seeds 0 --epochs 2
    nice -n 10 python benchmarks/spike_times_yinyang.py --dataset mnist --hidden 350 --seeds 0 --epochs 4

(epochs, learning rate and batch size: the ttfs method's defaults unless given.)

The published figures on the same task are recorded beside ours as literature references only
(other simulators, other neuron parameters); where a figure could not be checked against its
source in this session, the entry says so instead of a number.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

_NOT_FOUND = ("not quoted: the sources this session could reach (the article pages at nature.com and PMC, "
              "arXiv listings, the authors' repositories) gave the abstract and figure captions but not the "
              "table or text with the accuracy; figures recalled from memory are not recorded here")
LITERATURE = {
    "Goeltz et al. 2021 (Nat. Mach. Intell. 3, 823, first-spike times, LIF, software and BrainScaleS-2)": _NOT_FOUND,
    "Wunderlich & Pehle 2021 (Sci. Rep. 11, 12829, EventProp)": (
        _NOT_FOUND + "; its Fig. 3 caption (PMC8213775) says the Yin-Yang training curves are averaged over 10 "
        "random seeds"),
    "jaxsnn 0.3.0 Yin-Yang examples (electronicvisions/jaxsnn)":
        "no accuracy figure in the repository's README or docs; its own tests require > 85 % test accuracy after "
        "10 epochs (tests/sw/test_examples_event_yinyang_layered_event_prop.py and _recurrent_event_prop.py, "
        "EventProp), > 80 % after 12 epochs (tests/sw/test_examples_event_yinyang_analytical.py) and > 90 % after 10 epochs "
        "for the discrete-time example; the EventProp set-up run on memsnn's data: benchmarks/results/spike_times_vs_jaxsnn.json",
    "Kriener et al. 2021 reference ANN 4-120-3": "98.7 +- 0.3 % test (README of lkriener/yin_yang_data_set)",
}
MNIST_LITERATURE = {
    "Wunderlich & Pehle 2021 (Sci. Rep., EventProp), 784-350-10 LIF, latency-coded MNIST":
        "97.6 % is the figure issue 23 names as the target; " + _NOT_FOUND,
    "lolemacs/pytorch-eventprop (a third-party PyTorch EventProp, main.py / models.py)":
        "no accuracy figure; its MNIST settings, a single layer 784 -> 10 LIF: tau_mem 20 ms, tau_syn 5 ms, 40 ms in "
        "1 ms steps, pixels >= 0.5 spike at 10 ms and the others at 20 ms, cross-entropy on -t / (0.4 tau_syn) plus "
        "0.01 (exp(t_label / (2 tau_syn)) - 1), Adam 1e-3 divided by 10 every 10 epochs, 40 epochs, batch 128",
    "tnowotny/genn_eventprop MNIST_example.py (GeNN EventProp)":
        "no accuracy figure; its latency code: 20 ms trials in 1 ms steps, a pixel of grey value g > 1 spikes at "
        "(255 - g) / 255 x 16 ms + 2 ms",
    "tnowotny/genn_eventprop simulator_MNIST.py defaults (GeNN EventProp, read in session 7)":
        "no accuracy figure; 350 hidden LIF, tau_mem 20 ms, tau_syn 5 ms, threshold 1, reset to 0 (neurons fire "
        "again), 20 ms trials (0.1 ms steps), a pixel of grey value g > 1 spikes at (255 - g) / 255 x 19.6 ms + "
        "0.2 ms, input spike dropout 0.2 during training, loss 'max' (cross-entropy of the output neurons' maximum "
        "membrane potential over the trial: non-spiking readout), Adam 5e-3 x 0.95 per epoch, batch 32, 55,000 / "
        "5,000 training / validation images; its train_MNIST_first_spike.py: the first-spike loss with tau_0 1 ms, "
        "tau_1 3 ms, alpha 3.6e-4, 50 epochs",
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("yinyang", "mnist"), default="yinyang")
    parser.add_argument("--neuron", choices=("lif", "mif"), default="lif")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=None, help="default: the ttfs method's")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--hidden", type=int, nargs="+", default=None, help="default: the ttfs method's")
    parser.add_argument("--train-subset", type=int, default=None, help="MNIST: only the first N training images")
    parser.add_argument("--test-subset", type=int, default=None)
    parser.add_argument("--validation", type=int, default=None,
                        help="hold out the last N training samples; their accuracy is recorded per epoch")
    parser.add_argument("--save-every", type=int, default=None, help="checkpoint every this many samples")
    parser.add_argument("--weight-decay", type=float, default=None,
                        help="decoupled weight decay (AdamW; default: the ttfs method's, none)")
    parser.add_argument("--augment-shift", type=int, default=None,
                        help="translate each training image by up to this many pixels (MNIST; default off)")
    parser.add_argument("--augment-drop", type=float, default=None,
                        help="set each training pixel to 0 with this probability (input dropout; default off)")
    parser.add_argument("--model", type=json.loads, default={}, help="extra TTFSConfig settings as JSON")
    parser.add_argument("--tag", default="")
    args = parser.parse_args(argv)

    import jax

    from memsnn.training import get_method, train
    from memsnn.training.ttfs import TTFSConfig
    import registry

    defaults = get_method("ttfs").defaults
    args.epochs = args.epochs or defaults["epochs"]
    args.lr = args.lr or defaults["lr"]
    args.batch_size = args.batch_size or defaults["batch_size"]

    mnist = args.dataset == "mnist"
    name = f"spike_times_{args.dataset}_{args.neuron}{args.tag}.json"
    out = ROOT / "benchmarks" / "results" / name
    load_before = os.getloadavg()[0]
    runs = {}
    model = {"neuron": args.neuron, **({"hidden": args.hidden} if args.hidden else {}),
             **({"inputs": "images", "n_inputs": 784, "n_classes": 10} if mnist else {}), **args.model}
    started = time.time()
    for seed in args.seeds:
        run_dir = ROOT / "runs" / f"ttfs-{args.dataset}-{args.neuron}{args.tag}-s{seed}"
        # A resumed run: the epochs it logged before (its metrics.jsonl) stay in the history.
        logged = run_dir / "metrics.jsonl"
        history = [{k: m[k] for k in ("epoch", "test_acc", "val_acc", "train_loss", "train_acc", "epoch_time_s",
                                      "train_time_s", "cpu_time_s") if k in m}
                   for m in map(json.loads, logged.read_text().splitlines() if logged.exists() else [])
                   if "test_acc" in m]

        def record(metrics, seed=seed, history=history):
            history.append({k: metrics[k] for k in ("epoch", "test_acc", "val_acc", "train_loss", "train_acc",
                                                    "epoch_time_s", "train_time_s", "cpu_time_s") if k in metrics})
            history[-1]["load"] = os.getloadavg()[0]
            summarise(seed, history)
            write()

        def summarise(seed, history):
            runs[str(seed)] = {"history": history, "final_test_acc": history[-1]["test_acc"],
                               "best_test_acc": max(h["test_acc"] for h in history),
                               **({"final_val_acc": history[-1]["val_acc"]} if "val_acc" in history[-1] else {})}

        def write():
            finals = [r["final_test_acc"] for r in runs.values() if len(r["history"]) >= args.epochs]
            payload = {
                "benchmark": f"{'latency-coded MNIST' if mnist else 'Yin-Yang'}, 2-layer {args.neuron.upper()} "
                             "network, time-to-first-spike loss on exact first-spike times (memsnn train --method ttfs)",
                "model": model, "config": TTFSConfig.from_dict(model).to_dict(), "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
                "weight_decay": args.weight_decay or 0.0, "augment_shift": args.augment_shift or 0,
                "augment_drop": args.augment_drop or 0.0,
                "seeds": args.seeds, "runs": runs,
                "final_test_acc_mean": statistics.mean(finals) if finals else None,
                "final_test_acc_std": statistics.stdev(finals) if len(finals) > 1 else None,
                "completed_seeds": len(finals), "wall_s": time.time() - started,
                "literature": MNIST_LITERATURE if mnist else LITERATURE,
                "train_subset": args.train_subset, "test_subset": args.test_subset, "validation": args.validation,
                "conditions": registry.run_conditions(
                    data=("MNIST full (60,000 / 10,000), pixels as latency codes" if mnist else
                          "yinyang 5000 train (seed 42) / 1000 test (seed 40), generated by memsnn.data.yin_yang"),
                    devices={"memsnn": f"{jax.device_count()} CPU device(s)"}, seeds=args.seeds, epochs=args.epochs,
                    selection="final epoch (no selection on the test set)", load_before=load_before),
            }
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(".tmp")
            tmp.write_text(json.dumps(payload, indent=2))
            tmp.replace(out)

        train("ttfs", args.dataset, source="full" if mnist else None, train_subset=args.train_subset,
              test_subset=args.test_subset, validation=args.validation, save_every=args.save_every, model=model,
              epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, weight_decay=args.weight_decay,
              augment_shift=args.augment_shift, augment_drop=args.augment_drop, seed=seed,
              out_dir=run_dir, resume=True,
              progress=False, on_epoch_end=record)
        summarise(seed, history)  # also a run that had finished before this call
        write()
        print(f"seed {seed}: final {runs[str(seed)]['final_test_acc']:.4f} best {runs[str(seed)]['best_test_acc']:.4f}",
              flush=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
