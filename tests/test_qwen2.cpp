// Qwen2, the projector and the image splice against the tiny golden fixture
// (tests/golden/fastvlm_tiny): every intermediate within 1e-4 relative (max |diff| / max
// |reference| per tensor) in both checkpoint layouts; KV cache limits.
#include "loader/model_files.h"
#include "model/fastvlm.h"
#include "runtime/cpu/backend_cpu.h"
#include "runtime/kv_cache.h"
#include "tests/golden_compare.h"
#include "tests/test_util.h"

using namespace fastvlm;

namespace {

const char* kTinyDir = "tests/golden/fastvlm_tiny";
constexpr double kTolerance = 1e-4;

// Rows `rows` of a [T, V] tensor read back to the host, concatenated.
std::vector<float> rows_of(const std::vector<float>& all, int64_t width, const std::vector<int32_t>& rows) {
    std::vector<float> out;
    for (int32_t r : rows) out.insert(out.end(), all.begin() + r * width, all.begin() + (r + 1) * width);
    return out;
}

void check_error(const char* what, const std::vector<float>& got, const std::vector<float>& want) {
    const double err = test::relative_error(got, want);
    CAPTURE(what);
    CAPTURE(err);
    CHECK(err < kTolerance);
}

// Prefill of the reference inputs_embeds: every layer's output, the final norm and the logits.
void check_prefill(const std::string& layout) {
    const test::Reference ref(std::string(kTinyDir) + "/reference.safetensors");
    ModelFiles files(std::string(kTinyDir) + "/" + layout);
    cpu::CpuBackend backend;
    Qwen2 model(backend, files.config().text, lookup_in(files));
    const std::vector<float> embeds = ref.floats("inputs_embeds");
    const int64_t hidden = model.config().hidden, length = int64_t(embeds.size()) / hidden;
    Tensor x = backend.upload(embeds, {length, hidden});
    KVCache cache(backend, model.config(), int(length));
    std::map<std::string, std::vector<float>> layers;
    Tensor final_hidden = model.forward(x, cache, [&](const std::string& name, const Tensor& t) {
        layers[name] = backend.read(t);
    });
    CHECK(cache.length() == length);
    CHECK(layers.size() == size_t(model.config().layers));
    for (const auto& [name, values] : layers) check_error(name.c_str(), values, ref.floats(name));
    check_error("llm.final_norm", backend.read(final_hidden), ref.floats("llm.final_norm"));

    const std::vector<float> logits = backend.read(model.logits(final_hidden));
    const int64_t vocab = model.config().vocab;
    check_error("logits_at_positions", rows_of(logits, vocab, ref.ints("logits_positions")),
                ref.floats("logits_at_positions"));
    check_error("logits_last", rows_of(logits, vocab, {int32_t(length - 1)}), ref.floats("logits_last"));
}

// Vision tower, projector and splice: the spliced prompt equals the reference inputs_embeds.
void check_splice(const std::string& layout, const std::string& ids_name, int32_t placeholder) {
    const test::Reference ref(std::string(kTinyDir) + "/reference.safetensors");
    ModelFiles files(std::string(kTinyDir) + "/" + layout);
    cpu::CpuBackend backend;
    FastVLM model(backend, files);
    CHECK(model.image_size() == 256);
    const Tensor image = model.encode_image(ref.floats("pixel_values"));
    CHECK(image.shape() == Shape{16, 64});
    check_error("image_embeds", backend.read(image), ref.floats("image_embeds"));
    const Tensor spliced = model.embed_prompt(ref.ints(ids_name), placeholder, &image);
    CHECK(spliced.shape() == Shape{ref.shape("inputs_embeds")[1], 64});
    check_error("inputs_embeds", backend.read(spliced), ref.floats("inputs_embeds"));
}

}  // namespace

TEST_CASE("qwen2: prefill matches the reference layer by layer (llava layout)") { check_prefill("llava"); }

