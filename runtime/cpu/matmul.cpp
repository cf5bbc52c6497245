#include "runtime/cpu/matmul.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "runtime/cpu/fp16_round.h"
#include "runtime/cpu/vec_math.h"
#include "runtime/error.h"
#include "runtime/half.h"

namespace fastvlm::cpu {

namespace {

constexpr int64_t MR = 6;        // rows of the register kernel
constexpr int64_t NR = 16;       // columns of the register kernel (two AVX2 vectors)
constexpr int64_t KC = 256;      // depth of one packed slice
constexpr int64_t TILE_M = 144;  // rows of A packed at once (24 kernel rows, 144 KB per slice)
constexpr int64_t TILE_N = 192;  // columns of C per task (12 kernel columns, 192 KB per slice)
constexpr int64_t TASK_M = 8 * TILE_M;  // rows of C per task: the packed weights serve 8 row blocks

// Per-thread packing buffers, 32-byte aligned for the kernel's aligned loads.
struct Scratch {
    std::vector<float> storage;
    float* a_panels = nullptr;   // [TILE_M / MR][KC][MR]
    float* b_panels = nullptr;   // [TILE_N / NR][KC][NR]
    float* row = nullptr;        // [KC] one widened weight row
    Scratch() {
        const size_t a = size_t(TILE_M * KC), b = size_t(TILE_N * KC), r = size_t(KC);
        storage.resize(a + b + r + 16);
        float* base = storage.data();
        while (reinterpret_cast<uintptr_t>(base) % 32) ++base;
        a_panels = base;
        b_panels = a_panels + a;
        row = b_panels + b;
    }
};

Scratch& thread_scratch() {
    static thread_local Scratch scratch;
    return scratch;
}

// Columns [k0, k0 + kc) of weight rows [n0, n0 + nb), widened and laid out as NR-wide panels;
// rows past nb are zero.
void pack_b(const GemmArgs& g, int64_t n0, int64_t nb, int64_t k0, int64_t kc, Scratch& s) {
    const size_t elem = dtype_size(g.b_dtype);
    for (int64_t j0 = 0; j0 < nb; j0 += NR) {
        float* panel = s.b_panels + (j0 / NR) * kc * NR;
        for (int64_t j = 0; j < NR; ++j) {
            if (j0 + j < nb) {
                const uint8_t* src = static_cast<const uint8_t*>(g.b) + size_t((n0 + j0 + j) * g.ldb + k0) * elem;
                const float* row = s.row;
                if (g.b_dtype == DType::F32) row = reinterpret_cast<const float*>(src);
                else widen_to_f32(src, g.b_dtype, s.row, kc);
                for (int64_t k = 0; k < kc; ++k) panel[k * NR + j] = row[k];
            } else {
                for (int64_t k = 0; k < kc; ++k) panel[k * NR + j] = 0.0f;
            }
        }
    }
}

// Columns [k0, k0 + kc) of activation rows [m0, m0 + mb) as MR-row panels; rows past mb are zero.
void pack_a(const GemmArgs& g, int64_t m0, int64_t mb, int64_t k0, int64_t kc, Scratch& s) {
    for (int64_t i0 = 0; i0 < mb; i0 += MR) {
        float* panel = s.a_panels + (i0 / MR) * kc * MR;
        const float* rows[MR];
        for (int64_t i = 0; i < MR; ++i)
            rows[i] = i0 + i < mb ? g.a + (m0 + i0 + i) * g.lda + k0 : nullptr;
        if (g.round_a_to_fp16) {  // each row rounded eight values at a time, then interleaved
            for (int64_t i = 0; i < MR; ++i) {
                float rounded[8];
                for (int64_t k = 0; k < kc; k += 8) {
                    const int64_t count = std::min<int64_t>(8, kc - k);
                    if (rows[i]) round_to_fp16_span(rows[i] + k, rounded, size_t(count));
                    else std::fill_n(rounded, count, 0.0f);
                    for (int64_t j = 0; j < count; ++j) panel[(k + j) * MR + i] = rounded[j];
                }
            }
            continue;
        }
        if (i0 + MR <= mb) {
            for (int64_t k = 0; k < kc; ++k)
                for (int64_t i = 0; i < MR; ++i) panel[k * MR + i] = rows[i][k];
        } else {
            for (int64_t k = 0; k < kc; ++k)
                for (int64_t i = 0; i < MR; ++i) panel[k * MR + i] = rows[i] ? rows[i][k] : 0.0f;
        }
    }
}

// c[0..MR)[0..NR) = (accumulate ? c : 0) + a_panel . b_panel over kc
void kernel_6x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
#ifdef FASTVLM_CPU_AVX2
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 x;
        x = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
        a += MR;
        b += NR;
    }
    __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    for (int64_t i = 0; i < MR; ++i) {
        float* row = c + i * ldc;
        if (accumulate) {
            acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(row));
            acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(row + 8));
        }
        _mm256_storeu_ps(row, acc[i][0]);
        _mm256_storeu_ps(row + 8, acc[i][1]);
    }
