// Attention of one query token over a KV cache with grouped-query heads: the CPU twin of
// cuda/attention_decode.cu (fp16 cache), and the same over an fp32 cache for runs that keep the
// cache in full precision.
//
// KV cache layout (one layer; k and v alike): [capacity, n_kv_heads, head_dim] fp16 bits or fp32,
// position-major, so appending a token writes one contiguous row of n_kv_heads * head_dim
// values at offset pos * n_kv_heads * head_dim. Positions [0, kv_len) are attended.
// Query head h reads KV head h / (n_heads / n_kv_heads).
#pragma once
#include <cstdint>

namespace fastvlm::cpu {

// out[h] = sum_p softmax_p(scale * q[h] . k[p, kvh]) * v[p, kvh]   for head_begin <= h < head_end
//   q       [n_heads, head_dim]            fp32 (rotary already applied)
//   k_cache [kv_len.., n_kv_heads, head_dim] fp16 bits
//   v_cache [kv_len.., n_kv_heads, head_dim] fp16 bits
//   out     [n_heads, head_dim]            fp32; only heads [head_begin, head_end) are written
// For causal prefill, call once per query token t with kv_len = t + 1.
// n_heads must be a multiple of n_kv_heads; kv_len >= 1; scale is usually 1/sqrt(head_dim).
void attention_decode(const float* q, const uint16_t* k_cache, const uint16_t* v_cache, float* out,
                      int kv_len, int n_heads, int n_kv_heads, int head_dim, float scale,
                      int head_begin, int head_end);

// The same over an fp32 cache: k_cache and v_cache [kv_len.., n_kv_heads, head_dim] fp32.
void attention_decode_f32(const float* q, const float* k_cache, const float* v_cache, float* out,
                          int kv_len, int n_heads, int n_kv_heads, int head_dim, float scale,
                          int head_begin, int head_end);

}  // namespace fastvlm::cpu
