// Weight modes end to end on the tiny golden model: every mode loads, generates and stays close to
// the fp32 reference; the nf4-fp32 mode equals the reference run on its own dequantized weights;
// modes apply to the layers ModelModes names; Backend::linear refuses malformed weights.
#include <cmath>
#include <vector>

#include "cuda/quant_nf4.cuh"
#include "loader/model_files.h"
#include "loader/quantize.h"
#include "model/fastvlm.h"
#include "model/linear.h"
#include "runtime/cpu/backend_cpu.h"
#include "runtime/generate.h"
#include "runtime/weight_mode.h"
#include "tests/golden_compare.h"
#include "tests/test_util.h"
#include "tokenizer/prompt.h"
#include "tokenizer/tokenizer.h"

using namespace fastvlm;

namespace {

const char* kTinyDir = "tests/golden/fastvlm_tiny";
const char* kTinyTokenizer = "tests/golden/tokenizer/tiny_tokenizer.json";
constexpr int kSteps = 6;

// Logits of kSteps positions: the prompt's last, then tokens fed from `forced` (or greedy).
struct Run {
    std::vector<int32_t> ids;
    std::vector<std::vector<float>> logits;
    size_t llm_weight_bytes = 0;
};

Run run_mode(const ModelModes& modes, const std::vector<int32_t>& forced, const WeightLookup* lookup = nullptr) {
    const test::Reference ref(std::string(kTinyDir) + "/reference.safetensors");
    ModelFiles files(std::string(kTinyDir) + "/llava");
    const Tokenizer tokenizer = Tokenizer::from_file(kTinyTokenizer);
    cpu::CpuBackend backend(1);
    Run run;
    GenerateOptions options;
    options.max_new_tokens = kSteps;
    options.forced_ids = forced;
    options.on_logits = [&](int, const std::vector<float>& l) { run.logits.push_back(l); };
    const std::vector<int32_t> prompt_ids = fastvlm_prompt_ids(tokenizer, kDefaultQuestion).ids;
    if (lookup) {  // the language model alone on substituted weights, fed the reference image embeddings
        Qwen2 llm(backend, files.config().text, *lookup);
        FastVLM model(backend, files, modes);
        const Tensor image = model.encode_image(ref.floats("pixel_values"));
        const Tensor prompt = model.embed_prompt(prompt_ids, kImagePlaceholderId, &image);
        run.ids = generate(backend, llm, prompt, options).ids;
        return run;
    }
    FastVLM model(backend, files, modes);
    run.llm_weight_bytes = model.llm_weight_bytes();
    const Tensor image = model.encode_image(ref.floats("pixel_values"));
    const Tensor prompt = model.embed_prompt(prompt_ids, kImagePlaceholderId, &image);
    run.ids = generate(backend, model.language_model(), prompt, options).ids;
    return run;
}

double max_abs_diff(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
    double worst = 0;
    for (size_t p = 0; p < a.size(); ++p)
        for (size_t i = 0; i < a[p].size(); ++i) worst = std::max(worst, double(std::fabs(a[p][i] - b[p][i])));
    return worst;
}

double max_abs(const std::vector<std::vector<float>>& a) {
    double worst = 0;
    for (const auto& row : a)
        for (float v : row) worst = std::max(worst, double(std::fabs(v)));
    return worst;
}

int top1_agreements(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
    int agree = 0;
    for (size_t p = 0; p < a.size(); ++p) {
        size_t ia = 0, ib = 0;
        for (size_t i = 0; i < a[p].size(); ++i) {
            if (a[p][i] > a[p][ia]) ia = i;
            if (b[p][i] > b[p][ib]) ib = i;
        }
        agree += ia == ib;
    }
    return agree;
}

}  // namespace

