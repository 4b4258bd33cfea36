"""Training memristive spiking networks: the shared loop, the methods, and the entry points.

* :func:`train` / :func:`evaluate_checkpoint` / :func:`load_trained`: train a registered method on
  MNIST or Fashion-MNIST, evaluate or reload a checkpoint (what ``memsnn train`` / ``memsnn
  evaluate`` run).
* :func:`fit`: the method-agnostic loop (batches, jitted step, evaluation, progress bar, JSON log,
  atomic checkpoints, resume, NaN guard).
* :mod:`~memsnn.training.spiceprop`: SPICEprop, exact gradients through the simulated MIF neurons.
* :data:`METHODS` / :func:`register_method`: the registry the CLI reads.
"""

from . import spiceprop as spiceprop
from .loop import (
    CHECKPOINT_NAME as CHECKPOINT_NAME,
    METRICS_NAME as METRICS_NAME,
    FitResult as FitResult,
    TrainingDiverged as TrainingDiverged,
    evaluate as evaluate,
    fit as fit,
    load_checkpoint as load_checkpoint,
    make_optimizer as make_optimizer,
    make_predict as make_predict,
    make_train_step as make_train_step,
    peak_memory_mb as peak_memory_mb,
    read_checkpoint_header as read_checkpoint_header,
    replicate as replicate,
    save_checkpoint as save_checkpoint,
    use_cpu_cores as use_cpu_cores,
)
from .methods import METHODS as METHODS, Method as Method, get_method as get_method, register_method as register_method
from .run import evaluate_checkpoint as evaluate_checkpoint, load_trained as load_trained, train as train
from .spiceprop import SpicepropConfig as SpicepropConfig, SpicepropNet as SpicepropNet
from . import surrogate as surrogate  # registers `--method surrogate`
