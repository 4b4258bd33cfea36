"""Learning target spike trains with ReSuMe (:class:`memsnn.plasticity.ReSuMe`), epoch by epoch.

One epoch is one :func:`memsnn.simulate` of the layer on its input pattern with the rule in the
layer's plasticity slot; the learned array state carries into the next epoch, everything else
starts again from rest (Ponulak & Kasinski 2010 present the same input pattern in every epoch).
The measure is Schreiber et al.'s correlation between the output and the desired trains
(:func:`memsnn.plasticity.resume.schreiber_correlation`).
"""

from __future__ import annotations

import jax
import numpy as np

from ..network import Layer, Network
from ..plasticity.resume import ReSuMe, schreiber_correlation
from ..simulate import simulate
from ..stimulus import Impulses

__all__ = ["learn_target_trains"]


def learn_target_trains(layer: Layer, inputs: Impulses, *, dt: float, n_steps: int, epochs: int,
                        sigma: float = 2e-3, stop_at: float | None = None, solver=None, key=None):
    """Train ``layer`` (whose plasticity is a :class:`~memsnn.plasticity.ReSuMe`) on ``inputs``
    (one pattern, ``Impulses`` of batch 1) for up to ``epochs`` presentations.

    ``key``: for a stochastic array (a crossbar's write noise or stochastic pulse rounding), one
    key per epoch is folded from it (:func:`memsnn.simulate`'s ``key``).

    Returns:
        ``(layer_state, history)``: the final batched layer state (learned weights in
        ``layer_state.array``) and per epoch the output spike trains' correlation with the targets
        (per neuron, measured on the presentation before that epoch's learning is applied: the
        weights change during it).

    Raises:
        TypeError: the layer's rule is not ReSuMe.
        ValueError: an empty target train or a target spike at or beyond the run's end
            (:func:`~memsnn.plasticity.resume.check_target_times`), or a rule whose ``dt`` is not
            the run's.
    """
    if not isinstance(layer.plasticity, ReSuMe):
        raise TypeError(f"learn_target_trains: the layer's plasticity must be memsnn.plasticity.ReSuMe, got "
                        f"{type(layer.plasticity).__name__}.")
    if inputs.amplitude.shape[0] != 1:
        raise ValueError(f"learn_target_trains: give one input pattern (batch 1), got {inputs.amplitude.shape[0]}.")
    if abs(layer.plasticity.dt - dt) > 1e-9 * dt:
        raise ValueError(f"learn_target_trains: the rule places its desired spikes on a grid of dt={layer.plasticity.dt:g} "
                         f"s but the run's dt is {dt:g} s; give ReSuMe the run's dt.")
    desired = layer.plasticity.desired_trains(n_steps)
    network = Network([layer])
    fresh = jax.tree.map(lambda x: x[None], network.init_state())
    state, history = fresh, []
    for epoch in range(int(epochs)):
        start = (fresh[0]._replace(array=state[0].array),)
        trace = simulate(network, inputs, dt=dt, n_steps=n_steps, initial_state=start, record=("spikes",),
                         solver=solver, key=None if key is None else jax.random.fold_in(key, epoch))
        state = trace.final_state
        out = np.asarray(trace.spikes[0][0]).T  # (n, n_steps)
        history.append(schreiber_correlation(out, desired, dt=dt, sigma=sigma).tolist())
        if stop_at is not None and min(history[-1]) >= stop_at:
            break
    return state[0], history

