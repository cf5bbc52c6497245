#include "runtime/cpu/attention_prefill.h"

#include "runtime/cpu/attention_gemm.h"
#include "runtime/error.h"

namespace fastvlm::cpu {

void attention_prefill(ThreadPool& pool, const float* q, const void* k_cache, const void* v_cache,
                       DType cache_dtype, float* out, int64_t t, int64_t pos, int heads, int kv_heads,
                       int head_dim, float scale) {
    if (t <= 0 || pos < 0 || heads <= 0 || kv_heads <= 0 || head_dim <= 0 || heads % kv_heads != 0)
        fail("attention_prefill", "bad shape: ", t, " tokens at ", pos, ", ", heads, " heads over ", kv_heads,
             " kv heads of ", head_dim);
    if (cache_dtype != DType::F32 && cache_dtype != DType::F16)
        fail("attention_prefill", "cache dtype ", dtype_name(cache_dtype), " (expected F32 or F16)");
    AttentionGemmArgs args;
    args.queries = t; args.keys = pos + t;
    args.heads = heads; args.kv_heads = kv_heads; args.head_dim = head_dim;
    args.q = q; args.ldq = int64_t(heads) * head_dim;
    args.k = k_cache; args.v = v_cache; args.kv_dtype = cache_dtype; args.ldkv = int64_t(kv_heads) * head_dim;
    args.out = out; args.ldo = int64_t(heads) * head_dim;
    args.scale = scale;
    args.causal = true;
    attention_gemm(pool, args);
}

}  // namespace fastvlm::cpu
