"""Fully memristive SPICEprop on MNIST: hardware-aware training, deployment, ablation, accuracy over time.

The network: 784-100-10 crossbars (the front end's two dense layers, ReLU between them) driving 10
MIF neurons (issue 11, figure 3). Stages, each resumable and each writing
``benchmarks/results/crossbar_training.json`` (the whole table so far) when it ends:

``ideal``
    SPICEprop with ideal weights (``memsnn train --method spiceprop``), ``--ideal-epochs``.
``hwa``
    Hardware-aware training on the ``--preset`` crossbars (default ``"realistic"``: 16 levels,
    programming noise, 2 % read noise, 1 % stuck-at programmed fault-aware, 1 Ohm wires),
    starting from the ideal weights (fine-tuning, as aihwkit recommends): every step programs the
    crossbars afresh (new programming noise and faults, the faults compensated by their partner
    devices as the deployed chip does; one draw of read noise per batch); the gradient flows
    through the non-idealities. The wires' IR drop is left out of the training forward pass
    unless ``--hwa-ir-drop`` (its exact solve is costly on 2 shared cores); the deployment and
    the ablation include it. ``--hwa-epochs`` epochs, cosine schedule from ``--hwa-lr``,
    ``--hwa-augment-shift`` pixels of random translation; the run is ``--run-dir/--hwa-name``.
``select``
    Model selection without the test set: each fine-tuning run of ``--candidates`` on ``--chips``
    chips (programming keys 100 + ``--first-chip`` + c: other chips than the figure's), read like
    the deployment, on the validation images (``--validation N``: the last N training images,
    held out of the ideal and the hardware-aware training alike); the best mean is chosen
    (JSON ``selection``).
``deploy``
    The figure: the ideal and the hardware-aware models on ``--chips`` chips of the preset (keys
    100, 101, ...), wires included, on the full test set (``--result-key``: its JSON key). Each chip is programmed once by the
    deployment path (``memsnn.crossbar.deploy.program``) and read batch by batch: every
    ``--read-batch`` test images are one read (a read-noise draw), the wires solved exactly for
    it (``memsnn.crossbar.deploy.one_read``: each tile's ``ir_drop_matrix``).
``ablation``
    The same evaluation with each non-ideality of the preset alone and all together, stuck-at
    faults with the plain and the fault-aware mapping, for the ideal-trained network (no
    hardware-aware training) and the hardware-aware one.
``ir-drop``
    One chip with and without its wires, exactly, without read noise.
``drift``
    Accuracy 1 s, 1 h, 1 day and 1 year after programming on the ``"pcm"`` preset (aihwkit's PCM
    drift, programming and read noise), with and without global drift compensation.
``energy``
    Energy per test image of the ``--hwa-name`` network on one chip (the deployment's chip
    ``--first-chip``), the front end read from its circuit (docs/energy.md, section 5):
    ``benchmarks/results/crossbar_energy.json``.

The figure with selection on validation (issue 25)::

    B="python benchmarks/crossbar_training.py --ideal-name ideal-val5000 --validation 5000 --resume"
    $B --stage ideal
    $B --stage hwa --hwa-name hwa-shift1-val5000 --hwa-epochs 15 --hwa-lr 1e-3 --hwa-augment-shift 1
    $B --stage hwa --hwa-name hwa-val5000 --hwa-epochs 8 --hwa-lr 1e-3
    $B --stage select --candidates hwa-shift1-val5000,hwa-val5000 --chips 5 --first-chip 10
    $B --stage deploy --hwa-name CHOSEN --chips 5 --only-hwa --result-key deploy_validated
    $B --stage energy --hwa-name CHOSEN

    MEMSNN_DATA_DIR=/path/to/data python benchmarks/crossbar_training.py                 # all stages
    MEMSNN_DATA_DIR=/path/to/data python benchmarks/crossbar_training.py --stage hwa --resume
    MEMSNN_DATA_DIR=/path/to/data python benchmarks/crossbar_training.py --stage deploy --chips 5

Timings are of a shared 2-core machine: see the load averages in the JSON.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
OUT = RESULTS / "crossbar_training.json"
PAPER = 0.9758  # the paper's ideal-weight network (Zhou et al. 2022)
TARGET = 0.976
W_MAX = 0.3  # SpicepropConfig.crossbar_w_max: the weight mapped to a device's full range


def _write(payload: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, OUT)


def _load() -> dict:
    return json.loads(OUT.read_text()) if OUT.exists() else {}


def _update(key: str, value) -> None:
    payload = _load()
    payload.update({key: value, "paper_ideal_test_acc": PAPER, "target_test_acc": TARGET})
    _write(payload)


def stage_ideal(args) -> None:
    from memsnn.training import train

    history = []

    def report(row):
        history.append({**row, "load_average_1min": os.getloadavg()[0]})
        val = f"validation {100 * row['val_acc']:.2f}%, " if "val_acc" in row else ""
        print(f"ideal epoch {row['epoch']}: {val}test {100 * row['test_acc']:.2f}% ({row['epoch_time_s']:.0f} s, "
              f"load {os.getloadavg()[0]:.1f})", flush=True)

    train("spiceprop", "mnist", source="full", epochs=args.ideal_epochs, out_dir=args.run_dir / args.ideal_name,
          validation=args.validation or None, resume=args.resume, progress=False, on_epoch_end=report)
    _update(args.ideal_name, _history(args.run_dir / args.ideal_name))


def _history(run: Path) -> dict:
    from memsnn.training import read_checkpoint_header

    header = read_checkpoint_header(run / "checkpoint.eqx")
    rows = header["history"]
    return {"run_dir": str(run), "epochs_done": len(rows), "config": header["config"],
            "final_test_acc": rows[-1]["test_acc"], "best_test_acc": max(r["test_acc"] for r in rows),
            "wall_time_s": sum(r["epoch_time_s"] for r in rows), "history": rows}


def stage_hwa(args) -> None:
    """Fine-tune the ideal network on the preset's crossbars (fit with the method's pieces)."""
    import equinox as eqx
    import jax

    from memsnn import __version__
    from memsnn.crossbar.deploy import on_crossbar
    from memsnn.data import load_dataset
    from memsnn.training import GradientLearner, fit, load_trained, make_optimizer
    from memsnn.training.augment import random_shift
    from memsnn.training.methods import get_method

    spec = get_method("spiceprop")
    ideal, header = load_trained(args.run_dir / args.ideal_name / "checkpoint.eqx")
    model_config = spec.complete_config({**header["config"]["model"], "crossbar": args.preset,
                                         "crossbar_ir_drop": args.hwa_ir_drop})
    model = spec.build(model_config, key=jax.random.key(0))
    wires = {} if args.hwa_ir_drop else {"wires": None}
    front_end = on_crossbar(ideal.front_end, args.preset, w_max=model_config["crossbar_w_max"], **wires)
    model = eqx.tree_at(lambda m: m.front_end, model, front_end)
    train_data = load_dataset("mnist", "train", source="full")
    test_data = load_dataset("mnist", "test", source="full")
    if args.train_subset:
        train_data = tuple(a[: args.train_subset] for a in train_data)
    # The same split as the ideal run's (train(validation=N): the last N training images).
    val_data, train_data = _split_validation(train_data, args.validation)
    run = args.run_dir / args.hwa_name
    steps = args.hwa_epochs * (len(train_data[1]) // args.batch_size)
    optimizer = make_optimizer(args.hwa_lr, total_steps=steps, schedule="cosine")
    learner = GradientLearner(spec.loss, spec.predict, optimizer, spec.trainable(model))
    # The header holds what `memsnn evaluate` needs to rebuild the model (method, model config).
    config = {"method": "spiceprop", "model": model_config,
              "data": {"dataset": "mnist", "source": "full", "train_subset": args.train_subset, "test_subset": None,
                       "validation": args.validation or None},
              "epochs": args.hwa_epochs, "batch_size": args.batch_size,
              "optimizer": {"lr": args.hwa_lr, "schedule": "cosine", "weight_decay": 0.0, "clip_norm": None},
              "augment_shift": args.hwa_augment_shift, "eval_batch_size": args.eval_batch_size, "seed": 0,
              "memsnn_version": __version__, "fine_tuned_from": str(args.run_dir / args.ideal_name)}

    def report(row):
        val = f"validation {100 * row['val_acc']:.2f}%, " if "val_acc" in row else ""
        print(f"hwa epoch {row['epoch']}: train {100 * row['train_acc']:.2f}%, {val}test {100 * row['test_acc']:.2f}% "
              f"({row['epoch_time_s']:.0f} s, load {os.getloadavg()[0]:.1f})", flush=True)
        _update(args.hwa_name, {**_history(run), "preset": args.preset})

    shift = args.hwa_augment_shift
    augment = functools.partial(random_shift, max_shift=shift) if shift else None
    fit(model, learner, train_data, test_data, epochs=args.hwa_epochs, batch_size=args.batch_size,
        out_dir=run, resume=args.resume, config=config, eval_batch_size=args.eval_batch_size,
        progress=not args.no_progress, on_epoch_end=report, augment=augment, val_data=val_data)


def _split_validation(data, n: int):
    """``(validation, rest)``: the last ``n`` samples held out (``(None, data)`` for ``n = 0``)."""
    if not n:
        return None, data
    if not 0 < n < len(data[1]):
        raise ValueError(f"--validation {n} must be a positive number of training images below {len(data[1])}.")
    return tuple(a[-n:] for a in data), tuple(a[:-n] for a in data)


def _variants(preset: str) -> dict:
    """The "realistic" preset's non-idealities one at a time, and all together: overrides of its pieces."""
    from memsnn.crossbar import FiniteLevels, ProgrammingNoise, ReadNoise, StuckAt, chain

    if preset != "realistic":
        raise ValueError("the ablation is written for the 'realistic' preset")
    plain = chain(FiniteLevels(16), ProgrammingNoise(0.01), StuckAt(0.005, 0.005), ReadNoise(0.02))
    return {
        # The crossbar's own limits, no device non-ideality: weights saturate at w_max, the DAC
        # clips inputs to [0, x_max].
        "mapping only (w_max, DAC range)": dict(nonideality=chain(), wires=None),
        "16 levels": dict(nonideality=chain(FiniteLevels(16)), wires=None),
        "programming noise 1 %": dict(nonideality=chain(ProgrammingNoise(0.01)), wires=None),
        "stuck-at 1 %, plain mapping": dict(nonideality=chain(StuckAt(0.005, 0.005)), wires=None),
        "stuck-at 1 %, fault-aware": dict(nonideality=chain(StuckAt(0.005, 0.005, fault_aware=True)), wires=None),
        "read noise 2 %": dict(nonideality=chain(ReadNoise(0.02)), wires=None),
        "1 Ohm wires (IR drop)": dict(nonideality=chain()),
        "all but the wires, plain mapping": dict(nonideality=plain, wires=None),
        "all but the wires": dict(wires=None),
        "all, plain mapping": dict(nonideality=plain),
        "all (realistic)": dict(),
    }