TEST_CASE("weight modes: names round-trip and unknown names are refused") {
    for (WeightMode m : {WeightMode::Reference, WeightMode::F16, WeightMode::Int8, WeightMode::NF4F32,
                         WeightMode::NF4F16, WeightMode::W4A4})
        CHECK(parse_weight_mode(weight_mode_name(m)) == m);
    CHECK(benchmark_weight_modes().size() == 5);
    CHECK(benchmark_weight_modes().front() == WeightMode::F16);
    const std::string message = test::error_of([] { parse_weight_mode("int4"); });
    CHECK(message.find("unknown mode 'int4'") != std::string::npos);
    CHECK(message.find("nf4-fp16") != std::string::npos);
    // Labels say what the matmul computes in.
    CHECK(std::string(weight_mode_label(WeightMode::NF4F32)).find("W4A32") == 0);
    CHECK(std::string(weight_mode_label(WeightMode::W4A4)).find("W4A4") == 0);
}

TEST_CASE("weight modes: every mode runs the tiny model close to the fp32 reference") {
    const Run reference = run_mode(ModelModes{}, {});
    REQUIRE(reference.logits.size() == size_t(kSteps));
    const double scale = max_abs(reference.logits);
    struct Expect {
        WeightMode mode;
        double max_error;   // relative to the largest reference logit
        int min_agree;      // top-1 agreements out of kSteps
    };
    // fp16 rounds weights and activations (2^-11 relative); int8 quantizes both sides to 1/127 of
    // a row's range; the 4-bit modes lose most: only sanity bounds (the bench measures quality).
    for (const Expect e : {Expect{WeightMode::F16, 0.01, kSteps}, Expect{WeightMode::Int8, 0.1, kSteps - 1},
                           Expect{WeightMode::NF4F32, 0.5, 1}, Expect{WeightMode::NF4F16, 0.5, 1},
                           Expect{WeightMode::W4A4, 1.0, 1}}) {
        CAPTURE(weight_mode_name(e.mode));
        const Run run = run_mode(ModelModes::for_mode(e.mode), reference.ids);
        REQUIRE(run.logits.size() == size_t(kSteps));
        for (const auto& row : run.logits)
            for (float v : row) REQUIRE(std::isfinite(v));
        const double error = max_abs_diff(run.logits, reference.logits) / scale;
        CHECK(error > 0.0);  // the mode really changed the arithmetic
        CHECK(error < e.max_error);
        CHECK(top1_agreements(run.logits, reference.logits) >= e.min_agree);
        CHECK(run.llm_weight_bytes < reference.llm_weight_bytes);
    }
}

