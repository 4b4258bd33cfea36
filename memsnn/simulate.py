"""``simulate``: the one place where a network is stepped through time (docs/architecture.md).

Training methods do not loop over time themselves; they choose execution options of
:func:`simulate` (``layerwise``, ``fold_batch``, ``checkpoint_every``, ``unroll``) instead.
"""

from __future__ import annotations

from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .integrators import RESULTS, AbstractIntegrator, Euler, EventMaps, SolveStats, checkpointed_scan
from .network import Layer, Network, SpikeTiming
from .stimulus import Current, Impulses

RECORDABLE = ("membrane_potential", "spikes", "synaptic_current", "state", "spike_times")
SPIKE_TIMINGS = ("grid", "exact")


class Trace(eqx.Module):
    """What a simulation recorded, on the grid ``times`` (the state after each grid step).

    Each recorded field is a tuple with one entry per layer, ``(batch, n_steps, n)``, or ``None`` if
    it was not asked for in ``record``.

    Attributes:
        times: ``(n_steps,)`` grid times (s) at which the state was recorded, ``(k + 1) dt``.
        membrane_potential: per layer, V.
        spikes: per layer, spike indicators (MIF: ``v > spike_threshold``); with exact timing, the
            spikes emitted in each step (with ``Diffrax(..., events=True)`` a count: a neuron may
            fire more than once inside a grid step).
        synaptic_current: per layer, A.
        state: per layer, the full :class:`~memsnn.network.LayerState` over time.
        spike_times: per layer, ``(batch, n_steps, n)``: the time (s) of the spike emitted in each
            step (the located threshold crossing, ``spike_timing="exact"``; with events the first
            one of the step), ``+inf`` where the neuron did not spike in that step. :meth:`first_spike_times` and
            :meth:`spike_time_list` read it (docs/spike-times.md).
        recorded: one entry per function given in ``record``, its output stacked as
            ``(batch, n_steps, ...)``; ``()`` if there were none.
        final_state: the network state after the last step, batched.
        step_ratio: ``(batch,)`` max over the run of ``h * decay_rate`` for an explicit fixed-step
            integrator (stable below about 2; for :class:`~memsnn.integrators.ExponentialEuler` the
            rate left beside the exactly integrated linear parts), NaN for adaptive or implicit integrators.
        solver_steps: ``(batch,)`` solver steps accepted over the run (fixed-step schemes:
            ``n_steps`` times the sub-steps; adaptive: what the step-size controller chose).
        rejected_steps: ``(batch,)`` steps the step-size controller rejected (0 for fixed steps).
        result: ``(batch,)`` a :class:`~memsnn.RESULTS` code per sample (0 = successful). With
            ``throw=True`` (the default) a failure raises instead, so this is then all zeros.
    """

    times: Float[Array, " n_steps"]
    membrane_potential: tuple | None
    spikes: tuple | None
    synaptic_current: tuple | None
    state: tuple | None
    recorded: tuple
    final_state: Any
    step_ratio: Float[Array, " batch"]
    solver_steps: Int[Array, " batch"]
    rejected_steps: Int[Array, " batch"]
    result: Int[Array, " batch"]
    spike_times: tuple | None = None

    def _spike_times(self, layer: int):
        if self.spike_times is None:
            raise ValueError("Trace: spike times were not recorded; run simulate(..., spike_timing='exact', "
                             "record=(..., 'spike_times')).")
        return self.spike_times[layer]

    def first_spike_times(self, layer: int = -1, *, missing: float | None = None) -> Float[Array, "batch n"]:
        """First spike time (s) of every neuron of ``layer``, ``(batch, n)``.

        A neuron that did not fire gets ``missing`` (default: the end of the run, ``n_steps dt``),
        with a zero gradient: a finite, documented value, never NaN or inf (docs/spike-times.md).
        """
        times = self._spike_times(layer)
        end = self.times[-1] if missing is None else missing
        first = jnp.min(times, axis=1)
        return jnp.where(jnp.isfinite(first), first, jnp.asarray(end, first.dtype))

    def spike_time_list(self, layer: int = -1, max_spikes: int = 8) -> Float[Array, "batch n max_spikes"]:
        """The first ``max_spikes`` spike times (s) of every neuron of ``layer``, in order,
        ``(batch, n, max_spikes)``, padded with ``+inf`` (a bound on the spikes kept per neuron)."""
        times = jnp.moveaxis(self._spike_times(layer), 1, -1)
        k = min(int(max_spikes), times.shape[-1])
        neg, _ = jax.lax.top_k(-times, k)
        out = -neg
        if k < max_spikes:
            out = jnp.concatenate([out, jnp.full(out.shape[:-1] + (max_spikes - k,), jnp.inf, out.dtype)], axis=-1)
        return out

    def failed_as_nan(self, x: Float[Array, "batch ..."]) -> Float[Array, "batch ..."]:
        """``x`` (any array with the batch first, e.g. ``membrane_potential[-1]``) with the samples
        whose run failed (``result != 0``) set to NaN.

        With ``throw=False`` this turns a failure into data that every later computation carries
        (a NaN loss, NaN gradients), which is the safe way to report it when the batch is split
        over several devices: see ``throw`` in :func:`simulate`.
        """
        failed = (self.result != RESULTS.successful).reshape(self.result.shape + (1,) * (x.ndim - 1))
        return jnp.where(failed, jnp.asarray(jnp.nan, x.dtype), x)


