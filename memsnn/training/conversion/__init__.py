"""ANN-to-SNN conversion: train a ReLU (or QCFS) network, run it as integrate-and-fire neurons.

The ANN is the network of :mod:`memsnn.training.surrogate` with its spiking neurons replaced by an
activation: ``a_l = act(array_l(a_{l-1}))``, where each array is a :class:`memsnn.Dense` or a
:class:`memsnn.arrays.Conv2d` (convolution, bias, then average pooling: pooling is linear, so it is
part of the array and comes before the activation). The last array gives the logits. Optional batch
normalisation sits between an array and its activation and is folded into the array's weights and
bias when the network is converted (:func:`fold_batch_norm`).

Conversion (Rueckauer et al. 2017, "Conversion of continuous-valued deep networks to efficient
event-driven networks"; Diehl et al. 2015) builds a :class:`memsnn.Network` of IF (or LIF) neurons
with the same arrays, simulated by :func:`memsnn.simulate` on a grid of ``dt = 1`` (one step = one
unit of time, capacitance 1). A hidden layer ``l`` gets a scale ``lambda_l``, an estimate of the
largest activation it must represent:

* ``"model"``: the bound from the weights alone (max weight sum, Diehl et al. 2015):
  ``lambda_l = max_j (sum_i max(W_ji, 0) lambda_{l-1} + max(b_j, 0))`` with ``lambda_0 = 1``
  (images in [0, 1]); a convolution sums over its kernel, pooling does not raise the bound;
* ``"max"``: the largest activation of the layer over the calibration images;
* ``"percentile"``: the ``p``-th percentile (``p = 99.9`` by default) of all the layer's
  activations (every neuron, every image, zeros included, as SpikingJelly's ``"99.9%"``);
* ``"qcfs"``: the trained threshold of the QCFS activation (below).

Two equivalent ways of using the scales (``balance``): ``"threshold"`` (threshold balancing) keeps
the trained weights, gives layer ``l`` the threshold ``lambda_l`` and spikes of amplitude
``lambda_l`` (the next array is multiplied by it); ``"weights"`` (weight normalisation) divides the
weights and bias of layer ``l`` by ``lambda_l`` and multiplies the weights by ``lambda_{l-1}``, with
thresholds 1. The IF neuron is linear, so both give the same spikes (up to rounding).

With reset by subtraction the firing rate of an IF neuron driven by a constant per-step input
``z`` is ``r = clip(z / theta, 0, 1)`` up to ``1 / T`` after ``T`` steps (the rate identity), so the
rates of layer ``l`` approximate ``a_l / lambda_l``. The output layer does not fire: it integrates
its input (membrane = sum over steps of ``W s + b``), and the prediction is its largest membrane.
Options: reset ``"subtract"`` or ``"zero"``; initial membrane ``"zero"`` or ``"half"`` (theta / 2,
which makes the expected quantisation error zero, Bu et al. 2022); input ``"analog"`` (the image as a
constant current at every step) or ``"rate"`` (Bernoulli spikes with probability = intensity).

QCFS (Bu et al., ICLR 2022, "Optimal ANN-SNN conversion for high-accuracy and ultra-low-latency
spiking neural networks"): the quantization clip-floor-shift activation

    h(z) = lambda / L * clip(floor(z L / lambda + 1/2), 0, L)

with a trainable threshold ``lambda`` per layer and ``L`` levels (straight-through gradient of the
floor). Its SNN uses ``theta = lambda`` and a membrane starting at ``theta / 2``; ``L`` can be set
to the number of levels of a crossbar.

It is ``memsnn train --method conversion``: the ANN is trained by the shared loop (per-epoch test
accuracy = the ANN's); after the last epoch the network is calibrated on training images, converted
and simulated on the test set at every ``eval_steps`` T; the table goes to ``OUT/conversion.json``
and the converted network to ``OUT/converted.eqx`` (``memsnn evaluate OUT/converted.eqx --steps T``).
In Python::

    from memsnn.training import train
    from memsnn.training.conversion import calibrate, evaluate_snn
    result = train("conversion", "mnist", source="full", epochs=8, model={"activation": "qcfs"})
    model = calibrate(result.model, train_images)
    table = evaluate_snn(model, test_images, test_labels, steps=(4, 8, 16, 32))

The package, by concern: :mod:`~memsnn.training.conversion.qcfs` (the QCFS activation),
:mod:`~memsnn.training.conversion.ann` (the ANN: config, layers, loss, trained leaves, batch norm
folded), :mod:`~memsnn.training.conversion.calibration` (scales and batch-norm statistics),
:mod:`~memsnn.training.conversion.snn` (the converted network, its simulation, predictions and
accuracy at several T) and :mod:`~memsnn.training.conversion.method` (``memsnn train --method
conversion``: options, and after training convert, evaluate and save). Everything public is
re-exported here.
"""

from .ann import (
    ConversionConfig as ConversionConfig,
    ConversionNet as ConversionNet,
    build_conversion as build_conversion,
    conversion_loss as conversion_loss,
    conversion_trainable as conversion_trainable,
    fold_batch_norm as fold_batch_norm,
    with_settings as with_settings,
)
from .calibration import (
    activation_scales as activation_scales,
    calibrate as calibrate,
    conversion_scales as conversion_scales,
    model_based_scales as model_based_scales,
)
from .method import (
    CONVERSION as CONVERSION,
    CONVERTED_NAME as CONVERTED_NAME,
    RESULTS_NAME as RESULTS_NAME,
    convert_and_evaluate as convert_and_evaluate,
)
from .qcfs import qcfs as qcfs
from .snn import (
    conversion_predict as conversion_predict,
    evaluate_snn as evaluate_snn,
    run_snn as run_snn,
    snn_network as snn_network,
)

__all__ = [
    "CONVERSION",
    "CONVERTED_NAME",
    "RESULTS_NAME",
    "ConversionConfig",
    "ConversionNet",
    "activation_scales",
    "build_conversion",
    "calibrate",
    "convert_and_evaluate",
    "conversion_trainable",
    "conversion_loss",
    "conversion_predict",
    "conversion_scales",
    "evaluate_snn",
    "fold_batch_norm",
    "model_based_scales",
    "qcfs",
    "run_snn",
    "snn_network",
    "with_settings",
]
