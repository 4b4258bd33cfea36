"""Export and import of LIF / IF networks in NIR, the Neuromorphic Intermediate Representation.

NIR (the ``nir`` package, ``pip install 'memsnn[nir]'``) is the graph format that snnTorch, Spyx,
Norse, Lava, Rockpool, Sinabs and others read and write. :func:`to_nir` writes a feed-forward
:class:`memsnn.Network` of ideal arrays and LIF / IF neurons as a NIR graph; :func:`from_nir` reads
such a graph back into a network. For a network that NIR can express, ``from_nir(to_nir(net))``
simulates to the same spikes, and to the same membrane potentials up to rounding (the absolute
threshold ``v_rest + threshold`` is stored and read back as a difference; ~1e-15 in float64).

What maps onto what (a layer's ``n`` neurons have the NIR shape ``(n,)``, or ``(C, H, W)`` after a
convolution):

* :class:`~memsnn.arrays.Dense` -> ``Affine`` (with bias) or ``Linear``; a ``Flatten`` stands in
  front of it where the layer below is convolutional;
* :class:`~memsnn.arrays.Conv2d` -> ``Conv2d`` (padding ``"VALID"`` = 0, ``"SAME"`` = the equal
  padding on each side), then ``AvgPool2d(p, stride p)`` for ``pool=p``;
* :class:`~memsnn.arrays.Identity` -> ``Scale``;
* :class:`~memsnn.LIF` with ``reset="zero"`` -> ``LIF``; :class:`~memsnn.IF` -> ``IF``; a LIF
  behind an :class:`~memsnn.ExponentialSynapse` -> ``CubaLIF``;
* a layer that never fires (``reset="none"`` and a threshold no membrane reaches, as the
  ``output="integrator"`` readout of :mod:`memsnn.training.surrogate`) -> ``LI`` / ``I`` /
  ``CubaLI``.

Potentials are absolute in NIR: ``v_leak = v_rest`` and ``v_threshold = v_rest + threshold``
(memsnn's threshold is relative to rest). memsnn's membranes start at ``v_rest``; a reader that
starts them at 0 differs from memsnn only where ``v_rest != 0``.

Time and units. NIR describes continuous-time ODEs; every reader simulates them on a grid of its
own step and (snnTorch, the reader tested here, among them) feeds a spike to the next layer as the
value 1 held for one step. In memsnn a spike (and an :class:`~memsnn.Impulses` input) is an impulse: its weight lands
at once as a charge on the membrane (C) or as a jump of the synaptic current (A). Held over one step
``dt``, the same weight is the current ``weight / dt``; so for a layer driven by spikes the graph's
resistance is ``r = R / dt`` (LIF) and the synaptic input gain ``w_in = tau_syn / dt`` (CubaLIF). A
layer driven by a :class:`~memsnn.Current` (the first layer with a current stimulus) keeps
``r = R``. This is why both functions take the step ``dt`` the network is simulated with.

Readers differ in their step: snnTorch 1.0 reads and writes NIR with a fixed step of 1e-4 s, while
memsnn's surrogate-gradient networks (:mod:`memsnn.training.surrogate`) run with ``dt = 1``. The
argument ``nir_dt`` rescales time so that one memsnn step of ``dt`` becomes one reader's step of
``nir_dt``: every time constant is multiplied by ``nir_dt / dt`` and the discrete-time network is
the same (for LIF, ``beta = 1 - dt / tau`` is kept). snnTorch steps with explicit Euler, as memsnn's
default solver does.

Not expressible in NIR, so refused with an error that says what to change: a subtractive reset
(``reset="subtract"``, snnTorch's default: NIR's LIF resets to ``v_reset``), snnTorch's delayed
reset, a layer with ``reset="none"`` that still fires, the alpha synapse, a synapse with an IF
neuron or behind a current drive, plasticity rules, memristive (non-ideal) arrays and MIF neurons.
NIR fires when ``v > v_threshold``, memsnn when ``v >= v_rest + threshold``; the two differ only for
a membrane that lands exactly on the threshold.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Literal

import jax.numpy as jnp
import numpy as np

from ..arrays import Conv2d, Dense, Identity
from ..network import Layer, Network
from ..neurons import IF, LIF
from ..neurons.lif import heaviside
from ..spikes import SpikeFunction
from ..synapses import ExponentialSynapse

if TYPE_CHECKING:
    import nir

__all__ = ["from_nir", "to_nir"]

StimulusKind = Literal["current", "impulses"]
INSTALL_HINT = "NIR support needs the nir package: pip install 'memsnn[nir]'."


def _nir():
    try:
        import nir
    except ImportError as err:  # an optional extra: say which one
        raise ImportError(INSTALL_HINT) from err
    return nir


def _check_steps(owner: str, dt, nir_dt) -> tuple[float, float]:
    dt = float(dt)
    nir_dt = dt if nir_dt is None else float(nir_dt)
    for name, value in (("dt", dt), ("nir_dt", nir_dt)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{owner}: {name} must be a positive time step in seconds, got {value}.")
    return dt, nir_dt


def _check_stimulus(owner: str, stimulus: str):
    if stimulus not in ("current", "impulses"):
        raise ValueError(f"{owner}: stimulus must be 'current' (the first layer is driven by a memsnn.Current) "
                         f"or 'impulses' (by memsnn.Impulses or spikes), got {stimulus!r}.")


# --------------------------------------------------------------------------------------------
# memsnn -> NIR


def _per_neuron(value, shape: tuple[int, ...]) -> np.ndarray:
    """A scalar or ``(n,)`` parameter as a float64 array of the neurons' NIR shape."""
    return np.broadcast_to(np.asarray(value, dtype=np.float64).reshape(-1), (math.prod(shape),)).reshape(shape).copy()


