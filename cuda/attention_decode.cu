// Decode attention (flash-decoding): one query token, grouped-query heads, KV cache split
// across blocks, online softmax in fp32, a second kernel merging the splits.
//
// Grid (n_kv_heads, splits). A block reads its KV head's positions [split * chunk, + chunk)
// once for all `Group` query heads that share it. Within a warp, eight lanes take one
// position (each lane 8 of the 64 dims: one 128-bit load of k and of v), so a warp covers four
// positions per step and the block sixteen. Each eight-lane slot keeps a running max, sum and
// weighted value sum per head; slots merge by shuffles, warps through shared memory. Scores
// are kept in log2 units (q is pre-scaled by scale * log2 e) so the exponentials are exp2.
// With one split the block writes the output itself; otherwise it writes its unnormalized
// partial result, max and sum, and attention_merge_kernel combines them.
//
// Roofline: kv_len * n_kv_heads * 64 * 2 * 2 bytes of cache per call (12 KB per 1000 tokens
// per layer for Qwen2-0.5B's 2 KV heads); bound by bandwidth for long contexts and by launch
// latency for short ones.
#include "cuda/attention_decode.cuh"

#include "cuda/vec.cuh"

namespace fastvlm::gpu {
namespace {

constexpr int kHeadDim = 64;
constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kSlotsPerWarp = 4;                       // positions a warp takes per step
constexpr int kPositionsPerStep = kWarps * kSlotsPerWarp;
constexpr int kMinPositionsPerSplit = 64;
constexpr float kLog2e = 1.4426950408889634f;

// exp2(m - reference), and 0 for an empty partial (m = -inf).
__device__ __forceinline__ float rescale(float m, float reference) { return m == -INFINITY ? 0.0f : exp2f(m - reference); }

template <int Group>
__global__ void __launch_bounds__(kThreads)
    attention_decode_kernel(const __half* __restrict__ q, const __half* __restrict__ k_cache,
                            const __half* __restrict__ v_cache, __half* __restrict__ out, float* __restrict__ partial,
                            int kv_len, int chunk, float q_scale) {
    const int kv_head = int(blockIdx.x), split = int(blockIdx.y), n_splits = int(gridDim.y);
    const int n_kv_heads = int(gridDim.x);
    const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
    const int slot = lane / 8, dim0 = (lane % 8) * 8;  // this lane's position slot and 8 dims
    const int begin = split * chunk, end = min(kv_len, begin + chunk);
    const size_t row = size_t(n_kv_heads) * kHeadDim;  // one cached position

    float qf[Group][8];
    for (int g = 0; g < Group; ++g) {
        unpack_half8(load_half8(q + size_t(kv_head * Group + g) * kHeadDim + dim0), qf[g]);
        for (int i = 0; i < 8; ++i) qf[g][i] *= q_scale;
    }
    float m[Group], l[Group], acc[Group][8];
    for (int g = 0; g < Group; ++g) {
        m[g] = -INFINITY;
        l[g] = 0.0f;
        for (int i = 0; i < 8; ++i) acc[g][i] = 0.0f;
    }

    // Every lane of a warp runs the same number of steps, so the shuffles see the whole warp.
    for (int base = begin + warp * kSlotsPerWarp; base < end; base += kPositionsPerStep) {
        const int p = base + slot;
        const bool valid = p < end;
        float kf[8], vf[8];
        if (valid) {
            const size_t offset = size_t(p) * row + size_t(kv_head) * kHeadDim + dim0;
            unpack_half8(load_half8(k_cache + offset), kf);
            unpack_half8(load_half8(v_cache + offset), vf);
        }
        for (int g = 0; g < Group; ++g) {
            float s = 0.0f;
            if (valid)
                for (int i = 0; i < 8; ++i) s = fmaf(qf[g][i], kf[i], s);
            s += __shfl_xor_sync(0xffffffffu, s, 1);  // the eight lanes of the slot
            s += __shfl_xor_sync(0xffffffffu, s, 2);
            s += __shfl_xor_sync(0xffffffffu, s, 4);
            if (valid) {
                const float m_new = fmaxf(m[g], s);
                const float old_weight = rescale(m[g], m_new), weight = exp2f(s - m_new);
                l[g] = l[g] * old_weight + weight;
                for (int i = 0; i < 8; ++i) acc[g][i] = fmaf(acc[g][i], old_weight, weight * vf[i]);
                m[g] = m_new;
            }
        }
    }

    // Merge the warp's four slots: lanes l, l ^ 8, l ^ 16, l ^ 24 hold the same dims.
    for (int g = 0; g < Group; ++g)
        for (int offset = 8; offset <= 16; offset *= 2) {
            const float m_other = __shfl_xor_sync(0xffffffffu, m[g], offset);
            const float l_other = __shfl_xor_sync(0xffffffffu, l[g], offset);
            const float m_new = fmaxf(m[g], m_other);
            const float mine = rescale(m[g], m_new), theirs = rescale(m_other, m_new);
            l[g] = l[g] * mine + l_other * theirs;
            for (int i = 0; i < 8; ++i) {
                const float acc_other = __shfl_xor_sync(0xffffffffu, acc[g][i], offset);
                acc[g][i] = acc[g][i] * mine + acc_other * theirs;
            }
            m[g] = m_new;
        }

    // Merge the warps through shared memory.
    __shared__ float warp_acc[kWarps][Group][kHeadDim];
    __shared__ float warp_m[kWarps][Group], warp_l[kWarps][Group];
    if (slot == 0)
        for (int g = 0; g < Group; ++g) {
            for (int i = 0; i < 8; ++i) warp_acc[warp][g][dim0 + i] = acc[g][i];
            if (lane == 0) {
                warp_m[warp][g] = m[g];
                warp_l[warp][g] = l[g];
            }
        }
    __syncthreads();
    for (int idx = int(threadIdx.x); idx < Group * kHeadDim; idx += kThreads) {
        const int g = idx / kHeadDim, d = idx % kHeadDim;
        float m_all = -INFINITY;
        for (int w = 0; w < kWarps; ++w) m_all = fmaxf(m_all, warp_m[w][g]);
        float l_all = 0.0f, a_all = 0.0f;
        for (int w = 0; w < kWarps; ++w) {
            const float weight = rescale(warp_m[w][g], m_all);
            l_all += warp_l[w][g] * weight;
            a_all += warp_acc[w][g][d] * weight;
        }
        const int head = kv_head * Group + g;
        if (n_splits == 1) {
            out[size_t(head) * kHeadDim + d] = __float2half_rn(a_all / l_all);
        } else {
            float* p = partial + (size_t(head) * n_splits + split) * (kHeadDim + 2);
            p[d] = a_all;
            if (d == 0) {
                p[kHeadDim] = m_all;
                p[kHeadDim + 1] = l_all;
            }
        }
    }
}

// One block per query head, one thread per dim: out = sum_s acc_s 2^(m_s - M) / sum_s l_s 2^(m_s - M).
__global__ void __launch_bounds__(kHeadDim)
    attention_merge_kernel(const float* __restrict__ partial, __half* __restrict__ out, int n_splits) {
    const int head = int(blockIdx.x), d = int(threadIdx.x);
    const float* p = partial + size_t(head) * n_splits * (kHeadDim + 2);
    float m_all = -INFINITY;
    for (int s = 0; s < n_splits; ++s) m_all = fmaxf(m_all, p[s * (kHeadDim + 2) + kHeadDim]);
    float l_all = 0.0f, a_all = 0.0f;
    for (int s = 0; s < n_splits; ++s) {
        const float* ps = p + s * (kHeadDim + 2);
        const float weight = rescale(ps[kHeadDim], m_all);
        l_all += ps[kHeadDim + 1] * weight;
        a_all += ps[d] * weight;
    }
    out[size_t(head) * kHeadDim + d] = __float2half_rn(a_all / l_all);
}

template <int Group>
void launch_attention(const __half* q, const __half* k_cache, const __half* v_cache, __half* out, float* workspace,
                      int kv_len, int n_kv_heads, int splits, int chunk, float q_scale, cudaStream_t stream) {
    launch("attention_decode", attention_decode_kernel<Group>, dim3(unsigned(n_kv_heads), unsigned(splits)),
           dim3(kThreads), 0, stream, q, k_cache, v_cache, out, workspace, kv_len, chunk, q_scale);
}

}  // namespace

void attention_decode(const __half* q, const __half* k_cache, const __half* v_cache, __half* out, float* workspace,
                      int kv_len, int n_heads, int n_kv_heads, int head_dim, float scale, cudaStream_t stream) {
    if (kv_len < 1 || n_heads <= 0 || n_kv_heads <= 0)
        fail("attention_decode", "bad shape: kv_len ", kv_len, ", n_heads ", n_heads, ", n_kv_heads ", n_kv_heads);
    if (head_dim != kHeadDim) fail("attention_decode", "head_dim ", head_dim, " is not supported (only 64)");
    if (n_heads % n_kv_heads != 0 || n_heads / n_kv_heads > 8)
        fail("attention_decode", n_heads, " query heads over ", n_kv_heads,
             " kv heads: the group must be a whole number from 1 to 8");
    if (!aligned_16(q) || !aligned_16(k_cache) || !aligned_16(v_cache) || !aligned_16(out))
        fail("attention_decode", "q, k_cache, v_cache and out must be 16-byte aligned");
    // Enough splits to spread long caches over the GPU, each at least kMinPositionsPerSplit long.
    int splits = std::min(kAttentionMaxSplits, (kv_len + kMinPositionsPerSplit - 1) / kMinPositionsPerSplit);
    const int chunk = (kv_len + splits - 1) / splits;
    splits = (kv_len + chunk - 1) / chunk;  // no empty split
    if (splits > 1 && workspace == nullptr) fail("attention_decode", "kv_len ", kv_len, " needs a workspace");
    const float q_scale = scale * kLog2e;
    switch (n_heads / n_kv_heads) {
#define FASTVLM_ATTENTION_GROUP(g)                                                                               \
    case g:                                                                                                     \
        launch_attention<g>(q, k_cache, v_cache, out, workspace, kv_len, n_kv_heads, splits, chunk, q_scale, \
                            stream);                                                                            \
        break;
        FASTVLM_ATTENTION_GROUP(1)
        FASTVLM_ATTENTION_GROUP(2)
        FASTVLM_ATTENTION_GROUP(3)
        FASTVLM_ATTENTION_GROUP(4)
        FASTVLM_ATTENTION_GROUP(5)
        FASTVLM_ATTENTION_GROUP(6)
        FASTVLM_ATTENTION_GROUP(7)
        FASTVLM_ATTENTION_GROUP(8)
#undef FASTVLM_ATTENTION_GROUP
    }
    if (splits > 1)
        launch("attention_merge", attention_merge_kernel, dim3(unsigned(n_heads)), dim3(kHeadDim), 0, stream,
               workspace, out, splits);
}

}  // namespace fastvlm::gpu
