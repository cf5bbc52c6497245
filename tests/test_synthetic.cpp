// Synthetic checkpoints: the generator against its Python twin (tests/golden/synthetic_weights,
// made by tools/golden/synthetic_weights.py), the files it writes, and the tokenizer it adds.
#include "tests/test_util.h"

#include <cmath>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "loader/model_files.h"
#include "loader/synthetic.h"
#include "loader/tensor_names.h"
#include "runtime/half.h"

using fastvlm::CheckpointLayout;
using fastvlm::SyntheticOptions;
using fastvlm::SyntheticSize;

namespace {

const std::string V = "model.vision_tower.vision_tower.model.";

uint64_t parse_hex(const std::string& text) { return std::stoull(text, nullptr, 16); }

}  // namespace

TEST_CASE("synthetic: fnv1a64 and splitmix64 give their reference values") {
    CHECK(fastvlm::fnv1a64("") == 0xcbf29ce484222325ull);
    CHECK(fastvlm::fnv1a64("a") == 0xaf63dc4c8601ec8cull);
    CHECK(fastvlm::splitmix64(0) == 0xe220a8397b1dcdafull);  // first output of splitmix64.c from state 0
}

TEST_CASE("synthetic: generator values equal the Python twin bit for bit") {
    const std::string path = "tests/golden/synthetic_weights/values.json";
    if (!test::exists(path)) SKIP_TEST("tests/golden/synthetic_weights/values.json is absent");
    nlohmann::json doc = nlohmann::json::parse(test::read_file(path));
    size_t checked = 0;
    for (const auto& entry : doc.at("entries")) {
        std::string name = entry.at("name");
        std::vector<int64_t> shape = entry.at("shape");
        uint64_t seed = entry.at("seed");
        std::vector<uint64_t> indices = entry.at("indices");
        CAPTURE(name);
        CHECK(fastvlm::fnv1a64(name) == parse_hex(entry.at("fnv1a64")));
        if (entry.at("dtype") == "I64") {
            for (size_t k = 0; k < indices.size(); ++k)
                CHECK(fastvlm::synthetic_value(name, shape, seed, indices[k]) == float(entry.at("values")[k].get<int64_t>()));
            checked += indices.size();
            continue;
        }
        for (size_t k = 0; k < indices.size(); ++k) {
            float value;
            if (entry.at("kind") == "pixels") {  // 0.5 + 0.5 * v under the name "pixel_values"
                uint64_t r = fastvlm::splitmix64(fastvlm::fnv1a64(name) + seed + indices[k]);
                volatile float half_v = (float(r >> 40) * (1.0f / 8388608.0f) - 1.0f) * 0.5f;
                value = 0.5f + half_v;
            } else {
                value = fastvlm::synthetic_value(name, shape, seed, indices[k]);
            }
            CAPTURE(indices[k]);
            CHECK(fastvlm::float_to_bits(value) == parse_hex(entry.at("values_hex")[k]));
            ++checked;
        }
    }
    CHECK(checked > 100);
}

TEST_CASE("synthetic: value rules by tensor name") {
    auto range = [](const std::string& name, std::vector<int64_t> shape, float lo, float hi) {
        float min = 1e30f, max = -1e30f;
        std::vector<float> v(4096);
        fastvlm::synthetic_values(name, shape, 3, 0, v.size(), v.data());
        for (size_t i = 0; i < v.size(); ++i) {
            min = std::min(min, v[i]);
            max = std::max(max, v[i]);
            if (i % 97 == 0) CHECK(v[i] == fastvlm::synthetic_value(name, shape, 3, i));  // range == single
        }
        CAPTURE(name);
        CHECK(min >= lo);
        CHECK(max < hi);
        CHECK(max - min > 0.9f * (hi - lo));  // spread over the whole range
    };
    range(V + "network.0.0.convffn.conv.bn.running_var", {8}, 0.5f, 1.0f);
    range(V + "network.0.0.convffn.conv.bn.running_mean", {8}, -0.1f, 0.1f);
    range(V + "network.0.0.convffn.conv.bn.weight", {8}, 0.9f, 1.1f);
    range("model.layers.0.input_layernorm.weight", {64}, 0.9f, 1.1f);
    range(V + "network.7.0.norm.weight", {64}, 0.9f, 1.1f);
    range(V + "network.7.0.layer_scale_1", {64, 1, 1}, 0.0f, 1.0f);
    range(V + "network.7.0.norm.bias", {64}, -0.1f, 0.1f);
    range("model.layers.0.self_attn.q_proj.bias", {64}, -0.1f, 0.1f);
    const float s = std::sqrt(3.0f / 64.0f);
    range("model.layers.0.mlp.up_proj.weight", {128, 64}, -s, s);
    range(V + "head.proj", {256, 64}, -s, s);
    const float s3 = std::sqrt(3.0f / 27.0f);
    range(V + "patch_embed.0.reparam_conv.weight", {8, 3, 3, 3}, -s3, s3);
    CHECK(fastvlm::synthetic_value(V + "network.0.0.convffn.conv.bn.num_batches_tracked", {}, 3, 0) == 0.0f);
    // the seed and the name both change the values
    CHECK(fastvlm::synthetic_value("lm_head.weight", {8, 8}, 0, 5) != fastvlm::synthetic_value("lm_head.weight", {8, 8}, 1, 5));
    CHECK(fastvlm::synthetic_value("lm_head.weight", {8, 8}, 0, 5) !=
          fastvlm::synthetic_value("model.embed_tokens.weight", {8, 8}, 0, 5));
}