_UNSTABLE = (
    "memsnn.simulate: the explicit integrator is unstable for this step size: h * decay_rate went "
    "above the scheme's stability limit (about 2 for Euler and Heun; see Trace.step_ratio, and "
    "memsnn.stability_ratio to check a configuration before running). For the MIF neuron this "
    "happens when the memristors switch on (dt (G1 + G2) / C > 2). Stable choices: a smaller dt, "
    "sub-steps (Euler(substeps=4)), or an implicit / adaptive solver such as "
    "Diffrax(diffrax.Kvaerno5(), diffrax.PIDController(rtol=1e-6, atol=1e-9)). For a sweep that "
    "should survive unstable points, pass throw=False and read Trace.result."
)
_NAN = (
    "memsnn.simulate: the simulation produced NaN or inf. Check the parameters and input amplitudes "
    "(impossible devices, enormous inputs); with an explicit integrator, try a smaller dt, sub-steps "
    "or an implicit solver (Diffrax(diffrax.Kvaerno5(), diffrax.PIDController(...))). For a sweep "
    "that should survive such points, pass throw=False and read Trace.result."
)


def _check_initial_state(network, initial_state, batch, events=False):
    expected = jax.eval_shape(lambda key: network.init_state(key, events=events), jax.random.key(0))
    given_def, expected_def = jax.tree.structure(initial_state), jax.tree.structure(expected)
    if given_def != expected_def:
        raise ValueError("simulate: initial_state must have the structure of network.init_state() (a tuple of "
                         "memsnn.LayerState, one per layer), with a leading batch axis on every array; got "
                         f"{given_def}, expected {expected_def}. To continue a run, pass trace.final_state"
                         + (" (an event run's state: network.init_state(events=True))." if events else "."))
    for path, leaf, ref in zip(jax.tree_util.tree_leaves_with_path(initial_state), jax.tree.leaves(initial_state),
                               jax.tree.leaves(expected)):
        want = (batch,) + tuple(ref.shape)
        if tuple(jnp.shape(leaf)) != want:
            where = jax.tree_util.keystr(path[0])
            raise ValueError(f"simulate: initial_state{where} has shape {tuple(jnp.shape(leaf))}, expected {want} "
                             f"(the stimulus's batch of {batch}, then the component's own shape). For one state "
                             "shared by every sample, broadcast it: jax.tree.map(lambda x: jnp.broadcast_to(x, "
                             "(batch,) + x.shape), state).")


