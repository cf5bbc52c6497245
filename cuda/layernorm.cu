// Layer norm (biased variance, eps inside the square root), fp32 math, weights widened from
// their stored dtype.
//
// One 256-thread block per row (blocks step over the rows when there are more than the capped
// grid). Two block reductions (cuda/reduce.cuh): the sum for the mean, then the sum of squared
// deviations for the variance, which avoids the cancellation of E[x^2] - mean^2 on rows with a
// large mean. The row is read three times; the second and third reads hit L1/L2 for the
// FastViTHD widths (at most a few thousand floats).
//
// Roofline: 8 bytes per element (one read from DRAM, one write) plus the weights:
// a [1024, 768] activation is 6.3 MB, about 2 us on an H100.
#include "cuda/layernorm.cuh"

#include <algorithm>

#include "cuda/reduce.cuh"
#include "cuda/widen.cuh"

namespace fastvlm::gpu {
namespace {

constexpr int kThreads = 256;
constexpr unsigned kMaxBlocks = 1024;

template <DType D>
__global__ void __launch_bounds__(kThreads)
    layernorm_kernel(const float* x, const void* __restrict__ weight, const void* __restrict__ bias, float* y, int rows,
                     int cols, float eps) {
    for (int r = int(blockIdx.x); r < rows; r += int(gridDim.x)) {  // the same trip count for the whole block
        const float* x_row = x + size_t(r) * size_t(cols);
        float* y_row = y + size_t(r) * size_t(cols);
        float sum = 0.0f;
        for (int c = int(threadIdx.x); c < cols; c += kThreads) sum += x_row[c];
        const float mean = block_sum(sum) / float(cols);
        float sum_sq = 0.0f;
        for (int c = int(threadIdx.x); c < cols; c += kThreads) {
            const float d = x_row[c] - mean;
            sum_sq += d * d;
        }
        const float inv = 1.0f / sqrtf(block_sum(sum_sq) / float(cols) + eps);
        // Each thread writes only the elements it read itself, so y may alias x.
        for (int c = int(threadIdx.x); c < cols; c += kThreads)
            y_row[c] = (x_row[c] - mean) * inv * widen<D>(weight, size_t(c)) + widen<D>(bias, size_t(c));
    }
}

}  // namespace

void layernorm(const float* x, const void* weight, const void* bias, DType dtype, float* y, int rows, int cols,
               float eps, cudaStream_t stream) {
    if (rows < 0 || cols <= 0) fail("layernorm", "bad shape: rows ", rows, ", cols ", cols);
    if (!(eps >= 0.0f)) fail("layernorm", "eps ", eps, " is not a non-negative number");
    with_float_dtype(dtype, "layernorm", "weight", [&](auto tag) {
        if (rows == 0) return;
        const dim3 grid(std::min<unsigned>(unsigned(rows), kMaxBlocks));
        launch("layernorm", layernorm_kernel<decltype(tag)::value>, grid, dim3(kThreads), 0, stream, x, weight, bias, y,
               rows, cols, eps);
    });
}

}  // namespace fastvlm::gpu
