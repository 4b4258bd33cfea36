"""Simulate a memsnn network in ngspice and read the result back on memsnn's time grid."""

from __future__ import annotations

import dataclasses
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..network import Network
from ..stimulus import Current, Impulses
from .._ngspice import run_ngspice
from .netlist import TransientOptions, _netlist, check_exportable, element


@dataclasses.dataclass(frozen=True)
class NgspiceTrace:
    """ngspice's transient of a one-layer network, sampled at memsnn's grid times.

    Attributes:
        times: ``(n_steps,)`` grid times ``(k + 1) dt`` (s), as :attr:`memsnn.Trace.times`.
        signals: name -> ``(batch, n_steps, n)`` in SI units, each the state recorded after grid
            step ``k`` as memsnn records it (an impulse of step ``k`` included): ``"v"`` membrane
            potential (V), ``"x1"``, ``"x2"`` memristor states (MIF), ``"a"`` alpha auxiliary
            current (A), ``"isyn"`` synaptic current (A).
        n_timepoints: number of time points ngspice accepted (all neurons share them).
        wall_time: seconds of :func:`~memsnn.export.run_ngspice`: the ngspice process (parsing, the
            transient, writing the raw file) and reading the raw file back.
        netlist: the netlist that was run.
    """

    times: np.ndarray
    signals: dict[str, np.ndarray]
    n_timepoints: int
    wall_time: float
    netlist: str

    @property
    def membrane_potential(self) -> np.ndarray:
        """``(batch, n_steps, n)`` membrane potential (V)."""
        return self.signals["v"]


def network_netlist(
    network: Network,
    stimulus: Impulses | Current,
    *,
    dt: float,
    n_steps: int,
    options: TransientOptions | None = None,
    record: Sequence[str] = ("v",),
    grid_breakpoints: bool = True,
) -> str:
    """The netlist :func:`simulate_ngspice` runs: one SPICE neuron per (sample, neuron) pair.

    Neuron ``j`` of sample ``b`` is SPICE neuron ``b * n + j``. Arguments as :func:`simulate_ngspice`.
    """
    return _prepare(network, stimulus, dt, n_steps, options, record, grid_breakpoints)[0]


def simulate_ngspice(
    network: Network,
    stimulus: Impulses | Current,
    *,
    dt: float,
    n_steps: int,
    options: TransientOptions | None = None,
    record: Sequence[str] = ("v",),
    grid_breakpoints: bool = True,
    executable: str | None = None,
    timeout: float | None = None,
) -> NgspiceTrace:
    """Run the same simulation as :func:`memsnn.simulate` in ngspice (continuous time, its own steps).

    Args:
        network: one layer of MIF neurons (or LIF with ``reset="none"``), with an
            :class:`~memsnn.AlphaSynapse`, :class:`~memsnn.ExponentialSynapse` or no synapse, and
            any synapse array (it is applied here, in numpy).
        stimulus: :class:`~memsnn.Impulses` ``(batch, n_events, n_in)``, or a constant
            :class:`~memsnn.Current` ``(batch, n_in)``.
        dt: memsnn's grid step (s); the impulse of step ``k`` lands at ``(k + 1) dt``.
        n_steps: grid steps; the transient covers ``[0, n_steps dt]``.
        options: ngspice tolerances (default :class:`TransientOptions()`).
        record: signals to read back, from ``("v", "x1", "x2", "a", "isyn")``.
        grid_breakpoints: make ngspice land on every grid time (exact samples, more steps; samples
            inside an impulse's ramp are interpolated); otherwise its output is interpolated
            linearly onto the grid (about 1e-4 relative with loose tolerances).
        executable, timeout: see :func:`~memsnn.export.run_ngspice`.

    Returns:
        An :class:`NgspiceTrace` with ``(batch, n_steps, n)`` signals.
    """
    netlist, info = _prepare(network, stimulus, dt, n_steps, options, record, grid_breakpoints)
    start = time.perf_counter()
    vectors = run_ngspice(netlist, executable=executable, timeout=timeout)
    wall = time.perf_counter() - start
    times = dt * np.arange(1, n_steps + 1)
    batch, n = info["batch"], info["n"]
    signals = {}
    for name in record:
        initial = np.broadcast_to(info["initial"].get(name, 0.0), (batch * n,))
        per_neuron = np.stack([_sample(vectors["time"], vectors[f"v({name}_{i})"], times, initial[i],
                                       info["event_steps"], info["pulse_width"]) for i in range(batch * n)])
        per_neuron *= info["scale"].get(name, 1.0)
        if name == info["pulse_node"]:
            # memsnn records the state just after the impulse: the left limit plus the jump.
            per_neuron[:, info["event_steps"]] += info["jumps"]
        signals[name] = per_neuron.reshape(batch, n, n_steps).transpose(0, 2, 1)
    return NgspiceTrace(times=times, signals=signals, n_timepoints=len(vectors["time"]), wall_time=wall,
                        netlist=netlist)


