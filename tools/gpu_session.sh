#!/usr/bin/env bash
# Every check that needs a CUDA GPU, in one call of a lent GPU machine (never run yet: its time is
# bounded by the limits below, 460 s in all, which leaves device time to rerun it). Ask for
# kind="nvidia-h200": the authors' GPU figures it is compared with come from one H200. Run from
# the repository root, where python3 has torch with CUDA, numpy, matplotlib, tqdm, pytest and
# hypothesis (the lent machines' image has them all; nothing is installed here):
#
#   bash tools/gpu_session.sh                    # writes its results under $OUT (default _build/gpu)
#
# Give the call timeout_s=600: each check has its own limit below, in the order of what matters
# most, so a slow check costs only itself. (The authors' own single-head table took 27 s on an
# H200 when an earlier session ran it; bench_gpu.py times their protocol beside the book's.)
#
# What comes back: log.txt (everything printed, with the GPU model and torch version),
# draws_cuda.json (the table replaying the authors' GPU draws) and deep_cuda.json (the deep
# variant's table with the authors' GPU draws). Record the figures in benchmarks/README.md,
# chapters 8 and 11 and the notes, with the GPU model and torch version.
set -u
OUT=${OUT:-_build/gpu}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
PY=${PY:-python3}
LOG=$OUT/log.txt
: >"$LOG"

step() { # step SECONDS TITLE COMMAND...: run one check with a time limit, timed, into the log
    local limit=$1 title=$2
    shift 2
    echo "== $title ($(date -u +%T), limit ${limit}s): $*" | tee -a "$LOG"
    local start=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
    echo "== $title: exit ${PIPESTATUS[0]} after $((SECONDS - start)) s" | tee -a "$LOG"
}

step 30 "the machine" bash -c "nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; nproc;
    $PY -c 'import sys, torch; print(sys.version.split()[0], torch.__version__, torch.version.cuda, torch.cuda.get_device_name())'"
# The CUDA-only tests: the captured batched table against the CPU per-seed numbers, the GPU
# program against the CPU program, the authors' CUDA draws and their GPU table.
step 100 "CUDA tests" $PY -m pytest -q -p no:cacheprovider -k "cuda or gpu" \
    tests/test_batched.py tests/test_tasks.py tests/test_paper_table.py tests/test_deep.py
# Side by side in one process: the authors' protocol as plain autograd, the batched program, the CPU engine.
step 150 "bench_gpu" $PY benchmarks/bench_gpu.py
# The authors' GPU table (final losses within 1e-3, EM-like steps within 2 of 420, 228, 385, 396, 536).
step 60 "--draws cuda" $PY -m attnlib reproduce sticky-chain --draws cuda --device cuda --quiet \
    --json "$OUT/draws_cuda.json"
# The deep table with the authors' GPU draws (data and masks from the CUDA generator, the masks drawn
# on the GPU): to set against their H200 table, held-out loss 4.8307 +- 0.0425, entropy 0.5635 +-
# 0.0161, accuracy 0.1847 +- 0.0032 (dropout on), 65 s.
step 120 "deep table, --draws cuda" $PY -m attnlib reproduce deep-transformer --device cuda --draws cuda --quiet \
    --json "$OUT/deep_cuda.json"
