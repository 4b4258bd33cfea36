"""Export and import of LIF / IF networks in NIR, the Neuromorphic Intermediate Representation.

NIR (the ``nir`` package, ``pip install 'memsnn[nir]'``) is the graph format that snnTorch, Spyx,
Norse, Lava, Rockpool, Sinabs and others read and write. :func:`to_nir` writes a feed-forward
:class:`memsnn.Network` of ideal arrays and LIF / IF neurons as a NIR graph; :func:`from_nir` reads
such a graph back into a network. For a network that NIR can express, ``from_nir(to_nir(net))``
simulates to the same spikes, and to the same membrane potentials up to rounding (the absolute
threshold ``v_rest + threshold`` is stored and read back as a difference; ~1e-15 in float64).

Each component writes and reads its own NIR node(s) (``to_nir`` / ``from_nir`` of
:class:`~memsnn.arrays.AbstractSynapseArray` and :class:`~memsnn.neurons.AbstractNeuron`; the
node types a kind reads are its ``nir_node_types``); this module holds only the graph machinery:
the chain of nodes, the time step conversion, and finding the kind that reads a node. What maps onto
what (a layer's ``n`` neurons have the NIR shape ``(n,)``, or ``(C, H, W)`` after a convolution):

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

import numpy as np

from .._nir import NirStep
from ..arrays import AbstractSynapseArray, Identity
from ..network import Layer, Network
from ..neurons import AbstractNeuron
from ..neurons.lif import heaviside

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


def _readers(base: type) -> dict[str, type]:
    """``{NIR node type name: the component kind that reads it}`` over every subclass of ``base``
    that declares ``nir_node_types`` (the first kind to claim a type reads it)."""
    readers: dict[str, type] = {}
    seen, queue = set(), [base]
    while queue:
        kind = queue.pop(0)
        for sub in kind.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                queue.append(sub)
                for name in sub.nir_node_types:
                    readers.setdefault(name, sub)
    return readers


# --------------------------------------------------------------------------------------------
# memsnn -> NIR


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
    shape = tuple(network.layers[0].array.nir_input_shape())
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
        array_nodes, shape = layer.array.to_nir(nir, i, shape)
        for name, node in array_nodes:
            add(name, node)
        step = NirStep(nir, dt, nir_dt / dt, spike_driven=i > 0 or stimulus == "impulses", where=f"to_nir: layer {i}")
        add(f"{i}.neuron", layer.neuron.to_nir(layer.synapse, shape, step))
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
    arrays, neurons = _readers(AbstractSynapseArray), _readers(AbstractNeuron)
    layers, pending = [], []  # pending: the array nodes (name, node) since the last neuron
    for name, node in order[1:-1]:
        where = f"node {name!r}"
        if isinstance(node, nir.Flatten):
            if pending:
                raise ValueError(f"from_nir: {where} flattens the output of an array; memsnn flattens only "
                                 "between a neuron and the next array.")
            shape = (math.prod(shape),)
            continue
        kind = type(node).__name__
        if kind not in neurons:
            if kind not in arrays:
                raise TypeError(f"from_nir: {where} is a {kind}, which memsnn does not read; supported: "
                                f"{', '.join(arrays)}, Flatten and the neurons {', '.join(neurons)}.")
            pending.append((name, node))
            continue
        array, shape = _layer_array(nir, arrays, pending, shape)
        step = NirStep(nir, dt, nir_dt / dt, spike_driven=bool(layers) or stimulus == "impulses", where=where)
        synapse, neuron = neurons[kind].from_nir(node, math.prod(shape), step, spike_fn)
        layers.append(Layer(array, synapse, neuron))
        pending = []
    if pending or not layers:
        raise ValueError("from_nir: the graph must end in a neuron layer before its Output (found "
                         f"{[k for k, _ in pending] or 'no neuron'}).")
    return Network(layers)


def _layer_array(nir, readers: dict[str, type], pending: list, shape: tuple[int, ...]):
    """The synapse array made of the array nodes in front of a neuron, and the neurons' shape."""
    if not pending:
        return Identity(math.prod(shape), gain=None), shape
    first_name, first = pending[0]
    read = readers[type(first).__name__].from_nir(nir, pending, shape, f"node {first_name!r}")
    if read is None:
        kinds = [type(node).__name__ for _, node in pending]
        raise ValueError(f"from_nir: the nodes {[k for k, _ in pending]} ({kinds}) stand between two neurons; "
                         "memsnn reads one Affine / Linear, Conv2d (+ AvgPool2d) or Scale per layer.")
    return read