def _sample(t, y, grid, initial, event_steps, width):
    # ngspice does not write the t = 0 point of a `uic` transient: the initial condition is it.
    if t[0] > 0:
        t, y = np.concatenate([[0.0], t]), np.concatenate([[initial], y])
    out = np.interp(grid, t, y)
    # At an event time ngspice is halfway up the impulse's ramp, and a node driven by the jumping
    # one has already taken a quarter of the ramp's charge (w h / 4C for a current step of w into
    # a capacitor C, a few 1e-5 V for an exponential synapse). memsnn's sample there is the value
    # just before the jump: extrapolate it from the ramp's first corner (a breakpoint, so an exact
    # point) with the slope from ngspice's point before it; the error is ~ y'' dt_ngspice width / 4.
    if len(event_steps):
        corner = grid[event_steps] - width / 2
        # (grid times and the netlist's corners may differ in the last bit: look before a margin.)
        before = np.maximum(np.searchsorted(t, corner - 1e-3 * width, side="left") - 1, 0)
        at_corner = np.interp(corner, t, y)
        slope = (at_corner - y[before]) / np.maximum(corner - t[before], 1e-300)
        out[event_steps] = at_corner + slope * width / 2
    return out


def _prepare(network, stimulus, dt, n_steps, options, record, grid_breakpoints):
    options = TransientOptions() if options is None else options
    if not isinstance(network, Network) or len(network.layers) != 1:
        raise ValueError("simulate_ngspice: give a memsnn.Network of exactly one layer (multi-layer spiking "
                         "networks need spike events that SPICE netlists here do not model).")
    layer = network.layers[0]
    neuron, synapse, array = layer.neuron, layer.synapse, layer.array
    check_exportable("simulate_ngspice", neuron, synapse)
    n = layer.size
    drive = None
    if isinstance(stimulus, Impulses):
        amp = np.asarray(stimulus.amplitude, dtype=float)
        steps = np.arange(n_steps) if stimulus.steps is None else np.asarray(stimulus.steps, dtype=int)
        if stimulus.steps is None:  # dense rows: keep the steps where anything arrives
            keep = np.any(amp != 0.0, axis=(0, 2))
            amp, steps = amp[:, keep], steps[keep]
        weights = np.asarray(jax.vmap(jax.vmap(array))(jnp.asarray(amp))) if amp.shape[1] else \
            np.zeros((amp.shape[0], 0, n))
        batch = amp.shape[0]
    elif isinstance(stimulus, Current) and stimulus.is_constant:
        batch = stimulus.amplitude.shape[0]
        drive = np.asarray(jax.vmap(array)(stimulus.amplitude)).reshape(-1)
        steps, weights = np.zeros(0, dtype=int), np.zeros((batch, 0, n))
    else:
        raise TypeError("simulate_ngspice: the stimulus must be memsnn.Impulses or a constant memsnn.Current "
                        "(batch, n_in).")
    if np.any(steps >= n_steps):
        raise ValueError(f"simulate_ngspice: an impulse at step {int(steps.max())} is beyond n_steps={n_steps}.")
    # (batch, n_events, n) -> one row per SPICE neuron b * n + j.
    weights = weights.transpose(0, 2, 1).reshape(batch * n, -1)
    tile = lambda x: jnp.tile(jnp.broadcast_to(x, (n,)), batch)  # noqa: E731
    neuron_b = jax.tree.map(tile, neuron)
    synapse_b = None if synapse is None else jax.tree.map(tile, synapse)
    netlist = _netlist(neuron_b, synapse_b, weights, (steps + 1) * dt, n_steps * dt, drive, dt,
                       dt * np.arange(1, n_steps + 1) if grid_breakpoints else None, options, tuple(record),
                       f"memsnn {type(neuron).__name__} x {batch * n}")
    # Each component says what its nodes carry: SI units per volt, the value at t = 0 (ngspice does
    # not write the t = 0 point of a `uic` run), and which node the impulses jump, by how much.
    total = batch * n
    neurons = [element(neuron_b, i, total, "neuron") for i in range(total)]
    synapses = [None if synapse_b is None else element(synapse_b, i, total, "synapse") for i in range(total)]
    signals = [{**nrn.spice_signals(options), **({} if syn is None else syn.spice_signals(options))}
               for nrn, syn in zip(neurons, synapses)]
    scale = {name: value[0] for name, value in signals[0].items()}
    initial = {name: np.array([sig[name][1] / sig[name][0] for sig in signals]) for name in scale}  # node volts
    impulses = [(nrn if syn is None else syn).spice_impulse(options) for nrn, syn in zip(neurons, synapses)]
    pulse_node = impulses[0][0]
    jumps = weights * np.array([volts for _, volts in impulses])[:, None] * scale[pulse_node]
    info = dict(batch=batch, n=n, scale=scale, initial=initial, pulse_node=pulse_node, jumps=jumps,
                event_steps=steps, pulse_width=options.pulse_width)
    return netlist, info
