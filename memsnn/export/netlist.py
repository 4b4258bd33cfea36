"""ngspice netlists of memsnn neurons: the MIF neuron (with its memristors), the LIF membrane, synapses.

Every neuron of a batch is its own small circuit in one netlist, so one transient run simulates
them all. Only standard SPICE elements are used: R, C, linear controlled sources (G), behavioural
current sources (B) and PWL voltage sources. The mapping, for neuron ``i``:

* Each component writes its own fragment beside its equations (``spice_lines`` of
  :class:`~memsnn.neurons.AbstractSpiceNeuron` and :class:`~memsnn.synapses.AbstractSpiceSynapse`,
  and the memristors' ``spice_current`` / ``spice_state_derivative``); this module holds only the
  shared machinery: impulses, breakpoints, options, saving. Signal ``s`` of neuron ``i`` is node
  ``s_i``.
* membrane: node ``v_i`` (V) with the membrane capacitor. MIF: one B-source per branch draws the
  device's own current, and each memristor state is the voltage of node ``xk_i`` on a capacitor
  ``Cs`` charged by a B-source of current ``Cs dx_k/dt`` (the way SPICE memristor models carry
  their state), in units of the width of the state interval. LIF: a resistor R to a battery at
  ``v_rest``, and ``C = tau / R``.
* synapse: currents are carried as node voltages, ``1 V = current_scale`` A (default 1 uA), so that
  currents of 1e-8..1e-5 A are 0.01..10 V, far above ngspice's absolute tolerances.
  ``Cs = state_capacitance`` (1 nF, the membrane's scale, so that one ``chgtol`` fits all nodes).
* input impulses: memsnn jumps ``a`` by ``w`` at the event time. The capacitor of the node that
  jumps (``a_i``; ``isyn_i`` for an exponential synapse; the membrane without a synapse) returns
  not to ground but to a staircase PWL voltage source ``in_i`` that rises by the jump at each
  event. Through a capacitor a source step moves the node by exactly that step (charge
  conservation, whatever ngspice's step sizes or integration order), and between events the source
  is constant, so the node sees the same circuit as with its capacitor to ground. Each step is a
  ramp of ``pulse_width`` (10 ns) *centred* on the event time: a rectangular current pulse of the
  jump's charge, which a linear filter sees as the impulse plus a correction of order
  ``(pulse_width / tau)^2 / 24`` (4e-12 for 10 ns against 1 ms). At the ramp's centre half of the
  jump has happened (and a node driven by the jumping one has a quarter of the ramp's charge), so
  :func:`~memsnn.export.simulate_ngspice` samples an event step as the value extrapolated from
  just before the ramp plus the jump, which is what memsnn records.
  (A PWL *current* pulse instead loses about 1e-3 of its charge: ngspice takes a backward-Euler
  step after each corner of a PWL source, which miscounts the charge of a ramp.)
* constant drive: a DC current source into the membrane.
* a PWL source of value 0 whose corners are breakpoints: memsnn's grid times (so that samples need
  no interpolation; not those inside an impulse's ramp) and one time soon after 0 (ngspice does
  not control its first step's error).

All values are SI and written with full float64 precision (``repr``).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import numpy as np

from .._spice import number
from ..neurons import AbstractSpiceNeuron
from ..synapses import AbstractSpiceSynapse

#: Every signal of a MIF neuron behind an alpha synapse.
MIF_SIGNALS = ("v", "x1", "x2", "a", "isyn")
_PWL_PAIRS_PER_LINE = 4
_STARTUP_FRACTION = 1e-6  # first breakpoint, as a fraction of t_stop


@dataclasses.dataclass(frozen=True)
class TransientOptions:
    """How ngspice integrates the netlist (``.options`` and ``.tran``) and how impulses are made.

    The defaults are tight: about 5e-7 relative L2 error on the MIF membrane potential under the
    SPICEprop schedule (11k time points for 10 ms). ngspice's step control is looser than its
    ``reltol`` suggests; for a reference, also cap the step: ``reltol=1e-10, max_step=1e-7`` agrees
    with memsnn's converged solution to about 4e-8 (benchmarks/solver_accuracy.py).

    Attributes:
        reltol: relative tolerance (ngspice default 1e-3; 1e-3 to 1e-4 gives ~1e-3 accuracy here).
        abstol: absolute current tolerance (A; ngspice's default 1e-12, 1e-5 of the MIF membrane
            currents). Smaller values made ngspice 39 stall (steps of ~1e-16 s) right after an
            impulse in batches of 50 neurons with different weights.
        vntol: absolute voltage tolerance (V; default 1e-6). Membrane ~1e-2 V, ``x`` ~1e-2.
        chgtol: absolute charge tolerance (C; default 1e-14, which is 5e-4 of the MIF membrane's
            charge C v = 1e-9 F x 20 mV and would dominate the step-size control). Divided by a
            node's capacitance it is that node's absolute tolerance: 1e-11 V with 1 nF.
        trtol: truncation-error overestimation factor (default 7; smaller is stricter).
        method: ``"trap"`` (trapezoidal, 2nd order; about 3x more accurate here than gear at the
            same tolerances) or ``"gear"`` (BDF-2, L-stable).
        max_step: largest internal step (s); ``None`` leaves ngspice's default ``min(tstep, span/50)``.
        pulse_width: duration of the ramp that makes one impulse (s).
        current_scale: amperes per volt on the synapse nodes (``a``, ``isyn``).
        state_capacitance: capacitor (F) that holds each state node (``x1``, ``x2``, ``a``,
            ``isyn``). The same scale as the membrane's makes ``chgtol`` one absolute tolerance
            for all nodes; with 1 F a state near 0 gets a charge tolerance of ``chgtol`` volts, and
            the step control collapses ("timestep too small") when an impulse arrives.
    """

    reltol: float = 1e-9
    abstol: float = 1e-12
    vntol: float = 1e-10
    chgtol: float = 1e-20
    trtol: float = 1.0
    method: str = "trap"
    max_step: float | None = None
    pulse_width: float = 1e-8
    current_scale: float = 1e-6
    state_capacitance: float = 1e-9

    def __post_init__(self):
        if self.method not in ("gear", "trap"):
            raise ValueError(f"TransientOptions: method must be 'gear' or 'trap', got {self.method!r}.")
        for name in ("reltol", "abstol", "vntol", "chgtol", "trtol", "pulse_width", "current_scale",
                     "state_capacitance"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TransientOptions: {name} must be > 0, got {getattr(self, name)}.")

    def options_line(self) -> str:
        opts = dict(reltol=self.reltol, abstol=self.abstol, vntol=self.vntol, chgtol=self.chgtol, trtol=self.trtol)
        text = " ".join(f"{k}={number('TransientOptions', k, v)}" for k, v in opts.items()) + f" method={self.method}"
        return ".options " + text


def neuron_netlist(
    neuron: AbstractSpiceNeuron,
    synapse: AbstractSpiceSynapse | None,
    weights,
    event_times,
    t_stop: float,
    *,
    current=None,
    t_step: float | None = None,
    output_times=None,
    options: TransientOptions | None = None,
    save: Sequence[str] | None = None,
    title: str | None = None,
) -> str:
    """Netlist of ``B`` independent neurons, each behind its own synapse, for one transient run.

    Any neuron with a SPICE form (:class:`~memsnn.neurons.AbstractSpiceNeuron`: :class:`~memsnn.MIF`
    with any memristor of :mod:`memsnn.devices`, each writing its own expressions, docs/devices.md;
    the :class:`~memsnn.LIF` membrane) behind any synapse with one
    (:class:`~memsnn.synapses.AbstractSpiceSynapse`), or none.

    A LIF exports only its sub-threshold dynamics: memsnn checks the threshold and resets on its
    time grid, a discrete-time rule with no exact SPICE counterpart, so it must have
    ``reset="none"`` (a LIF that never reaches threshold behaves the same either way).

    Args:
        neuron: the neurons; each parameter a scalar or ``(B,)`` (one per neuron).
        synapse: :class:`~memsnn.AlphaSynapse`, :class:`~memsnn.ExponentialSynapse`, or ``None``
            (impulses land on the membrane as charge).
        weights: ``(B, n_events)`` jump of the synapse state per event (A), or charge (C) without
            a synapse (a LIF's ``v`` jumps by ``w R / tau``). ``B`` is the number of neurons.
        event_times: ``(n_events,)`` times of the jumps (s), increasing, shared by all neurons. A
            memsnn impulse at grid step ``k`` lands at ``(k + 1) dt``.
        t_stop: end of the transient (s).
        current: constant membrane current (A), scalar or ``(B,)``; ``None`` for none.
        t_step: the ``.tran`` step (s); default ``t_stop / 1000``.
        output_times: times (s) the simulator must land on exactly (added as breakpoints), e.g.
            memsnn's grid, so that no interpolation is needed (except within ``pulse_width`` of an
            event, where a breakpoint can stall ngspice); ``None`` for none.
        options: tolerances and impulse shape, default :class:`TransientOptions()`.
        save: which signals to save per neuron (MIF: ``"v", "x1", "x2"``, LIF: ``"v"``; alpha
            synapse: ``"a", "isyn"``, exponential: ``"isyn"``); default every signal of the neuron
            and its synapse.
        title: the netlist's title line; default ``"memsnn {neuron class} neurons"``.

    Returns:
        The netlist text (ngspice dialect). Run it with :func:`~memsnn.export.run_ngspice`; the
        node of signal ``s`` of neuron ``i`` is ``s_i``, e.g. ``v(x1_3)``.
    """
    title = f"memsnn {type(neuron).__name__} neurons" if title is None else title
    return _netlist(neuron, synapse, weights, event_times, t_stop, current, t_step, output_times, options, save,
                    title)


def _netlist(neuron, synapse, weights, event_times, t_stop, current, t_step, output_times, options, save, title):
    options = TransientOptions() if options is None else options
    weights = np.asarray(weights, dtype=float)
    if weights.ndim != 2:
        raise ValueError(f"netlist: weights must be (n_neurons, n_events), got shape {weights.shape}.")
    n, n_events = weights.shape
    event_times = np.asarray(event_times, dtype=float).reshape(-1)
    if event_times.shape != (n_events,):
        raise ValueError(f"netlist: {n_events} weight columns but {event_times.size} event times.")
    _check_events(event_times, t_stop, options.pulse_width)
    currents = None if current is None else _per_neuron("current", current, n)
    check_exportable("netlist", neuron, synapse)
    neurons = [element(neuron, i, n, "neuron") for i in range(n)]
    synapses = [None if synapse is None else element(synapse, i, n, "synapse") for i in range(n)]
    allowed = tuple(neurons[0].spice_signals(options))
    allowed += () if synapse is None else tuple(synapses[0].spice_signals(options))
    save = allowed if save is None else save
    unknown = set(save) - set(allowed)
    if unknown:
        raise ValueError(f"netlist: cannot save {sorted(unknown)} here; choose from {allowed}.")
    t_step = t_stop / 1000 if t_step is None else float(t_step)

    lines = [f"* {title}",
             f"* written by memsnn.export (SI units; synapse nodes: 1 V = "
             f"{number('TransientOptions', 'current_scale', options.current_scale)} A)", ""]
    for i, (neuron_i, synapse_i) in enumerate(zip(neurons, synapses)):
        lines.append(f"* neuron {i}")
        # The node that the impulses jump: its capacitor returns to a staircase source, not ground.
        ref = f"in_{i}" if len(event_times) and np.any(weights[i] != 0.0) else "0"
        lines += neuron_i.spice_lines(i, ref if synapse_i is None else "0", options)
        if synapse_i is not None:
            lines += synapse_i.spice_lines(i, ref, options)
        if ref != "0":
            _, volts_per_unit = (neuron_i if synapse_i is None else synapse_i).spice_impulse(options)
            jumps = weights[i] * volts_per_unit
            lines.append(_pwl(f"Vin_{i} in_{i} 0", *_staircase_points(event_times, jumps, options.pulse_width)))
        if currents is not None and currents[i] != 0.0:
            lines.append(f"Idrive_{i} 0 v_{i} DC {number('netlist', 'drive current', currents[i])}")
    output_times = np.zeros(0) if output_times is None else np.asarray(output_times, dtype=float).reshape(-1)
    lines += ["", "* breakpoints only (its value is 0): the simulator lands on each of these times",
              _pwl("Vbreak break 0", *_breakpoint_points(output_times, t_stop, event_times, options.pulse_width)),
              "Rbreak break 0 1"]
    max_step = "" if options.max_step is None else f" {number('TransientOptions', 'max_step', options.max_step)}"
    tstart = " 0" if max_step else ""
    tran = f".tran {number('netlist', 't_step', t_step)} {number('netlist', 't_stop', t_stop)}{tstart}{max_step} uic"
    lines += ["", options.options_line(), tran]
    lines += _save_lines([f"v({s}_{i})" for i in range(n) for s in save])
    lines.append(".end")
    return "\n".join(lines) + "\n"


def check_exportable(owner: str, neuron, synapse) -> None:
    """Raise a ``TypeError`` naming what exports if ``neuron`` or ``synapse`` has no SPICE form."""
    if not isinstance(neuron, AbstractSpiceNeuron):
        raise TypeError(f"{owner}: {type(neuron).__name__} has no SPICE form. Exportable neurons: MIF (with any "
                        "memsnn.devices memristor) and LIF (reset='none'), the subclasses of "
                        "memsnn.neurons.AbstractSpiceNeuron.")
    if synapse is not None and not isinstance(synapse, AbstractSpiceSynapse):
        raise TypeError(f"{owner}: synapse {type(synapse).__name__} has no SPICE form. Exportable synapses: "
                        "AlphaSynapse and ExponentialSynapse (subclasses of memsnn.synapses.AbstractSpiceSynapse), "
                        "or None.")


def element(module, i: int, n: int, what: str):
    """Component ``i`` of ``n``: every parameter leaf (a scalar or ``(n,)``) reduced to its scalar.

    Raises:
        ValueError: a leaf has another shape, naming it.
    """
    def pick(path, leaf):
        arr = np.asarray(leaf)
        if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] not in (1, n)):
            raise ValueError(f"netlist: {what} parameter {jax.tree_util.keystr(path)} must be a scalar or have "
                             f"shape ({n},), got {arr.shape}.")
        return leaf if arr.ndim == 0 else leaf.reshape(-1)[i if arr.shape[0] > 1 else 0]

    return jax.tree_util.tree_map_with_path(pick, module)


def _staircase_points(times, jumps, width):
    # The source rises by each jump along a ramp of `width` centred on the event time. Through the
    # node's capacitor a source step moves the node by the same step: the charge C dV is exact
    # whatever ngspice's step sizes or integration order (a PWL *current* pulse is not: ngspice
    # takes a backward-Euler step after each corner, which miscounts a ramp's charge by 1e-4..1e-3).
    # The ramp is a rectangular current pulse of the jump's charge, with no first-moment error.
    level = np.cumsum(jumps)
    t = np.stack([times - width / 2, times + width / 2], axis=1).reshape(-1)
    return t, np.stack([level - jumps, level], axis=1).reshape(-1)


def _breakpoint_points(output_times, t_stop, event_times, width):
    # ngspice does not control the error of its first step; a breakpoint soon after t = 0 keeps
    # that step tiny (without it the initial relaxation of v is off by ~5e-6 relative). Output
    # times inside an impulse's ramp are left out: a breakpoint there (where the order drops to 1
    # in the middle of a steep ramp) made ngspice 39 stall in large batches; it still takes many
    # small steps across the ramp, so those samples are interpolated accurately.
    startup = [_STARTUP_FRACTION * t_stop]
    times = output_times[output_times > 0]
    if event_times.size:
        near = np.min(np.abs(times[:, None] - event_times[None, :]), axis=1) <= width
        times = times[~near]
    times = np.unique(np.concatenate([startup, times]))
    return times, np.zeros_like(times)


def _pwl(head, t, y):
    pairs = [f"{number('pwl', 'time', a)} {number('pwl', 'value', b)}" for a, b in zip(t, y)]
    chunks = [" ".join(pairs[k:k + _PWL_PAIRS_PER_LINE]) for k in range(0, len(pairs), _PWL_PAIRS_PER_LINE)]
    return f"{head} PWL(" + "\n+ ".join(chunks) + ")"


def _save_lines(vectors, per_line=8):
    return [".save " + " ".join(vectors[k:k + per_line]) for k in range(0, len(vectors), per_line)]


def _check_events(times, t_stop, width):
    if not t_stop > 0:
        raise ValueError(f"netlist: t_stop must be > 0 s, got {t_stop}.")
    if times.size == 0:
        return
    if times[0] < width / 2:
        raise ValueError(f"netlist: the first event at {times[0]} s is closer to t = 0 than half the pulse width "
                         f"({width / 2} s); memsnn impulses land at (k + 1) dt > 0.")
    if np.any(np.diff(times) <= width):
        raise ValueError(f"netlist: events closer together than the pulse width {width} s; sum them into one "
                         "event or use a narrower TransientOptions(pulse_width=...).")
    if times[-1] + width / 2 > t_stop:
        raise ValueError(f"netlist: an event at {times[-1]} s lies beyond t_stop = {t_stop} s.")


def _per_neuron(name, value, n):
    arr = np.asarray(value, dtype=float)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] not in (1, n)):
        raise ValueError(f"netlist: {name} must be a scalar or have shape ({n},), got {arr.shape}.")
    return np.broadcast_to(arr.reshape(-1) if arr.ndim else arr, (n,))
