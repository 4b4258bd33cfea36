"""Spike encoders: turn pixel intensities in ``[0, 1]`` into inputs over time.

All encoders are pure JAX functions of a batch ``images`` of shape ``(B, F)`` (``B`` samples,
``F`` features, e.g. 784 flattened pixels) and return ``float32`` arrays. Time-resolved encoders
return ``(B, n_steps, F)`` (batch, time, feature). ``n_steps`` and the other configuration
arguments are static Python values (mark them static under :func:`jax.jit`); ``images`` may be
traced. Intensities are checked to lie in ``[0, 1]`` whenever they are concrete (outside ``jit``).

* :func:`impulse_schedule` - the SPICEprop schedule: intensities arrive as impulses at a few fixed
  steps; returns the amplitudes and the (static) steps for the circuit simulator.
* :func:`rate` - Bernoulli rate code, spike probability ``intensity * max_rate`` per step.
* :func:`latency` - one spike per pixel, earlier for brighter pixels (snnTorch-style RC code).
* :func:`direct_current` - the intensity itself at every step.
* :func:`latency_times` and :func:`spike_time_impulses` - latency codes at continuous times (one
  spike per feature at ``t_early .. t_late``, for images and for 2-D points), as
  :class:`~memsnn.Impulses` whose ``lag`` places each spike at its exact time inside its step
  (``simulate(..., spike_timing="exact")``; docs/spike-times.md).
"""

from __future__ import annotations

import math
import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from memsnn._validation import _concrete

__all__ = ["direct_current", "gaussian_receptive_fields", "impulse_schedule", "latency", "latency_times", "rate",
           "spike_time_impulses"]


def _check_images(owner: str, images) -> jax.Array:
    images = jnp.asarray(images, dtype=jnp.float32)
    if images.ndim != 2:
        raise ValueError(
            f"{owner}: images must be 2-D (batch, features), got shape {images.shape}; flatten "
            "each image (e.g. images.reshape(len(images), -1)) and add a batch axis for one image."
        )
    values = _concrete(images)
    if values is not None and not (np.all(np.isfinite(values)) and values.min(initial=0.0) >= 0.0
                                   and values.max(initial=0.0) <= 1.0):
        raise ValueError(
            f"{owner}: intensities must lie in [0, 1], got values in "
            f"[{np.nanmin(values)}, {np.nanmax(values)}]; scale the images (e.g. divide uint8 "
            "pixels by 255)."
        )
    return images


def _check_n_steps(owner: str, n_steps) -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps <= 0:
        raise ValueError(f"{owner}: n_steps must be a positive integer, got {n_steps!r}.")
    return int(n_steps)


def _check_fraction(owner: str, name: str, value) -> float:
    if not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}: {name} must be a number in [0, 1], got {value!r}.")
    return float(value)


def impulse_schedule(
    images, n_steps: int = 1000, event_steps: tuple[int, ...] = (0, 400, 800)
) -> tuple[jax.Array, tuple[int, ...]]:
    """The SPICEprop input schedule: each pixel intensity arrives as an impulse at fixed steps.

    Args:
        images: ``(B, F)`` intensities in ``[0, 1]``.
        n_steps: length of the simulation in steps.
        event_steps: the steps at which the impulses arrive; strictly increasing integers in
            ``[0, n_steps)``.

    Returns:
        ``(amplitudes, steps)``: ``amplitudes`` is ``float32 (B, n_events, F)`` with
        ``amplitudes[:, k, :] == images`` (the impulse amplitude of every event), and ``steps`` is
        the static tuple of ``n_events`` step indices. The simulator applies event ``k`` at step
        ``steps[k]`` and nothing in between.
    """
    owner = "impulse_schedule"
    images = _check_images(owner, images)
    n_steps = _check_n_steps(owner, n_steps)
    steps = tuple(event_steps)
    if not steps:
        raise ValueError(f"{owner}: event_steps must name at least one step.")
    if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) for s in steps):
        raise ValueError(f"{owner}: event_steps must be integers, got {event_steps!r}.")
    steps = tuple(int(s) for s in steps)
    if any(s < 0 or s >= n_steps for s in steps):
        raise ValueError(
            f"{owner}: event_steps {steps} must lie in [0, n_steps) = [0, {n_steps})."
        )
    if any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError(f"{owner}: event_steps must be strictly increasing, got {steps}.")
    amplitudes = jnp.broadcast_to(images[:, None, :], (images.shape[0], len(steps), images.shape[1]))
    return amplitudes, steps


def rate(images, n_steps: int, key: jax.Array, *, max_rate: float = 1.0) -> jax.Array:
    """Bernoulli rate code: a spike at each step with probability ``intensity * max_rate``.

    Args:
        images: ``(B, F)`` intensities in ``[0, 1]``.
        n_steps: number of time steps.
        key: a JAX PRNG key.
        max_rate: spike probability per step of a pixel of intensity 1, in ``[0, 1]``.

    Returns:
        ``float32 (B, n_steps, F)`` of 0s and 1s, independent across steps and pixels.
    """
    owner = "rate"
    images = _check_images(owner, images)
    n_steps = _check_n_steps(owner, n_steps)
    max_rate = _check_fraction(owner, "max_rate", max_rate)
    batch, features = images.shape
    p = images[:, None, :] * max_rate
    return jax.random.bernoulli(key, p, shape=(batch, n_steps, features)).astype(jnp.float32)