def _models(args) -> dict:
    from memsnn.training import load_trained

    models = {"ideal training": load_trained(args.run_dir / args.ideal_name / "checkpoint.eqx")[0]}
    if (args.run_dir / args.hwa_name / "checkpoint.eqx").exists():
        models["hardware-aware training"] = load_trained(args.run_dir / args.hwa_name / "checkpoint.eqx")[0]
    return models


class _Chips:
    """Test accuracy of chips programmed by the deployment path, read by read.

    A chip is ``program(on_crossbar(model, preset, ...), key=key(100 + chip))``: programmed once
    (its programming noise and faults fixed; fault-aware where its StuckAt says so). Each batch of
    ``read_batch`` test images is one read of it: :func:`memsnn.crossbar.deploy.one_read` draws
    that read's noise (key ``fold_in(key(chip), batch)``) and replaces each tile with wires by its
    exact linear map (``ir_drop_matrix``), so the wires are solved exactly once per read instead of
    per image. One compiled predict serves every chip and variant of a model (frozen, they have the
    same structure).
    """

    def __init__(self, args, images, labels):
        self.args, self.images, self.labels = args, images, labels
        self.predicts = {}  # one compiled predict per model structure (the ideal and the HWA configs differ)

    def accuracy(self, model, overrides: dict, chip: int) -> float:
        import jax

        from memsnn.crossbar.deploy import on_crossbar, one_read, program
        from memsnn.training import evaluate
        from memsnn.training.sharding import data_mesh
        from memsnn.training.loop import make_predict
        from memsnn.training.spiceprop import spiceprop_predict

        programmed = program(on_crossbar(model, self.args.preset, w_max=W_MAX, **overrides),
                             key=jax.random.key(100 + chip))
        n, step, correct = len(self.labels), self.args.read_batch, 0.0
        for i, start in enumerate(range(0, n, step)):
            frozen = one_read(programmed, key=jax.random.fold_in(jax.random.key(chip), i))
            structure = jax.tree.structure(frozen)
            if structure not in self.predicts:
                self.predicts[structure] = make_predict(spiceprop_predict, frozen, data_mesh())
            stop = min(start + step, n)
            acc, _ = evaluate(spiceprop_predict, frozen, self.images[start:stop], self.labels[start:stop],
                              batch_size=self.args.eval_batch_size, predict=self.predicts[structure])
            correct += acc * (stop - start)
        return correct / n