TEST_CASE("weight modes: nf4-fp32 equals the reference on its own dequantized weights") {
    // Dequantize every quantized tensor on the host and run the fp32 reference path on them.
    ModelFiles files(std::string(kTinyDir) + "/llava");
    const TextConfig& text = files.config().text;
    HostTensors host;
    const WeightLookup stored = lookup_in(files);
    auto quantized = [&](const std::string& name) {
        for (const char* p : {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"})
            if (name.find(std::string(p) + ".weight") != std::string::npos) return true;
        return false;
    };
    for (int l = 0; l < text.layers; ++l)
        for (const char* p : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                              "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"}) {
            const std::string name = "model.layers." + std::to_string(l) + "." + p + ".weight";
            const TensorView& view = require_weight(stored, name, "test");
            const std::vector<float> w = to_float(view);
            const NF4Quantized q = quantize_nf4(w.data(), view.shape[0], view.shape[1]);
            std::vector<float> dequantized(w.size());
            for (size_t i = 0; i < w.size(); ++i) {
                const float scale = quant::nf4_block_scale(q.absmax_codes[i / 64], q.nested_absmax[i / 64 / 256],
                                                           q.offset, q.dynamic_map.data());
                dequantized[i] = quant::nf4_dequantize_f32(quant::nf4_code_at(q.codes.data(), int64_t(i)), scale);
            }
            host.add(name, view.shape, std::move(dequantized));
        }
    const HostTensors& substitutes = host;
    const WeightLookup lookup = [&](const std::string& name) -> const TensorView* {
        if (quantized(name)) return substitutes.find(name);
        return stored(name);
    };
    ModelModes nf4 = ModelModes::for_mode(WeightMode::NF4F32);
    nf4.lm_head = WeightMode::Reference;
    nf4.projector = WeightMode::Reference;
    nf4.vision = WeightMode::Reference;
    const Run direct = run_mode(nf4, {});
    const Run via_host = run_mode(ModelModes{}, direct.ids, &lookup);
    CHECK(via_host.ids == direct.ids);
    CHECK(max_abs_diff(direct.logits, via_host.logits) <= 1e-4 * max_abs(direct.logits));
}

TEST_CASE("weight modes: the quantized lm_head and projector follow ModelModes") {
    ModelModes plain = ModelModes::for_mode(WeightMode::Int8);
    CHECK(plain.llm == WeightMode::Int8);
    CHECK(plain.lm_head == WeightMode::F16);
    CHECK(plain.projector == WeightMode::F16);
    CHECK(plain.vision == WeightMode::F16);
    CHECK(ModelModes::for_mode(WeightMode::Reference).vision == WeightMode::Reference);
    ModelModes all = ModelModes::for_mode(WeightMode::Int8, true, true);
    CHECK(all.lm_head == WeightMode::Int8);
    CHECK(all.projector == WeightMode::Int8);
    CHECK(ModelModes::for_mode(WeightMode::Reference).lm_head == WeightMode::Reference);
    // Quantizing the head shrinks the language model's weights further.
    const Run head_fp16 = run_mode(plain, {});
    const Run head_int8 = run_mode(all, head_fp16.ids);
    CHECK(head_int8.llm_weight_bytes < head_fp16.llm_weight_bytes);
}

TEST_CASE("linear: refuses mis-shaped weights and inputs with clear messages") {
    cpu::CpuBackend backend(1);
    std::vector<float> values(6 * 4, 0.5f);
    TensorView view;
    view.name = "layer.weight";
    view.file = "model.safetensors";
    view.dtype = DType::F32;
    view.shape = {6, 4};
    view.nbytes = values.size() * 4;
    view.data = reinterpret_cast<const uint8_t*>(values.data());
    TensorView bad_bias = view;
    bad_bias.name = "layer.bias";
    bad_bias.shape = {5};
    bad_bias.nbytes = 5 * 4;
    std::string message = test::error_of([&] { load_linear(backend, view, &bad_bias, WeightMode::Int8); });
    CHECK(message.find("layer.bias") != std::string::npos);
    CHECK(message.find("expected [6]") != std::string::npos);
    TensorView rank3 = view;
    rank3.shape = {2, 3, 4};
    message = test::error_of([&] { load_linear(backend, rank3, nullptr, WeightMode::NF4F16); });
    CHECK(message.find("expected a linear weight") != std::string::npos);

    for (WeightMode mode : {WeightMode::Reference, WeightMode::F16, WeightMode::Int8, WeightMode::NF4F32,
                            WeightMode::NF4F16, WeightMode::W4A4}) {
        CAPTURE(weight_mode_name(mode));
        const LinearWeight w = load_linear(backend, view, nullptr, mode);
        Tensor x = backend.alloc(DType::F32, {2, 5});  // K should be 4
        Tensor y = backend.alloc(DType::F32, {2, 6});
        message = test::error_of([&] { backend.linear(y, x, w); });
        CHECK(message.find("is not F32 rows of 4") != std::string::npos);
        Tensor x_ok = backend.alloc(DType::F32, {2, 4});
        Tensor y_bad = backend.alloc(DType::F32, {2, 7});
        message = test::error_of([&] { backend.linear(y_bad, x_ok, w); });
        CHECK(message.find("output") != std::string::npos);
        // A well-formed call: 0.5 * 0.5 * 4 = 1 in every output. The int8 and NF4 quantizers keep a
        // row's (block's) maximum exactly; W4A4's fp16 group scale 0.5/7 rounds (relative 2^-11).
        std::vector<float> halves(8, 0.5f);
        backend.write(x_ok, halves.data());
        backend.linear(y, x_ok, w);
        for (float v : backend.read(y)) CHECK(v == doctest::Approx(1.0).epsilon(mode == WeightMode::W4A4 ? 2e-3 : 1e-6));
    }
}

TEST_CASE("linear: the fp16 mode rounds input and output to fp16 around the activation, for one row or many") {
    // Both the decode path (one row: GEMV, then rounding passes) and the prompt path (the GEMM's
    // epilogue rounds) give fp16(act(fp16(sum + bias))) with the input rounded to fp16 first.
    cpu::CpuBackend backend(2);
    const int n = 40, k = 72, m = 9;
    std::vector<float> wv(size_t(n) * k), bv(n), xv(size_t(m) * k);
    for (size_t i = 0; i < wv.size(); ++i) wv[i] = float(int(i * 37 % 101) - 50) * 0.0123f;
    for (size_t i = 0; i < bv.size(); ++i) bv[i] = float(int(i * 13 % 17) - 8) * 0.05f;
    for (size_t i = 0; i < xv.size(); ++i) xv[i] = float(int(i * 53 % 97) - 48) * 0.0217f + 1e-4f;
    TensorView wview{"w", "memory", DType::F32, {n, k}, reinterpret_cast<const uint8_t*>(wv.data()), wv.size() * 4};
    TensorView bview{"b", "memory", DType::F32, {n}, reinterpret_cast<const uint8_t*>(bv.data()), bv.size() * 4};
    const LinearWeight w = load_linear(backend, wview, &bview, WeightMode::F16);
    auto fp16 = [](double v) { return double(fp16_to_float(float_to_fp16(float(v)))); };
    for (const Activation act : {Activation::None, Activation::GELU})
        for (const int rows : {1, m}) {
            CAPTURE(rows);
            const Tensor x = backend.upload(std::vector<float>(xv.begin(), xv.begin() + size_t(rows) * k), {rows, k});
            const Tensor y = backend.alloc(DType::F32, {rows, n});
            backend.linear(y, x, w, act);
            const std::vector<float> got = backend.read(y);
            for (int i = 0; i < rows; ++i)
                for (int j = 0; j < n; ++j) {
                    double sum = fp16(bv[size_t(j)]);
                    for (int t = 0; t < k; ++t) sum += fp16(xv[size_t(i) * k + t]) * fp16(wv[size_t(j) * k + t]);
                    double want = fp16(sum);
                    if (act == Activation::GELU) want = fp16(0.5 * want * (1.0 + std::erf(want / std::sqrt(2.0))));
                    const float g = got[size_t(i) * n + j];
                    CHECK(fp16_to_float(float_to_fp16(g)) == g);  // an fp16 value
                    CHECK(std::fabs(g - want) <= 2e-3 * std::fabs(want) + 1e-6);  // within an fp16 ulp or so
                }
        }

    // The input's rounding itself, made visible by cancellation: x0 = 1 + 2^-11 + 2^-14 rounds up
    // to 1 + 2^-10, so x0 - x1 with x1 = 1 is 2^-10 on fp16 inputs and 2^-11 + 2^-14 on fp32 ones.
    const std::vector<float> pair_w = {1.0f, -1.0f}, x0 = {1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -14), 1.0f};
    TensorView pview{"p", "memory", DType::F32, {1, 2}, reinterpret_cast<const uint8_t*>(pair_w.data()), 8};
    const LinearWeight difference = load_linear(backend, pview, nullptr, WeightMode::F16);
    for (const int rows : {1, 3}) {
        std::vector<float> xs;
        for (int r = 0; r < rows; ++r) xs.insert(xs.end(), x0.begin(), x0.end());
        const Tensor y = backend.alloc(DType::F32, {rows, 1});
        backend.linear(y, backend.upload(xs, {rows, 2}), difference);
        for (float v : backend.read(y)) CHECK(v == std::ldexp(1.0f, -10));
    }
}