#else
    float acc[MR][NR] = {};
    for (int64_t k = 0; k < kc; ++k) {
        for (int64_t i = 0; i < MR; ++i)
            for (int64_t j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
        a += MR;
        b += NR;
    }
    for (int64_t i = 0; i < MR; ++i)
        for (int64_t j = 0; j < NR; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + acc[i][j];
#endif
}

// Rows [m0, m0 + mb) times columns [n0, n0 + nb) of c, nb <= TILE_N. For each KC slice the
// weight panels are packed once and reused by every TILE_M block of rows; the epilogue (bias,
// activation) runs on a row block right after its last slice, while it is still in cache.
void run_task(const GemmArgs& g, int64_t m0, int64_t mb, int64_t n0, int64_t nb) {
    Scratch& s = thread_scratch();
    auto epilogue = [&](int64_t row0, int64_t rows) {
        if (!g.bias && g.act == Activation::None && !g.round_c_to_fp16) return;
        for (int64_t i = row0; i < row0 + rows; ++i) {
            float* row = g.c + i * g.ldc + n0;
            if (g.bias)
                for (int64_t j = 0; j < nb; ++j) row[j] += g.bias[n0 + j];
            if (g.round_c_to_fp16) round_to_fp16_span(row, row, size_t(nb));
            activate_span(row, size_t(nb), g.act);
            if (g.round_c_to_fp16 && g.act != Activation::None) round_to_fp16_span(row, row, size_t(nb));
        }
    };
    if (g.k == 0) {
        for (int64_t i = 0; i < mb; ++i) std::fill_n(g.c + (m0 + i) * g.ldc + n0, nb, 0.0f);
        epilogue(m0, mb);
        return;
    }
    for (int64_t k0 = 0; k0 < g.k; k0 += KC) {
        const int64_t kc = std::min(KC, g.k - k0);
        const bool accumulate = k0 > 0, last = k0 + kc == g.k;
        pack_b(g, n0, nb, k0, kc, s);
        for (int64_t r0 = m0; r0 < m0 + mb; r0 += TILE_M) {
            const int64_t rb = std::min(TILE_M, m0 + mb - r0);
            pack_a(g, r0, rb, k0, kc, s);
            for (int64_t j0 = 0; j0 < nb; j0 += NR) {
                const float* b_panel = s.b_panels + (j0 / NR) * kc * NR;
                const int64_t cols = std::min(NR, nb - j0);
                for (int64_t i0 = 0; i0 < rb; i0 += MR) {
                    const float* a_panel = s.a_panels + (i0 / MR) * kc * MR;
                    const int64_t rows = std::min(MR, rb - i0);
                    float* c = g.c + (r0 + i0) * g.ldc + n0 + j0;
                    if (rows == MR && cols == NR) {
                        kernel_6x16(kc, a_panel, b_panel, c, g.ldc, accumulate);
                    } else {
                        float edge[MR * NR];
                        kernel_6x16(kc, a_panel, b_panel, edge, NR, false);
                        for (int64_t i = 0; i < rows; ++i)
                            for (int64_t j = 0; j < cols; ++j)
                                c[i * g.ldc + j] = (accumulate ? c[i * g.ldc + j] : 0.0f) + edge[i * NR + j];
                    }
                }
            }
            if (last) epilogue(r0, rb);
        }
    }
}

void check(const GemmArgs& g) {
    if (g.m < 0 || g.n < 0 || g.k < 0)
        fail("gemm", "negative shape m ", g.m, ", n ", g.n, ", k ", g.k);
    if (g.lda < g.k || g.ldb < g.k || g.ldc < g.n)
        fail("gemm", "row strides lda ", g.lda, ", ldb ", g.ldb, ", ldc ", g.ldc,
             " are shorter than the rows (k ", g.k, ", n ", g.n, ")");
    if (g.b_dtype != DType::F32 && g.b_dtype != DType::F16 && g.b_dtype != DType::BF16)
        fail("gemm", "weights of dtype ", dtype_name(g.b_dtype), " (expected F32, F16 or BF16)");
}

}  // namespace

