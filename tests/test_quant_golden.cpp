// The CPU twins of the quantized linear layers (runtime/cpu/gemv_int8, gemv_nf4, gemv_w4a4)
// against reference outputs made with bitsandbytes and torch (tests/golden/quant, made by
// tools/golden/quant.py): weights and activations as bitsandbytes stores them, one layer, T = 1
// and T = 5 tokens, activations with LLM.int8 outliers (|x| >= 6).
//
// Tolerances. Exact where the math is exact: activation codes and scales, dequantized weights, and
// the int8 output (integer dot products; the design fixes every rounding, and the few outlier
// products, fp16 times fp16, are summed in ascending column order as the reference does).
// An output that is a long fp32 sum rounded once to fp16 (nf4 fp16, w4a4) may be summed in another
// order; that moves the sum by a few fp32 ulps, 2^-13 of an fp16 step each, which changes the
// rounding only when the exact sum lies that close to a rounding boundary, and then by one fp16
// step. So: at most one step anywhere, and at least 90% exact (a systematic error, such as
// truncating instead of rounding, would miss about half). The fp32 output (nf4 fp32) is compared
// with a float64 product: 1e-5 of the output's largest value covers any fp32 summation order.
#include "tests/test_util.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/quant_common.cuh"
#include "runtime/cpu/gemv_int8.h"
#include "runtime/cpu/gemv_nf4.h"
#include "runtime/cpu/gemv_w4a4.h"
#include "runtime/half.h"
#include "tests/golden_compare.h"

using namespace fastvlm;

namespace {

const char* kFixture = "tests/golden/quant/reference.safetensors";
const char* kLayers[] = {"small", "large"};  // [7, 45] and [24, 712], see tools/golden/quant.py
const char* kTokenCounts[] = {"t1", "t5"};

template <typename T>
std::vector<T> raw(const test::Reference& ref, const std::string& name, DType dtype) {
    const TensorView& t = ref.view(name);
    REQUIRE_MESSAGE(t.dtype == dtype, name, " is ", dtype_name(t.dtype));
    std::vector<T> out(t.nbytes / sizeof(T));
    std::memcpy(out.data(), t.data, t.nbytes);
    return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Distance in fp16 steps between two fp16 values held in fp32 (huge when `got` is not fp16).
int fp16_steps(float got, float want) {
    if (!(quant::round_to_fp16(got) == got) || !(quant::round_to_fp16(want) == want)) return 1 << 20;
    auto key = [](float v) {
        const uint16_t h = float_to_fp16(v);
        return (h & 0x8000) ? -int(h & 0x7fff) : int(h);
    };
    return std::abs(key(got) - key(want));
}

// Checks an fp16-rounded output against its reference as the header comment explains.
void check_fp16_output(const std::vector<float>& got, const std::vector<float>& want) {
    REQUIRE(got.size() == want.size());
    size_t exact = 0;
    int worst = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const int steps = fp16_steps(got[i], want[i]);
        exact += steps == 0;
        worst = std::max(worst, steps);
        if (steps > 1) FAIL_CHECK("output ", i, ": ", got[i], " vs reference ", want[i]);
    }
    CHECK(worst <= 1);
    CHECK(double(exact) >= 0.9 * double(got.size()));
}

struct Layer {
    int out_features = 0, in_features = 0;
    std::vector<float> bias;  // [N]
};

Layer layer_of(const test::Reference& ref, const std::string& name) {
    Layer l;
    const std::vector<int64_t>& shape = ref.shape("nf4." + name + ".weight");
    l.out_features = int(shape[0]);
    l.in_features = int(shape[1]);
    l.bias = ref.floats("linear." + name + ".bias");
    return l;
}

// The packed NF4 weight of one fixture case, as the runtime holds it.
struct NF4Weight {
    std::vector<uint8_t> codes, absmax_codes;
    std::vector<float> nested_absmax, dynamic_map;
    cpu::NF4WeightView view;
};

NF4Weight nf4_weight(const test::Reference& ref, const std::string& name) {
    NF4Weight w;
    const std::string p = "nf4." + name + ".";
    w.codes = raw<uint8_t>(ref, p + "codes", DType::U8);
    w.absmax_codes = raw<uint8_t>(ref, p + "absmax_codes", DType::U8);
    w.nested_absmax = ref.floats(p + "nested_absmax");
    w.dynamic_map = ref.floats("nf4.dynamic_map");
    w.view.codes = w.codes.data();
    w.view.absmax_codes = w.absmax_codes.data();
    w.view.nested_absmax = w.nested_absmax.data();
    w.view.dynamic_map = w.dynamic_map.data();
    w.view.offset = ref.floats(p + "offset")[0];
    w.view.out_features = int(ref.shape(p + "weight")[0]);
    w.view.in_features = int(ref.shape(p + "weight")[1]);
    return w;
}

}  // namespace