def _check_inputs(network, stimulus, dt, n_steps, solver, names, fns, key, layerwise, fold_batch,
                  checkpoint_every, unroll, spike_timing="grid"):
    if not isinstance(network, Network):
        raise TypeError(f"simulate: network must be a memsnn.Network, got {type(network).__name__}.")
    if not isinstance(stimulus, (Impulses, Current)):
        raise TypeError("simulate: stimulus must be memsnn.Impulses or memsnn.Current, "
                        f"got {type(stimulus).__name__}.")
    if not isinstance(solver, AbstractIntegrator):
        hint = (f" (a name such as {solver!r} is a CLI option; in Python pass an object, e.g. memsnn.Euler(), "
                "memsnn.SpicepropEuler() or memsnn.Diffrax(diffrax.Tsit5()))") if isinstance(solver, str) else ""
        raise TypeError(f"simulate: solver must be a memsnn integrator, got {type(solver).__name__}{hint}.")
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"simulate: n_steps must be a positive integer, got {n_steps}.")
    if not isinstance(dt, jax.core.Tracer) and not float(dt) > 0:
        raise ValueError(f"simulate: dt must be > 0 seconds, got {dt}.")
    unknown = set(names) - set(RECORDABLE)
    if unknown:
        raise ValueError(f"simulate: cannot record {sorted(unknown)}; choose from {RECORDABLE} or pass "
                         "functions fn(t, state, network).")
    if checkpoint_every is not None and (isinstance(checkpoint_every, bool) or int(checkpoint_every) != checkpoint_every
                                         or checkpoint_every < 1):
        raise ValueError(f"simulate: checkpoint_every must be a positive integer or None, got {checkpoint_every!r}.")
    if isinstance(unroll, bool) or int(unroll) != unroll or unroll < 1:
        raise ValueError(f"simulate: unroll must be a positive integer, got {unroll!r}.")
    if spike_timing not in SPIKE_TIMINGS:
        raise ValueError(f"simulate: spike_timing must be one of {SPIKE_TIMINGS}, got {spike_timing!r}.")
    if "spike_times" in names and spike_timing != "exact":
        raise ValueError("simulate: recording 'spike_times' needs spike_timing='exact' (spikes located inside "
                         "their step; docs/spike-times.md).")
    if solver.stops_at_events:
        if spike_timing != "exact":
            raise ValueError(f"simulate: {solver.name} with events=True stops at threshold crossings to give spikes "
                             "their times; it needs spike_timing='exact' (with spike_timing='grid' spikes are read at "
                             "grid points: use the integrator without events).")
        unable = [i for i, layer in enumerate(network.layers) if not layer.array.supports_events]
        if unable:
            raise ValueError(f"simulate: layer(s) {unable} have arrays read once per grid step that have no event "
                             f"reads ({sorted({type(network.layers[i].array).__name__ for i in unable})}), which "
                             "events inside a step cannot feed; run them without events (spike_timing='exact' "
                             "locates the crossings inside each step).")
    if spike_timing == "exact":
        if layerwise and len(network.layers) > 1:
            raise ValueError("simulate: layerwise=True drives each layer with the spikes of the one below on the "
                             "grid, which loses their times; exact spike timing needs the step-by-step run "
                             "(layerwise=False).")
        for i, layer in enumerate(network.layers):
            try:
                jax.eval_shape(layer.threshold, jax.eval_shape(layer.init_state))
            except TypeError as err:
                raise TypeError(f"simulate: spike_timing='exact', layer {i}: {err}") from None
    for layer in network.layers:
        layer.array.check_grid(dt, int(n_steps), events=solver.stops_at_events)
    if isinstance(stimulus, Impulses) and stimulus.lag is not None:
        if spike_timing != "exact":
            raise ValueError("simulate: Impulses with lag (arrival times inside their steps) need "
                             "spike_timing='exact'.")
        if stimulus.lag.shape != stimulus.amplitude.shape:
            raise ValueError(f"simulate: Impulses.lag must have the shape of its amplitude "
                             f"{stimulus.amplitude.shape}, got {stimulus.lag.shape}.")
    if network.stochastic and key is None:
        raise ValueError("simulate: the network has stochastic components (e.g. read noise), so it needs a "
                         "PRNG key: simulate(..., key=jax.random.key(seed)). The same key gives the same run.")
    if fns and (layerwise or fold_batch):
        raise ValueError("simulate: functions in record need the whole network state at every step; they "
                         "cannot be combined with layerwise=True or fold_batch=True.")
    if fold_batch:
        bad = [i for i, layer in enumerate(network.layers) if layer.array.tiled(2) is None]
        if bad or network.stochastic:
            raise ValueError("simulate: fold_batch=True simulates a batch of B samples of n neurons as one "
                             "population of B*n neurons, which is exact only for networks whose arrays are "
                             "elementwise (memsnn.Identity; arrays that implement tiled()) and that draw no "
                             f"noise; layer(s) {bad} have arrays that mix their inputs.")
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


