"""``simulate``: the one place where a network is stepped through time."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from .arrays import Identity
from .integrators import AbstractIntegrator, Euler
from .integrators._base import StepCount, checkpointed_scan
from .network import Network
from .stimulus import Current, Impulses

RECORDABLE = ("membrane_potential", "spikes", "synaptic_current", "state")

_trace_count = 0  # number of times simulate was traced (compiled); a test reads it


class Trace(eqx.Module):
    """What a simulation recorded, on the grid ``times`` (the state after each grid step).

    Each recorded field is a tuple with one entry per layer, ``(batch, n_steps, n)``, or ``None`` if
    it was not asked for in ``record``.

    Attributes:
        times: ``(n_steps,)`` grid times (s) at which the state was recorded, ``(k + 1) dt``.
        membrane_potential: per layer, V.
        spikes: per layer, spike indicators (MIF: ``v > spike_threshold``).
        synaptic_current: per layer, A.
        state: per layer, the full :class:`~memsnn.network.LayerState` over time.
        final_state: the network state after the last step, batched.
        step_ratio: ``(batch,)`` max over the run of ``h * decay_rate`` for an explicit fixed-step
            integrator (stable below about 2), NaN for adaptive or implicit integrators.
        solver_steps: ``(batch,)`` solver steps accepted over the run (fixed-step schemes:
            ``n_steps`` times the sub-steps; adaptive: what the step-size controller chose).
        rejected_steps: ``(batch,)`` steps the step-size controller rejected (0 for fixed steps).
    """

    times: Float[Array, " n_steps"]
    membrane_potential: tuple | None
    spikes: tuple | None
    synaptic_current: tuple | None
    state: tuple | None
    final_state: Any
    step_ratio: Float[Array, " batch"]
    solver_steps: Int[Array, " batch"]
    rejected_steps: Int[Array, " batch"]


def _hoist_drive(network: Network, amp):
    """Apply the first layer's array to a Current drive once, outside the time loop.

    A Current only ever enters through the first array (impulses do not, they come with Impulses),
    so ``array(amp)`` is loop-invariant: computing it up front, for all steps at once, turns T
    matrix-vector products (and T more in the backward pass) into one matrix product.
    """
    array = network.layers[0].array
    current = array(amp) if amp.ndim == 1 else jax.vmap(array)(amp)
    # The precomputed drive then passes through an identity (gain None: no multiply, no promotion).
    return eqx.tree_at(lambda n: n.layers[0].array, network, Identity(array.n_outputs, gain=None)), current


def _check_inputs(network: Network, stimulus, dt, n_steps, record):
    if not isinstance(network, Network):
        raise TypeError(f"simulate: network must be a memsnn.Network, got {type(network).__name__}.")
    if not isinstance(stimulus, (Impulses, Current)):
        raise TypeError("simulate: stimulus must be memsnn.Impulses or memsnn.Current, "
                        f"got {type(stimulus).__name__}.")
    if int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"simulate: n_steps must be a positive integer, got {n_steps}.")
    if not isinstance(dt, jax.core.Tracer) and not float(dt) > 0:
        raise ValueError(f"simulate: dt must be > 0 seconds, got {dt}.")
    unknown = set(record) - set(RECORDABLE)
    if unknown:
        raise ValueError(f"simulate: cannot record {sorted(unknown)}; choose from {RECORDABLE}.")
    amp = stimulus.amplitude
    name = type(stimulus).__name__
    if amp.shape[-1] != network.n_inputs:
        raise ValueError(
            f"simulate: the {name} stimulus has {amp.shape[-1]} input features, the network expects "
            f"{network.n_inputs} (its first array has n_inputs={network.n_inputs})."
        )
    if isinstance(stimulus, Impulses):
        if amp.ndim != 3:
            raise ValueError(f"simulate: Impulses.amplitude must be (batch, n_events, n_in), got shape {amp.shape}.")
        if stimulus.steps is None and amp.shape[1] != n_steps:
            raise ValueError(f"simulate: dense Impulses (steps=None) need one row per step: got "
                             f"{amp.shape[1]} rows for n_steps={n_steps}.")
        if stimulus.steps is not None:
            if len(stimulus.steps) != amp.shape[1]:
                raise ValueError(f"simulate: Impulses has {amp.shape[1]} event rows but {len(stimulus.steps)} steps.")
            if stimulus.steps and stimulus.steps[-1] >= n_steps:
                raise ValueError(f"simulate: an impulse at step {stimulus.steps[-1]} is beyond n_steps={n_steps}.")
    elif amp.ndim == 3 and amp.shape[1] != n_steps:
        raise ValueError(f"simulate: Current with a time axis needs n_steps={n_steps} rows, got {amp.shape[1]}.")
    elif amp.ndim not in (2, 3):
        raise ValueError(f"simulate: Current.amplitude must be (batch, n_in) or (batch, n_steps, n_in), got {amp.shape}.")


_UNSTABLE = (
    "memsnn.simulate: the explicit integrator is unstable for this step size: h * decay_rate went "
    "above the scheme's stability limit (about 2 for Euler and Heun; see Trace.step_ratio, and "
    "memsnn.stability_ratio to check a configuration before running). For the MIF neuron this "
    "happens when the memristors switch on (dt (G1 + G2) / C > 2). Stable choices: a smaller dt, "
    "sub-steps (Euler(substeps=4)), or an implicit / adaptive solver such as "
    "Diffrax(diffrax.Kvaerno5(), diffrax.PIDController(rtol=1e-6, atol=1e-9))."
)
_NAN = (
    "memsnn.simulate: the simulation produced NaN or inf. Check the parameters and input amplitudes "
    "(impossible devices, enormous inputs); with an explicit integrator, try a smaller dt, sub-steps "
    "or an implicit solver (Diffrax(diffrax.Kvaerno5(), diffrax.PIDController(...)))."
)


@eqx.filter_jit
def simulate(
    network: Network,
    stimulus: Impulses | Current,
    *,
    dt: float,
    n_steps: int,
    solver: AbstractIntegrator | None = None,
    record: tuple[str, ...] = ("membrane_potential",),
    checkpoint_every: int | None = None,
    unroll: int = 1,
) -> Trace:
    """Simulate ``network`` driven by a batched ``stimulus`` for ``n_steps`` grid steps of ``dt``.

    Args:
        network: the circuit.
        stimulus: :class:`~memsnn.Impulses` ``(batch, n_events, n_in)`` or :class:`~memsnn.Current`
            ``(batch, n_in)`` / ``(batch, n_steps, n_in)``.
        dt: grid step (s): the recording interval and, for Euler, the step size.
        n_steps: number of grid steps; the run covers ``[0, n_steps * dt]``.
        solver: an integrator object, default :class:`~memsnn.integrators.Euler`.
        record: which quantities to keep over time (see :data:`RECORDABLE`); fewer saves memory.
        checkpoint_every: store one state per this many steps for the backward pass and recompute
            the rest (memory O(T/k + k) instead of O(T)); ``None`` keeps all.
        unroll: grid steps per iteration of the time loop when spikes are read every step (LIF, IF,
            multi-layer networks); a few (e.g. 5) let XLA fuse consecutive steps: often ~2x faster
            on CPU for small layers, at a longer compile. Same numbers.

    Returns:
        A :class:`Trace`. Errors (at run time, also under ``jit`` and ``grad``) if an explicit step
        was unstable or the state became NaN/inf.

    Precision: the arithmetic is in the network's dtype (float64 with ``jax_enable_x64``), except
    that on NVIDIA GPUs JAX multiplies float32 matrices (the synapse arrays) in TF32 by default;
    set ``JAX_DEFAULT_MATMUL_PRECISION=highest`` (or ``jax.default_matmul_precision("highest")``)
    for full float32 when comparing with SPICE or another simulator.
    """
    global _trace_count
    _trace_count += 1
    solver = Euler() if solver is None else solver
    record = tuple(record)
    _check_inputs(network, stimulus, dt, n_steps, record)
    if isinstance(unroll, bool) or int(unroll) != unroll or unroll < 1:
        raise ValueError(f"simulate: unroll must be a positive integer, got {unroll!r}.")
    h = solver.explicit_step(dt)

    def save(state, spikes):
        out = {}
        if "membrane_potential" in record:
            out["membrane_potential"] = tuple(l.neuron.membrane_potential(s.neuron) for l, s in zip(network.layers, state))
        if "spikes" in record:
            out["spikes"] = spikes
        if "synaptic_current" in record:
            out["synaptic_current"] = tuple(l.synaptic_current(s) for l, s in zip(network.layers, state))
        if "state" in record:
            out["state"] = state
        return out

    def read_spikes(state):
        return tuple(l.neuron.spikes(s.neuron) for l, s in zip(network.layers, state))

    def one_sample(stim):
        amp = stim.amplitude
        net = network
        if isinstance(stim, Current):
            net, amp = _hoist_drive(network, amp)
        return run(net, stim, amp)

    def run(network, stim, amp):
        state0 = network.init_state()
        const_drive = amp if isinstance(stim, Current) and stim.amplitude.ndim == 1 else None

        def drive_at(k):
            if isinstance(stim, Current):
                return const_drive if const_drive is not None else amp[k]
            return None

        def with_ratio(state, drive, saved):
            ratio = jnp.asarray(jnp.nan) if h is None else h * network.decay_rate(state, drive)
            return saved, ratio

        dense = (network.needs_grid_events or (isinstance(stim, Impulses) and stim.steps is None)
                 or (isinstance(stim, Current) and const_drive is None))
        if dense:
            # Something can change at every grid point: advance one grid step at a time.
            def body(state, k):
                impulse = amp[k] if isinstance(stim, Impulses) else None
                drive = drive_at(k)
                state, _, taken = solver.advance(network, state, impulse, drive, k * dt, dt, 1, None)
                state, spikes = network.propagate_spikes(state)
                return state, (*with_ratio(state, drive, save(state, spikes)), taken)

            final, (saved, ratios, taken) = checkpointed_scan(body, state0, n_steps, checkpoint_every, unroll)
            steps = StepCount(*(jnp.sum(count) for count in taken))
        else:
            # Nothing happens between impulses: one integrator call per stretch [s_i, s_{i+1}),
            # the impulse of step s_i landing at the end of the stretch's first step.
            event_steps = stim.steps if isinstance(stim, Impulses) else ()
            bounds = sorted(set((0,) + tuple(event_steps))) + [n_steps]
            event_row = {s: i for i, s in enumerate(event_steps)}
            state, pieces, steps = state0, [], StepCount.fixed(0)

            def save_fn(y):
                return with_ratio(y, const_drive, save(y, read_spikes(y)))

            for start, stop in zip(bounds[:-1], bounds[1:]):
                impulse = amp[event_row[start]] if start in event_row else None
                state, out, taken = solver.advance(network, state, impulse, const_drive, start * dt, dt,
                                                   stop - start, save_fn, checkpoint_every)
                pieces.append(out)
                steps = steps.plus(taken)
            final = state
            saved, ratios = jax.tree.map(lambda *xs: jnp.concatenate(xs), *pieces)
        # nanmax: once an unstable run has overflowed, the last ratios are NaN.
        return final, saved, jnp.nanmax(ratios) if h is not None else jnp.max(ratios), steps

    final, saved, ratio, steps = jax.vmap(one_sample)(stimulus)
    # One check on everything returned, so that it survives whatever part of the Trace the caller
    # keeps (a check tied to an unused output would be pruned by XLA). Instability is named first:
    # a diverging explicit run ends in inf/NaN, and the step ratio says why.
    unstable = jnp.any(ratio > solver.stability_limit) if h is not None else jnp.asarray(False)
    nonfinite = jnp.logical_not(jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(final)])))
    final, saved, ratio = eqx.branched_error_if(
        (final, saved, ratio), unstable | nonfinite, jnp.where(unstable, 0, 1), (_UNSTABLE, _NAN))
    return Trace(
        times=dt * jnp.arange(1, n_steps + 1),
        membrane_potential=saved.get("membrane_potential"),
        spikes=saved.get("spikes"),
        synaptic_current=saved.get("synaptic_current"),
        state=saved.get("state"),
        final_state=final,
        step_ratio=ratio,
        solver_steps=steps.accepted,
        rejected_steps=steps.rejected,
    )


def stability_ratio(network: Network, solver: AbstractIntegrator, dt: float, state=None, drive=None) -> float:
    """``h * decay_rate / limit`` at ``state`` (default: the initial state): > 1 means unstable."""
    h = solver.explicit_step(dt)
    if h is None:
        return 0.0
    state = network.init_state() if state is None else state
    return float(h * network.decay_rate(state, drive) / solver.stability_limit)