def latency(
    images,
    n_steps: int,
    *,
    tau: float = 5.0,
    threshold: float = 0.01,
    linear: bool = False,
) -> jax.Array:
    """Latency code: one spike per pixel, earlier for brighter pixels.

    A pixel of intensity ``I > threshold`` spikes once, at step ``round(t)`` with

    * ``t = tau * ln(I / (I - threshold))`` (default; the charging time of an RC circuit driven by
      ``I`` to reach ``threshold``, as in snnTorch's ``spikegen.latency``), or
    * ``t = (1 - I) * (n_steps - 1)`` with ``linear=True``.

    Spikes later than the last step are placed on the last step, so every pixel above
    ``threshold`` spikes exactly once; pixels with ``I <= threshold`` never spike.

    Args:
        images: ``(B, F)`` intensities in ``[0, 1]``.
        n_steps: number of time steps.
        tau: RC time constant in steps (> 0; unused with ``linear=True``).
        threshold: intensity at or below which a pixel stays silent, in ``[0, 1)``.
        linear: use the linear time code instead of the RC one.

    Returns:
        ``float32 (B, n_steps, F)`` with values exactly 0 or 1, at most one 1 per ``(b, f)``.
    """
    owner = "latency"
    images = _check_images(owner, images)
    n_steps = _check_n_steps(owner, n_steps)
    if not isinstance(tau, numbers.Real) or not math.isfinite(tau) or tau <= 0:
        raise ValueError(f"{owner}: tau must be a positive number of steps, got {tau!r}.")
    threshold = _check_fraction(owner, "threshold", threshold)
    if threshold >= 1.0:
        raise ValueError(f"{owner}: threshold must be < 1 or no pixel could spike, got {threshold}.")
    active = images > threshold
    if linear:
        t = (1.0 - images) * (n_steps - 1)
    else:
        # Keep the log argument finite for silent pixels; they are masked out below.
        safe = jnp.where(active, images, 1.0)
        t = tau * jnp.log(safe / (safe - threshold))
    spike_step = jnp.clip(jnp.round(t), 0, n_steps - 1).astype(jnp.int32)
    steps = jnp.arange(n_steps, dtype=jnp.int32)[None, :, None]
    spikes = (steps == spike_step[:, None, :]) & active[:, None, :]
    return spikes.astype(jnp.float32)


def direct_current(images, n_steps: int) -> jax.Array:
    """Direct (current) input: the intensity repeated at every step.

    Args:
        images: ``(B, F)`` intensities in ``[0, 1]``.
        n_steps: number of time steps.

    Returns:
        ``float32 (B, n_steps, F)`` with ``out[:, t, :] == images`` for every ``t``.
    """
    owner = "direct_current"
    images = _check_images(owner, images)
    n_steps = _check_n_steps(owner, n_steps)
    return jnp.broadcast_to(images[:, None, :], (images.shape[0], n_steps, images.shape[1]))


def latency_times(values, *, t_early: float, t_late: float, larger_earlier: bool = True,
                  threshold: float | None = None, bias_times: tuple = ()) -> jax.Array:
    """Latency code at continuous times: each feature value ``v`` in ``[0, 1]`` spikes once, at

    * ``t = t_late - v (t_late - t_early)`` (``larger_earlier=True``: bright pixels first), or
    * ``t = t_early + v (t_late - t_early)`` (``larger_earlier=False``: a coordinate as a time,
      as Göltz et al. 2021 code the Yin-Yang points).

    Features at or below ``threshold`` (e.g. black pixels) do not spike (time ``+inf``).
    ``bias_times`` appends one input per given time that spikes then for every sample (a bias).

    Returns:
        ``(B, F + len(bias_times))`` spike times (s), ``+inf`` for silent inputs.
    """
    owner = "latency_times"
    values = _check_images(owner, values)
    if not (math.isfinite(t_early) and math.isfinite(t_late) and 0 <= t_early < t_late):
        raise ValueError(f"{owner}: need 0 <= t_early < t_late (s), got t_early={t_early}, t_late={t_late}.")
    span = t_late - t_early
    times = t_late - values * span if larger_earlier else t_early + values * span
    if threshold is not None:
        times = jnp.where(values > _check_fraction(owner, "threshold", threshold), times, jnp.inf)
    if bias_times:
        bias = jnp.broadcast_to(jnp.asarray(bias_times, times.dtype), (times.shape[0], len(bias_times)))
        times = jnp.concatenate([times, bias], axis=1)
    return times


