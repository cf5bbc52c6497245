// Attention of one query token over an fp32 KV cache: the fp32-cache form of attention_decode
// (same layout, same arithmetic), for runs that keep the cache in full precision.
//
// KV cache layout (one layer; k and v alike): [capacity, n_kv_heads, head_dim] fp32.
#pragma once

namespace fastvlm::cpu {

// out[h] = sum_p softmax_p(scale * q[h] . k[p, kvh]) * v[p, kvh]   for head_begin <= h < head_end
//   q [n_heads, head_dim], out [n_heads, head_dim]; query head h reads KV head h / (n_heads / n_kv_heads)
void attention_decode_f32(const float* q, const float* k_cache, const float* v_cache, float* out,
                          int kv_len, int n_heads, int n_kv_heads, int head_dim, float scale,
                          int head_begin, int head_end);

}  // namespace fastvlm::cpu
