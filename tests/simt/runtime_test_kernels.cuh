// Kernels that exercise the SIMT runtime itself (barriers, shared memory, warp exchanges,
// atomics, cp.async, the race check). They run only under the SIMT runtime; each launcher
// takes host pointers, which are device pointers there.
#pragma once
#include "cuda/common.cuh"

namespace simt_test {

// out[b][t] = in[b][n - 1 - t] through shared memory, for a block of `block` threads.
void reverse_in_block(const int* in, int* out, dim3 grid, dim3 block);

// out[t] = in[t] + in[t - 1] (in[-1] = 0) through shared memory; with_barrier = false is the
// same kernel with its __syncthreads() removed.
void neighbour_sum(const int* in, int* out, int n, bool with_barrier);

// Per lane of one warp: [0] shfl_xor 5, [1] shfl_up 3, [2] shfl_down 3, [3] shfl idx 7,
// [4] shfl_xor 1 width 8, [5] shfl_down 2 width 16, [6] ballot(odd lane), [7] all(v > 0),
// [8] any(lane == 31), [9] __activemask(); out is [32][10] for values[32].
void warp_exchanges(const int* values, unsigned* out);

// Misuse of warp exchanges, each of which the runtime must refuse. Case numbers:
// 0: the calling lane is not in its mask; 1: only half the warp calls a full-mask shuffle;
// 2: a lane reads a lane outside the mask; 3: lanes disagree on the mask;
// 4: one lane waits at __syncthreads while its warp waits for it in a shuffle.
void dishonest_warp(int which);

// Sums 1 over every thread of the grid with atomicAdd, into *counter.
void count_threads(int* counter, dim3 grid, dim3 block);

// __syncthreads_count / _and / _or of (threadIdx.x % 3 == 0): out[0..2].
void barrier_reductions(int* out, int threads);

// Reverses `n` floats through dynamic shared memory of n * 4 bytes.
void reverse_dynamic(const float* in, float* out, int n, size_t shared_bytes);

// Copies n ints (n a multiple of 4) into shared memory with cp.async, 4 per thread, and each
// thread writes its own 4 out, read before (wait = false) or after (wait = true)
// cp.async.wait_group.
void async_copy_through_shared(const int* in, int* out, int n, bool wait);

// Writes what one thread reads from a __shared__ int that no thread wrote.
void read_unwritten_shared(unsigned* out);

// Lanes pass values through shared memory: lane l reads what lane l ^ 1 wrote, ordered by
// __syncwarp (or not, with_syncwarp = false).
void warp_neighbour(const int* in, int* out, bool with_syncwarp);

// Thread t reads s[t + 1] and then writes s[t] (write after read) without a barrier between.
void write_after_read(int* out, int n);

}  // namespace simt_test
