// Attention (prefill and vision), fp32 math, online softmax (flash-attention on CUDA cores).
//
// A query row is one (query token, head). Grid (row tiles, kv heads): a block takes kWarps
// consecutive rows that share one kv head (the rows of a GQA group are adjacent, query-major),
// one row per warp. The block walks its keys in chunks of 32: all threads stage the chunk's
// keys and values in shared memory (coalesced, widened from F16 once), then
//   - lane j of each warp scores key j against the warp's query (kept in shared memory,
//     pre-scaled by scale * log2 e so the exponentials are exp2), the key rows padded by one
//     float so the 32 lanes hit 32 banks;
//   - the warp takes the chunk's max by shuffles and rescales its running sum and output
//     (online softmax), puts the 32 weights in shared memory, and each lane accumulates its
//     head_dim / 32 output dims over the chunk's values.
// Causal rows stop at their own last key; the block stops at the last key of its last row.
// Shared memory: 32 (2 head_dim + 1) + 8 (head_dim + 32) floats, 37 KB at head_dim 128.
//
// Work: 4 n_queries n_keys heads head_dim FLOPs (half that when causal). K and V are read
// once per block from L2/DRAM: n_keys kv_width dtype bytes times the row tiles per kv head,
// so for the vision encoder (1024 tokens, head_dim 32) the kernel is bound by shared-memory
// bandwidth and FMA issue, not DRAM.
#include "cuda/attention.cuh"

#include <cmath>

#include "cuda/reduce.cuh"
#include "cuda/widen.cuh"

namespace fastvlm::gpu {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = 32 * kWarps;
constexpr int kKeys = 32;  // keys per chunk: one per lane when scoring
constexpr float kLog2e = 1.4426950408889634f;

size_t attention_shared_bytes(int head_dim) {
    return sizeof(float) * (size_t(kKeys) * size_t(2 * head_dim + 1) + size_t(kWarps) * size_t(head_dim + kKeys));
}

template <DType KV, int DimsPerLane>
__global__ void __launch_bounds__(kThreads)
    attention_kernel(const float* q, int q_stride, const void* __restrict__ k, const void* __restrict__ v,
                     int kv_stride, float* out, int out_stride, int n_queries, int n_keys, int group, int head_dim,
                     int causal_offset, float q_scale) {
    FASTVLM_DYNAMIC_SHARED(float, shared);
    const int pitch = head_dim + 1;
    float* k_tile = shared;                       // [kKeys, head_dim + 1]
    float* v_tile = k_tile + kKeys * pitch;       // [kKeys, head_dim]
    float* q_rows = v_tile + kKeys * head_dim;    // [kWarps, head_dim]
    float* weights = q_rows + kWarps * head_dim;  // [kWarps, kKeys]

    const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
    const int kv_head = int(blockIdx.y), rows = n_queries * group;
    const int row = int(blockIdx.x) * kWarps + warp;
    const bool active = row < rows;  // the same for the whole warp
    const int t = row / group, head = kv_head * group + row % group;
    const int key_end = causal_offset < 0 ? n_keys : causal_offset + t + 1;  // this row's keys: [0, key_end)
    const int last_row = min(rows, int(blockIdx.x + 1) * kWarps) - 1;
    const int block_end = causal_offset < 0 ? n_keys : causal_offset + last_row / group + 1;
    const size_t kv_column = size_t(kv_head) * size_t(head_dim);

    float* q_row = q_rows + warp * head_dim;
    float* w_row = weights + warp * kKeys;
    if (active)
        for (int d = lane; d < head_dim; d += 32)
            q_row[d] = q[size_t(t) * size_t(q_stride) + size_t(head) * size_t(head_dim) + size_t(d)] * q_scale;

    float m = -INFINITY, l = 0.0f;  // running max (log2 units) and this lane's share of the sum
    float acc[DimsPerLane];
    for (int i = 0; i < DimsPerLane; ++i) acc[i] = 0.0f;

    for (int base = 0; base < block_end; base += kKeys) {  // the same chunks for the whole block
        const int chunk = min(kKeys, block_end - base);
        for (int idx = int(threadIdx.x); idx < chunk * head_dim; idx += kThreads) {
            const int j = idx / head_dim, d = idx % head_dim;
            const size_t at = size_t(base + j) * size_t(kv_stride) + kv_column + size_t(d);
            k_tile[j * pitch + d] = widen<KV>(k, at);
            v_tile[j * head_dim + d] = widen<KV>(v, at);
        }
        __syncthreads();
        if (active && base < key_end) {
            const int valid = min(kKeys, key_end - base);  // >= 1: key `base` is always visible
            float s = -INFINITY;
            if (lane < valid) {
                const float* k_row = k_tile + lane * pitch;
                float dot = 0.0f;
                for (int d = 0; d < head_dim; ++d) dot = fmaf(q_row[d], k_row[d], dot);
                s = dot;
            }
            const float m_new = fmaxf(m, warp_max(s));  // finite
            const float correction = exp2f(m - m_new);  // 0 on the first chunk (m = -inf)
            const float p = lane < valid ? exp2f(s - m_new) : 0.0f;
            l = l * correction + p;
            w_row[lane] = p;
            __syncwarp();
            for (int i = 0; i < DimsPerLane; ++i) {
                const int d = lane + 32 * i;
                if (d >= head_dim) break;
                float a = acc[i] * correction;
                for (int j = 0; j < valid; ++j) a = fmaf(w_row[j], v_tile[j * head_dim + d], a);
                acc[i] = a;
            }
            m = m_new;
        }
        __syncthreads();  // the tiles and weights are refilled next chunk
    }
    if (active) {
        const float inv_sum = 1.0f / warp_sum(l);
        float* out_row = out + size_t(t) * size_t(out_stride) + size_t(head) * size_t(head_dim);
        for (int i = 0; i < DimsPerLane; ++i) {
            const int d = lane + 32 * i;
            if (d < head_dim) out_row[d] = acc[i] * inv_sum;
        }
    }
}

template <DType KV, int DimsPerLane>
void launch_attention(dim3 grid, size_t shared_bytes, cudaStream_t stream, const float* q, int q_stride, const void* k,
                      const void* v, int kv_stride, float* out, int out_stride, int n_queries, int n_keys, int group,
                      int head_dim, int causal_offset, float q_scale) {
    launch("attention", attention_kernel<KV, DimsPerLane>, grid, dim3(kThreads), shared_bytes, stream, q, q_stride, k,
           v, kv_stride, out, out_stride, n_queries, n_keys, group, head_dim, causal_offset, q_scale);
}

template <DType KV>
void launch_for_head_dim(dim3 grid, size_t shared_bytes, cudaStream_t stream, const float* q, int q_stride,
                         const void* k, const void* v, int kv_stride, float* out, int out_stride, int n_queries,
                         int n_keys, int group, int head_dim, int causal_offset, float q_scale) {
    switch ((head_dim + 31) / 32) {
#define FASTVLM_ATTENTION_DIMS(n)                                                                                     \
    case n:                                                                                                           \
        launch_attention<KV, n>(grid, shared_bytes, stream, q, q_stride, k, v, kv_stride, out, out_stride, n_queries, \
                                n_keys, group, head_dim, causal_offset, q_scale);                                     \
        break;
        FASTVLM_ATTENTION_DIMS(1)
        FASTVLM_ATTENTION_DIMS(2)
        FASTVLM_ATTENTION_DIMS(3)
        FASTVLM_ATTENTION_DIMS(4)
#undef FASTVLM_ATTENTION_DIMS
    }
}

}  // namespace

