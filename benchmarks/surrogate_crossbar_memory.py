"""Peak memory and step time of one hardware-aware surrogate training step on crossbars (issue 26).

    python benchmarks/surrogate_crossbar_memory.py PRESET BATCH [STEPS]   # PRESET: realistic, ideal, none

The surrogate method's defaults (784-1000-10 LIF, 25 steps) with ``crossbar=PRESET`` (``none``: no
crossbar), one CPU device, the first BATCH bundled MNIST training images. Prints one JSON line:
the first step's time (compilation included), the later steps' times (s), the loss, the peak RSS
(MB) and the load average. Results: benchmarks/results/surrogate_crossbar_memory.json.
"""

import json
import os
import resource
import sys
import time

import jax
import numpy as np

from memsnn.data import load_dataset
from memsnn.training import GradientLearner, get_method, make_optimizer
from memsnn.training.loop import make_step
from memsnn.training.sharding import data_mesh, replicate

preset, batch = sys.argv[1], int(sys.argv[2])
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
spec = get_method("surrogate")
net = spec.build(spec.complete_config({} if preset == "none" else {"crossbar": preset}), key=jax.random.key(0))
optimizer = make_optimizer(5e-4, total_steps=100, schedule="cosine", weight_decay=0.0, clip_norm=None)
learner = GradientLearner(spec.loss, spec.predict, optimizer, spec.trainable(net))
mesh = data_mesh()
step = make_step(learner, net, mesh)
net, state = replicate((net, learner.init(net)), mesh)
images, labels = load_dataset("mnist", "train", source="bundled")
images, labels = np.asarray(images[:batch]), np.asarray(labels[:batch])
times = []
for k in range(steps):
    start = time.perf_counter()
    net, state, metrics = step(net, state, images, labels, jax.random.key(k))
    jax.block_until_ready(metrics)
    times.append(time.perf_counter() - start)
print(json.dumps({"preset": preset, "batch": batch, "devices": len(jax.devices()), "first_step_s": times[0],
                  "step_s": times[1:], "loss": [float(np.asarray(metrics["loss"]))],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "load": os.getloadavg()}))
