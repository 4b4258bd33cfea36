"""Choose the TTFS Yin-Yang settings on the validation split (never the test set).

Trains one ``memsnn.training.ttfs`` configuration on the Yin-Yang training split (5,000, seed 42)
with the method's optimiser (Adam, global-norm clip 1, cosine schedule) and reports the accuracy on
the authors' validation split (1,000, seed 41) every few epochs, with the state of the output layer
(fraction of silent output neurons, mean first output spike time)::

    nice -n 10 python benchmarks/spike_times_yinyang_select.py --model '{"loss": "mse"}' --epochs 60 --lr 1e-2

Each call appends one row to ``benchmarks/results/spike_times_yinyang_selection.json``. The
defaults of the ttfs method were chosen from these rows (docs/spike-times.md).
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
    parser.add_argument("--every", type=int, default=10, help="validate every this many epochs")
    parser.add_argument("--what", default="", help="a name for the row")
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


if __name__ == "__main__":
    main()
