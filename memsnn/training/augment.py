"""Data augmentation for image batches, applied inside the jitted training step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

__all__ = ["random_shift"]


def random_shift(key: PRNGKeyArray, images: Float[Array, "batch pixels"], max_shift: int,
                 image_shape: tuple[int, int] = (28, 28)) -> Float[Array, "batch pixels"]:
    """Translate each image by a random whole number of pixels, zeros filling in.

    Args:
        key: PRNG key.
        images: ``(batch, height * width)`` flattened images.
        max_shift: largest shift (pixels) along each axis; each image draws its own shifts,
            uniformly in ``[-max_shift, max_shift]``.
        image_shape: ``(height, width)``.

    Returns:
        The shifted images, same shape and dtype.
    """
    height, width = image_shape
    batch = images.shape[0]
    m = int(max_shift)
    if m != max_shift or not 0 <= m < min(height, width):
        raise ValueError(f"random_shift: max_shift must be a whole number of pixels in [0, {min(height, width) - 1}], "
                         f"got {max_shift!r}.")
    padded = jnp.pad(images.reshape(batch, height, width), ((0, 0), (m, m), (m, m)))
    corners = jax.random.randint(key, (batch, 2), 0, 2 * m + 1)
    crop = jax.vmap(lambda image, corner: jax.lax.dynamic_slice(image, (corner[0], corner[1]), (height, width)))
    return crop(padded, corners).reshape(batch, height * width)
