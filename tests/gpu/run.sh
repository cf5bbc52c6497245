#!/bin/sh
# make test-gpu: runs the GPU suite, then again under compute-sanitizer memcheck and racecheck
# where the tool is installed and runs. Says plainly when there is no GPU or the tool refuses.
#   usage: tests/gpu/run.sh ./build/test_gpu [doctest arguments]
bin=$1
shift
if ! nvidia-smi -L >/dev/null 2>&1; then
    echo "test-gpu: skipped: no GPU found on this machine (nvidia-smi lists none)"
    exit 0
fi
nvidia-smi -L
"$bin" "$@" || exit 1

sanitizer=$(command -v compute-sanitizer 2>/dev/null)
if [ -z "$sanitizer" ] && [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer" ]; then
    sanitizer=${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer
fi
if [ -z "$sanitizer" ]; then
    echo "test-gpu: compute-sanitizer not found: memcheck and racecheck not run"
    exit 0
fi
status=0
log=$(mktemp)
for tool in memcheck racecheck; do
    "$sanitizer" --tool "$tool" --error-exitcode 86 "$bin" "$@" >"$log" 2>&1
    code=$?
    if [ $code -eq 0 ]; then
        echo "test-gpu: compute-sanitizer $tool: no errors"
    elif grep -q "ERROR SUMMARY" "$log"; then
        tail -n 60 "$log"
        echo "test-gpu: compute-sanitizer $tool: FAILED (exit $code)"
        status=1
    else
        # The tool itself did not run (unsupported device or driver, no permission to profile).
        tail -n 20 "$log"
        echo "test-gpu: compute-sanitizer $tool could not run on this machine (exit $code); not counted as a failure"
    fi
done
rm -f "$log"
exit $status
