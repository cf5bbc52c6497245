// The GPU half of `./bench kernels` (benchmarks/bench_kernels_gpu.cu), linked in when the
// bench is built with nvcc around (FASTVLM_BENCH_GPU).
#pragma once

namespace bench {

// Times the CUDA kernels on the model's GEMM, convolution and attention shapes in TFLOP/s
// (cuBLASLt fp16 beside the matmuls), then the decode kernels, and cuBLASLt where it has an
// equivalent, against the device bandwidth measured on the spot; prints the tables. Prints a skip line and returns 0 when no
// device is present; returns non-zero on a CUDA error.
int run_gpu_kernels(int repeats);

}  // namespace bench
