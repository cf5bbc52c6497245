// The only place in the project where inline PTX appears: tensor-core mma.sync, ldmatrix,
// cp.async and dp4a, each as a small device function. Under nvcc each is one instruction;
// under the SIMT runtime each is a warp exchange whose CPU definition follows the fragment
// layouts of the PTX ISA manual ("Matrix Fragments for mma.m16n8k16 / m16n8k32",
// "ldmatrix") exactly; tests/kernels/ptx_cases.h checks both against plain matrix products.
//
// Fragment layouts (lane = 4 * group + t, group = lane / 4, t = lane % 4). Packed elements
// sit in a 32-bit register lowest index first (lowest bits).
//   m16n8k16 f16, A 16x16 row-major, 4 regs of 2 halves:
//     a[r] holds A[group + 8*(r&1)][2t + 8*(r>>1) + {0,1}]
//   B 16x8 (k x n) "col": 2 regs of 2 halves: b[r] holds B[2t + 8r + {0,1}][group]
//   C, D 16x8 fp32/s32, 4 values: c[i] is C[group + 8*(i>>1)][2t + (i&1)]
//   m16n8k32 s8, A 16x32 row-major, 4 regs of 4 bytes:
//     a[r] holds A[group + 8*(r&1)][4t + 16*(r>>1) + {0,1,2,3}]
//   B 32x8: 2 regs of 4 bytes: b[r] holds B[4t + 16r + {0,1,2,3}][group]
//   ldmatrix .m8n8 .b16: lanes 8i..8i+7 give the row addresses of matrix i (16 bytes each,
//     shared memory, 16-byte aligned); register i of lane l holds row l/4, elements
//     2(l%4), 2(l%4)+1 of matrix i; with .trans, elements [2(l%4)][l/4] and [2(l%4)+1][l/4].
#pragma once
#include "cuda/common.cuh"

