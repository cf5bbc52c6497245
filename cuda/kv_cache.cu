// KV cache store. Rows [pos, pos + tokens) of a position-major [capacity, width] cache are one
// contiguous range, so an F32 cache takes two device-to-device copies and an F16 cache one
// grid-stride kernel that rounds k and v to fp16 in the same pass.
//
// Roofline: tokens * width * (4 + cache dtype size) bytes per cache: 2 x 128 x 6 bytes per
// decoded Qwen2-0.5B token and layer in fp16.
#include "cuda/kv_cache.cuh"

#include <algorithm>

namespace fastvlm::gpu {
namespace {

constexpr int kThreads = 256;
constexpr unsigned kMaxBlocks = 1024;

__global__ void __launch_bounds__(kThreads)
    kv_store_f16_kernel(__half* __restrict__ k_cache, __half* __restrict__ v_cache, const float* __restrict__ k,
                        const float* __restrict__ v, size_t n) {
    const size_t stride = size_t(gridDim.x) * kThreads;
    for (size_t i = size_t(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
        k_cache[i] = __float2half_rn(k[i]);
        v_cache[i] = __float2half_rn(v[i]);
    }
}

}  // namespace

void kv_store(void* k_cache, void* v_cache, DType cache_dtype, const float* k, const float* v, int tokens, int width,
              int pos, cudaStream_t stream) {
    if (tokens < 0 || width <= 0 || pos < 0)
        fail("kv_store", "bad shape: tokens ", tokens, ", width ", width, ", pos ", pos);
    if (cache_dtype != DType::F32 && cache_dtype != DType::F16)
        fail("kv_store", "cache dtype ", dtype_name(cache_dtype), " (expected F32 or F16)");
    const size_t n = size_t(tokens) * size_t(width), first = size_t(pos) * size_t(width);
    if (n == 0) return;
    if (cache_dtype == DType::F32) {
        FASTVLM_CUDA_CHECK(cudaMemcpyAsync(static_cast<float*>(k_cache) + first, k, n * sizeof(float),
                                           cudaMemcpyDeviceToDevice, stream));
        FASTVLM_CUDA_CHECK(cudaMemcpyAsync(static_cast<float*>(v_cache) + first, v, n * sizeof(float),
                                           cudaMemcpyDeviceToDevice, stream));
        return;
    }
    const dim3 grid(std::min<unsigned>(ceil_div(n, kThreads), kMaxBlocks));
    launch("kv_store", kv_store_f16_kernel, grid, dim3(kThreads), 0, stream, static_cast<__half*>(k_cache) + first,
           static_cast<__half*>(v_cache) + first, k, v, n);
}

}  // namespace fastvlm::gpu
