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
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from memsnn._validation import _concrete

__all__ = ["direct_current", "impulse_schedule", "latency", "rate"]


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
