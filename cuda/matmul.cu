// Dense matrix product y[m, n] = act(x[m, k] w[n, k]^T + bias[n]) on CUDA cores: fp32
// activations, weights F32, F16 or BF16 widened as they are loaded, fp32 accumulation, bias
// and activation fused into the store. Two kernels:
//
// GEMV (m <= 4: decode, a handful of tokens). One warp per weight row, four warps per
// 128-thread block, blocks stepping over the rows beyond a capped grid. Each lane streams its
// share of the row as 128-bit loads (8 values: one load for 16-bit weights, two for fp32),
// multiplies it with the same slice of every x row (x is m * k * 4 bytes, read by every warp
// from L1/L2), and the warp sums with shuffles; lane i writes row i of the output. Rows with
// k % 8 != 0 or unaligned pointers take a scalar loop.
// Roofline: n * k * sizeof(w) bytes of weights dominate (plus m * (k + n) * 4), 2 m n k FLOPs,
// so it is bandwidth bound: Qwen2's down_proj (896 x 4864, fp16) is 8.7 MB, 2.6 us at an H100's
// 3.35 TB/s; the tied lm_head (151936 x 896, fp16) is 272 MB, 81 us.
//
// GEMM (m > 4: prefill, vision tokens, projector). A 256-thread block owns a 64 x 64 output
// tile; each thread a 4 x 4 register tile (rows 4 ty.., columns 4 tx..). The k axis is walked
// in slices of 16: every thread loads four consecutive k of one x row and of one w row (128-bit
// for x and fp32 w, 64-bit for 16-bit w, when k % 4 == 0 and the pointers are aligned), widens
// them and stores them transposed into shared memory ([k][row], padded by 4 floats), so that a
// thread's four rows (or columns) are one float4. The next slice's global loads are issued
// before the current slice is multiplied (register double buffering). Per slice a thread does
// 256 FMAs (16 k steps of its 4 x 4 tile) for 32 shared-memory 128-bit loads.
// Roofline per block and slice: 64 * 16 * (4 + sizeof(w)) bytes staged for 2 * 64 * 64 * 16
// FLOPs, 21 FLOP/byte with fp16 weights; x is fetched ceil(n / 64) times and w ceil(m / 64)
// times, mostly from L2. Example: FastViTHD's stage-0 ConvFFN fc1 at 1024 x 1024 (m 65536,
// n 384, k 96) is 4.8 GFLOP, 80 us at the H100's ~60 TFLOP/s fp32 FMA peak, which this CUDA-core
// kernel reaches only in part (not yet measured; tensor cores are the next version).
#include "cuda/matmul.cuh"

#include <algorithm>

#include "cuda/activation.cuh"
#include "cuda/reduce.cuh"
#include "cuda/vec.cuh"
#include "cuda/widen.cuh"

