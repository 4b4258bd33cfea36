#!/usr/bin/env bash
# The GPU rows of issue #15, as one prepared run for a machine with a GPU (the benchmark tables
# in README.md name this script for every row marked "GPU").
#
#   bash benchmarks/gpu_rows.sh RESULTS_DIR [DATA_DIR]
#
# Every measurement writes its JSON into RESULTS_DIR (the benchmarks' own result names, with the
# platform in them) and prints its table:
#   1. the SPICEprop and LIF training steps on one GPU (scaling.py, --platform gpu): ms per step,
#      compared with the CPU rows in results/scaling_cpu_idle*.json;
#   2. K seeds trained in one run by vmap (ensemble.py), K = 1 2 4 8 16: the per-model step time
#      that a kernel-launch-bound GPU time loop is expected to gain from;
#   3. one SPICEprop MNIST epoch (spiceprop_train.py --epochs 2; the second epoch's wall time is
#      the figure, the first includes compilation), against the 2-core CPU epoch in
#      results/spiceprop_mnist_epoch_timing.json. Needs MNIST's IDX files in DATA_DIR (default
#      $MEMSNN_DATA_DIR): the device machine sees only the repository, so copy ../shared/data/mnist
#      into an ignored folder and carry it.
#
# It needs jax with CUDA, equinox, diffrax, optax and tqdm (the device image has them); memsnn
# runs from the checkout (PYTHONPATH). With MEMSNN_GPU_QUICK=1 every stage runs a few steps only,
# which is how the script is checked on a CPU (JAX_PLATFORMS=cpu).
set -uo pipefail

RESULTS=${1:?usage: bash benchmarks/gpu_rows.sh RESULTS_DIR [DATA_DIR]}
DATA=${2:-${MEMSNN_DATA_DIR:-}}
HERE=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$RESULTS"
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
PLATFORM=$("$PY" -c "import jax; print(jax.devices()[0].platform)") || exit 1
QUICK=${MEMSNN_GPU_QUICK:-0}
echo "memsnn GPU rows on: $("$PY" -c "import jax; print(jax.devices())")  (quick=$QUICK)"
status=0

run() {  # one stage; a failing stage is reported and the others still run
    echo "=== $1"
    shift
    if ! "$@"; then
        echo "!!! stage failed: $*"
        status=1
    fi
}

if [ "$QUICK" = 1 ]; then
    run "step times" "$PY" "$HERE/benchmarks/scaling.py" --platform "$PLATFORM" --models surrogate --devices 1 \
        --repeats 1 --out "$RESULTS/scaling_$PLATFORM.json"
    run "ensembles" "$PY" "$HERE/benchmarks/ensemble.py" --models surrogate --members 1 2 --rounds 1 --repeats 1 \
        --out "ensemble_${PLATFORM}_quick.json"
else
    run "step times" "$PY" "$HERE/benchmarks/scaling.py" --platform "$PLATFORM" --models spiceprop surrogate \
        --devices 1 --repeats 20 --out "$RESULTS/scaling_$PLATFORM.json"
    run "ensembles" "$PY" "$HERE/benchmarks/ensemble.py" --members 1 2 4 8 16 --out "ensemble_$PLATFORM.json"
fi
cp "$HERE/benchmarks/results/ensemble_${PLATFORM}"*.json "$RESULTS/" 2>/dev/null

if [ -n "$DATA" ] && [ "$QUICK" != 1 ]; then
    run "SPICEprop MNIST epoch" env MEMSNN_DATA_DIR="$DATA" "$PY" "$HERE/benchmarks/spiceprop_train.py" \
        --dataset mnist --epochs 2 --no-progress --tag "_$PLATFORM" --run-dir "$RESULTS/run-spiceprop" \
        --out "$RESULTS/spiceprop_mnist_$PLATFORM.json"
elif [ "$QUICK" != 1 ]; then
    echo "=== SPICEprop MNIST epoch: skipped (no DATA_DIR and no MEMSNN_DATA_DIR)"
fi
exit $status
