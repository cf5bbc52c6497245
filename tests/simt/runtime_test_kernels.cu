// Kernels that exercise the SIMT runtime (see runtime_test_kernels.cuh).
#include "tests/simt/runtime_test_kernels.cuh"

#include "cuda/ptx.cuh"

namespace simt_test {

__global__ void reverse_in_block_kernel(const int* in, int* out) {
    __shared__ int s[1024];
    const int n = int(blockDim.x * blockDim.y * blockDim.z);
    const int t = int(threadIdx.x + threadIdx.y * blockDim.x + threadIdx.z * blockDim.x * blockDim.y);
    const int b = int(blockIdx.x + blockIdx.y * gridDim.x + blockIdx.z * gridDim.x * gridDim.y);
    s[t] = in[b * n + t];
    __syncthreads();
    out[b * n + t] = s[n - 1 - t];
}

void reverse_in_block(const int* in, int* out, dim3 grid, dim3 block) {
    fastvlm::gpu::launch("reverse_in_block", reverse_in_block_kernel, grid, block, 0, nullptr, in, out);
}

// Kernels whose shared memory must be poisoned even in builds without the instrumentation
// (ASan) are plain functions: GCC ignores the section attribute of statics in templates.
__global__ void neighbour_sum_kernel(const int* in, int* out, int n) {
    __shared__ int s[1024];
    const int t = int(threadIdx.x);
    if (t < n) s[t] = in[t];
    __syncthreads();
    if (t < n) out[t] = s[t] + (t > 0 ? s[t - 1] : 0);
}

// neighbour_sum_kernel with its __syncthreads() removed.
__global__ void neighbour_sum_unsynced_kernel(const int* in, int* out, int n) {
    __shared__ int s[1024];
    const int t = int(threadIdx.x);
    if (t < n) s[t] = in[t];
    if (t < n) out[t] = s[t] + (t > 0 ? s[t - 1] : 0);
}

void neighbour_sum(const int* in, int* out, int n, bool with_barrier) {
    if (with_barrier)
        fastvlm::gpu::launch("neighbour_sum", neighbour_sum_kernel, dim3(1), dim3(unsigned(n)), 0, nullptr, in, out, n);
    else
        fastvlm::gpu::launch("neighbour_sum_unsynced", neighbour_sum_unsynced_kernel, dim3(1), dim3(unsigned(n)), 0,
                             nullptr, in, out, n);
}

__global__ void warp_exchanges_kernel(const int* values, unsigned* out) {
    const int lane = int(threadIdx.x);
    const int v = values[lane];
    unsigned* o = out + lane * 10;
    o[0] = unsigned(__shfl_xor_sync(0xffffffffu, v, 5));
    o[1] = unsigned(__shfl_up_sync(0xffffffffu, v, 3));
    o[2] = unsigned(__shfl_down_sync(0xffffffffu, v, 3));
    o[3] = unsigned(__shfl_sync(0xffffffffu, v, 7));
    o[4] = unsigned(__shfl_xor_sync(0xffffffffu, v, 1, 8));
    o[5] = unsigned(__shfl_down_sync(0xffffffffu, v, 2, 16));
    o[6] = __ballot_sync(0xffffffffu, lane & 1);
    o[7] = unsigned(__all_sync(0xffffffffu, v > 0));
    o[8] = unsigned(__any_sync(0xffffffffu, lane == 31));
    o[9] = __activemask();
}

void warp_exchanges(const int* values, unsigned* out) {
    fastvlm::gpu::launch("warp_exchanges", warp_exchanges_kernel, dim3(1), dim3(32), 0, nullptr, values, out);
}

__global__ void dishonest_warp_kernel(int which, int* sink) {
    const int lane = int(threadIdx.x);
    int v = lane;
    if (which == 0) v = __shfl_sync(0x0000fffeu, v, 1);  // lanes 0 and 16..31 call with masks without themselves
    if (which == 1 && lane < 16) v = __shfl_xor_sync(0xffffffffu, v, 1);
    if (which == 2 && lane < 16) v = __shfl_down_sync(0x0000ffffu, v, 1);  // lane 15 reads lane 16
    if (which == 3) v = __shfl_xor_sync(lane < 16 ? 0xffffffffu : 0xffff0000u, v, 1);
    if (which == 4) {
        if (lane == 31) __syncthreads();
        v = __shfl_xor_sync(0xffffffffu, v, 1);
    }
    sink[lane] = v;
}

void dishonest_warp(int which) {
    int sink[32];
    fastvlm::gpu::launch("dishonest_warp", dishonest_warp_kernel, dim3(1), dim3(32), 0, nullptr, which, sink);
}

__global__ void count_threads_kernel(int* counter) { atomicAdd(counter, 1); }

void count_threads(int* counter, dim3 grid, dim3 block) {
    fastvlm::gpu::launch("count_threads", count_threads_kernel, grid, block, 0, nullptr, counter);
}

__global__ void barrier_reductions_kernel(int* out) {
    const int p = threadIdx.x % 3 == 0;
    const int count = __syncthreads_count(p);
    const int all = __syncthreads_and(p);
    const int any = __syncthreads_or(p);
    if (threadIdx.x == 0) {
        out[0] = count;
        out[1] = all;
        out[2] = any;
    }
}

void barrier_reductions(int* out, int threads) {
    fastvlm::gpu::launch("barrier_reductions", barrier_reductions_kernel, dim3(1), dim3(unsigned(threads)), 0,
                         nullptr, out);
}

__global__ void reverse_dynamic_kernel(const float* in, float* out, int n) {
    FASTVLM_DYNAMIC_SHARED(float, s);
    const int t = int(threadIdx.x);
    if (t < n) s[t] = in[t];
    __syncthreads();
    if (t < n) out[t] = s[n - 1 - t];
}

void reverse_dynamic(const float* in, float* out, int n, size_t shared_bytes) {
    fastvlm::gpu::launch("reverse_dynamic", reverse_dynamic_kernel, dim3(1), dim3(unsigned(n)), shared_bytes, nullptr,
                         in, out, n);
}

__global__ void async_copy_kernel(const int* in, int* out, int n, bool wait) {
    __shared__ __align__(16) int s[256];
    const int t = int(threadIdx.x);
    if (4 * t < n) ptx::cp_async_16(&s[4 * t], &in[4 * t]);
    ptx::cp_async_commit();
    if (wait) ptx::cp_async_wait<0>();
    __syncthreads();
    for (int i = 4 * t; i < 4 * t + 4 && i < n; ++i) out[i] = s[i];  // this thread's own copy
}

void async_copy_through_shared(const int* in, int* out, int n, bool wait) {
    const dim3 block(unsigned((n / 4 + 31) / 32 * 32));
    fastvlm::gpu::launch("async_copy", async_copy_kernel, dim3(1), block, 0, nullptr, in, out, n, wait);
}

__global__ void read_unwritten_shared_kernel(unsigned* out) {
    __shared__ unsigned never_written[4];
    out[threadIdx.x] = never_written[threadIdx.x];
}

void read_unwritten_shared(unsigned* out) {
    fastvlm::gpu::launch("read_unwritten_shared", read_unwritten_shared_kernel, dim3(1), dim3(4), 0, nullptr, out);
}

template <bool WithSyncwarp>
__global__ void warp_neighbour_kernel(const int* in, int* out) {
    __shared__ int s[64];
    const int t = int(threadIdx.x);
    s[t] = in[t];
    if (WithSyncwarp) __syncwarp();
    out[t] = s[t ^ 1];
}

void warp_neighbour(const int* in, int* out, bool with_syncwarp) {
    if (with_syncwarp)
        fastvlm::gpu::launch("warp_neighbour", warp_neighbour_kernel<true>, dim3(1), dim3(64), 0, nullptr, in, out);
    else
        fastvlm::gpu::launch("warp_neighbour_unsynced", warp_neighbour_kernel<false>, dim3(1), dim3(64), 0, nullptr,
                             in, out);
}

__global__ void write_after_read_kernel(int* out, int n) {
    __shared__ int s[1025];
    const int t = int(threadIdx.x);
    if (t == 0)
        for (int i = 0; i <= n; ++i) s[i] = i;
    __syncthreads();
    const int next = s[t + 1];
    s[t] = next;  // thread t - 1 read s[t] in this interval
    out[t] = next;
}

void write_after_read(int* out, int n) {
    fastvlm::gpu::launch("write_after_read", write_after_read_kernel, dim3(1), dim3(unsigned(n)), 0, nullptr, out, n);
}

}  // namespace simt_test
