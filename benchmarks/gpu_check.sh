#!/usr/bin/env bash
# The GPU check of issue 14, in one command of at most 8 minutes.
#
#   benchmarks/gpu_check.sh [--out DIR] [--dry-run]
#
# On a CUDA machine, from any directory, with the project's .venv (or $PYTHON), it runs
#   1. tests     the CUDA-only tests (pytest -m cuda)
#   2. step-fp32 train_step.py: ResNet-50, 224 px crops of 256 px, B = 64, 3 bands, on
#                the GPU: GASSL, SeCo, TorchGeo's MoCo-v2 and a plain supervised step
#   3. step-bf16 the same with --precision bf16-mixed --channels-last
#   4. augment   augmentation.py --device cuda
#   5. loader    loader.py --sizes 224 --workers 16 (data-loader pairs/s against the
#                model's rate)
# each under its own time limit (below; 465 s together), and writes every part's JSON,
# plot and log into one folder (default: benchmarks/results/gpu-<UTC time>), with
# summary.txt listing each part's status and seconds. A part that fails or runs out of
# time is reported and the others still run; the exit status is 1 if any part failed.
# Without CUDA it stops at once with a message (exit status 2).
#
# --dry-run runs every part on the CPU with tiny sizes (about a minute on an idle
# 2-core machine; each limit is 4 times longer), to check the script itself: the tests
# are only collected and loader.py is only asked for its --help. The figures of a dry
# run mean nothing.
set -uo pipefail

usage() {
    sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
OUT=''
DRY_RUN=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --out)
            [[ $# -ge 2 ]] || { echo 'gpu_check.sh: --out needs a folder' >&2; exit 2; }
            OUT=$2
            shift 2
            ;;
        --dry-run)
            DRY_RUN=1
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            echo "gpu_check.sh: unknown option '$1' (allowed: --out DIR, --dry-run, --help)" >&2
            exit 2
            ;;
    esac
done

if [[ ! -x $PYTHON ]]; then
    echo "gpu_check.sh: no Python at $PYTHON; set PYTHON=/path/to/python" >&2
    exit 2
fi
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}

if [[ $DRY_RUN -eq 0 ]]; then
    if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
        echo 'gpu_check.sh: CUDA is not available (torch.cuda.is_available() is False):' \
            'this check needs an NVIDIA GPU. Use --dry-run to check the script on the CPU.' >&2
        exit 2
    fi
    if [[ ! -f $REPO/benchmarks/loader.py ]]; then
        echo "gpu_check.sh: $REPO/benchmarks/loader.py is missing (the loader part needs it)" >&2
        exit 2
    fi
fi

if [[ -z $OUT ]]; then
    if [[ $DRY_RUN -eq 1 ]]; then
        OUT=$(mktemp -d -t gpu-check-dry-run-XXXXXX)
    else
        OUT=$REPO/benchmarks/results/gpu-$(date -u +%Y%m%dT%H%M%SZ)
    fi
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
FAILED=0

# part NAME SECONDS COMMAND...: run COMMAND with a time limit, log to NAME.log.
part() {
    local name=$1 budget=$(($2 * SCALE))
    shift 2
    local start=$SECONDS status
    echo "== $name (limit ${budget} s): $*"
    timeout --kill-after=10 "$budget" "$@" >"$OUT/$name.log" 2>&1
    status=$?
    local took=$((SECONDS - start))
    local verdict=ok
    if [[ $status -eq 124 || $status -eq 137 ]]; then
        verdict="TIMED OUT after $budget s"
        FAILED=1
    elif [[ $status -ne 0 ]]; then
        verdict="FAILED (exit status $status)"
        FAILED=1
    fi
    tail -n 3 "$OUT/$name.log"
    echo "$name: $verdict, $took s (log: $name.log)" | tee -a "$SUMMARY"
}

cd "$REPO" || exit 2
"$PYTHON" - >"$OUT/machine.json" <<'EOF'
import json, platform, torch
device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu'
print(json.dumps({'platform': platform.platform(), 'torch': torch.__version__,
                  'cuda': torch.version.cuda, 'device': device}, indent=2))
EOF

if [[ $DRY_RUN -eq 1 ]]; then
    SCALE=4
    DEVICE=cpu
    STEP=(--quick --model resnet18 --batch-size 2 --side 32 --size 24 --queue 8
        --repeats 1 --warmup 0 --breakdown-repeats 0 --device cpu)
    TESTS=(--collect-only -q -m cuda)
else
    SCALE=1
    DEVICE=cuda
    STEP=(--model resnet50 --batch-size 64 --bands 3 --side 256 --size 224
        --queue 65536 --repeats 10 --warmup 3 --breakdown-repeats 2 --device cuda)
    TESTS=(-q -m cuda -rs)
fi

part tests 75 "$PYTHON" -m pytest "$REPO/tests" -p no:cacheprovider "${TESTS[@]}"
part step-fp32 110 "$PYTHON" benchmarks/train_step.py "${STEP[@]}" --out "$OUT/train_step_fp32"
part step-bf16 100 "$PYTHON" benchmarks/train_step.py "${STEP[@]}" \
    --precision bf16-mixed --channels-last --out "$OUT/train_step_bf16_channels_last"
if [[ $DRY_RUN -eq 1 ]]; then
    part augment 60 "$PYTHON" benchmarks/augmentation.py --quick --device cpu \
        --out "$OUT/augmentation"
    if [[ -f benchmarks/loader.py ]]; then
        part loader 30 "$PYTHON" benchmarks/loader.py --help
    else
        echo 'loader: benchmarks/loader.py is MISSING (a real run stops on this)' | tee -a "$SUMMARY"
    fi
else
    part augment 60 "$PYTHON" benchmarks/augmentation.py --device "$DEVICE" \
        --out "$OUT/augmentation"
    part loader 120 "$PYTHON" benchmarks/loader.py --sizes 224 --workers 16 \
        --out "$OUT/loader"
fi

echo
echo "Results in $OUT:"
cat "$SUMMARY"
exit $FAILED