TEST_CASE("synthetic: written tensors hold the generator's values in F32, F16 and BF16") {
    for (fastvlm::DType dtype : {fastvlm::DType::F32, fastvlm::DType::F16, fastvlm::DType::BF16}) {
        SyntheticOptions o;
        o.dtype = dtype;
        o.seed = 11;
        std::string dir = test::temp_dir("syn_dtype");
        fastvlm::write_synthetic_checkpoint(dir, o);
        fastvlm::ModelFiles model(dir);
        size_t elements = 0;
        for (const fastvlm::ExpectedTensor& e : fastvlm::expected_tensors(model.config())) {
            const fastvlm::TensorView& t = model.tensor(e.canonical);
            CAPTURE(e.canonical);
            if (!e.is_float) {
                CHECK(t.dtype == fastvlm::DType::I64);
                CHECK(t.nbytes == 8);
                continue;
            }
            REQUIRE(t.dtype == dtype);
            std::vector<float> want(size_t(t.numel()));
            fastvlm::synthetic_values(e.canonical, e.shape, 11, 0, want.size(), want.data());
            std::vector<float> got = fastvlm::to_float(t);
            bool same = true;
            for (size_t i = 0; i < want.size(); ++i) {
                float w = dtype == fastvlm::DType::F32   ? want[i]
                          : dtype == fastvlm::DType::F16 ? fastvlm::fp16_to_float(fastvlm::float_to_fp16(want[i]))
                                                         : fastvlm::bf16_to_float(fastvlm::float_to_bf16(want[i]));
                same = same && fastvlm::float_to_bits(got[i]) == fastvlm::float_to_bits(w);
            }
            CHECK(same);
            elements += want.size();
        }
        CHECK(elements > 100000);
    }
}

TEST_CASE("synthetic: the tiny model keeps every structural feature") {
    fastvlm::ModelConfig c = fastvlm::synthetic_model_config(SyntheticSize::Tiny, CheckpointLayout::LlavaQwen2);
    CHECK(c.vision.depths.size() == 5);
    CHECK(c.vision.attention == std::vector<bool>{false, false, false, true, true});
    CHECK(c.vision.pos_emb == std::vector<bool>{false, false, false, true, true});
    CHECK(c.vision.se_channels > 0);
    CHECK(c.text.kv_heads < c.text.heads);
    CHECK(fastvlm::vision_shape_problem(c.vision).empty());
    bool has_block_pair = false;
    for (int d : c.vision.depths) has_block_pair = has_block_pair || d > 1;
    CHECK(has_block_pair);
}

TEST_CASE("synthetic: shards hold consecutive tensors and the index lists every one") {
    SyntheticOptions o;
    o.layout = CheckpointLayout::FastVlm;
    o.shards = 3;
    std::string dir = test::temp_dir("syn_shards");
    fastvlm::write_synthetic_checkpoint(dir, o);
    nlohmann::json index = nlohmann::json::parse(test::read_file(dir + "/model.safetensors.index.json"));
    std::set<std::string> files;
    for (const auto& [name, file] : index.at("weight_map").items()) files.insert(file.get<std::string>());
    CHECK(files == std::set<std::string>{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                         "model-00003-of-00003.safetensors"});
    size_t expected = fastvlm::expected_tensors(fastvlm::synthetic_model_config(SyntheticSize::Tiny, o.layout)).size();
    CHECK(index.at("weight_map").size() == expected);
    uint64_t total = 0;
    for (const std::string& f : files) {
        fastvlm::SafetensorsFile shard(dir + "/" + f);
        CHECK(!shard.tensors().empty());
        for (const auto& t : shard.tensors()) total += t.nbytes;
    }
    CHECK(index.at("metadata").at("total_size").get<uint64_t>() == total);
    CHECK(!test::exists(dir + "/model.safetensors"));

    // the same directory rewritten with one file drops the index
    o.shards = 1;
    fastvlm::write_synthetic_checkpoint(dir, o);
    CHECK(!test::exists(dir + "/model.safetensors.index.json"));
    fastvlm::ModelFiles model(dir);
    CHECK(model.config().layout == CheckpointLayout::FastVlm);
}