# Thresholds from here up are never reached (float32's largest value, so in any precision).
_UNREACHABLE = float(np.finfo(np.float32).max)


def _never_fires(neuron) -> bool:
    # reset="none" is a readout only if no membrane can reach the threshold (the surrogate
    # training's integrator output uses the largest float); otherwise it fires without resetting.
    return bool(np.all(np.asarray(neuron.threshold, dtype=np.float64) >= _UNREACHABLE))


def _same_padding(size: int, kernel: int, stride: int) -> int | None:
    """The symmetric padding equal to JAX's ``"SAME"``, or ``None`` where SAME pads unevenly."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return None if total % 2 else total // 2


def _array_nodes(nir, i: int, array, in_shape: tuple[int, ...]) -> tuple[list, tuple[int, ...]]:
    """NIR nodes ``[(name, node), ...]`` of one synapse array and the neurons' NIR shape after it."""
    if isinstance(array, Dense):
        weight = np.asarray(array.weight, dtype=np.float64)
        node = (nir.Linear(weight=weight) if array.bias is None
                else nir.Affine(weight=weight, bias=np.asarray(array.bias, dtype=np.float64)))
        return [(f"{i}.linear", node)], (array.n_outputs,)
    if isinstance(array, Identity):
        gain = 1.0 if array.gain is None else np.asarray(array.gain, dtype=np.float64)
        return [(f"{i}.scale", nir.Scale(scale=_per_neuron(gain, in_shape)))], in_shape
    if isinstance(array, Conv2d):
        kh, kw = array.weight.shape[2:]
        if array.padding == "VALID":
            padding = (0, 0)
        else:
            padding = (_same_padding(array.in_shape[1], kh, array.stride),
                       _same_padding(array.in_shape[2], kw, array.stride))
            if None in padding:
                raise ValueError(
                    f"to_nir: layer {i}'s Conv2d pads 'SAME' unevenly (a {kh}x{kw} kernel with stride "
                    f"{array.stride} on a {array.in_shape[1]}x{array.in_shape[2]} input), which NIR's "
                    "symmetric padding cannot express; use an odd kernel with stride 1, or padding='VALID'.")
        bias = np.zeros(array.weight.shape[0]) if array.bias is None else np.asarray(array.bias, dtype=np.float64)
        nodes = [(f"{i}.conv", nir.Conv2d(input_shape=tuple(array.in_shape[1:]),
                                          weight=np.asarray(array.weight, dtype=np.float64),
                                          stride=array.stride, padding=padding, dilation=1, groups=1, bias=bias))]
        if array.pool > 1:
            p = array.pool
            nodes.append((f"{i}.pool", nir.AvgPool2d(kernel_size=np.array([p, p]), stride=np.array([p, p]),
                                                     padding=np.array([0, 0]))))
        return nodes, tuple(array.out_shape)
    raise TypeError(f"to_nir: layer {i}'s array is a {type(array).__name__}; NIR export supports the ideal "
                    "arrays memsnn.arrays.Dense, Conv2d and Identity (a memristive array has no NIR node).")


