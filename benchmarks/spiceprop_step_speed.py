"""The SPICEprop training step with the summed NLL written two ways, side by side in one process.

``take_along_axis`` of ``log_softmax`` (the loss before issue 27) against
:func:`memsnn.training.spiceprop.summed_nll` (``logsumexp`` minus a one-hot contraction): the step
``memsnn train`` runs (``make_step``, forward + backward + Adam; 784-100-10 -> 10 MIF, batch 200,
1000 steps, float32), on ``--jax-devices`` CPU devices, interleaved repeats; medians of wall and
process CPU time (all threads), the load average before and after.

    python benchmarks/spiceprop_step_speed.py [--jax-devices 1] [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from memsnn.training import GradientLearner, data_mesh, make_step, replicate, use_cpu_cores

_option = argparse.ArgumentParser(add_help=False)
_option.add_argument("--jax-devices", type=int, default=1)
N_DEVICES = use_cpu_cores(_option.parse_known_args()[0].jax_devices)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from memsnn.training.spiceprop import (SpicepropConfig, build_spiceprop, spiceprop_loss,  # noqa: E402
                                       spiceprop_predict, spiceprop_trainable)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402


def take_along_axis_loss(model, images, labels, *, key=None, throw=True):
    """The loss as it was: log_softmax, then the label's entry by take_along_axis."""
    v_mv = model.membrane_potentials(images, key=key, per_image=False, throw=throw)
    log_p = jax.nn.log_softmax(v_mv, axis=-1)
    nll = -jnp.take_along_axis(log_p, labels[:, None, None].astype(jnp.int32), axis=-1)[..., 0]
    return jnp.mean(jnp.sum(nll, axis=1)), jnp.argmax(jnp.sum(v_mv, axis=1), axis=-1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, parents=[_option],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (200, 784)).astype(np.float32)
    labels = rng.integers(0, 10, 200).astype(np.int32)
    model = build_spiceprop(SpicepropConfig(hidden=(100,)), key=jax.random.key(0))
    mesh = data_mesh()
    runs, losses = {}, {}
    for name, loss in (("take_along_axis", take_along_axis_loss), ("summed_nll", spiceprop_loss)):
        learner = GradientLearner(loss, spiceprop_predict, optax.adam(1e-3), spiceprop_trainable(model))
        step = make_step(learner, model, mesh)
        state = replicate((model, learner.init(model)), mesh)
        losses[name] = float(step(*state, images, labels)[2]["loss"])

        def run(step=step, state=state):
            jax.block_until_ready(step(*state, images, labels)[2]["loss"])

        runs[name] = run
    wall = {k: [] for k in runs}
    cpu = {k: [] for k in runs}
    load = [os.getloadavg()]
    for _ in range(args.repeats):
        for name, run in runs.items():
            _timing.wall_and_cpu(run, 1, wall[name], cpu[name])
    load.append(os.getloadavg())
    ms = {k: 1e3 * statistics.median(t) for k, t in wall.items()}
    cpu_ms = {k: 1e3 * statistics.median(t) for k, t in cpu.items()}
    result = {"what": __doc__.split("\n\n")[0], "command": "python benchmarks/spiceprop_step_speed.py "
              + " ".join(argv if argv is not None else sys.argv[1:]),
              "jax_devices": N_DEVICES, "repeats": args.repeats, "losses": losses,
              "wall_ms_median": ms, "cpu_ms_median": cpu_ms,
              "cpu_speedup": cpu_ms["take_along_axis"] / cpu_ms["summed_nll"],
              "wall_speedup": ms["take_along_axis"] / ms["summed_nll"],
              "load_average_before_after": load, "machine": _timing.machine(),
              "note": "2-core machine shared with other jobs (load average recorded, not idle); the two "
                      "forms interleaved, so the ratio is the figure, not the absolute times"}
    out = _timing.write_json(f"spiceprop_step_speed_{N_DEVICES}dev.json", result)
    print(result, "\nwrote", out)


if __name__ == "__main__":
    main()