@eqx.filter_jit
def simulate(
    network: Network,
    stimulus: Impulses | Current,
    *,
    dt: float,
    n_steps: int,
    solver: AbstractIntegrator | None = None,
    record: tuple = ("membrane_potential",),
    key: PRNGKeyArray | None = None,
    throw: bool = True,
    layerwise: bool = False,
    fold_batch: bool = False,
    checkpoint_every: int | None = None,
    unroll: int = 1,
    initial_state: Any = None,
    spike_timing: str = "grid",
) -> Trace:
    """Simulate ``network`` driven by a batched ``stimulus`` for ``n_steps`` grid steps of ``dt``.

    Args:
        network: the circuit.
        stimulus: :class:`~memsnn.Impulses` ``(batch, n_events, n_in)`` or :class:`~memsnn.Current`
            ``(batch, n_in)`` / ``(batch, n_steps, n_in)``.
        dt: grid step (s): the recording interval and, for Euler, the step size.
        n_steps: number of grid steps; the run covers ``[0, n_steps * dt]``.
        solver: an integrator object, default :class:`~memsnn.integrators.Euler`.
        record: what to keep over time: names from :data:`RECORDABLE`, and/or functions
            ``fn(t, state, network) -> pytree`` (like diffrax's ``SubSaveAt(fn=...)``), whose outputs
            land in ``Trace.recorded`` in the order given. Keeping less saves memory.
        key: PRNG key of the run, required when a component is stochastic (read noise, write noise
            of a plasticity rule's updates, ...): the same key gives the same run, sample ``i`` of
            the batch gets its own stream, split from ``key``, so it depends on the batch size. Or
            ``(batch,)`` keys, one per sample: sample ``i``'s noise then depends on ``key[i]``
            only, whatever batch it runs in (evaluate a data set with keys by sample index,
            :func:`memsnn.training.predict.image_keys`). Inside the run every grid step, layer and event
            (an array's read, a plasticity rule's write) draws from its own stream.
        throw: raise on failure (unstable explicit step, NaN/inf, adaptive solver failure); with
            ``False`` the run completes and ``Trace.result`` holds a :class:`~memsnn.RESULTS` code
            per sample, so a vmapped sweep survives its bad points. With a batch split over
            several devices (a sharded ``jit``), pass ``False`` and make the failure data
            (:meth:`Trace.failed_as_nan`): the raising check is a host callback that XLA runs on one
            device, and if a collective follows (a gradient all-reduce, gathering the outputs) the
            other devices wait for that device until XLA aborts the process. memsnn's training and
            evaluation work this way (see :func:`memsnn.training.fit`).
        layerwise: execution option for feed-forward networks: simulate one layer at a time over all
            steps, each driven by the recorded spikes of the layer below (as dense impulses). For
            linear time-invariant arrays the array is then applied to all steps in one product
            outside the time loop (much faster for convolutional layers). Same numbers as the plain
            run for integrators that apply impulses after the step (Euler, Diffrax);
            ``solver_steps`` are summed over layers.
        fold_batch: execution option for networks of elementwise arrays (:class:`~memsnn.Identity`; each neuron
            has its own input): simulate the batch of ``B`` samples of ``n`` neurons as one
            population of ``B n`` neurons (better vectorised on CPUs for small ``n``). Same numbers
            with fixed-step integrators; adaptive step control then sees the whole batch at once,
            and ``result`` is the whole population's (``step_ratio`` stays per sample).
        checkpoint_every: store one state per this many steps for the backward pass and recompute
            the rest (memory O(T/k + k) instead of O(T)); ``None`` keeps all.
        unroll: grid steps per iteration of the time loop (the step-by-step loop of LIF, IF and
            multi-layer networks, and the fixed-step loops between sparse impulses); a few (e.g.
            5) let XLA fuse consecutive steps: often 1.4-2x faster on CPU for small layers, at a
            longer compile. With ``checkpoint_every``, ``unroll = checkpoint_every`` turns each
            checkpointed chunk into straight-line code (the SPICEprop default). Same numbers.
        initial_state: the network state at t = 0, batched (every leaf ``(batch, ...)``), e.g. a
            previous run's ``Trace.final_state`` to continue it: this is how weights learned by a
            plasticity rule carry from one stimulus to the next. ``None``: every component's
            ``init_state`` (drawn with ``key`` for stochastic components).
        spike_timing: ``"grid"`` (default): spikes are read at grid points and act there.
            ``"exact"``: a spike is the upward crossing of the neuron's threshold function, located
            inside its step by the integrator's interpolant (:meth:`AbstractIntegrator.crossing_fraction`)
            as a differentiable expression of the step's states; the reset and the impulses it sends
            act at that time (to first order in the time left to the grid point), so gradients flow
            through spike times across layers. Record ``"spike_times"`` to keep them
            (:meth:`Trace.first_spike_times`). Runs step by step. With an integrator that stops at
            threshold crossings (``Diffrax(..., events=True)``, adaptive steps) the crossing is a
            root of the solver's dense output and the event maps act exactly there instead.
            docs/spike-times.md.

    Returns:
        A :class:`Trace`. With ``throw=True`` it errors (at run time, also under ``jit``, ``vmap``
        and ``grad``) if an explicit step was unstable, the state became NaN/inf, or an adaptive
        solve failed.

    Precision: the arithmetic is in the network's dtype (float64 with ``jax_enable_x64``), except
    that on NVIDIA GPUs JAX multiplies float32 matrices (the synapse arrays) in TF32 by default;
    set ``JAX_DEFAULT_MATMUL_PRECISION=highest`` (or ``jax.default_matmul_precision("highest")``)
    for full float32 when comparing with SPICE or another simulator.
    """
    solver = Euler() if solver is None else solver
    record = (record,) if isinstance(record, str) or callable(record) else tuple(record)
    names = tuple(r for r in record if isinstance(r, str))
    fns = tuple(r for r in record if not isinstance(r, str))
    bad = [r for r in fns if not callable(r)]
    if bad:
        raise TypeError(f"simulate: record entries must be names from {RECORDABLE} or functions, got {bad!r}.")
    _check_inputs(network, stimulus, dt, n_steps, solver, names, fns, key, layerwise, fold_batch,
                  checkpoint_every, unroll, spike_timing)
    batch = stimulus.amplitude.shape[0]
    if initial_state is not None:
        if fold_batch:
            raise ValueError("simulate: initial_state cannot be combined with fold_batch=True; run without "
                             "fold_batch (same numbers).")
        _check_initial_state(network, initial_state, batch, events=solver.stops_at_events)
    layer_keys = None
    if key is not None:
        # One stream per sample and layer: the same in the stepwise and the layerwise run.
        sample_keys = key if _per_sample(key, batch) else jax.random.split(key, batch)
        layer_keys = jax.vmap(lambda k: jnp.stack([jax.random.fold_in(k, j) for j in range(len(network.layers))])
                              )(sample_keys)
    options = dict(dt=dt, n_steps=int(n_steps), solver=solver, checkpoint_every=checkpoint_every, unroll=int(unroll),
                   exact=spike_timing == "exact")
    if fold_batch:
        folded, folded_stimulus = _fold(network, stimulus)
        out = _run(folded, folded_stimulus, names, fns, None, None, samples=batch, **options)
    elif layerwise and len(network.layers) > 1:
        out = _run_layerwise(network, stimulus, names, layer_keys, initial_state, **options)
    else:
        out = _run(network, stimulus, names, fns, layer_keys, initial_state, **options)
    final, saved, ratio, stats = out  # ratio: (B,), one per sample also when folded

    # Per-sample outcome; the worse code wins. Instability is named before NaN: a diverging
    # explicit run ends in inf/NaN, and the step ratio says why.
    h = solver.explicit_step(dt)
    unstable = ratio > solver.stability_limit if h is not None else jnp.zeros(ratio.shape, bool)
    finite = jnp.stack([jnp.all(jnp.isfinite(x), axis=tuple(range(1, x.ndim))) for x in jax.tree.leaves(final)])
    nonfinite = ~jnp.all(finite, axis=0)
    result = jnp.where(unstable, RESULTS.unstable_step,
                       jnp.where(nonfinite, RESULTS.nonfinite_state, stats.result)).astype(jnp.int32)
    if throw:
        # One check on everything returned, so that it survives whatever part of the Trace the
        # caller keeps (a check tied to an unused output would be pruned by XLA).
        worst = jnp.max(result)
        messages = (solver.failure_message(RESULTS.solver_failed), solver.failure_message(RESULTS.max_steps_reached),
                    _NAN, _UNSTABLE)
        # Only a scalar goes through the check, then joins every output: when the batch is
        # sharded over devices, the check's callback runs on one device, and a trace routed through
        # it would be gathered there (XLA's "involuntary full rematerialization").
        token = eqx.branched_error_if(jnp.zeros((), jnp.int32), worst > 0, jnp.maximum(worst - 1, 0), messages)
        # Added to one element of each (a broadcast add would be one more pass over every trace).
        final, saved, ratio = jax.tree.map(lambda x: x.at[(0,) * x.ndim].add(token.astype(x.dtype)) if x.size else x,
                                           (final, saved, ratio))
    if fold_batch:
        # After the check, so that XLA can fuse the (time, batch) transposes with what consumes them.
        final, saved, ratio, stats, result = _unfold(final, saved, ratio, stats, result, batch)
    return Trace(
        times=dt * jnp.arange(1, n_steps + 1),
        membrane_potential=saved.get("membrane_potential"),
        spikes=saved.get("spikes"),
        synaptic_current=saved.get("synaptic_current"),
        state=saved.get("state"),
        recorded=saved.get("recorded", ()),
        spike_times=saved.get("spike_times"),
        final_state=final,
        step_ratio=ratio,
        solver_steps=stats.accepted,
        rejected_steps=stats.rejected,
        result=result,
    )


