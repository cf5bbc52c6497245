// Quantize-at-load (loader/quantize.cpp) against bitsandbytes' own output on the same weights
// (tests/golden/quant, made by tools/golden/quant.py), plus round trips and bad input.
#include "tests/test_util.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuda/quant_int4.cuh"
#include "cuda/quant_int8.cuh"
#include "cuda/quant_nf4.cuh"
#include "loader/quantize.h"
#include "runtime/half.h"
#include "tests/golden_compare.h"

using namespace fastvlm;

namespace {

const char* kFixture = "tests/golden/quant/reference.safetensors";
const char* kCases[] = {"small", "large", "flat"};  // see tools/golden/quant.py

// The raw elements of a fixture tensor of the given dtype.
template <typename T>
std::vector<T> raw(const test::Reference& ref, const std::string& name, DType dtype) {
    const TensorView& t = ref.view(name);
    REQUIRE_MESSAGE(t.dtype == dtype, name, " is ", dtype_name(t.dtype));
    std::vector<T> out(t.nbytes / sizeof(T));
    std::memcpy(out.data(), t.data, t.nbytes);
    return out;
}

bool same_bits(float a, float b) { return float_to_bits(a) == float_to_bits(b); }

// Index of the first element whose bits differ, or -1.
int64_t first_difference(const std::vector<float>& got, const std::vector<float>& want) {
    if (got.size() != want.size()) return 0;
    for (size_t i = 0; i < got.size(); ++i)
        if (!same_bits(got[i], want[i])) return int64_t(i);
    return -1;
}

}  // namespace

TEST_CASE("quantize: NF4 codes and absmax match bitsandbytes bit for bit") {
    test::Reference ref(kFixture);
    for (const std::string name : kCases) {
        CAPTURE(name);
        const std::string p = "nf4." + name + ".";
        const std::vector<float> w = ref.floats(p + "weight");
        const std::vector<int64_t>& shape = ref.shape(p + "weight");
        const NF4Quantized q = quantize_nf4(w.data(), shape[0], shape[1]);
        CHECK(q.rows == shape[0]);
        CHECK(q.cols == shape[1]);
        CHECK(first_difference(q.absmax, ref.floats(p + "absmax")) == -1);
        // "codes": the CUDA kernel's rule (tools/golden/quant.py), pad nibble included.
        CHECK(q.codes == raw<uint8_t>(ref, p + "codes", DType::U8));
    }
}

// bitsandbytes' CPU op (the torch "default" quantize_4bit) differs from the CUDA kernel in three
// ways, each reproduced here so that every difference from our codes is accounted for:
//   - it bucketizes on fp32 midpoints of the table, some one ulp off CUDA's float literals;
//   - it divides by the absmax in a short last block instead of multiplying by the reciprocal;
//   - it clamps a zero absmax to 1e-38, so an all-zero block gets code 7 (0.0), not 0.
TEST_CASE("quantize: NF4 codes differ from bitsandbytes' CPU op only where its rule differs from CUDA's") {
    test::Reference ref(kFixture);
    float midpoints[15];
    for (int j = 0; j < 15; ++j) midpoints[j] = (quant::nf4_value(j) + quant::nf4_value(j + 1)) / 2.0f;
    auto cpu_code = [&](float x) {
        x = std::min(1.0f, std::max(-1.0f, x));
        int code = 0;
        while (code < 15 && midpoints[code] < x) ++code;  // torch.bucketize(right=False)
        return code;
    };
    int64_t differences = 0, zero_block_values = 0;
    for (const std::string name : kCases) {
        CAPTURE(name);
        const std::string p = "nf4." + name + ".";
        const std::vector<float> w = ref.floats(p + "weight");
        const std::vector<int64_t>& shape = ref.shape(p + "weight");
        const NF4Quantized q = quantize_nf4(w.data(), shape[0], shape[1]);
        const std::vector<uint8_t> bnb = raw<uint8_t>(ref, p + "codes_bnb_cpu", DType::U8);
        REQUIRE(bnb.size() == q.codes.size());
        const int64_t count = shape[0] * shape[1], last_block = (count - 1) / quant::kNF4BlockSize;
        const bool short_last_block = count % quant::kNF4BlockSize != 0;
        int64_t unexplained = 0;
        for (int64_t i = 0; i < int64_t(bnb.size()) * 2; ++i) {
            const int64_t b = std::min(i, count - 1) / quant::kNF4BlockSize;  // the pad nibble: the last block
            const float v = i < count ? w[size_t(i)] : 0.0f, absmax = std::max(q.absmax[size_t(b)], 1e-38f);
            const float x = (short_last_block && b == last_block) ? v / absmax : v * (1.0f / absmax);
            const int theirs = quant::nf4_code_at(bnb.data(), i), ours = quant::nf4_code_at(q.codes.data(), i);
            unexplained += theirs != cpu_code(x);
            if (q.absmax[size_t(b)] == 0.0f) {
                CHECK(ours == 0);
                ++zero_block_values;
            } else {
                differences += ours != theirs;
            }
        }
        CHECK(unexplained == 0);
    }
    CHECK(differences > 0);  // the fixture holds values exactly on thresholds of both rules
    CHECK(zero_block_values > 0);
}

