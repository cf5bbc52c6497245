// Elementwise and layout kernels on fp32 activations.
//
// Flat kernels (activate, add, add_scaled, scale_channels, the fp16 conversions) are
// grid-stride loops over the elements: 256-thread blocks, the grid capped at kMaxBlocks (about
// one wave of an H100: 132 SMs x 8 resident blocks), each thread stepping by the whole grid so
// loads stay coalesced. transpose goes through 32x32 shared-memory tiles (one row of padding against
// bank conflicts), so both the read and the write are coalesced; blocks step over the tiles.
// mean_rows gives one thread a column and sums it down the rows in row order, the order the
// CPU backend uses, so the two agree bit for bit.
//
// Roofline: all are bandwidth bound, 4 bytes per element read and per element written (8 for
// the read of y in add and add_scaled, 2 for an fp16 side): a [1024, 3072] activation moves
// 12.6 MB per pass, about 4 us at an H100's 3.3 TB/s.
#include "cuda/elementwise.cuh"

#include <algorithm>

#include "cuda/activation.cuh"
#include "cuda/widen.cuh"

namespace fastvlm::gpu {
namespace {

constexpr int kThreads = 256;
constexpr unsigned kMaxBlocks = 1024;
constexpr int kTile = 32, kTileRows = 8;  // transpose: a 32x32 tile per block of 32x8 threads

dim3 grid_for(size_t n) { return dim3(std::max(1u, std::min<unsigned>(ceil_div(n, kThreads), kMaxBlocks))); }

__device__ __forceinline__ size_t first_index() { return size_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ size_t grid_stride() { return size_t(gridDim.x) * blockDim.x; }

template <Activation Act>
__global__ void __launch_bounds__(kThreads) activate_kernel(float* x, size_t n) {
    for (size_t i = first_index(); i < n; i += grid_stride()) x[i] = apply_activation(x[i], Act);
}

__global__ void __launch_bounds__(kThreads) add_kernel(float* y, const float* __restrict__ x, size_t n) {
    for (size_t i = first_index(); i < n; i += grid_stride()) y[i] += x[i];
}

// The column of a flat index of a [rows, cols] matrix, walked along a grid-stride loop: one
// division per thread, then a subtraction per step (a 64-bit division per element is slow).
struct ColumnWalk {
    size_t i;
    int col, step, cols;
    __device__ __forceinline__ explicit ColumnWalk(int cols_)
        : i(first_index()), col(int(i % size_t(cols_))), step(int(grid_stride() % size_t(cols_))), cols(cols_) {}
    __device__ __forceinline__ void next() {
        i += grid_stride();
        col += step;
        if (col >= cols) col -= cols;
    }
};

template <DType ScaleType>
__global__ void __launch_bounds__(kThreads)
    add_scaled_kernel(float* y, const float* __restrict__ x, const void* __restrict__ scale, size_t n, int cols) {
    for (ColumnWalk w(cols); w.i < n; w.next()) y[w.i] += widen<ScaleType>(scale, size_t(w.col)) * x[w.i];
}

__global__ void __launch_bounds__(kThreads)
    scale_channels_kernel(float* x, const float* __restrict__ s, size_t n, int cols) {
    for (ColumnWalk w(cols); w.i < n; w.next()) x[w.i] *= s[w.col];
}

__global__ void __launch_bounds__(kTile* kTileRows)
    transpose_kernel(float* __restrict__ y, const float* __restrict__ x, int rows, int cols, int tiles_across,
                     int n_tiles) {
    __shared__ float tile[kTile][kTile + 1];
    const int tx = int(threadIdx.x), ty = int(threadIdx.y);
    for (int t = int(blockIdx.x); t < n_tiles; t += int(gridDim.x)) {
        const int r0 = (t / tiles_across) * kTile, c0 = (t % tiles_across) * kTile;
        for (int i = ty; i < kTile; i += kTileRows) {  // read along x's rows
            const int r = r0 + i, c = c0 + tx;
            if (r < rows && c < cols) tile[i][tx] = x[size_t(r) * size_t(cols) + size_t(c)];
        }
        __syncthreads();
        for (int i = ty; i < kTile; i += kTileRows) {  // write along y's rows
            const int c = c0 + i, r = r0 + tx;
            if (r < rows && c < cols) y[size_t(c) * size_t(rows) + size_t(r)] = tile[tx][i];
        }
        __syncthreads();  // the tile is refilled next step
    }
}

__global__ void __launch_bounds__(kThreads)
    mean_rows_kernel(float* __restrict__ y, const float* __restrict__ x, int rows, int cols) {
    for (size_t c = first_index(); c < size_t(cols); c += grid_stride()) {
        float sum = 0.0f;
        for (int r = 0; r < rows; ++r) sum += x[size_t(r) * size_t(cols) + c];
        y[c] = sum / float(rows);
    }
}

__global__ void __launch_bounds__(kThreads) round_to_fp16_kernel(float* x, size_t n) {
    for (size_t i = first_index(); i < n; i += grid_stride()) x[i] = __half2float(__float2half_rn(x[i]));
}

__global__ void __launch_bounds__(kThreads)
    f32_to_f16_kernel(const float* __restrict__ x, __half* __restrict__ y, size_t n) {
    for (size_t i = first_index(); i < n; i += grid_stride()) y[i] = __float2half_rn(x[i]);
}

__global__ void __launch_bounds__(kThreads)
    f16_to_f32_kernel(const __half* __restrict__ x, float* __restrict__ y, size_t n) {
    for (size_t i = first_index(); i < n; i += grid_stride()) y[i] = __half2float(x[i]);
}

template <DType D>
__global__ void __launch_bounds__(kThreads) widen_kernel(const void* __restrict__ x, float* __restrict__ y, size_t n) {
    for (size_t i = first_index(); i < n; i += grid_stride()) y[i] = widen<D>(x, i);
}

__global__ void __launch_bounds__(kThreads)
    f32_to_bf16_kernel(const float* __restrict__ x, uint16_t* __restrict__ y, size_t n) {
    for (size_t i = first_index(); i < n; i += grid_stride()) {
        unsigned u = __float_as_uint(x[i]);
        if ((u & 0x7fffffffu) > 0x7f800000u) {  // NaN: keep it quiet
            y[i] = uint16_t((u >> 16) | 0x40u);
            continue;
        }
        u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
        y[i] = uint16_t(u >> 16);
    }
}

void check_matrix(const char* op, int rows, int cols) {
    if (rows < 0 || cols < 0) fail(op, "bad shape: rows ", rows, ", cols ", cols);
}

bool overlap(const void* a, const void* b, size_t bytes) {
    const auto p = reinterpret_cast<uintptr_t>(a), q = reinterpret_cast<uintptr_t>(b);
    return p < q + bytes && q < p + bytes;
}

}  // namespace

void activate(float* x, size_t n, Activation act, cudaStream_t stream) {
    switch (act) {
        case Activation::None:
            return;
        case Activation::GELU:
            if (n) launch("activate", activate_kernel<Activation::GELU>, grid_for(n), dim3(kThreads), 0, stream, x, n);
            return;
        case Activation::ReLU:
            if (n) launch("activate", activate_kernel<Activation::ReLU>, grid_for(n), dim3(kThreads), 0, stream, x, n);
            return;
        case Activation::Sigmoid:
            if (n)
                launch("activate", activate_kernel<Activation::Sigmoid>, grid_for(n), dim3(kThreads), 0, stream, x, n);
            return;
    }
    fail("activate", "unknown activation ", int(act));
}

void add(float* y, const float* x, size_t n, cudaStream_t stream) {
    if (n) launch("add", add_kernel, grid_for(n), dim3(kThreads), 0, stream, y, x, n);
}

void add_scaled(float* y, const float* x, const void* scale, DType scale_dtype, int rows, int cols,
                cudaStream_t stream) {
    check_matrix("add_scaled", rows, cols);
    with_float_dtype(scale_dtype, "add_scaled", "scale", [&](auto tag) {
        const size_t n = size_t(rows) * size_t(cols);
        if (n)
            launch("add_scaled", add_scaled_kernel<decltype(tag)::value>, grid_for(n), dim3(kThreads), 0, stream, y, x,
                   scale, n, cols);
    });
}

void copy(float* dst, const float* src, size_t n, cudaStream_t stream) {
    const size_t bytes = n * sizeof(float);
    if (n == 0 || dst == src) return;
    if (overlap(dst, src, bytes)) fail("copy", "source and destination of ", n, " floats overlap");
    FASTVLM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream));
}