def _neuron_node(nir, i: int, layer: Layer, shape: tuple[int, ...], spike_driven: bool, dt: float, scale: float):
    """The NIR neuron node of one layer; ``scale = nir_dt / dt`` multiplies every time constant."""
    neuron, synapse = layer.neuron, layer.synapse
    where = f"to_nir: layer {i}"
    if not isinstance(neuron, (LIF, IF)):
        raise TypeError(f"{where} has a {type(neuron).__name__} neuron; NIR export supports memsnn.LIF and "
                        "memsnn.IF.")
    if neuron.reset_mode == "subtract":
        raise ValueError(
            f"{where} resets by subtraction (reset='subtract'), which NIR cannot express: NIR's LIF and IF "
            "reset the membrane to v_reset. Build (or train) the network with reset='zero' to export it.")
    if not (neuron.spike_fn is heaviside or isinstance(neuron.spike_fn, SpikeFunction)):
        raise TypeError(f"{where}'s spike function {neuron.spike_fn!r} is not memsnn's step (heaviside, or a "
                        "surrogate from memsnn.spikes, a step forward); NIR neurons fire with a step.")
    silent = neuron.reset_mode == "none"
    if silent and not _never_fires(neuron):
        raise ValueError(
            f"{where} fires without a reset (reset='none'), which NIR cannot express. Use reset='zero', or "
            "make it a readout that never fires (a threshold of the largest float), exported as a leaky "
            "integrator.")
    if synapse is not None and not isinstance(synapse, ExponentialSynapse):
        raise TypeError(f"{where} has a {type(synapse).__name__}; NIR export supports no synapse (charge lands "
                        "on the membrane) or memsnn.ExponentialSynapse (NIR's CubaLIF).")
    if synapse is not None and not spike_driven:
        raise ValueError(f"{where} has a synapse but is driven by a current stimulus, which memsnn feeds "
                         "straight into the membrane while NIR would filter it; export with "
                         "stimulus='impulses', or drop the synapse.")

    def p(value):
        return _per_neuron(value, shape)

    if isinstance(neuron, IF):
        if synapse is not None:
            raise TypeError(f"{where}: an IF neuron behind a synapse has no NIR node (NIR's current-based "
                            "neuron is the leaky CubaLIF); use memsnn.LIF or drop the synapse.")
        # dv/dt = I / C in memsnn time is dv/dt' = I / (C scale) in graph time t' = scale t; an impulse
        # of weight w moves v by w / C, which the reader's step nir_dt = scale dt gives with r w nir_dt.
        r = 1.0 / (np.asarray(neuron.capacitance, dtype=np.float64) * scale * (dt if spike_driven else 1.0))
        if silent:
            return nir.I(r=p(r))
        return nir.IF(r=p(r), v_threshold=p(neuron.threshold), v_reset=p(neuron.v_reset))

    v_rest = np.asarray(neuron.v_rest, dtype=np.float64)
    tau = p(np.asarray(neuron.tau, dtype=np.float64) * scale)
    resistance = np.asarray(neuron.resistance, dtype=np.float64)
    # memsnn's threshold is relative to v_rest, NIR's is absolute.
    threshold, v_reset = p(v_rest + np.asarray(neuron.threshold, dtype=np.float64)), p(neuron.v_reset)
    if synapse is None:
        r = p(resistance / dt if spike_driven else resistance)
        if silent:
            return nir.LI(tau=tau, r=r, v_leak=p(v_rest))
        return nir.LIF(tau=tau, r=r, v_leak=p(v_rest), v_threshold=threshold, v_reset=v_reset)
    # The synaptic current is a current (A), so r = R; an impulse of weight w makes the current jump
    # by w, which the reader's Euler step gives with nir_dt w_in w / tau_syn' = dt w_in w / tau_s.
    tau_s = np.asarray(synapse.tau_s, dtype=np.float64)
    common = dict(tau_syn=p(tau_s * scale), tau_mem=tau, r=p(resistance), v_leak=p(v_rest), w_in=p(tau_s / dt))
    if silent:
        return nir.CubaLI(**common)
    return nir.CubaLIF(**common, v_threshold=threshold, v_reset=v_reset)