TEST_CASE("quantize: NF4 offset is the mean of the block absmax values") {
    test::Reference ref(kFixture);
    for (const std::string name : kCases) {
        CAPTURE(name);
        const std::string p = "nf4." + name + ".";
        const std::vector<float> w = ref.floats(p + "weight");
        const NF4Quantized q = quantize_nf4(w.data(), ref.shape(p + "weight")[0], ref.shape(p + "weight")[1]);
        // torch's fp32 mean and our double sum may round differently in the last bit.
        const float bnb = ref.floats(p + "offset")[0];
        CHECK(std::fabs(q.offset - bnb) <= std::fabs(bnb) * 2.5e-7f);
    }
}

TEST_CASE("quantize: NF4 double-quant codes match the exact rule, with bitsandbytes' offset") {
    test::Reference ref(kFixture);
    const std::vector<float> map = ref.floats("nf4.dynamic_map");
    for (const std::string name : kCases) {
        CAPTURE(name);
        const std::string p = "nf4." + name + ".";
        const std::vector<float> w = ref.floats(p + "weight");
        NF4Quantized q = quantize_nf4(w.data(), ref.shape(p + "weight")[0], ref.shape(p + "weight")[1]);
        const float offset = ref.floats(p + "offset")[0];
        quantize_nf4_absmax(q, offset);
        CHECK(same_bits(q.offset, offset));
        CHECK(first_difference(q.nested_absmax, ref.floats(p + "nested_absmax")) == -1);
        CHECK(q.absmax_codes == raw<uint8_t>(ref, p + "absmax_codes", DType::U8));
        CHECK(first_difference(q.dynamic_map, map) == -1);

        // bitsandbytes' CPU lookup-table codes are not always the nearest entry; ours always are.
        const std::vector<uint8_t> lut_codes = raw<uint8_t>(ref, p + "absmax_codes_bnb_cpu", DType::U8);
        REQUIRE(lut_codes.size() == q.absmax_codes.size());
        for (size_t b = 0; b < q.absmax_codes.size(); ++b) {
            const float nested = q.nested_absmax[b / quant::kNF4NestedBlockSize];
            if (nested == 0.0f) {
                CHECK(q.absmax_codes[b] == 127);  // a zero group: the 0.0 entry
                continue;
            }
            const double x = double((q.absmax[b] - offset) * (1.0f / nested));
            CHECK(std::fabs(map[q.absmax_codes[b]] - x) <= std::fabs(map[lut_codes[b]] - x));
        }
    }
}

TEST_CASE("quantize: dynamic map matches bitsandbytes' create_dynamic_map bit for bit") {
    test::Reference ref(kFixture);
    const std::vector<float> map = dynamic_map_signed();
    REQUIRE(map.size() == 256);
    CHECK(first_difference(map, ref.floats("nf4.dynamic_map")) == -1);
    CHECK(map[127] == 0.0f);
    CHECK(map[255] == 1.0f);
    CHECK(map[0] > -1.0f);  // no -1.0 in the map
}

TEST_CASE("quantize: int8 codes and row scales match bitsandbytes' int8_vectorwise_quant") {
    test::Reference ref(kFixture);
    for (const std::string name : {"small", "large"}) {
        CAPTURE(name);
        const std::vector<float> w = ref.floats("nf4." + name + ".weight");
        const std::vector<int64_t>& shape = ref.shape("nf4." + name + ".weight");
        const Int8Quantized q = quantize_int8(w.data(), shape[0], shape[1]);
        CHECK(q.rows == shape[0]);
        CHECK(q.cols == shape[1]);
        CHECK(q.codes == raw<int8_t>(ref, "int8." + name + ".codes", DType::I8));
        CHECK(first_difference(q.row_scale, ref.floats("int8." + name + ".row_scale")) == -1);
    }
}

TEST_CASE("quantize: int4 codes and fp16 scales match the W4A4 formulas") {
    test::Reference ref(kFixture);
    for (const std::string name : {"small", "large"}) {
        CAPTURE(name);
        const std::vector<float> w = ref.floats("nf4." + name + ".weight");
        const std::vector<int64_t>& shape = ref.shape("nf4." + name + ".weight");
        const Int4Quantized q = quantize_int4(w.data(), shape[0], shape[1]);
        CHECK(q.codes == raw<uint8_t>(ref, "w4a4." + name + ".codes", DType::U8));
        CHECK(q.scales == raw<uint16_t>(ref, "w4a4." + name + ".scales", DType::F16));
        CHECK(int64_t(q.scales.size()) == shape[0] * quant::int4_groups_per_row(shape[1]));
    }
}

