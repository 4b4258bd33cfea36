"""What the network builders of the training methods share: the layout of a stack of layers, the
arrays it makes, the crossbar option, and casting a model's floats.

:class:`Layout` is the one description of layer sizes that the surrogate-gradient network
(:class:`~memsnn.training.surrogate.SurrogateConfig`) and the converted network
(:class:`~memsnn.training.conversion.ConversionConfig`) both hold (as fields of their own configs,
so that checkpoints keep one flat JSON config); :func:`layout_arrays` makes its synapse arrays,
ideal or memristive (``crossbar``, the one name of the crossbar option in every method).
"""

from __future__ import annotations

import dataclasses
import math

import equinox as eqx
import jax
from jaxtyping import PRNGKeyArray

from ..arrays import Conv2d, Dense
from ..crossbar import PRESETS, crossbar_from_dense

__all__ = ["Layout", "add_crossbar_argument", "cast_floats", "check_crossbar_preset", "layout_arrays"]


@dataclasses.dataclass(frozen=True)
class Layout:
    """The layers of a dense or convolutional classifier.

    Attributes:
        architecture: ``"dense"`` (``hidden`` fully connected layers) or ``"conv"``
            (``conv_channels`` convolutions of ``kernel_size``, valid padding, each followed by
            ``pool x pool`` average pooling, then a dense readout).
        image_shape: ``(C, H, W)`` of the input images.
        hidden, conv_channels, kernel_size, pool: see ``architecture``.
        n_classes: output neurons.
    """

    architecture: str
    image_shape: tuple[int, int, int]
    hidden: tuple[int, ...]
    conv_channels: tuple[int, ...]
    kernel_size: int
    pool: int
    n_classes: int

    @classmethod
    def of(cls, config) -> "Layout":
        """The layout fields of a method's config."""
        return cls(**{field.name: getattr(config, field.name) for field in dataclasses.fields(cls)})

    @property
    def n_inputs(self) -> int:
        return math.prod(self.image_shape)


def layout_arrays(layout: Layout, key: PRNGKeyArray, *, crossbar: str | None = None,
                  crossbar_w_max: float | None = None) -> tuple:
    """The synapse arrays of ``layout``, initialised PyTorch-style from ``key`` (dense layers with
    bias); with ``crossbar`` (a :func:`memsnn.crossbar.preset` name, dense layouts only) each dense
    layer a crossbar of that preset (:func:`~memsnn.crossbar.crossbar_from_dense`, weights up to
    ``crossbar_w_max`` on the full conductance range)."""
    if layout.architecture == "dense":
        sizes = (layout.n_inputs, *layout.hidden, layout.n_classes)
        keys = jax.random.split(key, len(sizes) - 1)
        dense = tuple(Dense.uniform(a, b, key=k, use_bias=True) for a, b, k in zip(sizes[:-1], sizes[1:], keys))
        if crossbar is None:
            return dense
        return tuple(crossbar_from_dense(layer, crossbar, w_max=crossbar_w_max) for layer in dense)
    keys = jax.random.split(key, len(layout.conv_channels) + 1)
    arrays, shape = [], layout.image_shape
    for channels, k in zip(layout.conv_channels, keys):
        conv = Conv2d.uniform(shape, channels, layout.kernel_size, key=k, pool=layout.pool)
        arrays.append(conv)
        shape = conv.out_shape
    arrays.append(Dense.uniform(arrays[-1].n_outputs, layout.n_classes, key=keys[-1], use_bias=True))
    return tuple(arrays)


def cast_floats(tree, dtype):
    """``tree`` with every floating-point array cast to ``dtype`` (other leaves unchanged)."""
    return jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, tree)


def check_crossbar_preset(owner: str, name) -> None:
    """Raise a ``ValueError`` naming the known presets unless ``name`` is one."""
    if name not in PRESETS:
        raise ValueError(f"{owner}: crossbar must be None (ideal weights) or one of the crossbar presets "
                         f"{sorted(PRESETS)}, got {name!r}.")


def add_crossbar_argument(group, layers: str) -> None:
    """The ``--crossbar PRESET`` option (hardware-aware training on memristive crossbars)."""
    group.add_argument("--crossbar", choices=sorted(PRESETS), metavar="PRESET",
                       help=f"make {layers} memristive crossbars with this preset's non-idealities "
                            f"({', '.join(sorted(PRESETS))}) and train through them (hardware-aware "
                            "training); default: ideal weights")