void attention(const float* q, int q_stride, const void* k, const void* v, int kv_stride, DType kv_dtype, float* out,
               int out_stride, int n_queries, int n_keys, int heads, int kv_heads, int head_dim, int causal_offset,
               float scale, cudaStream_t stream) {
    if (n_queries < 0 || n_keys < 1 || heads <= 0 || kv_heads <= 0 || head_dim <= 0)
        fail("attention", "bad shape: ", n_queries, " queries, ", n_keys, " keys, ", heads, " heads over ", kv_heads,
             " kv heads of ", head_dim);
    if (heads % kv_heads != 0) fail("attention", heads, " query heads cannot share ", kv_heads, " kv heads");
    if (head_dim > kAttentionMaxHeadDim)
        fail("attention", "head_dim ", head_dim, " is not supported (at most ", kAttentionMaxHeadDim, ")");
    if (kv_heads > 65535) fail("attention", kv_heads, " kv heads is more than a grid dimension holds");
    const int64_t width = int64_t(heads) * head_dim, kv_width = int64_t(kv_heads) * head_dim;
    if (q_stride < width || out_stride < width || kv_stride < kv_width)
        fail("attention", "row strides q ", q_stride, ", kv ", kv_stride, ", out ", out_stride,
             " are shorter than the rows of ", heads, " heads and ", kv_heads, " kv heads of ", head_dim);
    if (causal_offset >= 0 && int64_t(causal_offset) + n_queries > n_keys)
        fail("attention", "causal queries at positions [", causal_offset, ", ", int64_t(causal_offset) + n_queries,
             ") need more than the ", n_keys, " keys given");
    if (!std::isfinite(scale)) fail("attention", "scale ", scale, " is not a finite number");
    if (kv_dtype != DType::F32 && kv_dtype != DType::F16)
        fail("attention", "kv dtype ", dtype_name(kv_dtype), " (expected F32 or F16)");
    if (n_queries == 0) return;
    const int group = heads / kv_heads;
    if (int64_t(n_queries) * group > (int64_t(1) << 30))
        fail("attention", n_queries, " queries of ", group, " heads per kv head are more rows than one launch takes");
    const dim3 grid(ceil_div(size_t(n_queries) * size_t(group), kWarps), unsigned(kv_heads));
    const size_t shared_bytes = attention_shared_bytes(head_dim);
    const float q_scale = scale * kLog2e;
    if (kv_dtype == DType::F32)
        launch_for_head_dim<DType::F32>(grid, shared_bytes, stream, q, q_stride, k, v, kv_stride, out, out_stride,
                                        n_queries, n_keys, group, head_dim, causal_offset, q_scale);
    else
        launch_for_head_dim<DType::F16>(grid, shared_bytes, stream, q, q_stride, k, v, kv_stride, out, out_stride,
                                        n_queries, n_keys, group, head_dim, causal_offset, q_scale);
}

}  // namespace fastvlm::gpu
