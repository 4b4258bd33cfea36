"""SPICEprop: exact backpropagation through the analog dynamics of memristive neurons.

The network of Zhou et al. (arXiv 2203.01426; docs/mif-neuron.md, section 7)::

    image (784) -> Dense 100, ReLU -> Dense 10 -> drive u (10, one per class)
        -> u arrives as impulses at steps 0, 400, 800 through an alpha synapse
        -> 10 MIF neurons simulated by memsnn.simulate for 1000 steps of 10 us
    loss = sum over steps of NLL(log_softmax(membrane potentials in mV)), batch mean
    prediction = argmax over classes of the membrane potential summed over time

Gradients are those of the simulated circuit (the SpicepropEuler scheme by default): no surrogate.

The drive units are linear by default. The paper's table puts a ReLU on them too
(``output_activation="relu"``). With the uniform init, a ReLU drive unit starts inactive (output 0,
no gradient) on about half of the images, its own class's included; the images of the other nine
classes on which it is active push it down (each is the wrong class there), the images of its own
class on which it is inactive cannot pull it up, and within the first few Adam steps (each moves
every weight by about the learning rate, so the pre-activation by far more than its initial spread)
units go dark on every validation image of their own class: two of the ten after one short epoch
(benchmarks/spiceprop_relu_probe.py counts them per epoch; such a class only wins ties), and the
40-epoch full-MNIST run ended at 88.09 % (benchmarks/results/spiceprop_mnist_relu_uniform.json). A
lower learning rate alone does not prevent it. A positive ``drive_bias`` (the usual remedy for dead
ReLU units: a small positive initial bias, Goodfellow, Bengio and Courville 2016, section 6.3.1; 0.1
and 0.3 were probed, 0.3 chosen on the validation split) starts every drive unit active on (nearly)
every image, so its own class pulls it up while the others push it down, and it becomes selective
instead of dying: no drive unit died in the probes (docs/training.md, "SPICEprop exactly as
published"). A negative linear drive simply hyperpolarises its neuron, which the circuit handles
(and the saturation below bounds it on both sides).

The drive. The front end's output ``u`` (dimensionless) becomes an impulse of
``u * drive_scale`` mA (``drive_scale = 1/128`` as in the reference pipeline). Forward Euler on the
MIF is only conditionally stable: with three events the explicit step becomes unstable above about
0.029 mA per event (``dt (G1 + G2) / C > 2`` once the memristors switch on), and
:func:`memsnn.simulate` stops with an error. Rather than hope the weights stay small, the drive
saturates smoothly: ``I = drive_limit * tanh(u * drive_scale / drive_limit)`` with
``drive_limit = 0.025`` mA, linear for small ``u`` and stable for every ``u``. Set ``drive_limit``
to ``None`` for the plain linear drive (then a stable integrator may be needed).

Speed. The readout neurons are independent (one-to-one synapses), so a batch of ``B`` images with
``n`` classes is simulated as one population of ``B * n`` neurons (``simulate(..., fold_batch=True)``):
the arrays inside the time loop are then ``(B * n,)`` instead of ``(B, n)``, which vectorises far
better on a CPU when ``n = 10``. The numbers are the same as the plain batched run.

The readout's gradient in forward mode. Each output neuron's trace ``v[b, :, c]`` depends on one
number of the front end only, its own drive ``drive[b, c]`` (the synapses are one-to-one and the
neurons independent). So one forward-mode pass with the tangent 1 on every drive
(:func:`forward_sensitivity`) gives every ``dv[b, t, c] / d drive[b, c]`` at once, in the same
time loop as the potentials, and the backward pass is ``sum_t`` of the potentials' cotangent times
these sensitivities: no reverse time loop, no checkpoints recomputed (SPICE's own transient
sensitivity analysis works this way). It stores one number per neuron and step, as many as the
potentials themselves, in place of the checkpointed states (also one number per neuron and step
with the default chunks of 5). The training step (batch 200, one CPU device) took 1.28x less CPU
time than with reverse mode through :func:`memsnn.simulate`'s checkpointed loop, with the same loss
and gradients equal to 3e-7 relative (float32; docs/training.md). The device constants are shared
by all neurons and would need one tangent each: when they are trained (``train_device``), or
differentiated in any other way, the readout is differentiated in reverse mode through
:func:`memsnn.simulate` (``checkpoint_every``, ``unroll``) instead.

Fully memristive. ``crossbar="realistic"`` (any :func:`memsnn.crossbar.preset` name) makes the dense
layers of the front end memristive crossbars (:class:`memsnn.crossbar.Crossbar`; the biases are one
more row of devices, :class:`memsnn.crossbar.BiasRow`): the weights are programmed as device conductances and every image is read through the preset's non-idealities
(finite levels, programming noise, stuck-at faults, read noise, wire resistance, ...). Training
such a model is hardware-aware training: every step programs the crossbars afresh (a new draw of
programming noise and faults, from the loss's ``key``) and reads each image with its own read
noise, and the gradient flows through the non-idealities to the weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero, custom_vjp_primal_tree_values
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..arrays import AbstractSynapseArray, Dense, Identity
from ..crossbar import crossbar_from_dense
from ..devices.bounds import constrain, zero_coordinates
from ..integrators import AbstractIntegrator, Diffrax, Euler, SpicepropEuler
from ..network import Layer, Network
from ..neurons import LIF, MIF
from ..presets import MILLIAMP, MILLIVOLT, SPICEPROP_DT, SPICEPROP_STEPS, spiceprop_mif
from ..simulate import simulate
from ..stimulus import Impulses
from ..synapses import AlphaSynapse
from ._config import JsonConfig
from ._method import Method, cli_type
from .layout import add_crossbar_argument, cast_floats, check_crossbar_preset
from .learner import failed_where_nonfinite
from .predict import Predict, image_keys

__all__ = [
    "DRIVE_LIMIT_MA",
    "DRIVE_SCALE_MA",
    "SOLVERS",
    "SPICEPROP",
    "SpicepropConfig",
    "SpicepropNet",
    "build_spiceprop",
    "forward_sensitivity",
    "make_integrator",
    "spiceprop_loss",
    "spiceprop_predict",
    "spiceprop_trainable",
    "summed_nll",
]

DRIVE_SCALE_MA = 1.0 / 128.0  # mA per unit of front-end output (docs/mif-neuron.md, section 7)
DRIVE_LIMIT_MA = 0.025  # mA: largest impulse, below the ~0.029 mA where forward Euler fails
SOLVERS = ("spiceprop", "euler", "heun", "tsit5", "kvaerno5")
NEURONS = ("mif", "ideal")

# The MIF at rest (v = 18.3 mV, x1 = 7.52e-3, x2 = 8.59e-5; docs/mif-neuron.md, section 5) leaks
# through G1 + G2 = 2.75e-5 S. The "ideal" neuron is a linear RC membrane with that leak.
_REST_V = 0.0183144
_REST_CONDUCTANCE = 2.7502e-5


def make_integrator(name: str) -> AbstractIntegrator:
    """The integrator called ``name`` (one of :data:`SOLVERS`).

    ``"spiceprop"`` is the reference Gauss-Seidel Euler (what the published numbers used),
    ``"euler"`` plain explicit Euler, ``"heun"`` / ``"tsit5"`` fixed-step diffrax solvers, and
    ``"kvaerno5"`` an implicit adaptive diffrax solver (stable for any drive, much slower).
    """
    if name == "spiceprop":
        return SpicepropEuler()
    if name == "euler":
        return Euler()
    if name == "heun":
        return Diffrax(diffrax.Heun())
    if name == "tsit5":
        return Diffrax(diffrax.Tsit5())
    if name == "kvaerno5":
        return Diffrax(diffrax.Kvaerno5(), diffrax.PIDController(rtol=1e-5, atol=1e-9))
    raise ValueError(f"unknown solver {name!r}; choose one of {SOLVERS}.")


@dataclasses.dataclass(frozen=True)
class SpicepropConfig(JsonConfig):
    """Everything that defines a SPICEprop network (stored in checkpoints as JSON).

    Attributes:
        n_inputs: input features (784 for 28x28 images).
        hidden: sizes of the hidden ReLU layers of the dense front end; ``()`` for none. The
            paper's network is ``(100,)``: 784 -> 100 -> 10 -> 10 MIF.
        n_classes: output neurons (one per class).
        output_activation: ``"none"`` (default: a class can also be driven negative,
            hyperpolarising its neuron) or ``"relu"`` (the paper's table; the drive units then die
            unless ``drive_bias`` is positive, see the module docstring).
        neuron: ``"mif"`` (the memristive neuron, :func:`memsnn.presets.spiceprop_mif`) or
            ``"ideal"`` (a linear RC membrane with the MIF's resting leak, for comparison).
        drive_bias: initial bias of the drive units (the front end's last dense layer), or
            ``None`` (default) for the uniform init of every layer. With ReLU drive units a small
            positive value (0.3, chosen on the MNIST validation split) starts every drive unit active on every image, so that its
            own class can pull it up before the other classes push it to zero for good (see the
            module docstring); with linear drive units it only shifts every class alike.
        drive_scale: mA of impulse per unit of front-end output.
        drive_limit: saturation of the impulse (mA), or ``None`` for a linear drive.
        n_steps: simulated steps per sample.
        event_steps: steps at which the image arrives; ``None`` = 0, 40% and 80% of ``n_steps``
            (0, 400, 800 for 1000 steps).
        dt: time step (s).
        solver: integrator name, one of :data:`SOLVERS`.
        checkpoint_every: time-step checkpointing of the backward pass (see
            :func:`memsnn.simulate`): one state per this many steps is kept and the steps in
            between are recomputed. ``None`` stores every intermediate of every step, which on a
            CPU is not only larger but also slower (about 1.5-3x at 1000 steps): moving the stored
            intermediates costs more than recomputing them. It applies where the readout is
            differentiated in reverse mode (``train_device``); the front end's gradient alone
            comes from forward sensitivities, which store nothing but their own trace (module
            docstring).
        unroll: time steps per iteration of the time loop (see :func:`memsnn.simulate`). The
            defaults, ``checkpoint_every = unroll = 5``, make every checkpointed chunk one block
            of straight-line code that XLA fuses: the fastest setting measured on a CPU. A training
            step (batch 200, one device, 2 cores) took 38.9 ms (58 ms CPU) against 68.9 ms (108 ms
            CPU) with ``checkpoint_every=10, unroll=1``: ``benchmarks/spiceprop_vs_torch.py
            --jax-devices 1`` with and without ``--unroll 1 --checkpoint-every 10``. On 2 devices
            (2 cores; ``memsnn train``'s layout) other settings ((10, 10), (2, 2), (10, 5)) were
            within the noise of the default, (20, 10) slower. Like ``checkpoint_every`` it applies
            where the readout is differentiated in reverse mode (``train_device``); the forward
            sensitivities and evaluation run one step per iteration, unchunked: unrolled, XLA
            fuses the alpha synapse's updates into every later step's kernels of the iteration
            and recomputes them there (214 fused operations per step in 15 kernels, against 188
            in 24 with one step per iteration), and the training step took 1.09-1.13x more CPU
            time (docs/training.md).
        train_device: also train the device constants (memristors, capacitance, batteries,
            synapse time constant), each through a bijection onto its physical range
            (:mod:`memsnn.devices.bounds`; ``s = 0`` is the device as built).
        crossbar: ``None`` (ideal dense front end), or the name of a crossbar preset
            (:func:`memsnn.crossbar.preset`, e.g. ``"realistic"``): the front end's dense layers
            are then crossbars with that preset's non-idealities (see the module docstring).
        crossbar_ir_drop: with ``crossbar``, solve the IR drop of the preset's wires in the forward
            pass (exact nodal analysis); ``False`` leaves the wires out, which trains much faster
            on a CPU (the IR drop of the "realistic" preset's 1 Ohm wires is small; evaluate the
            trained model with it: :func:`memsnn.crossbar.deploy.on_crossbar`).
        crossbar_w_max: the weight mapped to a device's full conductance range (with
            ``crossbar``); larger weights saturate when programmed. 0.3 holds 99.9 % of the weights
            the ideal network learns (the rest saturate), at a resolution of 0.02 with 16 levels.
        dtype: ``"float32"`` (fast) or ``"float64"``.
    """

    n_inputs: int = 784
    hidden: tuple[int, ...] = (100,)
    n_classes: int = 10
    output_activation: str = "none"
    neuron: str = "mif"
    drive_bias: float | None = None
    drive_scale: float = DRIVE_SCALE_MA
    drive_limit: float | None = DRIVE_LIMIT_MA
    n_steps: int = SPICEPROP_STEPS
    event_steps: tuple[int, ...] | None = None
    dt: float = SPICEPROP_DT
    solver: str = "spiceprop"
    checkpoint_every: int | None = 5
    unroll: int = 5
    train_device: bool = False
    crossbar: str | None = None
    crossbar_ir_drop: bool = True
    crossbar_w_max: float = 0.3
    dtype: str = "float32"

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.event_steps is not None:
            object.__setattr__(self, "event_steps", tuple(int(s) for s in self.event_steps))
        if self.output_activation not in ("relu", "none"):
            raise ValueError(f"SpicepropConfig: output_activation must be 'relu' or 'none', got {self.output_activation!r}.")
        if self.neuron not in NEURONS:
            raise ValueError(f"SpicepropConfig: neuron must be one of {NEURONS}, got {self.neuron!r}.")
        if self.solver not in SOLVERS:
            raise ValueError(f"SpicepropConfig: solver must be one of {SOLVERS}, got {self.solver!r}.")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"SpicepropConfig: dtype must be 'float32' or 'float64', got {self.dtype!r}.")
        if any(h < 1 for h in self.hidden) or self.n_inputs < 1 or self.n_classes < 2:
            raise ValueError(f"SpicepropConfig: layer sizes must be positive (and n_classes >= 2), got "
                             f"n_inputs={self.n_inputs}, hidden={self.hidden}, n_classes={self.n_classes}.")
        if self.drive_bias is not None and not math.isfinite(self.drive_bias):
            raise ValueError(f"SpicepropConfig: drive_bias must be a finite number or None, got {self.drive_bias}.")
        if not self.drive_scale > 0 or (self.drive_limit is not None and not self.drive_limit > 0):
            raise ValueError("SpicepropConfig: drive_scale and drive_limit must be > 0 (mA).")
        if any(not 0 <= s < self.n_steps for s in self.steps):
            raise ValueError(f"SpicepropConfig: event_steps {self.steps} must lie in [0, n_steps={self.n_steps}).")
        if self.crossbar is not None:
            check_crossbar_preset("SpicepropConfig", self.crossbar)
        if not self.crossbar_w_max > 0:
            raise ValueError(f"SpicepropConfig: crossbar_w_max must be > 0, got {self.crossbar_w_max}.")

    @property
    def steps(self) -> tuple[int, ...]:
        """The input event steps actually used."""
        if self.event_steps is not None:
            return self.event_steps
        return tuple(sorted({round(f * self.n_steps) for f in (0.0, 0.4, 0.8)}))


def read_arrays(arrays, h: Float[Array, "batch n_in"], key: PRNGKeyArray | None, activation=None, *,
                per_image: bool = True) -> Float[Array, "batch n_out"]:
    """``h`` through a stack of synapse arrays, one image at a time (``activation`` between them).

    Each array is first programmed (``init_state``: a crossbar's programming noise and faults) and
    then read (a crossbar's read noise). ``key`` is one key or ``(batch,)`` keys, one per image:

    - one key: one chip for the whole batch, drawn from ``key``, read with a fresh draw of read
      noise for every image (``per_image``) or one draw for the whole batch, which costs one noisy
      copy of the conductances instead of one per image;
    - one key per image (:func:`image_keys` of the images' indices in a data set): every image is
      programmed and read with its own key only, so its output does not depend on the batch it is
      in. A chip that is already programmed (:class:`~memsnn.crossbar.ProgrammedCrossbar`) keeps
      its conductances and only the reads are the image's. This costs a noisy copy of every device
      per image; the images are mapped in groups of :data:`KEYED_IMAGES_AT_ONCE` to bound it.

    Ideal arrays ignore the keys; ``key=None`` is only allowed when no array draws noise.
    """
    if key is not None and _one_key_per_image(key, h.shape[0]):
        if not any(array.stochastic for array in arrays):
            return read_arrays(arrays, h, None, activation)

        def one_image(args):
            x, k = args
            return read_arrays(arrays, x[None], k, activation, per_image=False)[0]

        return jax.lax.map(one_image, (h, key), batch_size=KEYED_IMAGES_AT_ONCE)
    keys = [None] * len(arrays) if key is None else list(jax.random.split(key, len(arrays)))
    for i, (array, k) in enumerate(zip(arrays, keys)):
        if k is None:
            if array.stochastic:
                raise ValueError(f"{type(array).__name__} layer {i} draws read noise: pass key=jax.random.key(seed) "
                                 "to the loss / predict function (the training loop does).")
            state = array.init_state(array.n_outputs)
            h = jax.vmap(lambda x: array(x, state))(h)
        else:
            k_program, k_read = jax.random.split(k)
            state = array.init_state(array.n_outputs, key=k_program)
            if per_image:
                h = jax.vmap(lambda x, kk: array(x, state, key=kk))(h, jax.random.split(k_read, h.shape[0]))
            else:
                h = jax.vmap(lambda x: array(x, state, key=k_read))(h)
        if activation is not None and i < len(arrays) - 1:
            h = activation(h)
    return h


KEYED_IMAGES_AT_ONCE = 8  # images programmed and read at once with keys of their own (read_arrays)


def _one_key_per_image(key, batch: int) -> bool:
    """Whether ``key`` is ``(batch,)`` keys, one per image (``False``: one key)."""
    one = () if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else (2,)
    if tuple(key.shape) == one:
        return False
    if tuple(key.shape) == (batch,) + one:
        return True
    raise ValueError(f"key must be one PRNG key or one per image ({batch},), got keys of shape "
                     f"{tuple(key.shape)[:len(key.shape) - len(one)]}: use jax.random.key(seed), or "
                     "memsnn.training.predict.image_keys(key, indices) for one per image.")


def _ideal_neuron() -> LIF:
    capacitance = 1e-9
    resistance = 1.0 / _REST_CONDUCTANCE
    # A threshold far above any reachable potential and no reset: a purely linear membrane.
    return LIF(tau=resistance * capacitance, resistance=resistance, threshold=1e3, v_rest=_REST_V,
               v_reset=_REST_V, reset="none")


class SpicepropNet(eqx.Module):
    """Dense ReLU front end whose outputs drive one memristive neuron per class.

    Attributes:
        front_end: the dense layers, ``n_inputs -> hidden... -> n_classes`` (with bias): ideal
            :class:`~memsnn.Dense` arrays, or :class:`~memsnn.crossbar.Crossbar` arrays with
            ``config.crossbar``.
        synapse: the alpha synapse of the output neurons.
        neuron: the output neurons (MIF, or the "ideal" linear membrane).
        device_log_scale: ``None``, or (with ``train_device``) the unconstrained coordinates
            ``s`` of the bounded leaves of ``(synapse, neuron)`` (``None`` for the others), zeros
            at first; the simulated constants are :func:`memsnn.devices.bounds.constrain`'s.
        config: the :class:`SpicepropConfig` (static).
    """

    front_end: tuple[AbstractSynapseArray, ...]
    synapse: AlphaSynapse
    neuron: MIF | LIF
    device_log_scale: Any
    config: SpicepropConfig = eqx.field(static=True)

    def __init__(self, config: SpicepropConfig, *, key: PRNGKeyArray):
        sizes = (config.n_inputs, *config.hidden, config.n_classes)
        keys = jax.random.split(key, len(sizes) - 1)
        front_end = tuple(Dense.uniform(n_in, n_out, key=k, use_bias=True)
                          for n_in, n_out, k in zip(sizes[:-1], sizes[1:], keys))
        if config.drive_bias is not None:
            last = front_end[-1]
            front_end = (*front_end[:-1], eqx.tree_at(lambda d: d.bias, last, jnp.full_like(last.bias, config.drive_bias)))
        if config.crossbar is not None:
            wires = {} if config.crossbar_ir_drop else {"wires": None}
            front_end = tuple(crossbar_from_dense(layer, config.crossbar, w_max=config.crossbar_w_max, **wires)
                              for layer in front_end)
        neuron = spiceprop_mif() if config.neuron == "mif" else _ideal_neuron()
        synapse = AlphaSynapse(1e-3)
        scale = None
        if config.train_device:
            scale = zero_coordinates((synapse, neuron))
        dtype = jnp.dtype(config.dtype)
        self.front_end = cast_floats(front_end, dtype)
        self.synapse = cast_floats(synapse, dtype)
        self.neuron = cast_floats(neuron, dtype)
        self.device_log_scale = cast_floats(scale, dtype)
        self.config = config

    def drive(self, images: Float[Array, "batch n_inputs"], *, key: PRNGKeyArray | None = None,
              per_image: bool = True) -> Float[Array, "batch n_classes"]:
        """The impulse amplitude of each output neuron (A), one value per image and class.

        ``key`` (one key, or one per image) draws the crossbars' noise, with a read-noise draw per
        image or per batch (``per_image``, see :func:`read_arrays`); the ideal front end needs neither.
        """
        h = read_arrays(self.front_end, images.astype(jnp.dtype(self.config.dtype)), key, jax.nn.relu,
                        per_image=per_image)
        if self.config.output_activation == "relu":
            h = jax.nn.relu(h)
        drive_ma = self.config.drive_scale * h
        if self.config.drive_limit is not None:
            drive_ma = self.config.drive_limit * jnp.tanh(drive_ma / self.config.drive_limit)
        return drive_ma * MILLIAMP

    def readout(self) -> tuple[AlphaSynapse, MIF | LIF]:
        """The synapse and neuron actually simulated (device changes applied)."""
        if self.device_log_scale is None:
            return self.synapse, self.neuron
        return constrain((self.synapse, self.neuron), self.device_log_scale)

    def _network(self) -> Network:
        synapse, neuron = self.readout()
        gain = jnp.ones((), jnp.dtype(self.config.dtype))
        return Network([Layer(Identity(self.config.n_classes, gain=gain), synapse, neuron)])

    def potentials(self, images: Float[Array, "batch n_inputs"], *, key: PRNGKeyArray | None = None,
                   per_image: bool = True, throw: bool = True) -> Float[Array, "batch n_steps n_classes"]:
        """Membrane potentials (V) of the output neurons after each step, ``(batch, n_steps, n_classes)``.

        ``key``, ``per_image``: the crossbars' noise (see :meth:`drive`). ``throw``: as in
        :func:`memsnn.simulate`; with ``False`` a failed simulation gives NaN potentials
        (:meth:`memsnn.Trace.failed_as_nan`) instead of raising.
        """
        drive = self.drive(images, key=key, per_image=per_image)
        batch, n = drive.shape
        steps = self.config.steps

        def readout(drive, network, reverse):
            amplitude = jnp.broadcast_to(drive[:, None, :], (batch, len(steps), n))
            # The loop's layout for reverse mode (checkpointed chunks, unrolled); otherwise one step
            # per iteration: unrolled steps make XLA recompute the alpha synapse's chain from the
            # iteration's start in every step's kernels (SpicepropConfig.unroll).
            loop = dict(checkpoint_every=self.config.checkpoint_every, unroll=self.config.unroll) if reverse else {}
            # fold_batch: the readout neurons are independent, so the batch runs as one population
            # of batch * n neurons (see the module docstring).
            trace = simulate(network, Impulses(amplitude, steps), dt=self.config.dt, n_steps=self.config.n_steps,
                             solver=make_integrator(self.config.solver), record=("membrane_potential",),
                             fold_batch=True, throw=throw, **loop)
            v = trace.membrane_potential[0]
            return v if throw else trace.failed_as_nan(v)

        return forward_sensitivity(readout, drive, self._network())

    def membrane_potentials(self, images: Float[Array, "batch n_inputs"], *, key: PRNGKeyArray | None = None,
                            per_image: bool = True, throw: bool = True) -> Float[Array, "batch n_steps n_classes"]:
        """Membrane potentials (mV) of the output neurons, ``(batch, n_steps, n_classes)``."""
        return self.potentials(images, key=key, per_image=per_image, throw=throw) / MILLIVOLT


def forward_sensitivity(readout, drive: Float[Array, "batch n"], constants) -> Float[Array, "batch n_steps n"]:
    """``readout(drive, constants, reverse)``, differentiated in forward mode with respect to ``drive``.

    ``readout`` maps ``(batch, n)`` to ``(batch, n_steps, n)`` with each output ``[b, :, c]`` a
    function of ``drive[b, c]`` alone (and of ``constants``, a pytree); ``reverse`` (a Python
    bool) tells it whether it is being differentiated in reverse mode, so that it can lay out its
    time loop for that (checkpoints) or for a plain pass. The forward pass is then
    ``jax.jvp`` with the tangent 1 on every drive, which is every output's derivative with respect
    to its own drive (no output depends on another's), and the VJP of a cotangent ``g`` is
    ``sum_t g[:, t, :] * sensitivity[:, t, :]``: no reverse pass through ``readout``.

    ``constants`` are shared by all outputs (one tangent each would be needed): when they are
    differentiated too (trained device constants), both are differentiated in reverse mode by
    ``jax.vjp`` of ``readout`` (with ``reverse=True``). Without differentiation only ``readout``
    itself runs. Being a ``jax.custom_vjp``, the result has reverse-mode derivatives only
    (``jax.jvp`` of it is refused).
    """
    arrays, static = eqx.partition(constants, eqx.is_inexact_array)

    def primal(x, arrays):
        return readout(x, eqx.combine(arrays, static), False)

    def forward(x, arrays):
        perturbed = any(leaf.perturbed for leaf in jax.tree.leaves(arrays))
        x, arrays = x.value, custom_vjp_primal_tree_values(arrays)
        if perturbed:
            v, pullback = jax.vjp(lambda x, arrays: readout(x, eqx.combine(arrays, static), True), x, arrays)
            return v, {"reverse": pullback}
        v, sensitivity = jax.jvp(lambda x: primal(x, arrays), (x,), (jnp.ones_like(x),))
        return v, {"sensitivity": sensitivity}

    def backward(residuals, cotangent):
        if isinstance(cotangent, SymbolicZero):
            cotangent = jnp.zeros(cotangent.shape, cotangent.dtype)
        if "reverse" in residuals:
            return residuals["reverse"](cotangent)
        # In the input's dtype (the potentials may be wider: float64 with jax_enable_x64).
        return jnp.sum(cotangent * residuals["sensitivity"], axis=1).astype(drive.dtype), None

    run = jax.custom_vjp(primal)
    run.defvjp(forward, backward, symbolic_zeros=True)
    return run(drive, arrays)


def build_spiceprop(config: SpicepropConfig | dict, *, key: PRNGKeyArray) -> SpicepropNet:
    """A freshly initialised :class:`SpicepropNet` (weights ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``)."""
    if isinstance(config, dict):
        config = SpicepropConfig.from_dict(config)
    return SpicepropNet(config, key=key)


def spiceprop_loss(model: SpicepropNet, images: Float[Array, "batch n_inputs"],
                   labels: Int[Array, " batch"], *, key: PRNGKeyArray | None = None, throw: bool = True
                   ) -> tuple[Float[Array, ""], Int[Array, " batch"]]:
    """SPICEprop loss and predictions (``key``: the crossbars' noise, unused by the ideal network;
    ``throw=False``: a failed simulation makes the loss NaN instead of raising).

    On crossbars, the step's programming noise and faults are one draw (one chip) and so is the
    read noise, for the whole batch: aihwkit's hardware-aware training likewise draws its weight
    noise once per mini-batch, and a draw per image would cost a noisy copy of every device (and,
    with wire resistance, an IR-drop factorisation) per image. The training loss and accuracy then
    depend on how the images are batched; :func:`spiceprop_predict` (evaluation) keys every image
    by itself instead.

    Returns:
        ``(loss, predictions)``: the negative log-likelihood of ``log_softmax`` over the output
        potentials in mV, summed over all steps, averaged over the batch; and the ``(batch,)``
        argmax of the potentials summed over time.
    """
    v_mv = model.membrane_potentials(images, key=key, per_image=False, throw=throw)
    return summed_nll(v_mv, labels), jnp.argmax(jnp.sum(v_mv, axis=1), axis=-1)


def summed_nll(logits: Float[Array, "batch n_steps n"], labels: Int[Array, " batch"]) -> Float[Array, ""]:
    """``-log_softmax(logits)[label]`` summed over the steps, averaged over the batch.

    Written as ``sum(logsumexp) - sum(logits * one_hot)`` with the second term one contraction
    (``einsum``): the same number as ``take_along_axis`` of ``log_softmax``, but its gradient is no
    scatter into a zero ``(batch, n_steps, n)`` array. The SPICEprop training step (batch 200) on
    one CPU device took 1.29x less CPU time for it; split over 2 devices (100 samples each, the
    default on 2 cores) the two forms cost the same (benchmarks/spiceprop_step_speed.py).
    """
    one_hot = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    target = jnp.einsum("btn,bn->", logits, one_hot)
    return (jnp.sum(jax.nn.logsumexp(logits, axis=-1)) - target) / logits.shape[0]


def spiceprop_predict(model: SpicepropNet, images: Float[Array, "batch n_inputs"], *,
                      key: PRNGKeyArray | None = None, throw: bool = True) -> Int[Array, " batch"]:
    """Predicted class: argmax of the output membrane potential summed over time.

    ``key``: the crossbars' noise (unused by the ideal network): ``(batch,)`` keys, one per image
    (:func:`~memsnn.training.predict.image_keys` of the images' indices in the data set, as
    :func:`~memsnn.training.evaluate` passes them to the method's predictor), or one key, image
    ``i`` of ``images`` then getting ``fold_in(key, i)``. Each image is programmed and read with its
    own key (:func:`read_arrays`), so its prediction does not depend on the batch it is evaluated in.
    ``throw=False``: a sample whose simulation failed gets :data:`~memsnn.training.learner.FAILED`.
    """
    if key is not None and not _one_key_per_image(key, images.shape[0]):
        key = image_keys(key, jnp.arange(images.shape[0]))
    score = jnp.sum(model.potentials(images, key=key, throw=throw), axis=1)
    return failed_where_nonfinite(jnp.argmax(score, axis=-1), score)


def spiceprop_trainable(model: SpicepropNet):
    """Filter spec: the front-end weights and biases, plus the device changes when present."""
    spec = jax.tree.map(lambda _: False, model)
    spec = eqx.tree_at(lambda m: m.front_end, spec, replace=jax.tree.map(eqx.is_inexact_array, model.front_end))
    if model.device_log_scale is not None:
        spec = eqx.tree_at(lambda m: m.device_log_scale, spec,
                           replace=jax.tree.map(lambda _: True, model.device_log_scale))
    return spec


# --------------------------------------------------------------------------------------------
# The method (memsnn train --method spiceprop)


def _spiceprop_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--hidden", type=cli_type(int, low=1, integer=True), nargs="*", metavar="N",
                       help="hidden ReLU layer sizes of the dense front end (default: 100, the paper's "
                            "784-100-10 front end; give no number for none)")
    group.add_argument("--output-activation", choices=("relu", "none"),
                       help="activation of the drive units: none (default) or relu (as in the paper's "
                            "table; the units die unless --drive-bias is positive)")
    group.add_argument("--neuron", choices=NEURONS,
                       help="output neurons: mif (memristive, default) or ideal (linear RC membrane)")
    group.add_argument("--solver", choices=SOLVERS,
                       help="integrator: spiceprop (the reference Gauss-Seidel Euler, default), euler, "
                            "heun, tsit5, or kvaerno5 (implicit adaptive, slow)")
    group.add_argument("--steps", type=cli_type(int, low=1, integer=True), metavar="T",
                       help="time steps of 10 us per image (default 1000; inputs at 0, 40%%, 80%%)")
    group.add_argument("--checkpoint-every", type=cli_type(int, low=0, integer=True), metavar="K",
                       help="with --train-device (the readout differentiated in reverse mode): keep one "
                            "simulation state per K steps for the backward pass and recompute the rest "
                            f"(default {SpicepropConfig.checkpoint_every}, one checkpointed chunk per unrolled "
                            "loop iteration: the fastest on a CPU; larger K needs less memory; 0 stores every "
                            "step's intermediates: most memory, slower). Without it the readout's gradient "
                            "comes from forward sensitivities, which store no checkpoints")
    group.add_argument("--drive-scale", type=cli_type(float, low=0, low_open=True), metavar="MA",
                       help=f"impulse (mA) per unit of front-end output (default 1/128 = {DRIVE_SCALE_MA:g})")
    group.add_argument("--drive-bias", type=cli_type(float), metavar="B",
                       help="initial bias of the drive units (default: the uniform init of every layer; "
                            "0.1 or 0.3 starts ReLU drive units active on (nearly) every image, see --output-activation)")
    group.add_argument("--drive-limit", type=cli_type(float, low=0), metavar="MA",
                       help=f"smooth saturation of the impulse in mA, keeping forward Euler stable "
                            f"(default {DRIVE_LIMIT_MA}; 0 = linear drive)")
    group.add_argument("--train-device", action="store_true", default=None,
                       help="also train the device constants (memristors, capacitance, batteries, "
                            "synapse time constant)")
    group.add_argument("--dtype", choices=("float32", "float64"), help="floating point type (default float32)")
    add_crossbar_argument(group, "the front end's dense layers")


def _spiceprop_config(args: argparse.Namespace) -> dict:
    given = {
        "hidden": args.hidden,
        "output_activation": args.output_activation,
        "neuron": args.neuron,
        "solver": args.solver,
        "n_steps": args.steps,
        "checkpoint_every": args.checkpoint_every,
        "drive_scale": args.drive_scale,
        "drive_bias": args.drive_bias,
        "drive_limit": args.drive_limit,
        "train_device": args.train_device,
        "crossbar": args.crossbar,
        "dtype": args.dtype,
    }
    config = {k: v for k, v in given.items() if v is not None}
    # 0 means "off" on the command line, None in the config.
    for key in ("checkpoint_every", "drive_limit"):
        if config.get(key) == 0:
            config[key] = None
    return config


SPICEPROP = Method(
    name="spiceprop",
    summary="exact gradients through the simulated memristive neurons (Zhou et al. 2022)",
    model_config=lambda overrides: SpicepropConfig.from_dict(overrides).to_dict(),
    build=build_spiceprop,
    loss=spiceprop_loss,
    predict=Predict(spiceprop_predict, per_image_keys=True),
    trainable=spiceprop_trainable,
    add_arguments=_spiceprop_arguments,
    config_from_args=_spiceprop_config,
    defaults={"epochs": 40, "batch_size": 200, "lr": 2e-3, "schedule": "cosine", "weight_decay": 0.0,
              "clip_norm": None, "eval_batch_size": 1000},
    # Reverse mode (trained device constants) checkpoints the time loop; forward sensitivities do not.
    keeps_time_steps=lambda config: bool(config["train_device"]),
)
