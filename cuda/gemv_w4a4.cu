// W4A4 GEMV for decode (and, every token in one launch, prefill): int4 weights times int4
// activations, integer products per group of 64 along K, scaled in fp32, fp16 out; the same
// numbers as the CPU twin (runtime/cpu/gemv_w4a4.cpp). Two kernels:
//
// quantize_int4_kernel: one warp per group of 64 activations (four per 128-thread block,
//   blockIdx.y the token), two values per lane: absmax by shuffles, scale int4_scale(absmax),
//   codes int4_quantize, written one per byte in the dp4a order of Int4Activation; each half
//   group's code sum goes alongside (the GEMV needs it to undo the weight nibbles' offset).
//   Bytes: 2 K read, about 1.2 K written; latency-bound.
//
// gemv_w4a4_kernel: one warp per output row, four rows per 128-thread block, blockIdx.y the
//   token (the weight is read from DRAM once per launch, then from L2). Each lane takes 32
//   weights at a time (one 128-bit load, evict-first) and the matching 32 activation codes (two
//   128-bit loads through the read-only cache). A 32-bit word of packed weights holds 8
//   two's-complement nibbles; xor 0x88888888 turns each into code + 8 in [0, 15], so masks and
//   one shift split the word into the even and the odd values as unsigned bytes, and two dp4a
//   against the even and odd activation codes give sum a * (w + 8); subtracting 8 * sum(a)
//   leaves the exact integer sum. Lanes 2i and 2i+1 hold the two halves of one group and join
//   them by one shuffle, so each group's integer sum is scaled once, as in the twin:
//   float(isum) * a_scale * w_scale. The warp sums the fp32 terms (a different order than the
//   twin's, the only difference) and lane 0 adds the bias and rounds to fp16. Rows whose
//   length is not a multiple of 32 or an unaligned weight take a scalar loop, a lane per group.
//   Bytes per call: N K / 2 (codes) + 2 N ceil(K / 64) (scales) + about 1.2 K (activation) +
//   2 N (y) (+ 2 N bias); 2 N K int ops: memory-bound (gate_proj 4864 x 896: 2.3 MB, 0.7 us
//   at 3.35 TB/s).
#include "cuda/gemv_w4a4.cuh"

#include <algorithm>

#include "cuda/ptx.cuh"
#include "cuda/quant_int4.cuh"
#include "cuda/reduce.cuh"

