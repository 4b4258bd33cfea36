"""Device-network co-design: device parameters in their physical ranges, sensitivity maps,
Monte-Carlo over device variation, vmapped sweeps and the accuracy-energy Pareto front
(docs/energy.md).
"""

from .bounds import (
    DEVICE_BOUNDS as DEVICE_BOUNDS,
    Bound as Bound,
    bounded_leaves as bounded_leaves,
    constrain as constrain,
    unconstrain as unconstrain,
    zero_coordinates as zero_coordinates,
)