namespace ptx {

#if defined(FASTVLM_SIMT)
namespace detail {

inline float lo_half(uint32_t r) { return __half2float(__ushort_as_half((unsigned short)(r & 0xffffu))); }
inline float hi_half(uint32_t r) { return __half2float(__ushort_as_half((unsigned short)(r >> 16))); }
inline int byte_of(uint32_t r, int j) { return int(int8_t(uint8_t(r >> (8 * j)))); }

struct MmaF16Input {
    uint32_t a[4], b[2];
    float c[4];
};
struct MmaS8Input {
    uint32_t a[4], b[2];
    int c[4];
};

// D = A * B + C with exact products, summed in double and rounded once to fp32. The tensor
// cores' own summation order and rounding are not modelled (docs/simt-on-cpu.md).
inline void combine_mma_f16(const void* const* inputs, void* const* outputs, unsigned) {
    float A[16][16], B[16][8], C[16][8];
    for (int lane = 0; lane < 32; ++lane) {
        const MmaF16Input& in = *static_cast<const MmaF16Input*>(inputs[lane]);
        const int group = lane / 4, t = lane % 4;
        for (int r = 0; r < 4; ++r) {
            A[group + 8 * (r & 1)][2 * t + 8 * (r >> 1)] = lo_half(in.a[r]);
            A[group + 8 * (r & 1)][2 * t + 8 * (r >> 1) + 1] = hi_half(in.a[r]);
        }
        for (int r = 0; r < 2; ++r) {
            B[2 * t + 8 * r][group] = lo_half(in.b[r]);
            B[2 * t + 8 * r + 1][group] = hi_half(in.b[r]);
        }
        for (int i = 0; i < 4; ++i) C[group + 8 * (i >> 1)][2 * t + (i & 1)] = in.c[i];
    }
    for (int lane = 0; lane < 32; ++lane) {
        float* d = static_cast<float*>(outputs[lane]);
        const int group = lane / 4, t = lane % 4;
        for (int i = 0; i < 4; ++i) {
            const int m = group + 8 * (i >> 1), n = 2 * t + (i & 1);
            double sum = C[m][n];
            for (int k = 0; k < 16; ++k) sum += double(A[m][k]) * double(B[k][n]);
            d[i] = float(sum);
        }
    }
}

// Integer products are exact; the s32 accumulator wraps as the instruction without .satfinite does.
inline void combine_mma_s8(const void* const* inputs, void* const* outputs, unsigned) {
    int A[16][32], B[32][8], C[16][8];
    for (int lane = 0; lane < 32; ++lane) {
        const MmaS8Input& in = *static_cast<const MmaS8Input*>(inputs[lane]);
        const int group = lane / 4, t = lane % 4;
        for (int r = 0; r < 4; ++r)
            for (int j = 0; j < 4; ++j) A[group + 8 * (r & 1)][4 * t + 16 * (r >> 1) + j] = byte_of(in.a[r], j);
        for (int r = 0; r < 2; ++r)
            for (int j = 0; j < 4; ++j) B[4 * t + 16 * r + j][group] = byte_of(in.b[r], j);
        for (int i = 0; i < 4; ++i) C[group + 8 * (i >> 1)][2 * t + (i & 1)] = in.c[i];
    }
    for (int lane = 0; lane < 32; ++lane) {
        int* d = static_cast<int*>(outputs[lane]);
        const int group = lane / 4, t = lane % 4;
        for (int i = 0; i < 4; ++i) {
            const int m = group + 8 * (i >> 1), n = 2 * t + (i & 1);
            uint32_t sum = uint32_t(C[m][n]);
            for (int k = 0; k < 32; ++k) sum += uint32_t(A[m][k] * B[k][n]);
            d[i] = int(sum);
        }
    }
}

struct LdmatrixRow {
    uint32_t words[4];  // the 8 b16 elements of the row this lane addressed
};

template <int Count, bool Transpose>
inline void combine_ldmatrix(const void* const* inputs, void* const* outputs, unsigned) {
    for (int lane = 0; lane < 32; ++lane) {
        uint32_t* regs = static_cast<uint32_t*>(outputs[lane]);
        for (int m = 0; m < Count; ++m) {
            auto element = [&](int row, int col) -> uint32_t {
                const LdmatrixRow& r = *static_cast<const LdmatrixRow*>(inputs[8 * m + row]);
                return (r.words[col / 2] >> (16 * (col % 2))) & 0xffffu;
            };
            const int q = lane / 4, p = 2 * (lane % 4);
            regs[m] = Transpose ? element(p, q) | (element(p + 1, q) << 16)
                                : element(q, p) | (element(q, p + 1) << 16);
        }
    }
}

// Each lane that supplies an address reads its row itself, so the race check attributes the
// shared-memory read to that lane.
template <int Count, bool Transpose>
inline void ldmatrix(uint32_t* regs, const void* row_address) {
    const int lane = ::simt::current_thread->lane;
    LdmatrixRow row{};
    if (lane < 8 * Count) {
        if (!::simt::is_shared(row_address, 16) || reinterpret_cast<uintptr_t>(row_address) % 16)
            ::simt::kernel_error("ldmatrix: lane %d's row address %p is not 16-byte aligned shared memory", lane,
                                 row_address);
        const uint4 v = *static_cast<const uint4*>(row_address);
        row.words[0] = v.x;
        row.words[1] = v.y;
        row.words[2] = v.z;
        row.words[3] = v.w;
    }
    const char* name = Count == 1 ? (Transpose ? "ldmatrix.x1.trans" : "ldmatrix.x1")
                       : Count == 2 ? (Transpose ? "ldmatrix.x2.trans" : "ldmatrix.x2")
                                    : (Transpose ? "ldmatrix.x4.trans" : "ldmatrix.x4");
    ::simt::warp_collective(name, 0xffffffffu, &row, regs, &combine_ldmatrix<Count, Transpose>);
}

}  // namespace detail
#endif

// ---------------------------------------------------------------- mma.sync
// D = A * B + C, m16n8k16, fp16 inputs, fp32 accumulators. All 32 lanes, converged.
__device__ __forceinline__ void mma_m16n8k16_f32_f16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                     const float (&c)[4]) {
#if defined(FASTVLM_SIMT)
    detail::MmaF16Input in{{a[0], a[1], a[2], a[3]}, {b[0], b[1]}, {c[0], c[1], c[2], c[3]}};
    float out[4];
    ::simt::warp_collective("mma.sync.m16n8k16.f32.f16", 0xffffffffu, &in, out, &detail::combine_mma_f16);
    for (int i = 0; i < 4; ++i) d[i] = out[i];
#else
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%10,%11,%12,%13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
          "f"(c[3]));