TEST_CASE("quantize: NF4 codes equal nf4_quantize for values at and around every threshold") {
    // CUDA's thresholds (kernels.cu dQuantizeNF4; spec quant.md 1.2), as float literals.
    const float thresholds[15] = {-0.8480964004993439f, -0.6106329262256622f, -0.4599952697753906f,
                                  -0.33967943489551544f, -0.23460740596055984f, -0.13791173323988914f,
                                  -0.045525018125772476f, 0.03979014977812767f, 0.1202552504837513f,
                                  0.2035212516784668f, 0.2920137718319893f, 0.3893125355243683f,
                                  0.5016634166240692f, 0.6427869200706482f, 0.8614784181118011f};
    // Blocks of absmax 1 (so x = w exactly) holding each threshold and its neighbours up to 3 ulps
    // away, then random blocks with other absmax values, and a short last block.
    std::vector<float> w;
    for (float t : thresholds) {
        std::vector<float> block = {1.0f, t};
        float up = t, down = t;
        for (int k = 0; k < 3; ++k) {
            up = std::nextafter(up, 2.0f);
            down = std::nextafter(down, -2.0f);
            block.push_back(up);
            block.push_back(down);
        }
        block.resize(quant::kNF4BlockSize, 0.25f);
        w.insert(w.end(), block.begin(), block.end());
    }
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.03f);
    for (int i = 0; i < 64 * 40 + 17; ++i) w.push_back(normal(rng));
    const int64_t cols = 37, rows = int64_t(w.size()) / cols;
    w.resize(size_t(rows * cols));
    const NF4Quantized q = quantize_nf4(w.data(), rows, cols);
    int64_t mismatches = 0;
    for (int64_t i = 0; i < rows * cols; ++i) {
        const float inverse = 1.0f / q.absmax[size_t(i / quant::kNF4BlockSize)];
        mismatches += quant::nf4_code_at(q.codes.data(), i) != quant::nf4_quantize(w[size_t(i)] * inverse);
    }
    CHECK(mismatches == 0);
    for (int j = 0; j < 15; ++j) {
        CAPTURE(j);
        CHECK(quant::nf4_code_at(q.codes.data(), 64 * j + 1) == j);      // on the threshold: the lower code
        CHECK(quant::nf4_code_at(q.codes.data(), 64 * j + 2) == j + 1);  // one ulp above: the upper
        CHECK(quant::nf4_code_at(q.codes.data(), 64 * j + 3) == j);      // one ulp below
    }
}

TEST_CASE("quantize: NF4 round trip stays within half a level step of each weight") {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 0.05f);
    const int64_t rows = 70, cols = 300;  // 328 blocks: two nested groups
    std::vector<float> w(size_t(rows * cols));
    for (float& v : w) v = normal(rng);
    for (int64_t i = 640; i < 704; ++i) w[size_t(i)] = 0.0f;  // block 10: all zero
    w[5000] = 2.5f;
    const NF4Quantized q = quantize_nf4(w.data(), rows, cols);
    REQUIRE(q.nested_absmax.size() == 2);
    REQUIRE(q.dynamic_map.size() == 256);
    double worst = 0.0;
    for (int64_t i = 0; i < rows * cols; ++i) {
        const int64_t b = i / quant::kNF4BlockSize;
        const float scale = quant::nf4_block_scale(q.absmax_codes[size_t(b)], q.nested_absmax[size_t(b / 256)],
                                                   q.offset, q.dynamic_map.data());
        // The scale is the absmax up to half the widest gap of the dynamic map (0.0071) times the
        // nested absmax; the level is the nearest, at most 0.152 (half the widest NF4 gap) away.
        CHECK(std::fabs(scale - q.absmax[size_t(b)]) <= 0.0071f * q.nested_absmax[size_t(b / 256)] + 1e-7f);
        const float got = quant::nf4_dequantize_f32(quant::nf4_code_at(q.codes.data(), i), scale);
        const double bound = 0.1520 * q.absmax[size_t(b)] + std::fabs(scale - q.absmax[size_t(b)]) + 1e-7;
        const double err = std::fabs(double(got) - double(w[size_t(i)]));
        if (err > bound) FAIL_CHECK("element ", i, ": ", w[size_t(i)], " came back as ", got);
        worst = std::max(worst, err / double(q.absmax[size_t(b)] > 0 ? q.absmax[size_t(b)] : 1.0f));
    }
    CHECK(worst > 0.01);  // the bound is not vacuous: coding really loses precision
    for (int64_t i = 640; i < 704; ++i) CHECK(quant::nf4_code_at(q.codes.data(), i) == 0);  // the CUDA rule
}

