"""The training methods that :func:`memsnn.training.train` and the CLI know, listed in one place.

A method (:class:`~memsnn.training._method.Method`) says how to build its model from a JSON config,
its loss and prediction functions, which leaves are trained, and its command-line options. To add
one, define its ``Method`` beside its model and add it to :data:`METHODS` below; it is then
available as ``memsnn train --method NAME``.
"""

from __future__ import annotations

import argparse

from . import spiceprop as _sp
from ._method import Method, cli_type
from .conversion import CONVERSION
from .stdp import STDP
from .surrogate import SURROGATE
from .rstdp import RSTDP
from .spikeprop import SPIKEPROP
from .tempotron import TEMPOTRON
from .ttfs import TTFS

__all__ = ["METHODS", "Method", "get_method"]


def get_method(name: str) -> Method:
    """The method ``name``; the error lists the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown training method {name!r}; known methods: {sorted(METHODS)}.") from None


# --------------------------------------------------------------------------------------------
# SPICEprop
# --------------------------------------------------------------------------------------------


def _spiceprop_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--hidden", type=cli_type(int, low=1, integer=True), nargs="*", metavar="N",
                       help="hidden ReLU layer sizes of the dense front end (default: 100, the paper's "
                            "784-100-10 front end; give no number for none)")
    group.add_argument("--output-activation", choices=("relu", "none"),
                       help="activation of the drive units: none (default) or relu (as in the paper's "
                            "table; the units tend to die and training stalls)")
    group.add_argument("--neuron", choices=_sp.NEURONS,
                       help="output neurons: mif (memristive, default) or ideal (linear RC membrane)")
    group.add_argument("--solver", choices=_sp.SOLVERS,
                       help="integrator: spiceprop (the reference Gauss-Seidel Euler, default), euler, "
                            "heun, tsit5, or kvaerno5 (implicit adaptive, slow)")
    group.add_argument("--steps", type=cli_type(int, low=1, integer=True), metavar="T",
                       help="time steps of 10 us per image (default 1000; inputs at 0, 40%%, 80%%)")
    group.add_argument("--checkpoint-every", type=cli_type(int, low=0, integer=True), metavar="K",
                       help="keep one simulation state per K steps for the backward pass and recompute "
                            "the rest (default 10, the fastest on a CPU; larger K needs less memory; 0 "
                            "stores every step's intermediates: most memory, slower)")
    group.add_argument("--drive-scale", type=cli_type(float, low=0, low_open=True), metavar="MA",
                       help=f"impulse (mA) per unit of front-end output (default 1/128 = {_sp.DRIVE_SCALE_MA:g})")
    group.add_argument("--drive-limit", type=cli_type(float, low=0), metavar="MA",
                       help=f"smooth saturation of the impulse in mA, keeping forward Euler stable "
                            f"(default {_sp.DRIVE_LIMIT_MA}; 0 = linear drive)")
    group.add_argument("--train-device", action="store_true", default=None,
                       help="also train the device constants (memristors, capacitance, batteries, "
                            "synapse time constant)")
    group.add_argument("--dtype", choices=("float32", "float64"), help="floating point type (default float32)")
    _sp.add_crossbar_argument(group, "the front end's dense layers")


def _spiceprop_config(args: argparse.Namespace) -> dict:
    given = {
        "hidden": args.hidden,
        "output_activation": args.output_activation,
        "neuron": args.neuron,
        "solver": args.solver,
        "n_steps": args.steps,
        "checkpoint_every": args.checkpoint_every,
        "drive_scale": args.drive_scale,
        "drive_limit": args.drive_limit,
        "train_device": args.train_device,
        "crossbar": args.crossbar,
        "dtype": args.dtype,
    }
    config = {k: v for k, v in given.items() if v is not None}
    # 0 means "off" on the command line, None in the config.
    for key in ("checkpoint_every", "drive_limit"):
        if config.get(key) == 0:
            config[key] = None
    return config


SPICEPROP = Method(
    name="spiceprop",
    summary="exact gradients through the simulated memristive neurons (Zhou et al. 2022)",
    model_config=lambda overrides: _sp.SpicepropConfig.from_dict(overrides).to_dict(),
    build=_sp.build_spiceprop,
    loss=_sp.spiceprop_loss,
    predict=_sp.spiceprop_predict,
    trainable=_sp.spiceprop_trainable,
    add_arguments=_spiceprop_arguments,
    config_from_args=_spiceprop_config,
    defaults={"epochs": 40, "batch_size": 200, "lr": 2e-3, "schedule": "cosine", "weight_decay": 0.0,
              "clip_norm": None, "eval_batch_size": 1000},
)

# Every method memsnn knows, by name: the one list `train`, `evaluate` and the CLI read.
METHODS: dict[str, Method] = {method.name: method for method in (SPICEPROP, SURROGATE, CONVERSION, STDP,
                                                                      TEMPOTRON, TTFS, RSTDP,
                                                                      SPIKEPROP)}