TEST_CASE("synthetic: tokenizer.json is a byte-level BPE with the special tokens after the vocabulary") {
    SyntheticOptions o;
    o.layout = CheckpointLayout::FastVlm;
    std::string dir = test::temp_dir("syn_tokenizer");
    fastvlm::write_synthetic_checkpoint(dir, o);
    nlohmann::json tok = nlohmann::json::parse(test::read_file(dir + "/tokenizer.json"));
    nlohmann::json config = nlohmann::json::parse(test::read_file(dir + "/config.json"));

    const auto& vocab = tok.at("model").at("vocab");
    std::vector<std::string> by_id(vocab.size());
    for (const auto& [token, id] : vocab.items()) {
        REQUIRE(id.get<size_t>() < by_id.size());
        by_id[id.get<size_t>()] = token;
    }
    for (const std::string& token : by_id) CHECK(!token.empty());  // ids 0..n-1, each once
    CHECK(by_id[0] == "!");
    CHECK(by_id[93] == "~");
    CHECK(by_id[188] == "\xc4\x80");  // byte 0x00 -> U+0100
    CHECK(by_id[198] == "\xc4\x8a");  // '\n' -> U+010A, id 198 as in Qwen2
    CHECK(by_id[220] == "\xc4\xa0");  // ' ' -> U+0120, id 220 as in Qwen2
    CHECK(by_id.size() > 300);

    const auto& merges = tok.at("model").at("merges");
    CHECK(merges.size() == by_id.size() - 256);
    for (const auto& merge : merges) {
        std::string m = merge;
        size_t space = m.find(' ');
        REQUIRE(space != std::string::npos);
        CHECK(vocab.contains(m.substr(0, space)));
        CHECK(vocab.contains(m.substr(space + 1)));
        CHECK(vocab.contains(m.substr(0, space) + m.substr(space + 1)));
    }
    CHECK(vocab.contains("\xc4\xa0the"));  // " the" is learned

    const auto& added = tok.at("added_tokens");
    REQUIRE(added.size() == 4);
    const char* names[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"};
    for (size_t k = 0; k < 4; ++k) {
        CHECK(added[k].at("content") == names[k]);
        CHECK(added[k].at("id") == by_id.size() + k);
        CHECK(added[k].at("special") == true);
        CHECK(added[k].at("normalized") == false);
    }
    CHECK(by_id.size() + 4 <= config.at("text_config").at("vocab_size").get<size_t>());
    CHECK(config.at("text_config").at("eos_token_id") == by_id.size() + 2);
    CHECK(config.at("image_token_index") == by_id.size() + 3);
    CHECK(tok.at("pre_tokenizer").at("pretokenizers")[1].at("type") == "ByteLevel");
    CHECK(tok.at("normalizer").at("type") == "NFC");
    CHECK(tok.at("decoder").at("type") == "ByteLevel");

    // the llava_qwen2 layout has no <image> token
    o.layout = CheckpointLayout::LlavaQwen2;
    fastvlm::write_synthetic_checkpoint(dir, o);
    tok = nlohmann::json::parse(test::read_file(dir + "/tokenizer.json"));
    CHECK(tok.at("added_tokens").size() == 3);
    CHECK(fastvlm::load_config(dir + "/config.json").image_token_index == -200);
}

TEST_CASE("synthetic: the same options write the same bytes") {
    SyntheticOptions o;
    o.seed = 42;
    std::string a = test::temp_dir("syn_same_a"), b = test::temp_dir("syn_same_b");
    fastvlm::write_synthetic_checkpoint(a, o);
    fastvlm::write_synthetic_checkpoint(b, o);
    for (const char* f : {"/model.safetensors", "/config.json", "/tokenizer.json"})
        CHECK(test::read_file(a + f) == test::read_file(b + f));
    o.seed = 43;
    fastvlm::write_synthetic_checkpoint(b, o);
    CHECK(test::read_file(a + "/model.safetensors") != test::read_file(b + "/model.safetensors"));
}

TEST_CASE("synthetic: bad options are rejected with a message") {
    SyntheticOptions o;
    o.shards = 0;
    CHECK(test::error_of([&] { fastvlm::write_synthetic_checkpoint(test::temp_dir("syn_bad"), o); })
              .find("shard count must be 1..999, got 0") != std::string::npos);
    o.shards = 1;
    o.dtype = fastvlm::DType::I8;
    CHECK(test::error_of([&] { fastvlm::write_synthetic_checkpoint(test::temp_dir("syn_bad"), o); })
              .find("F32, F16 or BF16, not I8") != std::string::npos);
    o.dtype = fastvlm::DType::F16;
    o.shards = 900;  // more shards than the tiny model has tensors
    CHECK(test::error_of([&] { fastvlm::write_synthetic_checkpoint(test::temp_dir("syn_bad"), o); })
              .find("more shards") != std::string::npos);
}
