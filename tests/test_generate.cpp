// Generation end to end on the tiny golden model (tests/golden/fastvlm_tiny): prompt ids from the
// tokenizer, vision + projector + splice + Qwen2 + greedy decoding give transformers' 32 tokens
// in both layouts; stop ids, streaming, and the sampler's semantics.
#include <algorithm>
#include <map>
#include <set>

#include "loader/model_files.h"
#include "model/fastvlm.h"
#include "runtime/cpu/backend_cpu.h"
#include "runtime/generate.h"
#include "runtime/sampler.h"
#include "tests/golden_compare.h"
#include "tests/test_util.h"
#include "tokenizer/prompt.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

using namespace fastvlm;

namespace {

const char* kTinyDir = "tests/golden/fastvlm_tiny";
const char* kTinyTokenizer = "tests/golden/tokenizer/tiny_tokenizer.json";

struct TinyRun {
    std::vector<int32_t> prompt_ids;
    GenerateResult result;
};

// The whole pipeline on the reference image and the FastVLM prompt.
TinyRun run_tiny(const std::string& layout, const GenerateOptions& options, const TextCallback& on_text = {}) {
    const test::Reference ref(std::string(kTinyDir) + "/reference.safetensors");
    ModelFiles files(std::string(kTinyDir) + "/" + layout);
    const Tokenizer tokenizer = Tokenizer::from_file(kTinyTokenizer);
    cpu::CpuBackend backend;
    FastVLM model(backend, files);
    const bool native = files.config().layout == CheckpointLayout::FastVlm;

    TinyRun run;
    run.prompt_ids = fastvlm_prompt_ids(tokenizer, kDefaultQuestion).ids;
    std::vector<int32_t> ids = run.prompt_ids;
    int32_t placeholder = kImagePlaceholderId;
    if (native) {  // the transformers processor repeats the image token once per image token
        placeholder = files.config().image_token_index;
        auto at = std::find(ids.begin(), ids.end(), kImagePlaceholderId);
        REQUIRE(at != ids.end());
        at = ids.erase(at);
        ids.insert(at, size_t(model.image_tokens()), placeholder);
    }
    const Tensor image = model.encode_image(ref.floats("pixel_values"));
    const Tensor prompt = model.embed_prompt(ids, placeholder, &image);
    run.result = generate(backend, model.language_model(), prompt, options, &tokenizer, on_text);
    return run;
}

void check_greedy(const std::string& layout) {
    const test::Reference ref(std::string(kTinyDir) + "/reference.safetensors");
    GenerateOptions options;
    options.max_new_tokens = 32;  // no stop ids: the reference generated exactly 32
    const TinyRun run = run_tiny(layout, options);
    CHECK(run.prompt_ids == ref.ints("input_ids_llava"));
    CHECK(run.result.ids == ref.ints("generated_ids"));
    CHECK(run.result.decode_steps == 31);
    CHECK_FALSE(run.result.stopped);
}

// Logits with a known order: id i has logit logits[i].
std::vector<float> logits_of(std::initializer_list<float> values) { return std::vector<float>(values); }

}  // namespace

TEST_CASE("generate: 32 greedy tokens identical to transformers (llava layout)") { check_greedy("llava"); }

TEST_CASE("generate: 32 greedy tokens identical to transformers (native layout)") { check_greedy("native"); }

TEST_CASE("generate: stops at a stop id, keeps it in the ids and out of the text") {
    const test::Reference ref(std::string(kTinyDir) + "/reference.safetensors");
    const std::vector<int32_t> expected = ref.ints("generated_ids");
    GenerateOptions options;
    options.max_new_tokens = 32;
    options.stop_ids = {expected[4]};
    // The first occurrence of that id ends the run.
    const size_t first = size_t(std::find(expected.begin(), expected.end(), expected[4]) - expected.begin());
    const TinyRun run = run_tiny("llava", options);
    CHECK(run.result.stopped);
    CHECK(run.result.ids == std::vector<int32_t>(expected.begin(), expected.begin() + long(first) + 1));
    const Tokenizer tokenizer = Tokenizer::from_file(kTinyTokenizer);
    CHECK(run.result.text ==
          tokenizer.decode(std::vector<int32_t>(expected.begin(), expected.begin() + long(first)), true));
}

TEST_CASE("generate: ids at or past id_limit are never chosen") {
    const test::Reference ref(std::string(kTinyDir) + "/reference.safetensors");
    const std::vector<int32_t> expected = ref.ints("generated_ids");
    const int32_t limit = *std::max_element(expected.begin(), expected.end());  // the largest id is excluded
    GenerateOptions options;
    options.max_new_tokens = 32;
    options.id_limit = limit;
    const TinyRun run = run_tiny("llava", options);
    REQUIRE(run.result.ids.size() == 32);
    for (int32_t id : run.result.ids) CHECK(id < limit);
    // Up to the first step that wanted the excluded id, the run is the reference's.
    const size_t first = size_t(std::find(expected.begin(), expected.end(), limit) - expected.begin());
    CHECK(std::equal(expected.begin(), expected.begin() + long(first), run.result.ids.begin()));
    CHECK(run.result.ids[first] != limit);
    options.id_limit = -1;
    CHECK(test::error_of([&] { run_tiny("llava", options); }) == "generate: id_limit -1 is negative");
}