void widen_to_f32(const void* src, DType dtype, float* dst, int64_t n) {
    switch (dtype) {
        case DType::F32:
            std::memcpy(dst, src, size_t(n) * 4);
            return;
        case DType::F16: {
            const uint16_t* h = static_cast<const uint16_t*>(src);
            int64_t i = 0;
#if defined(FASTVLM_CPU_AVX2) && defined(__F16C__)
            for (; i + 8 <= n; i += 8)
                _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
#endif
            for (; i < n; ++i) dst[i] = fp16_to_float(h[i]);
            return;
        }
        case DType::BF16: {
            const uint16_t* h = static_cast<const uint16_t*>(src);
            int64_t i = 0;
#ifdef FASTVLM_CPU_AVX2
            for (; i + 8 <= n; i += 8) {
                const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i)));
                _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16)));
            }
#endif
            for (; i < n; ++i) dst[i] = bf16_to_float(h[i]);
            return;
        }
        default:
            fail("widen_to_f32", "cannot widen dtype ", dtype_name(dtype), " to F32");
    }
}

void gemv_widen(const void* w, DType w_dtype, const float* x, float* y, int64_t k,
                int64_t row_begin, int64_t row_end) {
    if (w_dtype != DType::F32 && w_dtype != DType::F16 && w_dtype != DType::BF16)
        fail("gemv", "weights of dtype ", dtype_name(w_dtype), " (expected F32, F16 or BF16)");
    const size_t elem = dtype_size(w_dtype);
    for (int64_t r = row_begin; r < row_end; ++r) {
        const uint8_t* row = static_cast<const uint8_t*>(w) + size_t(r * k) * elem;
        int64_t i = 0;
        float sum = 0.0f;
#ifdef FASTVLM_CPU_AVX2
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        for (; i + 16 <= k; i += 16) {
            __m256 w0, w1;
            if (w_dtype == DType::F32) {
                w0 = _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
                w1 = _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i + 8);
            } else {
                const __m128i* h = reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + i);
                if (w_dtype == DType::BF16) {
                    w0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(h)), 16));
                    w1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(h + 1)), 16));
                } else {
#ifdef __F16C__
                    w0 = _mm256_cvtph_ps(_mm_loadu_si128(h));
                    w1 = _mm256_cvtph_ps(_mm_loadu_si128(h + 1));
#else
                    break;
#endif
                }
            }
            acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), acc0);
            acc1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), acc1);
        }
        float lanes[8];
        _mm256_storeu_ps(lanes, _mm256_add_ps(acc0, acc1));
        for (float l : lanes) sum += l;
#endif
        if (i < k) {
            float tail[64];
            for (; i < k; i += 64) {
                const int64_t n = std::min<int64_t>(64, k - i);
                widen_to_f32(row + size_t(i) * elem, w_dtype, tail, n);
                for (int64_t j = 0; j < n; ++j) sum += tail[j] * x[i + j];
            }
        }
        y[r] = sum;
    }
}

void gemm_serial(const GemmArgs& g) {
    check(g);
    for (int64_t n0 = 0; n0 < g.n; n0 += TILE_N) run_task(g, 0, g.m, n0, std::min(TILE_N, g.n - n0));
}

void gemm(ThreadPool& pool, const GemmArgs& g) {
    check(g);
    // Split the rows into chunks of at most TASK_M, evenly, so that small and large M alike
    // give every thread work.
    const int64_t tiles_n = (g.n + TILE_N - 1) / TILE_N;
    int64_t chunks_m = std::max<int64_t>(1, (g.m + TASK_M - 1) / TASK_M);
    while (chunks_m * tiles_n < 2 * pool.size() && chunks_m * TILE_M < g.m) ++chunks_m;
    pool.run(chunks_m * tiles_n, [&](int64_t t, int) {
        const int64_t cm = t / tiles_n, m0 = g.m * cm / chunks_m, m1 = g.m * (cm + 1) / chunks_m;
        const int64_t n0 = (t % tiles_n) * TILE_N;
        run_task(g, m0, m1 - m0, n0, std::min(TILE_N, g.n - n0));
    });
}

}  // namespace fastvlm::cpu