namespace fastvlm::gpu {
namespace {

// ------------------------------------------------------------------ vector loads, widened

// Two bf16 values packed in a 32-bit word, the first in the low half (little endian).
__device__ __forceinline__ float bf16_low(unsigned word) { return __uint_as_float(word << 16); }
__device__ __forceinline__ float bf16_high(unsigned word) { return __uint_as_float(word & 0xffff0000u); }

// Values i .. i + 3 of a float tensor of dtype D, aligned to the load (16 bytes for F32, 8 for
// 16-bit types).
template <DType D>
__device__ __forceinline__ void load_widen4(const void* p, size_t i, float (&f)[4]) {
    if constexpr (D == DType::F32) {
        const float4 v = __ldg(reinterpret_cast<const float4*>(static_cast<const float*>(p) + i));
        f[0] = v.x, f[1] = v.y, f[2] = v.z, f[3] = v.w;
    } else {
        const uint2 v = __ldg(reinterpret_cast<const uint2*>(static_cast<const unsigned short*>(p) + i));
        if constexpr (D == DType::F16) {
            const __half2* h = reinterpret_cast<const __half2*>(&v);
            const float2 a = __half22float2(h[0]), b = __half22float2(h[1]);
            f[0] = a.x, f[1] = a.y, f[2] = b.x, f[3] = b.y;
        } else {
            f[0] = bf16_low(v.x), f[1] = bf16_high(v.x), f[2] = bf16_low(v.y), f[3] = bf16_high(v.y);
        }
    }
}

// Values i .. i + 7, 16-byte aligned.
template <DType D>
__device__ __forceinline__ void load_widen8(const void* p, size_t i, float (&f)[8]) {
    if constexpr (D == DType::F32) {
        const float4* v = reinterpret_cast<const float4*>(static_cast<const float*>(p) + i);
        const float4 a = __ldg(v), b = __ldg(v + 1);
        f[0] = a.x, f[1] = a.y, f[2] = a.z, f[3] = a.w, f[4] = b.x, f[5] = b.y, f[6] = b.z, f[7] = b.w;
    } else if constexpr (D == DType::F16) {
        unpack_half8(load_half8(static_cast<const __half*>(p) + i), f);
    } else {
        const uint4 v = __ldg(reinterpret_cast<const uint4*>(static_cast<const unsigned short*>(p) + i));
        f[0] = bf16_low(v.x), f[1] = bf16_high(v.x), f[2] = bf16_low(v.y), f[3] = bf16_high(v.y);
        f[4] = bf16_low(v.z), f[5] = bf16_high(v.z), f[6] = bf16_low(v.w), f[7] = bf16_high(v.w);
    }
}

// ------------------------------------------------------------------ GEMV, m <= 4

constexpr int kGemvRows = 4;   // the most rows of x the GEMV path takes
constexpr int kGemvWarps = 4;  // weight rows in flight per 128-thread block
constexpr unsigned kGemvMaxBlocks = 4096;

template <DType D, bool Vectorized>
__global__ void __launch_bounds__(32 * kGemvWarps)
    matmul_gemv_kernel(const float* __restrict__ x, const void* __restrict__ w, const float* __restrict__ bias,
                       float* __restrict__ y, int m, int n, int k, Activation act) {
    const int lane = int(threadIdx.x) % 32;
    const int stride = int(gridDim.x) * kGemvWarps;
    // The 32 lanes of a warp walk the same rows, so the shuffles below always see full warps.
    for (int row = int(blockIdx.x) * kGemvWarps + int(threadIdx.x) / 32; row < n; row += stride) {
        const size_t row_start = size_t(row) * size_t(k);  // w[row, 0]
        float sum[kGemvRows] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (Vectorized) {
            const int chunks = k / 8;
#pragma unroll 2
            for (int c = lane; c < chunks; c += 32) {
                float wf[8];
                load_widen8<D>(w, row_start + size_t(8 * c), wf);
#pragma unroll
                for (int i = 0; i < kGemvRows; ++i) {
                    if (i < m) {
                        float xf[8];
                        load_widen8<DType::F32>(x, size_t(i) * size_t(k) + size_t(8 * c), xf);
#pragma unroll
                        for (int j = 0; j < 8; ++j) sum[i] = fmaf(wf[j], xf[j], sum[i]);
                    }
                }
            }
        } else {
            for (int c = lane; c < k; c += 32) {
                const float wv = widen<D>(w, row_start + size_t(c));
#pragma unroll
                for (int i = 0; i < kGemvRows; ++i)
                    if (i < m) sum[i] = fmaf(wv, x[size_t(i) * size_t(k) + size_t(c)], sum[i]);
            }
        }
        const float b = bias ? bias[row] : 0.0f;
#pragma unroll
        for (int i = 0; i < kGemvRows; ++i) {
            if (i < m) {  // m is the same for every lane
                const float total = warp_sum(sum[i]);
                if (lane == i) y[size_t(i) * size_t(n) + size_t(row)] = apply_activation(total + b, act);
            }
        }
    }
}

// ------------------------------------------------------------------ GEMM, m > 4

constexpr int kTile = 64;          // output tile side
constexpr int kSlice = 16;         // depth of k staged in shared memory per step
constexpr int kPad = 4;            // keeps float4 alignment of the rows of the staged slices
constexpr int kGemmThreads = 256;  // 16 x 16 threads, a 4 x 4 register tile each
constexpr unsigned kMaxGridY = 65535;

// Values kk .. kk + 3 of one row (of x or w), widened; zeros past the end of the row or for a
// row outside the matrix. Vectorized: k % 4 == 0, so the four are all inside or all outside.
template <DType D, bool Vectorized>
__device__ __forceinline__ void fetch4(const void* base, size_t row_start, bool row_inside, int kk, int k,
                                       float (&f)[4]) {
    if (Vectorized) {
        if (row_inside && kk < k) {
            load_widen4<D>(base, row_start + size_t(kk), f);
        } else {
            f[0] = f[1] = f[2] = f[3] = 0.0f;
        }
    } else {
#pragma unroll
        for (int j = 0; j < 4; ++j) f[j] = row_inside && kk + j < k ? widen<D>(base, row_start + size_t(kk + j)) : 0.0f;
    }
}

template <DType D, bool Vectorized>
__global__ void __launch_bounds__(kGemmThreads)
    matmul_gemm_kernel(const float* __restrict__ x, const void* __restrict__ w, const float* __restrict__ bias,
                       float* __restrict__ y, int m, int n, int k, Activation act, bool store4) {
    // One k slice of the tile's x rows and w rows, transposed: [k][row of the tile].
    __shared__ __align__(16) float x_slice[kSlice][kTile + kPad];
    __shared__ __align__(16) float w_slice[kSlice][kTile + kPad];

    const int tid = int(threadIdx.x);
    const int tx = tid % 16, ty = tid / 16;  // output columns col0 + 4 tx .., rows row0 + 4 ty ..
    const int row0 = int(blockIdx.y) * kTile, col0 = int(blockIdx.x) * kTile;

    // This thread loads k values lk .. lk + 3 (of each slice) of tile row lr of x and of w.
    const int lr = tid / 4, lk = (tid % 4) * 4;
    const bool x_inside = row0 + lr < m, w_inside = col0 + lr < n;
    const size_t x_start = x_inside ? size_t(row0 + lr) * size_t(k) : 0;
    const size_t w_start = w_inside ? size_t(col0 + lr) * size_t(k) : 0;

    float x_next[4], w_next[4];
    fetch4<DType::F32, Vectorized>(x, x_start, x_inside, lk, k, x_next);
    fetch4<D, Vectorized>(w, w_start, w_inside, lk, k, w_next);

    float acc[4][4] = {};
    for (int k0 = 0; k0 < k; k0 += kSlice) {  // the same trip count for the whole block
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            x_slice[lk + j][lr] = x_next[j];
            w_slice[lk + j][lr] = w_next[j];
        }
        __syncthreads();
        // The next slice's loads are in flight while this one is multiplied.
        if (k0 + kSlice < k) {
            fetch4<DType::F32, Vectorized>(x, x_start, x_inside, k0 + kSlice + lk, k, x_next);
            fetch4<D, Vectorized>(w, w_start, w_inside, k0 + kSlice + lk, k, w_next);
        }
#pragma unroll
        for (int kk = 0; kk < kSlice; ++kk) {
            const float4 a4 = *reinterpret_cast<const float4*>(&x_slice[kk][4 * ty]);
            const float4 b4 = *reinterpret_cast<const float4*>(&w_slice[kk][4 * tx]);
            const float a[4] = {a4.x, a4.y, a4.z, a4.w}, b[4] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();  // the slices are overwritten next step
    }

    // Epilogue: bias, activation, and a float4 store per row when the row allows it.
    const int col = col0 + 4 * tx;
    float b[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) b[j] = bias && col + j < n ? bias[col + j] : 0.0f;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int row = row0 + 4 * ty + i;
        if (row >= m || col >= n) continue;
        float v[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) v[j] = apply_activation(acc[i][j] + b[j], act);
        float* y_row = y + size_t(row) * size_t(n);
        if (store4) {  // n % 4 == 0 and y aligned: col + 3 < n as well
            *reinterpret_cast<float4*>(y_row + col) = make_float4(v[0], v[1], v[2], v[3]);
        } else {
#pragma unroll
            for (int j = 0; j < 4; ++j)
                if (col + j < n) y_row[col + j] = v[j];
        }
    }
}

}  // namespace

