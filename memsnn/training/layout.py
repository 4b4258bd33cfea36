"""What the network builders of the training methods share: the layout of a stack of layers, the
arrays it makes, the crossbar option, and casting a model's floats.

:class:`Layout` is the one description of layer sizes that the surrogate-gradient network
(:class:`~memsnn.training.surrogate.SurrogateConfig`) and the converted network
(:class:`~memsnn.training.conversion.ConversionConfig`) both hold (as fields of their own configs,
so that checkpoints keep one flat JSON config); :func:`layout_arrays` makes its synapse arrays,
ideal or memristive (``crossbar``, the one name of the crossbar option in every method).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import warnings

import equinox as eqx
import jax
from jaxtyping import PRNGKeyArray

from ..arrays import Conv2d, Dense
from ..crossbar import PRESETS, crossbar_from_dense

__all__ = ["Layout", "add_crossbar_argument", "cast_floats", "check_crossbar_preset", "layout_arrays",
           "crossbar_from_args", "migrated_crossbar_keys"]


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


def add_crossbar_argument(group, layers: str, training: str = "train through them (hardware-aware training)"
                          ) -> None:
    """The ``--crossbar PRESET`` option of every method (memristive crossbars instead of ideal weights)."""
    group.add_argument("--crossbar", choices=sorted(PRESETS), metavar="PRESET",
                       help=f"make {layers} memristive crossbars with this preset's non-idealities "
                            f"({', '.join(sorted(PRESETS))}) and {training}; default: ideal weights")


#: STDP's and R-STDP's crossbar settings before the one ``crossbar`` option (memsnn before issue 22):
#: ``array`` ("ideal" or "crossbar") and ``crossbar_preset`` (default "neurosim").
OLD_CROSSBAR_KEYS = ("array", "crossbar_preset")


def migrated_crossbar_keys(settings: dict, owner: str) -> dict:
    """``settings`` with the old crossbar keys (``array``, ``crossbar_preset``) mapped onto ``crossbar``.

    ``array="crossbar"`` becomes ``crossbar=crossbar_preset`` (``"neurosim"`` when no preset is
    given, the old default), ``array="ideal"`` ``crossbar=None``. The configs of checkpoints written
    before the one option are read through this; settings without the old keys come back unchanged.

    Raises:
        ValueError: an unknown ``array``; a ``crossbar_preset`` with ``array="ideal"`` (it would be
            ignored); old keys beside a different ``crossbar``.
    """
    if not any(key in settings for key in OLD_CROSSBAR_KEYS):
        return settings
    settings = dict(settings)
    array = settings.pop("array", None)
    preset = settings.pop("crossbar_preset", None)
    if array not in (None, "ideal", "crossbar"):
        raise ValueError(f"{owner}: array must be one of ('ideal', 'crossbar'), got {array!r}; the array is now "
                         "chosen by crossbar=None (ideal weights) or crossbar=PRESET (--crossbar PRESET).")
    if array == "crossbar":
        crossbar = preset if preset is not None else "neurosim"
    elif preset is not None and preset != "neurosim":
        raise ValueError(f"{owner}: crossbar_preset={preset!r} applies to array='crossbar'; with array='ideal' no "
                         f"crossbar is used. Give crossbar={preset!r} (--crossbar {preset}) to learn on the preset's "
                         "devices, or leave crossbar_preset out.")
    else:
        crossbar = None
    if "crossbar" in settings and settings["crossbar"] != crossbar and array is not None:
        raise ValueError(f"{owner}: crossbar={settings['crossbar']!r} and the old array={array!r}, "
                         f"crossbar_preset={preset!r} disagree; give crossbar alone (--crossbar PRESET).")
    settings.setdefault("crossbar", crossbar)
    if array is not None:
        settings["crossbar"] = crossbar
    return settings


def add_old_crossbar_aliases(group) -> None:
    """STDP's and R-STDP's former ``--array crossbar --crossbar-preset P``, kept as deprecated aliases
    of ``--crossbar P`` (:func:`crossbar_from_args` warns and maps them)."""
    group.add_argument("--array", choices=("ideal", "crossbar"),
                       help="deprecated: --array crossbar is --crossbar neurosim, --array ideal the default")
    group.add_argument("--crossbar-preset", metavar="NAME",
                       help="deprecated: --array crossbar --crossbar-preset NAME is --crossbar NAME")


def crossbar_from_args(args: argparse.Namespace, owner: str) -> dict:
    """The crossbar setting of the command line: ``{"crossbar": PRESET}``, ``{}`` if none was given.

    The deprecated ``--array`` / ``--crossbar-preset`` are mapped onto ``--crossbar`` with a
    ``FutureWarning`` that names the new spelling (:func:`migrated_crossbar_keys`; the errors of
    an inconsistent old spelling are its errors).
    """
    old = {key: getattr(args, key, None) for key in OLD_CROSSBAR_KEYS}
    old = {key: value for key, value in old.items() if value is not None}
    given = {} if getattr(args, "crossbar", None) is None else {"crossbar": args.crossbar}
    if not old:
        return given
    migrated = migrated_crossbar_keys({**given, **old}, owner)
    spelled = " ".join(f"--{key.replace('_', '-')} {value}" for key, value in old.items())
    new = "no crossbar option" if migrated["crossbar"] is None else f"--crossbar {migrated['crossbar']}"
    warnings.warn(f"{owner}: {spelled} is deprecated; it is {new} (the one crossbar option of every method).",
                  FutureWarning, stacklevel=2)
    return {"crossbar": migrated["crossbar"]} if migrated["crossbar"] is not None else {}