TEST_CASE("generate: streamed pieces are whole UTF-8 and join to the decoded text") {
    const test::Reference ref(std::string(kTinyDir) + "/reference.safetensors");
    GenerateOptions options;
    options.max_new_tokens = 32;
    std::vector<std::string> pieces;
    const TinyRun run = run_tiny("llava", options, [&](const std::string& piece) { pieces.push_back(piece); });
    std::string joined;
    for (const std::string& p : pieces) {
        CHECK_FALSE(p.empty());
        std::string clean;
        CHECK(append_utf8_lossy(clean, p, false) == p.size());  // nothing cut off mid-character
        joined += p;
    }
    const Tokenizer tokenizer = Tokenizer::from_file(kTinyTokenizer);
    CHECK(joined == run.result.text);
    CHECK(joined == tokenizer.decode(ref.ints("generated_ids"), true));
    CHECK(pieces.size() > 1);
}

TEST_CASE("generate: max_new_tokens 0 generates nothing; past the context limit is an error") {
    GenerateOptions options;
    options.max_new_tokens = 0;
    CHECK(run_tiny("llava", options).result.ids.empty());
    options.max_new_tokens = 500;  // 40 prompt tokens + 500 > 512 positions
    CHECK(test::error_of([&] { run_tiny("llava", options); })
              .find("exceeds the context limit of 512 positions") != std::string::npos);
}

TEST_CASE("generate: sampling with a seed is deterministic and follows the seed") {
    SamplerOptions options;
    options.temperature = 1.0f;
    options.seed = 42;
    const std::vector<float> logits = logits_of({0.1f, 0.5f, 0.3f, 0.2f, 0.4f, 0.0f});
    std::vector<int32_t> a, b, c;
    Sampler first(options), second(options);
    options.seed = 43;
    Sampler other(options);
    for (int i = 0; i < 64; ++i) {
        a.push_back(first.sample(logits));
        b.push_back(second.sample(logits));
        c.push_back(other.sample(logits));
    }
    CHECK(a == b);
    CHECK(a != c);
    CHECK(std::set<int32_t>(a.begin(), a.end()).size() > 3);  // it does sample, not argmax
}

TEST_CASE("generate: greedy takes the first of equal maxima") {
    Sampler greedy(SamplerOptions{});
    CHECK(greedy.sample(logits_of({1.0f, 3.0f, 2.0f, 3.0f})) == 1);
    CHECK(argmax(logits_of({-5.0f}).data(), 1) == 0);
}

TEST_CASE("generate: top-k keeps the k largest logits and every tie with the k-th") {
    SamplerOptions options;
    options.temperature = 0.7f;
    options.top_k = 2;
    Sampler sampler(options);
    auto c = sampler.candidates(logits_of({0.1f, 0.9f, 0.5f, 0.7f}).data(), 4);
    REQUIRE(c.size() == 2);
    CHECK(c[0].first == 1);
    CHECK(c[1].first == 3);
    // Softmax of (0.9, 0.7) / 0.7 renormalized over the two.
    const double p1 = 1.0 / (1.0 + std::exp((0.7 - 0.9) / 0.7));
    CHECK(c[0].second == doctest::Approx(p1).epsilon(1e-5));
    CHECK(c[0].second + c[1].second == doctest::Approx(1.0f));
    auto tied = sampler.candidates(logits_of({0.5f, 0.9f, 0.5f, 0.1f}).data(), 4);
    CHECK(tied.size() == 3);  // 0.9, then both 0.5s
    for (int i = 0; i < 200; ++i) CHECK(sampler.sample(logits_of({0.1f, 0.9f, 0.5f, 0.7f})) % 2 == 1);
}

TEST_CASE("generate: top-p keeps the most likely tokens until their mass reaches p") {
    // Probabilities 0.5, 0.25, 0.125, 0.125 (logits are their logs, temperature 1).
    const std::vector<float> logits = logits_of({std::log(0.125f), std::log(0.5f), std::log(0.125f), std::log(0.25f)});
    SamplerOptions options;
    options.temperature = 1.0f;
    options.top_p = 0.5f;  // 0.5 alone reaches it
    CHECK(Sampler(options).candidates(logits.data(), 4).size() == 1);
    options.top_p = 0.6f;  // 0.5 is short: the token that crosses it stays
    auto c = Sampler(options).candidates(logits.data(), 4);
    REQUIRE(c.size() == 2);
    CHECK(c[0].first == 1);
    CHECK(c[1].first == 3);
    CHECK(c[0].second == doctest::Approx(2.0f / 3.0f));
    options.top_p = 0.8f;  // 0.75 is short: three tokens, ties resolved by id
    c = Sampler(options).candidates(logits.data(), 4);
    REQUIRE(c.size() == 3);
    CHECK(c[2].first == 0);
    options.top_p = 1.0f;
    CHECK(Sampler(options).candidates(logits.data(), 4).size() == 4);

    // Over a large vocabulary the head-first search gives the same set as a full sort.
    std::vector<float> big(5000);
    for (size_t i = 0; i < big.size(); ++i) big[i] = float((i * 7919) % 5000) / 500.0f;
    options.top_p = 0.9f;
    auto head = Sampler(options).candidates(big.data(), int(big.size()));
    double mass = 0.0;
    for (const auto& e : head) mass += e.second;
    CHECK(mass == doctest::Approx(1.0));
    CHECK(head.front().first == int32_t(std::max_element(big.begin(), big.end()) - big.begin()));
}

TEST_CASE("generate: sampler options out of range are refused") {
    SamplerOptions options;
    options.temperature = -1.0f;
    CHECK(test::error_of([&] { Sampler s(options); }) == "sampler: temperature -1 must be a finite number >= 0");
    options = SamplerOptions{};
    options.top_p = 0.0f;
    CHECK(test::error_of([&] { Sampler s(options); }) == "sampler: top_p 0 must be in (0, 1]");
    options = SamplerOptions{};
    options.top_k = -3;
    CHECK(test::error_of([&] { Sampler s(options); }) == "sampler: top_k -3 must be >= 0");
}
