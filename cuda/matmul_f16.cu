// Dense matrix product y[m, n] = act(x[m, k] w[n, k]^T + bias[n]) on tensor cores: fp16 x and
// w, mma.sync m16n8k16 with fp32 accumulators, bias and activation fused into the fp32 store.
//
// A 128-thread block (four warps, 2 x 2) owns a 64 x 64 output tile; each warp 32 x 32, i.e.
// 2 x 4 tiles of m16n8, eight fp32 accumulators of four per lane. The k axis is walked in slices
// of 32 halves, double-buffered in shared memory: while the tensor cores multiply slice s,
// cp.async brings slice s + 1 (each thread copies two 16-byte chunks of x and two of w; rows past
// m or n, and k past the end, are zero-filled by the copy itself). Shared rows are padded from 32
// to 40 halves (80 bytes), so the eight 16-byte rows an ldmatrix phase reads fall in distinct
// bank groups. Per 16-wide k step a warp loads its two A fragments with ldmatrix.x4 (one 16 x 16
// tile each) and its four B fragments with two ldmatrix.x4: w's rows are the mma's "col" B
// operand as stored, so no transpose is needed. Fragment layouts: cuda/ptx.cuh.
//
// Roofline per block and slice: 2 * 64 * 32 * 2 bytes staged for 2 * 64 * 64 * 32 FLOPs, 64
// FLOP/byte of shared traffic; x is fetched ceil(n / 64) times and w ceil(m / 64) times, mostly
// from L2. Example: Qwen2's gate_proj at a 296-token prompt (m 296, n 4864, k 896) is 2.6 GFLOP,
// about 3 us at an H100's ~990 TFLOP/s dense fp16 peak; this simple kernel reaches only part of
// that (not measured yet). The CPU twin is the CPU backend's GEMM on the same fp16 values
// (runtime/cpu/matmul.h): products are exact, only the summation order differs.
#include "cuda/matmul_f16.cuh"

#include <algorithm>

#include "cuda/activation.cuh"
#include "cuda/ptx.cuh"

