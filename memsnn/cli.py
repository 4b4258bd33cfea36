"""The ``memsnn`` command: train, evaluate, simulate.

Run ``memsnn --help`` or ``memsnn train --help`` for the options. Typical use::

    memsnn train --method spiceprop --dataset mnist                      # quick: bundled subset
    memsnn train --method spiceprop --dataset mnist --data full --out runs/mnist
    memsnn train --out runs/mnist --resume                               # continue after a stop
    memsnn evaluate runs/mnist/checkpoint.eqx
    memsnn simulate --amplitude 0.01 --out mif.npz --csv --plot mif.png
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import warnings
from pathlib import Path

_DESCRIPTION = """\
memsnn: simulate and train memristive spiking neural networks.

commands:
  train      train a network on MNIST or Fashion-MNIST (writes a checkpoint and a log)
  evaluate   test accuracy of a saved checkpoint
  simulate   simulate one memristive integrate-and-fire (MIF) neuron and save v(t)

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
  # (--resume alone continues the only run under runs/, or runs/METHOD-DATASET with --method
  # and --dataset). Training into a folder that holds a run needs --resume or --overwrite.

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


_RUNS = Path("runs")  # default parent of run folders: runs/METHOD-DATASET
_INTERRUPTED = 130  # exit status after Ctrl-C (128 + SIGINT), as shells report it
_MAX_ADVISED_SUBSTEPS = 1000  # more explicit sub-steps than this are not advised: the drive is unphysical
_T_READ_MAX = 3.2e9  # s, 100 years: the longest read time of `memsnn evaluate --crossbar`


def _cli_type(convert, **rule):
    from .training import cli_type

    return cli_type(convert, **rule)


_positive_int = _cli_type(int, low=1, integer=True)


