// Quantize-at-load for the int8, NF4 and W4A4 weight modes. The per-value math (codes, scales,
// rounding) is in cuda/quant_*.cuh; this file walks the blocks, rows and groups, and packs.
#include "loader/quantize.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>

#include "cuda/quant_int4.cuh"
#include "cuda/quant_int8.cuh"
#include "cuda/quant_nf4.cuh"
#include "runtime/error.h"
#include "runtime/half.h"

namespace fastvlm {
namespace {

using quant::abs_f;

// rows * cols after checking the shape and the pointer.
int64_t checked_count(const char* where, const float* w, int64_t rows, int64_t cols) {
    if (rows <= 0 || cols <= 0) fail(where, "shape [", rows, ", ", cols, "] has a dimension <= 0");
    if (rows > std::numeric_limits<int64_t>::max() / cols)
        fail(where, "shape [", rows, ", ", cols, "] has more elements than fit in 64 bits");
    if (!w) fail(where, "no weight data for shape [", rows, ", ", cols, "]");
    return rows * cols;
}

// Names the first non-finite value of w[begin, end) (there is one: the caller saw it).
[[noreturn]] void fail_non_finite(const char* where, const float* w, int64_t begin, int64_t end, int64_t cols) {
    int64_t i = begin;
    while (i + 1 < end && std::isfinite(w[i])) ++i;
    fail(where, "weight [", i / cols, ", ", i % cols, "] is not finite (", w[i], ")");
}

// max |w| over w[begin, end); fails on NaN or infinity (they would make every scale garbage).
float block_absmax(const char* where, const float* w, int64_t begin, int64_t end, int64_t cols) {
    float absmax = 0.0f;
    bool finite = true;
    for (int64_t i = begin; i < end; ++i) {
        const float a = abs_f(w[i]);
        finite &= a <= FLT_MAX;  // false for NaN too
        absmax = a > absmax ? a : absmax;
    }
    if (!finite) fail_non_finite(where, w, begin, end, cols);
    return absmax;
}

// The packed 4-bit stream: flat element i in the high nibble of byte i/2 when i is even.
void put_nibble(std::vector<uint8_t>& packed, int64_t i, uint8_t nibble) {
    uint8_t& byte = packed[size_t(i >> 1)];
    byte = (i & 1) ? uint8_t((byte & 0xF0) | nibble) : uint8_t((byte & 0x0F) | (nibble << 4));
}

// nf4_quantize is a step function of x (15 steps, strict '>'); its decision tree branches on
// random data. The loader finds the 15 step positions once, by bisection on nf4_quantize itself,
// and counts the steps below x without branches: the same code for every x, NaN included (0).
struct NF4Steps {
    float step[15];  // code(x) >= j + 1 exactly when x > step[j]
};

int32_t float_order_key(float f) {  // monotonic in f; -0 and +0 share a key
    const uint32_t bits = float_to_bits(f);
    return (bits & 0x80000000u) ? -int32_t(bits & 0x7fffffffu) : int32_t(bits);
}

float float_from_order_key(int32_t key) {
    return key >= 0 ? bits_to_float(uint32_t(key)) : bits_to_float(0x80000000u | uint32_t(-key));
}

NF4Steps find_nf4_steps() {
    NF4Steps s;
    for (int j = 1; j < 16; ++j) {
        int64_t below = float_order_key(-2.0f), above = float_order_key(2.0f);  // codes 0 and 15
        while (above - below > 1) {
            const int64_t mid = (below + above) / 2;
            (quant::nf4_quantize(float_from_order_key(int32_t(mid))) < j ? below : above) = mid;
        }
        s.step[j - 1] = float_from_order_key(int32_t(below));  // the largest x whose code is below j
    }
    return s;
}

// Packs the codes of one block of 64 values x[] (already multiplied by the reciprocal absmax)
// into 32 bytes; the step counting runs over the whole block at once, so it vectorizes.
void pack_nf4_block(const float* x, const NF4Steps& s, uint8_t* out, int64_t n_bytes) {
    uint8_t code[quant::kNF4BlockSize] = {};
    for (int j = 0; j < 15; ++j)
        for (int i = 0; i < quant::kNF4BlockSize; ++i) code[i] = uint8_t(code[i] + (x[i] > s.step[j]));
    for (int64_t i = 0; i < n_bytes; ++i) out[i] = uint8_t(code[2 * i] << 4 | code[2 * i + 1]);
}

// Midpoints of adjacent dynamic-map entries in fp32, as the torch default op computes its bucket
// bounds: (code[:-1] + code[1:]) / 2.
std::vector<float> dynamic_map_midpoints(const std::vector<float>& map) {
    std::vector<float> mid(map.size() - 1);
    for (size_t i = 0; i + 1 < map.size(); ++i) mid[i] = (map[i] + map[i + 1]) / 2.0f;
    return mid;
}

}  // namespace

std::vector<float> dynamic_map_signed() {
    // torch.linspace(0.1, 1, n, dtype=float32): step in fp32, then start + step * i for the first
    // half and end - step * (n - 1 - i) for the rest, each one fused multiply-add (as torch's CPU
    // kernel computes it; checked bit for bit against bitsandbytes' map in tests/test_quantize.cpp).
    auto linspace = [](int n) {
        const float start = 0.1f, end = 1.0f, step = (end - start) / float(n - 1);
        std::vector<float> v(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i)
            v[size_t(i)] = i < n / 2 ? std::fma(step, float(i), start) : std::fma(-step, float(n - 1 - i), end);
        return v;
    };
    // 10 ** (i - 6) as a Python float, then rounded to fp32 by the tensor multiply.
    const double decades[7] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0};
    std::vector<float> map;
    map.reserve(quant::kDynamicMapSize);
    for (int i = 0; i < 7; ++i) {
        const std::vector<float> bounds = linspace((1 << i) + 1);
        const float decade = float(decades[i]);
        for (size_t j = 0; j + 1 < bounds.size(); ++j) {
            const float mean = (bounds[j] + bounds[j + 1]) / 2.0f;
            map.push_back(decade * mean);
            map.push_back(-(decade * mean));
        }
    }
    map.push_back(0.0f);
    map.push_back(1.0f);
    std::sort(map.begin(), map.end());
    return map;
}