def to_nir(network: Network, *, dt: float, nir_dt: float | None = None,
           stimulus: StimulusKind = "current") -> "nir.NIRGraph":
    """The NIR graph of a feed-forward LIF / IF ``network`` simulated with step ``dt``.

    Args:
        network: layers of :class:`~memsnn.arrays.Dense`, :class:`~memsnn.arrays.Conv2d` or
            :class:`~memsnn.arrays.Identity` arrays and :class:`~memsnn.LIF` / :class:`~memsnn.IF`
            neurons (see the module docstring for what NIR can express).
        dt: the time step (s) the network is simulated with in memsnn.
        nir_dt: the time step (s) of the reader the graph is meant for (snnTorch 1.0: 1e-4);
            default ``dt``. Time constants are multiplied by ``nir_dt / dt``.
        stimulus: what drives the first layer: ``"current"`` (a :class:`~memsnn.Current`, e.g. an
            image fed at every step) or ``"impulses"`` (:class:`~memsnn.Impulses`, or spike trains
            held for one step).

    Returns:
        A ``nir.NIRGraph`` ``input -> (array -> neuron) per layer -> output``, type-checked, whose
        ``metadata`` holds ``{"dt": nir_dt}``. Node names are ``"{layer}.linear"``, ``"{layer}.conv"``,
        ``"{layer}.pool"``, ``"{layer}.scale"``, ``"{layer}.flatten"`` and ``"{layer}.neuron"``.

    Raises:
        ImportError: the ``nir`` package is missing.
        TypeError / ValueError: a part of the network has no NIR counterpart (the message names it).
    """
    nir = _nir()
    dt, nir_dt = _check_steps("to_nir", dt, nir_dt)
    _check_stimulus("to_nir", stimulus)
    if not isinstance(network, Network):
        raise TypeError(f"to_nir: expected a memsnn.Network, got {type(network).__name__}. A trained model of "
                        "memsnn.training (e.g. a SurrogateNet from load_trained) holds its network: pass "
                        "model.network(), e.g. to_nir(model.network(), dt=1.0).")
    first = network.layers[0].array
    shape = tuple(first.in_shape) if isinstance(first, Conv2d) else (network.n_inputs,)
    nodes, edges, previous = {"input": nir.Input(input_type=np.array(shape))}, [], "input"

    def add(name, node):
        nonlocal previous
        nodes[name] = node
        edges.append((previous, name))
        previous = name

    for i, layer in enumerate(network.layers):
        if layer.plasticity is not None:
            raise ValueError(f"to_nir: layer {i} has a plasticity rule ({type(layer.plasticity).__name__}); NIR "
                             "describes fixed weights. Export the network without it.")
        # The energy meter only measures (it changes no dynamics), so it has no node and is left out.
        if isinstance(layer.array, Conv2d) and shape != tuple(layer.array.in_shape):
            raise ValueError(f"to_nir: layer {i}'s Conv2d expects images {layer.array.in_shape} but the layer "
                             f"below has neurons of shape {shape}.")
        if isinstance(layer.array, Dense) and len(shape) > 1:
            add(f"{i}.flatten", nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1))
            shape = (math.prod(shape),)
        array_nodes, shape = _array_nodes(nir, i, layer.array, shape)
        for name, node in array_nodes:
            add(name, node)
        spike_driven = i > 0 or stimulus == "impulses"
        add(f"{i}.neuron", _neuron_node(nir, i, layer, shape, spike_driven, dt, nir_dt / dt))
    add("output", nir.Output(output_type=np.array(shape)))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": nir_dt})


# --------------------------------------------------------------------------------------------
# NIR -> memsnn