def _build_parser(method: str = "spiceprop"):
    """The parser; ``train`` gets the options of ``method`` only (methods may share option names)."""
    from .data import DATASETS
    from .training import METHODS

    # No abbreviated options: a prefix would silently stand for another option (--crossbar for
    # stdp's deprecated --crossbar-preset).
    parser = argparse.ArgumentParser(prog="memsnn", description=_DESCRIPTION, allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true", help="print the memsnn version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    # train ---------------------------------------------------------------------------------
    train = sub.add_parser(
        "train", help="train a network on MNIST or Fashion-MNIST",
        description="Train a memristive spiking network. Progress is shown as a bar with the running "
                    "loss and accuracy; after every epoch the test accuracy is measured and a "
                    "checkpoint is written.",
        epilog=_TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
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
    run.add_argument("--validation", type=_positive_int, metavar="N",
                     help="hold out the last N training images as a validation split (not trained on); its "
                          "accuracy is logged every epoch: choose among runs and epochs on it, never on the test set")
    run.add_argument("--spike-timing", choices=("grid", "exact"), default=None,
                     help="require this spike timing: grid (spikes at grid points; spiceprop, surrogate, ...) or "
                          "exact (event spike times inside the step; ttfs, spikeprop); a method that cannot use it "
                          "is refused with the methods that can (default: the method's own)")

    opt = train.add_argument_group("optimisation")
    sp = METHODS["spiceprop"].defaults
    opt.add_argument("--epochs", type=_positive_int,
                     help=f"number of epochs (default: the method's; spiceprop {sp['epochs']})")
    opt.add_argument("--batch-size", type=_positive_int,
                     help=f"images per step (default: the method's; spiceprop {sp['batch_size']})")
    opt.add_argument("--lr", type=_cli_type(float, low=0, high=1, low_open=True,
                                            hint="the peak learning rate of Adam, typically 1e-4 to 1e-2"),
                     help=f"peak learning rate of Adam, in (0, 1] (default: the method's; spiceprop {sp['lr']:g})")
    opt.add_argument("--schedule", choices=("cosine", "constant", "step"),
                     help=f"learning-rate schedule; cosine decays to 0 over the run (default: the "
                          f"method's; spiceprop {sp['schedule']})")
    opt.add_argument("--weight-decay", type=_cli_type(float, low=0),
                     help=f"decoupled weight decay, AdamW (default: the method's; spiceprop {sp['weight_decay']:g})")
    opt.add_argument("--clip-norm", type=_cli_type(float, low=0, low_open=True,
                                                   hint="leave the option out to turn clipping off"),
                     help="clip the gradient norm to this value, > 0 (default: off)")
    opt.add_argument("--augment-shift", type=_cli_type(int, low=0, high=27, integer=True), metavar="PIXELS",
                     help="data augmentation: shift each training image by up to PIXELS pixels in each "
                          "direction (default 0: off)")
    opt.add_argument("--augment-flip", action="store_true", default=None,
                     help="data augmentation: mirror each training image left to right with probability 1/2 "
                          "(for Fashion-MNIST; not for digits; default off)")
    opt.add_argument("--augment-drop", type=_cli_type(float, low=0, high=1), metavar="RATE",
                     help="data augmentation: set each pixel of a training image to 0 with probability RATE, "
                          "below 1 (input dropout; default 0: off)")
    seeds = opt.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=_cli_type(int, low=0, high=2**32 - 1, integer=True),
                       help="seed of the initialisation and batch order (default 0); the same seed gives the "
                            "same result")
    seeds.add_argument("--seeds", type=_cli_type(int, low=0, high=2**32 - 1, integer=True), nargs="+", metavar="SEED",
                       help="train one model per seed (distinct) in this one run and its one jitted step (an "
                            "ensemble; spiceprop and surrogate): each member is the run with that --seed, and every "
                            "epoch reports each member's accuracy and the mean +- std (docs/training.md)")

    out = train.add_argument_group("output")
    out.add_argument("--out", metavar="DIR",
                     help="folder for checkpoint.eqx and metrics.jsonl (default runs/METHOD-DATASET)")
    out.add_argument("--resume", action="store_true",
                     help="continue the run in --out from its checkpoint, with its settings (--epochs "
                          "and --lr may be changed); without --out: the only run under runs/, or "
                          "runs/METHOD-DATASET")
    out.add_argument("--overwrite", action="store_true",
                     help="replace the run already in --out (without it, training into a folder "
                          "that holds a run stops with an error, so a run is never lost by accident)")
    out.add_argument("--eval-batch-size", type=_positive_int, help="batch size of the test evaluation")
    out.add_argument("--save-every", type=_positive_int, metavar="IMAGES",
                     help="also save the run within an epoch, every IMAGES training images (rounded to whole "
                          "batches; atomic): a stopped run resumes from there to the same numbers (default: "
                          "the method's; stdp 5000, the others at the end of each epoch only)")
    out.add_argument("--no-progress", action="store_true", help="no progress bar (one line per epoch instead)")
    out.add_argument("--cpu-devices", type=_positive_int, metavar="N",
                     help="on a CPU machine, split each batch over N JAX devices (default: one per core, "
                          "each simulating its share of the batch; --method stdp: one device and one XLA "
                          "thread, its learning being sequential)")
    dist = train.add_argument_group(
        "several processes or hosts",
        "Start the same command in every process; each batch is sharded over the devices of all of "
        "them (process 0 writes --out, which must be a folder every process can read). Without "
        "the options below JAX finds the cluster (SLURM, Open MPI) or reads JAX_COORDINATOR_ADDRESS, "
        "JAX_NUM_PROCESSES and JAX_PROCESS_ID.")
    dist.add_argument("--distributed", action="store_true",
                      help="join a multi-process run (jax.distributed) before training")
    dist.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0, the same in every process")
    dist.add_argument("--num-processes", type=_positive_int, metavar="N", help="number of processes of the run")
    dist.add_argument("--process-id", type=_cli_type(int, low=0, integer=True), metavar="I",
                      help="this process's index, 0 to N-1")
    others = ", ".join(f"`memsnn train --method {name} --help`" for name in sorted(METHODS) if name != method)
    METHODS[method].add_arguments(train.add_argument_group(
        f"{method} options", f"(other methods have their own: {others})" if others else None))

    # evaluate ------------------------------------------------------------------------------
    ev = sub.add_parser("evaluate", help="test accuracy of a saved checkpoint",
                        description="Rebuild the model from a checkpoint (its stored settings) and "
                                    "measure its accuracy on the test set it was trained for.",
                        epilog="example:\n  memsnn evaluate runs/spiceprop-mnist/checkpoint.eqx --data full",
                        formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    ev.add_argument("checkpoint", metavar="CHECKPOINT",
                    help="a checkpoint.eqx written by `memsnn train` (or the run folder holding it)")
    ev.add_argument("--data", choices=("bundled", "full"), help="test data source (default: as in training)")
    ev.add_argument("--dataset", choices=DATASETS, help="evaluate on another dataset (default: as in training)")
    ev.add_argument("--data-dir", metavar="DIR", help="folder holding mnist/ and fashion-mnist/")
    ev.add_argument("--subset", type=_positive_int, metavar="N", help="only the first N test images")
    ev.add_argument("--batch-size", type=_positive_int, help="evaluation batch size")
    ev.add_argument("--steps", type=_positive_int, metavar="T",
                    help="simulate T time steps per image instead of the stored number (for a conversion "
                         "run: test the converted SNN at T steps)")
    ev.add_argument("--json", action="store_true", help="print the result as JSON")
    ev.add_argument("--no-progress", action="store_true", help="no progress bar")
    ev.add_argument("--cpu-devices", type=_positive_int, metavar="N",
                    help="on a CPU machine, split each batch over N JAX devices (default: one per core)")
    ev.add_argument("--energy", action="store_true",
                    help="also report the energy per image (nJ), per layer and per component of the readout "
                         "circuit, with NeuroBench SynOps and the 0.9 pJ/AC, 4.6 pJ/MAC proxy (SPICEprop "
                         "networks with MIF neurons; dense surrogate networks: SynOps and proxy only; "
                         "a SPICEprop network trained on crossbars: one chip of its preset, the front end's "
                         "read energy from its nodal solve and its converters, the proxy beside it; "
                         "docs/energy.md)")
    from .crossbar import PRESETS

    ev.add_argument("--crossbar", choices=PRESETS, metavar="PRESET",
                    help="program the trained weights once onto a chip of memristive crossbars with this "
                         f"preset ({', '.join(PRESETS)}) and test it (memsnn.crossbar.deploy)")
    ev.add_argument("--t-read", type=_cli_type(float, low=0, high=_T_READ_MAX,
                                               hint="seconds after programming; 3.2e9 s is 100 years"),
                    metavar="SECONDS", help="with --crossbar: read the chip this long after programming (drift; "
                                            "default 1, at most 3.2e9 = 100 years)")
    ev.add_argument("--drift-compensation", action="store_true", help="with --crossbar: global drift compensation")
    ev.add_argument("--chip", type=_cli_type(int, low=0, high=2**32 - 1, integer=True),
                    help="with --crossbar: seed of the chip's programming noise, faults and read noise (default 0)")

    # simulate ------------------------------------------------------------------------------
    from .training.spiceprop import SOLVERS

    sim = sub.add_parser("simulate", help="simulate one MIF neuron and save its membrane potential",
                         description="Drive one SPICEprop MIF neuron (docs/mif-neuron.md) with impulses "
                                     "through its alpha synapse and save the trace: OUT.npz (arrays), "
                                     "OUT.json (settings and units) and, with --csv, OUT.csv.",
                         epilog="example:\n  memsnn simulate --amplitude 0.01 --out mif.npz --csv --plot v.png\n"
                                "  python -c \"import numpy as np; d = np.load('mif.npz'); "
                                "print(d['time_ms'], d['membrane_potential_mV'])\"",
                         formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    sim.add_argument("--amplitude", type=_cli_type(float), default=0.01,
                     help="impulse amplitude in mA (default 0.01; forward Euler becomes unstable above "
                          "about 0.029 with three impulses)")
    sim.add_argument("--events", type=_cli_type(int, low=0, integer=True), nargs="+", default=[0, 400, 800],
                     metavar="STEP", help="steps at which the impulses arrive (default 0 400 800)")
    sim.add_argument("--steps", type=_positive_int, default=1000, help="number of 10 us steps (default 1000)")
    sim.add_argument("--solver", choices=SOLVERS, default="spiceprop",
                     help="spiceprop (the reference Gauss-Seidel Euler, default), euler, heun, tsit5, or "
                          "kvaerno5 (implicit adaptive: stable for any amplitude)")
    sim.add_argument("--substeps", type=_positive_int, default=1, metavar="K",
                     help="with --solver euler: K explicit sub-steps per 10 us step (stable for larger "
                          "amplitudes; default 1)")
    sim.add_argument("--out", metavar="FILE", default="memsnn-simulate.npz",
                     help="where the trace goes: FILE (.npz) and FILE with .json (default memsnn-simulate.npz)")
    sim.add_argument("--csv", action="store_true", help="also write FILE with .csv (columns time_ms, "
                                                        "membrane_potential_mV, synaptic_current_mA)")
    sim.add_argument("--overwrite", action="store_true", help="replace output files that exist")
    sim.add_argument("--plot", metavar="PNG", help="also save a plot of v(t) (needs matplotlib: "
                                                   "pip install 'memsnn[bench]')")
    return parser


def _percent(row: dict, name: str) -> str:
    """``row[name]`` in %, with `` +- std`` for an ensemble (whose rows hold ``name_std``)."""
    std = row.get(f"{name}_std")
    return f"{100 * row[name]:.2f}%" + ("" if std is None else f" +- {100 * std:.2f}%")


def _print_epoch(row: dict) -> None:
    test = "n/a" if row["test_acc"] is None else _percent(row, "test_acc")
    # A method without a loss (STDP) logs no train_loss.
    loss = f"train loss {row['train_loss']:.4g}, " if "train_loss" in row else ""
    members = row.get("test_acc_members")
    each = "" if members is None else " [members: " + ", ".join(f"{100 * a:.2f}%" for a in members) + "]"
    val = f", validation accuracy {_percent(row, 'val_acc')}" if row.get("val_acc") is not None else ""
    print(f"epoch {row['epoch']}: {loss}train accuracy "
          f"{_percent(row, 'train_acc')}{val}, test accuracy {test}{each} ({row['epoch_time_s']:.1f} s)", flush=True)


def _simulation_problem(err: Exception) -> str | None:
    """What a failed simulation check means, in one clause, or ``None`` if it is not one.

    memsnn.simulate's messages advise Python code; the commands advise their own options instead.
    """
    text = str(err)
    if "unstable" in text:
        return ("the explicit integrator became unstable (its step is too large for the neuron once "
                "the memristors switch on)")
    if "NaN or inf" in text:
        return "the simulation produced NaN or inf"
    if "max_steps" in text:
        return "the adaptive solver used all its steps"
    return None


def _error(command: str, message: str, status: int) -> int:
    print(f"memsnn {command}: {message}", file=sys.stderr)
    return status


def _default_out(method: str, dataset: str) -> Path:
    return _RUNS / f"{method}-{dataset}"


def _runs_to_resume(method: str | None, dataset: str | None) -> list[Path]:
    """Run folders under runs/ with a checkpoint, matching --method / --dataset when given."""
    from .training import CHECKPOINT_NAME

    if method and dataset:
        return [_default_out(method, dataset)]
    found = sorted(p.parent for p in _RUNS.glob(f"*/{CHECKPOINT_NAME}"))
    if method:
        found = [p for p in found if p.name.startswith(f"{method}-")]
    if dataset:
        found = [p for p in found if p.name.endswith(f"-{dataset}")]
    return found


def _unwritable(folder: Path) -> str | None:
    """Why files cannot be written in ``folder`` (or the nearest folder above that exists), or ``None``."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, so the folder cannot be created"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable by you"
    return None


_STEPS_OPTION = "keep fewer time steps for the backward pass with --checkpoint-every K (larger K, less memory)"


def _keeps_time_steps(spec, model_settings: dict) -> bool:
    """Whether ``--checkpoint-every`` changes this run's step memory (``Method.keeps_time_steps``)."""
    return spec.keeps_time_steps is not None and spec.keeps_time_steps(spec.complete_config(model_settings))


def _train(args) -> int:
    from .training import (
        CHECKPOINT_NAME,
        CheckpointError,
        NoCheckpointError,
        OutOfMemory,
        RunExistsError,
        RunLockedError,
        StepTooLarge,
        TrainingDiverged,
        TrainingInterrupted,
        get_method,
        train,
    )

    method = args.method  # resolved by main(): --method, the resumed run's, or spiceprop
    if args.resume and args.overwrite:
        return _error("train", "--resume continues the run in --out and --overwrite replaces it; choose one.", 2)
    if args.dataset is None and not (args.resume and args.out and (Path(args.out) / CHECKPOINT_NAME).exists()):
        return _error("train", "say which dataset to train on: --dataset mnist or --dataset fashion-mnist.", 2)
    out = Path(args.out)  # given, found by --resume, or runs/METHOD-DATASET (see main)
    if out.exists() and not out.is_dir():
        return _error("train", f"--out {out} is a file; give a folder for the checkpoint and the log (it is "
                               "created if missing).", 2)
    unwritable = _unwritable(out)
    if unwritable:
        return _error("train", f"--out {out}: {unwritable}; give a folder you can write with --out DIR.", 2)
    if args.resume and not (out / CHECKPOINT_NAME).exists() and not (out / "metrics.jsonl").exists():
        print(f"memsnn train: no checkpoint in {out} yet; starting a new run there.", file=sys.stderr)
    if (args.data or "bundled") == "bundled" and not args.resume:
        print("memsnn train: using the bundled subset (4,000 training / 1,000 test images); "
              "pass --data full for the complete dataset.", file=sys.stderr)
        if args.data_dir is not None:
            print(f"memsnn train: warning: --data-dir {args.data_dir} is not used: it is read with --data full "
                  "only (the bundled subset ships with memsnn).", file=sys.stderr)
    from .training.runlock import describe

    spec = get_method(method)
    try:
        # A deprecated option (stdp's --array crossbar --crossbar-preset P) is said the CLI's way.
        with warnings.catch_warnings(record=True) as noted:
            warnings.simplefilter("always", FutureWarning)
            model_settings = spec.config_from_args(args)
        for note in noted:
            if issubclass(note.category, FutureWarning):
                print(f"memsnn train: warning: {note.message}", file=sys.stderr)
            else:
                warnings.showwarning(note.message, note.category, note.filename, note.lineno)
        result = train(
            method, args.dataset, source=args.data, data_dir=args.data_dir,
            train_subset=args.train_subset, test_subset=args.test_subset, validation=args.validation,
            model=model_settings, epochs=args.epochs, batch_size=args.batch_size,
            lr=args.lr, schedule=args.schedule, weight_decay=args.weight_decay, clip_norm=args.clip_norm,
            augment_shift=args.augment_shift, augment_flip=args.augment_flip,
            augment_drop=args.augment_drop,
            eval_batch_size=args.eval_batch_size, save_every=args.save_every,
            seed=args.seed, seeds=args.seeds,
            out_dir=out, resume=args.resume, overwrite=args.overwrite,
            progress=not args.no_progress, on_epoch_end=_print_epoch, spike_timing=args.spike_timing,
        )
    except RunLockedError as err:
        return _error("train", f"{out} is in use by another run ({describe(err.holder)}); nothing was changed. "
                               "Wait for that run to finish (or stop it), or train into another folder with --out DIR.", 2)
    except NoCheckpointError as err:
        return _error("train", f"{out} holds a training log ({err.logged} line(s) of metrics.jsonl) but no "
                               "checkpoint, so there is nothing to resume (the run stopped before it saved, or "
                               "the checkpoint was removed); the log was left as it is. Start the run again "
                               f"there with --overwrite instead of --resume (this replaces the log), or train "
                               "into another folder with --out DIR.", 2)
    except RunExistsError as err:
        held = f"a checkpoint after epoch {err.epoch}" if err.epoch is not None else "a training log"
        return _error("train", f"{out} already holds a run ({held}); nothing was changed. Continue it with "
                               f"`memsnn train --resume --out {out}`, train into another folder with "
                               "--out DIR, or replace it with --overwrite.", 2)
    except CheckpointError as err:
        return _error("train", f"cannot resume: {err} To start this run again from scratch: "
                               f"`memsnn train ... --out {out} --overwrite` (without --resume).", 2)
    except StepTooLarge as err:
        steps_option = f" or {_STEPS_OPTION}" if _keeps_time_steps(spec, model_settings) else ""
        smaller = (f"--batch-size {err.fits} (about what fits)" if err.fits > 0
                   else "a smaller --batch-size (not even one image per device fits)")
        return _error("train", f"this run does not fit in memory: one training step at batch size {err.batch_size} "
                               f"needs about {err.need / 2**30:.1f} GiB (XLA's estimate) and about "
                               f"{err.free / 2**30:.1f} GiB are free; nothing was run. To fix: {smaller}{steps_option}.", 2)
    except OutOfMemory as err:
        steps_option = f", or {_STEPS_OPTION}" if _keeps_time_steps(spec, model_settings) else ""
        return _error("train", f"ran out of memory {err.where}at step {err.step} ({err.detail}); use a smaller "
                               f"--batch-size{steps_option}.", 1)
    except TrainingDiverged as err:
        problem = _simulation_problem(err.__cause__) if err.__cause__ is not None else None
        if problem and method == "spiceprop":
            advice = ("keep the drive limited (--drive-limit, default 0.025 mA: below the 0.029 mA per "
                      "impulse where forward Euler fails), or use a smaller --drive-scale")
        else:
            advice = "lower --lr, or clip the gradient with --clip-norm 1"
        where = (f"The checkpoint of epoch {err.saved_epoch} in {out} is untouched; resume from it with "
                 f"`memsnn train --resume --out {out} --lr SMALLER`." if err.saved_epoch > 0
                 else "No epoch had finished, so nothing was saved.")
        return _error("train", f"training diverged at epoch {err.epoch}, step {err.step}: "
                               f"{problem or err.reason}. To fix: {advice}. {where}", 1)
    except TrainingInterrupted as err:
        saved = ("no epoch had finished" if err.saved_epoch == 0 else "epoch 1 is saved" if err.saved_epoch == 1
                 else f"epochs 1-{err.saved_epoch} are saved")
        return _error("train", f"stopped at epoch {err.epoch} ({saved}); resume with: "
                               f"memsnn train --resume --out {out}", _INTERRUPTED)
    except KeyboardInterrupt:
        return _error("train", "stopped before training began; nothing was written.", _INTERRUPTED)
    except ValueError as err:
        return _error("train", str(err), 2)
    from .training.sharding import is_main_process

    if is_main_process():
        print(f"checkpoint: {result.checkpoint}\nlog: {out / 'metrics.jsonl'}\n"
              f"evaluate with: memsnn evaluate {result.checkpoint}")
    return 0


def _evaluate(args) -> int:
    from .training import CHECKPOINT_NAME, evaluate_checkpoint
    from .training.checkpoint import CHECKPOINT_VERSION, checkpoint_version

    if Path(args.checkpoint).is_dir():
        if not (Path(args.checkpoint) / CHECKPOINT_NAME).is_file():
            return _error("evaluate", f"{args.checkpoint} is a folder without a {CHECKPOINT_NAME}; give the checkpoint "
                                      "file that `memsnn train` wrote into its --out folder.", 2)
        args.checkpoint = str(Path(args.checkpoint) / CHECKPOINT_NAME)
    if not Path(args.checkpoint).is_file():
        return _error("evaluate", f"{args.checkpoint} does not exist; give the checkpoint.eqx that "
                                  "`memsnn train` wrote into its --out folder.", 2)
    chip_options = [name for name, given in (("--t-read", args.t_read is not None), ("--chip", args.chip is not None),
                                             ("--drift-compensation", args.drift_compensation)) if given]
    if chip_options and args.crossbar is None:
        return _error("evaluate", f"{' and '.join(chip_options)} describe(s) the chip of --crossbar PRESET; add "
                                  f"--crossbar (e.g. --crossbar realistic) or drop {' and '.join(chip_options)}.", 2)
    if args.energy and args.crossbar is not None:
        return _error("evaluate", "--energy meters the simulated SPICEprop circuit, --crossbar tests a programmed "
                                  "chip; they are separate evaluations: run one command with each.", 2)
    args.t_read = 1.0 if args.t_read is None else args.t_read
    args.chip = 0 if args.chip is None else args.chip
    version = checkpoint_version(args.checkpoint)
    if version is not None and version < CHECKPOINT_VERSION:
        print(f"memsnn evaluate: note: {args.checkpoint} has checkpoint format {version}, written before memsnn "
              "checksummed the settings in its header (only its weights are checked); resuming the run saves it "
              f"in format {CHECKPOINT_VERSION}.", file=sys.stderr)
    seeds = _ensemble_seeds(args.checkpoint)
    if seeds is not None and (args.crossbar is not None or args.energy):
        option = "--crossbar" if args.crossbar is not None else "--energy"
        return _error("evaluate", f"{option} evaluates one network; {args.checkpoint} holds an ensemble of "
                                  f"{len(seeds)} (seeds {' '.join(map(str, seeds))}, trained with --seeds). "
                                  f"Evaluate it without {option} for each member's accuracy, or train the "
                                  "member you want with --seed N.", 2)
    if args.crossbar is not None:
        from .studies.deploy import evaluate_checkpoint_on_crossbar

        try:
            chip = evaluate_checkpoint_on_crossbar(args.checkpoint, preset=args.crossbar, t_read=args.t_read,
                                                   drift_compensation=args.drift_compensation, chip=args.chip,
                                                   source=args.data, subset=args.subset, batch_size=args.batch_size)
        except ValueError as err:
            return _error("evaluate", str(err), 2)
        print(json.dumps(chip) if args.json else
              f"{args.checkpoint} on a {args.crossbar!r} chip (seed {args.chip}), {args.t_read:g} s after "
              f"programming{', drift compensated' if args.drift_compensation else ''}: test accuracy "
              f"{100 * chip['accuracy']:.2f}% on {chip['n_samples']} test images")
        return 0
    try:
        result = evaluate_checkpoint(args.checkpoint, source=args.data, dataset=args.dataset,
                                     data_dir=args.data_dir, subset=args.subset, batch_size=args.batch_size,
                                     model=None if args.steps is None else {"n_steps": args.steps},
                                     progress=not (args.no_progress or args.json))
    except ValueError as err:
        return _error("evaluate", str(err), 2)
    except (RuntimeError, FloatingPointError) as err:  # a failed check inside the simulation, or NaN outputs
        problem = _simulation_problem(err)
        if problem is None:
            raise
        return _error("evaluate", f"{problem} while simulating the test images; the network in "
                                  f"{args.checkpoint} drives its neurons beyond what its integrator handles.", 1)
    energy = None
    if args.energy:
        try:
            energy = _energy_report(args, result)
        except ValueError as err:
            return _error("evaluate", str(err), 2)
    if args.json:
        ensemble = {} if seeds is None else {"accuracy_std": result["accuracy_std"], "seeds": result["seeds"],
                                             "member_accuracy": result["member_accuracy"]}
        print(json.dumps({"accuracy": result["accuracy"], "n_samples": result["n_samples"],
                          "epoch": result["epoch"], "dataset": result["dataset"], "source": result["source"],
                          "confusion": result["confusion"].tolist(), **ensemble,
                          **({} if energy is None else {"energy": energy.to_dict()})}))
        return 0
    if seeds is not None:
        std = result["accuracy_std"]
        print(f"{args.checkpoint} (epoch {result['epoch']}): an ensemble of {len(seeds)}; test accuracy "
              f"{100 * result['accuracy']:.2f}%" + ("" if std is None else f" +- {100 * std:.2f}%")
              + f" (mean +- std over the members) on {result['n_samples']} {result['source']} "
              f"{result['dataset']} test images")
        for seed, accuracy in zip(result["seeds"], result["member_accuracy"]):
            print(f"  seed {seed}: {100 * accuracy:.2f}%")
        return 0
    print(f"{args.checkpoint} (epoch {result['epoch']}{_tested(result)}): test accuracy "
          f"{100 * result['accuracy']:.2f}% on {result['n_samples']} {result['source']} {result['dataset']} test images")
    print("confusion matrix (rows: true class, columns: predicted):")
    for i, row in enumerate(result["confusion"]):
        print(f"  {i}: " + " ".join(f"{c:5d}" for c in row))
    if energy is not None:
        print("\n".join(energy.lines()))
    return 0


def _tested(result: dict) -> str:
    """What was tested, where a checkpoint holds more than one network (a conversion: the ANN or its SNN)."""
    if result.get("method") != "conversion":
        return ""
    steps = result.get("n_steps")
    return (", the trained ANN; --steps T tests the converted SNN" if steps is None
            else f", the converted SNN at {steps} time steps")


def _ensemble_seeds(checkpoint) -> list[int] | None:
    """The seeds of an ensemble checkpoint (``memsnn train --seeds``), ``None`` for one network or an
    unreadable file (which evaluate_checkpoint then names)."""
    from .training import CheckpointError, read_checkpoint_header

    try:
        return read_checkpoint_header(checkpoint).get("config", {}).get("seeds")
    except CheckpointError:
        return None


def _energy_report(args, result: dict):
    """The energy of the checkpoint's network on the test images that ``result`` was measured on."""
    from .data import load_dataset
    from .studies.energy import spiceprop_energy, surrogate_energy
    from .training import load_trained, read_checkpoint_header

    reports = {"spiceprop": spiceprop_energy, "surrogate": surrogate_energy}
    method = read_checkpoint_header(args.checkpoint)["config"]["method"]
    if method not in reports:
        raise ValueError(f"--energy meters SPICEprop networks (their MIF readout circuit) and counts the synaptic "
                         f"operations of surrogate-gradient networks; {args.checkpoint} holds a {method} network. "
                         "Evaluate it without --energy.")
    # The network evaluate_checkpoint tested (with --steps, at that many steps).
    model, header = load_trained(args.checkpoint, None if args.steps is None else {"n_steps": args.steps})
    images, labels = load_dataset(result["dataset"], "test", source=result["source"], data_dir=args.data_dir,
                                  subset=args.subset)
    preset = header["config"]["model"].get("crossbar")
    if method == "spiceprop" and preset is not None:
        from .crossbar.deploy import on_crossbar

        # The chip its preset describes, wires included (hardware-aware training may leave them out
        # of its forward pass): programmed once, read once per 1,000 images, as the deployment is.
        model = on_crossbar(model, preset, w_max=header["config"]["model"].get("crossbar_w_max"))
        print(f"memsnn evaluate: energy of one {preset!r} chip (programming key 100, read keys fold_in(key(0), i)), "
              "the front end read from its circuit", file=sys.stderr)
        return reports[method](model, images, labels, batch_size=1000)
    return reports[method](model, images, labels)


def _simulate_outputs(args) -> tuple[Path, Path, Path | None]:
    npz = Path(args.out)
    if npz.suffix != ".npz":
        npz = npz.with_name(npz.name + ".npz")
    return npz, npz.with_suffix(".json"), npz.with_suffix(".csv") if args.csv else None


def _simulate(args) -> int:
    if Path(args.out).is_dir():
        return _error("simulate", f"--out {args.out} is a folder; give a file name for the trace, e.g. --out "
                                  f"{Path(args.out) / 'trace.npz'}.", 2)
    outputs = [p for p in _simulate_outputs(args) if p is not None]
    if args.plot:
        outputs.append(Path(args.plot))
    existing = [str(p) for p in outputs if p.exists()]
    if existing and not args.overwrite:
        return _error("simulate", f"{', '.join(existing)} already exist(s); choose another --out (or --plot "
                                  "file), or pass --overwrite to replace.", 2)
    if args.plot:
        try:
            import matplotlib
        except ImportError:
            return _error("simulate", "--plot needs matplotlib, which is not installed: "
                                      "pip install 'memsnn[bench]' (or pip install matplotlib).", 2)
    late = [step for step in args.events if step >= args.steps]
    if late:
        return _error("simulate", f"--events {' '.join(map(str, late))} lie(s) beyond the last step of --steps "
                                  f"{args.steps} (steps 0 to {args.steps - 1}); give more --steps or earlier --events.", 2)
    if args.substeps > 1 and args.solver != "euler":
        return _error("simulate", f"--substeps applies to --solver euler, not {args.solver}.", 2)
    for option, path in (("--out", Path(args.out)), ("--plot", Path(args.plot) if args.plot else None)):
        if path is not None and not path.parent.is_dir():
            return _error("simulate", f"the folder {path.parent} of {option} does not exist; create it first or "
                                      f"give another {option}.", 2)

    import jax.numpy as jnp
    import numpy as np

    from . import Euler, Impulses, __version__, simulate
    from .presets import MILLIAMP, MILLIVOLT, SPICEPROP_DT, spiceprop_neuron_network
    from .training.spiceprop import make_integrator

    events = tuple(args.events)
    try:
        stimulus = Impulses(jnp.full((1, len(events), 1), args.amplitude * MILLIAMP), events)
        trace = simulate(spiceprop_neuron_network(1), stimulus, dt=SPICEPROP_DT, n_steps=args.steps,
                         solver=Euler(substeps=args.substeps) if args.substeps > 1 else make_integrator(args.solver),
                         record=("membrane_potential", "synaptic_current"))
        v_mv = np.asarray(trace.membrane_potential[0][0, :, 0]) / MILLIVOLT
        i_ma = np.asarray(trace.synaptic_current[0][0, :, 0]) / MILLIAMP
    except ValueError as err:
        return _error("simulate", str(err), 2)
    except RuntimeError as err:  # a failed check inside the simulation (equinox / XLA runtime errors)
        problem = _simulation_problem(err)
        if problem is None:
            raise
        # Explicit Euler is stable while (dt / K) * decay rate < 2; the MIF's decay rate grows
        # with the drive, and about 0.029 mA per impulse is the limit of K = 1.
        substeps = max(2 * math.ceil(abs(args.amplitude) / 0.029), 2 * args.substeps)
        if args.solver in ("tsit5", "kvaerno5") or substeps > _MAX_ADVISED_SUBSTEPS:
            # An adaptive solver already takes the steps it needs; sub-steps are no remedy, and past
            # some thousands of them the drive is far outside what the neuron models.
            return _error("simulate", f"{problem} with --solver {args.solver} at --amplitude {args.amplitude} mA: "
                                      "the drive is far beyond the MIF neuron's range (its memristors switch fully "
                                      "at about 0.01-0.03 mA per impulse). To fix: a smaller --amplitude.", 1)
        return _error("simulate", f"{problem} with --solver {args.solver} at --amplitude {args.amplitude} mA. "
                                  f"To fix: sub-steps (e.g. --solver euler --substeps {substeps}), "
                                  "or a smaller --amplitude.", 1)
    time_ms = np.arange(1, args.steps + 1) * SPICEPROP_DT * 1e3
    npz, meta, csv = _simulate_outputs(args)
    np.savez(npz, time_ms=time_ms, membrane_potential_mV=v_mv, synaptic_current_mA=i_ma)
    metadata = {
        "what": "one SPICEprop MIF neuron (memsnn.presets.spiceprop_neuron_network) driven through its "
                "alpha synapse by impulses",
        "memsnn_version": __version__,
        "amplitude_mA": args.amplitude, "event_steps": list(events), "n_steps": args.steps,
        "dt_s": SPICEPROP_DT, "solver": args.solver, "substeps": args.substeps,
        "arrays": {"time_ms": "time at the end of each step (ms)",
                   "membrane_potential_mV": "membrane potential after each step (mV)",
                   "synaptic_current_mA": "synaptic current after each step (mA)"},
        "files": {"npz": npz.name, "csv": csv.name if csv else None},
    }
    meta.write_text(json.dumps(metadata, indent=2) + "\n")
    if csv is not None:
        np.savetxt(csv, np.column_stack([time_ms, v_mv, i_ma]), delimiter=",", fmt="%.9g",
                   header="time_ms,membrane_potential_mV,synaptic_current_mA", comments="")
    print(f"MIF neuron, impulses of {args.amplitude} mA at steps {list(events)}, {args.steps} steps of 10 us "
          f"({args.solver}): peak {v_mv.max():.2f} mV at step {int(v_mv.argmax())}, minimum {v_mv.min():.2f} mV, "
          f"final {v_mv[-1]:.2f} mV")
    print(f"trace: {npz} (arrays), {meta} (settings, units)" + (f", {csv}" if csv else ""))
    if args.plot:
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3))
        ax.plot(time_ms, v_mv)
        ax.set(xlabel="time (ms)", ylabel="membrane potential (mV)", title="MIF neuron")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        plt.close(fig)
        print(f"plot: {args.plot}")
    return 0


def _train_target(argv: list[str]) -> tuple[str, str | None, int | None, str | None]:
    """What a ``train`` command line is about, before the full parse (which depends on the method).

    Returns ``(method, out, batch_size, error)``: the method (--method, else the resumed run's, else
    spiceprop), the run folder (--out; with --resume alone, the run found under runs/), the batch
    size when known (for the device split), and an error message or ``None``.
    """
    from .training import CHECKPOINT_NAME, METHODS, read_checkpoint_header

    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--method")
    pre.add_argument("--dataset")
    pre.add_argument("--out")
    pre.add_argument("--resume", action="store_true")
    pre.add_argument("--batch-size")
    pre.add_argument("-h", "--help", action="store_true")
    known, _ = pre.parse_known_args(argv)
    method = known.method if known.method in METHODS else None
    out, error = known.out, None
    if known.resume and out is None and not known.help:
        found = _runs_to_resume(method, known.dataset)
        if len(found) == 1:
            out = str(found[0])
            print(f"memsnn train: resuming {out}", file=sys.stderr)
        elif not found:
            error = (f"--resume without --out: no run with a checkpoint under {_RUNS}/ "
                     f"{'matches' if method or known.dataset else 'was found'}; give the run's folder "
                     "with --out DIR.")
        else:
            error = (f"--resume without --out: several runs under {_RUNS}/ ({', '.join(p.name for p in found)}); "
                     "choose one with --out DIR (or narrow with --method and --dataset).")
    header = None
    if known.resume and out is not None and (Path(out) / CHECKPOINT_NAME).is_file():
        with contextlib.suppress(ValueError):
            header = read_checkpoint_header(Path(out) / CHECKPOINT_NAME)
    if method is None:
        stored = (header or {}).get("config", {}).get("method")
        method = stored if known.method is None and stored in METHODS else "spiceprop"
    if out is None and known.dataset and not known.help:
        out = str(_default_out(method, known.dataset))
    batch = None
    with contextlib.suppress(TypeError, ValueError):
        batch = int(known.batch_size or (header or {}).get("config", {}).get("batch_size")
                    or METHODS[method].defaults["batch_size"])
    return method, out, batch, error


def _elsewhere(unknown: list[str], method: str) -> str:
    """For options of ``train`` that ``method`` does not have: which methods have them, and what to do."""
    from .training import METHODS

    notes = []
    for option in dict.fromkeys(u.split("=")[0] for u in unknown if u.startswith("--")):
        owners = []
        for name in sorted(METHODS):
            if name != method:
                parser = _build_parser(name)
                train = parser._subparsers._group_actions[0].choices["train"]
                if option in train._option_string_actions:
                    owners.append(name)
        if owners:
            notes.append(f"{option} is an option of --method {', '.join(owners)}, not of {method}")
    if not notes:
        return f" (see `memsnn train --method {method} --help`)"
    return "; " + "; ".join(notes) + f" (its options: `memsnn train --method {method} --help`)"


def _join(args, batch: int | None, cores: int) -> int:
    """``memsnn train --distributed``: join the other processes; 0, or the exit status of an error."""
    if not args.distributed:
        return _error("train", "--coordinator, --num-processes and --process-id belong to a multi-process "
                               "run: add --distributed.", 2)
    from .training.sharding import initialize_distributed

    try:
        process, count = initialize_distributed(args.coordinator, args.num_processes, args.process_id,
                                                cpu_devices=cores)
    except ValueError as err:
        return _error("train", str(err), 2)
    import jax

    n = jax.device_count()
    if batch is not None and batch % n:
        return _error("train", f"the batch size {batch} does not split evenly over the {n} devices of the "
                               f"{count} processes; use a multiple of {n} (--batch-size {-(-batch // n) * n}).", 2)
    print(f"memsnn train: process {process} of {count}, {n} devices in all ({jax.local_device_count()} here)",
          file=sys.stderr)
    return 0


def _cpu_devices(args) -> tuple[int, int | None]:
    """``(devices, threads)`` on a CPU for ``train`` / ``evaluate``: ``--cpu-devices``, else the
    trained method's :attr:`~memsnn.training.Method.cpu_cores` (devices and XLA threads; Diehl &
    Cook's sequential learning: 1), else one device per core (every batch-parallel method's step
    gains from it: ``benchmarks/scaling.py --devices 1 2``, ``results/scaling_cpu_idle*.json``)
    with XLA's default threads (``None``)."""
    if args.cpu_devices:
        return args.cpu_devices, None
    if args.command == "train":
        from .training import get_method

        cores = get_method(args.method).cpu_cores
        if cores is not None:
            return cores, cores
    return os.cpu_count() or 1, None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``memsnn`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    method, out, batch, error = _train_target(argv[1:]) if argv[:1] == ["train"] else ("spiceprop", None, None, None)
    parser = _build_parser(method)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        command = f"memsnn {args.command}" if args.command else "memsnn"
        hint = _elsewhere(unknown, method) if args.command == "train" else ""
        parser.exit(2, f"{command}: error: unrecognized arguments: {' '.join(unknown)}{hint}\n")
    if args.version:
        from . import __version__

        print(f"memsnn {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "train":
        if error is not None:
            return _error("train", error, 2)
        args.method, args.out = method, out
    # How many JAX devices a CPU machine shows (each simulating its share of every batch): a
    # process-wide JAX setting, so the command (not the library) makes it, before the first JAX
    # computation; one device per core unless --cpu-devices or the method (its cpu_cores: stdp's
    # sequential learning takes one device and one XLA thread) says otherwise.
    from .training.sharding import largest_divisor, use_cpu_cores

    cores, threads = _cpu_devices(args) if args.command in ("train", "evaluate") else (1, None)
    if args.command == "train" and (args.distributed or args.coordinator or args.num_processes
                                    or args.process_id is not None):
        status = _join(args, batch, cores)
        if status:
            return status
    elif args.command == "train" and batch is not None and largest_divisor(batch, cores) < cores:
        n = largest_divisor(batch, cores)
        print(f"memsnn train: the batch size {batch} splits evenly over {n} of the {cores} CPU devices; "
              f"using {n} (a batch size that is a multiple of {cores} uses them all).", file=sys.stderr)
        use_cpu_cores(n, threads=threads)
    elif args.command in ("train", "evaluate"):
        use_cpu_cores(cores, threads=threads)
    try:
        return {"train": _train, "evaluate": _evaluate, "simulate": _simulate}[args.command](args)
    except KeyboardInterrupt:  # Ctrl-C outside a training loop (which says how to resume)
        return _error(args.command, "stopped.", _INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