Int8Quantized quantize_int8(const float* w, int64_t rows, int64_t cols) {
    const char* where = "quantize_int8";
    checked_count(where, w, rows, cols);
    Int8Quantized q;
    q.rows = rows;
    q.cols = cols;
    q.codes.resize(size_t(rows * cols));
    q.row_scale.resize(size_t(rows));
    std::vector<float> row_f16(static_cast<size_t>(cols));  // [K] one row rounded to fp16
    for (int64_t n = 0; n < rows; ++n) {
        const float* row = w + n * cols;
        const float absmax = block_absmax(where, w, n * cols, (n + 1) * cols, cols);
        if (quant::round_to_fp16(absmax) > 65504.0f)
            fail(where, "row ", n, " has a value (", absmax, ") beyond the fp16 range");
        float scale = 0.0f;  // SCB: max |w16| over the row
        for (int64_t k = 0; k < cols; ++k) {
            row_f16[size_t(k)] = quant::round_to_fp16(row[k]);
            scale = std::max(scale, abs_f(row_f16[size_t(k)]));
        }
        q.row_scale[size_t(n)] = scale;
        int8_t* codes = q.codes.data() + n * cols;
        for (int64_t k = 0; k < cols; ++k) codes[k] = quant::int8_quantize(row_f16[size_t(k)], scale);
    }
    return q;
}

NF4Quantized quantize_nf4(const float* w, int64_t rows, int64_t cols) {
    const char* where = "quantize_nf4";
    const int64_t count = checked_count(where, w, rows, cols);
    const int64_t block = quant::kNF4BlockSize;
    const int64_t blocks = (count + block - 1) / block;
    NF4Quantized q;
    q.rows = rows;
    q.cols = cols;
    q.codes.assign(size_t((count + 1) / 2), 0);
    q.absmax.resize(size_t(blocks));
    static const NF4Steps steps = find_nf4_steps();
    double absmax_sum = 0.0;
    for (int64_t b = 0; b < blocks; ++b) {
        const int64_t begin = b * block, end = std::min(count, begin + block);
        const float absmax = block_absmax(where, w, begin, end, cols);
        q.absmax[size_t(b)] = absmax;
        absmax_sum += absmax;
        // bitsandbytes multiplies by the reciprocal. An all-zero block gives 0 * inf = NaN, which
        // quantizes to code 0 as on CUDA (bitsandbytes' CPU op writes code 7). Its double-quantized
        // scale is rebuilt only approximately, not as 0, so on CUDA and here the block dequantizes
        // to -scale, a small value, where the CPU op's code 7 gives exactly 0.
        // A short last block is padded with zeros, as bitsandbytes loads past the end as 0: with an
        // odd element count the pad nibble is the code of 0.
        const float inverse = 1.0f / absmax;
        float x[quant::kNF4BlockSize];
        for (int64_t i = 0; i < block; ++i) x[i] = (begin + i < end ? w[begin + i] : 0.0f) * inverse;
        pack_nf4_block(x, steps, q.codes.data() + begin / 2, (end - begin + 1) / 2);
    }
    quantize_nf4_absmax(q, float(absmax_sum / double(blocks)));
    return q;
}

