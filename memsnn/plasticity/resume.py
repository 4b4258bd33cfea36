"""ReSuMe (Ponulak & Kasinski 2010): supervised learning of target spike trains.

Each neuron ``i`` has a desired spike train ``S_d``; the weights follow::

    dw_ij/dt = [S_d,i(t) - S_o,i(t)] [a + x_j(t)],      dx_j/dt = -x_j / tau,  x_j += A at a spike of j

i.e. at a desired spike every synapse grows by ``learning_rate (a + x_j)`` (the non-Hebbian ``a``
plus the recent inputs, an STDP-like window of amplitude ``A`` and time constant ``tau``), at an
actual output spike it shrinks by the same; when the output spikes at the desired times the two
cancel and learning stops. (The paper's Hebbian term ``A exp(-s/tau)`` for ``s > 0`` is the input
trace ``x``.)

The desired trains are fields of the rule (``target_times``, ``(n, max_spikes)`` s, padded with
``+inf``, and their grid steps ``target_steps``); the rule's state holds a clock (``elapsed``,
integrated by the solver with everything else) so that at each grid step it knows which desired
spikes fall in that step. A time ``t`` belongs to the step ``ceil(t / dt) - 1`` (the step
``((k) dt, (k + 1) dt]``), computed once in float64 (:func:`grid_steps`) and shared with
:func:`target_trains`: the rule and the measure place every desired spike in the same step (a
float32 clock compared with float32 times put spikes on grid points one step apart). Like every rule, it changes weights only through
``array.updated(array_state, delta)``: exact on a :class:`~memsnn.arrays.PlasticDense`, programming
pulses on a memristive :class:`~memsnn.crossbar.Crossbar`.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .._validation import require_positive
from ..components import AbstractPlasticity
from .pair import check_array, check_n_inputs

__all__ = ["ReSuMe", "ReSuMeTraces", "check_target_times", "gaussian_filtered", "grid_steps", "schreiber_correlation",
           "target_trains"]


class ReSuMeTraces(NamedTuple):
    """State of :class:`ReSuMe`: input traces ``pre`` ``(n_inputs,)``, the clock ``elapsed`` (s)."""

    pre: Float[Array, " n_in"]
    elapsed: Float[Array, ""]


def check_target_times(target_times, *, run: float | None = None, owner: str = "ReSuMe") -> np.ndarray:
    """``target_times`` as a float array ``(n, max_spikes)``, ``+inf`` padded, checked.

    Raises:
        ValueError: a neuron without any desired spike (an empty target train gives nothing to
            learn: every change would depress the neuron until it stops firing), a negative time,
            or a time at or beyond the end of the run ``run`` (s), which can never be met.
    """
    times = np.asarray(target_times, dtype=float)
    if times.ndim == 1:
        times = times[None]
    if times.ndim != 2:
        raise ValueError(f"{owner}: target_times must be (n_neurons, max_spikes) seconds, got shape {times.shape}.")
    finite = np.isfinite(times)
    empty = [int(i) for i in np.flatnonzero(~finite.any(axis=1))]
    if empty:
        raise ValueError(f"{owner}: neuron(s) {empty} have an empty target train; give each neuron at least one "
                         "desired spike time (pad the rows with inf, not the whole row). To leave a neuron silent, "
                         "leave it out of the trained layer.")
    if np.any(times[finite] < 0):
        raise ValueError(f"{owner}: target spike times must be >= 0 s, got {times[finite].min():g}.")
    if run is not None and np.any(times[finite] >= run):
        raise ValueError(f"{owner}: a target spike at {times[finite].max():g} s lies at or beyond the end of the "
                         f"run ({run:g} s) and can never be met; lengthen the run or drop that spike.")
    return times


def grid_steps(target_times, dt: float) -> np.ndarray:
    """The grid step of each desired spike ``(n, max_spikes)`` (int, ``-1`` for the ``inf``
    padding): ``t`` lies in step ``k`` when ``k dt < t <= (k + 1) dt`` (a time on a grid point
    belongs to the step that ends there), computed in float64 with a ``1e-6 dt`` tolerance."""
    times = np.asarray(target_times, dtype=np.float64)
    finite = np.isfinite(times)
    steps = np.ceil(np.where(finite, times, 0.0) / float(dt) - 1e-6).astype(np.int64) - 1
    return np.where(finite, np.maximum(steps, 0), -1)


class ReSuMe(AbstractPlasticity):
    """ReSuMe (module docstring).

    Attributes:
        n_inputs: inputs of the layer's array.
        target_times: ``(n, max_spikes)`` desired spike times (s), ``+inf`` padded.
        target_steps: their grid steps (:func:`grid_steps`, ``-1`` for padding), what the rule uses.
        dt: the grid step of the runs (s), to place the desired spikes in their steps.
        learning_rate: weight change per unit of ``a + x`` at a desired or actual spike.
        a: the non-Hebbian term.
        amplitude, tau: the input trace's jump and time constant (the learning window).
    """

    n_inputs: int = eqx.field(static=True)
    target_times: Float[Array, "n max_spikes"]
    target_steps: Int[Array, "n max_spikes"]
    dt: float = eqx.field(static=True)
    learning_rate: Float[Array, ""]
    a: Float[Array, ""]
    amplitude: Float[Array, ""]
    tau: Float[Array, ""]

    def __init__(self, n_inputs: int, target_times, *, dt: float, learning_rate=0.01, a=0.0, amplitude=1.0,
                 tau=5e-3):
        self.n_inputs = check_n_inputs("ReSuMe", n_inputs)
        times = check_target_times(target_times)
        self.target_times = jnp.asarray(times)
        self.dt = float(dt)
        self.target_steps = jnp.asarray(grid_steps(times, self.dt), dtype=jnp.int32)
        self.learning_rate, self.a = jnp.asarray(learning_rate, float), jnp.asarray(a, float)
        self.amplitude, self.tau = jnp.asarray(amplitude, float), jnp.asarray(tau, float)

    def __check_init__(self):
        require_positive("ReSuMe", "tau", self.tau, "s")
        require_positive("ReSuMe", "dt", self.dt, "s")

    def init_state(self, n, *, key=None) -> ReSuMeTraces:
        if n != self.target_times.shape[0]:
            raise ValueError(f"ReSuMe: the layer has {n} neurons but target_times has {self.target_times.shape[0]} "
                             "rows; give one target train per neuron.")
        return ReSuMeTraces(pre=jnp.zeros((self.n_inputs,)), elapsed=jnp.zeros(()))

    def vector_field(self, t, state: ReSuMeTraces, inputs):
        return ReSuMeTraces(pre=-state.pre / self.tau, elapsed=jnp.ones_like(state.elapsed))

    def decay_rate(self, state, inputs):
        return 1.0 / self.tau

    def on_presynaptic(self, state: ReSuMeTraces, array, array_state, presynaptic, *, key=None):
        check_array("ReSuMe", array, self.n_inputs)
        return state._replace(pre=state.pre + self.amplitude * (presynaptic > 0).astype(state.pre.dtype)), array_state

    def desired(self, elapsed) -> Float[Array, " n"]:
        """How many desired spikes of each neuron fall in the grid step that ends at ``elapsed``
        (the step ``round(elapsed / dt) - 1``: the clock's rounding error stays far below ``dt / 2``)."""
        step = jnp.round(elapsed / self.dt).astype(jnp.int32) - 1
        return jnp.sum(self.target_steps == step, axis=-1).astype(self.learning_rate.dtype)

    def desired_trains(self, n_steps: int) -> np.ndarray:
        """The desired spike trains ``(n, n_steps)`` (0/1) on the grid, in the steps the rule uses."""
        return target_trains(np.asarray(self.target_times, dtype=np.float64), n_steps, self.dt,
                             steps=np.asarray(self.target_steps))

    def on_postsynaptic(self, state: ReSuMeTraces, array, array_state, spikes, membrane_potential, *, key=None):
        teach = self.desired(state.elapsed) - spikes
        delta = self.learning_rate * teach[:, None] * (self.a + state.pre[None, :])
        return state, array.updated(array_state, delta, key=key)


def gaussian_filtered(trains, dt: float, sigma: float):
    """Spike trains ``(..., n_steps)`` (0/1) convolved with a Gaussian of width ``sigma`` (s)."""
    trains = np.asarray(trains, dtype=float)
    half = int(np.ceil(4 * sigma / dt))
    s = np.arange(-half, half + 1) * dt
    kernel = np.exp(-0.5 * (s / sigma) ** 2)
    flat = trains.reshape(-1, trains.shape[-1])
    out = np.stack([np.convolve(row, kernel, mode="same") for row in flat])
    return out.reshape(trains.shape)


def schreiber_correlation(trains_a, trains_b, *, dt: float, sigma: float = 2e-3):
    """Schreiber et al. (2003)'s reliability measure between spike trains ``(..., n_steps)``: the
    cosine of their Gaussian-filtered versions (1 = the same spikes); 0 if either is empty."""
    a, b = gaussian_filtered(trains_a, dt, sigma), gaussian_filtered(trains_b, dt, sigma)
    norm = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.where(norm > 0, np.sum(a * b, axis=-1) / np.where(norm > 0, norm, 1.0), 0.0)


def target_trains(target_times, n_steps: int, dt: float, *, steps=None):
    """The desired spike trains ``(n, n_steps)`` (0/1) on the grid (a spike in the step that holds
    it, :func:`grid_steps`; ``steps``: those steps, already computed)."""
    times = check_target_times(target_times, run=n_steps * dt)
    steps = grid_steps(times, dt) if steps is None else np.asarray(steps)
    trains = np.zeros((times.shape[0], n_steps))
    for i, row in enumerate(steps):
        trains[i, np.minimum(row[row >= 0], n_steps - 1)] = 1.0
    return trains
