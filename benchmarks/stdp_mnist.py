"""Diehl & Cook (2015) unsupervised MNIST with STDP, long run with checkpoints (issue 13, figure 2).

Learns from the training images in order (one pass = the paper's protocol for 100 and 400
neurons), saving a checkpoint every ``--save-every`` images so that a run can be stopped and
resumed (``--resume``); stops at ``--images`` or at the wall-clock ``--until`` (HH:MM, UTC), then
labels the neurons from their frozen responses to ``--label-images`` training images and reports
the test accuracy on ``--test-images``. Writes ``benchmarks/results/stdp_mnist_N<neurons>[_<array>].json``.

    nice -n 10 python benchmarks/stdp_mnist.py --neurons 100 --out runs/stdp100
    nice -n 10 python benchmarks/stdp_mnist.py --neurons 100 --out runs/stdp100 --resume   # continue

Paper: 100 neurons 82.9 %, 400 neurons 87.0 % (one pass over the 60,000 training images).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from memsnn.data import load_dataset
from memsnn.training import load_checkpoint, read_checkpoint_header, save_checkpoint, use_cpu_cores
from memsnn.training.stdp import (STDP, StdpConfig, assign_labels, build_stdp, classify, image_keys, learn_images,
                                  responses)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import check_result, run_folder  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _deadline(text: str | None) -> float | None:
    if not text:
        return None
    now = _dt.datetime.now(_dt.timezone.utc)
    hh, mm = (int(x) for x in text.split(":"))
    at = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if at < now:
        at += _dt.timedelta(days=1)
    return time.time() + (at - now).total_seconds()


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--neurons", type=int, default=100)
    ap.add_argument("--images", type=int, default=60000, help="training images (one pass: 60000)")
    ap.add_argument("--chunk", type=int, default=50, help="images per jitted call")
    ap.add_argument("--save-every", type=int, default=1000)
    ap.add_argument("--until", default=None, help="stop learning at this UTC time (HH:MM) and evaluate")
    ap.add_argument("--label-images", type=int, default=10000, help="training images that label the neurons")
    ap.add_argument("--test-images", type=int, default=10000)
    ap.add_argument("--validation", type=int, default=0, metavar="N",
                    help="hold out the last N training images (e.g. 10000: images 50,000-59,999): learn only from the "
                         "ones before them, label from the last --label-images learned ones and classify the first "
                         "--test-images held-out ones instead of the test set (for choosing settings; the test set "
                         "is not read)")
    ap.add_argument("--eval-batch", type=int, default=100,
                    help="images per batch when labelling and testing (frozen: independent, one simulate per batch; "
                         "the results do not depend on it)")
    ap.add_argument("--crossbar", default=None, metavar="PRESET",
                    help="learn on memristive crossbars of this preset (e.g. neurosim); default: ideal weights")
    ap.add_argument("--integrator", default=None, choices=("euler", "exponential"),
                    help="time integration (memsnn.training.stdp.StdpConfig.integrator); default: a resumed "
                         "checkpoint's, else StdpConfig's default")
    ap.add_argument("--clamp-refractory", action=argparse.BooleanOptionalAction, default=None,
                    help="StdpConfig.clamp_refractory (--no-clamp-refractory: the membranes integrate through the "
                         "refractory period, as in Diehl & Cook's Brian 1 code); default: a resumed checkpoint's, "
                         "else StdpConfig's default")
    ap.add_argument("--input-delay", type=float, default=None, metavar="S",
                    help="StdpConfig.input_delay: each input connection delayed by uniform [0, S) s (Diehl & Cook's "
                         "code: 0.01); default: a resumed checkpoint's, else none")
    ap.add_argument("--carry-rest", action=argparse.BooleanOptionalAction, default=None,
                    help="StdpConfig.carry_rest: start each presentation with what the 150 ms rest leaves of the "
                         "membranes and traces (Diehl & Cook's simulated rest) instead of at rest; default: a resumed "
                         "checkpoint's, else no")
    ap.add_argument("--dt", type=float, default=None, metavar="S",
                    help="StdpConfig.dt: the time step in s (Diehl & Cook: 0.5e-3); default: a resumed checkpoint's, "
                         "else StdpConfig's default")
    ap.add_argument("--source", default="full", choices=("full", "bundled"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="folder for the checkpoint and the log")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--tag", default="")
    ap.add_argument("--no-eval", action="store_true", help="only learn (evaluate later with --resume --evaluate-only)")
    ap.add_argument("--evaluate-only", action="store_true", help="label and test the checkpoint in --out (with --resume)")
    args = ap.parse_args(argv)
    # Before the first JAX computation: one device and one XLA thread, as memsnn train --method stdp
    # and benchmarks/stdp_vs_brian2.py (docs/plasticity.md, "Speed on a CPU"); afterwards a no-op.
    use_cpu_cores(1, threads=STDP.cpu_cores)
    # One run per folder (memsnn's run lock), and no result of another configuration replaced.
    check_result(RESULTS / _result_name(args), _configuration(args))
    with run_folder(args.out):
        return _run(args)


def _result_name(args) -> str:
    return f"stdp_mnist_N{args.neurons}{'_crossbar' if args.crossbar is not None else ''}{args.tag}.json"


def _configuration(args) -> dict:
    configuration = {name: getattr(args, name) for name in ("neurons", "images", "chunk", "label_images",
                                                            "test_images", "crossbar", "source", "seed")}
    if args.validation:
        configuration["validation"] = args.validation
    # Results written before the option were all explicit Euler and record no integrator.
    if args.integrator not in (None, "euler"):
        configuration["integrator"] = args.integrator
    # Results written before the option all held the membrane during the refractory period.
    if args.clamp_refractory is False:
        configuration["clamp_refractory"] = False
    # Results written before the option had no input delays.
    if args.input_delay:
        configuration["input_delay"] = args.input_delay
    if args.carry_rest:
        configuration["carry_rest"] = True
    # Results written before the option were all at StdpConfig's default step.
    if args.dt is not None and args.dt != StdpConfig.dt:
        configuration["dt"] = args.dt
    return configuration


def _run(args) -> dict:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / "checkpoint.eqx"
    options = {"integrator": args.integrator, "clamp_refractory": args.clamp_refractory,
               "input_delay": args.input_delay, "carry_rest": args.carry_rest, "dt": args.dt}
    if args.resume and checkpoint.exists():
        # As the checkpoint was trained (one written before an option: as the code was then).
        trained = StdpConfig.from_dict(read_checkpoint_header(checkpoint)["config"])
        options = {name: getattr(trained, name) if value is None else value for name, value in options.items()}
    config = StdpConfig(n_neurons=args.neurons, crossbar=args.crossbar,
                        **{name: value for name, value in options.items() if value is not None})
    train_x, train_y = load_dataset("mnist", "train", source=args.source)
    if args.validation:
        # Choosing settings: the held-out training images stand in for the test set, never learned.
        if not 0 < args.validation < len(train_y):
            sys.exit(f"--validation must lie in 1..{len(train_y) - 1}, got {args.validation}")
        n_train = len(train_y) - args.validation
        test_x, test_y = train_x[n_train:], train_y[n_train:]
        train_x, train_y = train_x[:n_train], train_y[:n_train]
    else:
        test_x, test_y = load_dataset("mnist", "test", source=args.source)
    n_images = min(args.images, len(train_y))
    model = build_stdp(config, key=jax.random.key(args.seed))
    seen, learn_time = 0, 0.0
    # The running accuracy of Diehl & Cook's training log: each image classified, before it is
    # learned, by labels from the responses to the previous images (decayed, window ~10,000).
    rates = np.zeros((config.n_classes, config.n_neurons))
    correct = []
    if args.resume and checkpoint.exists():
        model, _, header = load_checkpoint(checkpoint, model)
        seen, learn_time = header["images_seen"], header["learn_time_s"]
        rates = np.asarray(header["rates"])
        # The window of the running accuracy goes on where it stopped (checkpoints written before
        # it was saved: the window restarts).
        correct = [int(c) for c in header.get("correct_last_1000", [])]
        print(f"resumed at {seen} images", flush=True)
    elif checkpoint.exists():
        sys.exit(f"{checkpoint} exists: pass --resume to continue it or choose another --out.")

    def header():
        # The running accuracy's window is saved too: a resumed run's log goes on continuously.
        return {"config": config.to_dict(), "epoch": 0, "images_seen": seen, "learn_time_s": learn_time,
                "rates": rates.tolist(), "correct_last_1000": correct[-1000:]}

    step = eqx.filter_jit(learn_images)
    deadline = _deadline(args.until)
    log = open(out / "log.jsonl", "a")
    key = jax.random.key(args.seed + 1)
    while not args.evaluate_only and seen < n_images and (deadline is None or time.time() < deadline):
        stop = min(seen + args.chunk, n_images)
        idx = np.arange(seen, stop)
        images = jnp.asarray(train_x[idx])
        if len(idx) < args.chunk:  # keep one compiled shape
            images = jnp.concatenate([images, jnp.zeros((args.chunk - len(idx), images.shape[1]), images.dtype)])
        t0 = time.perf_counter()
        new_model, counts, shown, result = step(model, images, jax.random.fold_in(key, seen))
        counts = np.asarray(counts)[: len(idx)]
        dt = time.perf_counter() - t0
        model = new_model
        learn_time += dt
        labels = np.argmax(rates, axis=0)
        members = np.eye(config.n_classes)[labels]  # (n, C)
        for c, y in zip(counts, train_y[idx]):
            votes = (c @ members) / np.maximum(members.sum(0), 1)
            correct.append(int(np.argmax(np.where(members.sum(0) > 0, votes, -1)) == y))
            rates *= 1.0 - config.assignment_decay * 10  # ~1,000-image window for the running estimate
            rates[y] += c
        seen = stop
        row = {"images": seen, "ms_per_image": 1e3 * dt / len(idx), "spikes_per_image": float(counts.sum(1).mean()),
               "presentations": float(np.asarray(shown)[: len(idx)].mean()),
               "unstable": int(np.sum(np.asarray(result)[: len(idx)] > 0)),
               "running_acc_last_1000": float(np.mean(correct[-1000:])), "time": time.strftime("%H:%M:%S")}
        print(json.dumps(row), flush=True)
        log.write(json.dumps(row) + "\n")
        log.flush()
        if seen % args.save_every == 0 or seen == n_images:
            save_checkpoint(checkpoint, model, None, header())

    save_checkpoint(checkpoint, model, None, header())
    print(f"learned from {seen} images in {learn_time:.0f} s ({1e3 * learn_time / max(seen, 1):.1f} ms/image)",
          flush=True)
    if args.no_eval:
        return {}
    t0 = time.perf_counter()
    n_label = min(args.label_images, len(train_y))
    # The most recent training images label the neurons (frozen weights, no adaptation).
    lab_idx = np.arange(max(seen - n_label, 0), max(seen - n_label, 0) + n_label) % len(train_y)
    model = assign_labels(model, train_x[lab_idx], train_y[lab_idx], batch_size=args.eval_batch)
    label_time = time.perf_counter() - t0
    print(f"labelled from {n_label} images in {label_time:.0f} s", flush=True)
    # Each test image has its own key (fold_in of its index): its spikes do not depend on the batch.
    run = eqx.filter_jit(responses)
    n_test, batch, test_key = min(args.test_images, len(test_y)), args.eval_batch, jax.random.key(10_000)
    predictions = []
    for start in range(0, n_test, batch):
        idx = np.arange(start, start + batch) % len(test_y)
        counts = run(model, jnp.asarray(test_x[idx]), image_keys(test_key, idx))
        predictions.append(np.asarray(classify(model.assignments, counts, config.n_classes)))
    predictions = np.concatenate(predictions)[:n_test]
    accuracy = float(np.mean(predictions == test_y[:n_test]))
    eval_time = time.perf_counter() - t0
    result = {
        "benchmark": "stdp_mnist", "n_neurons": args.neurons, "array": "ideal" if args.crossbar is None else "crossbar",
        "preset": args.crossbar, "training_images_seen": seen,
        "training_images_target": n_images, "label_images": n_label, "test_images": n_test,
        "validation_images_held_out": args.validation or None,
        ("validation_accuracy" if args.validation else "test_accuracy"): accuracy, "paper_accuracy": {100: 0.829, 400: 0.87}.get(args.neurons),
        "learn_time_s": learn_time, "ms_per_training_image": 1e3 * learn_time / max(seen, 1),
        "eval_time_s": eval_time, "label_time_s": label_time, "eval_batch": args.eval_batch,
        "load_average_after_eval": list(os.getloadavg()), "integrator": config.integrator,
        "clamp_refractory": config.clamp_refractory, "input_delay_s": config.input_delay,
        "carry_rest": config.carry_rest, "dt_s": config.dt,
        "t_image_s": config.t_image, "jax": jax.__version__,
        "backend": jax.default_backend(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    eqx.tree_serialise_leaves(out / "labelled.eqx", model)
    print(json.dumps(result, indent=1))
    RESULTS.mkdir(exist_ok=True)
    result["configuration"] = _configuration(args)
    (RESULTS / _result_name(args)).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