def _chain(nir, graph) -> list[tuple[str, object]]:
    """The nodes of a graph that is one chain ``Input -> ... -> Output``, in order."""
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            raise ValueError(f"from_nir: node {name!r} is a subgraph (a recurrent layer?); memsnn networks are "
                             "feed-forward chains.")
    inputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise ValueError(f"from_nir: the graph needs exactly one Input node, found {len(inputs)} ({inputs}).")
    successors: dict[str, list[str]] = {k: [] for k in graph.nodes}
    for src, dst in graph.edges:
        successors[src].append(dst)
    order, name = [], inputs[0]
    while True:
        order.append((name, graph.nodes[name]))
        nxt = successors[name]
        if not nxt:
            break
        if len(nxt) > 1 or nxt[0] in dict(order):
            raise ValueError(f"from_nir: node {name!r} feeds {nxt}; memsnn reads only feed-forward chains (no "
                             "branches, no recurrence).")
        name = nxt[0]
    if not isinstance(order[-1][1], nir.Output) or len(order) != len(graph.nodes):
        raise ValueError("from_nir: the graph is not one chain from its Input to an Output node "
                         f"(chain {[k for k, _ in order]}, nodes {list(graph.nodes)}).")
    return order


def _parameter(name: str, value, n: int, where: str):
    """A NIR parameter as a scalar (one value for all neurons) or an ``(n,)`` array."""
    value = np.asarray(value, dtype=np.float64).reshape(-1)
    if value.size == 1:
        return float(value[0])
    if value.size != n:
        raise ValueError(f"from_nir: {where}'s {name} has {value.size} values for {n} neurons.")
    return value


def _pair(value, what: str, where: str) -> tuple[int, int]:
    value = np.asarray(value).reshape(-1)
    if value.size == 1:
        value = np.repeat(value, 2)
    if value.size != 2:
        raise ValueError(f"from_nir: {where}'s {what} must be one or two integers, got {value.tolist()}.")
    return int(value[0]), int(value[1])


def _conv_array(node, pool, shape: tuple[int, ...], where: str) -> Conv2d:
    if len(shape) != 3:
        raise ValueError(f"from_nir: {where} is a Conv2d on inputs of shape {shape}; it needs (C, H, W).")
    weight = np.asarray(node.weight, dtype=np.float64)
    if _pair(node.dilation, "dilation", where) != (1, 1) or int(node.groups) != 1:
        raise ValueError(f"from_nir: {where} has dilation {node.dilation} and groups {node.groups}; memsnn's "
                         "Conv2d supports dilation 1 and groups 1.")
    sh, sw = _pair(node.stride, "stride", where)
    if sh != sw:
        raise ValueError(f"from_nir: {where} has stride ({sh}, {sw}); memsnn's Conv2d has one stride for both axes.")
    kh, kw = weight.shape[2:]
    if isinstance(node.padding, str):
        padding = node.padding.upper()
        if padding == "SAME" and sh != 1:
            raise ValueError(f"from_nir: {where} pads 'same' with stride {sh}; NIR defines 'same' for stride 1.")
    else:
        pad = _pair(node.padding, "padding", where)
        same = (_same_padding(shape[1], kh, sh), _same_padding(shape[2], kw, sh))
        if pad == (0, 0):
            padding = "VALID"
        elif pad == same:
            padding = "SAME"
        else:
            raise ValueError(f"from_nir: {where} pads by {pad}; memsnn's Conv2d pads 'VALID' (0) or 'SAME' "
                             f"({same} here).")
    p = 1
    if pool is not None:
        p, p2 = _pair(pool.kernel_size, "kernel_size", where + "'s pooling")
        if (p, p) != (p2, p2) or _pair(pool.stride, "stride", where + "'s pooling") != (p, p) \
                or _pair(pool.padding, "padding", where + "'s pooling") != (0, 0):
            raise ValueError(f"from_nir: {where} is followed by AvgPool2d(kernel {pool.kernel_size}, stride "
                             f"{pool.stride}, padding {pool.padding}); memsnn pools in square, non-overlapping, "
                             "unpadded windows (kernel = stride).")
    bias = None if node.bias is None else np.asarray(node.bias, dtype=np.float64)
    return Conv2d(weight, bias, in_shape=shape, stride=sh, padding=padding, pool=p)


