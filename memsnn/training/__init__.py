"""Training memristive spiking networks: the shared loop, the methods, and the entry points.

* :func:`train` / :func:`evaluate_checkpoint` / :func:`load_trained`: train a method on MNIST or
  Fashion-MNIST, evaluate or reload a checkpoint (what ``memsnn train`` / ``memsnn evaluate`` run).
* :func:`fit`: the method-agnostic loop over a learner (batches, jitted step, evaluation, progress
  bar, JSON log, checksummed atomic checkpoints, resume, NaN guard); :class:`AbstractLearner` is
  the protocol (``init``, ``step``, ``evaluate``) and :class:`GradientLearner` the loss-and-optax
  learner of SPICEprop and surrogate gradients.
* :mod:`~memsnn.training.checkpoint`: the checkpoint format; :mod:`~memsnn.training.sharding`:
  data-parallel training over a mesh of all devices (:func:`data_mesh`, :func:`replicate`;
  :func:`use_cpu_cores` and :func:`initialize_distributed`, called by entry points only).
* :mod:`~memsnn.training.spiceprop`, :mod:`~memsnn.training.surrogate`: the methods, listed in
  :data:`METHODS`.
* :mod:`~memsnn.training.ensemble`: several seeds in one run (``fit(..., seed=[0, 1, 2])``,
  ``train(..., seeds=[0, 1, 2])``, ``memsnn train --seeds 0 1 2``), vmapped over a member axis.
"""

from . import ensemble as ensemble, spiceprop as spiceprop, surrogate as surrogate
from .checkpoint import (
    CheckpointError as CheckpointError,
    load_checkpoint as load_checkpoint,
    read_checkpoint_header as read_checkpoint_header,
    save_checkpoint as save_checkpoint,
)
from .sharding import (
    data_mesh as data_mesh,
    initialize_distributed as initialize_distributed,
    replicate as replicate,
    use_cpu_cores as use_cpu_cores,
)
from .learner import (
    AbstractFitLearner as AbstractFitLearner,
    AbstractLearner as AbstractLearner,
    EnsembleLearner as EnsembleLearner,
    GradientLearner as GradientLearner,
    apply_updates as apply_updates,
    make_optimizer as make_optimizer,
    weight_gradients as weight_gradients,
    weight_view as weight_view,
)
from .loop import (
    CHECKPOINT_NAME as CHECKPOINT_NAME,
    METRICS_NAME as METRICS_NAME,
    FitResult as FitResult,
    NoCheckpointError as NoCheckpointError,
    OutOfMemory as OutOfMemory,
    RunExistsError as RunExistsError,
    RunLockedError as RunLockedError,
    StepTooLarge as StepTooLarge,
    TrainingDiverged as TrainingDiverged,
    TrainingInterrupted as TrainingInterrupted,
    evaluate as evaluate,
    fit as fit,
    make_predict as make_predict,
    make_step as make_step,
    peak_memory_mb as peak_memory_mb,
)
from ._method import cli_type as cli_type
from .methods import METHODS as METHODS, Method as Method, get_method as get_method
from .run import evaluate_checkpoint as evaluate_checkpoint, load_trained as load_trained, train as train
from .spiceprop import SpicepropConfig as SpicepropConfig, SpicepropNet as SpicepropNet