#endif
}

// D = A * B + C, m16n8k32, int8 inputs, int32 accumulators (wrapping). All 32 lanes.
__device__ __forceinline__ void mma_m16n8k32_s32_s8(int (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                    const int (&c)[4]) {
#if defined(FASTVLM_SIMT)
    detail::MmaS8Input in{{a[0], a[1], a[2], a[3]}, {b[0], b[1]}, {c[0], c[1], c[2], c[3]}};
    int out[4];
    ::simt::warp_collective("mma.sync.m16n8k32.s32.s8", 0xffffffffu, &in, out, &detail::combine_mma_s8);
    for (int i = 0; i < 4; ++i) d[i] = out[i];
#else
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%10,%11,%12,%13};\n"
        : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(c[0]), "r"(c[1]), "r"(c[2]),
          "r"(c[3]));
#endif
}

// ---------------------------------------------------------------- ldmatrix
// Loads 1, 2 or 4 8x8 b16 matrices from shared memory; `row_address` is this lane's row.
__device__ __forceinline__ void ldmatrix_x1(uint32_t (&r)[1], const void* row_address) {
#if defined(FASTVLM_SIMT)
    detail::ldmatrix<1, false>(r, row_address);
#else
    const unsigned s = unsigned(__cvta_generic_to_shared(row_address));
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(s));
#endif
}
__device__ __forceinline__ void ldmatrix_x2(uint32_t (&r)[2], const void* row_address) {
#if defined(FASTVLM_SIMT)
    detail::ldmatrix<2, false>(r, row_address);
#else
    const unsigned s = unsigned(__cvta_generic_to_shared(row_address));
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(s));
#endif
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row_address) {
#if defined(FASTVLM_SIMT)
    detail::ldmatrix<4, false>(r, row_address);
#else
    const unsigned s = unsigned(__cvta_generic_to_shared(row_address));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s));
#endif
}
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t (&r)[2], const void* row_address) {
#if defined(FASTVLM_SIMT)
    detail::ldmatrix<2, true>(r, row_address);
#else
    const unsigned s = unsigned(__cvta_generic_to_shared(row_address));
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(s));
#endif
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row_address) {
#if defined(FASTVLM_SIMT)
    detail::ldmatrix<4, true>(r, row_address);
#else
    const unsigned s = unsigned(__cvta_generic_to_shared(row_address));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s));
#endif
}

// ---------------------------------------------------------------- cp.async
// Copies 16 bytes global -> shared without passing through registers; only the first
// `src_bytes` (0..16) are read, the rest of the destination is zero-filled (for tails).
__device__ __forceinline__ void cp_async_16(void* shared_dst, const void* global_src, int src_bytes = 16) {
#if defined(FASTVLM_SIMT)
    ::simt::async_copy(shared_dst, global_src, 16, size_t(src_bytes));
#else
    const unsigned s = unsigned(__cvta_generic_to_shared(shared_dst));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(global_src), "r"(src_bytes)
                 : "memory");
#endif
}
// Closes the group of copies issued by this thread since the last commit.
__device__ __forceinline__ void cp_async_commit() {
#if defined(FASTVLM_SIMT)
    ::simt::async_commit();
#else
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
// Waits until at most `Pending` of this thread's newest committed groups are still in flight.
// Other threads see the data only after a barrier that follows their own wait.
template <int Pending>
__device__ __forceinline__ void cp_async_wait() {
#if defined(FASTVLM_SIMT)
    ::simt::async_wait(Pending);
#else
    asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending) : "memory");
#endif
}

// ---------------------------------------------------------------- dp4a
// c + the dot product of the four signed bytes of a and of b.
__device__ __forceinline__ int dp4a(int a, int b, int c) {
#if defined(FASTVLM_SIMT)
    return __dp4a(a, b, c);
#else
    int d;
    asm("dp4a.s32.s32 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
#endif
}

}  // namespace ptx