def _per_sample(key, batch: int) -> bool:
    """Whether ``key`` is ``(batch,)`` keys, one per sample (``False``: one key for the run)."""
    one = () if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else (2,)
    shape = tuple(key.shape)
    if shape == one:
        return False
    if shape == (batch,) + one:
        return True
    raise ValueError(f"simulate: key must be one PRNG key or one per sample ({batch},), got keys of shape "
                     f"{shape[:len(shape) - len(one)]}; use jax.random.key(seed), or "
                     f"memsnn.training.image_keys(key, indices) for one per sample.")


def _read_bases(layer_keys, n_layers):
    """Per layer ``(init_key, read_key_base)`` of one sample (``None`` without keys)."""
    if layer_keys is None:
        return (None,) * n_layers, (None,) * n_layers
    pairs = [jax.random.split(layer_keys[j]) for j in range(n_layers)]
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def _run(network: Network, stimulus, names, fns, layer_keys, initial_state, *, dt, n_steps, solver,
         checkpoint_every, unroll, exact: bool = False, samples: int = 1):
    """The time loop over a batch: ``(final_state, saved, step_ratio, SolveStats)``, each batched.

    ``samples``: the samples folded into each population (``fold_batch``): the step ratio is then
    reduced per sample (:meth:`Network.decay_rate`), and ``step_ratio`` is ``(batch * samples,)``.
    """
    h = solver.explicit_step(dt)
    n_layers = len(network.layers)
    first = network.layers[0]
    is_current = isinstance(stimulus, Current)
    time_varying = is_current and stimulus.amplitude.ndim == 3
    event_steps = () if is_current or stimulus.steps is None else stimulus.steps
    per_step_rows = (is_current and time_varying) or (not is_current and stimulus.steps is None)
    on_grid = network.needs_grid_events or per_step_rows or exact
    events = exact and solver.stops_at_events  # arrays read at the spike times, delays as pending arrivals
    every = first.array.reads_every_step
    each_row = per_step_rows or (bool(event_steps) and every)  # a jump at every step

    def save(t, state, spikes, spike_times=None):
        out = {}
        if "membrane_potential" in names:
            out["membrane_potential"] = tuple(l.neuron.membrane_potential(s.neuron) for l, s in zip(network.layers, state))
        if "spikes" in names:
            out["spikes"] = spikes
        if "synaptic_current" in names:
            out["synaptic_current"] = tuple(l.synaptic_current(s) for l, s in zip(network.layers, state))
        if "state" in names:
            out["state"] = state
        if "spike_times" in names:
            out["spike_times"] = spike_times
        if fns:
            out["recorded"] = tuple(fn(t, state, network) for fn in fns)
        return out

    def ratio_at(state, drive):
        if h is None:
            return jnp.full((samples,), jnp.nan)
        return h * network.decay_rate(state, drive, samples=samples, residual=solver.exact_linear_part)

    def one_sample(amp, lag_amp, keys, given_state):
        init_keys, read_bases = _read_bases(keys, n_layers)

        def read_keys(k):
            return None if keys is None else tuple(jax.random.fold_in(b, k) for b in read_bases)

        if given_state is None:
            state0 = tuple(layer.init_state(k, events=events) for layer, k in zip(network.layers, init_keys))
        else:
            state0 = given_state
        # The first array's reads: for a linear time-invariant array, all rows in one product
        # outside the loop (T matrix-vector products, and T more backwards, become one matmul).
        # Sparse event rows are read before they are spread over the grid: the empty rows cost
        # nothing (a latency code's inputs arrive in the first half of the run).
        mapped = mapped_lag = None
        if first.hoistable:
            mapped = first.array(amp) if amp.ndim == 1 else jax.vmap(first.array)(amp)
            if lag_amp is not None:
                mapped_lag = jax.vmap(first.array.lagged_drive)(amp, lag_amp)
        if on_grid and event_steps:
            # Sparse events on a step-by-step run: one row per step, and a mask of the event steps.
            rows = jnp.asarray(event_steps)

            def spread(x):
                return None if x is None else jnp.zeros((n_steps,) + x.shape[1:], x.dtype).at[rows].set(x)

            mask = jnp.zeros((n_steps,), bool).at[rows].set(True)
            amp, lag_amp, mapped, mapped_lag = spread(amp), spread(lag_amp), spread(mapped), spread(mapped_lag)
            if every:
                mask = None  # an array read at every step (its state moves on): empty rows are reads too
        else:
            mask = None

        def read_first(row, y, k, t=None):
            """The first array's read: ``(weight, lagged, y)`` (``y`` with the array's state after it);
            ``t``: the read's time in an event run (arrays with delays hold the impulses back)."""
            if mapped is not None:
                weight = mapped if mapped.ndim == 1 else mapped[row]
                return weight, (None if mapped_lag is None else mapped_lag[row]), y
            presynaptic = amp if amp.ndim == 1 else amp[row]
            key = None if keys is None else read_keys(k)[0]
            lag = None if lag_amp is None else lag_amp[row]
            if every:
                if exact and lag is None and not is_current:
                    lag = jnp.zeros_like(presynaptic)
                weight, lagged, first_state = first.read_into(y[0], presynaptic, key, lag, t if events else None)
                return weight, lagged, (first_state,) + tuple(y[1:])
            weight = first.read(y[0], presynaptic, key)
            lagged = None if lag is None else first.array.lagged_drive(presynaptic, lag, y[0].array, key=key)
            if first.plasticity is not None:
                # The layer's state after the read waits for the read: a plasticity rule then
                # updates the weights in place. Without this tie the update (which does not need
                # this step's read: a neuron's impulse moves its membrane at the next step) may run
                # beside the read, and XLA copies the whole weight matrix at every step. The tie is
                # on the rule's state (its traces, what the update is made of), not on the weights:
                # an update that changes a few columns then touches only those.
                tie = 0.0 * weight.reshape(-1)[0]
                layer = y[0]._replace(plasticity=jax.tree.map(lambda a: a + tie.astype(a.dtype), y[0].plasticity))
                y = (layer,) + tuple(y[1:])
            return weight, lagged, y

        def weight_of(row, y, k):
            return read_first(row, y, k)[0]

        def jump_at(row, k):
            def jump(y):
                presynaptic = None if first.plasticity is None else amp[row]
                weight, lagged, read = read_first(row, y, k, (k + 1) * dt)
                key = None if keys is None or presynaptic is None else read_keys(k)[0]
                injected = network.inject(read, weight, presynaptic, lagged, (k + 1) * dt, key)
                if mask is None:
                    return injected
                return jax.tree.map(lambda a, b: jnp.where(mask[k], a, b), injected, y)
            return jump

        if on_grid and exact and solver.stops_at_events:
            resets = tuple(layer.neuron.has_event_rule for layer in network.layers)

            def immediate(y):
                flags = network.read_spikes(y)
                return tuple((f > 0) if r else jnp.zeros(f.shape, bool) for f, r in zip(flags, resets))

            def body(y, k):
                drive = None
                if is_current:
                    drive, _, y = read_first(k if time_varying else None, y, k, k * dt)
                jump = None if is_current or (mask is None and not each_row) else jump_at(k, k)
                t1 = (k + 1) * dt

                def fire_at(y, t, crossed, start, index):
                    # The event maps act at the crossing itself: no lag to correct for.
                    end = network.thresholds(y)
                    keys = read_keys(k)
                    keys = None if keys is None else tuple(jax.random.fold_in(key, index) for key in keys)
                    y, spikes, _ = network.fire(y, keys, SpikeTiming(t, drive, start, end,
                                                                     tuple(jnp.zeros_like(g) for g in end), crossed,
                                                                     events=True))
                    return y, spikes

                maps = EventMaps(network.thresholds, immediate, resets, fire_at, network.next_arrival, network.deliver)
                y_end, first, count, start, stats = solver.advance_events(network, y, drive, k * dt, dt, maps)
                # The impulses that land at the grid point, and the spikes they cause there.
                y_new = y_end if jump is None else jump(y_end)
                end = network.thresholds(y_end)
                y, spikes, _ = network.fire(y_new, read_keys(k), SpikeTiming(t1, drive, start, end,
                                                                             tuple(jnp.zeros_like(g) for g in end),
                                                                             events=True))
                times = tuple(jnp.minimum(f, jnp.where(s > 0, t1, jnp.inf)) for f, s in zip(first, spikes))
                spikes = tuple(c + s for c, s in zip(count, spikes))
                return y, (save(t1, y, spikes, times), ratio_at(y, drive), stats)

            final, (saved, ratios, stats) = checkpointed_scan(body, state0, n_steps, checkpoint_every, unroll)
            stats = SolveStats(jnp.sum(stats.accepted), jnp.sum(stats.rejected), jnp.max(stats.result))
        elif on_grid and exact:
            after = solver.jumps_after_step

            def body(y, k):
                drive = None
                if is_current:
                    drive, _, y = read_first(k if time_varying else None, y, k)
                jump = None if is_current or (mask is None and not each_row) else jump_at(k, k)
                t0, t1 = k * dt, (k + 1) * dt
                y_end, _, stats = solver.advance(network, y, None if after else jump, drive, t0, dt, 1, None)
                # The step's own end state (before its impulses, when the integrator applies them after it).
                y_new = jump(y_end) if (after and jump is not None) else y_end
                g0, g1 = network.thresholds(y), network.thresholds(y_end)
                if solver.dense_order > 1:
                    dg0, dg1 = network.threshold_rates(t0, y, drive), network.threshold_rates(t1, y_end, drive)
                else:
                    dg0 = dg1 = (None,) * n_layers
                lags = []
                for a, b, da, db in zip(g0, g1, dg0, dg1):
                    frac = solver.crossing_fraction(a, b, da, db, dt)
                    lags.append(jnp.where(a >= 0, dt, jnp.where(b >= 0, (1.0 - frac) * dt, 0.0)))
                y, spikes, lags = network.fire(y_new, read_keys(k), SpikeTiming(t1, drive, g0, g1, tuple(lags)))
                times = tuple(jnp.where(s > 0, t1 - lag, jnp.inf) for s, lag in zip(spikes, lags))
                return y, (save(t1, y, spikes, times), ratio_at(y, drive), stats)

            final, (saved, ratios, stats) = checkpointed_scan(body, state0, n_steps, checkpoint_every, unroll)
            stats = SolveStats(jnp.sum(stats.accepted), jnp.sum(stats.rejected), jnp.max(stats.result))
        elif on_grid:
            def body(y, k):
                # A current is read at the start of each step and held over it (sample and hold).
                drive = None
                if is_current:
                    drive, _, y = read_first(k if time_varying else None, y, k)
                jump = None if is_current or (mask is None and not each_row) else jump_at(k, k)
                y, _, stats = solver.advance(network, y, jump, drive, k * dt, dt, 1, None)
                y, spikes = network.fire(y, read_keys(k))
                return y, (save((k + 1) * dt, y, spikes), ratio_at(y, drive), stats)

            final, (saved, ratios, stats) = checkpointed_scan(body, state0, n_steps, checkpoint_every, unroll)
            stats = SolveStats(jnp.sum(stats.accepted), jnp.sum(stats.rejected), jnp.max(stats.result))
        else:
            # Nothing happens between impulses: the integrator advances stretch by stretch
            # [s_i, s_{i+1}), the impulse of step s_i landing at the end of the stretch's first step.
            drive = weight_of(None, state0, 0) if is_current else None
            bounds = sorted(set((0,) + tuple(event_steps))) + [n_steps]
            event_row = {s: i for i, s in enumerate(event_steps)}
            stretches = tuple((start, stop, event_row.get(start)) for start, stop in zip(bounds[:-1], bounds[1:]))

            def save_fn(t, y):
                return save(t, y, network.read_spikes(y)), ratio_at(y, drive)

            final, (saved, ratios), stats = solver.advance_stretches(network, state0, stretches, jump_at, drive, dt,
                                                                     save_fn, checkpoint_every, unroll)
        # nanmax: once an unstable run has overflowed, the last ratios are NaN.
        return final, saved, (jnp.nanmax(ratios, axis=0) if h is not None else jnp.max(ratios, axis=0)), stats

    lag = stimulus.lag if isinstance(stimulus, Impulses) else None
    samples_in = (stimulus.amplitude, lag, layer_keys, initial_state)
    if stimulus.amplitude.shape[0] == 1:
        # A batch of one runs as the sample itself: the same numbers, and work that depends on the
        # data inside the step stays sparse: a loop that runs only when needed, the few columns
        # a plasticity rule changes (memsnn.plasticity.pair.updated_at_spikes). Under vmap the
        # loop's body would be masked by a select over its whole carry (the weight matrix) and
        # the change of a few columns would be computed for all: 21 instead of 16 us per
        # Diehl & Cook step on one core.
        out = one_sample(*jax.tree.map(lambda x: x[0], samples_in))
        final, saved, ratio, stats = jax.tree.map(lambda x: x[None], out)
    else:
        final, saved, ratio, stats = jax.vmap(one_sample)(*samples_in)
    return final, saved, ratio.reshape(-1), stats


