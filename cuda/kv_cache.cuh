// Writing new keys and values into one layer's KV cache (cuda/kv_cache.cu).
#pragma once
#include "cuda/common.cuh"
#include "runtime/dtype.h"

namespace fastvlm::gpu {

// Rows [pos, pos + tokens) of both caches take k and v, rounded to fp16 (nearest even) for an
// F16 cache; the caller checks pos + tokens against the capacity.
//   k_cache, v_cache [capacity, width] F32 or F16 (cache_dtype)
//   k, v             [tokens, width] f32
void kv_store(void* k_cache, void* v_cache, DType cache_dtype, const float* k, const float* v, int tokens, int width,
              int pos, cudaStream_t stream);

}  // namespace fastvlm::gpu
