// Rotary embedding, rotate_half form: (a, b) = (x[i], x[i + half]) becomes
// (a cos - b sin, b cos + a sin) with angle = position * theta^(-2i / head_dim).
//
// One block per token; one thread per (head, pair) of q and k together, so a single launch
// rotates both. Angles are computed as the reference does (fp32 inverse frequency, fp32
// product with the position) and sincosf is the accurate one: positions reach thousands of
// radians, where the fast intrinsics lose the phase.
//
// rope_f32 rotates one fp32 tensor: one block per row (blocks step over the rows beyond a
// capped grid); the block first fills a table of the row's cos and sin per pair in shared
// memory, so each angle is computed once and not once per head.
//
// Roofline: (n_heads + n_kv_heads) * head_dim * 4 bytes per token (read and write): tiny;
// it exists as a kernel to keep q and k on the device. Twice that for fp32.
#include "cuda/rope.cuh"

#include <algorithm>

namespace fastvlm::gpu {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    rope_kernel(__half* q, __half* k, const int* __restrict__ positions, int n_heads, int n_kv_heads, int head_dim,
                float theta) {
    const int token = int(blockIdx.x), half = head_dim / 2;
    const float position = float(positions[token]);
    for (int i = int(threadIdx.x); i < (n_heads + n_kv_heads) * half; i += kThreads) {
        const int head = i / half, pair = i % half;
        __half* v = head < n_heads ? q + (size_t(token) * n_heads + head) * head_dim
                                   : k + (size_t(token) * n_kv_heads + (head - n_heads)) * head_dim;
        const float inv_freq = 1.0f / powf(theta, float(2 * pair) / float(head_dim));
        float s, c;
        sincosf(position * inv_freq, &s, &c);
        const float a = __half2float(v[pair]), b = __half2float(v[pair + half]);
        v[pair] = __float2half_rn(a * c - b * s);
        v[pair + half] = __float2half_rn(b * c + a * s);
    }
}

constexpr unsigned kMaxBlocks = 1024;
constexpr int kMaxHeadDim = 8192;  // the cos and sin table: 4 * head_dim bytes of shared memory

__global__ void __launch_bounds__(kThreads)
    rope_f32_kernel(float* x, const int* __restrict__ positions, int first_position, int rows, int heads,
                    int head_dim, float theta) {
    FASTVLM_DYNAMIC_SHARED(float, table);  // [2, half]: cos, then sin
    const int half = head_dim / 2;
    for (int r = int(blockIdx.x); r < rows; r += int(gridDim.x)) {  // the same trip count for the whole block
        const float position = float(positions ? positions[r] : first_position + r);  // nullptr: consecutive
        for (int pair = int(threadIdx.x); pair < half; pair += kThreads) {
            const float inv_freq = 1.0f / powf(theta, float(2 * pair) / float(head_dim));
            sincosf(position * inv_freq, &table[half + pair], &table[pair]);
        }
        __syncthreads();
        float* row = x + size_t(r) * size_t(heads) * size_t(head_dim);
        for (int i = int(threadIdx.x); i < heads * half; i += kThreads) {
            const int pair = i % half;
            float* v = row + size_t(i / half) * size_t(head_dim);
            const float c = table[pair], s = table[half + pair];
            const float a = v[pair], b = v[pair + half];
            v[pair] = a * c - b * s;
            v[pair + half] = b * c + a * s;
        }
        __syncthreads();  // the table is refilled for the next row
    }
}

}  // namespace

namespace {
void launch_rope_f32(float* x, const int* positions, int first_position, int rows, int heads, int head_dim,
                     float theta, cudaStream_t stream) {
    if (rows < 0 || heads <= 0 || head_dim <= 0 || head_dim % 2 != 0 || head_dim > kMaxHeadDim)
        fail("rope_f32", "bad shape: rows ", rows, ", heads ", heads, ", head_dim ", head_dim,
             " (head_dim must be even and at most ", kMaxHeadDim, ")");
    if (!(theta > 0.0f)) fail("rope_f32", "theta ", theta, " is not positive");
    if (rows == 0) return;
    const dim3 grid(std::min<unsigned>(unsigned(rows), kMaxBlocks));
    launch("rope_f32", rope_f32_kernel, grid, dim3(kThreads), size_t(head_dim) * sizeof(float), stream, x, positions,
           first_position, rows, heads, head_dim, theta);
}
}  // namespace

void rope_f32(float* x, const int* positions, int rows, int heads, int head_dim, float theta, cudaStream_t stream) {
    if (!positions && rows > 0) fail("rope_f32", "no positions");
    launch_rope_f32(x, positions, 0, rows, heads, head_dim, theta, stream);
}

void rope_f32_consecutive(float* x, int first_position, int rows, int heads, int head_dim, float theta,
                          cudaStream_t stream) {
    if (first_position < 0) fail("rope_f32", "position ", first_position, " is negative");
    launch_rope_f32(x, nullptr, first_position, rows, heads, head_dim, theta, stream);
}

void rope(__half* q, __half* k, const int* positions, int n_tokens, int n_heads, int n_kv_heads, int head_dim,
          float theta, cudaStream_t stream) {
    if (n_tokens < 0 || n_heads <= 0 || n_kv_heads < 0 || head_dim <= 0 || head_dim % 2 != 0)
        fail("rope", "bad shape: n_tokens ", n_tokens, ", n_heads ", n_heads, ", n_kv_heads ", n_kv_heads,
             ", head_dim ", head_dim, " (head_dim must be even)");
    if (!(theta > 0.0f)) fail("rope", "theta ", theta, " is not positive");
    if (n_tokens == 0) return;
    launch("rope", rope_kernel, dim3(unsigned(n_tokens)), dim3(kThreads), 0, stream, q, k, positions, n_heads,
           n_kv_heads, head_dim, theta);
}

}  // namespace fastvlm::gpu