def _run_layerwise(network: Network, stimulus, names, layer_keys, initial_state, **options):
    """One layer at a time, each driven by the spikes of the one below as dense impulses."""
    per_layer, finals, ratios, stats, drive = [], [], [], None, stimulus
    for j, layer in enumerate(network.layers):
        keys = None if layer_keys is None else layer_keys[:, j:j + 1]
        given = None if initial_state is None else (initial_state[j],)
        final, saved, ratio, taken = _run(Network([layer]), drive, tuple(set(names) | {"spikes"}), (), keys, given,
                                          **options)
        per_layer.append(saved)
        finals.append(final[0])
        ratios.append(ratio)
        stats = taken if stats is None else SolveStats(stats.accepted + taken.accepted, stats.rejected + taken.rejected,
                                                       jnp.maximum(stats.result, taken.result))
        drive = Impulses(saved["spikes"][0])
    saved = {name: tuple(s[name][0] for s in per_layer) for name in names}
    return tuple(finals), saved, jnp.max(jnp.stack(ratios), axis=0), stats


def _tile_per_neuron(component, n: int, batch: int):
    def tile(leaf):
        if not eqx.is_inexact_array(leaf) or leaf.ndim == 0:
            return leaf
        if leaf.shape != (n,):
            raise ValueError(f"simulate: fold_batch=True: a parameter of {type(component).__name__} has shape "
                             f"{leaf.shape}; only scalars and per-neuron ({n},) arrays can be folded.")
        return jnp.tile(leaf, batch)
    return None if component is None else jax.tree.map(tile, component)


