"""Programming crossbar devices to target conductances: pulse counts and energy.

Three schemes, each vectorised over any number of devices (every array broadcasts elementwise),
``jit``-able (``max_pulses`` and the scheme's integers are static), with keyed noise, and each
returning a :class:`ProgrammingResult` (the conductances reached, the pulses each device took and
the energy it cost):

* :func:`program_pulses`: open loop, identical pulses on NeuroSim's nonlinear LTP/LTD curve
  (:class:`~memsnn.crossbar.PulseUpdate`): the pulse count that the noiseless curve needs, in one go.
* :func:`write_verify`: closed loop with the same identical pulses: read (verify), and while the
  read lies outside the acceptance window ``|g_read - g_target| <= tolerance``, apply one pulse
  towards the target (potentiation below it, depression above it), at most ``max_pulses``.
* :func:`write_verify_pairs`: write-verify of a crossbar's differential pairs that finds the stuck
  devices (they do not move) and, ``fault_aware`` (the default), reprograms each one's healthy
  partner so that the pair still holds its weight (fault-tolerant mapping).
* ISPP (incremental step pulse programming of a physical memristor model) uses the same closed
  loop (:func:`closed_loop`), but each of its pulses integrates a device's state equation, so it
  lives above the integrators: :func:`memsnn.pulse_programming.ispp` (docs/architecture.md,
  "Device programming").

The closed loops stop, for each device, at the first verify read inside the window or after
``max_pulses`` pulses; the loop as a whole stops when every device has stopped. Verify reads may
be noisy (``verify_noise``, an absolute standard deviation in S, drawn fresh at each read), which
is why a device can be accepted slightly outside the window (:attr:`ProgrammingResult.converged`
says where it really ended) and why write-verify reaches a finite precision only.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import equinox as eqx
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from .._validation import _concrete
from .mapping import ConductanceMapping, Conductances

__all__ = ["PairProgrammingResult", "ProgrammingResult", "check_loop", "check_targets", "closed_loop",
           "program_pulses", "write_verify", "write_verify_pairs"]


class ProgrammingResult(eqx.Module):
    """What programming reached, per device (all arrays have the targets' shape).

    Attributes:
        conductances: the (true, noiseless-read) conductances reached (S).
        pulses: programming pulses applied to each device (integer).
        energy: energy spent on each device (J): its programming pulses plus its verify reads.
        converged: whether the conductance reached lies within the acceptance window of its target
            (open-loop programming: within half a pulse step, the best one pulse count can do).
        device_state: the memristor state reached (:func:`memsnn.pulse_programming.ispp` only; the
            device's state units),
            else ``None``.
    """

    conductances: Float[Array, "..."]
    pulses: Int[Array, "..."]
    energy: Float[Array, "..."]
    converged: Bool[Array, "..."]
    device_state: Float[Array, "..."] | None = None

    @property
    def total_energy(self) -> Float[Array, ""]:
        """Energy of programming every device (J)."""
        return jnp.sum(self.energy)

    @property
    def total_pulses(self) -> Int[Array, ""]:
        """Pulses applied to all devices together."""
        return jnp.sum(self.pulses)


# --------------------------------------------------------------------------------------------
# Checks (concrete values only: inside jit the caller's arrays were already checked)
# --------------------------------------------------------------------------------------------


def check_loop(owner: str, tolerance, max_pulses, verify_noise, verify_energy) -> None:
    if isinstance(max_pulses, bool) or not isinstance(max_pulses, (int, np.integer)) or max_pulses < 1:
        raise ValueError(f"{owner}: max_pulses must be a whole number >= 1 (it sizes the loop), got {max_pulses!r}.")
    tol = _concrete(tolerance)
    if tol is not None and (not np.all(np.isfinite(tol)) or np.any(tol <= 0)):
        raise ValueError(f"{owner}: tolerance (the half-width of the acceptance window, S) must be > 0, got {tol}. "
                         "A window of 0 is never met by a device that moves in finite steps.")
    for name, value in (("verify_noise", verify_noise), ("verify_energy", verify_energy)):
        arr = _concrete(value)
        if arr is not None and (not np.all(np.isfinite(arr)) or np.any(arr < 0)):
            raise ValueError(f"{owner}: {name} must be >= 0, got {arr}.")


def check_targets(owner: str, g_target, g_low, g_high, what: str) -> None:
    target, low, high = _concrete(g_target), _concrete(g_low), _concrete(g_high)
    if target is None or low is None or high is None:
        return
    if not np.all(np.isfinite(target)):
        raise ValueError(f"{owner}: target conductances must be finite.")
    # A relative slack of 1e-6 forgives the round-off of a mapping that produced the targets.
    slack = 1e-6 * np.max(np.abs(high))
    bad = (target < low - slack) | (target > high + slack)
    if np.any(bad):
        raise ValueError(f"{owner}: {int(np.sum(bad))} target conductances lie outside {what} "
                         f"[{np.min(low):.4g}, {np.max(high):.4g}] S (e.g. {target[bad].ravel()[0]:.4g} S); "
                         "map the weights into the device's range first (memsnn.crossbar.ConductanceMapping).")


# --------------------------------------------------------------------------------------------
# The closed loop shared by write-verify and ISPP (memsnn.pulse_programming)
# --------------------------------------------------------------------------------------------


def closed_loop(read, pulse, state0, target, tolerance, max_pulses, verify_noise, verify_energy, key):
    """Verify, pulse the devices still outside the window, verify again, ...

    ``read(state) -> g`` (S); ``pulse(state, direction, ramp, key) -> (state, energy)`` with
    ``direction`` +1 (raise g) / -1 (lower g) and ``ramp`` the number of pulses in a row in that
    direction before this one. Returns ``(state, pulses, energy)``.
    """
    shape = jnp.shape(target)

    def split(key, n):
        # key=None: noiseless pulses and reads (None is an empty pytree: it rides in the carry).
        return (None,) * n if key is None else tuple(jax.random.split(key, n))

    def verify(state, key):
        g = read(state)
        return g if key is None else g + verify_noise * jax.random.normal(key, shape, g.dtype)

    key, first = split(key, 2)
    g0 = verify(state0, first)
    zeros_i = jnp.zeros(shape, jnp.int32)
    active0 = jnp.abs(g0 - target) > tolerance
    direction0 = jnp.where(g0 < target, 1, -1).astype(jnp.int32)
    energy0 = jnp.broadcast_to(jnp.asarray(verify_energy, g0.dtype), shape)
    carry0 = (state0, zeros_i, energy0, active0, direction0, zeros_i, key)

    def cond(carry):
        return jnp.any(carry[3])

    def body(carry):
        state, pulses, energy, active, direction, ramp, key = carry
        key, kp, kv = split(key, 3)
        new_state, pulse_energy = pulse(state, direction, ramp, kp)
        state = jnp.where(active, new_state, state)
        pulses = pulses + active.astype(jnp.int32)
        energy = energy + jnp.where(active, pulse_energy + verify_energy, 0.0)
        g = verify(state, kv)
        new_direction = jnp.where(g < target, 1, -1).astype(jnp.int32)
        ramp = jnp.where(new_direction == direction, ramp + 1, 0)
        active = active & (jnp.abs(g - target) > tolerance) & (pulses < max_pulses)
        return state, pulses, energy, active, new_direction, ramp, key

    state, pulses, energy, *_ = jax.lax.while_loop(cond, body, carry0)
    return state, pulses, energy


# --------------------------------------------------------------------------------------------
# Identical pulses on NeuroSim's nonlinear curve
# --------------------------------------------------------------------------------------------


def program_pulses(update, g_initial: Float[Array, "..."], g_target: Float[Array, "..."], *,
                   key: PRNGKeyArray | None = None) -> ProgrammingResult:
    """Open-loop programming with identical pulses (no verify).

    Each device gets the number of pulses that the noiseless nonlinear curve of ``update``
    (:class:`~memsnn.crossbar.PulseUpdate`) needs from ``g_initial`` to ``g_target``
    (``update.pulses_for``, rounded to the nearest whole pulse): potentiating pulses when the
    target lies above, depressing ones below. The pulses are applied one at a time, each with its
    own cycle-to-cycle noise (drawn with ``key``), so the conductance reached scatters around the
    curve's, and each costs ``update.pulse_energy(g)`` at the conductance it finds.

    Args:
        update: the device's pulse response.
        g_initial, g_target: conductances (S), broadcast against each other, within
            ``[update.g_min, update.g_max]``.
        key: noise of the pulses (``None``: the noiseless curve).

    Returns:
        A :class:`ProgrammingResult`; ``converged``: within half a pulse of the target (the best a
        whole number of noiseless pulses can do).
    """
    g_initial, g_target = jnp.broadcast_arrays(jnp.asarray(g_initial, float), jnp.asarray(g_target, float))
    check_targets("program_pulses", g_target, update.g_min, update.g_max, "the device's range")
    check_targets("program_pulses", g_initial, update.g_min, update.g_max, "the device's range")
    return _program_pulses(update, g_initial, g_target, key)


@eqx.filter_jit
def _program_pulses(update, g_initial, g_target, key):
    n = jnp.round(jnp.abs(update.pulses_for(g_initial, g_target))).astype(jnp.int32)
    up = g_target >= g_initial
    keys = None if key is None else jax.random.split(key, update.n_pulses)

    def pulse(k, carry):
        g, energy = carry
        kk = None if keys is None else keys[k]
        new = _one_pulse(update, g, jnp.where(up, 1, -1), kk)
        active = k < n
        return jnp.where(active, new, g), energy + jnp.where(active, update.pulse_energy(g), 0.0)

    # A device needs at most n_pulses pulses from one end of its curve to the other.
    g, energy = jax.lax.fori_loop(0, update.n_pulses, pulse, (g_initial, jnp.zeros_like(g_initial)))
    # Half the local step of one noiseless pulse at the target: the best a whole pulse count can do.
    step = jnp.abs(jnp.where(up, update.potentiate(g_target, 1), update.depress(g_target, 1)) - g_target)
    converged = jnp.abs(g - g_target) <= 0.5 * step + 1e-9 * update.g_max
    return ProgrammingResult(g, n, energy, converged)


def _one_pulse(update, g, direction, key):
    """One identical pulse: potentiating where ``direction > 0``, depressing elsewhere."""
    k_up, k_down = (None, None) if key is None else tuple(jax.random.split(key))
    return jnp.where(direction > 0, update.potentiate(g, 1, key=k_up), update.depress(g, 1, key=k_down))


def write_verify(update, g_initial: Float[Array, "..."], g_target: Float[Array, "..."], *,
                 tolerance: float | Float[Array, "..."], max_pulses: int = 100, verify_noise: float = 0.0,
                 verify_energy: float = 0.0, stuck: Bool[Array, "..."] | None = None,
                 key: PRNGKeyArray | None = None) -> ProgrammingResult:
    """Write-verify with identical pulses on ``update``'s nonlinear LTP/LTD curve.

    Verify; while a device's read lies outside ``[g_target - tolerance, g_target + tolerance]``,
    one potentiating pulse if the read is below the target, a depressing one if above; verify
    again. A device stops at the first read inside the window or after ``max_pulses`` pulses.

    Args:
        update: the device's pulse response (:class:`~memsnn.crossbar.PulseUpdate`); its
            cycle-to-cycle noise is drawn from ``key``.
        g_initial, g_target: conductances (S), broadcast against each other.
        tolerance: half-width of the acceptance window (S), > 0.
        max_pulses: the most pulses one device may take (static).
        verify_noise: standard deviation (S) of each verify read, drawn fresh per read.
        verify_energy: energy of one verify read of one device (J); there is one read before the
            first pulse and one after each pulse.
        stuck: which devices are stuck (a fault of the chip, unknown to the programmer): pulses
            cost their energy but leave them at ``g_initial``, their stuck conductance. ``None``:
            no faults. :func:`write_verify_pairs` finds them and maps around them.
        key: noise of the pulses and reads (``None``: noiseless pulses and reads).

    Returns:
        A :class:`ProgrammingResult`.
    """
    check_loop("write_verify", tolerance, max_pulses, verify_noise, verify_energy)
    g_initial, g_target = jnp.broadcast_arrays(jnp.asarray(g_initial, float), jnp.asarray(g_target, float))
    check_targets("write_verify", g_target, update.g_min, update.g_max, "the device's range")
    check_targets("write_verify", g_initial, update.g_min, update.g_max, "the device's range")
    floats = [jnp.asarray(v, g_target.dtype) for v in (tolerance, verify_noise, verify_energy)]
    stuck = jnp.zeros(g_target.shape, bool) if stuck is None else jnp.broadcast_to(jnp.asarray(stuck, bool),
                                                                                 g_target.shape)
    return _write_verify(update, g_initial, g_target, *floats, stuck, max_pulses=int(max_pulses), key=key)


@eqx.filter_jit
def _write_verify(update, g_initial, g_target, tolerance, verify_noise, verify_energy, stuck, *, max_pulses, key):
    def pulse(g, direction, ramp, key):
        return jnp.where(stuck, g, _one_pulse(update, g, direction, key)), update.pulse_energy(g)

    g, pulses, energy = closed_loop(lambda g: g, pulse, g_initial, g_target, tolerance, max_pulses,
                                     verify_noise, verify_energy, key)
    converged = jnp.abs(g - g_target) <= tolerance
    return ProgrammingResult(g, pulses, energy, converged)


# --------------------------------------------------------------------------------------------
# Differential pairs: write-verify that finds stuck devices and maps around them
# --------------------------------------------------------------------------------------------


class PairProgrammingResult(eqx.Module):
    """What :func:`write_verify_pairs` reached for a crossbar's differential pairs.

    Attributes:
        conductances: the :class:`~memsnn.crossbar.Conductances` (S) reached, ``(n_out, n_in)`` each.
        positive, negative: each device array's :class:`ProgrammingResult` (pulses and energy of
            both passes added; ``converged`` against its final target).
        stuck_positive, stuck_negative: the devices write-verify found stuck.
    """

    conductances: Conductances
    positive: ProgrammingResult
    negative: ProgrammingResult
    stuck_positive: Bool[Array, "n_out n_in"]
    stuck_negative: Bool[Array, "n_out n_in"]

    @property
    def total_energy(self) -> Float[Array, ""]:
        """Energy of programming every device, both passes (J)."""
        return self.positive.total_energy + self.negative.total_energy


def write_verify_pairs(update, mapping: ConductanceMapping, weight: Float[Array, "n_out n_in"],
                       g_initial: Conductances, *, tolerance: float, max_pulses: int = 100,
                       fault_aware: bool = True,
                       stuck: tuple[Bool[Array, "n_out n_in"], Bool[Array, "n_out n_in"]] | None = None,
                       verify_noise: float = 0.0, verify_energy: float = 0.0,
                       key: PRNGKeyArray | None = None) -> PairProgrammingResult:
    """Program ``weight`` into differential pairs with :func:`write_verify`, finding stuck devices
    and (``fault_aware``) compensating each with its healthy partner.

    Pass 1 write-verifies every device to the mapping's target
    (``mapping.to_conductances(weight, saturate=True)``). A device that used all ``max_pulses``
    pulses without converging and without moving more than ``tolerance`` from where it started is
    found stuck (the verify reads show that it does not respond). With ``fault_aware`` (the
    default: write-verify has found the faults, so the controller maps around them; Xia et al.,
    DAC 2017; Jin et al., DATE 2020; docs/crossbar.md) pass 2 write-verifies the healthy partner
    of each stuck device to :meth:`~memsnn.crossbar.ConductanceMapping.compensate_stuck`'s target, so that the pair
    holds its weight (``clip(a - d)`` / ``clip(a + d)``, ``a`` the stuck device's conductance);
    every other device is left alone. A pair with both devices stuck stays as it is.

    Args:
        update: the devices' pulse response (:class:`~memsnn.crossbar.PulseUpdate`), with the
            mapping's ``g_min``, ``g_max``.
        mapping: a ``differential`` :class:`~memsnn.crossbar.ConductanceMapping`.
        weight: ``(n_out, n_in)`` target weights (weights beyond ``±w_max`` saturate).
        g_initial: the devices' conductances before programming (S); a stuck device's is its
            stuck value.
        tolerance, max_pulses, verify_noise, verify_energy: as in :func:`write_verify` (each pass).
        fault_aware: compensate the stuck devices found (``False``: plain mapping, the faults stay
            in the weights).
        stuck: ``(positive, negative)`` masks of the chip's stuck devices (the faults to simulate;
            the programmer does not see them, it finds them), or ``None`` (no faults).
        key: noise of the pulses and reads.

    Returns:
        A :class:`PairProgrammingResult`.
    """
    if not isinstance(mapping, ConductanceMapping) or not mapping.differential:
        raise ValueError("write_verify_pairs: needs a 'differential' memsnn.crossbar.ConductanceMapping "
                         "(a device against a fixed reference has no partner to compensate with).")
    if not isinstance(fault_aware, (bool, np.bool_)):
        raise TypeError(f"write_verify_pairs: fault_aware must be True or False, got {fault_aware!r}.")
    target = mapping.to_conductances(weight, saturate=True)
    shape = target.positive.shape
    stuck = (jnp.zeros(shape, bool),) * 2 if stuck is None else tuple(jnp.broadcast_to(jnp.asarray(s, bool), shape)
                                                                      for s in stuck)
    keys = (None,) * 4 if key is None else tuple(jax.random.split(key, 4))
    options = dict(tolerance=tolerance, max_pulses=max_pulses, verify_noise=verify_noise, verify_energy=verify_energy)
    first = [write_verify(update, g0, t, stuck=s, key=k, **options)
             for g0, t, s, k in zip(g_initial, target, stuck, keys[:2])]
    found = [(~r.converged) & (r.pulses >= max_pulses) & (jnp.abs(r.conductances - jnp.asarray(g0)) <= tolerance)
             for r, g0 in zip(first, g_initial)]
    reached = Conductances(first[0].conductances, first[1].conductances)
    if not fault_aware:
        return PairProgrammingResult(reached, first[0], first[1], found[0], found[1])
    compensated = mapping.compensate_stuck(target, found[0], found[1], reached)
    # Only the partner of one stuck device is programmed again; every other device keeps what
    # pass 1 reached (held still, its pulses and energy not counted).
    partner = (found[1] & ~found[0], found[0] & ~found[1])
    results = []
    for r, new_target, again, s, k in zip(first, compensated, partner, stuck, keys[2:]):
        second = write_verify(update, r.conductances, jnp.where(again, new_target, r.conductances),
                              stuck=s | ~again, key=k, **options)
        results.append(ProgrammingResult(
            jnp.where(again, second.conductances, r.conductances),
            r.pulses + jnp.where(again, second.pulses, 0),
            r.energy + jnp.where(again, second.energy, 0.0),
            jnp.where(again, second.converged, r.converged)))
    conductances = Conductances(results[0].conductances, results[1].conductances)
    return PairProgrammingResult(conductances, results[0], results[1], found[0], found[1])
