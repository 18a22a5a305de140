#!/usr/bin/env bash
# One short GPU session: the gpu-marked tests and the GPU benchmarks of issues 9, 10 and 11, in one call.
#
#   bash benchmarks/gpu_session.sh [quick|full]      # logs and tables go to $OUT (default: ./gpu_session_out)
#   STEPS="test_gpu bench_gpu" bash benchmarks/gpu_session.sh   # only some steps
#   BENCH_GPU_ARGS=--no-compile ISNET_ARGS="--skip loader" ISNET_LIMIT=300 ...  # extra flags; IS-Net step's limit
#
# The authors' code used as speed anchors is never part of this repository: put scratch copies under
# $ANCHORS (default ./.gpu_anchors, ignored by git) as
#   $ANCHORS/abl_official/{__init__.py,abl.py,label_smooth.py,lsr_cpp.py}  wangchi95/active-boundary-loss abl.py,
#        CoinCheung/pytorch-loss label_smooth.py and an empty lsr_cpp.py stub (its CUDA extension is not used)
#   $ANCHORS/lovasz/lovasz_losses.py                                       bermanmaxim/LovaszSoftmax pytorch/
#   $ANCHORS/DIS/IS-Net/                                                   xuebinqin/DIS IS-Net/
# A missing anchor only leaves its rows out. `quick` skips the torch.compile rows of the IS-Net benchmark
# (its compilation takes minutes); `full` adds them. Each step has its own time limit, so one hung step
# cannot take the session; the exit status is the number of failed steps.
set -u
MODE="${1:-quick}"
OUT="${OUT:-gpu_session_out}"
ANCHORS="${ANCHORS:-.gpu_anchors}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
failed=0
STEPS="${STEPS:-test_gpu bench_gpu profile_abl can_latency isnet}"  # a subset runs only those steps
step() {  # step NAME SECONDS COMMAND...: run with a limit, log to $OUT/NAME.log, count failures
    local name="$1" limit="$2"
    shift 2
    case " $STEPS " in *" ${name%%_scratch} "*) ;; *) echo "=== $name: not in STEPS, skipped"; return ;; esac
    local t0=$SECONDS
    echo "=== $name (limit ${limit}s)"
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    echo "=== $name: exit $rc after $((SECONDS - t0)) s"
    tail -n 25 "$OUT/$name.log"
    [ "$rc" -eq 0 ] || failed=$((failed + 1))
}

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    "$PY" -c "import torch, numba, numpy; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'numba', numba.__version__, 'numpy', numpy.__version__)"
    git log -1 --format='commit %h %s' 2>/dev/null || true
} >"$OUT/env.log" 2>&1
cat "$OUT/env.log"

# issue 11 item 17 (and 15): every loss on CUDA, no host sync, CPU value, bf16, inductor; parallel compiles
xdist=()
"$PY" -c "import xdist" 2>/dev/null && xdist=(-n 8)
step test_gpu 150 "$PY" -m pytest -q -m gpu tests/segloss/test_gpu.py "${xdist[@]}" -p no:cacheprovider -o addopts="-ra"

# issue 11 items 16-17: every loss vs cross-entropy, ABL / Lovasz vs the authors' code
step bench_gpu 210 "$PY" benchmarks/bench_gpu.py --abl-repo "$ANCHORS/abl_official" \
    --lovasz-repo "$ANCHORS/lovasz" ${BENCH_GPU_ARGS:-}
if [ -f "$ANCHORS/prof_abl.py" ]; then  # scratch profiling, when present
    step profile_abl_scratch 60 "$PY" "$ANCHORS/prof_abl.py"
fi
if [ -f benchmarks/profile_abl_gpu.py ]; then
    step profile_abl 90 "$PY" benchmarks/profile_abl_gpu.py --abl-repo "$ANCHORS/abl_official"
fi

# issue 10: CAN per-click latency at 480x640
step can_latency 45 "$PY" benchmarks/bench_can_latency.py --device cuda --repeats 30

# issue 9: IS-Net training step and inference vs the authors' loop (1024², batch 8)
isnet_args=(--authors-repo "$ANCHORS/DIS" --iters 8 --warmup 3 --json "$OUT/isnet.json" ${ISNET_ARGS:-})
if [ "$MODE" = full ]; then
    step isnet "${ISNET_LIMIT:-420}" "$PY" benchmarks/bench_isnet.py "${isnet_args[@]}" --compile
else
    step isnet 200 "$PY" benchmarks/bench_isnet.py "${isnet_args[@]}"
fi
echo "failed steps: $failed"
exit "$failed"
