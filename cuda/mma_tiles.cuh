// The main loop of the tensor-core GEMMs (cuda/matmul_f16.cu, cuda/matmul_int8.cu): a 128-thread
// block (four warps, 2 x 2) owns a 64 x 64 tile of y = x w^T; each warp 32 x 32, i.e. 2 x 4
// m16n8 tiles of accumulators. The k axis is walked in slices of 64 bytes (32 fp16 or 64 int8
// values), double-buffered in shared memory: while the tensor cores multiply slice s, cp.async
// brings slice s + 1 (rows past m or n, and bytes past the row, are zero-filled by the copy).
// Shared rows are padded from 64 to 80 bytes, so the eight 16-byte rows an ldmatrix phase reads
// fall in distinct bank groups. Each 32-byte step of a slice is one mma k-step (m16n8k16 for
// fp16, m16n8k32 for int8): the fragments of both are 8 x 8 matrices of 16-bit pairs, which
// ldmatrix.x4 loads for A (one 16-row tile) and for two n8 tiles of B at a time; w's rows are the
// mma's "col" B operand as stored, so no transpose is needed. Fragment layouts: cuda/ptx.cuh.
#pragma once
#include "cuda/common.cuh"
#include "cuda/ptx.cuh"

namespace fastvlm::gpu::mma_tiles {

constexpr int kTile = 64;                     // output rows and columns per block
constexpr int kSliceBytes = 64;               // k bytes per shared-memory stage
constexpr int kRowBytes = kSliceBytes + 16;   // padded shared row
constexpr int kThreads = 128;
constexpr int kChunksPerRow = kSliceBytes / 16;

// One operand's stage: [kTile][kRowBytes].
using Stage = unsigned char[kTile][kRowBytes];

// Copies bytes [k0, k0 + kSliceBytes) of rows row0.. of src (row stride `stride` bytes, `row_bytes`
// of them valid, a multiple of 16) into tile; missing rows and bytes become zeros.
__device__ __forceinline__ void load_slice(Stage& tile, const unsigned char* __restrict__ src, int row0, int rows,
                                           int k0, int row_bytes, int64_t stride) {
    for (int c = int(threadIdx.x); c < kTile * kChunksPerRow; c += kThreads) {
        const int r = c / kChunksPerRow, byte = (c % kChunksPerRow) * 16;
        const int row = row0 + r, kk = k0 + byte;
        const bool inside = row < rows && kk < row_bytes;  // a 16-byte chunk is all in or all out
        const unsigned char* from = inside ? src + int64_t(row) * stride + kk : src;  // a valid address either way
        ptx::cp_async_16(&tile[r][byte], from, inside ? 16 : 0);
    }
}

// Runs the k loop of the block at (row0, col0) of y = x w^T, x [m rows], w [n rows], each row
// `row_bytes` long in memory of row strides x_stride, w_stride. `step(acc, a, b)` issues one
// mma k-step of the warp's 2 x 4 tiles. `x_tiles`, `w_tiles`: two stages each in shared memory.
template <typename Acc, typename Step>
__device__ __forceinline__ void main_loop(const unsigned char* __restrict__ x, int64_t x_stride,
                                          const unsigned char* __restrict__ w, int64_t w_stride, int m, int n,
                                          int row_bytes, int row0, int col0, Stage* x_tiles, Stage* w_tiles,
                                          Acc (&acc)[2][4][4], Step step) {
    const int lane = int(threadIdx.x) % 32, warp = int(threadIdx.x) / 32;
    const int warp_m = (warp / 2) * 32, warp_n = (warp % 2) * 32;
    const int slices = (row_bytes + kSliceBytes - 1) / kSliceBytes;
    if (slices > 0) {
        load_slice(x_tiles[0], x, row0, m, 0, row_bytes, x_stride);
        load_slice(w_tiles[0], w, col0, n, 0, row_bytes, w_stride);
    }
    ptx::cp_async_commit();
    // ldmatrix.x4 row addresses: lanes 8i..8i+7 give the rows of matrix i.
    const int matrix = lane / 8, matrix_row = lane % 8;
    for (int s = 0; s < slices; ++s) {
        const int stage = s % 2;
        if (s + 1 < slices) {  // the next slice flies while this one is multiplied
            load_slice(x_tiles[stage ^ 1], x, row0, m, (s + 1) * kSliceBytes, row_bytes, x_stride);
            load_slice(w_tiles[stage ^ 1], w, col0, n, (s + 1) * kSliceBytes, row_bytes, w_stride);
        }
        ptx::cp_async_commit();
        ptx::cp_async_wait<1>();  // this slice's copies (all but the newest group) have landed
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < kSliceBytes; kk += 32) {
            uint32_t a[2][4], b[4][2];
#pragma unroll
            for (int mi = 0; mi < 2; ++mi)  // matrices: rows 0-7 / 8-15 (bit 0) x bytes 0-15 / 16-31 (bit 1)
                ptx::ldmatrix_x4(a[mi], &x_tiles[stage][warp_m + 16 * mi + matrix_row + 8 * (matrix & 1)]
                                                  [kk + 16 * (matrix >> 1)]);
#pragma unroll
            for (int pair = 0; pair < 2; ++pair) {  // bytes 0-15 / 16-31 (bit 0) x n8 tile (bit 1)
                uint32_t r[4];
                ptx::ldmatrix_x4(r, &w_tiles[stage][warp_n + 16 * pair + matrix_row + 8 * (matrix >> 1)]
                                                  [kk + 16 * (matrix & 1)]);
                b[2 * pair][0] = r[0];
                b[2 * pair][1] = r[1];
                b[2 * pair + 1][0] = r[2];
                b[2 * pair + 1][1] = r[3];
            }
#pragma unroll
            for (int mi = 0; mi < 2; ++mi)
#pragma unroll
                for (int ni = 0; ni < 4; ++ni) step(acc[mi][ni], a[mi], b[ni]);
        }
        __syncthreads();  // the stage is refilled two slices later
    }
}

// Calls store(row, col, value) for each accumulator of the warp inside [m, n): accumulator i of an
// m16n8 tile is C[group + 8 * (i >> 1)][2 t + (i & 1)].
template <typename Acc, typename Store>
__device__ __forceinline__ void store_tiles(const Acc (&acc)[2][4][4], int m, int n, int row0, int col0, Store store) {
    const int lane = int(threadIdx.x) % 32, warp = int(threadIdx.x) / 32;
    const int warp_m = (warp / 2) * 32, warp_n = (warp % 2) * 32;
    const int group = lane / 4, t = lane % 4;
#pragma unroll
    for (int mi = 0; mi < 2; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int row = row0 + warp_m + 16 * mi + group + 8 * (i >> 1);
                const int col = col0 + warp_n + 8 * ni + 2 * t + (i & 1);
                if (row < m && col < n) store(row, col, acc[mi][ni][i]);
            }
}

}  // namespace fastvlm::gpu::mma_tiles
