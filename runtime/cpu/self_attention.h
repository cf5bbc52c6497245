// Bidirectional multi-head attention over a whole token set (the FastViTHD attention stages):
// per head, scores = q k^T by the blocked GEMM, a row softmax, then scores . v by the GEMM again.
// Heads run in parallel, one per task.
#pragma once
#include <cstdint>

#include "runtime/cpu/thread_pool.h"

namespace fastvlm::cpu {

// out[n, h*d + i] = sum_m softmax_m(scale * q[n, h] . k[m, h]) v[m, h*d + i]
//   qkv [n_tokens, 3 * heads * head_dim] laid out [q | k | v], heads contiguous within each
//   out [n_tokens, heads * head_dim]
void self_attention(ThreadPool& pool, const float* qkv, float* out, int64_t n_tokens, int heads,
                    int head_dim, float scale);

}  // namespace fastvlm::cpu