def _test_data(args):
    from memsnn.data import load_dataset

    images, labels = load_dataset("mnist", "test", source="full")
    if args.test_subset:
        images, labels = images[: args.test_subset], labels[: args.test_subset]
    return images, labels


def stage_ablation(args) -> None:
    import numpy as np

    from memsnn.crossbar.deploy import as_dense
    from memsnn.training import evaluate
    from memsnn.training.spiceprop import spiceprop_predict

    images, labels = _test_data(args)
    chips = _Chips(args, images, labels)
    # Rows measured before (another subset of the variants) are kept, unless measured again now.
    previous = _load().get("ablation", {})
    rows = previous.get("rows", []) if previous.get("n_test") == len(labels) else []
    for training, model in _models(args).items():
        ideal_acc, _ = evaluate(spiceprop_predict, as_dense(model), images, labels, batch_size=args.eval_batch_size)
        _replace(rows, {"training": training, "nonideality": "none (ideal weights)", "accuracy": ideal_acc, "chips": 0})
        for name, overrides in _variants(args.preset).items():
            if args.only_no_wires and "wires" not in overrides:
                continue
            if args.only_wires and "wires" in overrides:
                continue
            accs = []
            for chip in range(args.chips):
                started = time.perf_counter()
                accs.append(chips.accuracy(model, overrides, chip))
                print(f"{training:>24} | {name:<34} chip {chip}: {100 * accs[-1]:.2f}% "
                      f"({time.perf_counter() - started:.0f} s)", flush=True)
            _replace(rows, {"training": training, "nonideality": name, "accuracy": float(np.mean(accs)),
                            "accuracy_per_chip": accs, "chips": len(accs)})
            _update("ablation", {"preset": args.preset, "n_test": len(labels), "rows": rows,
                                 "hwa_run": str(args.run_dir / args.hwa_name), "read_batch": args.read_batch,
                                 "what": " ".join(_Chips.__doc__.split("\n\n")[1].split())})
    _print_ablation(rows)


