#include "runtime/cpu/self_attention.h"

#include "runtime/cpu/attention_gemm.h"
#include "runtime/error.h"

namespace fastvlm::cpu {

void self_attention(ThreadPool& pool, const float* qkv, float* out, int64_t n_tokens, int heads,
                    int head_dim, float scale) {
    if (n_tokens <= 0 || heads <= 0 || head_dim <= 0)
        fail("self_attention", "bad shape: ", n_tokens, " tokens, ", heads, " heads of ", head_dim);
    const int64_t width = int64_t(heads) * head_dim, stride = 3 * width;
    AttentionGemmArgs args;
    args.queries = args.keys = n_tokens;
    args.heads = args.kv_heads = heads; args.head_dim = head_dim;
    args.q = qkv; args.ldq = stride;
    args.k = qkv + width; args.v = qkv + 2 * width; args.kv_dtype = DType::F32; args.ldkv = stride;
    args.out = out; args.ldo = width;
    args.scale = scale;
    attention_gemm(pool, args);
}

}  // namespace fastvlm::cpu
