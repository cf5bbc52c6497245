// LLM.int8 stage 2 for a prompt on tensor cores. Two kernels:
//
// matmul_int8_kernel: the tiles of cuda/mma_tiles.cuh over the activation codes [T, K] and the
//   weight codes [N, K] (64 int8 values per slice, mma.sync m16n8k32, exact int32 sums), and in
//   the store the dequant epilogue of gemv_int8: int8_dequantize_output with the token's SCA, the
//   row's SCB and the bias, rounded to fp16.
// int8_outliers_kernel: one thread per output; when stage 1 found outlier columns it adds, in
//   ascending column order, x[t, k] times the fp16 weight rebuilt from its code, and rounds to
//   fp16 again: the order and roundings of gemv_int8 and the CPU twin, so the same bits. It reads
//   the count on the device (no host round trip) and returns at once when there are none.
//
// Roofline: 2 T N K int8 ops on tensor cores; the weight (N K bytes) is read once per 64 tokens.
#include "cuda/matmul_int8.cuh"

#include "cuda/mma_tiles.cuh"
#include "cuda/quant_int8.cuh"

namespace fastvlm::gpu {
namespace {

using namespace mma_tiles;

constexpr int kOutlierThreads = 128;

__global__ void __launch_bounds__(kThreads)
    matmul_int8_kernel(const int8_t* __restrict__ codes, const int8_t* __restrict__ w, int64_t code_stride,
                       const float* __restrict__ act_scale, const float* __restrict__ row_scale,
                       const __half* __restrict__ bias, __half* __restrict__ y, int tokens, int n, int k) {
    __shared__ __align__(16) Stage x_tiles[2];
    __shared__ __align__(16) Stage w_tiles[2];
    const int row0 = int(blockIdx.y) * kTile, col0 = int(blockIdx.x) * kTile;
    int acc[2][4][4] = {};
    main_loop(reinterpret_cast<const unsigned char*>(codes), code_stride, reinterpret_cast<const unsigned char*>(w),
              k, tokens, n, k, row0, col0, x_tiles, w_tiles, acc,
              [](int (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) { ptx::mma_m16n8k32_s32_s8(d, a, b, d); });
    store_tiles(acc, tokens, n, row0, col0, [&](int t, int r, int sum) {
        const float b = bias ? __half2float(bias[r]) : 0.0f;
        y[int64_t(t) * n + r] = __float2half_rn(
            quant::round_to_fp16(quant::int8_dequantize_output(sum, act_scale[t], row_scale[r], b)));
    });
}

__global__ void __launch_bounds__(kOutlierThreads)
    int8_outliers_kernel(const int8_t* __restrict__ w, const float* __restrict__ row_scale,
                         const __half* __restrict__ x, const int* __restrict__ outlier_count,
                         const int* __restrict__ outlier_columns, __half* __restrict__ y, int n, int k) {
    const int count = *outlier_count;
    const int r = int(blockIdx.x) * kOutlierThreads + int(threadIdx.x), t = int(blockIdx.y);
    if (count == 0 || r >= n) return;
    const float scb = row_scale[r];
    float sum = 0.0f;
    for (int i = 0; i < count; ++i) {  // ascending columns; each term exact (two fp16 values)
        const int column = outlier_columns[i];
        sum += __half2float(x[int64_t(t) * k + column]) * quant::int8_outlier_weight(w[int64_t(r) * k + column], scb);
    }
    __half* out = y + int64_t(t) * n + r;
    *out = __float2half_rn(quant::round_to_fp16(__half2float(*out) + sum));
}

}  // namespace

bool matmul_int8_supported(const Int8Weight& w) { return w.in_features % 16 == 0 && aligned_16(w.codes); }

void matmul_int8(const Int8Weight& w, const __half* bias, const __half* x, const Int8Activation& a, __half* y,
                 cudaStream_t stream) {
    if (w.in_features <= 0 || w.out_features <= 0)
        fail("matmul_int8", "bad shape: in_features ", w.in_features, ", out_features ", w.out_features);
    if (a.in_features != w.in_features || a.tokens <= 0)
        fail("matmul_int8", "the activation has ", a.in_features, " features and ", a.tokens, " tokens, the weight ",
             w.in_features, " features");
    if (!matmul_int8_supported(w))
        fail("matmul_int8", "needs in_features % 16 == 0 and a 16-byte aligned weight (in_features ", w.in_features,
             ")");
    if (a.tokens > 65535) fail("matmul_int8", a.tokens, " tokens are more than one launch covers (65535)");
    const int64_t code_stride = w.in_features;  // in_features % 16 == 0: stage 1 adds no padding
    const dim3 grid(ceil_div(size_t(w.out_features), kTile), ceil_div(size_t(a.tokens), kTile));
    launch("matmul_int8", matmul_int8_kernel, grid, dim3(kThreads), 0, stream, static_cast<const int8_t*>(a.codes),
           w.codes, code_stride, static_cast<const float*>(a.scale), w.row_scale, bias, y, a.tokens, w.out_features,
           w.in_features);
    const dim3 outlier_grid(ceil_div(size_t(w.out_features), kOutlierThreads), unsigned(a.tokens));
    launch("int8_outliers", int8_outliers_kernel, outlier_grid, dim3(kOutlierThreads), 0, stream, w.codes,
           w.row_scale, x, static_cast<const int*>(a.outlier_count), static_cast<const int*>(a.outlier_columns), y,
           w.out_features, w.in_features);
}

}  // namespace fastvlm::gpu