def _validation_data(args):
    from memsnn.data import load_dataset

    if not args.validation:
        raise ValueError("--stage select deploys the candidates on the validation split: give --validation N "
                         "(the same N the runs were trained with).")
    data = load_dataset("mnist", "train", source="full")
    if args.train_subset:
        data = tuple(a[: args.train_subset] for a in data)
    return _split_validation(data, args.validation)[0]


def stage_select(args) -> None:
    """Model selection without the test set: each run of ``--candidates`` on ``--chips`` chips
    (keys from ``--first-chip``), read like the deployment, on the validation images; the one with
    the highest mean validation accuracy is chosen (JSON ``selection``)."""
    import numpy as np

    from memsnn.training import load_trained

    images, labels = _validation_data(args)
    chips = _Chips(args, images, labels)
    rows = {}
    for name in args.candidates.split(","):
        model = load_trained(args.run_dir / name / "checkpoint.eqx")[0]
        accs = []
        for c in range(args.chips):
            started = time.perf_counter()
            accs.append(chips.accuracy(model, {}, args.first_chip + c))
            print(f"{name:>24} | validation, realistic chip {args.first_chip + c}: {100 * accs[-1]:.2f}% "
                  f"({time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.1f})", flush=True)
        rows[name] = {"mean": float(np.mean(accs)), "per_chip": accs, "run_dir": str(args.run_dir / name)}
    chosen = max(rows, key=lambda name: rows[name]["mean"])
    print(f"chosen on validation: {chosen}", flush=True)
    _update("selection", {"chosen": chosen, "candidates": rows, "n_validation": len(labels),
                          "validation": f"the last {args.validation} of the 60,000 MNIST training images (held out "
                                        "of the ideal and the hardware-aware training)",
                          "chips": args.chips, "chip_keys": [100 + args.first_chip + c for c in range(args.chips)],
                          "read_batch": args.read_batch, "preset": args.preset,
                          "load_average": list(os.getloadavg())})


