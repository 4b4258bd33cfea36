"""The QCFS activation (Bu et al., ICLR 2022): quantization clip-floor-shift with a trainable
threshold and a straight-through floor; its SNN is an IF neuron with ``theta = lambda`` and a
membrane starting at ``theta / 2``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = ["qcfs"]


@jax.custom_jvp
def _floor_ste(x):
    return jnp.floor(x)


@_floor_ste.defjvp
def _floor_ste_jvp(primals, tangents):
    # Straight-through: the floor passes gradients unchanged (Bu et al. 2022).
    (x,), (dx,) = primals, tangents
    return jnp.floor(x), dx


def qcfs(z: Float[Array, "..."], threshold: Float[Array, "..."], levels: int) -> Float[Array, "..."]:
    """Quantization clip-floor-shift activation ``lambda / L * clip(floor(z L / lambda + 1/2), 0, L)``.

    Written as ``lambda * floor(clip(z / lambda, 0, 1) L + 1/2) / L`` (the same values), as in Bu
    et al.'s code, so that the gradient reaches ``lambda`` through the clip and the straight-through
    floor.

    Args:
        z: pre-activations, any shape.
        threshold: ``lambda`` > 0 (broadcasts against ``z``).
        levels: ``L`` >= 1, the number of non-zero output levels.
    """
    x = jnp.clip(z / threshold, 0.0, 1.0)
    return threshold * _floor_ste(x * levels + 0.5) / levels
