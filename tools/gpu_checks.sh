#!/bin/sh
# Everything a GPU machine should run, in one pass, each output kept under OUT_DIR:
#   build (with nvcc, -Werror, sm_80 + sm_90), the GPU suite and compute-sanitizer (make test-gpu),
#   ./bench on the CUDA backend with our kernels and with cuBLASLt, ./bench kernels, and a short
#   CPU run of the same bench for the host beside it.
# The machine may lack the Debian -dev headers the build uses: `make headers` on a machine that
# has them copies them into .deps/include (ignored by git); this script passes that folder on.
#   usage: tools/gpu_checks.sh [OUT_DIR] [TIMEOUT_SECONDS_PER_STEP]
out=${1:-build/gpu-checks}
limit=${2:-300}
mkdir -p "$out"
includes=
[ -d .deps/include ] && includes=-I.deps/include
jobs=$(nproc 2>/dev/null || echo 4)

step() {  # step NAME COMMAND...: runs it under the time limit, output in OUT_DIR/NAME.txt
    name=$1
    shift
    start=$(date +%s)
    timeout "$limit" "$@" >"$out/$name.txt" 2>&1
    code=$?
    echo "$name: exit $code in $(($(date +%s) - start)) s ($out/$name.txt)" | tee -a "$out/summary.txt"
    return $code
}

: >"$out/summary.txt"
{ nvidia-smi; nvcc --version; } >"$out/machine.txt" 2>&1
step build make -j"$jobs" EXTRA_INCLUDES="$includes" all build/test_gpu || { tail -n 40 "$out/build.txt"; exit 1; }
step test-gpu make test-gpu EXTRA_INCLUDES="$includes"
step bench-cuda ./bench --backend cuda --json "$out/bench-cuda.json" --markdown "$out/bench-cuda.md" \
    --plot "$out/bench-cuda.svg"
step bench-cuda-cublaslt ./bench --backend cuda --gemm cublaslt --json "$out/bench-cuda-cublaslt.json" \
    --markdown "$out/bench-cuda-cublaslt.md"
step kernels ./bench kernels
step bench-cpu ./bench --backend cpu --modes fp16 --iters 1 --json "$out/bench-cpu.json"
cat "$out/summary.txt"
