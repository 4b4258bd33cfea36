"""SpikeProp on Iris and breast cancer (Bohte, Kok & La Poutré 2002, section 3.2: 96.1 % and 97.0 %).

Features scaled to [0, 1] with the training split's range, each one input spike (large values
early, in 0..6 ms) plus a bias input at 0 ms; 10 hidden and one output neuron per class, 16
terminals (1..16 ms), tau = 7 ms; the label's output should fire at 10 ms, the others at 16 ms;
the class is the first output to fire. The paper codes each feature with Gaussian receptive
fields (a population code, ``--fields``) instead of one latency spike.

``--dataset`` (:func:`memsnn.data.load_uci`): ``iris``; ``wbc``, the original Wisconsin breast-cancer
set of the paper (699 samples, 9 scores 1..10, 16 missing bare-nuclei values, shipped with memsnn;
a missing value sends no spike); ``wdbc``, scikit-learn's Wisconsin *diagnostic* set (569 samples,
30 features; a different data set from the paper's, named ``breast_cancer`` in the results files
of the runs before ``wbc`` was shipped). Stratified split (Iris 100/50, the breast-cancer sets 2/3 :
1/3) by seed; the headline is the final epoch's test accuracy (no selection on the test set).

``--val N`` holds N training samples out (stratified) as a validation split. Every seed is trained
once per setting of the grid ``--fields`` x ``--scalings`` x ``--mu-finals`` x ``--epochs``: ``--fields m`` codes
each feature with ``m`` Gaussian receptive fields (the paper's population code,
``SpikePropConfig.receptive_fields``; 0 = one latency spike per feature), ``--scalings`` maps the
features to [0, 1] by the training split's range (``minmax``) or its mean +- 2 std (``zscore``,
clipped), ``--mu-finals`` is the final fraction of the adaptive rate's ``mu`` (cosine decay from
``--lr`` to ``lr * fraction`` over the run; 1 = constant), ``--epochs`` the length of the run (the
decay spans it, so a longer run is not a continuation of a shorter one). The setting with the best mean
final-epoch validation accuracy is picked (a tie: the lower mean final validation loss, ms^2; runs
recorded before that loss was, the first in grid order); the headline is the
final-epoch test accuracy of the picked setting's runs (the test set plays no part in the choice).

``--folds K`` chooses instead by stratified K-fold cross-validation on the training split of the
selection seeds (every fold validates on about 1/K of it, each fold scaled by its own training
part; the test set is not evaluated in those runs); the test runs then train on the whole training
split, the chosen setting's only. ``--part cv`` / ``--part final`` run only the cross-validation or
only the test runs (of every setting) so that processes can share the work; ``--keep`` takes the
files of such parts (or of any runs with the same settings, one seed each, say) and a call that
finds nothing left to run writes the merged file. Each test run records the test accuracy of three
scikit-learn classifiers (logistic regression, RBF SVM, 5 nearest neighbours) on the same split
and scaling (``reference_test_acc``): what the split allows a standard classifier, not a memsnn result.

``--test-folds K`` tests by stratified K-fold cross-validation of the whole set instead of the
holdout split: for every seed (which shuffles the partition and draws the initial weights) the one
given setting trains K times, on all but fold k, tested on fold k, so that every sample is tested
once per seed; the headline is the mean +- std over the folds (and seeds), ``test_acc_per_seed`` the
cross-validation estimate of each seed. The setting is chosen before (on validation), not here:
``--test-folds`` takes no grid, ``--val`` or ``--folds``.

    PYTHONPATH=$PWD nice -n 10 python benchmarks/spikeprop_uci.py --dataset iris --seeds 0 1 2 3 4 \
        --epochs 50 --batch-size 20 --val 20 --mu-finals 1 0.05 --json spikeprop_iris_val.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from memsnn.data import gaussian_receptive_fields, load_uci
from memsnn.training import GradientLearner, fit
from memsnn.training.spikeprop import (SpikePropConfig, build_spikeprop, check_outputs_fire, spikeprop_ad,
                                       spikeprop_learner, spikeprop_loss, spikeprop_predict, spikeprop_trainable)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import machine, write_json  # noqa: E402
from registry import run_conditions  # noqa: E402

PAPER = {"iris": 0.961, "wbc": 0.970, "wdbc": 0.970}  # wdbc: the paper's figure is on wbc, a different set
DATA = {"iris": "scikit-learn iris", "wdbc": "scikit-learn load_breast_cancer (Wisconsin diagnostic, WDBC)",
        "wbc": "UCI breast-cancer-wisconsin.data (original Wisconsin, 699 samples; shipped in memsnn, SHA-256 "
               "checked; missing values send no spike)"}


def split(name: str, seed: int, val: int = 0, scaling: str = "minmax", folds: int = 0, fold: int = 0,
          test_folds: int = 0, test_fold: int = 0):
    """``(train, test)``, or ``(train, test, val)`` with ``val`` training samples held out
    (stratified) or, with ``folds``, fold ``fold`` of a stratified ``folds``-fold partition of the
    training split held out; the scaling is the training part's. The test split is a stratified
    holdout by ``seed`` (Iris 50 samples, the breast-cancer sets 1/3) or, with ``test_folds``, fold
    ``test_fold`` of a stratified ``test_folds``-fold partition of the whole set (shuffled by
    ``seed``): cross-validation, every sample tested once over the folds."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    x, y = load_uci(name)
    if test_folds:
        tr_idx, te_idx = list(StratifiedKFold(test_folds, shuffle=True, random_state=seed).split(x, y))[test_fold]
        x_tr, x_te, y_tr, y_te = x[tr_idx], x[te_idx], y[tr_idx], y[te_idx]
    else:
        test = 50 if name == "iris" else 1 / 3
        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test, stratify=y, random_state=seed)
    x_va = y_va = None
    if val and folds:
        raise ValueError("split: val and folds are exclusive.")
    if val:
        x_tr, x_va, y_tr, y_va = train_test_split(x_tr, y_tr, test_size=val, stratify=y_tr, random_state=seed)
    if folds:
        fit_idx, val_idx = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(x_tr, y_tr))[fold]
        x_tr, x_va, y_tr, y_va = x_tr[fit_idx], x_tr[val_idx], y_tr[fit_idx], y_tr[val_idx]
    # nan-aware: missing values (wbc) stay NaN, and the network sends no spike for them.
    lo, hi = np.nanmin(x_tr, 0), np.nanmax(x_tr, 0)
    if scaling == "zscore":
        # Standardised by the training split, mean +- 2 std mapped to [0, 1] (values beyond clipped):
        # skewed features (areas, concavities) keep their bulk spread over the receptive fields.
        mean, std = np.nanmean(x_tr, 0), np.nanstd(x_tr, 0)
        lo, hi = mean - 2 * std, mean + 2 * std
    elif scaling != "minmax":
        raise ValueError(f"split: scaling must be 'minmax' or 'zscore', got {scaling!r}.")
    scale = lambda a: np.clip((a - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0).astype(np.float32)  # noqa: E731
    out = (scale(x_tr), y_tr.astype(np.int32)), (scale(x_te), y_te.astype(np.int32))
    return out if x_va is None else (*out, (scale(x_va), y_va.astype(np.int32)))


def reference_classifiers(name: str, seed: int, scaling: str, test_folds: int = 0, test_fold: int = 0) -> dict:
    """Test accuracy of three standard scikit-learn classifiers (defaults; logistic regression, RBF
    SVM, 5 nearest neighbours) on the same split and scaling, trained on the whole training split,
    a missing value imputed by the training split's mean: a reference for what the split allows,
    not a memsnn result."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    (x_tr, y_tr), (x_te, y_te) = split(name, seed, 0, scaling, test_folds=test_folds, test_fold=test_fold)
    mean = np.nanmean(x_tr, 0)
    x_tr, x_te = np.where(np.isnan(x_tr), mean, x_tr), np.where(np.isnan(x_te), mean, x_te)
    models = {"logistic_regression": LogisticRegression(max_iter=1000), "svm_rbf": SVC(),
              "knn5": KNeighborsClassifier(5)}
    return {k: float(m.fit(x_tr, y_tr).score(x_te, y_te)) for k, m in models.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=("iris", "wbc", "wdbc"), default="iris",
                    help="wbc: the paper's original Wisconsin breast-cancer set (shipped); wdbc: scikit-learn's "
                         "diagnostic one (the results files' breast_cancer)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, nargs="+", default=[40],
                    help="training epochs, one run per value (chosen on validation like the other settings)")
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--rule", default="ad")
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--hidden", type=int, default=10)
    ap.add_argument("--terminals", type=int, default=16)
    ap.add_argument("--init-scale", type=float, default=8.0)
    ap.add_argument("--init-low", type=float, default=-0.5)
    ap.add_argument("--json", default=None)
    ap.add_argument("--val", type=int, default=0, help="training samples held out as a validation split")
    ap.add_argument("--mu-finals", type=float, nargs="+", default=[1.0],
                    help="final fraction of the adaptive rate's mu (cosine decay; 1 = constant), one run per value")
    ap.add_argument("--fields", type=int, nargs="+", default=[0],
                    help="Gaussian receptive fields per feature (0: one latency spike per feature), one run per value")
    ap.add_argument("--scalings", nargs="+", choices=("minmax", "zscore"), default=["minmax"],
                    help="feature scaling to [0, 1] by the training split: its range (minmax) or mean +- 2 std "
                         "(zscore, clipped), one run per value")
    ap.add_argument("--select-on-seeds", type=int, default=None, metavar="K",
                    help="compare the settings on the first K seeds only; the other seeds run the chosen setting")
    ap.add_argument("--keep", nargs="+", default=None, metavar="JSON",
                    help="results files of interrupted runs (or of parts, --part) with the same settings: their "
                         "finished runs are kept")
    ap.add_argument("--folds", type=int, default=0, metavar="K",
                    help="choose the setting by stratified K-fold cross-validation on the training split of the "
                         "selection seeds instead of a held-out --val split; every test run then trains on the "
                         "whole training split, and only the chosen setting's")
    ap.add_argument("--part", choices=("all", "cv", "final"), default="all",
                    help="with --folds: run only the cross-validation runs (cv) or only the test runs of every "
                         "setting of the grid (final), to share the work between processes; a later call with "
                         "--keep of their files picks and runs what is missing")
    ap.add_argument("--test-folds", type=int, default=0, metavar="K",
                    help="test by stratified K-fold cross-validation of the whole set (shuffled by the seed): every "
                         "seed trains K times, each fold the test set once, the rest the training split; one given "
                         "setting (chosen before), not with --val, --folds or a grid of settings")
    ap.add_argument("--test-fold-ids", type=int, nargs="+", default=None, metavar="k",
                    help="with --test-folds: run only these folds (to share the work between processes; a later "
                         "call with --keep of their files writes the merged file)")
    ap.add_argument("--dt", type=float, default=0.1e-3,
                    help="grid step (s); the run covers 25 ms (n_steps = 25 ms / dt)")
    ap.add_argument("--field-threshold", type=float, default=0.1,
                    help="receptive fields with a response at or below this do not spike")
    args = ap.parse_args(argv)
    name = args.json or f"spikeprop_{args.dataset}.json"
    grid = [(m, sc, f, e) for m in args.fields for sc in args.scalings for f in args.mu_finals for e in args.epochs]
    setting = lambda r: (r["fields"], r.get("scaling", "minmax"), r["mu_final"], r["epochs"])  # noqa: E731
    label = lambda g: f"fields={g[0]} scaling={g[1]} mu_final={g[2]:g}" + (  # noqa: E731
        f" epochs={g[3]}" if len(args.epochs) > 1 else "")
    select_seeds = args.seeds[:args.select_on_seeds] if args.select_on_seeds else args.seeds
    runs = []
    if args.keep:
        from _timing import RESULTS
        same = ("batch_size", "rule", "lr", "hidden", "terminals", "init_scale", "init_low", "val",
                "field_threshold", "dt", "folds", "test_folds")
        before = {"dt": 0.1e-3, "folds": 0, "test_folds": 0}  # the defaults of settings added after files were written
        for file in args.keep:
            kept = json.loads((RESULTS / file).read_text())
            if any(kept["settings"].get(k, before.get(k)) != getattr(args, k) for k in same):
                raise SystemExit(f"--keep {file}: its settings differ from this run's ({same})")
            # Files written before --epochs took several values recorded one epoch count for all runs.
            runs += [{**r, "epochs": r.get("epochs", kept["settings"]["epochs"])} for r in kept["runs"]]
        runs = [r for r in runs if r["seed"] in args.seeds and setting(r) in grid]
        key = lambda r: (r["seed"], setting(r), r.get("fold"), r.get("test_fold"))  # noqa: E731
        runs = [r for i, r in enumerate(runs) if key(r) not in {key(q) for q in runs[:i]}]  # kept twice

    def pick(done):
        """The setting with the best mean final-epoch validation accuracy over the seeds every
        setting has finished (with --folds: over the cross-validation runs of the seeds whose folds
        every setting has finished); a tie goes to the lower mean final validation loss (ms^2) when
        every compared run has one (runs of files written before it was recorded do not), else to
        the first in grid order. (A small validation split ties often: one sample of 50 is 2 points.)"""
        done = [r for r in done if (r.get("fold") is not None) == bool(args.folds)]
        by = {g: [r for r in done if setting(r) == g] for g in grid}
        n = args.folds or 1
        common = [s for s in args.seeds if all(sum(r["seed"] == s for r in by[g]) == n for g in grid)]
        if not (args.val or args.folds) or not any(by.values()):
            return grid[0]
        compared = {g: [r for r in by[g] if r["seed"] in common] for g in grid if by[g]}
        losses = all(r.get("final_val_loss") is not None for v in compared.values() for r in v)
        return max(compared, key=lambda g: (
            np.mean([r["final_val_acc"] for r in compared[g]] or [-1.0]),
            -np.mean([r["final_val_loss"] for r in compared[g]] or [np.inf]) if losses else 0.0))

    def save():
        """Write the results file: every run so far, the choice and the chosen setting's test runs."""
        cv = {g: [r for r in runs if setting(r) == g and r.get("fold") is not None] for g in grid}
        by = {g: [r for r in runs if setting(r) == g and r.get("fold") is None] for g in grid}
        chosen = pick([r for r in runs if r["seed"] in select_seeds])
        accs = np.asarray([r["final_test_acc"] for r in by[chosen]])
        scored = cv if args.folds else (by if args.val else {})  # the runs the choice compares
        refs = [r.get("reference_test_acc") for r in by[chosen]]  # on the chosen runs' splits
        how = f" over {args.folds}-fold cross-validation of the training split" if args.folds else ""
        tested = (f", tested by stratified {args.test_folds}-fold cross-validation of the whole set (shuffled by "
                  "seed; each sample in one test fold per seed)" if args.test_folds else ", stratified split by seed")
        write_json(name, {
            "benchmark": f"spikeprop_{args.dataset}",
            "command": "PYTHONPATH=$PWD python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])),
            "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
            "settings": vars(args), "seeds": [r["seed"] for r in runs], "machine": machine(), "threads": os.cpu_count(),
            "data": f"{DATA[args.dataset]}{tested}",
            "note": "final-epoch test accuracy; timings on a 2-core machine shared with ~8 jobs",
            "conditions": run_conditions(
                data=f"{DATA[args.dataset]}{tested}" + (f", {args.val} training samples held "
                                                                                 "out for validation" if args.val else ""),
                devices={"memsnn": f"1 CPU device (XLA, {os.cpu_count()} cores shared)"}, seeds=args.seeds,
                epochs=args.epochs, machine=f"{os.cpu_count()}-core CPU shared with other agents' jobs",
                selection=(f"fields, scaling, mu_final and epochs by mean final-epoch validation accuracy{how} on seeds "
                           f"{select_seeds} (ties: the lower mean final validation loss)" if args.val or args.folds else "none"),
                load_before=runs[0]["load_average"][0]),
            "selection": {"by": (f"mean final-epoch validation accuracy{how} on seeds {select_seeds}, ties: the lower "
                                  "mean final validation loss (ms^2)" if args.val or args.folds else "none (one setting)"),
                          "fields": chosen[0], "scaling": chosen[1], "mu_final": chosen[2], "epochs": chosen[3],
                          "val_acc_mean_on_selection_seeds": {
                              label(g): float(np.mean(
                                  [r["final_val_acc"] for r in v if r["seed"] in select_seeds]))
                              for g, v in scored.items() if any(r["seed"] in select_seeds for r in v)},
                          "val_loss_mean_on_selection_seeds": {
                              label(g): float(np.mean([r["final_val_loss"] for r in v if r["seed"] in select_seeds]))
                              for g, v in scored.items() if any(r["seed"] in select_seeds for r in v)
                              and all(r.get("final_val_loss") is not None for r in v)},
                          "test_acc_mean": {label(g): float(np.mean([r["final_test_acc"] for r in v]))
                                            for g, v in by.items() if v}},
            "final_epoch": chosen[3],
            "test_acc_mean": float(accs.mean()) if len(accs) else None,
            "test_acc_std": float(accs.std(ddof=1)) if len(accs) > 1 else 0.0,
            "test_acc_std_kind": "sample std (ddof 1)" + (f" over the {args.test_folds} test folds x seeds"
                                                           if args.test_folds else ""),
            "test_acc_per_seed": {str(s): float(np.mean([r["final_test_acc"] for r in by[chosen] if r["seed"] == s]))
                                  for s in dict.fromkeys(r["seed"] for r in by[chosen])},
            "paper": PAPER[args.dataset],
            "reference_test_acc_mean": ({k: float(np.mean([r[k] for r in refs])) for k in refs[0]}
                                        if refs and all(refs) else None),
            "chosen_runs": by[chosen], "runs": runs,
        }, replace=name in (args.keep or []))  # --keep of this same file continues it

    if args.folds and args.val:
        raise SystemExit("--folds and --val are exclusive")
    if args.part != "all" and not args.folds:
        raise SystemExit("--part is for --folds")
    if args.test_folds and (args.val or args.folds or len(grid) > 1):
        raise SystemExit("--test-folds evaluates one setting chosen before: not with --val, --folds or several "
                         "values of --fields / --scalings / --mu-finals / --epochs")
    if args.test_fold_ids is not None and not (args.test_folds and set(args.test_fold_ids) <= set(range(args.test_folds))):
        raise SystemExit("--test-fold-ids takes fold numbers 0 .. K-1 of --test-folds K")
    # Seeds outer, settings inner: an interrupted run still compares every setting on the same seeds.
    # After the selection seeds only the chosen setting runs; with --folds the test runs are the
    # chosen setting's on every seed, after the selection seeds' cross-validation runs.
    todo = []
    tests = (args.test_fold_ids or list(range(args.test_folds))) if args.test_folds else [None]  # a seed's test splits
    for s in args.seeds:
        if args.folds and s in select_seeds and args.part != "final":
            todo += [(s, *g, k, None) for g in grid for k in range(args.folds)]
        if args.part != "cv":
            todo += [(s, *g, None, t) for g in grid for t in tests]
    ran = False
    for seed, fields, scaling, fraction, epochs, fold, test_fold in todo:
        if any(r["seed"] == seed and setting(r) == (fields, scaling, fraction, epochs) and r.get("fold") == fold
               and r.get("test_fold") == test_fold for r in runs):
            continue
        chosen = pick([r for r in runs if r["seed"] in select_seeds])
        if (fold is None and args.part == "all" and (fields, scaling, fraction, epochs) != chosen
                and (args.folds or seed not in select_seeds)):
            continue
        data = split(args.dataset, seed, args.val, scaling, args.folds if fold is not None else 0, fold or 0,
                     args.test_folds, test_fold or 0)
        train, test = data[:2]
        val = data[2] if len(data) > 2 else None
        if fold is not None:
            test = None  # a cross-validation run: the test set is not looked at
        # The initial drive per spiking input is kept: with receptive fields only some inputs spike, so
        # the initial weights are scaled by (inputs) / (mean spiking inputs) of the training split.
        active = float(train[0].shape[1] + 1)
        if fields:
            spiking = np.asarray(gaussian_receptive_fields(np.nan_to_num(train[0]), fields)) > args.field_threshold
            spiking &= ~np.repeat(np.isnan(train[0]), fields, axis=1)  # a missing value's fields are silent
            active = float(np.mean(np.sum(spiking, axis=1))) + 1.0
        coded = train[0].shape[1] * (fields or 1) + 1
        config = SpikePropConfig(n_inputs=train[0].shape[1], receptive_fields=fields,
                                 field_threshold=args.field_threshold, hidden=(args.hidden,),
                                 n_classes=int(train[1].max()) + 1,
                                 dt=args.dt, n_steps=int(round(25e-3 / args.dt)), terminals=args.terminals, rule=args.rule,
                                 init_scale=args.init_scale * coded / active, init_low=args.init_low)
        model = build_spikeprop(config, key=jax.random.key(seed))
        check_outputs_fire(model, train[0][:50])
        start, cpu = time.perf_counter(), time.process_time()
        learner = spikeprop_learner(model, {"optimizer": {"lr": args.lr}})
        if fraction != 1.0:
            if args.rule != "ad":
                raise SystemExit("--mu-finals is for the adaptive rule (--rule ad)")
            total = epochs * (len(train[1]) // args.batch_size)
            schedule = optax.cosine_decay_schedule(args.lr, total, alpha=fraction)
            learner = GradientLearner(spikeprop_loss, spikeprop_predict, spikeprop_ad(schedule),
                                      spikeprop_trainable(model))
        res = fit(model, learner, train, test, epochs=epochs, batch_size=args.batch_size, seed=seed,
                  progress=False, val_data=val)
        val_loss = None
        if val is not None:  # the final model's mean SpikeProp error on the validation split (ms^2)
            val_loss = float(eqx.filter_jit(spikeprop_loss)(res.model, jnp.asarray(val[0]), jnp.asarray(val[1]))[0])
        runs.append({"seed": seed, "fold": fold, "test_fold": test_fold, "fields": fields, "scaling": scaling, "mu_final": fraction, "epochs": epochs, "hidden": args.hidden, "init_scale": config.init_scale,
                     "mean_spiking_inputs": active, "final_test_acc": res.history[-1]["test_acc"],
                     "reference_test_acc": (reference_classifiers(args.dataset, seed, scaling, args.test_folds,
                                                                  test_fold or 0) if fold is None else None),
                     "final_val_acc": res.history[-1].get("val_acc"), "final_val_loss": val_loss,
                     "val_acc_per_epoch": [h.get("val_acc") for h in res.history],
                     "test_acc_per_epoch": [h["test_acc"] for h in res.history],
                     "train_loss_per_epoch": [h["train_loss"] for h in res.history],
                     "wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
                     "load_average": os.getloadavg()})
        print({k: v for k, v in runs[-1].items() if k != "train_loss_per_epoch"}, flush=True)
        ran = True
        save()
    if runs and not ran:  # everything was kept (--keep of part files): write the merged file
        save()


if __name__ == "__main__":
    main()
