"""Choose the TTFS Yin-Yang settings on the validation split (never the test set).

Trains one ``memsnn.training.ttfs`` configuration on the Yin-Yang training split (5,000, seed 42)
with the method's optimiser (Adam, global-norm clip 1, cosine schedule) and reports the accuracy on
the authors' validation split (1,000, seed 41) every few epochs, with the state of the output layer
(fraction of silent output neurons, mean first output spike time)::

    nice -n 10 python benchmarks/spike_times_yinyang_select.py --model '{"loss": "mse"}' --epochs 60 --lr 1e-2

Each call appends one row to ``benchmarks/results/spike_times_yinyang_selection.json``. The
defaults of the ttfs method were chosen from these rows (docs/spike-times.md).

``--seeds 0 1 2 3 4`` trains the seeds side by side as one ensemble through the shared
:func:`memsnn.training.fit` (member ``k`` is the run ``memsnn train`` makes with seed ``k``: the
same initialisation and batch order), logs the validation accuracy (the authors' validation
split) and the test accuracy (1,000, seed 40) of every member after every epoch, and writes one
row per seed to ``benchmarks/results/spike_times_yinyang_ens_<--setting>.json``. The choice among settings is made on the validation accuracies alone; the test
accuracies of the chosen setting's runs are then its test figure (final epoch), with no second
training.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=json.loads, default={}, help="TTFSConfig settings as JSON")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="an ensemble of seeds through fit, with validation and test accuracy every epoch")
    parser.add_argument("--clip-norm", type=float, default=1.0, help="global gradient-norm clip (the method's: 1)")
    parser.add_argument("--every", type=int, default=10, help="validate every this many epochs")
    parser.add_argument("--what", default="", help="a name for the row")
    parser.add_argument("--setting", default=None, help="--seeds: a short name for the run (its results file)")
    args = parser.parse_args(argv)

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    import registry
    from memsnn.data import load_dataset
    from memsnn.training.learner import make_optimizer
    from memsnn.training.ttfs import TTFSConfig, build_ttfs, ttfs_loss, ttfs_predict

    load_before = os.getloadavg()[0]
    if args.seeds is not None:
        return ensemble(args, load_before)
    x, y = map(jnp.asarray, load_dataset("yinyang", "train"))
    xv, yv = map(jnp.asarray, load_dataset("yinyang", "validation"))
    model = build_ttfs(TTFSConfig.from_dict(args.model), key=jax.random.key(args.seed))
    steps = len(y) // args.batch_size
    opt = make_optimizer(args.lr, total_steps=args.epochs * steps, schedule="cosine", clip_norm=1.0)
    state = opt.init(eqx.filter(model, eqx.is_inexact_array))

    @eqx.filter_jit
    def step(model, state, xb, yb):
        (loss, pred), grads = eqx.filter_value_and_grad(lambda m: ttfs_loss(m, xb, yb), has_aux=True)(model)
        updates, state = opt.update(grads, state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), state, loss, jnp.mean(pred == yb)

    @eqx.filter_jit
    def validate(model):
        times, _ = model(xv)
        end = model.config.n_steps * model.config.dt
        fired = times < end
        return (jnp.mean(ttfs_predict(model, xv) == yv), jnp.mean(~fired),
                jnp.sum(jnp.where(fired, times, 0.0)) / jnp.maximum(jnp.sum(fired), 1))

    history, key, started = [], jax.random.key(1000 + args.seed), time.time()
    for epoch in range(1, args.epochs + 1):
        key, k = jax.random.split(key)
        order = jax.random.permutation(k, len(y))
        losses, accs = [], []
        for i in range(steps):
            idx = order[i * args.batch_size:(i + 1) * args.batch_size]
            model, state, loss, acc = step(model, state, x[idx], y[idx])
            losses.append(loss)
            accs.append(acc)
        if epoch % args.every == 0 or epoch == args.epochs:
            val, silent, t_out = (float(v) for v in validate(model))
            history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "train_acc": float(np.mean(accs)),
                            "val_acc": val, "output_silent": silent, "output_time_ms": 1e3 * t_out})
            print(json.dumps(history[-1]), flush=True)
    out = ROOT / "benchmarks" / "results" / "spike_times_yinyang_selection.json"
    rows = json.loads(out.read_text())["rows"] if out.exists() else []
    rows.append({"what": args.what or json.dumps(args.model), "note": "", "model": args.model, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                 "seed": args.seed, "final_val_acc": history[-1]["val_acc"], "history": history,
                 "wall_s": time.time() - started,
                 "conditions": registry.run_conditions(
                     data="yinyang 5000 train (seed 42), 1000 validation (seed 41)", seeds=[args.seed],
                     epochs=args.epochs, selection="validation split", load_before=load_before)})
    payload = json.loads(out.read_text()) if out.exists() else {
        "benchmark": "TTFS Yin-Yang settings on the validation split",
        "conditions": registry.run_conditions(data="yinyang 5000 train (seed 42), 1000 validation (seed 41)",
                                              selection="validation split", load_before=load_before)}
    payload["rows"] = rows
    out.write_text(json.dumps(payload, indent=2))


def ensemble(args, load_before):
    """The seeds of ``args.seeds`` side by side through :func:`memsnn.training.fit`."""
    import jax
    import numpy as np

    import registry
    from memsnn.data import load_dataset
    from memsnn.training import fit
    from memsnn.training.ensemble import stack
    from memsnn.training.learner import GradientLearner, make_optimizer
    from memsnn.training.ttfs import TTFSConfig, build_ttfs, ttfs_loss, ttfs_predict, ttfs_trainable

    train_data = tuple(np.asarray(a) for a in load_dataset("yinyang", "train"))
    val_data = tuple(np.asarray(a) for a in load_dataset("yinyang", "validation"))
    test_data = tuple(np.asarray(a) for a in load_dataset("yinyang", "test"))
    config = TTFSConfig.from_dict(args.model)
    members = [build_ttfs(config, key=jax.random.key(s)) for s in args.seeds]
    steps = args.epochs * (len(train_data[1]) // args.batch_size)
    optimizer = make_optimizer(args.lr, total_steps=steps, schedule="cosine", clip_norm=args.clip_norm)
    learner = GradientLearner(ttfs_loss, ttfs_predict, optimizer, ttfs_trainable(members[0]))
    histories, started = [[] for _ in args.seeds], time.time()

    def record(row):
        for j in range(len(args.seeds)):
            entry = {"epoch": row["epoch"], "load": os.getloadavg()[0]}
            for name in ("train_loss", "train_acc", "val_acc", "test_acc"):
                if f"{name}_members" in row:
                    entry[name] = row[f"{name}_members"][j]
            histories[j].append(entry)
        print(json.dumps({k: row[k] for k in row if k.endswith("_members") or k == "epoch"}), flush=True)

    fit(stack(members), learner, train_data, test_data, val_data=val_data, epochs=args.epochs,
        batch_size=args.batch_size, seed=list(args.seeds), progress=False, on_epoch_end=record,
        eval_batch_size=1000)
    what = args.what or json.dumps(args.model)
    setting = args.setting or "_".join(str(s) for s in args.seeds)
    conditions = registry.run_conditions(
        data="yinyang 5000 train (seed 42), 1000 validation (seed 41), 1000 test (seed 40)",
        devices={"memsnn": f"{jax.device_count()} CPU device(s)"}, seeds=args.seeds, epochs=args.epochs,
        selection="validation split (test accuracy recorded, not used for the choice)", load_before=load_before)
    rows = [{"what": f"{what}, seed {seed}", "setting": setting, "note": f"train {100 * history[-1]['train_acc']:.1f} %",
             "model": args.model, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
             "clip_norm": args.clip_norm, "seed": seed, "final_val_acc": history[-1]["val_acc"],
             "final_test_acc": history[-1]["test_acc"], "final_train_acc": history[-1]["train_acc"],
             "history": history, "ensemble_seeds": args.seeds, "wall_s": time.time() - started,
             "loop": "memsnn.training.fit, ensemble of the seeds (batch order and initialisation of memsnn train)",
             "conditions": conditions} for seed, history in zip(args.seeds, histories)]
    out = ROOT / "benchmarks" / "results" / f"spike_times_yinyang_ens_{setting}.json"
    out.write_text(json.dumps({
        "benchmark": "TTFS Yin-Yang, one setting, seeds side by side through fit: validation (authors' split, "
                     "seed 41) and test (seed 40) accuracy after every epoch; the choice among settings is made "
                     "on the validation accuracy", "setting": setting, "model": args.model, "epochs": args.epochs,
        "lr": args.lr, "batch_size": args.batch_size, "rows": rows, "conditions": conditions,
        "wall_s": time.time() - started}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
