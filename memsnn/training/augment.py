"""Data augmentation for image batches, applied inside the jitted training step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

__all__ = ["augmentation", "random_drop", "random_flip", "random_shift"]


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


def random_flip(key: PRNGKeyArray, images: Float[Array, "batch pixels"],
                image_shape: tuple[int, int] = (28, 28)) -> Float[Array, "batch pixels"]:
    """Mirror each image left to right with probability 1/2 (horizontal flips, e.g. for
    Fashion-MNIST, whose classes look the same mirrored; not for digits).

    Args:
        key: PRNG key.
        images: ``(batch, height * width)`` flattened images.
        image_shape: ``(height, width)``.

    Returns:
        The images, each flipped or not, same shape and dtype.
    """
    height, width = image_shape
    batch = images.shape[0]
    square = images.reshape(batch, height, width)
    flip = jax.random.bernoulli(key, 0.5, (batch,))
    return jnp.where(flip[:, None, None], square[:, :, ::-1], square).reshape(batch, height * width)


def random_drop(key: PRNGKeyArray, images: Float[Array, "batch pixels"], rate: float) -> Float[Array, "batch pixels"]:
    """Set each pixel to 0 with probability ``rate``, independently (input dropout; the kept pixels
    are not rescaled: under a latency code a dropped pixel is an input spike that does not come,
    as the input dropout of EventProp's GeNN MNIST set-up).

    Args:
        key: PRNG key.
        images: ``(batch, pixels)`` (any feature vectors; intensities in ``[0, 1]``).
        rate: probability in ``[0, 1)`` that a pixel is dropped.

    Returns:
        The images with the dropped pixels 0, same shape and dtype.
    """
    if not 0 <= rate < 1:
        raise ValueError(f"random_drop: rate must be a probability in [0, 1), got {rate!r}.")
    keep = jax.random.bernoulli(key, 1.0 - rate, images.shape)
    return jnp.where(keep, images, jnp.zeros((), images.dtype))


def augmentation(shift: int = 0, flip: bool = False, drop: float = 0.0):
    """The ``augment(key, images) -> images`` of the training loop for these settings, or ``None``
    when all are off: random shifts of up to ``shift`` pixels (:func:`random_shift`), then random
    horizontal flips (:func:`random_flip`) with ``flip``, then each pixel dropped with probability
    ``drop`` (:func:`random_drop`)."""
    if not 0 <= drop < 1:
        raise ValueError(f"augmentation: drop must be a probability in [0, 1), got {drop!r}.")
    if not shift and not flip and not drop:
        return None

    def augment(key: PRNGKeyArray, images: Float[Array, "batch pixels"]) -> Float[Array, "batch pixels"]:
        # The shifts draw from ``key`` itself (as runs with shifts alone always have), the flips
        # and drops from keys folded out of it.
        if shift:
            images = random_shift(key, images, shift)
        if flip:
            images = random_flip(jax.random.fold_in(key, 1), images)
        return random_drop(jax.random.fold_in(key, 2), images, drop) if drop else images

    return augment
