"""Programming physical memristors with voltage pulses, integrated by the integrators: ISPP.

The schemes of :mod:`memsnn.crossbar.programming` move conductances along a pulse-response curve
and need no time integration. Incremental step pulse programming (ISPP) drives a physical device
model (:mod:`memsnn.devices`): every pulse is a stretch of the device's state equation
``dx/dt = f(x, V)`` at the pulse's voltage, so it is integrated as every other ODE of memsnn is, by
an integrator object (:mod:`memsnn.integrators`; ``Euler(substeps)`` by default) advancing a
component, :class:`PulsedDevice`, whose state is the device state and the energy drawn. That is
why this module sits above the integrators (layer 3, docs/architecture.md: "Device programming"),
while the verify loop it shares with write-verify (:func:`~memsnn.crossbar.programming.closed_loop`)
stays in the crossbar package.

No clipping: the state stays within :attr:`~memsnn.devices.AbstractMemristor.state_bounds` by the
device's own window (its ``f`` vanishes at the bounds), and an explicit step is checked against the
device's :meth:`~memsnn.devices.AbstractMemristor.relaxation_rate` before anything runs
(``h * rate <= 1`` keeps an Euler step inside the bounds without oscillating).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ._validation import _concrete
from .crossbar.programming import ProgrammingResult, check_loop, check_targets, closed_loop
from .devices import AbstractMemristor
from .integrators import AbstractIntegrator, Euler

__all__ = ["PulsedDevice", "ispp"]


class PulsedDevice(eqx.Module):
    """A memristor held at a pulse's voltage, as a component: state ``(x, energy)``.

    ``d x / dt = scale * f(x, V)`` (the device's :meth:`~memsnn.devices.AbstractMemristor.state_derivative`,
    ``scale`` the pulse's cycle-to-cycle factor) and ``d energy / dt = V I(x, V)`` (J/s), so that
    every integrator integrates the energy with the state.

    Attributes:
        device: the memristor model (parameters broadcasting against the states).
        voltage: the voltage across each device (V), broadcasting against the states.
        scale: cycle-to-cycle factor on the state's motion (1: none).
    """

    device: AbstractMemristor
    voltage: Float[Array, "..."]
    scale: Float[Array, "..."] | float = 1.0

    def vector_field(self, t, state, inputs):
        """``(dx/dt, dE/dt)`` at the states ``state = (x, energy)``; ``inputs`` is unused (``None``)."""
        x, _ = state
        return (self.scale * self.device.state_derivative(x, self.voltage),
                self.voltage * self.device.current(x, self.voltage))

    def pulse(self, x: Float[Array, "..."], width, integrator: AbstractIntegrator
              ) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
        """``(x, energy)`` after a pulse of ``width`` seconds from the states ``x``."""
        (x, energy), _, _ = integrator.advance(self, (x, jnp.zeros_like(x)), None, None, 0.0, width, 1, None)
        return x, energy


def _set_polarity(device: AbstractMemristor, v: float):
    """+1 where a positive pulse raises the conductance, -1 where a negative one does.

    Read off the device's own equations at the middle of its state range: the sign of
    ``dg/dx * dx/dt(+v)``.
    """
    lo, hi = device.state_bounds
    mid = jnp.asarray(0.5 * (lo + hi))
    dg_dx = jax.grad(lambda x: jnp.sum(device.conductance(x, 0.0)))(mid)
    return jnp.where(dg_dx * device.state_derivative(mid, v) >= 0, 1.0, -1.0)


def _check_step(owner: str, device: AbstractMemristor, x0, v_max, pulse_width, integrator: AbstractIntegrator):
    """Refuse an explicit step that could carry a state past its bounds (concrete values only)."""
    width = _concrete(pulse_width)
    if width is None or _concrete(x0) is None or _concrete(v_max) is None:
        return
    h = integrator.explicit_step(float(np.max(width)))
    if h is None:
        return  # implicit or adaptive: the solver controls its own steps
    # From each initial state, the rates on the way to both bounds (one polarity each) cover every state.
    rate = max(float(np.max(np.asarray(device.relaxation_rate(x0, sign * v_max)))) for sign in (1.0, -1.0))
    if h * rate > 1.0:
        need = int(np.ceil(float(np.max(width)) * rate))
        raise ValueError(f"{owner}: an explicit step of {h:.3g} s is too long for this device near its state bounds "
                         f"(relaxation rate {rate:.3g} 1/s at {v_max} V: step x rate = {h * rate:.3g} > 1), so a "
                         f"pulse could carry the state past {device.state_bounds}; use substeps >= {need} "
                         "(or an integrator with shorter steps).")


def ispp(device: AbstractMemristor, state_initial: Float[Array, "..."], g_target: Float[Array, "..."], *,
         v_start: float, v_step: float, v_max: float, pulse_width: float, tolerance: float | Float[Array, "..."],
         max_pulses: int = 100, v_read: float = 0.1, substeps: int = 10, cycle_noise: float = 0.0,
         verify_noise: float = 0.0, verify_energy: float = 0.0, integrator: AbstractIntegrator | None = None,
         key: PRNGKeyArray | None = None) -> ProgrammingResult:
    """Incremental step pulse programming (ISPP) of the memristor ``device``, with verify.

    The ``k``-th pulse in a row in the same direction has the amplitude
    ``min(v_start + k v_step, v_max)`` (``k = 0, 1, ...``), with the polarity that raises the
    conductance when the verify read lies below the target and the opposite one above it; a
    change of direction (an overshoot) restarts the ramp at ``v_start``. A pulse integrates the
    device's ``dx/dt = f(x, V)`` and the energy ``V I(x, V)`` over ``pulse_width``
    (:class:`PulsedDevice`) with ``integrator`` (default ``Euler(substeps)``). Which polarity
    raises the conductance is read off the device's equations (VTEAM: negative pulses, towards
    ``R_on``). The closed loop is :func:`memsnn.crossbar.programming.closed_loop`.

    Args:
        device: the cell, any :class:`~memsnn.devices.AbstractMemristor` (scalar parameters, or
            parameters broadcasting against the states: device-to-device variation).
        state_initial: the devices' states before programming (the device's state units).
        g_target: target conductances (S) read at ``v_read``, within the device's range.
        v_start, v_step, v_max: pulse amplitude ramp (V, magnitudes): first, increment, largest.
        pulse_width: duration of one pulse (s).
        tolerance: half-width of the acceptance window (S), > 0.
        max_pulses: the most pulses one device may take (static).
        v_read: verify read voltage (V).
        substeps: Euler steps per pulse of the default integrator (static); the step
            ``pulse_width / substeps`` must keep ``step x`` :meth:`~memsnn.devices.AbstractMemristor.relaxation_rate`
            ``<= 1`` (checked): the device's window then holds the state within its bounds.
        cycle_noise: cycle-to-cycle variation: each pulse's state change is multiplied by
            ``1 + cycle_noise * N(0, 1)``.
        verify_noise: standard deviation (S) of each verify read.
        verify_energy: energy of one verify read of one device (J).
        integrator: how a pulse is integrated (any :class:`~memsnn.integrators.AbstractIntegrator`,
            e.g. ``Diffrax(diffrax.Tsit5())``); default ``Euler(substeps)``.
        key: noise of the pulses and reads (``None``: noiseless).

    Returns:
        A :class:`~memsnn.crossbar.programming.ProgrammingResult` with ``device_state`` set.
    """
    owner = "ispp"
    check_loop(owner, tolerance, max_pulses, verify_noise, verify_energy)
    if isinstance(substeps, bool) or not isinstance(substeps, (int, np.integer)) or substeps < 1:
        raise ValueError(f"{owner}: substeps must be a whole number >= 1, got {substeps!r}.")
    integrator = Euler(int(substeps)) if integrator is None else integrator
    for name, value in (("v_start", v_start), ("v_max", v_max), ("pulse_width", pulse_width)):
        arr = _concrete(value)
        if arr is not None and (not np.all(np.isfinite(arr)) or np.any(arr <= 0)):
            raise ValueError(f"{owner}: {name} must be > 0 (a magnitude; the polarity is chosen per pulse), got {arr}.")
    for name, value in (("v_step", v_step), ("cycle_noise", cycle_noise)):
        arr = _concrete(value)
        if arr is not None and (not np.all(np.isfinite(arr)) or np.any(arr < 0)):
            raise ValueError(f"{owner}: {name} must be >= 0, got {arr}.")
    lo, hi = device.state_bounds
    x0, g_target = jnp.broadcast_arrays(jnp.asarray(state_initial, float), jnp.asarray(g_target, float))
    x_arr = _concrete(x0)
    if x_arr is not None and (np.any(x_arr < lo) or np.any(x_arr > hi)):
        raise ValueError(f"{owner}: initial states must lie within the device's state bounds [{lo}, {hi}].")
    g_ends = jnp.stack(jnp.broadcast_arrays(device.conductance(jnp.asarray(lo), v_read),
                                            device.conductance(jnp.asarray(hi), v_read)))
    check_targets(owner, g_target, jnp.min(g_ends, axis=0), jnp.max(g_ends, axis=0),
                  "the device's conductance range at v_read")
    _check_step(owner, device, x0, v_max, pulse_width, integrator)
    floats = [jnp.asarray(v, x0.dtype) for v in (v_start, v_step, v_max, pulse_width, tolerance, v_read,
                                                  cycle_noise, verify_noise, verify_energy)]
    return _ispp(device, integrator, x0, g_target, *floats, max_pulses=int(max_pulses), key=key)


@eqx.filter_jit
def _ispp(device, integrator, x0, g_target, v_start, v_step, v_max, pulse_width, tolerance, v_read, cycle_noise,
          verify_noise, verify_energy, *, max_pulses, key):
    # Compiled once per device structure, integrator, shapes and max_pulses: the loops inside are
    # costly to trace, and a user programming many arrays calls this repeatedly.
    polarity = _set_polarity(device, v_max)

    def read(x):
        return device.conductance(x, v_read)

    def pulse(x, direction, ramp, key):
        amplitude = jnp.minimum(v_start + ramp * v_step, v_max)
        v = direction * polarity * amplitude
        scale = 1.0 if key is None else 1.0 + cycle_noise * jax.random.normal(key, jnp.shape(x), x.dtype)
        return PulsedDevice(device, v, scale).pulse(x, pulse_width, integrator)

    x, pulses, energy = closed_loop(read, pulse, x0, g_target, tolerance, max_pulses,
                                    verify_noise, verify_energy, key)
    g = read(x)
    return ProgrammingResult(g, pulses, energy, jnp.abs(g - g_target) <= tolerance, device_state=x)