def _fold(network: Network, stimulus):
    """The batch as one population: per-neuron parameters repeated for every sample."""
    batch = stimulus.amplitude.shape[0]
    layers = []
    for layer in network.layers:
        n = layer.size
        layers.append(Layer(layer.array.tiled(batch),
                            *(_tile_per_neuron(c, n, batch) for c in (layer.synapse, layer.neuron,
                                                                     layer.plasticity, layer.energy))))
    def merge(amp):
        return jnp.moveaxis(amp, 0, -2).reshape(amp.shape[1:-1] + (batch * amp.shape[-1],))[None]

    merged = merge(stimulus.amplitude)
    if isinstance(stimulus, Impulses):
        return Network(layers), Impulses(merged, stimulus.steps, None if stimulus.lag is None else merge(stimulus.lag))
    return Network(layers), Current(merged)


def _unfold(final, saved, ratio, stats, result, batch: int):
    """Undo :func:`_fold` on the outputs: ``(1, ..., B n)`` back to ``(B, ..., n)``; the population's
    step counts and result are every sample's (the step ratio is already per sample)."""

    def split(x):
        x = x[0]
        return jnp.moveaxis(x.reshape(x.shape[:-1] + (batch, x.shape[-1] // batch)), -2, 0)

    saved = {name: tuple(jax.tree.map(split, v) for v in value) for name, value in saved.items()}
    final = tuple(jax.tree.map(split, s) for s in final)
    result = jnp.broadcast_to(result, (batch,))
    stats = SolveStats(*(jnp.broadcast_to(x, (batch,)) for x in stats))
    return final, saved, ratio, stats, result


def stability_ratio(network: Network, solver: AbstractIntegrator, dt: float, state=None, drive=None) -> float:
    """``h * decay_rate / limit`` at ``state`` (default: the initial state): > 1 means unstable.

    ``drive`` is a current (A) into the first layer's membrane, after its array.
    """
    h = solver.explicit_step(dt)
    if h is None:
        return 0.0
    state = network.init_state() if state is None else state
    rate = network.decay_rate(state, drive, residual=solver.exact_linear_part)
    return float(h * jnp.max(rate) / solver.stability_limit)