TEST_CASE("quant golden: int8 activations match bitsandbytes' int8_vectorwise_quant") {
    test::Reference ref(kFixture);
    int outlier_columns_seen = 0;
    for (const std::string layer : kLayers)
        for (const std::string tokens : kTokenCounts) {
            const std::string key = layer + "." + tokens;
            CAPTURE(key);
            const std::vector<float> x = ref.floats("x." + key);
            const int t_count = int(ref.shape("x." + key)[0]), k = int(ref.shape("x." + key)[1]);
            cpu::Int8Activations a;
            cpu::quantize_activations_int8(x.data(), t_count, k, 6.0f, a);
            CHECK(a.n_tokens == t_count);
            CHECK(a.in_features == k);
            CHECK(a.codes == raw<int8_t>(ref, "act_int8." + key + ".codes", DType::I8));
            CHECK(same_bits(a.scales, ref.floats("act_int8." + key + ".scales")));
            const std::vector<int32_t> columns = ref.ints("act_int8." + key + ".outlier_columns");
            CHECK(a.outlier_columns == std::vector<int>(columns.begin(), columns.end()));
            outlier_columns_seen += int(columns.size());
            REQUIRE(a.x_f16.size() == x.size());
            for (size_t i = 0; i < x.size(); ++i) CHECK(a.x_f16[i] == quant::round_to_fp16(x[i]));
        }
    CHECK(outlier_columns_seen > 0);
}

TEST_CASE("quant golden: gemv_int8 reproduces LLM.int8 with bitsandbytes' CUDA dequant constant") {
    test::Reference ref(kFixture);
    for (const std::string layer : kLayers) {
        const Layer l = layer_of(ref, layer);
        const std::vector<int8_t> codes = raw<int8_t>(ref, "int8." + layer + ".codes", DType::I8);
        const std::vector<float> row_scale = ref.floats("int8." + layer + ".row_scale");
        cpu::Int8WeightView w;
        w.codes = codes.data();
        w.row_scale = row_scale.data();
        w.out_features = l.out_features;
        w.in_features = l.in_features;
        for (const std::string tokens : kTokenCounts) {
            const std::string key = layer + "." + tokens;
            CAPTURE(key);
            const std::vector<float> x = ref.floats("x." + key);
            const int t_count = int(ref.shape("x." + key)[0]);
            cpu::Int8Activations a;
            cpu::quantize_activations_int8(x.data(), t_count, l.in_features, 6.0f, a);
            std::vector<float> y(size_t(t_count * l.out_features), NAN);
            const int split = l.out_features / 3;  // two row ranges, as threads split the rows
            cpu::gemv_int8(w, l.bias.data(), a, y.data(), 0, split);
            cpu::gemv_int8(w, l.bias.data(), a, y.data(), split, l.out_features);
            const std::vector<float> want = ref.floats("y_int8." + key);
            CHECK(same_bits(y, want));
            check_fp16_output(y, want);  // names the outputs that differ
            // bitsandbytes' own CPU layer uses 6.200124e-05 for 1/127^2 (spec quant.md 4.3): ~2e-5 off.
            CHECK(test::relative_error(y, ref.floats("y_int8_bnb_cpu." + key)) <= 1e-3);
        }
    }
}

TEST_CASE("quant golden: NF4 dequantized rows match bitsandbytes' dequantize_4bit") {
    test::Reference ref(kFixture);
    for (const std::string name : {"small", "large", "flat"}) {
        CAPTURE(name);
        const NF4Weight w = nf4_weight(ref, name);
        const std::vector<float> want_f32 = ref.floats("nf4." + name + ".dequant_f32");
        const std::vector<float> want_f16 = ref.floats("nf4." + name + ".dequant_f16");
        const int rows = int(ref.shape("nf4." + name + ".dequant_f32")[0]), k = w.view.in_features;
        std::vector<float> got(size_t(rows * k));
        cpu::dequantize_nf4_rows(w.view, cpu::NF4Compute::F32, 0, rows, got.data());
        CHECK(same_bits(got, want_f32));
        cpu::dequantize_nf4_rows(w.view, cpu::NF4Compute::F16, 0, rows, got.data());
        CHECK(same_bits(got, want_f16));
        // A range that starts inside the tensor (blocks straddle rows when K % 64 != 0).
        std::vector<float> tail(size_t((rows - 2) * k));
        cpu::dequantize_nf4_rows(w.view, cpu::NF4Compute::F32, 2, rows, tail.data());
        CHECK(same_bits(tail, std::vector<float>(want_f32.begin() + 2 * k, want_f32.end())));
    }
}

