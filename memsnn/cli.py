"""The ``memsnn`` command: train, evaluate, simulate.

Run ``memsnn --help`` or ``memsnn train --help`` for the options. Typical use::

    memsnn train --method spiceprop --dataset mnist                      # quick: bundled subset
    memsnn train --method spiceprop --dataset mnist --data full --out runs/mnist
    memsnn train --out runs/mnist --resume                               # continue after a stop
    memsnn evaluate runs/mnist/checkpoint.eqx
    memsnn simulate --amplitude 0.01
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

_DESCRIPTION = """\
memsnn: simulate and train memristive spiking neural networks.

commands:
  train      train a network on MNIST or Fashion-MNIST (writes a checkpoint and a log)
  evaluate   test accuracy of a saved checkpoint
  simulate   simulate one memristive integrate-and-fire (MIF) neuron and print v(t)

Run `memsnn COMMAND --help` for the options of a command.
"""

_TRAIN_EPILOG = """\
examples:
  # A first run (a few minutes): the 4,000-image subset shipped with memsnn, 3 epochs.
  memsnn train --method spiceprop --dataset mnist --epochs 3

  # The paper's setting on the full dataset (downloaded into $MEMSNN_DATA_DIR or
  # ~/.cache/memsnn the first time), 40 epochs, batch 200:
  memsnn train --method spiceprop --dataset mnist --data full --out runs/spiceprop-mnist

  # Interrupted (Ctrl-C, crash, power cut)? The last finished epoch is on disk; continue:
  memsnn train --out runs/spiceprop-mnist --resume

  # A different network: two hidden layers, plain Euler, less memory for the backward pass.
  memsnn train --method spiceprop --dataset fashion-mnist --hidden 256 64 --solver euler \\
      --checkpoint-every 50

  # Surrogate gradients, conv SNN 32C5-AP2-64C5-AP2-FC10 (90.5-90.7 % on Fashion-MNIST; about
  # 7 s per epoch on one H100, about 8 min per epoch on 2 CPU cores):
  memsnn train --method surrogate --dataset fashion-mnist --data full --architecture conv \\
      --conv-channels 32 64 --steps 10 --beta 0.8 --slope 5 --learn-beta --learn-threshold \\
      --output integrator --readout membrane --loss ce_membrane --epochs 15 --lr 5e-3 --batch-size 128

