// RMSNorm (Qwen2: x * rsqrt(mean(x^2) + eps) * w, in fp32).
//
// One 128-thread block per token. Each thread reads its 128-bit slices of the row, the block
// sums the squares (warp shuffles, then one shared array), and the threads scale their slices
// again from the cache. Rows whose length is not a multiple of eight, or unaligned pointers,
// take a scalar loop.
//
// rmsnorm_f32, the backend's form on fp32 rows: the same block per row with a scalar,
// coalesced loop (blocks step over the rows beyond a capped grid), the weight widened from
// F32, F16 or BF16.
//
// Roofline: 2 * dim * 2 bytes read + written per token plus the weight: a few KB for Qwen2
// (dim 896); latency, not bandwidth, bounds a single token. Twice that for fp32 rows.
#include "cuda/rmsnorm.cuh"

#include <algorithm>

#include "cuda/reduce.cuh"
#include "cuda/vec.cuh"
#include "cuda/widen.cuh"

namespace fastvlm::gpu {
namespace {

constexpr int kThreads = 128;

template <bool Vectorized>
__global__ void __launch_bounds__(kThreads)
    rmsnorm_kernel(const __half* x, const __half* __restrict__ weight, __half* y, int dim, float eps) {
    const __half* x_row = x + size_t(blockIdx.x) * size_t(dim);
    __half* y_row = y + size_t(blockIdx.x) * size_t(dim);
    float sum_sq = 0.0f;
    if (Vectorized) {
        for (int c = int(threadIdx.x); c < dim / 8; c += kThreads) {
            float v[8];
            unpack_half8(load_half8(x_row + 8 * c), v);
            for (int i = 0; i < 8; ++i) sum_sq = fmaf(v[i], v[i], sum_sq);
        }
    } else {
        for (int i = int(threadIdx.x); i < dim; i += kThreads) {
            const float v = __half2float(x_row[i]);
            sum_sq = fmaf(v, v, sum_sq);
        }
    }
    // Every thread has read all of its x before the barriers inside block_sum, so y may alias x.
    const float inv_rms = rsqrtf(block_sum(sum_sq) / float(dim) + eps);
    if (Vectorized) {
        for (int c = int(threadIdx.x); c < dim / 8; c += kThreads) {
            float v[8], w[8];
            unpack_half8(load_half8(x_row + 8 * c), v);
            unpack_half8(load_half8(weight + 8 * c), w);
            for (int i = 0; i < 8; ++i) v[i] = v[i] * inv_rms * w[i];
            store_half8(y_row + 8 * c, v);
        }
    } else {
        for (int i = int(threadIdx.x); i < dim; i += kThreads)
            y_row[i] = __float2half_rn(__half2float(x_row[i]) * inv_rms * __half2float(weight[i]));
    }
}

constexpr unsigned kMaxBlocks = 1024;

template <DType W>
__global__ void __launch_bounds__(kThreads)
    rmsnorm_f32_kernel(const float* x, const void* __restrict__ weight, float* y, int rows, int dim, float eps) {
    for (int r = int(blockIdx.x); r < rows; r += int(gridDim.x)) {  // the same trip count for the whole block
        const float* x_row = x + size_t(r) * size_t(dim);
        float* y_row = y + size_t(r) * size_t(dim);
        float sum_sq = 0.0f;
        for (int i = int(threadIdx.x); i < dim; i += kThreads) sum_sq = fmaf(x_row[i], x_row[i], sum_sq);
        // Each thread rewrites only the elements it read, so y may alias x.
        const float inv_rms = 1.0f / sqrtf(block_sum(sum_sq) / float(dim) + eps);
        for (int i = int(threadIdx.x); i < dim; i += kThreads)
            y_row[i] = x_row[i] * inv_rms * widen<W>(weight, size_t(i));
    }
}

}  // namespace

void rmsnorm_f32(const float* x, const void* weight, DType w_dtype, float* y, int rows, int dim, float eps,
                 cudaStream_t stream) {
    if (rows < 0 || dim <= 0) fail("rmsnorm_f32", "bad shape: rows ", rows, ", dim ", dim);
    if (!(eps >= 0.0f)) fail("rmsnorm_f32", "eps ", eps, " is not a non-negative number");
    with_float_dtype(w_dtype, "rmsnorm_f32", "weight", [&](auto tag) {
        if (rows == 0) return;
        const dim3 grid(std::min<unsigned>(unsigned(rows), kMaxBlocks));
        launch("rmsnorm_f32", rmsnorm_f32_kernel<decltype(tag)::value>, grid, dim3(kThreads), 0, stream, x, weight, y,
               rows, dim, eps);
    });
}

void rmsnorm(const __half* x, const __half* weight, __half* y, int n_tokens, int dim, float eps, cudaStream_t stream) {
    if (n_tokens < 0 || dim <= 0) fail("rmsnorm", "bad shape: n_tokens ", n_tokens, ", dim ", dim);
    if (!(eps >= 0.0f)) fail("rmsnorm", "eps ", eps, " is not a non-negative number");
    if (n_tokens == 0) return;
    if (dim % 8 == 0 && aligned_16(x) && aligned_16(weight) && aligned_16(y))
        launch("rmsnorm", rmsnorm_kernel<true>, dim3(unsigned(n_tokens)), dim3(kThreads), 0, stream, x, weight, y, dim,
               eps);
    else
        launch("rmsnorm", rmsnorm_kernel<false>, dim3(unsigned(n_tokens)), dim3(kThreads), 0, stream, x, weight, y,
               dim, eps);
}

}  // namespace fastvlm::gpu