TEST_CASE("qwen2: prefill matches the reference layer by layer (native layout)") { check_prefill("native"); }

TEST_CASE("qwen2: projector and the llava splice (one -200 placeholder) build the reference inputs") {
    check_splice("llava", "input_ids_llava", -200);
}

TEST_CASE("qwen2: projector and the native splice (a run of image tokens) build the reference inputs") {
    ModelFiles files(std::string(kTinyDir) + "/native");
    check_splice("native", "input_ids_native", files.config().image_token_index);
}

TEST_CASE("qwen2: splice errors name the placeholder problem") {
    const test::Reference ref(std::string(kTinyDir) + "/reference.safetensors");
    ModelFiles files(std::string(kTinyDir) + "/llava");
    cpu::CpuBackend backend;
    FastVLM model(backend, files);
    const Tensor image = backend.upload(std::vector<float>(16 * 64, 0.5f), {16, 64});
    const std::vector<int32_t> two = {1, -200, 2, -200, 3};
    CHECK(test::error_of([&] { model.embed_prompt(two, -200, &image); })
              .find("has 2 image placeholder(s) (id -200); expected one, or a run of 16") != std::string::npos);
    CHECK(test::error_of([&] { model.embed_prompt({1, 2, 3}, -200, &image); })
              .find("has 0 image placeholder(s)") != std::string::npos);
    CHECK(test::error_of([&] { model.embed_prompt({1, -200, 3}, -200, nullptr); })
              .find("but no image was given") != std::string::npos);
    CHECK(test::error_of([&] { model.embed_prompt({1, 5000}, -200, nullptr); })
              .find("token id 5000 at position 1 is outside the vocabulary of 1280") != std::string::npos);
    // A text-only prompt is just its embeddings.
    const Tensor text = model.embed_prompt({1, 2, 3}, -200, nullptr);
    CHECK(text.shape() == Shape{3, 64});
}

TEST_CASE("qwen2: one token at a time through the KV cache equals one prefill") {
    const test::Reference ref(std::string(kTinyDir) + "/reference.safetensors");
    ModelFiles files(std::string(kTinyDir) + "/llava");
    cpu::CpuBackend backend;
    Qwen2 model(backend, files.config().text, lookup_in(files));
    const std::vector<float> embeds = ref.floats("inputs_embeds");
    const int64_t hidden = model.config().hidden, length = int64_t(embeds.size()) / hidden;
    const Tensor all = backend.upload(embeds, {length, hidden});

    // First 20 positions in one pass, then the rest one by one.
    KVCache cache(backend, model.config(), int(length));
    std::vector<float> stepwise = backend.read(model.forward(all.slice(0, 20), cache));
    for (int64_t t = 20; t < length; ++t) {
        const std::vector<float> row = backend.read(model.forward(all.slice(t, t + 1), cache));
        stepwise.insert(stepwise.end(), row.begin(), row.end());
    }
    CHECK(cache.length() == length);
    check_error("stepwise final norm", stepwise, ref.floats("llm.final_norm"));
}

TEST_CASE("qwen2: the logits of all 32 decoding steps match the reference") {
    const test::Reference ref(std::string(kTinyDir) + "/reference.safetensors");
    ModelFiles files(std::string(kTinyDir) + "/native");
    cpu::CpuBackend backend;
    Qwen2 model(backend, files.config().text, lookup_in(files));
    const std::vector<float> embeds = ref.floats("inputs_embeds");
    const std::vector<int32_t> generated = ref.ints("generated_ids");
    const std::vector<float> expected = ref.floats("generated_logits");  // [32, vocab]
    const int64_t hidden = model.config().hidden, vocab = model.config().vocab;
    const int64_t length = int64_t(embeds.size()) / hidden;
    KVCache cache(backend, model.config(), int(length + generated.size()));
    Tensor last = model.forward(backend.upload(embeds, {length, hidden}), cache);
    last = last.slice(length - 1, length);
    for (size_t step = 0; step < generated.size(); ++step) {
        const std::vector<float> logits = backend.read(model.logits(last));
        const std::vector<float> want(expected.begin() + long(step) * vocab, expected.begin() + long(step + 1) * vocab);
        const double err = test::relative_error(logits, want);
        CAPTURE(step);
        CAPTURE(err);
        CHECK(err < kTolerance);
        last = model.forward(model.embed({generated[step]}), cache);  // the reference's token
    }
}

