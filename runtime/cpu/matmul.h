// Cache-blocked matrix multiply for the CPU backend (the 1x1 convolutions, linear layers,
// vision attention and prefill), with fp32, fp16 or bf16 weights widened while packing.
//
//   c[m, n] = act(sum_k a[m, k] * b[n, k] + bias[n])       b in the nn.Linear layout [N, K]
//
// Blocking (per task, one tile of C): KC = 256 deep slices; the tile's B slice is packed into
// 16-wide column panels (KC x 16 fp32 = 16 KB, held in L1 while it is reused), its A slice into
// 6-row panels; a 6x16 register kernel (12 accumulators) does the multiply-adds. Tiles are handed
// to the threads dynamically; every task packs its own panels, which costs well under 1% of
// the arithmetic for the shapes FastVLM runs.
#pragma once
#include <cstdint>

#include "runtime/backend.h"
#include "runtime/cpu/thread_pool.h"
#include "runtime/dtype.h"

namespace fastvlm::cpu {

struct GemmArgs {
    int64_t m = 0, n = 0, k = 0;
    const float* a = nullptr;       // [m, k], row stride lda
    int64_t lda = 0;
    const void* b = nullptr;        // [n, k] in b_dtype (F32, F16 or BF16), row stride ldb
    DType b_dtype = DType::F32;
    int64_t ldb = 0;
    const float* bias = nullptr;    // [n] or nullptr
    float* c = nullptr;             // [m, n], row stride ldc
    int64_t ldc = 0;
    Activation act = Activation::None;
    // The 16-bit activation modes: a rounded to fp16 as it is packed (no rounded copy of the
    // input), and the output sum + bias rounded to fp16, then act, rounded again, in the epilogue
    // (one pass over c instead of three).
    bool round_a_to_fp16 = false;
    bool round_c_to_fp16 = false;
};

// Threaded over tiles of c.
void gemm(ThreadPool& pool, const GemmArgs& args);
// On the calling thread only (for callers that already split the work).
void gemm_serial(const GemmArgs& args);

// y[r] = sum_k w[r, k] * x[k] for rows [row_begin, row_end): the one-token product for weights
// other than fp16 (those go to gemv_fp16), each row widened in registers as it streams by.
//   w [rows, k] in w_dtype (F32, F16 or BF16), x [k], y [rows]
void gemv_widen(const void* w, DType w_dtype, const float* x, float* y, int64_t k,
                int64_t row_begin, int64_t row_end);

// Widens n values of a float tensor (F32, F16, BF16) to fp32.
void widen_to_f32(const void* src, DType dtype, float* dst, int64_t n);

}  // namespace fastvlm::cpu
