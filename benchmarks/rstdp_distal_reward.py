"""Izhikevich 2007's distal-reward experiment with memsnn's reward-modulated STDP.

Izhikevich ("Solving the distal reward problem through linkage of STDP and dopamine signaling",
Cereb. Cortex 17:2443, Fig. 1) picks one synapse i -> j of a spiking network; every time neuron j
fires within 10 ms after neuron i, a reward (a dopamine pulse) is delivered 1-3 s later, when
many other pairs have fired in between. STDP tags each synapse with a slowly decaying eligibility
trace (1 s) and dopamine turns the trace into a weight change: over time the rewarded synapse
grows to the maximum while the others do not.

Here: a feed-forward layer (the recurrent network of the paper needs recurrence; the credit
assignment is the same): ``--inputs`` Poisson afferents (``--rate`` Hz) -> ``--neurons`` LIF neurons,
all-to-all plastic weights uniform in [0, w_init] in [0, w_max]; :class:`memsnn.plasticity.RewardSTDP`
with Izhikevich's constants (A+ = 1, A- = 1.5, tau = 20 ms, eligibility 1 s, dopamine decay 200 ms,
a pulse of 0.5 per reward). The rewarded synapse is input 0 -> neuron 0. The run is simulated in
chunks of ``--chunk`` s, each continuing the last (``simulate(..., initial_state=...)``); a
reward due in a chunk is added to the rule's reward at the chunk's start (``set_reward``).

    PYTHONPATH=$PWD nice -n 10 python benchmarks/rstdp_distal_reward.py --seconds 600

Writes benchmarks/results/rstdp_distal_reward.json (weights over time) and, with matplotlib,
benchmarks/results/rstdp_distal_reward.png.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import memsnn
from memsnn.arrays import PlasticDense
from memsnn.plasticity import RewardSTDP, set_reward

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import RESULTS, machine, write_json  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--inputs", type=int, default=500)
    ap.add_argument("--neurons", type=int, default=20)
    ap.add_argument("--rate", type=float, default=1.0, help="Poisson rate of each afferent (Hz)")
    ap.add_argument("--w-init", type=float, default=0.12)
    ap.add_argument("--w-max", type=float, default=0.3)
    ap.add_argument("--learning-rate", type=float, default=0.3)
    ap.add_argument("--pulse", type=float, default=0.5, help="dopamine per reward (Izhikevich: 0.5)")
    ap.add_argument("--dt", type=float, default=1e-3)
    ap.add_argument("--chunk", type=float, default=0.1, help="seconds per simulate call")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="rstdp_distal_reward.json")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    n_in, n = args.inputs, args.neurons
    w0 = rng.uniform(0.0, args.w_init, (n, n_in))
    rule = RewardSTDP.izhikevich(n_in, learning_rate=args.learning_rate)
    layer = memsnn.Layer(PlasticDense(jnp.asarray(w0), w_min=0.0, w_max=args.w_max), None,
                         memsnn.LIF(tau=20e-3, resistance=20e-3, threshold=1.0, reset="zero"), plasticity=rule)
    net = memsnn.Network([layer])
    steps = int(round(args.chunk / args.dt))
    window = int(round(10e-3 / args.dt))  # j within 10 ms after i
    state = jax.tree.map(lambda x: x[None], net.init_state())
    pending: list[float] = []  # delivery times (s) of scheduled rewards
    recent_pre = np.zeros(window, bool)  # input 0's spikes in the last 10 ms of the previous chunk
    times, w_rewarded, w_others_mean, w_others_p99, w_row_mean = [], [], [], [], []
    pairings = delivered = out_spikes = 0
    start = time.perf_counter()
    n_chunks = int(round(args.seconds / args.chunk))
    for c in range(n_chunks):
        t0 = c * args.chunk
        due = [t for t in pending if t < t0 + args.chunk]
        if due:
            pending = [t for t in pending if t >= t0 + args.chunk]
            reward = state[0].plasticity.reward + args.pulse * len(due)
            state = set_reward(state, 0, reward)
            delivered += len(due)
        pre = rng.random((1, steps, n_in)) < args.rate * args.dt
        trace = memsnn.simulate(net, memsnn.Impulses(jnp.asarray(pre, float)), dt=args.dt, n_steps=steps,
                                record=("spikes",), initial_state=state)
        state = trace.final_state
        spikes = np.asarray(trace.spikes[0][0])
        out_spikes += spikes.sum()
        post0 = spikes[:, 0] > 0
        pre0 = np.concatenate([recent_pre, pre[0, :, 0]])
        for k in np.flatnonzero(post0):
            # A spike of neuron 0 at step k within 10 ms after a spike of input 0 (pre strictly before).
            if pre0[k: k + window].any():
                pairings += 1
                pending.append(t0 + (k + 1) * args.dt + rng.uniform(1.0, 3.0))
        recent_pre = pre[0, -window:, 0]
        w = np.asarray(state[0].array[0])
        others = np.delete(w.ravel(), 0)
        times.append(t0 + args.chunk)
        w_rewarded.append(float(w[0, 0]))
        w_others_mean.append(float(others.mean()))
        w_others_p99.append(float(np.percentile(others, 99)))
        w_row_mean.append(float(w[0, 1:].mean()))
        if (c + 1) % max(1, n_chunks // 20) == 0:
            print(f"t={times[-1]:.0f}s rewarded={w_rewarded[-1]:.3f} others mean={w_others_mean[-1]:.3f} "
                  f"p99={w_others_p99[-1]:.3f} pairings={pairings} rewards={delivered} "
                  f"rate={out_spikes / (n * times[-1]):.2f} Hz", flush=True)
    wall = time.perf_counter() - start
    rank = int((np.asarray(state[0].array[0]).ravel() > w_rewarded[-1]).sum())
    payload = {
        "benchmark": "rstdp_distal_reward",
        "command": "PYTHONPATH=$PWD python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "settings": vars(args), "seeds": [args.seed], "machine": machine(), "threads": os.cpu_count(),
        "load_average": os.getloadavg(), "wall_s": wall,
        "paper": "Izhikevich 2007, Fig. 1: the rewarded synapse reaches the maximum within about an hour of "
                 "simulated time (1000-neuron recurrent network, 1 Hz); the others stay near their initial values",
        "final": {"rewarded": w_rewarded[-1], "others_mean": w_others_mean[-1], "others_p99": w_others_p99[-1],
                  "synapses_above_rewarded": rank, "pairings": pairings,
                  "output_rate_hz": float(out_spikes / (n * args.seconds)), "rewards_delivered": delivered,
                  "w_max": args.w_max},
        "series": {"t_s": times, "rewarded": w_rewarded, "others_mean": w_others_mean, "others_p99": w_others_p99,
                   "same_neuron_others_mean": w_row_mean},
    }
    path = write_json(args.json, payload)
    print("wrote", path, payload["final"])
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(times, w_rewarded, label="rewarded synapse (input 0 -> neuron 0)")
    ax.plot(times, w_others_mean, label="other synapses, mean")
    ax.plot(times, w_others_p99, "--", label="other synapses, 99th percentile")
    ax.axhline(args.w_max, color="grey", lw=0.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("weight")
    ax.set_title("Distal reward (Izhikevich 2007) with memsnn RewardSTDP")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(Path(RESULTS) / Path(args.json).with_suffix(".png").name, dpi=120)


if __name__ == "__main__":
    main()