def _neuron(nir, node, n: int, spike_driven: bool, dt: float, scale: float, spike_fn, where: str):
    """``(synapse, neuron)`` of one layer from its NIR neuron node; inverse of :func:`_neuron_node`."""

    def p(name):
        return _parameter(name, getattr(node, name), n, where)

    if isinstance(node, (nir.IF, nir.I)):
        r = p("r")
        capacitance = 1.0 / (np.asarray(r) * scale * (dt if spike_driven else 1.0))
        if isinstance(node, nir.I):
            return None, IF(capacitance=capacitance, threshold=_UNREACHABLE, reset="none",
                            spike_fn=spike_fn)
        return None, IF(capacitance=capacitance, threshold=p("v_threshold"), v_reset=p("v_reset"), reset="zero",
                        spike_fn=spike_fn)
    if isinstance(node, (nir.LIF, nir.LI)):
        tau, r, v_leak = np.asarray(p("tau")) / scale, np.asarray(p("r")), p("v_leak")
        resistance = r * dt if spike_driven else r
        if isinstance(node, nir.LI):
            return None, LIF(tau=tau, resistance=resistance, threshold=_UNREACHABLE, v_rest=v_leak,
                             reset="none", spike_fn=spike_fn)
        return None, LIF(tau=tau, resistance=resistance, threshold=np.asarray(p("v_threshold")) - v_leak,
                         v_rest=v_leak, v_reset=p("v_reset"), reset="zero", spike_fn=spike_fn)
    if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
        if not spike_driven:
            raise ValueError(f"from_nir: {where} is a CubaLIF driven by a current stimulus, which memsnn feeds "
                             "straight into the membrane; read it with stimulus='impulses'.")
        tau_syn, w_in = np.asarray(p("tau_syn")) / scale, np.asarray(p("w_in"))
        # The graph's w_in scales every input of the synapse; memsnn's impulse of weight w makes the
        # current jump by w, so w_in must be tau_syn / dt (snnTorch writes exactly that).
        if not np.allclose(w_in, tau_syn / dt, rtol=1e-9, atol=0):
            raise ValueError(f"from_nir: {where} has w_in {w_in} but memsnn's synapse needs w_in = tau_syn / dt "
                             f"= {tau_syn / dt} (scale the weights of the array in front of it instead).")
        synapse = ExponentialSynapse(tau_s=tau_syn)
        tau, v_leak = np.asarray(p("tau_mem")) / scale, p("v_leak")
        if isinstance(node, nir.CubaLI):
            return synapse, LIF(tau=tau, resistance=p("r"), threshold=_UNREACHABLE, v_rest=v_leak,
                                reset="none", spike_fn=spike_fn)
        return synapse, LIF(tau=tau, resistance=p("r"), threshold=np.asarray(p("v_threshold")) - v_leak,
                            v_rest=v_leak, v_reset=p("v_reset"), reset="zero", spike_fn=spike_fn)
    raise TypeError(f"from_nir: {where} is a {type(node).__name__}; memsnn reads the neurons LIF, IF, CubaLIF, "
                    "LI, I and CubaLI.")