TEST_CASE("qwen2: an fp16 KV cache stays close to the fp32 one") {
    const test::Reference ref(std::string(kTinyDir) + "/reference.safetensors");
    ModelFiles files(std::string(kTinyDir) + "/llava");
    cpu::CpuBackend backend;
    Qwen2 model(backend, files.config().text, lookup_in(files));
    const std::vector<float> embeds = ref.floats("inputs_embeds");
    const int64_t hidden = model.config().hidden, length = int64_t(embeds.size()) / hidden;
    KVCache cache(backend, model.config(), int(length), DType::F16);
    CHECK(cache.keys(0).dtype() == DType::F16);
    // A block (prefill attention), then one token at a time (decode attention).
    const Tensor all = backend.upload(embeds, {length, hidden});
    std::vector<float> out = backend.read(model.forward(all.slice(0, 20), cache));
    for (int64_t t = 20; t < length; ++t) {
        const std::vector<float> row = backend.read(model.forward(all.slice(t, t + 1), cache));
        out.insert(out.end(), row.begin(), row.end());
    }
    const double err = test::relative_error(out, ref.floats("llm.final_norm"));
    CAPTURE(err);
    CHECK(err < 2e-3);  // fp16 keys and values: about 3 significant digits (measured 3.6e-4)
}

TEST_CASE("qwen2: the KV cache refuses to run past its capacity or the context limit") {
    ModelFiles files(std::string(kTinyDir) + "/llava");
    const TextConfig& config = files.config().text;  // max_position_embeddings 512
    CHECK(KVCache::capacity_for(config, 34, 32) == 66);
    CHECK(KVCache::capacity_for(config, 500, 12) == 512);
    CHECK(test::error_of([&] { KVCache::capacity_for(config, 500, 13); }) ==
          "KV cache: a prompt of 500 tokens plus 13 new tokens exceeds the context limit of 512 positions "
          "(max_position_embeddings); shorten the prompt or lower max_new_tokens");
    CHECK(test::error_of([&] { KVCache::capacity_for(config, 0, 13); }) == "KV cache: empty prompt");

    cpu::CpuBackend backend;
    CHECK(test::error_of([&] { KVCache(backend, config, 513); })
              .find("capacity 513 is outside 1 .. 512") != std::string::npos);
    Qwen2 model(backend, config, lookup_in(files));
    KVCache cache(backend, config, 4);
    const Tensor three = model.embed({1, 2, 3});
    model.forward(three, cache);
    CHECK(cache.length() == 3);
    CHECK(test::error_of([&] { model.forward(three, cache); }) ==
          "KV cache: cannot add 3 positions at position 3: the cache holds 4 positions");
    CHECK(cache.length() == 3);  // nothing was written
    model.forward(model.embed({4}), cache);
    CHECK(cache.length() == 4);
}

TEST_CASE("qwen2: a mis-shaped weight is named in the error") {
    ModelFiles files(std::string(kTinyDir) + "/llava");
    cpu::CpuBackend backend;
    TextConfig wrong = files.config().text;
    wrong.intermediate = 96;
    CHECK(test::error_of([&] { Qwen2(backend, wrong, lookup_in(files)); })
              .find("tensor 'model.layers.0.mlp.gate_proj.weight' has shape [128, 64], expected [96, 64]") !=
          std::string::npos);
    TextConfig odd = files.config().text;
    odd.heads = 3;
    CHECK(test::error_of([&] { Qwen2(backend, odd, lookup_in(files)); })
              .find("3 attention heads cannot share 2 kv heads") != std::string::npos);
}