void quantize_nf4_absmax(NF4Quantized& q, float offset) {
    const char* where = "quantize_nf4_absmax";
    if (q.rows <= 0 || q.cols <= 0 || q.rows > std::numeric_limits<int64_t>::max() / q.cols)
        fail(where, "bad shape [", q.rows, ", ", q.cols, "]");
    const int64_t blocks = (q.rows * q.cols + quant::kNF4BlockSize - 1) / quant::kNF4BlockSize;
    if (int64_t(q.absmax.size()) != blocks)
        fail(where, q.absmax.size(), " absmax values for shape [", q.rows, ", ", q.cols, "], expected ", blocks);
    if (!std::isfinite(offset)) fail(where, "offset ", offset, " is not finite");

    static const std::vector<float> map = dynamic_map_signed();
    static const std::vector<float> midpoints = dynamic_map_midpoints(map);
    const uint8_t zero_code = uint8_t(std::lower_bound(map.begin(), map.end(), 0.0f) - map.begin());  // 127

    const int64_t group = quant::kNF4NestedBlockSize;
    q.offset = offset;
    q.dynamic_map = map;
    q.absmax_codes.resize(size_t(blocks));
    q.nested_absmax.resize(size_t((blocks + group - 1) / group));
    std::vector<float> centred(static_cast<size_t>(group));  // [256] absmax - offset of one group
    for (int64_t g = 0; g * group < blocks; ++g) {
        const int64_t begin = g * group, end = std::min(blocks, begin + group);
        float nested = 0.0f;
        for (int64_t b = begin; b < end; ++b) {
            centred[size_t(b - begin)] = q.absmax[size_t(b)] - offset;
            nested = std::max(nested, abs_f(centred[size_t(b - begin)]));
        }
        q.nested_absmax[size_t(g)] = nested;
        const float inverse = 1.0f / nested;
        for (int64_t b = begin; b < end; ++b) {
            if (nested == 0.0f) {  // every absmax equals the offset: the map's 0.0 entry
                q.absmax_codes[size_t(b)] = zero_code;
                continue;
            }
            // Nearest entry, ties to the lower index: the first midpoint >= x (torch.bucketize).
            const float x = centred[size_t(b - begin)] * inverse;
            q.absmax_codes[size_t(b)] =
                uint8_t(std::lower_bound(midpoints.begin(), midpoints.end(), x) - midpoints.begin());
        }
    }
}

Int4Quantized quantize_int4(const float* w, int64_t rows, int64_t cols) {
    const char* where = "quantize_int4";
    const int64_t count = checked_count(where, w, rows, cols);
    const int64_t group = quant::kInt4GroupSize;
    const int64_t groups = quant::int4_groups_per_row(cols);
    Int4Quantized q;
    q.rows = rows;
    q.cols = cols;
    q.codes.assign(size_t((count + 1) / 2), 0);  // an odd count leaves the pad nibble 0 (the code of 0)
    q.scales.resize(size_t(rows * groups));
    for (int64_t n = 0; n < rows; ++n) {
        for (int64_t g = 0; g < groups; ++g) {
            const int64_t begin = n * cols + g * group, end = n * cols + std::min(cols, (g + 1) * group);
            const float absmax = block_absmax(where, w, begin, end, cols);
            // The codes use the stored fp16 scale, so that code * scale is what the kernels multiply.
            const float scale = quant::round_to_fp16(quant::int4_scale(absmax));
            if (scale > 65504.0f) fail(where, "row ", n, " group ", g, ": scale of absmax ", absmax, " overflows fp16");
            q.scales[size_t(n * groups + g)] = float_to_fp16(scale);
            for (int64_t i = begin; i < end; ++i)
                put_nibble(q.codes, i, quant::int4_to_nibble(quant::int4_quantize(w[i], scale)));
        }
    }
    return q;
}

}  // namespace fastvlm
