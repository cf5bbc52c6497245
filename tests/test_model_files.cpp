// ModelFiles and the tensor naming: both layouts resolve to the same canonical tensors, the
// expected tensor list matches transformers' real state_dict names (tests/golden/fastvlm_names)
// and the FastVLM-0.5B list of the spec, and every kind of mismatch is reported at once.
#include "tests/test_util.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "loader/model_files.h"
#include "loader/synthetic.h"
#include "loader/tensor_names.h"
#include "runtime/half.h"

using fastvlm::CheckpointLayout;
using fastvlm::ExpectedTensor;
using fastvlm::ModelConfig;
using fastvlm::ModelFiles;
using fastvlm::SyntheticOptions;
using fastvlm::SyntheticSize;
using fastvlm::TensorToWrite;

namespace {

const std::string V = "model.vision_tower.vision_tower.model.";

std::string make_tiny(const std::string& name, SyntheticOptions options) {
    std::string dir = test::temp_dir(name);
    fastvlm::write_synthetic_checkpoint(dir, options);
    return dir;
}

SyntheticOptions tiny(CheckpointLayout layout, int shards = 1, bool tied = false) {
    SyntheticOptions o;
    o.size = SyntheticSize::Tiny;
    o.layout = layout;
    o.dtype = fastvlm::DType::F16;
    o.seed = 5;
    o.shards = shards;
    o.tied = tied;
    return o;
}

// Reads dir/model.safetensors into memory, lets `edit` change the tensor list, writes it back.
void rewrite(const std::string& dir, const std::function<void(std::vector<TensorToWrite>&)>& edit) {
    std::vector<TensorToWrite> tensors;
    {
        fastvlm::SafetensorsFile file(dir + "/model.safetensors");
        for (const fastvlm::TensorView& t : file.tensors())
            tensors.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes)});
    }
    edit(tensors);
    fastvlm::write_safetensors(dir + "/model.safetensors", tensors);
}

void erase_named(std::vector<TensorToWrite>& tensors, const std::function<bool(const std::string&)>& match) {
    tensors.erase(std::remove_if(tensors.begin(), tensors.end(), [&](const TensorToWrite& t) { return match(t.name); }),
                  tensors.end());
}

TensorToWrite* named(std::vector<TensorToWrite>& tensors, const std::string& name) {
    for (TensorToWrite& t : tensors)
        if (t.name == name) return &t;
    FAIL("no tensor " << name);
    return nullptr;
}

