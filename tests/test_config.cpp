// config.json reading for both layouts: real examples (tests/golden/configs, made by
// tools/golden/configs.py from transformers' FastVlmConfig) and every kind of bad input.
#include "tests/test_util.h"

#include <cstdlib>
#include <functional>
#include <random>

#include <nlohmann/json.hpp>

#include "loader/config.h"

using fastvlm::CheckpointLayout;
using fastvlm::ModelConfig;
using nlohmann::json;

namespace {

const std::string kGolden = "tests/golden/configs/";

ModelConfig load_golden(const std::string& name) { return fastvlm::load_config(kGolden + name); }

// The golden config `base`, changed by `edit`, written to a file and loaded; returns the error.
std::string error_for(const std::string& base, const std::function<void(json&)>& edit) {
    json j = json::parse(test::read_file(kGolden + base));
    edit(j);
    std::string dir = test::temp_dir("config_errors");
    std::string path = dir + "/config.json";
    test::write_file(path, j.dump(2));
    return test::error_of([&] { fastvlm::load_config(path); });
}

std::string error_for_text(const std::string& text) {
    std::string dir = test::temp_dir("config_errors");
    std::string path = dir + "/config.json";
    test::write_file(path, text);
    return test::error_of([&] { fastvlm::load_config(path); });
}

// One line that names the file and holds every expected part.
void check_message(const std::string& message, const std::vector<std::string>& parts) {
    CAPTURE(message);
    CHECK(message.find("config.json") != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
    for (const std::string& part : parts) CHECK(message.find(part) != std::string::npos);
}

}  // namespace

TEST_CASE("config: reads the llava_qwen2 FastVLM-0.5B config") {
    ModelConfig c = load_golden("llava_qwen2_0.5b.json");
    CHECK(c.layout == CheckpointLayout::LlavaQwen2);
    CHECK(c.text.hidden == 896);
    CHECK(c.text.layers == 24);
    CHECK(c.text.heads == 14);
    CHECK(c.text.kv_heads == 2);
    CHECK(c.text.head_dim == 64);
    CHECK(c.text.intermediate == 4864);
    CHECK(c.text.vocab == 151936);
    CHECK(c.text.max_positions == 32768);
    CHECK(c.text.rms_eps == 1e-6f);
    CHECK(c.text.rope_theta == 1000000.0f);
    CHECK_FALSE(c.text.tie_word_embeddings);
    CHECK(c.text.eos_token_ids == std::vector<int>{151645});
    CHECK(c.mm_hidden == 3072);
    CHECK(c.projector_type == "mlp2x_gelu");
    CHECK(c.vision.image_size == 1024);        // from "mobileclip_l_1024"
    CHECK(c.vision.out_channels == 3072);
    CHECK(c.vision.se_channels == 192);
    CHECK(c.image_token_index == -200);        // the llava path ignores the exported 151646
    CHECK(fastvlm::vision_tokens(c.vision) == 256);
    CHECK(std::string(fastvlm::layout_name(c.layout)) == "llava_qwen2");
}

TEST_CASE("config: reads transformers' default FastVlmConfig") {
    ModelConfig c = load_golden("fast_vlm_default.json");
    CHECK(c.layout == CheckpointLayout::FastVlm);
    CHECK(c.text.hidden == 3584);
    CHECK(c.text.layers == 28);
    CHECK(c.text.heads == 28);
    CHECK(c.text.kv_heads == 4);
    CHECK(c.text.head_dim == 128);
    CHECK(c.text.intermediate == 18944);
    CHECK(c.text.vocab == 152128);
    CHECK(c.text.rope_theta == 10000.0f);     // rope_parameters.rope_theta
    CHECK(c.text.eos_token_ids.empty());      // null in the default config
    CHECK(c.mm_hidden == 3072);
    CHECK(c.vision.out_channels == 3072);
    CHECK(c.vision.depths == std::vector<int>{2, 12, 24, 4, 2});
    CHECK(c.image_token_index == 151646);
    CHECK(fastvlm::vision_tokens(c.vision) == 576);  // image_seq_length
    CHECK(c.vision.image_size == 24 * 64);
}

TEST_CASE("config: reads a FastVLM-0.5B config in the fast_vlm layout") {
    ModelConfig c = load_golden("fast_vlm_0.5b.json");
    CHECK(c.layout == CheckpointLayout::FastVlm);
    CHECK(c.text.hidden == 896);
    CHECK(c.text.heads == 14);
    CHECK(c.text.kv_heads == 2);
    CHECK(c.text.vocab == 152000);
    CHECK(c.text.rope_theta == 1000000.0f);
    CHECK(c.text.eos_token_ids == std::vector<int>{151645});
    CHECK(c.vision.image_size == 1024);
    CHECK(c.image_token_index == 151646);
    CHECK_FALSE(c.text.tie_word_embeddings);
}

TEST_CASE("config: reads the stage shape from vision_config.model_args") {
    ModelConfig c = load_golden("fast_vlm_tiny.json");
    CHECK(c.vision.depths == std::vector<int>{1, 2, 1, 2, 1});
    CHECK(c.vision.widths == std::vector<int>{8, 16, 32, 64, 128});
    CHECK(c.vision.attention == std::vector<bool>{false, false, false, true, true});
    CHECK(c.vision.pos_emb == std::vector<bool>{false, false, false, true, true});
    CHECK(c.vision.out_channels == 256);
    CHECK(c.vision.se_channels == 16);
    CHECK(c.vision.image_size == 256);
    CHECK(c.text.hidden == 64);
    CHECK(c.text.head_dim == 16);
    CHECK(c.text.kv_heads == 2);
    CHECK(c.text.intermediate == 96);
    CHECK(c.text.eos_token_ids == std::vector<int>{258, 256});
    CHECK(c.image_token_index == 259);
}

TEST_CASE("config: head_dim, eos lists and tie_word_embeddings") {
    json j = json::parse(test::read_file(kGolden + "llava_qwen2_0.5b.json"));
    j["head_dim"] = 128;
    j["num_attention_heads"] = 12;  // 12 * 128 != 896 is fine once head_dim is given
    j["num_key_value_heads"] = 4;
    j["eos_token_id"] = {151645, 151643};
    j["tie_word_embeddings"] = true;
    ModelConfig c = fastvlm::parse_config(j.dump(), "config.json");
    CHECK(c.text.head_dim == 128);
    CHECK(c.text.heads == 12);
    CHECK(c.text.eos_token_ids == std::vector<int>{151645, 151643});
    CHECK(c.text.tie_word_embeddings);

    j.erase("eos_token_id");
    j.erase("rope_theta");
    c = fastvlm::parse_config(j.dump(), "config.json");
    CHECK(c.text.eos_token_ids.empty());
    CHECK(c.text.rope_theta == 10000.0f);  // Qwen2 default

    // fast_vlm: the text config's tie flag counts when the top-level one is false
    json f = json::parse(test::read_file(kGolden + "fast_vlm_0.5b.json"));
    f["text_config"]["tie_word_embeddings"] = true;
    CHECK(fastvlm::parse_config(f.dump(), "config.json").text.tie_word_embeddings);
}

TEST_CASE("config: malformed files give one-line errors naming the file") {
    check_message(error_for_text("{\"model_type\": "), {"malformed JSON"});
    check_message(error_for_text(""), {"malformed JSON"});
    check_message(error_for_text("{\"model_type\": \"llava_qwen2\",}"), {"malformed JSON"});
    check_message(error_for_text("{\"model_type\": \"llava\xff\"}"), {"not valid UTF-8", "byte 21"});
    check_message(error_for_text("{\"a\": \"\xed\xa0\x80\"}"), {"not valid UTF-8"});  // a surrogate
    check_message(error_for_text("[1, 2]"), {"top level must be a JSON object, got array"});
    check_message(error_for_text("\"llava_qwen2\""), {"top level must be a JSON object, got string"});
    check_message(error_for_text("{}"), {"missing required field 'model_type'"});
    check_message(error_for_text("{\"model_type\": 7}"), {"field 'model_type' must be a string, got number"});
    check_message(error_for_text("{\"model_type\": \"llama\"}"), {"'model_type'", "\"llama\"", "llava_qwen2", "fast_vlm"});

    check_message(test::error_of([] { fastvlm::load_config("build/no/such/config.json"); }), {"cannot open"});
    std::string dir = test::temp_dir("config_dir") + "/config.json";
    REQUIRE(std::system(("mkdir -p '" + dir + "'").c_str()) == 0);
    check_message(test::error_of([&] { fastvlm::load_config(dir); }), {"not a regular file"});
}

TEST_CASE("config: missing, ill-typed and nonsense llava_qwen2 fields are named") {
    const std::string L = "llava_qwen2_0.5b.json";
    check_message(error_for(L, [](json& j) { j.erase("hidden_size"); }), {"missing required field 'hidden_size'"});
    check_message(error_for(L, [](json& j) { j.erase("mm_hidden_size"); }), {"missing required field 'mm_hidden_size'"});
    check_message(error_for(L, [](json& j) { j["hidden_size"] = "896"; }),
                  {"field 'hidden_size' must be an integer, got string"});
    check_message(error_for(L, [](json& j) { j["hidden_size"] = 896.5; }),
                  {"field 'hidden_size' must be an integer, got number"});
    check_message(error_for(L, [](json& j) { j["vocab_size"] = 0; }), {"field 'vocab_size' must be between 1 and"});
    check_message(error_for(L, [](json& j) { j["num_hidden_layers"] = -3; }),
                  {"field 'num_hidden_layers' must be between 1 and", "got -3"});
    check_message(error_for(L, [](json& j) { j["intermediate_size"] = 1e30; }),
                  {"field 'intermediate_size' must be an integer"});
    check_message(error_for(L, [](json& j) { j["num_attention_heads"] = 13; }),
                  {"'num_attention_heads' (13) does not divide 'hidden_size' (896)"});
    check_message(error_for(L, [](json& j) { j["num_key_value_heads"] = 3; }),
                  {"'num_key_value_heads' (3) does not divide 'num_attention_heads' (14)"});
    check_message(error_for(L, [](json& j) { j["head_dim"] = 63; }), {"head_dim", "odd"});
    check_message(error_for(L, [](json& j) { j["rms_norm_eps"] = -1; }),
                  {"field 'rms_norm_eps' must be a positive finite number"});
    check_message(error_for(L, [](json& j) { j["rope_theta"] = "big"; }), {"field 'rope_theta' must be a number, got string"});
    check_message(error_for(L, [](json& j) { j["rope_scaling"] = {{"type", "linear"}, {"factor", 2}}; }),
                  {"field 'rope_scaling.rope_type' must be \"default\""});
    check_message(error_for(L, [](json& j) { j["tie_word_embeddings"] = "yes"; }),
                  {"field 'tie_word_embeddings' must be true or false, got string"});
    check_message(error_for(L, [](json& j) { j["eos_token_id"] = 151936; }),
                  {"field 'eos_token_id' must be between 0 and 151935"});
    check_message(error_for(L, [](json& j) { j["eos_token_id"] = {151645, "x"}; }),
                  {"field 'eos_token_id[1]' must be an integer, got string"});
    check_message(error_for(L, [](json& j) { j["hidden_act"] = "gelu"; }), {"field 'hidden_act' must be \"silu\""});
    check_message(error_for(L, [](json& j) { j["use_sliding_window"] = true; }), {"'use_sliding_window'", "not supported"});
    check_message(error_for(L, [](json& j) { j["mm_projector_type"] = "linear"; }),
                  {"field 'mm_projector_type' must be \"mlp2x_gelu\""});
    check_message(error_for(L, [](json& j) { j["mm_vision_tower"] = "mobileclip_l_1000"; }),
                  {"field 'mm_vision_tower'", "image size 1000", "multiple of 64"});
    check_message(error_for(L, [](json& j) { j["model_type"] = "fast_vlm"; }), {"missing required field 'text_config'"});
}

TEST_CASE("config: missing, ill-typed and nonsense fast_vlm fields are named with their path") {
    const std::string F = "fast_vlm_0.5b.json";
    check_message(error_for(F, [](json& j) { j["text_config"] = json::array(); }),
                  {"field 'text_config' must be an object, got array"});
    check_message(error_for(F, [](json& j) { j.erase("vision_config"); }), {"missing required field 'vision_config'"});
    check_message(error_for(F, [](json& j) { j["text_config"].erase("hidden_size"); }),
                  {"missing required field 'text_config.hidden_size'"});
    check_message(error_for(F, [](json& j) { j["text_config"]["num_key_value_heads"] = 5; }),
                  {"'text_config.num_key_value_heads' (5) does not divide 'text_config.num_attention_heads' (14)"});
    check_message(error_for(F, [](json& j) { j["text_config"]["model_type"] = "llama"; }),
                  {"field 'text_config.model_type' must be \"qwen2\""});
    check_message(error_for(F, [](json& j) { j["text_config"]["rope_parameters"]["rope_type"] = "yarn"; }),
                  {"field 'text_config.rope_parameters.rope_type' must be \"default\""});
    check_message(error_for(F, [](json& j) { j["vision_config"]["architecture"] = "resnet50"; }),
                  {"field 'vision_config.architecture' must be \"fastvit_mci3\""});
    check_message(error_for(F, [](json& j) { j["vision_config"].erase("hidden_size"); }),
                  {"missing required field 'vision_config.hidden_size'"});
    check_message(error_for(F, [](json& j) { j["vision_config"]["model_args"]["layers"] = {1, 2}; }),
                  {"'vision_config.model_args.embed_dims' has 5 entries but layers has 2"});
    check_message(error_for(F, [](json& j) { j["vision_config"]["model_args"]["embed_dims"] = {8, 12, 24, 48, 96}; }),
                  {"'vision_config.model_args'", "stage 1 width 12 is not a multiple of the previous width 8"});
    check_message(error_for(F, [](json& j) { j["vision_config"]["model_args"]["layers"] = {2, 0, 1, 1, 1}; }),
                  {"field 'vision_config.model_args.layers[1]' must be between 1 and"});
    check_message(error_for(F, [](json& j) { j["image_seq_length"] = 200; }),
                  {"field 'image_seq_length' must be a square number"});
    check_message(error_for(F, [](json& j) { j["image_token_index"] = 152000; }),
                  {"field 'image_token_index' must be between 0 and 151999"});
    check_message(error_for(F, [](json& j) { j["multimodal_projector_bias"] = false; }),
                  {"'multimodal_projector_bias'", "not supported"});
    check_message(error_for(F, [](json& j) { j["projector_hidden_act"] = "relu"; }),
                  {"field 'projector_hidden_act' must be \"gelu\""});
    check_message(error_for(F, [](json& j) { j["vision_feature_layer"] = -2; }), {"field 'vision_feature_layer' must be -1"});
}

TEST_CASE("config: arbitrary bytes give only fastvlm::Error") {
    // A small deterministic fuzz pass (tests/fuzz/fuzz_config.cpp does the real one).
    std::vector<std::string> seeds;
    for (const char* name : {"llava_qwen2_0.5b.json", "fast_vlm_tiny.json", "fast_vlm_0.5b.json"})
        seeds.push_back(test::read_file(kGolden + name));
    std::mt19937 rng(1234);
    int parsed = 0, rejected = 0;
    for (int round = 0; round < 3000; ++round) {
        std::string text = seeds[round % seeds.size()];
        int edits = 1 + int(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            size_t pos = rng() % text.size();
            switch (rng() % 4) {
                case 0: text[pos] = char(rng() % 256); break;
                case 1: text.erase(pos, 1 + rng() % 8); break;
                case 2: text.insert(pos, 1, "{}[]\",:0-9e"[rng() % 11]); break;
                default: text = text.substr(0, pos); break;
            }
            if (text.empty()) text = "{";
        }
        try {
            fastvlm::parse_config(text, "config.json");
            ++parsed;
        } catch (const fastvlm::Error& e) {
            ++rejected;
            CHECK(std::string(e.what()).find('\n') == std::string::npos);
        }
    }
    CHECK(parsed + rejected == 3000);
    CHECK(rejected > 0);
}
