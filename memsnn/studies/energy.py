"""Energy per image of a SPICEprop network, per layer and per component, and of a surrogate-gradient
(e.g. binary-activation) network from its synaptic operations (docs/energy.md).

The network (:class:`~memsnn.training.spiceprop.SpicepropNet`) has two halves that are priced
differently because memsnn models only one of them as a circuit:

* the dense front end (``784 -> 100 -> 10``) is digital: its effective synaptic operations (MACs:
  its inputs, pixels and ReLU outputs, are analog) priced at the proxy (:mod:`memsnn.energy.metrics`);
* the readout (10 MIF neurons behind alpha synapses) is the simulated circuit: its energy is
  integrated by :class:`~memsnn.energy.MIFEnergy` during the same simulation that classifies
  the image (the synaptic events that write the drive into the synapses are priced as MACs too).

The total per image is the proxy of every layer plus the energy the circuit's sources supplied
(dissipated in the memristors + left in the membrane capacitors).

A fully memristive network (its front end on crossbars, ``SpicepropConfig(crossbar=...)``) is
priced from its circuit instead: the chip is programmed once and read batch by batch (one read per
batch, as the deployment evaluates it, :func:`memsnn.crossbar.deploy.one_read`), each crossbar's
read energy from its nodal solve and its converters from :class:`~memsnn.energy.ReadScheme`
(:func:`~memsnn.energy.crossbar_read_energy`), plus the drive values written into the readout and
the readout circuit's meter. The digital proxy of the same operations is kept beside it.

A surrogate-gradient network (:class:`~memsnn.training.surrogate.SurrogateNet`, dense) is digital
throughout: :func:`surrogate_energy` counts each layer's effective synaptic operations over all
time steps (spike inputs: ACs; an analog image: MACs) and prices them at the proxy. Neuron updates, bias additions and memory traffic are not counted (NeuroBench's
synaptic operations leave them out).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..arrays import Identity
from ..crossbar.array import AbstractMemristiveArray
from ..crossbar.deploy import as_dense, one_read, program, read_keys
from ..energy.crossbar import ReadScheme, crossbar_read_energy
from ..network import Layer, Network
from ..simulate import simulate
from ..stimulus import Impulses
from ..training import spiceprop as _sp
from ..training import surrogate as _sg
from ..energy.meters import MIFEnergy, MIFEnergyState
from ..energy.metrics import AC_ENERGY, MAC_ENERGY, activation_sparsity, connection_sparsity, footprint, synaptic_operations

__all__ = ["SpicepropEnergy", "SurrogateEnergy", "spiceprop_energy", "spiceprop_readout_energy", "surrogate_energy"]


def _layer_rows(layers: dict) -> list[str]:
    """The per-layer table of an energy report: SynOps per image, their kind (AC/MAC), proxy nJ."""
    rows = [f"{'layer':<10} {'SynOps/image':>14} {'kind':>5} {'proxy nJ':>10}"]
    for name, row in layers.items():
        rows.append(f"{name:<10} {row['synops']:>14.1f} {row['kind']:>5} {row['proxy_J'] * 1e9:>10.4f}")
    return rows


@dataclasses.dataclass(frozen=True)
class SpicepropEnergy:
    """Energy and NeuroBench metrics of a SPICEprop network, averaged per image.

    Attributes:
        layers: per layer name (``dense1``, ..., ``readout``) a dict with ``synops`` (effective
            operations per image), ``kind`` (``"MAC"`` or ``"AC"``) and ``proxy_J`` (J per image at
            the proxy price).
        circuit_J: per component of the readout circuit (:class:`~memsnn.energy.MIFEnergyState`
            fields, plus ``dissipated`` and ``supplied``), J per image (summed over the neurons).
        total_J: proxy of every layer + the energy the circuit's sources supplied, J per image.
        proxy_total_J: the proxy alone (as papers report it), J per image.
        activation_sparsity: over the hidden ReLU outputs, the drive units and the MIF spike
            flags at every step.
        connection_sparsity: over the front end's weights.
        footprint_bytes: bytes of the model's arrays.
        n_images: images averaged over.
        accuracy: fraction classified right (``None`` without labels).
        front_end_J: a front end on crossbars: per layer (``dense1``, ...) its read energy per image
            (J: ``cells``, ``word_wires``, ``bit_wires``, their sum ``supplied``, the converters
            ``dac``, ``adc``, ``sample_hold``, ``shift_add``, and ``total``) and counts per image
            (``pulses``, ``dac_drives``, ``conversions``), and ``readout_drive`` (the DAC drives
            that write the drive values into the readout's synapses); ``None`` for a digital front
            end. ``total_J`` is then the front end's circuit + the readout circuit's supplied energy.
        read: the :class:`~memsnn.energy.ReadScheme` settings, the chip's keys and reads (crossbars only).
        digital_total_J: crossbars only: the total as if the front end were digital (the proxy of
            every layer + the readout circuit), for comparison.
    """

    layers: dict
    circuit_J: dict
    total_J: float
    proxy_total_J: float
    activation_sparsity: float
    connection_sparsity: float
    footprint_bytes: int
    n_images: int
    accuracy: float | None = None
    front_end_J: dict | None = None
    read: dict | None = None
    digital_total_J: float | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def lines(self) -> list[str]:
        """A readable table in nJ per image."""
        nj = 1e9
        accuracy = "" if self.accuracy is None else f", test accuracy {100 * self.accuracy:.2f}%"
        if self.front_end_J is None:
            out = [f"energy per image (mean over {self.n_images} images{accuracy}): {self.total_J * nj:.3f} nJ "
                   f"(proxy of the synaptic operations alone: {self.proxy_total_J * nj:.3f} nJ)"]
        else:
            read = self.read
            out = [f"energy per image on the chip (mean over {self.n_images} images{accuracy}): {self.total_J * nj:.3f} nJ "
                   f"(front end on crossbars read from the circuit + the readout circuit; with a digital front end "
                   f"at the proxy it would be {self.digital_total_J * nj:.3f} nJ)",
                   f"reads: {read['input_bits']} pulses of {read['pulse_width_s'] * 1e9:g} ns per image and layer at "
                   f"the DAC's v_read, one read of the chip per {read['images_per_read']} images; converters per "
                   f"conversion: DAC {read['dac_energy_J'] * 1e12:.3g} pJ, ADC {read['adc_energy_J'] * 1e12:.3g} pJ, "
                   f"sample-and-hold {read['sample_hold_energy_J'] * 1e12:.3g} pJ, shift-add "
                   f"{read['shift_add_energy_J'] * 1e12:.3g} pJ",
                   f"{'front end':<14} {'cells':>9} {'word wires':>11} {'bit wires':>10} {'DAC':>9} {'ADC':>9} "
                   f"{'S&H':>9} {'shift-add':>10} {'total pJ':>10}"]
            for name, row in self.front_end_J.items():
                if name == "readout_drive":
                    continue
                out.append(f"{name:<14} " + " ".join(f"{row[k] * 1e12:>{w}.4f}" for k, w in (
                    ("cells", 9), ("word_wires", 11), ("bit_wires", 10), ("dac", 9), ("adc", 9), ("sample_hold", 9),
                    ("shift_add", 10), ("total", 10))))
            drive = self.front_end_J["readout_drive"]
            out.append(f"readout drive DACs: {drive['dac_drives']:.1f} drives, {drive['dac'] * 1e12:.4f} pJ")
            out.append("digital proxy of the same operations (for comparison):")
        out += _layer_rows(self.layers)
        out.append("readout circuit, per component (nJ per image; negative = supplied):")
        for name, value in self.circuit_J.items():
            out.append(f"  {name:<12} {value * nj:>12.5f}")
        out.append(f"activation sparsity {self.activation_sparsity:.4f}, connection sparsity "
                   f"{self.connection_sparsity:.4f}, footprint {self.footprint_bytes} bytes")
        return out


def spiceprop_readout_energy(model, drive, *, devices=None, solver=None, throw: bool = True):
    """Simulate the readout of ``model`` with an energy meter.

    Args:
        model: a :class:`~memsnn.training.spiceprop.SpicepropNet` with MIF neurons.
        drive: ``(batch, n_classes)`` impulse amplitudes (A), :meth:`SpicepropNet.drive`.
        devices: ``(synapse, neuron)`` to simulate instead of ``model.readout()`` (co-design sweeps).
        solver: integrator (default: the model's own, ``config.solver``).
        throw: as :func:`memsnn.simulate`; with ``False`` a failed sample is reported in ``result``.

    Returns:
        ``(energy, potentials, spikes, result)``: the :class:`MIFEnergyState` at the end, each field
        ``(batch, n_classes)`` (J); the membrane potentials (V) and spike flags
        ``(batch, n_steps, n_classes)``; the ``(batch,)`` :class:`~memsnn.RESULTS` codes.
    """
    config = model.config
    if config.neuron != "mif":
        raise ValueError(f"spiceprop_energy: the circuit energy is that of MIF neurons; this model's readout is "
                         f"{config.neuron!r}. Meter a model built with neuron='mif'.")
    synapse, neuron = model.readout() if devices is None else devices
    gain = jnp.ones((), drive.dtype)
    network = Network([Layer(Identity(config.n_classes, gain=gain), synapse, neuron, energy=MIFEnergy())])
    batch, n = drive.shape
    amplitude = jnp.broadcast_to(drive[:, None, :], (batch, len(config.steps), n))
    trace = simulate(network, Impulses(amplitude, config.steps), dt=config.dt, n_steps=config.n_steps,
                     solver=_sp.make_integrator(config.solver) if solver is None else solver,
                     record=("membrane_potential", "spikes"), checkpoint_every=config.checkpoint_every, unroll=config.unroll,
                     fold_batch=True, throw=throw)
    return trace.final_state[0].energy, trace.membrane_potential[0], trace.spikes[0], trace.result


@eqx.filter_jit
def _spiceprop_batch(net, weights, x):
    """One batch of :func:`spiceprop_energy`: the front end's inputs and synaptic operations, the
    metered readout, the predictions (``weights``: the front end's dense weights). At module level,
    so that another call (another chip, another read) reuses the compiled program."""
    h, inputs, acts, ops = x.astype(weights[0].dtype), [], [], []
    for i, (layer, weight) in enumerate(zip(net.front_end, weights)):
        inputs.append(h)
        ops.append(synaptic_operations(h, weight))
        h = jax.vmap(layer)(h)
        if i < len(net.front_end) - 1 or net.config.output_activation == "relu":
            h = jax.nn.relu(h)
        acts.append(h)
    drive = net.drive(x)
    energy, potentials, spikes, _ = spiceprop_readout_energy(net, drive)
    predictions = jnp.argmax(jnp.sum(potentials, axis=1), axis=-1)
    # Each event writes every nonzero drive value into its synapse: one MAC (value x gain).
    writes = len(net.config.steps) * jnp.sum(drive != 0, axis=-1).astype(drive.dtype)
    ops.append(writes)
    zeros = sum(jnp.sum(a == 0) for a in acts) + jnp.sum(spikes == 0)
    count = sum(a.size for a in acts) + spikes.size
    circuit = {name: jnp.sum(value) for name, value in energy._asdict().items()}
    circuit["dissipated"], circuit["supplied"] = jnp.sum(energy.dissipated()), jnp.sum(energy.supplied())
    return [jnp.sum(o) for o in ops], circuit, zeros, count, predictions, inputs, jnp.sum(writes)


def spiceprop_energy(model, images, labels=None, *, batch_size: int = 500, ac_energy: float = AC_ENERGY,
                     mac_energy: float = MAC_ENERGY, read: ReadScheme | None = None,
                     program_key=None, read_key=None) -> SpicepropEnergy:
    """Energy per image of ``model`` on ``images`` ``(N, n_inputs)``, per layer and per component.

    Runs the images in batches of ``batch_size`` (each batch one simulation) and averages; with
    ``labels`` ``(N,)`` the same simulations give the accuracy (the prediction of
    :func:`~memsnn.training.spiceprop.spiceprop_predict`).

    A front end on crossbars is metered on one chip: ``model`` programmed with ``program_key``
    (default ``key(100)``; a model already programmed stays as it is) and read once per batch, batch
    ``i`` with ``fold_in(read_key, i)`` (default ``read_key = key(0)``): chip 0 of
    ``benchmarks/crossbar_training.py``'s deployment, whose accuracy it reproduces with
    ``batch_size`` equal to its ``--read-batch``. The crossbars are read as ``read`` says (default
    :class:`~memsnn.energy.ReadScheme`); the accuracy is that of the simulated read (its converters
    as the crossbars define them: ideal in the presets).
    """
    images = np.asarray(images)
    if images.ndim != 2 or images.shape[1] != model.config.n_inputs or len(images) == 0:
        raise ValueError(f"spiceprop_energy: images must be (N, {model.config.n_inputs}) with N >= 1, "
                         f"got {images.shape}.")
    memristive = [isinstance(layer, AbstractMemristiveArray) for layer in model.front_end]
    if any(memristive) and not all(memristive):
        raise ValueError("spiceprop_energy: a front end with some layers on crossbars and some digital is not priced; "
                         "put every layer on crossbars (memsnn.crossbar.deploy.on_crossbar) or none.")
    on_chip = all(memristive)
    if on_chip:
        read = ReadScheme() if read is None else read
        program_key = jax.random.key(100) if program_key is None else program_key
        read_key = jax.random.key(0) if read_key is None else read_key
        if not all(layer.is_programmed for layer in model.front_end):
            model = program(model, key=program_key)
    weights = [layer.weight for layer in as_dense(model).front_end]

    names = [f"dense{i + 1}" for i in range(len(weights))]
    sums, front, zeros, count, right = None, None, 0, 0, 0
    for i, start in enumerate(range(0, len(images), batch_size)):
        x = jnp.asarray(images[start:start + batch_size])
        net = one_read(model, key=jax.random.fold_in(read_key, i)) if on_chip else model
        ops, circuit, z, c, predicted, inputs, writes = _spiceprop_batch(net, weights, x)
        if on_chip:
            keys = read_keys(model, key=jax.random.fold_in(read_key, i))
            meter = eqx.filter_jit(crossbar_read_energy)  # compiled whole: op by op, hundreds of small programs
            part = {name: {k: float(jnp.sum(v)) for k, v in meter(layer, h, read, key=k)._asdict().items()
                           if k not in ("pulses", "conversions")}
                    for name, layer, h, k in zip(names, model.front_end, inputs, keys)}
            part["readout_drive"] = {"dac_drives": float(writes) * read.input_bits}
            front = part if front is None else jax.tree.map(np.add, front, part)
        ops, circuit, z, c, predicted = jax.device_get((ops, circuit, z, c, predicted))
        sums = (ops, circuit) if sums is None else jax.tree.map(np.add, sums, (ops, circuit))
        zeros, count = zeros + int(z), count + int(c)
        if labels is not None:
            right += int(np.sum(predicted == np.asarray(labels)[start:start + batch_size]))
    ops, circuit = jax.tree.map(lambda s: float(s) / len(images), sums)
    layers = {name: {"synops": o, "kind": "MAC", "proxy_J": o * mac_energy}
              for name, o in zip(names + ["readout"], ops)}
    proxy = sum(row["proxy_J"] for row in layers.values())
    extra = {}
    total = proxy + circuit["supplied"]
    if on_chip:
        front = jax.tree.map(lambda s: float(s) / len(images), front)
        for name, layer in zip(names, model.front_end):
            row = front[name]
            row["total"] = row["supplied"] + row["dac"] + row["adc"] + row["sample_hold"] + row["shift_add"]
            row["pulses"] = read.input_bits
            row["conversions"] = row["adc"] / read.adc_energy if read.adc_energy else None
        front["readout_drive"]["dac"] = front["readout_drive"]["dac_drives"] * read.dac_energy
        chip_total = sum(front[name]["total"] for name in names) + front["readout_drive"]["dac"]
        extra = {"front_end_J": front, "digital_total_J": total,
                 "read": {"pulse_width_s": read.pulse_width, "input_bits": read.input_bits,
                          "dac_energy_J": read.dac_energy, "adc_energy_J": read.adc_energy,
                          "sample_hold_energy_J": read.sample_hold_energy, "shift_add_energy_J": read.shift_add_energy,
                          "images_per_read": batch_size, "program_key": _key_data(program_key),
                          "read_key": _key_data(read_key)}}
        total = chip_total + circuit["supplied"]
    return SpicepropEnergy(layers=layers, circuit_J=circuit, total_J=total,
                           proxy_total_J=proxy, activation_sparsity=zeros / count,
                           connection_sparsity=float(connection_sparsity(weights)),
                           footprint_bytes=footprint(model), n_images=len(images),
                           accuracy=None if labels is None else right / len(images), **extra)


def _key_data(key) -> list[int]:
    return np.asarray(jax.random.key_data(key)).ravel().tolist()


@dataclasses.dataclass(frozen=True)
class SurrogateEnergy:
    """NeuroBench metrics and proxy energy of a surrogate-gradient network, averaged per image.

    Attributes:
        layers: per layer name (``dense1``, ...) a dict with ``synops`` (effective synaptic
            operations per image, summed over the time steps), ``kind`` (``"AC"`` for spike inputs,
            ``"MAC"`` for an analog input) and ``proxy_J`` (J per image at the proxy price).
        proxy_total_J: the sum over the layers, J per image.
        spikes_per_image: per spiking layer (``dense1``, ...: the layers whose neurons fire), the
            spikes it emits per image.
        activation_sparsity: fraction of zeros over the spiking layers' outputs at every step.
        connection_sparsity: over the weight matrices.
        footprint_bytes: bytes of the model's arrays.
        n_steps: time steps per image.
        n_images: images averaged over.
        accuracy: fraction classified right (``None`` without labels).
    """

    layers: dict
    proxy_total_J: float
    spikes_per_image: dict
    activation_sparsity: float
    connection_sparsity: float
    footprint_bytes: int
    n_steps: int
    n_images: int
    accuracy: float | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def lines(self) -> list[str]:
        """A readable table in nJ per image."""
        nj = 1e9
        accuracy = "" if self.accuracy is None else f", test accuracy {100 * self.accuracy:.2f}%"
        out = [f"energy per image (mean over {self.n_images} images, {self.n_steps} steps{accuracy}): proxy of the "
               f"synaptic operations {self.proxy_total_J * nj:.3f} nJ (neuron updates, biases and memory not counted)"]
        out += _layer_rows(self.layers)
        spikes = ", ".join(f"{name} {count:.1f}" for name, count in self.spikes_per_image.items())
        out.append(f"spikes per image: {spikes}; activation sparsity {self.activation_sparsity:.4f}, connection "
                   f"sparsity {self.connection_sparsity:.4f}, footprint {self.footprint_bytes} bytes")
        return out


def surrogate_energy(model: _sg.SurrogateNet, images, labels=None, *, batch_size: int = 500,
                     ac_energy: float = AC_ENERGY, mac_energy: float = MAC_ENERGY) -> SurrogateEnergy:
    """NeuroBench synaptic operations and proxy energy per image of a dense surrogate-gradient network.

    Each layer's inputs at every step are what the simulation feeds it: the first layer's are the
    encoded image (``encoding="rate"``: Bernoulli spikes, one AC per spike and nonzero weight it
    meets, at each step; ``"direct"``: the analog image, one MAC per nonzero pixel and weight, once
    per image with continuous integration, whose input current is constant, and at every step with
    discontinuous integration, which feeds it to every window), the others' the spikes of the
    layer below (ACs).
    The images run in batches of ``batch_size`` (the rate code's spikes are drawn as in training
    and evaluation); with ``labels`` ``(N,)`` the same simulations give the accuracy
    (:func:`~memsnn.training.surrogate.surrogate_predict`'s prediction).

    Args:
        model: a trained :class:`~memsnn.training.surrogate.SurrogateNet` with ideal weights.
        images: ``(N, n_inputs)`` in ``[0, 1]``.

    Raises:
        ValueError: a convolutional or crossbar model, or images of the wrong shape.
    """
    config = model.config
    if config.architecture != "dense" or config.crossbar is not None:
        raise ValueError("surrogate_energy: counts the synaptic operations of dense layers with ideal weights; this "
                         f"model has architecture={config.architecture!r}, crossbar={config.crossbar!r}.")
    images = np.asarray(images)
    if images.ndim != 2 or images.shape[1] != config.n_inputs or len(images) == 0:
        raise ValueError(f"surrogate_energy: images must be (N, {config.n_inputs}) with N >= 1, got {images.shape}.")
    weights = [array.weight for array in model.arrays]
    spiking = len(weights) - (config.output == "integrator")

    @jax.jit
    def one_batch(x):
        spikes, membranes = model.run(x)
        first = model.stimulus(x).amplitude  # rate: (batch, n_steps, n_in) spikes; direct: the image
        inputs = [first] + [spikes[i] for i in range(len(weights) - 1)]
        ops = [jnp.sum(synaptic_operations(h, w)) for h, w in zip(inputs, weights)]
        counts = [jnp.sum(spikes[i]) for i in range(spiking)]
        zeros = sum(jnp.sum(spikes[i] == 0) for i in range(spiking))
        predictions = _sg._predict_from(config, spikes[-1], membranes[-1])
        return ops, counts, zeros, predictions

    sums, zeros, right = None, 0, 0
    for start in range(0, len(images), batch_size):
        ops, counts, z, predicted = jax.device_get(one_batch(jnp.asarray(images[start:start + batch_size])))
        sums = (ops, counts) if sums is None else jax.tree.map(np.add, sums, (ops, counts))
        zeros += int(z)
        if labels is not None:
            right += int(np.sum(predicted == np.asarray(labels)[start:start + batch_size]))
    ops, counts = jax.tree.map(lambda v: float(v) / len(images), sums)
    names = [f"dense{i + 1}" for i in range(len(weights))]
    kinds = ["AC" if config.encoding == "rate" else "MAC"] + ["AC"] * (len(weights) - 1)
    layers = {name: {"synops": o, "kind": kind, "proxy_J": o * (ac_energy if kind == "AC" else mac_energy)}
              for name, o, kind in zip(names, ops, kinds)}
    outputs = len(images) * config.n_steps * sum(w.shape[0] for w in weights[:spiking])
    return SurrogateEnergy(layers=layers, proxy_total_J=sum(row["proxy_J"] for row in layers.values()),
                           spikes_per_image=dict(zip(names[:spiking], counts)),
                           activation_sparsity=zeros / outputs if outputs else 1.0,
                           connection_sparsity=float(connection_sparsity(weights)), footprint_bytes=footprint(model),
                           n_steps=config.n_steps, n_images=len(images),
                           accuracy=None if labels is None else right / len(images))