void edit_config(const std::string& dir, const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = nlohmann::json::parse(test::read_file(dir + "/config.json"));
    edit(j);
    test::write_file(dir + "/config.json", j.dump(2));
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

// "name [d0, d1]" lines (anything after the closing bracket ignored).
std::vector<std::pair<std::string, std::string>> read_name_list(const std::string& path) {
    std::vector<std::pair<std::string, std::string>> out;
    std::istringstream in(test::read_file(path));
    std::string line;
    while (std::getline(in, line)) {
        size_t open = line.find(" ["), close = line.find(']');
        if (open == std::string::npos || close == std::string::npos) continue;
        out.push_back({line.substr(0, open), line.substr(open + 1, close - open)});
    }
    return out;
}

bool same_vision(const fastvlm::VisionConfig& a, const fastvlm::VisionConfig& b) {
    return a.depths == b.depths && a.widths == b.widths && a.attention == b.attention && a.pos_emb == b.pos_emb &&
           a.mlp_ratio == b.mlp_ratio && a.out_channels == b.out_channels && a.se_channels == b.se_channels;
}

int64_t numel(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

}  // namespace

TEST_CASE("model_files: both layouts, single and sharded, resolve every canonical name to the same bytes") {
    std::vector<std::string> dirs = {
        make_tiny("mf_llava_1", tiny(CheckpointLayout::LlavaQwen2)),
        make_tiny("mf_llava_3", tiny(CheckpointLayout::LlavaQwen2, 3)),
        make_tiny("mf_native_1", tiny(CheckpointLayout::FastVlm)),
        make_tiny("mf_native_4", tiny(CheckpointLayout::FastVlm, 4)),
    };
    CHECK(test::exists(dirs[1] + "/model.safetensors.index.json"));
    CHECK(test::exists(dirs[3] + "/model-00004-of-00004.safetensors"));

    ModelConfig want = fastvlm::synthetic_model_config(SyntheticSize::Tiny, CheckpointLayout::LlavaQwen2);
    std::vector<std::unique_ptr<ModelFiles>> models;
    for (const std::string& dir : dirs) {
        models.push_back(std::make_unique<ModelFiles>(dir));
        CHECK(same_vision(models.back()->config().vision, want.vision));  // read back from the tensors
    }
    CHECK(models[0]->config().layout == CheckpointLayout::LlavaQwen2);
    CHECK(models[2]->config().layout == CheckpointLayout::FastVlm);

    size_t compared = 0;
    for (const ExpectedTensor& e : fastvlm::expected_tensors(want)) {
        if (e.canonical == V + "head.proj") {  // only the llava_qwen2 layout has it
            CHECK(models[0]->find(e.canonical) != nullptr);
            CHECK(models[2]->find(e.canonical) == nullptr);
            continue;
        }
        const fastvlm::TensorView& ref = models[0]->tensor(e.canonical);
        CHECK(ref.shape == e.shape);
        for (size_t m = 1; m < models.size(); ++m) {
            const fastvlm::TensorView& t = models[m]->tensor(e.canonical);
            CAPTURE(e.canonical);
            CHECK(t.shape == ref.shape);
            CHECK(t.dtype == ref.dtype);
            REQUIRE(t.nbytes == ref.nbytes);
            CHECK(std::memcmp(t.data, ref.data, t.nbytes) == 0);
        }
        ++compared;
    }
    CHECK(compared == fastvlm::expected_tensors(want).size() - 1);

    // the bytes are the generator's values under the canonical name
    const fastvlm::TensorView& norm = models[3]->tensor("model.layers.1.post_attention_layernorm.weight");
    uint16_t stored;
    std::memcpy(&stored, norm.data + 2 * 7, 2);
    CHECK(stored == fastvlm::float_to_fp16(fastvlm::synthetic_value(
                        "model.layers.1.post_attention_layernorm.weight", norm.shape, 5, 7)));

    CHECK(models[0]->find("model.layers.9.mlp.up_proj.weight") == nullptr);
    std::string message = test::error_of([&] { models[2]->tensor("model.layers.9.mlp.up_proj.weight"); });
    CHECK(message.find("no tensor 'model.layers.9.mlp.up_proj.weight'") != std::string::npos);
}

TEST_CASE("model_files: lm_head.weight is used when stored, else tied to the embeddings") {
    for (CheckpointLayout layout : {CheckpointLayout::LlavaQwen2, CheckpointLayout::FastVlm}) {
        ModelFiles stored(make_tiny("mf_lm_stored", tiny(layout)));
        CHECK(stored.tensor("lm_head.weight").data != stored.tensor("model.embed_tokens.weight").data);
        CHECK(stored.tensor("lm_head.weight").name == "lm_head.weight");

        ModelFiles tied(make_tiny("mf_lm_tied", tiny(layout, 1, true)));
        CHECK(tied.config().text.tie_word_embeddings);
        CHECK(tied.checkpoint().find("lm_head.weight") == nullptr);
        CHECK(tied.tensor("lm_head.weight").data == tied.tensor("model.embed_tokens.weight").data);
    }
}

TEST_CASE("model_files: missing, unexpected, mis-shaped and non-float tensors are listed in one error") {
    std::string dir = make_tiny("mf_problems", tiny(CheckpointLayout::LlavaQwen2));
    rewrite(dir, [](std::vector<TensorToWrite>& t) {
        erase_named(t, [](const std::string& n) {
            return n == "model.layers.1.mlp.up_proj.weight" || n == V + "network.7.0.token_mixer.qkv.weight";
        });
        t.push_back({"model.layers.0.self_attn.rotary.inv_freq", fastvlm::DType::F32, {8}, std::vector<uint8_t>(32)});
        named(t, "model.norm.weight")->shape = {8, 8};
        TensorToWrite* bias = named(t, "model.mm_projector.2.bias");
        bias->dtype = fastvlm::DType::I16;  // same byte size as F16
    });
    std::string message = test::error_of([&] { ModelFiles m(dir); });
    CAPTURE(message);
    CHECK(message.find('\n') == std::string::npos);
    CHECK(message.find(dir) != std::string::npos);
    CHECK(message.find("llava_qwen2 layout") != std::string::npos);
    CHECK(message.find("2 missing: ") != std::string::npos);
    CHECK(message.find(V + "network.7.0.token_mixer.qkv.weight [192, 64]") != std::string::npos);
    CHECK(message.find("model.layers.1.mlp.up_proj.weight [128, 64]") != std::string::npos);
    CHECK(message.find("1 unexpected: model.layers.0.self_attn.rotary.inv_freq") != std::string::npos);
    CHECK(message.find("1 with the wrong shape: model.norm.weight is [8, 8], expected [64]") != std::string::npos);
    CHECK(message.find("1 not F32/F16/BF16: model.mm_projector.2.bias is I16") != std::string::npos);
}

TEST_CASE("model_files: long problem lists are cut with a count") {
    std::string dir = make_tiny("mf_many", tiny(CheckpointLayout::FastVlm));
    rewrite(dir, [](std::vector<TensorToWrite>& t) {
        erase_named(t, [](const std::string& n) { return n.find("model.language_model.layers.") == 0; });
    });
    std::string message = test::error_of([&] { ModelFiles m(dir); });
    CAPTURE(message);
    CHECK(message.find("24 missing: model.language_model.layers.0.self_attn.q_proj.weight [64, 64]") != std::string::npos);
    CHECK(message.find(", ... and 4 more") != std::string::npos);
    CHECK(message.find("fast_vlm layout") != std::string::npos);
}

TEST_CASE("model_files: embedding rows must match the config's vocabulary") {
    std::string dir = make_tiny("mf_vocab", tiny(CheckpointLayout::LlavaQwen2));
    edit_config(dir, [](nlohmann::json& j) { j["vocab_size"] = 600; });
    std::string message = test::error_of([&] { ModelFiles m(dir); });
    CAPTURE(message);
    CHECK(message.find("model.embed_tokens.weight is [512, 64], expected [600, 64]") != std::string::npos);
    CHECK(message.find("lm_head.weight is [512, 64], expected [600, 64]") != std::string::npos);
}

TEST_CASE("model_files: BatchNorm counters and head.proj may be absent, and are not checked") {
    std::string dir = make_tiny("mf_optional", tiny(CheckpointLayout::LlavaQwen2));
    rewrite(dir, [](std::vector<TensorToWrite>& t) {
        erase_named(t, [](const std::string& n) {
            return n == V + "head.proj" || n.find("num_batches_tracked") != std::string::npos;
        });
    });
    ModelFiles without(dir);
    CHECK(without.find(V + "head.proj") == nullptr);
    CHECK(without.find(V + "network.0.0.convffn.conv.bn.num_batches_tracked") == nullptr);

    rewrite(dir, [](std::vector<TensorToWrite>& t) {  // any shape and dtype is accepted for them
        t.push_back({V + "head.proj", fastvlm::DType::F32, {256, 768}, std::vector<uint8_t>(256 * 768 * 4)});
        t.push_back({V + "network.0.0.convffn.conv.bn.num_batches_tracked", fastvlm::DType::I32, {1},
                     std::vector<uint8_t>(4)});
    });
    ModelFiles with(dir);
    CHECK(with.tensor(V + "head.proj").shape == std::vector<int64_t>{256, 768});
}

TEST_CASE("model_files: a checkpoint in the other layout is named as such") {
    std::string dir = make_tiny("mf_wrong_layout", tiny(CheckpointLayout::FastVlm));
    std::string llava = make_tiny("mf_wrong_layout_cfg", tiny(CheckpointLayout::LlavaQwen2));
    test::write_file(dir + "/config.json", test::read_file(llava + "/config.json"));
    std::string message = test::error_of([&] { ModelFiles m(dir); });
    CHECK(message.find("tensor names are in the fast_vlm layout") != std::string::npos);
    CHECK(message.find("model_type llava_qwen2") != std::string::npos);
}

TEST_CASE("model_files: a train-time (multi-branch) vision tower is recognised") {
    std::string dir = make_tiny("mf_train_time", tiny(CheckpointLayout::LlavaQwen2));
    rewrite(dir, [](std::vector<TensorToWrite>& t) {
        named(t, V + "patch_embed.0.reparam_conv.weight")->name = V + "patch_embed.0.rbr_conv.0.conv.weight";
    });
    std::string message = test::error_of([&] { ModelFiles m(dir); });
    CAPTURE(message);
    CHECK(message.find("vision tower is in train-time form") != std::string::npos);
    CHECK(message.find("rbr_conv.0.conv.weight") != std::string::npos);

    // the un-folded tower written by tools/golden/fastvlm_tiny.py (mci.py train-time names)
    const std::string golden = "tests/golden/fastvlm_tiny/vision_train_time.safetensors";
    if (!test::exists(golden)) SKIP_TEST("tests/golden/fastvlm_tiny/vision_train_time.safetensors is absent");
    fastvlm::SafetensorsFile file(golden);
    fastvlm::StoredShapes shapes;
    for (const fastvlm::TensorView& t : file.tensors()) shapes.push_back({t.name, t.shape});
    fastvlm::VisionConfig vision;
    message = test::error_of([&] { fastvlm::infer_vision_shape(shapes, CheckpointLayout::LlavaQwen2, &vision, golden); });
    CHECK(message.find("vision tower is in train-time form") != std::string::npos);
}

TEST_CASE("model_files: vision structure problems are named") {
    std::string dir = make_tiny("mf_structure", tiny(CheckpointLayout::LlavaQwen2));
    rewrite(dir, [](std::vector<TensorToWrite>& t) {
        erase_named(t, [](const std::string& n) { return n.find(V + "network.6.") == 0; });
    });
    std::string message = test::error_of([&] { ModelFiles m(dir); });
    CHECK(message.find("no tensor named '" + V + "network.6...' although network.10 exists") != std::string::npos);

    dir = make_tiny("mf_no_vision", tiny(CheckpointLayout::FastVlm));
    rewrite(dir, [](std::vector<TensorToWrite>& t) {
        erase_named(t, [](const std::string& n) { return n.find("model.vision_tower.") == 0; });
    });
    message = test::error_of([&] { ModelFiles m(dir); });
    CHECK(message.find("no vision tower tensors (no name starts with 'model.vision_tower.timm_model.')") !=
          std::string::npos);

    dir = make_tiny("mf_mm_hidden", tiny(CheckpointLayout::LlavaQwen2));
    edit_config(dir, [](nlohmann::json& j) { j["mm_hidden_size"] = 128; });
    message = test::error_of([&] { ModelFiles m(dir); });
    CHECK(message.find("mm_hidden_size is 128 but the vision tower") != std::string::npos);
    CHECK(message.find("outputs 256 channels") != std::string::npos);
}

TEST_CASE("model_files: expected tensors equal transformers' FastVlmForConditionalGeneration state_dict") {
    const std::string dir = "tests/golden/fastvlm_names/";
    ModelConfig config = fastvlm::load_config(dir + "config.json");
    REQUIRE(config.layout == CheckpointLayout::FastVlm);

    for (CheckpointLayout layout : {CheckpointLayout::FastVlm, CheckpointLayout::LlavaQwen2}) {
        auto golden = read_name_list(dir + (layout == CheckpointLayout::FastVlm ? "native_tiny.txt" : "llava_tiny.txt"));
        REQUIRE(golden.size() > 100);

        // the vision shape read back from the real names equals the config's
        fastvlm::StoredShapes stored;
        for (const auto& [name, shape_string] : golden) {
            std::vector<int64_t> shape;
            std::string digits;
            for (char c : shape_string + ",")
                if (c >= '0' && c <= '9') digits += c;
                else if (!digits.empty()) { shape.push_back(std::stoll(digits)); digits.clear(); }
            stored.push_back({name, shape});
        }
        fastvlm::VisionConfig inferred = config.vision;
        inferred.depths = {1};  // forget what the config said
        inferred.widths = {1};
        fastvlm::infer_vision_shape(stored, layout, &inferred, "golden");
        CHECK(same_vision(inferred, config.vision));

        ModelConfig c = config;
        c.layout = layout;
        std::set<std::pair<std::string, std::string>> want(golden.begin(), golden.end()), got;
        for (const ExpectedTensor& e : fastvlm::expected_tensors(c))
            if (e.canonical != V + "head.proj") got.insert({e.stored, shape_text(e.shape)});
        CHECK(want.size() == golden.size());
        std::vector<std::pair<std::string, std::string>> only_golden, only_ours;
        std::set_difference(want.begin(), want.end(), got.begin(), got.end(), std::back_inserter(only_golden));
        std::set_difference(got.begin(), got.end(), want.begin(), want.end(), std::back_inserter(only_ours));
        for (const auto& entry : only_golden)
            CHECK_MESSAGE(false, "missing from ours: " << entry.first << " " << entry.second);
        for (const auto& entry : only_ours)
            CHECK_MESSAGE(false, "not in transformers: " << entry.first << " " << entry.second);
    }
}

TEST_CASE("model_files: loads the checkpoints transformers saved for the tiny FastVLM, same weights in both layouts") {
    const std::string dir = "tests/golden/fastvlm_tiny/";
    if (!test::exists(dir + "native/model.safetensors") || !test::exists(dir + "llava/model.safetensors"))
        SKIP_TEST("tests/golden/fastvlm_tiny/{native,llava} are absent");
    ModelFiles native(dir + "native"), llava(dir + "llava");
    CHECK(same_vision(native.config().vision, llava.config().vision));
    CHECK(native.config().vision.depths == std::vector<int>{1, 1, 2, 1, 1});
    size_t compared = 0;
    for (const ExpectedTensor& e : fastvlm::expected_tensors(llava.config())) {
        const fastvlm::TensorView* a = llava.find(e.canonical);
        const fastvlm::TensorView* b = native.find(e.canonical);
        if (e.canonical == V + "head.proj") {
            CHECK(a != nullptr);
            CHECK(b == nullptr);
            continue;
        }
        REQUIRE(a);
        REQUIRE(b);
        CAPTURE(e.canonical);
        CHECK(a->shape == b->shape);
        REQUIRE(a->nbytes == b->nbytes);
        CHECK(std::memcmp(a->data, b->data, a->nbytes) == 0);
        ++compared;
    }
    CHECK(compared == 149);
}

TEST_CASE("model_files: the full-size tensor list equals the FastVLM-0.5B spec list") {
    ModelConfig full = fastvlm::synthetic_model_config(SyntheticSize::Full, CheckpointLayout::LlavaQwen2);
    std::vector<ExpectedTensor> expected = fastvlm::expected_tensors(full);
    CHECK(expected.size() == 924);

    // parameter counts of spec section 8
    int64_t vision = 0, running_stats = 0, projector = 0, llm = 0, lm_head = 0;
    for (const ExpectedTensor& e : expected) {
        int64_t n = numel(e.shape);
        if (e.canonical.find("num_batches_tracked") != std::string::npos) continue;
        if (e.canonical.find("running_") != std::string::npos) running_stats += n;
        else if (e.canonical.rfind(V, 0) == 0) vision += n;
        else if (e.canonical.rfind("model.mm_projector.", 0) == 0) projector += n;
        else if (e.canonical == "lm_head.weight") lm_head += n;
        else llm += n;
    }
    CHECK(vision == 125073504);
    CHECK(running_stats == 35712);
    CHECK(projector == 3557120);
    CHECK(llm == 494032768);
    CHECK(lm_head == 136134656);

    // native names: one for every tensor but head.proj, all distinct
    ModelConfig native = fastvlm::synthetic_model_config(SyntheticSize::Full, CheckpointLayout::FastVlm);
    std::set<std::string> native_names;
    for (const ExpectedTensor& e : fastvlm::expected_tensors(native)) native_names.insert(e.stored);
    CHECK(native_names.size() == 923);
    CHECK(native_names.count("model.vision_tower.timm_model.stages.3.pos_emb.reparam_conv.weight") == 1);
    CHECK(native_names.count("model.vision_tower.timm_model.stages.4.blocks.1.layer_scale_2.gamma") == 1);
    CHECK(native_names.count("model.vision_tower.timm_model.final_conv.se.fc2.bias") == 1);
    CHECK(native_names.count("model.multi_modal_projector.linear_1.weight") == 1);
    CHECK(native_names.count("model.language_model.layers.23.mlp.down_proj.weight") == 1);

    const std::string spec = "../shared/spec/fastvlm-0.5b-tensors.txt";
    if (!test::exists(spec)) SKIP_TEST("../shared/spec/fastvlm-0.5b-tensors.txt is absent");
    auto listed = read_name_list(spec);
    REQUIRE(listed.size() == expected.size());
    for (size_t i = 0; i < listed.size(); ++i) {
        CAPTURE(i);
        CHECK(expected[i].canonical == listed[i].first);  // same order too
        CHECK(shape_text(expected[i].shape) == listed[i].second);
    }
}

TEST_CASE("model_files: vision structure inference names what it cannot read") {
    auto error = [](CheckpointLayout layout, const std::vector<std::string>& names) {
        fastvlm::StoredShapes shapes;
        for (const std::string& n : names) {
            // widths double per stage: stage k of these lists is 8 << k wide
            int64_t width = 8;
            size_t at = n.find("network.");
            if (at != std::string::npos) width = 8 << ((n[at + 8] - '0') / 2);
            at = n.find("stages.");
            if (at != std::string::npos) width = 8 << (n[at + 7] - '0');
            shapes.push_back({n, {width, 1, 1}});
        }
        fastvlm::VisionConfig vision;
        return test::error_of([&] { fastvlm::infer_vision_shape(shapes, layout, &vision, "ckpt"); });
    };
    const auto L = CheckpointLayout::LlavaQwen2;
    const auto N = CheckpointLayout::FastVlm;
    const std::string S = "model.vision_tower.timm_model.";
    CHECK(error(L, {V + "network.0.0.layer_scale", V + "network.1.0.layer_scale"})
              .find("ckpt: vision tower: network.1 holds blocks right after the blocks of network.0") == 0);
    CHECK(error(L, {V + "network.0.proj.1.reparam_conv.weight", V + "network.1.0.layer_scale"})
              .find("network.0 is a downsample; the first stage has none") != std::string::npos);
    CHECK(error(L, {V + "network.0.0.layer_scale", V + "network.1.reparam_conv.weight"})
              .find("RepCPE network.1 does not follow a downsample") != std::string::npos);
    CHECK(error(L, {V + "network.0.0.layer_scale", V + "network.1.proj.1.reparam_conv.weight",
                    V + "network.1.0.layer_scale"})
              .find("network.1 mixes downsample, RepCPE and block tensors") != std::string::npos);
    CHECK(error(L, {V + "network.0.0.layer_scale", V + "network.1.proj.1.reparam_conv.weight"})
              .find("ends with a downsample or RepCPE without blocks after it") != std::string::npos);
    CHECK(error(L, {V + "network.0.2000.layer_scale"}).find("block index 2000; at most 1024") != std::string::npos);
    CHECK(error(L, {V + "network.70.0.layer_scale"}).find("network index 70") != std::string::npos);
    CHECK(error(L, {V + "network.0.0.something"}).find("cannot tell the width of vision stage 0") != std::string::npos);
    CHECK(error(N, {S + "stages.0.blocks.0.layer_scale.gamma", S + "stages.1.downsample.proj.0.reparam_conv.weight"})
              .find("vision stage 1 has no blocks") != std::string::npos);
    CHECK(error(N, {S + "stages.9.blocks.0.layer_scale.gamma"}).find("stage index 9") != std::string::npos);
    CHECK(error(N, {S + "stem.0.conv_kxk.0.conv.weight"}).find("train-time form") != std::string::npos);
    CHECK(error(N, {V + "network.0.0.layer_scale"}).find("tensor names are in the llava_qwen2 layout") != std::string::npos);

    // a readable structure that cannot be built: stage widths 8 -> 12
    fastvlm::StoredShapes shapes = {{V + "network.0.0.layer_scale", {8, 1, 1}},
                                    {V + "network.1.proj.1.reparam_conv.weight", {12, 12, 1, 1}},
                                    {V + "network.2.0.layer_scale", {12, 1, 1}}};
    fastvlm::VisionConfig vision;
    CHECK(test::error_of([&] { fastvlm::infer_vision_shape(shapes, L, &vision, "ckpt"); })
              .find("read from the tensors: stage 1 width 12 is not a multiple of the previous width 8") != std::string::npos);
}
