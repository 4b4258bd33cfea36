"""jaxsnn's Yin-Yang example set-up, run on data given from outside (benchmarks/spike_times_vs_jaxsnn.py).

Runs in a Python environment with jaxsnn (e.g. ``pip install memsnn[jaxsnn]`` or a venv of its own);
it does not import memsnn. It builds the network of jaxsnn's own example
(``jaxsnn.examples.event.yinyang_layered_event_prop``: 5 inputs (x, y, 1 - x, 1 - y, bias at 0)
each duplicated 5 times, 100 hidden and 3 output LIF neurons that fire once, EventProp gradients,
MSE on first-spike times against target times, Adam with the example's settings; or
``yinyang_analytical``: the same with analytical spike times, no duplication, larger input weights)
through jaxsnn's public API with the example's parameter values, trains it on the points in
``--data`` (an ``.npz`` with ``x_train (N, 4)``, ``y_train``, ``x_test``, ``y_test``) and writes per
epoch the training time (the jitted scan over the epoch's batches, until its results are ready)
and the test accuracy to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial

EXAMPLES = {
    # Values of jaxsnn 0.3.0's examples (their argparse defaults and module settings).
    "layered_event_prop": dict(t_late=2.0 * 6e-6, correct=0.8 * 6e-6, wrong=1.2 * 6e-6, hidden=100, tau_mem=12e-6,
                               tau_syn=6e-6, threshold=1.0, n_spikes_hidden=125, n_spikes_output=103,
                               duplication=5, syn1=(3.0 / 5, 1.6 / 5), syn2=(0.5, 0.8), backprop="eventprop",
                               batch_size=64, lr=0.005, lr_decay=0.99),
    "analytical": dict(t_late=2.0 * 5e-3, correct=0.9 * 5e-3, wrong=1.1 * 5e-3, hidden=100, tau_mem=1e-2,
                       tau_syn=5e-3, threshold=1.0, n_spikes_hidden=50, n_spikes_output=53, duplication=1,
                       syn1=(3.0, 1.6), syn2=(0.5, 0.8), backprop="analytical", batch_size=64, lr=0.005,
                       lr_decay=0.99),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--example", choices=sorted(EXAMPLES), default="layered_event_prop")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    import jaxsnn
    from jaxsnn.base.dataset import data_loader
    from jaxsnn.event.encode import encode, spatio_temporal_encode, target_temporal_encode
    from jaxsnn.event.loss import mse_loss
    from jaxsnn.event.modules import LIF, LIFParameters, Linear, Source
    from jaxsnn.event.topology import Topology
    from jaxsnn.event.training import update
    from jaxsnn.event.types import OptState
    from jaxsnn.examples.event.utils import loss_wrapper

    p = EXAMPLES[args.example]
    data = np.load(args.data)
    bs = p["batch_size"]

    def points(x, y):
        n = (len(y) // bs) * bs  # whole batches, as the example uses
        x = np.concatenate([x[:n], np.zeros((n, 1), x.dtype)], axis=1)  # bias spike at t = 0
        return jnp.asarray(x), jnp.asarray(y[:n])

    train = points(data["x_train"], data["y_train"])
    test = points(data["x_test"], data["y_test"])
    params = LIFParameters(v_reset=-1000.0, v_th=p["threshold"], tau_syn=p["tau_syn"], tau_mem=p["tau_mem"])
    in_enc = jax.jit(jax.vmap(partial(spatio_temporal_encode, t_late=p["t_late"], duplication=p["duplication"],
                                      duplicate_neurons=False)))
    tgt_enc = jax.jit(jax.vmap(partial(target_temporal_encode, n_classes=3, correct_target_time=p["correct"],
                                       wrong_target_time=p["wrong"])))
    trainset, testset = encode(train, in_enc, tgt_enc), encode(test, in_enc, tgt_enc)
    trainset, testset = ({"inp": trainset[0]}, trainset[1]), ({"inp": testset[0]}, testset[1])

    builder = Topology(t_max=4.0 * p["tau_syn"], backprop_method=p["backprop"])
    builder.add({"inp": Source(5), "lif1": LIF(p["hidden"], p["n_spikes_hidden"], params),
                 "lif2": LIF(3, p["n_spikes_output"], params),
                 "syn1": Linear(mean=p["syn1"][0], std=p["syn1"][1], min_delay=0.0),
                 "syn2": Linear(mean=p["syn2"][0], std=p["syn2"][1], min_delay=0.0)})
    builder.connect([("inp", "syn1"), ("syn1", "lif1"), ("lif1", "syn2"), ("syn2", "lif2")])
    init_fn, apply_fn = builder.done()

    rng = jax.random.PRNGKey(args.seed)
    param_rng, rng = jax.random.split(rng)
    weights = init_fn(param_rng)
    n_batches = len(train[1]) // bs
    optimizer = optax.chain(optax.scale(1.0 / p["tau_syn"]), optax.clip(0.01),
                            optax.adam(optax.exponential_decay(p["lr"], n_batches, p["lr_decay"])))
    state = OptState(optimizer.init(weights), weights, rng)
    loss_fn = partial(loss_wrapper, apply_fn, mse_loss, params.tau_mem, "lif2", 3)
    update_fn = jax.jit(partial(update, optimizer, loss_fn))

    @jax.jit
    def train_epoch(state, batches):
        state, _ = jax.lax.scan(update_fn, state, batches)
        return state

    @jax.jit
    def test_acc(weights, batches):
        _, (t_first, _) = jax.vmap(loss_fn, in_axes=(None, 0))(weights, batches)
        return jnp.mean(jnp.argmin(batches[1], axis=-1) == jnp.argmin(t_first, axis=-1))

    history = []
    for epoch in range(1, args.epochs + 1):
        rng, train_rng = jax.random.split(state.rng)
        batches = data_loader(trainset, bs, rng=train_rng)
        jax.block_until_ready(batches)
        start, cpu = time.perf_counter(), time.process_time()
        state = train_epoch(OptState(state.opt_state, state.params, rng), batches)
        jax.block_until_ready(state.params)
        seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
        acc = float(test_acc(state.params, data_loader(testset, bs)))
        history.append({"epoch": epoch, "train_s": seconds, "cpu_s": cpu_s, "test_acc": acc})
        print(json.dumps(history[-1]), flush=True)
    result = {"example": args.example, "parameters": p, "jaxsnn": getattr(jaxsnn, "__version__", None),
              "jax": jax.__version__, "train_samples": int(len(train[1])), "test_samples": int(len(test[1])),
              "history": history}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
