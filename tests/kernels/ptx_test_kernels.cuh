// Single-warp kernels that drive the PTX wrappers of cuda/ptx.cuh (mma.sync, ldmatrix,
// cp.async, dp4a) on small matrices, for tests/kernels/ptx_cases.h. Compiled by the host
// compiler under the SIMT runtime and by nvcc; all pointers are device memory.
#pragma once
#include "cuda/common.cuh"

namespace ptx_test {

// D = A B + C, m16n8k16: a [16][16] fp16 row-major, b [8][16] fp16 (b[n][k]), c, d [16][8] fp32.
// Fragments are built straight from global memory following the PTX layout tables.
void mma_f16_direct(const __half* a, const __half* b, const float* c, float* d);
// The same product with the operands staged in shared memory and loaded by ldmatrix:
// A by .x4, B given as [16][8] row-major (b_kn[k][n]) by .x2.trans.
void mma_f16_ldmatrix(const __half* a, const __half* b_kn, const float* c, float* d);

// D = A B + C, m16n8k32: a [16][32] int8 row-major, b [8][32] int8 (b[n][k]), c, d [16][8] int32;
// direct from global (ldmatrix = false) or through shared memory by ldmatrix .x4 / .x2.
void mma_s8(const int8_t* a, const int8_t* b, const int* c, int* d, bool ldmatrix);

// ldmatrix from a [32][8] fp16 matrix m (matrix i = rows 8i..8i+7), lane l addressing row l:
// regs [32 lanes][4] for .x1, .x2, .x4 (count) with or without .trans (unused registers 0).
void ldmatrix_rows(const __half* m, uint32_t* regs, int count, bool transpose);

// Copies n ints (n <= 256) through shared memory with 16-byte cp.async in two committed groups
// (the first half, then the rest); the tail of a 16-byte chunk past n is zero-filled. Reads
// the first half after cp.async.wait_group 1, the rest after wait_group 0; out holds 256 ints.
void async_copy_two_stages(const int* in, int* out, int n);

// d[i] = dp4a(a[i], b[i], c[i]) for i < 64.
void dp4a(const int* a, const int* b, const int* c, int* d);

}  // namespace ptx_test