void transpose(float* y, const float* x, int rows, int cols, cudaStream_t stream) {
    check_matrix("transpose", rows, cols);
    if (rows == 0 || cols == 0) return;
    if (overlap(y, x, size_t(rows) * size_t(cols) * sizeof(float))) fail("transpose", "output overlaps the input");
    const int tiles_across = (cols + kTile - 1) / kTile;
    const long long n_tiles = (long long)((rows + kTile - 1) / kTile) * tiles_across;
    if (n_tiles > (1ll << 31) - 1) fail("transpose", "bad shape: rows ", rows, ", cols ", cols, " (too many tiles)");
    const dim3 grid(unsigned(std::min<long long>(n_tiles, kMaxBlocks)));
    launch("transpose", transpose_kernel, grid, dim3(kTile, kTileRows), 0, stream, y, x, rows, cols, tiles_across,
           int(n_tiles));
}

void mean_rows(float* y, const float* x, int rows, int cols, cudaStream_t stream) {
    check_matrix("mean_rows", rows, cols);
    if (rows == 0 && cols > 0) fail("mean_rows", "the mean of 0 rows is undefined");
    if (cols)
        launch("mean_rows", mean_rows_kernel, grid_for(size_t(cols)), dim3(kThreads), 0, stream, y, x, rows, cols);
}

