// Multi-head attention in fp32 with an online softmax, for prompt prefill over the KV cache and
// the bidirectional attention of the vision encoder (cuda/attention.cu).
#pragma once
#include "cuda/common.cuh"
#include "runtime/dtype.h"

namespace fastvlm::gpu {

// Largest head_dim the kernel takes (FastViTHD uses 32, Qwen2 64).
constexpr int kAttentionMaxHeadDim = 128;

// out[t, h] = sum_p softmax_p(scale * q[t, h] . k[p, g]) v[p, g],  g = h / (heads / kv_heads)
//   q   [n_queries, q_stride] f32: head h of query t at columns [h * head_dim, (h + 1) * head_dim)
//   k, v [n_keys, kv_stride] in kv_dtype (F32 or F16): kv head g at columns [g * head_dim, ...)
//   out [n_queries, out_stride] f32, laid out as q
// causal_offset < 0: every query attends all n_keys keys; otherwise query t attends keys
// [0, causal_offset + t] (causal_offset + n_queries <= n_keys).
// Backend::self_attention: q = qkv, k = qkv + heads * head_dim, v = qkv + 2 * heads * head_dim,
// all strides 3 * heads * head_dim, causal_offset -1.
// Backend::attention_cached: the caches as k and v, n_keys = pos + T, causal_offset = pos.
void attention(const float* q, int q_stride, const void* k, const void* v, int kv_stride, DType kv_dtype, float* out,
               int out_stride, int n_queries, int n_keys, int heads, int kv_heads, int head_dim, int causal_offset,
               float scale, cudaStream_t stream);

}  // namespace fastvlm::gpu