TEST_CASE("quantize: int8 and int4 round trips stay within half a step") {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.0f, 0.1f);
    const int64_t rows = 9, cols = 150;  // int4: groups of 64, 64, 22
    std::vector<float> w(size_t(rows * cols));
    for (float& v : w) v = normal(rng);
    for (int64_t k = 0; k < cols; ++k) w[size_t(4 * cols + k)] = 0.0f;  // row 4: all zero
    w[7] = -3.0f;

    const Int8Quantized q8 = quantize_int8(w.data(), rows, cols);
    for (int64_t n = 0; n < rows; ++n)
        for (int64_t k = 0; k < cols; ++k) {
            const float w16 = quant::round_to_fp16(w[size_t(n * cols + k)]);
            const float got = float(q8.codes[size_t(n * cols + k)]) * q8.row_scale[size_t(n)] / 127.0f;
            CHECK(std::fabs(got - w16) <= q8.row_scale[size_t(n)] / 254.0f * 1.0001f);
        }
    CHECK(q8.row_scale[4] == 0.0f);
    CHECK(q8.codes[size_t(4 * cols + 3)] == 0);
    CHECK(q8.codes[7] == -127);

    const Int4Quantized q4 = quantize_int4(w.data(), rows, cols);
    const int groups = quant::int4_groups_per_row(cols);
    REQUIRE(groups == 3);
    for (int64_t n = 0; n < rows; ++n)
        for (int64_t k = 0; k < cols; ++k) {
            const float scale = fp16_to_float(q4.scales[size_t(n * groups + k / 64)]);
            const int code = quant::int4_code_at(q4.codes.data(), n * cols + k);
            CHECK(std::abs(code) <= 7);
            const float v = w[size_t(n * cols + k)];
            CHECK(std::fabs(float(code) * scale - v) <= 0.5f * scale + 1e-3f * std::fabs(v));
        }
    CHECK(q4.scales[size_t(4 * groups + 1)] == 0);
    CHECK(quant::int4_code_at(q4.codes.data(), 7) == -7);
}

TEST_CASE("quantize: rejects bad shapes, missing data and non-finite weights") {
    const float w[4] = {0.5f, -0.25f, 1.0f, 0.0f};
    CHECK(test::error_of([&] { quantize_nf4(w, 0, 4); }) == "quantize_nf4: shape [0, 4] has a dimension <= 0");
    CHECK(test::error_of([&] { quantize_int8(w, 2, -2); }) == "quantize_int8: shape [2, -2] has a dimension <= 0");
    CHECK(test::error_of([&] { quantize_int4(w, int64_t(1) << 40, int64_t(1) << 30); }) ==
          "quantize_int4: shape [1099511627776, 1073741824] has more elements than fit in 64 bits");
    CHECK(test::error_of([&] { quantize_nf4(nullptr, 2, 2); }) == "quantize_nf4: no weight data for shape [2, 2]");

    const float nan_w[6] = {0.5f, -0.25f, 1.0f, 0.0f, std::numeric_limits<float>::quiet_NaN(), 1.0f};
    CHECK(test::error_of([&] { quantize_nf4(nan_w, 2, 3); }) == "quantize_nf4: weight [1, 1] is not finite (nan)");
    CHECK(test::error_of([&] { quantize_int4(nan_w, 3, 2); }) == "quantize_int4: weight [2, 0] is not finite (nan)");
    const float inf_w[3] = {0.5f, -std::numeric_limits<float>::infinity(), 1.0f};
    CHECK(test::error_of([&] { quantize_int8(inf_w, 1, 3); }) == "quantize_int8: weight [0, 1] is not finite (-inf)");

    const float huge[4] = {1.0f, 2.0f, 70000.0f, 3.0f};
    CHECK(test::error_of([&] { quantize_int8(huge, 2, 2); }) ==
          "quantize_int8: row 1 has a value (70000) beyond the fp16 range");
    const float huger[2] = {1.0f, 5e5f};
    CHECK(test::error_of([&] { quantize_int4(huger, 1, 2); }) ==
          "quantize_int4: row 0 group 0: scale of absmax 500000 overflows fp16");

    NF4Quantized q = quantize_nf4(w, 2, 2);
    q.absmax.push_back(1.0f);
    CHECK(test::error_of([&] { quantize_nf4_absmax(q, 0.5f); }) ==
          "quantize_nf4_absmax: 2 absmax values for shape [2, 2], expected 1");
    q.absmax.pop_back();
    CHECK(test::error_of([&] { quantize_nf4_absmax(q, std::numeric_limits<float>::infinity()); }) ==
          "quantize_nf4_absmax: offset inf is not finite");
    q.rows = 0;
    CHECK(test::error_of([&] { quantize_nf4_absmax(q, 0.5f); }) == "quantize_nf4_absmax: bad shape [0, 2]");
}
