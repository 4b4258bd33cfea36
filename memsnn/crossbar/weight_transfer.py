"""Quantized weight transfer onto memristive synapses by spike-timing-dependent plasticity.

Hwang, Kim & Park (2021), "Quantized Weight Transfer Method Using Spike-Timing-Dependent
Plasticity for Hardware Spiking Neural Network", Appl. Sci. 11(5):2059, move a trained network's
quantized weights (``2n + 1`` levels, :mod:`memsnn.crossbar.quantize`) onto synaptic devices with
the devices' own STDP response instead of programming every device on its own.

**The device law.** A pre-synaptic pulse on a row and a post-synaptic pulse on a column, offset
by ``dt = t_post - t_pre``, change the conductance of the device where they cross by::

    dG(dt) = +A+ exp(-dt / tau+)     dt >= 0   (potentiation)
    dG(dt) = -A- exp(+dt / tau-)     dt <  0   (depression)

(:class:`STDPLaw`, given or fitted to measured pairs with :meth:`STDPLaw.fit`). A single pulse
(on a row or a column alone) stays below the switching threshold and changes nothing, which is what
lets many devices be addressed at once.

**Levels to offsets.** A differential pair ``(G+, G-)`` stores one weight; both start at ``g_initial``
and only the excitatory device ``G+`` is programmed: level ``k`` (``-n .. n``) becomes
``G+ = g_initial + k dG_1``, so ``w ∝ G+ - G- = k dG_1``. Inverting the law gives the pulse offset
of each level (:meth:`STDPLaw.offset`)::

    dt_k = +tau+ ln(A+ / (k dG_1))     k > 0
    dt_k = -tau- ln(A- / (|k| dG_1))   k < 0

The largest level is reached with the shortest offset allowed (``min_offset``, e.g. the pulse
width), which sets the level step ``dG_1`` (:meth:`WeightMapTransfer.design`).

**Weight-map programming** (:meth:`WeightMapTransfer.program`): for each post-synaptic neuron
(column) ``j`` and each non-zero level ``k``, ONE step programs every synapse of that level: the
rows of the level's weight map ``levels[j, :] == k`` get a pre-synaptic pulse at ``t = 0`` and the
column one post-synaptic pulse at ``dt_k``. A layer of ``n_out`` neurons takes
``n_out x 2n`` steps (1,620 for the 800 + 10 neurons of a 784-800-10 network at ``n = 1``),
against one step per synapse (635,200) when programming one by one
(:meth:`WeightMapTransfer.program_one_by_one`) or one per pulse with write-verify
(:func:`memsnn.crossbar.programming.write_verify`).

**Non-idealities.** The offsets are computed from the nominal law; each device responds with its
own law (device-to-device variation of ``A+-`` and ``tau+-``, :meth:`STDPLaw.varied`) and each pulse
pair with cycle-to-cycle noise (``cycle_sigma``: ``dG`` times ``1 + cycle_sigma N(0, 1)``);
conductances stay within ``[g_min, g_max]``.

**Energy** (:class:`StdpPulses`): rectangular pulses of ``v_pre`` on the rows and ``-v_post`` on the
column, both ``width`` long. The programmed device sees ``v_pre`` alone, ``v_post`` alone and
``v_pre + v_post`` while they overlap (``max(width - |dt|, 0)``); a half-selected device (pulsed row,
idle column, or the reverse) sees one pulse. Energy is ``G V^2`` integrated over the pulses, with
half-selected devices counted at ``g_initial``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._validation import _concrete, require_positive
from .mapping import ConductanceMapping, Conductances
from .quantize import MAX_LEVELS

__all__ = ["STDPLaw", "StdpPulses", "TransferResult", "WeightMapTransfer"]


class STDPLaw(eqx.Module):
    """The device's conductance change for a pre/post pulse pair offset by ``dt`` (s).

    ``dG(dt) = A+ exp(-dt/tau+)`` for ``dt >= 0``, ``-A- exp(dt/tau-)`` for ``dt < 0``.
    Parameters may be arrays (one law per device: device-to-device variation); they broadcast
    against ``dt``.

    Attributes:
        a_plus, a_minus: amplitudes (S), > 0: the largest possible potentiation / depression.
        tau_plus, tau_minus: time constants (s), > 0.
    """

    a_plus: Float[Array, "..."]
    a_minus: Float[Array, "..."]
    tau_plus: Float[Array, "..."]
    tau_minus: Float[Array, "..."]

    def __init__(self, a_plus, a_minus, tau_plus, tau_minus):
        self.a_plus = jnp.asarray(a_plus, dtype=float)
        self.a_minus = jnp.asarray(a_minus, dtype=float)
        self.tau_plus = jnp.asarray(tau_plus, dtype=float)
        self.tau_minus = jnp.asarray(tau_minus, dtype=float)

    def __check_init__(self):
        require_positive("STDPLaw", "a_plus", self.a_plus, "S")
        require_positive("STDPLaw", "a_minus", self.a_minus, "S")
        require_positive("STDPLaw", "tau_plus", self.tau_plus, "s")
        require_positive("STDPLaw", "tau_minus", self.tau_minus, "s")

    def delta_g(self, dt: Float[Array, "..."]) -> Float[Array, "..."]:
        """The conductance change (S) for pulse offset ``dt = t_post - t_pre`` (s)."""
        dt = jnp.asarray(dt, dtype=float)
        potentiation = self.a_plus * jnp.exp(-jnp.abs(dt) / self.tau_plus)
        depression = -self.a_minus * jnp.exp(-jnp.abs(dt) / self.tau_minus)
        return jnp.where(dt >= 0, potentiation, depression)

    def offset(self, delta_g: Float[Array, "..."]) -> Float[Array, "..."]:
        """The pulse offset ``dt`` (s) that changes the conductance by ``delta_g`` (S, non-zero).

        The inverse of :meth:`delta_g`: ``tau+ ln(A+/dG)`` for ``dG > 0``, ``-tau- ln(A-/|dG|)`` for
        ``dG < 0``.

        Raises:
            ValueError: (concrete values) a change of zero (no finite offset gives it) or larger
                than the amplitude on its side (no offset reaches it).
        """
        delta_g = jnp.asarray(delta_g, dtype=float)
        dg, a_plus, a_minus = _concrete(delta_g), _concrete(self.a_plus), _concrete(self.a_minus)
        if dg is not None:
            if np.any(dg == 0) or not np.all(np.isfinite(dg)):
                raise ValueError("STDPLaw.offset: a change of 0 S (or NaN/inf) has no pulse offset; "
                                 "level 0 is left unprogrammed.")
            if a_plus is not None and a_minus is not None:
                too_big = np.where(dg > 0, dg > a_plus, -dg > a_minus)
                if np.any(too_big):
                    raise ValueError(
                        f"STDPLaw.offset: {int(np.sum(too_big))} requested changes exceed the law's amplitude "
                        f"(A+ = {np.max(a_plus):.4g} S, A- = {np.max(a_minus):.4g} S; largest request "
                        f"{np.max(np.abs(dg)):.4g} S): no pulse offset reaches them. Use a smaller level step.")
        up = self.tau_plus * jnp.log(self.a_plus / jnp.abs(delta_g))
        down = -self.tau_minus * jnp.log(self.a_minus / jnp.abs(delta_g))
        return jnp.where(delta_g > 0, up, down)

    @classmethod
    def fit(cls, dt, delta_g) -> "STDPLaw":
        """Fit the law to measured pulse pairs by least squares on ``ln |dG|`` against ``dt``.

        Each branch is a straight line ``ln |dG| = ln A - |dt| / tau``: the potentiating pairs
        (``dG > 0``, ``dt >= 0``) give ``A+`` and ``tau+``, the depressing ones (``dG < 0``, ``dt < 0``)
        ``A-`` and ``tau-``.

        Args:
            dt: pulse offsets ``t_post - t_pre`` (s), 1-D.
            delta_g: the measured conductance changes (S), same shape.

        Raises:
            ValueError: shapes differ, a branch has fewer than two distinct offsets, a change has
                the wrong sign for its offset, or a branch's fitted decay is not a decay.
        """
        dt, dg = np.asarray(dt, dtype=float), np.asarray(delta_g, dtype=float)
        if dt.ndim != 1 or dt.shape != dg.shape:
            raise ValueError(f"STDPLaw.fit: dt and delta_g must be 1-D of equal length, got shapes {dt.shape} "
                             f"and {dg.shape}.")
        if not (np.all(np.isfinite(dt)) and np.all(np.isfinite(dg))):
            raise ValueError("STDPLaw.fit: dt and delta_g must be finite.")
        wrong = ((dt >= 0) & (dg <= 0)) | ((dt < 0) & (dg >= 0))
        if np.any(wrong):
            raise ValueError(f"STDPLaw.fit: {int(np.sum(wrong))} pairs have a change of the wrong sign for their "
                             "offset (the law potentiates for dt >= 0 and depresses for dt < 0); drop them or check "
                             "the sign convention dt = t_post - t_pre.")
        params = []
        for side, name in ((dt >= 0, "potentiating (dt >= 0)"), (dt < 0, "depressing (dt < 0)")):
            if len(np.unique(dt[side])) < 2:
                raise ValueError(f"STDPLaw.fit: the {name} branch needs pairs at two or more distinct offsets, "
                                 f"got {int(np.sum(side))} pair(s).")
            slope, intercept = np.polyfit(np.abs(dt[side]), np.log(np.abs(dg[side])), 1)
            if slope >= 0:
                raise ValueError(f"STDPLaw.fit: the {name} changes do not decay with |dt| (fitted slope "
                                 f"{slope:.3g} per s); the data are not an exponential STDP window.")
            params.append((np.exp(intercept), -1.0 / slope))
        (a_plus, tau_plus), (a_minus, tau_minus) = params
        return cls(a_plus, a_minus, tau_plus, tau_minus)

    def varied(self, shape: tuple[int, ...], *, key: PRNGKeyArray, amplitude_sigma: float = 0.0,
               tau_sigma: float = 0.0) -> "STDPLaw":
        """One law per device: device-to-device variation around this (scalar) law.

        Each device's ``A+``, ``A-`` (and ``tau+``, ``tau-``) is the nominal value times
        ``exp(sigma N(0, 1))`` (log-normal: positive, median the nominal value; for small sigma the
        relative standard deviation is about sigma), drawn independently.

        Args:
            shape: the devices' shape, e.g. ``(n_out, n_in)``.
            key: PRNG key of the draw.
            amplitude_sigma: log-normal sigma of the amplitudes (>= 0).
            tau_sigma: log-normal sigma of the time constants (>= 0).
        """
        for name, value in (("amplitude_sigma", amplitude_sigma), ("tau_sigma", tau_sigma)):
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"STDPLaw.varied: {name} must be >= 0, got {value}.")
        if any(np.ndim(p) for p in (self.a_plus, self.a_minus, self.tau_plus, self.tau_minus)):
            raise ValueError("STDPLaw.varied: vary a nominal law with scalar parameters (this one already holds "
                             "per-device arrays).")
        k = jax.random.split(key, 4)

        def draw(key, value, sigma):
            return value * jnp.exp(sigma * jax.random.normal(key, shape))

        return STDPLaw(draw(k[0], self.a_plus, amplitude_sigma), draw(k[1], self.a_minus, amplitude_sigma),
                       draw(k[2], self.tau_plus, tau_sigma), draw(k[3], self.tau_minus, tau_sigma))


class StdpPulses(eqx.Module):
    """The programming pulses, for the energy account.

    Attributes:
        v_pre: amplitude of the pre-synaptic (row) pulse (V), > 0.
        v_post: amplitude of the post-synaptic (column) pulse (V), > 0, opposite polarity.
        width: duration of each pulse (s), > 0; also the shortest offset a designer would use.
    """

    v_pre: Float[Array, ""]
    v_post: Float[Array, ""]
    width: Float[Array, ""]

    def __init__(self, v_pre=1.0, v_post=1.0, width=1e-6):
        self.v_pre = jnp.asarray(v_pre, dtype=float)
        self.v_post = jnp.asarray(v_post, dtype=float)
        self.width = jnp.asarray(width, dtype=float)

    def __check_init__(self):
        require_positive("StdpPulses", "v_pre", self.v_pre, "V")
        require_positive("StdpPulses", "v_post", self.v_post, "V")
        require_positive("StdpPulses", "width", self.width, "s")

    def pair_energy(self, conductance: Float[Array, "..."], dt: Float[Array, "..."]) -> Float[Array, "..."]:
        """Energy (J) of a pre/post pair offset by ``dt`` in a device of ``conductance`` (S):
        ``G [(v_pre^2 + v_post^2) width + 2 v_pre v_post max(width - |dt|, 0)]``."""
        overlap = jnp.maximum(self.width - jnp.abs(dt), 0.0)
        return conductance * ((self.v_pre ** 2 + self.v_post ** 2) * self.width
                              + 2.0 * self.v_pre * self.v_post * overlap)

    def half_select_energy(self, conductance, pulsed_rows, n_rows: int, n_columns: int):
        """Energy (J) of one step in the devices it does not program, all at ``conductance`` (S):
        ``pulsed_rows`` row pulses through the ``n_columns - 1`` other columns, one column pulse
        through the ``n_rows - pulsed_rows`` idle rows."""
        return conductance * self.width * (self.v_pre ** 2 * pulsed_rows * (n_columns - 1)
                                           + self.v_post ** 2 * (n_rows - pulsed_rows))


class TransferResult(eqx.Module):
    """What a transfer reached.

    Attributes:
        positive: excitatory conductances ``G+`` ``(n_out, n_in)`` (S), the programmed devices.
        negative: inhibitory conductances ``G-`` ``(n_out, n_in)`` (S), left at ``g_initial``.
        steps: programming steps (one step = one set of simultaneous pulses), a scalar.
        pulses: pulse pairs received by each excitatory device ``(n_out, n_in)`` (0 or 1).
        device_energy: energy (J) dissipated in each programmed device ``(n_out, n_in)``.
        half_select_energy: energy (J) dissipated in the devices the steps did not program (scalar).
    """

    positive: Float[Array, "n_out n_in"]
    negative: Float[Array, "n_out n_in"]
    steps: Int[Array, ""]
    pulses: Int[Array, "n_out n_in"]
    device_energy: Float[Array, "n_out n_in"]
    half_select_energy: Float[Array, ""]

    @property
    def energy(self) -> Float[Array, ""]:
        """All the programming energy (J)."""
        return jnp.sum(self.device_energy) + self.half_select_energy

    @property
    def conductances(self) -> Conductances:
        """``Conductances(positive, negative)``, for :meth:`WeightMapTransfer.mapping` and
        :class:`memsnn.crossbar.Crossbar`."""
        return Conductances(self.positive, self.negative)


class WeightMapTransfer(eqx.Module):
    """Transfers integer weight levels onto differential pairs with the device's STDP law.

    Build it with :meth:`design` (which picks the level step from the law); then
    :meth:`program` (weight maps, one step per post-neuron and level) or
    :meth:`program_one_by_one` (one step per synapse) turns levels ``(n_out, n_in)`` into
    conductances, and :meth:`levels_read` reads them back.

    Attributes:
        law: the nominal device law, from which the offsets are computed.
        n: non-zero levels per sign (static).
        g_initial: conductance (S) of both devices of a pair before programming.
        level_step: ``dG_1`` (S), the conductance difference of one level.
        g_min, g_max: the devices' conductance range (S).
        pulses: pulse shapes (energy).
        cycle_sigma: relative cycle-to-cycle noise of each pair's change (>= 0).
    """

    law: STDPLaw
    n: int = eqx.field(static=True)
    g_initial: Float[Array, ""]
    level_step: Float[Array, ""]
    g_min: Float[Array, ""]
    g_max: Float[Array, ""]
    pulses: StdpPulses
    cycle_sigma: Float[Array, ""]

    def __init__(self, law: STDPLaw, n: int, *, g_initial, level_step, g_min, g_max,
                 pulses: StdpPulses | None = None, cycle_sigma=0.0):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_LEVELS:
            raise ValueError(f"WeightMapTransfer: n (non-zero levels per sign) must be an integer 1 .. {MAX_LEVELS}, "
                             f"got {n!r}.")
        self.law = law
        self.n = int(n)
        self.g_initial = jnp.asarray(g_initial, dtype=float)
        self.level_step = jnp.asarray(level_step, dtype=float)
        self.g_min = jnp.asarray(g_min, dtype=float)
        self.g_max = jnp.asarray(g_max, dtype=float)
        self.pulses = StdpPulses() if pulses is None else pulses
        self.cycle_sigma = jnp.asarray(cycle_sigma, dtype=float)

    def __check_init__(self):
        owner = "WeightMapTransfer"
        if not isinstance(self.law, STDPLaw):
            raise TypeError(f"{owner}: law must be a memsnn.crossbar.STDPLaw, got {type(self.law).__name__}.")
        if any(np.ndim(p) for p in (self.law.a_plus, self.law.a_minus, self.law.tau_plus, self.law.tau_minus)):
            raise ValueError(f"{owner}: law is the nominal (scalar) law the offsets are computed from; pass the "
                             "per-device laws to program(..., devices=).")
        require_positive(owner, "level_step", self.level_step, "S")
        require_positive(owner, "g_max", self.g_max, "S")
        values = [_concrete(v) for v in (self.g_min, self.g_initial, self.g_max, self.level_step, self.cycle_sigma)]
        if all(v is not None for v in values):
            g_min, g0, g_max, step, sigma = (float(v) for v in values)
            if g_min < 0 or sigma < 0:
                raise ValueError(f"{owner}: g_min and cycle_sigma must be >= 0, got {g_min} S and {sigma}.")
            low, high = g0 - self.n * step, g0 + self.n * step
            if low < g_min * (1 - 1e-6) or high > g_max * (1 + 1e-6):
                raise ValueError(f"{owner}: the levels span [{low:.4g}, {high:.4g}] S (g_initial {g0:.4g} S +- "
                                 f"{self.n} x {step:.4g} S), outside the device range [{g_min:.4g}, {g_max:.4g}] S; "
                                 "use a smaller level_step or a g_initial nearer the middle.")
            a = min(float(self.law.a_plus), float(self.law.a_minus))
            if self.n * step > a * (1 + 1e-6):
                raise ValueError(f"{owner}: the largest level needs a change of {self.n * step:.4g} S, more than the "
                                 f"law can give on one side (min(A+, A-) = {a:.4g} S); use a smaller level_step.")

    @classmethod
    def design(cls, law: STDPLaw, n: int, *, g_min, g_max, min_offset=None, pulses: StdpPulses | None = None,
               cycle_sigma=0.0) -> "WeightMapTransfer":
        """The transfer whose largest level uses the shortest allowed offset.

        ``g_initial`` is the middle of ``[g_min, g_max]``; the level step is
        ``min(A+ exp(-min_offset/tau+), A- exp(-min_offset/tau-), (g_max - g_min)/2) / n``, so the
        largest level of the weaker side is programmed at ``|dt| = min_offset`` and every level fits
        in the device range.

        Args:
            law: the nominal law.
            n: non-zero levels per sign.
            g_min, g_max: device range (S).
            min_offset: the shortest pulse offset (s), default the pulse width.
            pulses: pulse shapes (default :class:`StdpPulses()`).
            cycle_sigma: cycle-to-cycle noise.
        """
        pulses = StdpPulses() if pulses is None else pulses
        min_offset = pulses.width if min_offset is None else jnp.asarray(min_offset, dtype=float)
        reach = jnp.minimum(law.a_plus * jnp.exp(-min_offset / law.tau_plus),
                            law.a_minus * jnp.exp(-min_offset / law.tau_minus))
        g_min, g_max = jnp.asarray(g_min, dtype=float), jnp.asarray(g_max, dtype=float)
        step = jnp.minimum(reach, 0.5 * (g_max - g_min)) / n
        return cls(law, n, g_initial=0.5 * (g_min + g_max), level_step=step, g_min=g_min, g_max=g_max,
                   pulses=pulses, cycle_sigma=cycle_sigma)

    @property
    def offsets(self) -> Float[Array, " 2n"]:
        """Pulse offsets (s) of the non-zero levels ``-n .. -1, 1 .. n``, from the nominal law."""
        return self.law.offset(self.nonzero_levels * self.level_step)

    @property
    def nonzero_levels(self) -> Int[Array, " 2n"]:
        """``-n .. -1, 1 .. n``, the order in which :meth:`program` visits the levels."""
        return jnp.concatenate([jnp.arange(-self.n, 0), jnp.arange(1, self.n + 1)])

    def target_conductances(self, levels: Int[Array, "n_out n_in"]) -> Float[Array, "n_out n_in"]:
        """The excitatory conductances (S) the levels stand for: ``g_initial + k level_step``."""
        return self.g_initial + self._check_levels(levels) * self.level_step

    def mapping(self, weight_step: float) -> ConductanceMapping:
        """The :class:`~memsnn.crossbar.ConductanceMapping` under which the programmed pairs hold
        weights ``k x weight_step`` (e.g. ``quantize(...).step``).

        The inhibitory device never leaves ``g_initial``, the middle of the range, so the pair is the
        ``"reference"`` scheme's device and reference: ``w = (G+ - G-) / c`` with
        ``c = level_step / weight_step`` S per unit weight, i.e. ``w_max = (g_max - g_min) / (2 c)``.

        Raises:
            ValueError: ``g_initial`` is not the middle of ``[g_min, g_max]`` (use :meth:`design`).
        """
        g_min, g_max, g0 = float(self.g_min), float(self.g_max), float(self.g_initial)
        if abs(g0 - 0.5 * (g_min + g_max)) > 1e-6 * g_max:
            raise ValueError(f"WeightMapTransfer.mapping: g_initial ({g0:.4g} S) is not the middle of [g_min, g_max] "
                             f"= [{g_min:.4g}, {g_max:.4g}] S, so no ConductanceMapping reads these pairs; build the "
                             "transfer with WeightMapTransfer.design.")
        if not np.isfinite(weight_step) or weight_step <= 0:
            raise ValueError(f"WeightMapTransfer.mapping: weight_step must be > 0, got {weight_step!r}.")
        per_weight = float(self.level_step) / float(weight_step)
        return ConductanceMapping(g_min, g_max, scheme="reference", w_max=(g_max - g_min) / (2 * per_weight))

    def levels_read(self, positive, negative) -> Float[Array, "n_out n_in"]:
        """The (real-valued) level a pair holds: ``(G+ - G-) / level_step``."""
        return (positive - negative) / self.level_step

    def _check_levels(self, levels) -> Int[Array, "n_out n_in"]:
        arr = _concrete(levels)
        if arr is not None:
            if arr.ndim != 2:
                raise ValueError(f"WeightMapTransfer: levels must be 2-D (n_out, n_in), got shape {arr.shape}.")
            if not np.issubdtype(arr.dtype, np.integer):
                raise TypeError(f"WeightMapTransfer: levels must be integers (quantize(...).levels), got dtype "
                                f"{arr.dtype}.")
            if np.any(np.abs(arr) > self.n):
                raise ValueError(f"WeightMapTransfer: levels must lie in -{self.n} .. {self.n} (n = {self.n}), got "
                                 f"values from {arr.min()} to {arr.max()}; quantize with the same n.")
        return jnp.asarray(levels, dtype=jnp.int32)

    def _devices(self, devices: STDPLaw | None, shape) -> STDPLaw:
        if devices is None:
            return self.law
        if not isinstance(devices, STDPLaw):
            raise TypeError(f"WeightMapTransfer: devices must be an STDPLaw (one per device, e.g. "
                            f"law.varied(shape, key=...)), got {type(devices).__name__}.")
        for p in (devices.a_plus, devices.a_minus, devices.tau_plus, devices.tau_minus):
            try:
                np.broadcast_shapes(np.shape(p), shape)
            except ValueError:
                raise ValueError(f"WeightMapTransfer: the per-device law has parameters of shape {np.shape(p)}, "
                                 f"which do not broadcast against the levels' shape {shape}.") from None
        return devices

    def _pair(self, g, dt, devices: STDPLaw, noise):
        """Conductance after one pulse pair offset by ``dt`` on devices at ``g``."""
        change = devices.delta_g(dt) * (1.0 + self.cycle_sigma * noise)
        return jnp.clip(g + change, self.g_min, self.g_max)

    def program(self, levels: Int[Array, "n_out n_in"], *, devices: STDPLaw | None = None,
                key: PRNGKeyArray | None = None) -> TransferResult:
        """Weight-map programming: one step per post-synaptic neuron and non-zero level.

        Step ``(j, k)`` puts a pre-synaptic pulse on every row ``i`` with ``levels[j, i] == k`` and
        one post-synaptic pulse, offset by ``dt_k``, on neuron ``j``'s excitatory column; the
        devices where the two cross change by their own ``dG(dt_k)``; a step whose map is empty is
        skipped. The steps are simulated level by level (all neurons of a level at once, which is
        the same thing: devices of different columns never share a step).

        Args:
            levels: integer levels ``(n_out, n_in)`` in ``-n .. n``.
            devices: the devices' own laws (parameters broadcasting against ``(n_out, n_in)``),
                default the nominal law (no device-to-device variation).
            key: draws the cycle-to-cycle noise (needed when ``cycle_sigma > 0``).

        Returns:
            A :class:`TransferResult`; ``steps`` = number of non-empty ``(neuron, level)`` maps, at
            most ``n_out x 2n``.
        """
        levels = self._check_levels(levels)
        return _program_maps(self, levels, self._devices(devices, levels.shape), self._noise(levels.shape, key))

    def program_one_by_one(self, levels: Int[Array, "n_out n_in"], *, devices: STDPLaw | None = None,
                           key: PRNGKeyArray | None = None) -> TransferResult:
        """The same pulse pairs, one synapse per step: one row pulse and one column pulse per
        non-zero synapse (zero-level synapses are skipped). Arguments as :meth:`program`; the
        cycle-to-cycle noise of a device is the same draw as in :meth:`program` for the same key,
        so the two reach the same conductances and differ only in steps and energy."""
        levels = self._check_levels(levels)
        return _program_single(self, levels, self._devices(devices, levels.shape), self._noise(levels.shape, key))

    def _noise(self, shape, key):
        sigma = _concrete(self.cycle_sigma)
        if key is None:
            if sigma is not None and sigma > 0:
                raise ValueError(f"WeightMapTransfer: cycle_sigma = {float(sigma)} needs a PRNG key "
                                 "(program(levels, key=jax.random.key(0))).")
            return jnp.zeros(shape)
        return jax.random.normal(key, shape)


# The numerical cores, compiled once per shape (the public methods check their inputs eagerly).


@eqx.filter_jit
def _program_maps(self: WeightMapTransfer, levels, devices: STDPLaw, noise) -> TransferResult:
    n_out, n_in = levels.shape
    g0 = jnp.broadcast_to(self.g_initial, levels.shape)

    def step(carry, level_and_offset):
        g, energy, half, steps = carry
        level, dt = level_and_offset
        weight_map = levels == level
        g_new = self._pair(g, dt, devices, noise)
        energy = energy + jnp.where(weight_map, self.pulses.pair_energy(g, dt), 0.0)
        rows = jnp.sum(weight_map, axis=1)
        active = rows > 0
        # Row pulses cross the 2 n_out columns of the differential array.
        half = half + jnp.sum(jnp.where(active, self.pulses.half_select_energy(self.g_initial, rows, n_in,
                                                                               2 * n_out), 0.0))
        return (jnp.where(weight_map, g_new, g), energy, half, steps + jnp.sum(active, dtype=jnp.int32)), None

    carry = (g0, jnp.zeros(levels.shape), jnp.zeros(()), jnp.zeros((), jnp.int32))
    (g, energy, half, steps), _ = jax.lax.scan(step, carry, (self.nonzero_levels, self.offsets))
    return TransferResult(g, g0, steps, (levels != 0).astype(jnp.int32), energy, half)


@eqx.filter_jit
def _program_single(self: WeightMapTransfer, levels, devices: STDPLaw, noise) -> TransferResult:
    n_out, n_in = levels.shape
    g0 = jnp.broadcast_to(self.g_initial, levels.shape)
    nonzero = levels != 0
    # The offset of each synapse's own level (the zero level gets none: it is not programmed).
    dt = jnp.where(nonzero, self.law.offset(jnp.where(nonzero, levels, 1) * self.level_step), 0.0)
    g = jnp.where(nonzero, self._pair(g0, dt, devices, noise), g0)
    energy = jnp.where(nonzero, self.pulses.pair_energy(g0, dt), 0.0)
    steps = jnp.sum(nonzero)
    half = steps * self.pulses.half_select_energy(self.g_initial, 1, n_in, 2 * n_out)
    return TransferResult(g, g0, steps.astype(jnp.int32), nonzero.astype(jnp.int32), energy, half)
