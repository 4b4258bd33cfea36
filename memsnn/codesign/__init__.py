"""Device-network co-design: device parameters in their physical ranges, sensitivity maps,
Monte-Carlo over device variation and vmapped sweeps (both sharded over all devices), and the
accuracy-energy Pareto front (docs/energy.md).
"""

from .bounds import (
    DEVICE_BOUNDS as DEVICE_BOUNDS,
    Bound as Bound,
    bounded_leaves as bounded_leaves,
    constrain as constrain,
    unconstrain as unconstrain,
    zero_coordinates as zero_coordinates,
)
from .study import (
    codesign_loss as codesign_loss,
    device_parameters as device_parameters,
    get_parameter as get_parameter,
    monte_carlo as monte_carlo,
    pareto_front as pareto_front,
    readout_metrics as readout_metrics,
    sensitivity as sensitivity,
    set_parameters as set_parameters,
    sweep as sweep,
)