def stage_deploy(args) -> None:
    """The figure: the hardware-aware model on ``--chips`` realistic chips (wires included), the
    full test set, each chip programmed once by the deployment path and read by read.

    The JSON entry (``--result-key``) is written after every chip, so an interrupted run keeps the
    chips it finished; with ``--resume`` a run with the same setup (preset, test images, chip keys,
    read batch, network) goes on from the first chip not yet measured."""
    import numpy as np

    images, labels = _test_data(args)
    chips = _Chips(args, images, labels)
    models = _models(args)
    if args.only_hwa:
        models.pop("ideal training")
    setup = {"preset": args.preset, "n_test": len(labels), "chips": args.chips,
             "chip_keys": [100 + args.first_chip + c for c in range(args.chips)], "read_batch": args.read_batch,
             "hwa_run": str(args.run_dir / args.hwa_name)}
    previous = _load().get(args.result_key, {})
    resumed = args.resume and all(previous.get(k) == v for k, v in setup.items())
    results = previous.get("accuracy", {}) if resumed else {}
    timings = previous.get("chip_timings", {}) if resumed else {}
    load_before = os.getloadavg()[0]
    for training, model in models.items():
        accs = list(results.get(training, {}).get("per_chip", []))
        rows = timings.setdefault(training, [])
        for chip in range(len(accs), args.chips):
            started, load_start = time.perf_counter(), os.getloadavg()[0]
            accs.append(chips.accuracy(model, {}, args.first_chip + chip))
            wall = time.perf_counter() - started
            rows.append({"chip": args.first_chip + chip, "wall_time_s": wall,
                         "load_average_1min": [round(load_start, 2), round(os.getloadavg()[0], 2)]})
            print(f"{training:>24} | realistic chip {args.first_chip + chip}: {100 * accs[-1]:.2f}% ({wall:.0f} s, "
                  f"load {os.getloadavg()[0]:.1f})", flush=True)
            results[training] = {"mean": float(np.mean(accs)),
                                 "std": float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0,
                                 "min": float(np.min(accs)), "max": float(np.max(accs)), "per_chip": accs,
                                 "chips_done": len(accs)}
            _update(args.result_key, {**setup, "load_average": list(os.getloadavg()), "accuracy": results,
                                      "chip_timings": timings, "conditions": _conditions(args, load_before),
                                      "what": " ".join(_Chips.__doc__.split("\n\n")[1].split())})


