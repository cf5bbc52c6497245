// Multi-head attention by GEMMs, shared by the vision attention (self_attention.h) and prompt
// prefill (attention_prefill.h): per query head, scores = q k^T by the blocked GEMM, the causal
// mask if asked for, a row softmax, then scores . v by the GEMM again. Heads run in parallel,
// one per task.
#pragma once
#include <cstdint>

#include "runtime/cpu/thread_pool.h"
#include "runtime/dtype.h"

namespace fastvlm::cpu {

// out[i, h] = sum_j softmax_j(scale * q[i, h] . k[j, kvh]) v[j, kvh],  kvh = h / (heads / kv_heads),
// over the keys j that query i sees: all of them, or with `causal` keys [0, keys - queries + i]
// (the queries are the last `queries` positions of the keys).
struct AttentionGemmArgs {
    int64_t queries = 0, keys = 0;
    int heads = 0, kv_heads = 0, head_dim = 0;  // heads a multiple of kv_heads
    const float* q = nullptr;                   // [queries, heads * head_dim], row stride ldq
    int64_t ldq = 0;
    const void* k = nullptr;                    // [keys, kv_heads * head_dim] in kv_dtype, row stride ldkv
    const void* v = nullptr;                    // alike
    DType kv_dtype = DType::F32;                // F32, F16 or BF16
    int64_t ldkv = 0;
    float* out = nullptr;                       // [queries, heads * head_dim], row stride ldo
    int64_t ldo = 0;
    float scale = 1.0f;
    bool causal = false;
};

void attention_gemm(ThreadPool& pool, const AttentionGemmArgs& args);

}  // namespace fastvlm::cpu