def gaussian_receptive_fields(values, n_fields: int, *, beta: float = 1.5) -> jax.Array:
    """Population code of Bohte, Kok & La Poutré (2002, section 3.1): each feature ``x`` in ``[0, 1]``
    becomes the responses of ``n_fields`` Gaussian receptive fields with centres
    ``mu_i = (2 i - 3) / 2 / (n_fields - 2)`` (``i = 1..n_fields``; the first and last lie just
    outside the range) and width ``sigma = 1 / (beta (n_fields - 2))``::

        r_i(x) = exp(-(x - mu_i)^2 / (2 sigma^2))                (1 at the centre)

    Feed the responses to :func:`latency_times` (``larger_earlier=True``): a strongly stimulated
    field spikes early, a weak one late, and with ``threshold`` the weakest do not spike.

    Args:
        values: ``(B, F)`` features in ``[0, 1]`` (e.g. scaled by the training split's range).
        n_fields: receptive fields per feature, ``>= 3`` (the paper: 12 for Iris, 7 for breast cancer).
        beta: width factor (the paper: 1.5).

    Returns:
        ``(B, F n_fields)`` responses in ``(0, 1]``, feature-major (feature ``f``'s fields at
        ``f n_fields .. (f + 1) n_fields - 1``).
    """
    owner = "gaussian_receptive_fields"
    values = _check_images(owner, values)
    if isinstance(n_fields, bool) or not isinstance(n_fields, numbers.Integral) or n_fields < 3:
        raise ValueError(f"{owner}: n_fields must be an integer >= 3 (the centres are spaced 1 / (n_fields - 2) "
                         f"apart), got {n_fields!r}.")
    if not (isinstance(beta, numbers.Real) and beta > 0):
        raise ValueError(f"{owner}: beta must be > 0, got {beta!r}.")
    i = jnp.arange(1, n_fields + 1, dtype=values.dtype)
    centres = (2 * i - 3) / 2 / (n_fields - 2)
    sigma = 1.0 / (beta * (n_fields - 2))
    r = jnp.exp(-((values[..., None] - centres) ** 2) / (2 * sigma ** 2))
    return r.reshape(values.shape[0], values.shape[1] * int(n_fields))


def spike_time_impulses(times, *, dt: float, n_steps: int, amplitude: float = 1.0, t_max: float | None = None):
    """Impulses at continuous times: one per finite entry of ``times`` ``(B, F)`` (s), landing at the
    end of the step that holds it, ``k = ceil(t / dt) - 1`` (at least 0), with the lag
    ``(k + 1) dt - t`` that places it at ``t`` under ``simulate(..., spike_timing="exact")``.
    Times at or after the run's end ``n_steps dt`` and ``+inf`` do not spike.

    ``t_max`` (s): no finite time is later than it (e.g. a latency code's window). The impulses then
    hold rows only for the steps ``0 .. floor(t_max / dt)`` (:attr:`~memsnn.Impulses.steps`), and
    :func:`~memsnn.simulate` reads the first array for those rows only: on a run twice as long as
    the code's window, half the input layer's work. A time that would land after them is an error at
    run time (``eqx.error_if``), never dropped.

    Returns:
        :class:`~memsnn.Impulses` with ``(B, rows, F)`` amplitudes and lags: ``rows = n_steps``
        (dense), or ``floor(t_max / dt) + 1`` rows at steps ``0, 1, ...`` with ``t_max``.
    """
    from memsnn.stimulus import Impulses

    n_steps = _check_n_steps("spike_time_impulses", n_steps)
    if not float(dt) > 0:
        raise ValueError(f"spike_time_impulses: dt must be > 0 s, got {dt}.")
    rows = n_steps
    if t_max is not None:
        if not (isinstance(t_max, numbers.Real) and math.isfinite(t_max) and t_max >= 0):
            raise ValueError(f"spike_time_impulses: t_max must be a finite time >= 0 (s), got {t_max!r}.")
        # One row of margin: a time equal to t_max may round up into the next step.
        rows = min(n_steps, int(math.floor(t_max / dt)) + 1)
    times = jnp.asarray(times)
    fires = jnp.isfinite(times) & (times < n_steps * dt) & (times >= 0)
    safe = jnp.where(fires, times, 0.0)
    step = jnp.ceil(safe / dt) - 1
    if rows < n_steps:
        step = eqx.error_if(step, jnp.any(fires & (step >= rows)),
                            f"spike_time_impulses: an input time is later than t_max={t_max} s (it would land "
                            f"after step {rows - 1}); raise t_max.")
    step = jnp.clip(step, 0, rows - 1).astype(jnp.int32)
    lag = (step + 1) * dt - safe
    grid = jnp.arange(rows, dtype=jnp.int32)[None, :, None]
    hit = (grid == step[:, None, :]) & fires[:, None, :]
    amp = jnp.where(hit, jnp.asarray(amplitude, times.dtype), 0.0)
    return Impulses(amp, steps=None if rows == n_steps else tuple(range(rows)),
                    lag=jnp.where(hit, lag[:, None, :], 0.0))