namespace fastvlm::gpu {
namespace {

constexpr int kTile = 64;             // output rows and columns per block
constexpr int kSlice = 32;            // k per shared-memory stage
constexpr int kRowHalves = kSlice + 8;  // padded shared row: 80 bytes
constexpr int kThreads = 128;
constexpr int kChunksPerRow = kSlice / 8;  // 16-byte chunks of one row of a slice

// Copies slice [k0, k0 + kSlice) of `rows` rows starting at row0 of src [rows_total, k] into
// tile [kTile][kRowHalves]; missing rows and columns become zeros.
__device__ __forceinline__ void load_slice(__half (*tile)[kRowHalves], const __half* __restrict__ src, int row0,
                                           int rows_total, int k0, int k) {
    for (int c = int(threadIdx.x); c < kTile * kChunksPerRow; c += kThreads) {
        const int r = c / kChunksPerRow, col = (c % kChunksPerRow) * 8;
        const int row = row0 + r, kk = k0 + col;
        const bool inside = row < rows_total && kk < k;  // k % 8 == 0: a chunk is all in or all out
        const __half* from = inside ? src + int64_t(row) * k + kk : src;  // a valid address either way
        ptx::cp_async_16(&tile[r][col], from, inside ? 16 : 0);
    }
}

__global__ void __launch_bounds__(kThreads)
    matmul_f16_kernel(const __half* __restrict__ x, const __half* __restrict__ w, const float* __restrict__ bias,
                      float* __restrict__ y, int m, int n, int k, int ldy, Activation act) {
    __shared__ __align__(16) __half x_tile[2][kTile][kRowHalves];
    __shared__ __align__(16) __half w_tile[2][kTile][kRowHalves];
    const int lane = int(threadIdx.x) % 32, warp = int(threadIdx.x) / 32;
    const int warp_m = (warp / 2) * 32, warp_n = (warp % 2) * 32;  // the warp's 32 x 32 within the tile
    const int row0 = int(blockIdx.y) * kTile, col0 = int(blockIdx.x) * kTile;

    float acc[2][4][4] = {};  // [m16 tile][n8 tile][fragment]
    const int slices = (k + kSlice - 1) / kSlice;
    if (slices > 0) {
        load_slice(x_tile[0], x, row0, m, 0, k);
        load_slice(w_tile[0], w, col0, n, 0, k);
    }
    ptx::cp_async_commit();
    for (int s = 0; s < slices; ++s) {
        const int stage = s % 2;
        if (s + 1 < slices) {  // the next slice flies while this one is multiplied
            load_slice(x_tile[stage ^ 1], x, row0, m, (s + 1) * kSlice, k);
            load_slice(w_tile[stage ^ 1], w, col0, n, (s + 1) * kSlice, k);
        }
        ptx::cp_async_commit();
        ptx::cp_async_wait<1>();  // this slice's copies (all but the newest group) have landed
        __syncthreads();

        // ldmatrix.x4 row addresses: lanes 8i..8i+7 give rows of matrix i.
        const int matrix = lane / 8, matrix_row = lane % 8;
#pragma unroll
        for (int kk = 0; kk < kSlice; kk += 16) {
            uint32_t a[2][4], b[4][2];
#pragma unroll
            for (int mi = 0; mi < 2; ++mi)  // matrices: rows 0-7 / 8-15 (bit 0) x k 0-7 / 8-15 (bit 1)
                ptx::ldmatrix_x4(a[mi], &x_tile[stage][warp_m + 16 * mi + matrix_row + 8 * (matrix & 1)]
                                               [kk + 8 * (matrix >> 1)]);
#pragma unroll
            for (int pair = 0; pair < 2; ++pair) {  // two n8 tiles per x4: k 0-7 / 8-15 (bit 0) x tile (bit 1)
                uint32_t r[4];
                ptx::ldmatrix_x4(r, &w_tile[stage][warp_n + 16 * pair + matrix_row + 8 * (matrix >> 1)]
                                               [kk + 8 * (matrix & 1)]);
                b[2 * pair][0] = r[0];
                b[2 * pair][1] = r[1];
                b[2 * pair + 1][0] = r[2];
                b[2 * pair + 1][1] = r[3];
            }
#pragma unroll
            for (int mi = 0; mi < 2; ++mi)
#pragma unroll
                for (int ni = 0; ni < 4; ++ni) ptx::mma_m16n8k16_f32_f16(acc[mi][ni], a[mi], b[ni], acc[mi][ni]);
        }
        __syncthreads();  // the stage is refilled two slices later
    }

    // Accumulator i of an m16n8 tile is C[group + 8 * (i >> 1)][2 t + (i & 1)].
    const int group = lane / 4, t = lane % 4;
#pragma unroll
    for (int mi = 0; mi < 2; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int row = row0 + warp_m + 16 * mi + group + 8 * (i >> 1);
                const int col = col0 + warp_n + 8 * ni + 2 * t + (i & 1);
                if (row < m && col < n)
                    y[int64_t(row) * ldy + col] = apply_activation(acc[mi][ni][i] + (bias ? bias[col] : 0.0f), act);
            }
}

}  // namespace

bool matmul_f16_supported(const void* x, const void* w, int k) {
    return k % 8 == 0 && aligned_16(x) && aligned_16(w);
}

void matmul_f16(const __half* x, const __half* w, const float* bias, float* y, int m, int n, int k, Activation act,
                cudaStream_t stream, int ldy) {
    if (ldy == 0) ldy = n;
    if (m < 0 || n < 0 || k < 0 || ldy < n)
        fail("matmul_f16", "bad shape: m ", m, ", n ", n, ", k ", k, ", ldy ", ldy);
    if (!matmul_f16_supported(x, w, k))
        fail("matmul_f16", "needs k % 8 == 0 and 16-byte aligned x and w (k ", k, ")");
    if (m == 0 || n == 0) return;
    const dim3 grid(ceil_div(size_t(n), kTile), ceil_div(size_t(m), kTile));
    launch("matmul_f16", matmul_f16_kernel, grid, dim3(kThreads), 0, stream, x, w, bias, y, m, n, k, ldy, act);
}

}  // namespace fastvlm::gpu
