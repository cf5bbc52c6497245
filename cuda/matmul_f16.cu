// Dense matrix product y[m, n] = act(x[m, k] w[n, k]^T + bias[n]) on tensor cores: fp16 x and
// w, mma.sync m16n8k16 with fp32 accumulators, bias and activation fused into the fp32 store.
// The tiles, the cp.async double buffer and the ldmatrix feeding are cuda/mma_tiles.cuh.
//
// Roofline per block and slice: 2 * 64 * 32 * 2 bytes staged for 2 * 64 * 64 * 32 FLOPs, 64
// FLOP/byte of shared traffic; x is fetched ceil(n / 64) times and w ceil(m / 64) times, mostly
// from L2. Example: Qwen2's gate_proj at a 296-token prompt (m 296, n 4864, k 896) is 2.6 GFLOP,
// about 3 us at an H100's ~990 TFLOP/s dense fp16 peak; this simple kernel reaches only part of
// that (not measured yet). The CPU twin is the CPU backend's GEMM on the same fp16 values
// (runtime/cpu/matmul.h): products are exact, only the summation order differs.
#include "cuda/matmul_f16.cuh"

#include "cuda/activation.cuh"
#include "cuda/mma_tiles.cuh"

namespace fastvlm::gpu {
namespace {

using namespace mma_tiles;

__global__ void __launch_bounds__(kThreads)
    matmul_f16_kernel(const __half* __restrict__ x, const __half* __restrict__ w, const float* __restrict__ bias,
                      float* __restrict__ y, int m, int n, int k, int ldy, Activation act) {
    __shared__ __align__(16) Stage x_tiles[2];
    __shared__ __align__(16) Stage w_tiles[2];
    const int row0 = int(blockIdx.y) * kTile, col0 = int(blockIdx.x) * kTile;
    float acc[2][4][4] = {};
    const int row_bytes = 2 * k;
    main_loop(reinterpret_cast<const unsigned char*>(x), row_bytes, reinterpret_cast<const unsigned char*>(w),
              row_bytes, m, n, row_bytes, row0, col0, x_tiles, w_tiles, acc,
              [](float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) { ptx::mma_m16n8k16_f32_f16(d, a, b, d); });
    store_tiles(acc, m, n, row0, col0, [&](int row, int col, float v) {
        y[int64_t(row) * ldy + col] = apply_activation(v + (bias ? bias[col] : 0.0f), act);
    });
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
    const dim3 grid(ceil_div(size_t(n), mma_tiles::kTile), ceil_div(size_t(m), mma_tiles::kTile));
    launch("matmul_f16", matmul_f16_kernel, grid, dim3(mma_tiles::kThreads), 0, stream, x, w, bias, y, m, n, k, ldy,
           act);
}

}  // namespace fastvlm::gpu
