// Token embedding lookup: a gather of table rows, widened to fp32 (exact for every dtype).
//
// One 256-thread block per id (blocks step over the ids beyond a capped grid); the threads read
// the row coalesced and write it to y.
//
// Roofline: dim * (dtype size + 4) bytes per id: 896 * 6 bytes for a Qwen2 token in fp16.
#include "cuda/embedding.cuh"

#include <algorithm>

#include "cuda/widen.cuh"

namespace fastvlm::gpu {
namespace {

constexpr int kThreads = 256;
constexpr unsigned kMaxBlocks = 1024;

template <DType D>
__global__ void __launch_bounds__(kThreads)
    embedding_kernel(const void* __restrict__ table, const int* __restrict__ ids, float* __restrict__ y, int n_ids,
                     int dim) {
    for (int t = int(blockIdx.x); t < n_ids; t += int(gridDim.x)) {
        const size_t row = size_t(ids[t]) * size_t(dim);
        float* y_row = y + size_t(t) * size_t(dim);
        for (int i = int(threadIdx.x); i < dim; i += kThreads) y_row[i] = widen<D>(table, row + size_t(i));
    }
}

}  // namespace

void embedding(const void* table, DType dtype, const int* ids, float* y, int n_ids, int dim, cudaStream_t stream) {
    if (n_ids < 0 || dim <= 0) fail("embedding", "bad shape: n_ids ", n_ids, ", dim ", dim);
    with_float_dtype(dtype, "embedding", "table", [&](auto tag) {
        if (n_ids == 0) return;
        const dim3 grid(std::min<unsigned>(unsigned(n_ids), kMaxBlocks));
        launch("embedding", embedding_kernel<decltype(tag)::value>, grid, dim3(kThreads), 0, stream, table, ids, y,
               n_ids, dim);
    });
}

}  // namespace fastvlm::gpu