def _conditions(args, load_before: float) -> dict:
    """A ``conditions`` block (registry.run_conditions) for a stage's JSON entry."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from registry import run_conditions

    split = (f"the first {60000 - args.validation:,} training images trained on, the last {args.validation:,} held "
             "out as the validation split" if args.validation else "all 60,000 training images trained on")
    return run_conditions(data=f"MNIST: {split}; evaluated on the test images named by n_test",
                          devices={"memsnn": f"1 CPU device ({os.cpu_count()} cores)"},
                          seeds="chip c programmed with key(100 + c), its reads fold_in(key(c), i)",
                          load_before=load_before)


def stage_energy(args) -> None:
    """Energy per image of the ``--hwa-name`` network on chip ``--first-chip`` (the deployment's
    chip of that number: programming key 100 + it, reads ``fold_in(key(it), i)`` every
    ``--read-batch`` images), the front end read from its circuit
    (:func:`memsnn.studies.spiceprop_energy`); ``benchmarks/results/crossbar_energy.json``."""
    import jax

    from memsnn.crossbar.deploy import on_crossbar
    from memsnn.studies import spiceprop_energy
    from memsnn.training import load_trained

    load_start = os.getloadavg()[0]
    model = load_trained(args.run_dir / args.hwa_name / "checkpoint.eqx")[0]
    chip = on_crossbar(model, args.preset, w_max=W_MAX)
    images, labels = _test_data(args)
    started = time.perf_counter()
    report = spiceprop_energy(chip, images, labels, batch_size=args.read_batch,
                              program_key=jax.random.key(100 + args.first_chip), read_key=jax.random.key(args.first_chip))
    wall = time.perf_counter() - started
    print("\n".join(report.lines()), flush=True)
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from registry import run_conditions

    # The selection stage writes crossbar_training.json's "selection"; the validated runs' entries
    # were moved to crossbar_training_validated.json (issue 25) with theirs.
    validated = RESULTS / "crossbar_training_validated.json"
    selection = _load().get("selection") or (json.loads(validated.read_text()).get("selection", {})
                                             if validated.exists() else {})
    payload = {"network": str(args.run_dir / args.hwa_name), "preset": args.preset, "chip": args.first_chip,
               "n_test": len(labels), "seed_figure_nJ": [51.4, 773.0], "target_nJ": 51.4, "target_accuracy": 0.975,
               "wall_time_s": wall, "report": report.to_dict(),
               "conditions": run_conditions(
                   data=f"MNIST, the {len(labels)} first test images" if args.test_subset else "MNIST, all 10,000 test images",
                   devices={"memsnn": f"1 CPU device ({os.cpu_count()} cores)"}, seeds="chip key 100 + chip, reads fold_in(key(chip), i)",
                   selection=("network chosen on the validation split (crossbar_training[_validated].json 'selection': "
                              f"{selection.get('chosen')!r})" if selection.get("chosen") == args.hwa_name
                              else "network named by --hwa-name (see crossbar_training.json)"),
                   load_before=load_start)}
    out = RESULTS / "crossbar_energy.json"
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}", flush=True)


def _replace(rows: list, row: dict) -> None:
    """Put ``row`` in ``rows`` (replacing the one of the same training and non-ideality), rows kept
    in the order of the trainings and of :func:`_variants` whatever order they were measured in."""
    order = ["none (ideal weights)", *_variants("realistic")]
    rows[:] = [r for r in rows if (r["training"], r["nonideality"]) != (row["training"], row["nonideality"])] + [row]
    rows.sort(key=lambda r: (r["training"] != "ideal training",
                             order.index(r["nonideality"]) if r["nonideality"] in order else len(order)))


def _print_ablation(rows) -> None:
    names = list(dict.fromkeys(r["nonideality"] for r in rows))
    trainings = list(dict.fromkeys(r["training"] for r in rows))
    print(f"\n{'non-ideality':<36}" + "".join(f"{t:>26}" for t in trainings))
    for name in names:
        cells = []
        for t in trainings:
            hit = [r for r in rows if r["training"] == t and r["nonideality"] == name]
            cells.append(f"{100 * hit[0]['accuracy']:>25.2f}%" if hit else f"{'':>26}")
        print(f"{name:<36}" + "".join(cells))


def stage_drift(args) -> None:
    import jax

    from memsnn.studies.deploy import TIMES, accuracy_over_time
    from memsnn.data import load_dataset
    from memsnn.training.spiceprop import spiceprop_predict

    images, labels = load_dataset("mnist", "test", source="full")
    if args.test_subset:
        images, labels = images[: args.test_subset], labels[: args.test_subset]
    names = {v: k for k, v in TIMES.items()}
    results = []
    for training, model in _models(args).items():
        started = time.perf_counter()
        rows = accuracy_over_time(model, spiceprop_predict, images, labels, preset="pcm", key=jax.random.key(7),
                                  batch_size=args.eval_batch_size, w_max=W_MAX)
        for row in rows:
            row.update(training=training, time=names.get(row["t_read"], f"{row['t_read']:g} s"))
            print(f"{training:>24} | t = {row['time']:>7} | compensation {str(row['drift_compensation']):>5}: "
                  f"{100 * row['accuracy']:.2f}%", flush=True)
        results += rows
        _update("drift", {"preset": "pcm", "n_test": len(labels), "rows": results,
                          "wall_time_s": time.perf_counter() - started})


def stage_ir_drop(args) -> None:
    """Accuracy of one realistic chip with and without its 1 Ohm wires, exactly (each tile's linear
    map, :func:`memsnn.crossbar.deploy.one_read`), without read noise."""
    import jax

    from memsnn.crossbar import FiniteLevels, ProgrammingNoise, StuckAt, chain
    from memsnn.crossbar.deploy import on_crossbar, one_read, program
    from memsnn.training import evaluate
    from memsnn.training.spiceprop import spiceprop_predict

    images, labels = _test_data(args)
    nonideality = chain(FiniteLevels(16), ProgrammingNoise(0.01), StuckAt(0.005, 0.005, fault_aware=True))
    results = {}
    for training, model in _models(args).items():
        for wires in (False, True):
            chip = program(on_crossbar(model, args.preset, w_max=W_MAX, nonideality=nonideality,
                                       **({} if wires else {"wires": None})), key=jax.random.key(100))
            acc, _ = evaluate(spiceprop_predict, one_read(chip), images, labels, batch_size=args.eval_batch_size)
            name = "with 1 Ohm wires" if wires else "no wires"
            results.setdefault(training, {})[name] = acc
            print(f"{training:>24} | one chip without read noise, {name}: {100 * acc:.2f}%", flush=True)
            _update("ir_drop", {"n_test": len(labels), "accuracy": results, "hwa_run": str(args.run_dir / args.hwa_name),
                                "what": "one realistic chip (16 levels, programming noise, stuck-at with fault-aware "
                                        "mapping; key 100), no read noise, each tile replaced by its exact linear map "
                                        "(one_read: ir_drop_matrix)"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=("all", "ideal", "hwa", "select", "deploy", "ablation", "drift", "ir-drop", "energy"),
                        default="all")
    parser.add_argument("--preset", default="realistic", help="crossbar preset of the hardware-aware training")
    parser.add_argument("--ideal-epochs", type=int, default=12)
    parser.add_argument("--hwa-epochs", type=int, default=8)
    parser.add_argument("--hwa-lr", type=float, default=1e-3)
    parser.add_argument("--hwa-augment-shift", type=int, default=0,
                        help="hardware-aware training: translate each training image by up to this many pixels")
    parser.add_argument("--hwa-name", default="hwa",
                        help="the hardware-aware run's directory under --run-dir (and its key in the JSON); the "
                             "ablation and the deployment stages read it")
    parser.add_argument("--ideal-name", default="ideal",
                        help="the ideal run's directory under --run-dir (and its key in the JSON); the later stages "
                             "fine-tune and deploy it")
    parser.add_argument("--validation", type=int, default=0,
                        help="hold out the last N training images as a validation split (every stage): the "
                             "trainings log their accuracy on it (val_acc), and --on validation deploys on it")
    parser.add_argument("--hwa-ir-drop", action="store_true",
                        help="solve the IR drop in the training forward pass too (slow on a CPU; by default the "
                             "wires are left out of training and the trained model is evaluated with them)")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--eval-batch-size", type=int, default=1000)
    parser.add_argument("--train-subset", type=int, default=None)
    parser.add_argument("--test-subset", type=int, default=None, help="ablation / drift on the first N test images")
    parser.add_argument("--chips", type=int, default=3, help="programmed chips per deployment / ablation cell")
    parser.add_argument("--read-batch", type=int, default=1000,
                        help="test images per read of a chip (one read-noise draw and one exact IR-drop map each)")
    parser.add_argument("--candidates", default="hwa-shift1,hwa",
                        help="select: the runs (folders under --run-dir) to choose among on the validation split")
    parser.add_argument("--first-chip", type=int, default=0,
                        help="deploy / select: chip c is programmed with key 100 + first_chip + c (select on other "
                             "chips than the test figure's)")
    parser.add_argument("--only-hwa", action="store_true", help="deploy: the hardware-aware model only")
    parser.add_argument("--result-key", default="deploy", help="deploy: the JSON key of the figure")
    parser.add_argument("--only-no-wires", action="store_true", help="ablation: skip the variants with wires")
    parser.add_argument("--only-wires", action="store_true", help="ablation: only the variants with wires")
    parser.add_argument("--x64", action="store_true", help="float64 (the IR-drop solve of the wires variants)")
    parser.add_argument("--run-dir", type=Path, default=Path("runs") / "bench-crossbar")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    if args.x64:
        import jax

        jax.config.update("jax_enable_x64", True)
    stages = ("ideal", "hwa", "deploy", "ablation", "drift", "ir-drop") if args.stage == "all" else (args.stage,)
    for stage in stages:
        {"ideal": stage_ideal, "hwa": stage_hwa, "select": stage_select, "deploy": stage_deploy, "ablation": stage_ablation, "drift": stage_drift,
         "ir-drop": stage_ir_drop, "energy": stage_energy}[stage](args)


if __name__ == "__main__":
    main()