void matmul(const float* x, const void* w, DType w_dtype, const float* bias, float* y, int m, int n, int k,
            Activation act, cudaStream_t stream) {
    if (m < 0 || n < 0 || k < 0) fail("matmul", "bad shape: m ", m, ", n ", n, ", k ", k);
    with_float_dtype(w_dtype, "matmul", "weight", [&](auto tag) {
        constexpr DType D = decltype(tag)::value;
        if (m == 0 || n == 0) return;
        if (m > kGemvRows && ceil_div(size_t(m), kTile) > kMaxGridY)
            fail("matmul", "m ", m, " is more than the ", size_t(kMaxGridY) * kTile, " rows one launch covers");
        if (!y || (k > 0 && (!x || !w))) fail("matmul", "null pointer among x, w, y");
        if (static_cast<const void*>(x) == static_cast<const void*>(y)) fail("matmul", "output aliases the input");

        if (m <= kGemvRows) {
            const dim3 grid(std::min(ceil_div(size_t(n), kGemvWarps), kGemvMaxBlocks)), block(32 * kGemvWarps);
            if (k % 8 == 0 && aligned_16(x) && aligned_16(w))
                launch("matmul_gemv", matmul_gemv_kernel<D, true>, grid, block, 0, stream, x, w, bias, y, m, n, k, act);
            else
                launch("matmul_gemv", matmul_gemv_kernel<D, false>, grid, block, 0, stream, x, w, bias, y, m, n, k,
                       act);
            return;
        }
        const dim3 grid(ceil_div(size_t(n), kTile), ceil_div(size_t(m), kTile)), block(kGemmThreads);
        const bool store4 = n % 4 == 0 && aligned_16(y);
        if (k % 4 == 0 && aligned_16(x) && aligned_16(w))
            launch("matmul_gemm", matmul_gemm_kernel<D, true>, grid, block, 0, stream, x, w, bias, y, m, n, k, act,
                   store4);
        else
            launch("matmul_gemm", matmul_gemm_kernel<D, false>, grid, block, 0, stream, x, w, bias, y, m, n, k, act,
                   store4);
    });
}

}  // namespace fastvlm::gpu