What you get in --out: checkpoint.eqx (the model, optimiser state and all settings, rewritten
atomically after every epoch) and metrics.jsonl (one JSON line per epoch: loss, train and test
accuracy, time, peak memory). `memsnn evaluate OUT/checkpoint.eqx` rebuilds the model from the
checkpoint alone.
"""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _build_parser(method: str = "spiceprop"):
    """The parser; ``train`` gets the options of ``method`` only (methods may share option names)."""
    from .data import DATASETS
    from .training import METHODS

    parser = argparse.ArgumentParser(prog="memsnn", description=_DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true", help="print the memsnn version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    # train ---------------------------------------------------------------------------------
    train = sub.add_parser(
        "train", help="train a network on MNIST or Fashion-MNIST",
        description="Train a memristive spiking network. Progress is shown as a bar with the running "
                    "loss and accuracy; after every epoch the test accuracy is measured and a "
                    "checkpoint is written.",
        epilog=_TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    methods = ", ".join(f"{name} ({m.summary})" for name, m in sorted(METHODS.items()))
    run = train.add_argument_group("what to train")
    run.add_argument("--method", choices=sorted(METHODS), default=None,
                     help=f"training method (default spiceprop): {methods}")
    run.add_argument("--dataset", choices=DATASETS, help="which dataset (required unless --resume)")
    run.add_argument("--data", choices=("bundled", "full"), default=None,
                     help="bundled: the 4,000 train / 1,000 test images shipped with memsnn, no "
                          "download (default); full: the complete 60,000 / 10,000 images, read from "
                          "--data-dir, else $MEMSNN_DATA_DIR, else ~/.cache/memsnn, downloaded and "
                          "checked if missing")
    run.add_argument("--data-dir", metavar="DIR", help="folder holding mnist/ and fashion-mnist/ (with --data full)")
    run.add_argument("--train-subset", type=_positive_int, metavar="N", help="use only the first N training images")
    run.add_argument("--test-subset", type=_positive_int, metavar="N", help="use only the first N test images")

    opt = train.add_argument_group("optimisation")
    sp = METHODS["spiceprop"].defaults
    opt.add_argument("--epochs", type=_positive_int,
                     help=f"number of epochs (default: the method's; spiceprop {sp['epochs']})")
    opt.add_argument("--batch-size", type=_positive_int,
                     help=f"images per step (default: the method's; spiceprop {sp['batch_size']})")
    opt.add_argument("--lr", type=float,
                     help=f"peak learning rate of Adam (default: the method's; spiceprop {sp['lr']:g})")
    opt.add_argument("--schedule", choices=("cosine", "constant", "step"),
                     help=f"learning-rate schedule; cosine decays to 0 over the run (default: the "
                          f"method's; spiceprop {sp['schedule']})")
    opt.add_argument("--weight-decay", type=float,
                     help=f"decoupled weight decay, AdamW (default: the method's; spiceprop {sp['weight_decay']:g})")
    opt.add_argument("--clip-norm", type=float, help="clip the gradient norm to this value (default: off)")
    opt.add_argument("--augment-shift", type=int, metavar="PIXELS",
                     help="data augmentation: shift each training image by up to PIXELS pixels in each "
                          "direction (default 0: off)")
    opt.add_argument("--seed", type=int, help="seed of the initialisation and batch order (default 0); "
                                              "the same seed gives the same result")

    out = train.add_argument_group("output")
    out.add_argument("--out", metavar="DIR",
                     help="folder for checkpoint.eqx and metrics.jsonl (default runs/METHOD-DATASET)")
    out.add_argument("--resume", action="store_true",
                     help="continue the run in --out from its checkpoint, with its settings (--epochs "
                          "and --lr may be changed)")
    out.add_argument("--eval-batch-size", type=_positive_int, help="batch size of the test evaluation")
    out.add_argument("--no-progress", action="store_true", help="no progress bar (one line per epoch instead)")
    others = ", ".join(f"`memsnn train --method {name} --help`" for name in sorted(METHODS) if name != method)
    METHODS[method].add_arguments(train.add_argument_group(
        f"{method} options", f"(other methods have their own: {others})" if others else None))

    # evaluate ------------------------------------------------------------------------------
    ev = sub.add_parser("evaluate", help="test accuracy of a saved checkpoint",
                        description="Rebuild the model from a checkpoint (its stored settings) and "
                                    "measure its accuracy on the test set it was trained for.",
                        epilog="example:\n  memsnn evaluate runs/spiceprop-mnist/checkpoint.eqx --data full",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ev.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint.eqx written by `memsnn train`")
    ev.add_argument("--data", choices=("bundled", "full"), help="test data source (default: as in training)")
    ev.add_argument("--dataset", choices=DATASETS, help="evaluate on another dataset (default: as in training)")
    ev.add_argument("--data-dir", metavar="DIR", help="folder holding mnist/ and fashion-mnist/")
    ev.add_argument("--subset", type=_positive_int, metavar="N", help="only the first N test images")
    ev.add_argument("--batch-size", type=_positive_int, help="evaluation batch size")
    ev.add_argument("--json", action="store_true", help="print the result as JSON")

    # simulate ------------------------------------------------------------------------------
    sim = sub.add_parser("simulate", help="simulate one MIF neuron and print its membrane potential",
                         description="Drive one SPICEprop MIF neuron (docs/mif-neuron.md) with impulses "
                                     "through its alpha synapse and print v(t) in mV.",
                         epilog="example:\n  memsnn simulate --amplitude 0.01 --plot v.png",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    sim.add_argument("--amplitude", type=float, default=0.01,
                     help="impulse amplitude in mA (default 0.01; forward Euler becomes unstable above "
                          "about 0.029 with three impulses)")
    sim.add_argument("--events", type=int, nargs="+", default=[0, 400, 800], metavar="STEP",
                     help="steps at which the impulses arrive (default 0 400 800)")
    sim.add_argument("--steps", type=_positive_int, default=1000, help="number of 10 us steps (default 1000)")
    sim.add_argument("--solver", default="spiceprop", help="spiceprop (default), euler, heun, tsit5 or kvaerno5")
    sim.add_argument("--plot", metavar="FILE", help="also save a plot of v(t) (needs matplotlib)")
    return parser


def _print_epoch(row: dict) -> None:
    test = "n/a" if row["test_acc"] is None else f"{100 * row['test_acc']:.2f}%"
    print(f"epoch {row['epoch']}: train loss {row['train_loss']:.4g}, train accuracy "
          f"{100 * row['train_acc']:.2f}%, test accuracy {test} ({row['epoch_time_s']:.1f} s)", flush=True)


def _train(args) -> int:
    from .training import CHECKPOINT_NAME, TrainingDiverged, get_method, train

    out = args.out
    method = args.method  # resolved by main(): --method, the resumed run's, or spiceprop
    if args.resume:
        if out is None:
            print("memsnn train: --resume needs --out DIR, the folder of the run to continue.", file=sys.stderr)
            return 2
        if not (Path(out) / CHECKPOINT_NAME).exists():
            print(f"memsnn train: no checkpoint in {out} yet; starting a new run there.", file=sys.stderr)
    if args.dataset is None and not (args.resume and out and (Path(out) / CHECKPOINT_NAME).exists()):
        print("memsnn train: say which dataset to train on: --dataset mnist or --dataset fashion-mnist.",
              file=sys.stderr)
        return 2
    out = out or f"runs/{method}-{args.dataset}"
    if (args.data or "bundled") == "bundled" and not args.resume:
        print("memsnn train: using the bundled subset (4,000 training / 1,000 test images); "
              "pass --data full for the complete dataset.", file=sys.stderr)
    spec = get_method(method)
    try:
        result = train(
            method, args.dataset, source=args.data, data_dir=args.data_dir,
            train_subset=args.train_subset, test_subset=args.test_subset,
            model=spec.config_from_args(args), epochs=args.epochs, batch_size=args.batch_size,
            lr=args.lr, schedule=args.schedule, weight_decay=args.weight_decay, clip_norm=args.clip_norm,
            augment_shift=args.augment_shift,
            eval_batch_size=args.eval_batch_size, seed=args.seed, out_dir=out, resume=args.resume,
            progress=not args.no_progress, on_epoch_end=_print_epoch if args.no_progress else None,
        )
    except TrainingDiverged as err:
        print(f"memsnn train: {err}", file=sys.stderr)
        return 1
    except ValueError as err:
        print(f"memsnn train: {err}", file=sys.stderr)
        return 2
    if result.history and not args.no_progress:
        _print_epoch(result.history[-1])
    print(f"checkpoint: {result.checkpoint}\nlog: {Path(out) / 'metrics.jsonl'}\n"
          f"evaluate with: memsnn evaluate {result.checkpoint}")
    return 0


def _evaluate(args) -> int:
    from .training import evaluate_checkpoint

    if not Path(args.checkpoint).is_file():
        print(f"memsnn evaluate: {args.checkpoint} does not exist; give the checkpoint.eqx that "
              "`memsnn train` wrote into its --out folder.", file=sys.stderr)
        return 2
    try:
        result = evaluate_checkpoint(args.checkpoint, source=args.data, dataset=args.dataset,
                                     data_dir=args.data_dir, subset=args.subset, batch_size=args.batch_size)
    except ValueError as err:
        print(f"memsnn evaluate: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"accuracy": result["accuracy"], "n_samples": result["n_samples"],
                          "epoch": result["epoch"], "dataset": result["dataset"], "source": result["source"],
                          "confusion": result["confusion"].tolist()}))
        return 0
    print(f"{args.checkpoint} (epoch {result['epoch']}): test accuracy {100 * result['accuracy']:.2f}% "
          f"on {result['n_samples']} {result['source']} {result['dataset']} test images")
    print("confusion matrix (rows: true class, columns: predicted):")
    for i, row in enumerate(result["confusion"]):
        print(f"  {i}: " + " ".join(f"{c:5d}" for c in row))
    return 0


def _simulate(args) -> int:
    import jax.numpy as jnp
    import numpy as np

    from . import Impulses, simulate
    from .presets import MILLIAMP, MILLIVOLT, SPICEPROP_DT, spiceprop_neuron_network
    from .training.spiceprop import make_integrator

    try:
        solver = make_integrator(args.solver)
        events = tuple(args.events)
        stimulus = Impulses(jnp.full((1, len(events), 1), args.amplitude * MILLIAMP), events)
        trace = simulate(spiceprop_neuron_network(1), stimulus, dt=SPICEPROP_DT, n_steps=args.steps,
                         solver=solver)
    except ValueError as err:
        print(f"memsnn simulate: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        print(f"memsnn simulate: {err}", file=sys.stderr)
        return 1
    v = np.asarray(trace.membrane_potential[0][0, :, 0]) / MILLIVOLT
    print(f"MIF neuron, impulses of {args.amplitude} mA at steps {list(events)}, {args.steps} steps of 10 us:")
    print(f"  peak {v.max():.2f} mV at step {int(v.argmax())}, minimum {v.min():.2f} mV, final {v[-1]:.2f} mV")
    marks = sorted({0, 1, 10, 50, 100, 200, *events, *(e + 50 for e in events), args.steps - 1})
    print("  step  v (mV)")
    for k in (m for m in marks if m < args.steps):
        print(f"  {k:4d}  {v[k]:8.4f}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3))
        ax.plot(np.arange(args.steps) * SPICEPROP_DT * 1e3, v)
        ax.set(xlabel="time (ms)", ylabel="membrane potential (mV)", title="MIF neuron")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"plot: {args.plot}")
    return 0


def _train_method(argv: list[str]) -> str:
    """The method a ``train`` command line is about: --method, else the resumed run's, else spiceprop."""
    from .training import CHECKPOINT_NAME, METHODS, read_checkpoint_header

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--method")
    pre.add_argument("--out")
    pre.add_argument("--resume", action="store_true")
    known, _ = pre.parse_known_args(argv)
    if known.method in METHODS:
        return known.method
    checkpoint = Path(known.out or ".") / CHECKPOINT_NAME
    if known.method is None and known.resume and known.out and checkpoint.is_file():
        with contextlib.suppress(OSError, ValueError, KeyError):
            return read_checkpoint_header(checkpoint)["config"]["method"]
    return "spiceprop"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``memsnn`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    method = _train_method(argv[1:]) if argv[:1] == ["train"] else "spiceprop"
    parser = _build_parser(method)
    args = parser.parse_args(argv)
    if args.command == "train":
        args.method = method
    if args.version:
        from . import __version__

        print(f"memsnn {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    if args.command in ("train", "evaluate"):
        from .training import use_cpu_cores

        # One JAX device per core: each simulates its share of every batch.
        use_cpu_cores()
    return {"train": _train, "evaluate": _evaluate, "simulate": _simulate}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