def from_nir(graph: "nir.NIRGraph", *, dt: float, nir_dt: float | None = None,
             stimulus: StimulusKind = "current", spike_fn: Callable = heaviside) -> Network:
    """The :class:`memsnn.Network` of a feed-forward NIR graph, to be simulated with step ``dt``.

    The inverse of :func:`to_nir`: the graph must be one chain ``Input -> (array -> neuron)* ->
    Output``, where an array is ``Affine`` / ``Linear``, ``Conv2d`` (optionally followed by
    ``AvgPool2d``), ``Scale``, or nothing (an identity), ``Flatten`` may stand before a dense array,
    and a neuron is ``LIF``, ``IF``, ``CubaLIF`` or the non-firing ``LI``, ``I``, ``CubaLI``.

    Args:
        graph: a ``nir.NIRGraph`` (``nir.read(path)`` loads one from a file).
        dt: the time step (s) the memsnn network will be simulated with.
        nir_dt: the time step (s) the graph was written for (snnTorch 1.0: 1e-4); default ``dt``.
            Time constants are multiplied by ``dt / nir_dt``.
        stimulus: what will drive the first layer, ``"current"`` or ``"impulses"`` (see
            :func:`to_nir`).
        spike_fn: the spike function of every neuron (the exact step by default; a surrogate from
            :mod:`memsnn.spikes` to train the imported network).

    Returns:
        The network; its input is the graph's input flattened (channels first for images).

    Raises:
        ImportError: the ``nir`` package is missing.
        TypeError / ValueError: a node or connection memsnn cannot express (the message names it).
    """
    nir = _nir()
    dt, nir_dt = _check_steps("from_nir", dt, nir_dt)
    _check_stimulus("from_nir", stimulus)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"from_nir: expected a nir.NIRGraph, got {type(graph).__name__}.")
    order = _chain(nir, graph)
    shape = tuple(int(s) for s in np.asarray(order[0][1].input_type["input"]).reshape(-1))
    neuron_types = (nir.LIF, nir.IF, nir.CubaLIF, nir.LI, nir.I, nir.CubaLI)
    layers, pending = [], []  # pending: the array nodes (name, node) since the last neuron
    for name, node in order[1:-1]:
        where = f"node {name!r}"
        if isinstance(node, nir.Flatten):
            if pending:
                raise ValueError(f"from_nir: {where} flattens the output of an array; memsnn flattens only "
                                 "between a neuron and the next array.")
            shape = (math.prod(shape),)
            continue
        if not isinstance(node, neuron_types):
            if not isinstance(node, (nir.Affine, nir.Linear, nir.Conv2d, nir.AvgPool2d, nir.Scale)):
                raise TypeError(f"from_nir: {where} is a {type(node).__name__}, which memsnn does not read; "
                                "supported: Affine, Linear, Conv2d, AvgPool2d, Scale, Flatten and the neurons "
                                "LIF, IF, CubaLIF, LI, I, CubaLI.")
            pending.append((name, node))
            continue
        array, shape = _layer_array(nir, pending, shape, where)
        spike_driven = bool(layers) or stimulus == "impulses"
        synapse, neuron = _neuron(nir, node, math.prod(shape), spike_driven, dt, nir_dt / dt, spike_fn, where)
        layers.append(Layer(array, synapse, neuron))
        pending = []
    if pending or not layers:
        raise ValueError("from_nir: the graph must end in a neuron layer before its Output (found "
                         f"{[k for k, _ in pending] or 'no neuron'}).")
    return Network(layers)


def _layer_array(nir, pending: list, shape: tuple[int, ...], where: str):
    """The synapse array made of the array nodes in front of a neuron, and the neurons' shape."""
    kinds = [type(node) for _, node in pending]
    if not pending:
        return Identity(math.prod(shape), gain=None), shape
    first_name, first = pending[0]
    where = f"node {first_name!r}"
    if kinds in ([nir.Affine], [nir.Linear]):
        weight = np.asarray(first.weight, dtype=np.float64)
        if len(shape) != 1 or weight.ndim != 2 or weight.shape[1] != shape[0]:
            raise ValueError(f"from_nir: {where} has a weight of shape {weight.shape} for inputs of shape {shape} "
                             "(a dense layer after a convolution needs a Flatten in front of it).")
        bias = np.asarray(first.bias, dtype=np.float64) if isinstance(first, nir.Affine) else None
        return Dense(weight, bias), (weight.shape[0],)
    if kinds in ([nir.Conv2d], [nir.Conv2d, nir.AvgPool2d]):
        conv = _conv_array(first, pending[1][1] if len(pending) == 2 else None, shape, where)
        return conv, tuple(conv.out_shape)
    if kinds == [nir.Scale]:
        scale = np.asarray(first.scale, dtype=np.float64).reshape(-1)
        n = math.prod(shape)
        if scale.size not in (1, n):
            raise ValueError(f"from_nir: {where} scales {scale.size} values for inputs of shape {shape}.")
        if np.all(scale == scale[0]):
            return Identity(n, gain=float(scale[0])), shape
        return Dense(jnp.diag(jnp.asarray(np.broadcast_to(scale, (n,))))), shape
    raise ValueError(f"from_nir: the nodes {[k for k, _ in pending]} ({[k.__name__ for k in kinds]}) stand between "
                     "two neurons; memsnn reads one Affine / Linear, Conv2d (+ AvgPool2d) or Scale per layer.")