TEST_CASE("quant golden: gemv_nf4 reproduces dequantize_4bit times x (fp32) and bitsandbytes' fp16 kernel") {
    test::Reference ref(kFixture);
    for (const std::string layer : kLayers) {
        const Layer l = layer_of(ref, layer);
        const NF4Weight w = nf4_weight(ref, layer);
        for (const std::string tokens : kTokenCounts) {
            const std::string key = layer + "." + tokens;
            CAPTURE(key);
            const std::vector<float> x = ref.floats("x." + key);
            const int t_count = int(ref.shape("x." + key)[0]);
            const int split = l.out_features / 2;
            std::vector<float> y(size_t(t_count * l.out_features), NAN);
            cpu::gemv_nf4(w.view, cpu::NF4Compute::F32, l.bias.data(), x.data(), y.data(), t_count, 0, split);
            cpu::gemv_nf4(w.view, cpu::NF4Compute::F32, l.bias.data(), x.data(), y.data(), t_count, split,
                          l.out_features);
            CHECK(test::relative_error(y, ref.floats("y_nf4_f32." + key)) <= 1e-5);

            std::fill(y.begin(), y.end(), NAN);
            cpu::gemv_nf4(w.view, cpu::NF4Compute::F16, l.bias.data(), x.data(), y.data(), t_count, 0, split);
            cpu::gemv_nf4(w.view, cpu::NF4Compute::F16, l.bias.data(), x.data(), y.data(), t_count, split,
                          l.out_features);
            check_fp16_output(y, ref.floats("y_nf4_f16." + key));
        }
    }
}

TEST_CASE("quant golden: int4 activations match the W4A4 formulas") {
    test::Reference ref(kFixture);
    for (const std::string layer : kLayers)
        for (const std::string tokens : kTokenCounts) {
            const std::string key = layer + "." + tokens;
            CAPTURE(key);
            const std::vector<float> x = ref.floats("x." + key);
            const int t_count = int(ref.shape("x." + key)[0]), k = int(ref.shape("x." + key)[1]);
            cpu::Int4Activations a;
            cpu::quantize_activations_int4(x.data(), t_count, k, a);
            CHECK(a.n_tokens == t_count);
            CHECK(a.in_features == k);
            CHECK(a.groups == (k + 63) / 64);
            CHECK(a.codes == raw<int8_t>(ref, "act_int4." + key + ".codes", DType::I8));
            CHECK(same_bits(a.scales, ref.floats("act_int4." + key + ".scales")));
        }
}

TEST_CASE("quant golden: gemv_w4a4 reproduces the W4A4 formulas") {
    test::Reference ref(kFixture);
    for (const std::string layer : kLayers) {
        const Layer l = layer_of(ref, layer);
        const std::vector<uint8_t> codes = raw<uint8_t>(ref, "w4a4." + layer + ".codes", DType::U8);
        const std::vector<uint16_t> scales = raw<uint16_t>(ref, "w4a4." + layer + ".scales", DType::F16);
        cpu::Int4WeightView w;
        w.codes = codes.data();
        w.scales = scales.data();
        w.out_features = l.out_features;
        w.in_features = l.in_features;
        for (const std::string tokens : kTokenCounts) {
            const std::string key = layer + "." + tokens;
            CAPTURE(key);
            const std::vector<float> x = ref.floats("x." + key);
            const int t_count = int(ref.shape("x." + key)[0]);
            cpu::Int4Activations a;
            cpu::quantize_activations_int4(x.data(), t_count, l.in_features, a);
            std::vector<float> y(size_t(t_count * l.out_features), NAN);
            const int split = l.out_features - 1;
            cpu::gemv_w4a4(w, l.bias.data(), a, y.data(), 0, split);
            cpu::gemv_w4a4(w, l.bias.data(), a, y.data(), split, l.out_features);
            check_fp16_output(y, ref.floats("y_w4a4." + key));
        }
    }
}
