// Decode attention: one query token over a KV cache, grouped-query heads, the cache split
// across blocks with a final reduction (cuda/attention_decode.cu).
//
// KV cache layout (one layer; k and v alike): [capacity, n_kv_heads, head_dim] fp16,
// position-major, as runtime/cpu/attention_decode.h documents.
#pragma once
#include "cuda/common.cuh"

namespace fastvlm::gpu {

// Most blocks one KV head's cache is split into; sizes the workspace.
constexpr int kAttentionMaxSplits = 32;

// fp32 scratch the split reduction needs for n_heads query heads of head_dim values.
inline size_t attention_decode_workspace_floats(int n_heads, int head_dim) {
    return size_t(n_heads) * kAttentionMaxSplits * size_t(head_dim + 2);
}

// out[h] = sum_p softmax_p(scale * q[h] . k[p, h / group]) * v[p, h / group], p in [0, kv_len)
//   q       [n_heads, head_dim]               fp16 (rotary applied)
//   k_cache [>= kv_len, n_kv_heads, head_dim] fp16
//   v_cache [>= kv_len, n_kv_heads, head_dim] fp16
//   out     [n_heads, head_dim]               fp16
//   workspace: attention_decode_workspace_floats(n_heads, head_dim) floats of device memory
// head_dim must be 64; n_heads / n_kv_heads (the group) at most 8; pointers 16-byte aligned.
void attention_decode(const __half* q, const __half* k_cache, const __half* v_cache, __half* out, float* workspace,
                      int kv_len, int n_heads, int n_kv_heads, int head_dim, float scale, cudaStream_t stream);

}  // namespace fastvlm::gpu