namespace fastvlm::gpu {
namespace {

constexpr int kRowsPerBlock = 4;
constexpr int kThreads = 32 * kRowsPerBlock;
constexpr int kCodesPerLoad = 32;  // one 128-bit load of packed weights: half a group
constexpr int kGroup = quant::kInt4GroupSize;

static_assert(kGroup == 2 * kCodesPerLoad, "two loads of packed weights per group");

__host__ __device__ inline size_t padded_codes(int in_features) {
    return (size_t(in_features) + kGroup - 1) / kGroup * kGroup;
}
inline size_t round_up_16(size_t n) { return (n + 15) / 16 * 16; }

// Where value k sits in Int4Activation::codes.
__host__ __device__ __forceinline__ int code_position(int k) { return (k & ~7) | ((k & 1) << 2) | ((k & 7) >> 1); }

__global__ void __launch_bounds__(kThreads)
    quantize_int4_kernel(const __half* __restrict__ x, int8_t* __restrict__ codes, float* __restrict__ scales,
                         int* __restrict__ sums, int in_features, int groups) {
    const int lane = int(threadIdx.x) % 32;
    const int group = int(blockIdx.x) * kRowsPerBlock + int(threadIdx.x) / 32;
    if (group >= groups) return;  // whole warps leave together
    const int t = int(blockIdx.y);  // the token
    x += int64_t(t) * in_features;
    codes += int64_t(t) * int64_t(padded_codes(in_features));
    scales += int64_t(t) * groups;
    sums += int64_t(t) * 2 * groups;
    const int k = group * kGroup + 2 * lane;
    const float v0 = k < in_features ? __half2float(x[k]) : 0.0f;
    const float v1 = k + 1 < in_features ? __half2float(x[k + 1]) : 0.0f;
    const float scale = quant::int4_scale(warp_max(fmaxf(quant::abs_f(v0), quant::abs_f(v1))));
    const int c0 = quant::int4_quantize(v0, scale), c1 = quant::int4_quantize(v1, scale);
    codes[code_position(k)] = int8_t(c0);
    codes[code_position(k + 1)] = int8_t(c1);
    int half_sum = c0 + c1;  // lanes 0-15 hold the first 32 values, lanes 16-31 the next 32
#pragma unroll
    for (int offset = 8; offset > 0; offset >>= 1) half_sum += __shfl_xor_sync(0xffffffffu, half_sum, offset);
    if (lane % 16 == 0) sums[2 * group + lane / 16] = half_sum;
    if (lane == 0) scales[group] = scale;
}

// sum over 8 values of a * w: `packed` holds the 8 weight nibbles, `even`/`odd` the activation
// codes of values 0, 2, 4, 6 and 1, 3, 5, 7. Returns acc + sum a * (w + 8).
__device__ __forceinline__ int dot8_biased(unsigned packed, unsigned even, unsigned odd, int acc) {
    const unsigned biased = packed ^ 0x88888888u;  // each nibble: code + 8
    acc = ptx::dp4a(int((biased >> 4) & 0x0f0f0f0fu), int(even), acc);
    return ptx::dp4a(int(biased & 0x0f0f0f0fu), int(odd), acc);
}

template <bool Vectorized>
__global__ void __launch_bounds__(kThreads)
    gemv_w4a4_kernel(const uint8_t* __restrict__ codes, const __half* __restrict__ w_scales,
                     const __half* __restrict__ bias, const int8_t* __restrict__ a_codes,
                     const float* __restrict__ a_scales, const int* __restrict__ a_sums, __half* __restrict__ y,
                     int in_features, int out_features, int groups) {
    const int lane = int(threadIdx.x) % 32;
    const int row = int(blockIdx.x) * kRowsPerBlock + int(threadIdx.x) / 32;
    if (row >= out_features) return;  // whole warps leave together
    const int64_t row_start = int64_t(row) * in_features;  // flat index of w[row, 0]
    const __half* row_scales = w_scales + size_t(row) * size_t(groups);
    const int t = int(blockIdx.y);  // the token: its activation codes, scales, sums and output row
    a_codes += int64_t(t) * int64_t(padded_codes(in_features));
    a_scales += int64_t(t) * groups;
    a_sums += int64_t(t) * 2 * groups;
    y += int64_t(t) * out_features;

    float acc = 0.0f;
    if (Vectorized) {
        const uint4* packed = reinterpret_cast<const uint4*>(codes + row_start / 2);
        const uint4* activation = reinterpret_cast<const uint4*>(a_codes);
        const int chunks = in_features / kCodesPerLoad;
        // Every lane runs the same steps, so the shuffle that joins half groups sees the warp.
        for (int base = 0; base < chunks; base += 32) {
            const int c = base + lane;
            int isum = 0;
            if (c < chunks) {
                const uint4 w = __ldcs(packed + c);
                const uint4 a0 = __ldg(activation + 2 * c), a1 = __ldg(activation + 2 * c + 1);
                isum = dot8_biased(w.x, a0.x, a0.y, 0);
                isum = dot8_biased(w.y, a0.z, a0.w, isum);
                isum = dot8_biased(w.z, a1.x, a1.y, isum);
                isum = dot8_biased(w.w, a1.z, a1.w, isum);
                isum -= 8 * __ldg(a_sums + c);
            }
            isum += __shfl_xor_sync(0xffffffffu, isum, 1);  // the other half of the group (0 past the row)
            if (c < chunks && c % 2 == 0) {
                const int g = c / 2;
                acc += float(isum) * __ldg(a_scales + g) * __half2float(row_scales[g]);
            }
        }
    } else {
        for (int g = lane; g < groups; g += 32) {
            const int end = min(in_features, (g + 1) * kGroup);
            int isum = 0;
            for (int k = g * kGroup; k < end; ++k)
                isum += quant::int4_code_at(codes, row_start + k) * int(a_codes[code_position(k)]);
            acc += float(isum) * a_scales[g] * __half2float(row_scales[g]);
        }
    }
    acc = warp_sum(acc);
    if (lane == 0) y[row] = __float2half_rn(bias ? __half2float(bias[row]) + acc : acc);
}

}  // namespace

constexpr int kMaxTokensPerLaunch = 65535;  // gridDim.y

size_t int4_activation_workspace_bytes(int in_features, int tokens) {
    const size_t groups = size_t(quant::int4_groups_per_row(in_features > 0 ? in_features : 0));
    const size_t t = size_t(tokens > 0 ? tokens : 0);
    return t * padded_codes(in_features) + round_up_16(4 * t * groups) + 4 * 2 * t * groups;
}

Int4Activation int4_activation(void* workspace, int in_features, int tokens) {
    if (in_features <= 0 || tokens <= 0)
        fail("gemv_w4a4", "bad shape: in_features ", in_features, ", tokens ", tokens);
    if (!workspace || !aligned_16(workspace))
        fail("gemv_w4a4", "the activation workspace must be a 16-byte aligned device buffer of ",
             int4_activation_workspace_bytes(in_features, tokens), " bytes");
    unsigned char* base = static_cast<unsigned char*>(workspace);
    Int4Activation a;
    a.in_features = in_features;
    a.groups = quant::int4_groups_per_row(in_features);
    a.tokens = tokens;
    a.codes = reinterpret_cast<int8_t*>(base);
    base += size_t(tokens) * padded_codes(in_features);
    a.scales = reinterpret_cast<float*>(base);
    base += round_up_16(4 * size_t(tokens) * size_t(a.groups));
    a.sums = reinterpret_cast<int*>(base);
    return a;
}

// The activation rows [t0, t0 + count) of a.
Int4Activation token_rows(const Int4Activation& a, int t0, int count) {
    Int4Activation rows = a;
    rows.codes += int64_t(t0) * int64_t(padded_codes(a.in_features));
    rows.scales += int64_t(t0) * a.groups;
    rows.sums += int64_t(t0) * 2 * a.groups;
    rows.tokens = count;
    return rows;
}

void quantize_activation_int4(const __half* x, const Int4Activation& a, cudaStream_t stream) {
    if (a.in_features <= 0 || a.tokens <= 0 || !a.codes)
        fail("quantize_activation_int4", "the activation buffers are not set up");
    for (int t0 = 0; t0 < a.tokens; t0 += kMaxTokensPerLaunch) {
        const Int4Activation rows = token_rows(a, t0, std::min(kMaxTokensPerLaunch, a.tokens - t0));
        launch("quantize_activation_int4", quantize_int4_kernel,
               dim3(ceil_div(size_t(a.groups), kRowsPerBlock), unsigned(rows.tokens)), dim3(kThreads), 0, stream,
               x + int64_t(t0) * a.in_features, rows.codes, rows.scales, rows.sums, a.in_features, a.groups);
    }
}

void gemv_w4a4(const Int4Weight& w, const __half* bias, const Int4Activation& a, __half* y, cudaStream_t stream) {
    if (w.in_features <= 0 || w.out_features <= 0)
        fail("gemv_w4a4", "bad shape: in_features ", w.in_features, ", out_features ", w.out_features);
    if (a.in_features != w.in_features)
        fail("gemv_w4a4", "the activation has ", a.in_features, " features, the weight ", w.in_features);
    const bool vectorized = w.in_features % kCodesPerLoad == 0 && aligned_16(w.codes) && aligned_16(a.codes);
    for (int t0 = 0; t0 < a.tokens; t0 += kMaxTokensPerLaunch) {
        const Int4Activation rows = token_rows(a, t0, std::min(kMaxTokensPerLaunch, a.tokens - t0));
        const dim3 grid(ceil_div(size_t(w.out_features), kRowsPerBlock), unsigned(rows.tokens)), block(kThreads);
        __half* y_rows = y + int64_t(t0) * w.out_features;
        if (vectorized)
            launch("gemv_w4a4", gemv_w4a4_kernel<true>, grid, block, 0, stream, w.codes, w.scales, bias, rows.codes,
                   rows.scales, rows.sums, y_rows, w.in_features, w.out_features, a.groups);
        else
            launch("gemv_w4a4", gemv_w4a4_kernel<false>, grid, block, 0, stream, w.codes, w.scales, bias, rows.codes,
                   rows.scales, rows.sums, y_rows, w.in_features, w.out_features, a.groups);
    }
}

}  // namespace fastvlm::gpu