void scale_channels(float* x, const float* s, int rows, int cols, cudaStream_t stream) {
    check_matrix("scale_channels", rows, cols);
    const size_t n = size_t(rows) * size_t(cols);
    if (n) launch("scale_channels", scale_channels_kernel, grid_for(n), dim3(kThreads), 0, stream, x, s, n, cols);
}

void round_to_fp16(float* x, size_t n, cudaStream_t stream) {
    if (n) launch("round_to_fp16", round_to_fp16_kernel, grid_for(n), dim3(kThreads), 0, stream, x, n);
}

void f32_to_f16(const float* x, __half* y, size_t n, cudaStream_t stream) {
    if (n) launch("f32_to_f16", f32_to_f16_kernel, grid_for(n), dim3(kThreads), 0, stream, x, y, n);
}

void f16_to_f32(const __half* x, float* y, size_t n, cudaStream_t stream) {
    if (n) launch("f16_to_f32", f16_to_f32_kernel, grid_for(n), dim3(kThreads), 0, stream, x, y, n);
}

void widen_to_f32(const void* x, DType dtype, float* y, size_t n, cudaStream_t stream) {
    with_float_dtype(dtype, "widen_to_f32", "input", [&](auto tag) {
        if (n) launch("widen_to_f32", widen_kernel<decltype(tag)::value>, grid_for(n), dim3(kThreads), 0, stream, x, y, n);
    });
}

void f32_to_bf16(const float* x, uint16_t* y, size_t n, cudaStream_t stream) {
    if (n) launch("f32_to_bf16", f32_to_bf16_kernel, grid_for(n), dim3(kThreads), 0, stream, x, y, n);
}

}  // namespace fastvlm::gpu
