// Causal attention of a block of new tokens over the KV cache (prompt prefill): per query head,
// scores = q k^T by the blocked GEMM (keys read from the cache in its dtype), the causal mask,
// a row softmax, then scores . v by the GEMM again. Heads run in parallel, one per task.
// Decoding one token at a time uses attention_decode instead.
#pragma once
#include <cstdint>

#include "runtime/cpu/thread_pool.h"
#include "runtime/dtype.h"

namespace fastvlm::cpu {

// out[i, h] = sum_{p <= pos + i} softmax_p(scale * q[i, h] . k[p, kvh]) v[p, kvh],  kvh = h / (heads / kv_heads)
//   q       [t, heads * head_dim] fp32 (rotary applied), tokens at positions pos .. pos + t - 1
//   k_cache [pos + t.., kv_heads * head_dim] in cache_dtype (F32 or F16), v_cache alike
//   out     [t, heads * head_dim] fp32
void attention_prefill(ThreadPool& pool, const float* q, const void* k_cache, const void* v_cache,
                       DType cache_dtype, float* out, int64_t t, int64_t pos, int heads, int kv_heads,
                       int head_dim, float scale);

}  // namespace fastvlm::cpu
