// Canonical <-> native tensor names, the expected tensor list, and reading the vision tower's
// structure back from the names and shapes in a checkpoint.
#include "loader/tensor_names.h"

#include <algorithm>
#include <map>

#include "runtime/error.h"

namespace fastvlm {

const char* const kVisionPrefix = "model.vision_tower.vision_tower.model.";
const char* const kNativeVisionPrefix = "model.vision_tower.timm_model.";

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

void replace_all(std::string* s, const std::string& from, const std::string& to) {
    for (size_t pos = s->find(from); pos != std::string::npos; pos = s->find(from, pos + to.size()))
        s->replace(pos, from.size(), to);
}

// Reads a small non-negative decimal number at s[pos..] up to the next '.' (or the end);
// returns -1 unless it is 1-4 digits without a leading zero. *end gets the position after it.
int read_index(const std::string& s, size_t pos, size_t* end) {
    size_t dot = s.find('.', pos);
    if (dot == std::string::npos) dot = s.size();
    size_t len = dot - pos;
    if (len == 0 || len > 4 || (len > 1 && s[pos] == '0')) return -1;
    int v = 0;
    for (size_t i = pos; i < dot; ++i) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *end = dot;
    return v;
}

// Block tail in the native layout -> canonical tail ("mlp.fc1.weight" -> "convffn.fc1.weight").
std::string canonical_block_tail(std::string tail) {
    if (starts_with(tail, "mlp.")) tail = "convffn." + tail.substr(4);
    if (tail == "layer_scale.gamma") return "layer_scale";
    if (tail == "layer_scale_1.gamma") return "layer_scale_1";
    if (tail == "layer_scale_2.gamma") return "layer_scale_2";
    return tail;
}

}  // namespace

std::vector<VisionStageIndices> vision_network_indices(const VisionConfig& vision) {
    std::vector<VisionStageIndices> stages(vision.depths.size());
    int k = 0;
    for (size_t i = 0; i < stages.size(); ++i) {
        if (i > 0) stages[i].downsample = k++;
        if (i < vision.pos_emb.size() && vision.pos_emb[i]) stages[i].pos_emb = k++;
        stages[i].blocks = k++;
    }
    return stages;
}

std::string native_name(const std::string& canonical, const VisionConfig& vision) {
    const std::string vp = kVisionPrefix;
    if (starts_with(canonical, vp)) {
        std::string rest = canonical.substr(vp.size());
        std::string out = kNativeVisionPrefix;
        if (starts_with(rest, "patch_embed.")) return out + "stem." + rest.substr(12);
        if (starts_with(rest, "conv_exp.")) {
            rest = rest.substr(9);
            replace_all(&rest, "se.reduce.", "se.fc1.");
            replace_all(&rest, "se.expand.", "se.fc2.");
            return out + "final_conv." + rest;
        }
        if (rest == "head.proj") return "";  // the converter deletes it
        size_t end = 0;
        if (starts_with(rest, "network.")) {
            int k = read_index(rest, 8, &end);
            std::vector<VisionStageIndices> stages = vision_network_indices(vision);
            for (size_t i = 0; k >= 0 && end < rest.size() && i < stages.size(); ++i) {
                std::string tail = rest.substr(end + 1);
                std::string stage = out + "stages." + std::to_string(i) + ".";
                if (k == stages[i].downsample) {
                    replace_all(&tail, "proj.0.lkb_reparam.", "proj.0.reparam_conv.");
                    return stage + "downsample." + tail;
                }
                if (k == stages[i].pos_emb) return stage + "pos_emb." + tail;
                if (k == stages[i].blocks) {
                    size_t block_end = 0;
                    int b = read_index(tail, 0, &block_end);
                    if (b < 0 || block_end >= tail.size()) break;
                    std::string inner = tail.substr(block_end + 1);
                    if (starts_with(inner, "convffn.")) inner = "mlp." + inner.substr(8);
                    if (inner == "layer_scale" || inner == "layer_scale_1" || inner == "layer_scale_2")
                        inner += ".gamma";
                    return stage + "blocks." + std::to_string(b) + "." + inner;
                }
            }
        }
        fail(canonical, "not a vision tensor name of this model description");
    }
    if (starts_with(canonical, "model.mm_projector.0.")) return "model.multi_modal_projector.linear_1." + canonical.substr(21);
    if (starts_with(canonical, "model.mm_projector.2.")) return "model.multi_modal_projector.linear_2." + canonical.substr(21);
    if (starts_with(canonical, "model.embed_tokens.") || starts_with(canonical, "model.layers.") ||
        starts_with(canonical, "model.norm."))
        return "model.language_model." + canonical.substr(6);
    return canonical;  // lm_head.weight
}

std::string stored_name(const std::string& canonical, CheckpointLayout layout, const VisionConfig& vision) {
    return layout == CheckpointLayout::FastVlm ? native_name(canonical, vision) : canonical;
}

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config) {
    const VisionConfig& v = config.vision;
    const TextConfig& t = config.text;
    std::vector<ExpectedTensor> list;
    auto add = [&](const std::string& name, std::vector<int64_t> shape) {
        ExpectedTensor e;
        e.canonical = name;
        e.shape = std::move(shape);
        list.push_back(std::move(e));
        return &list.back();
    };
    // A conv with bias: weight [out, in / groups, k, k], bias [out].
    auto conv = [&](const std::string& name, int64_t out, int64_t in_per_group, int64_t k) {
        add(name + ".weight", {out, in_per_group, k, k});
        add(name + ".bias", {out});
    };
    // ConvFFN: dw7x7 (no bias) + BatchNorm, fc1 1x1 C->rC, GELU, fc2 1x1 rC->C.
    auto convffn = [&](const std::string& p, int64_t c) {
        int64_t hidden = c * v.mlp_ratio;
        add(p + "convffn.conv.conv.weight", {c, 1, 7, 7});
        add(p + "convffn.conv.bn.weight", {c});
        add(p + "convffn.conv.bn.bias", {c});
        add(p + "convffn.conv.bn.running_mean", {c});
        add(p + "convffn.conv.bn.running_var", {c});
        ExpectedTensor* count = add(p + "convffn.conv.bn.num_batches_tracked", {});
        count->optional = true;
        count->checked = false;
        count->is_float = false;
        conv(p + "convffn.fc1", hidden, c, 1);
        conv(p + "convffn.fc2", c, hidden, 1);
    };

    // ---- vision tower (FastViTHD, inference form)
    const std::string V = kVisionPrefix;
    const int64_t c0 = v.widths.empty() ? 0 : v.widths[0];
    conv(V + "patch_embed.0.reparam_conv", c0, 3, 3);   // 3x3 s2
    conv(V + "patch_embed.1.reparam_conv", c0, 1, 3);   // depthwise 3x3 s2
    conv(V + "patch_embed.2.reparam_conv", c0, c0, 1);  // 1x1
    std::vector<VisionStageIndices> stages = vision_network_indices(v);
    for (size_t i = 0; i < stages.size(); ++i) {
        const int64_t c = v.widths[i];
        if (stages[i].downsample >= 0) {
            std::string p = V + "network." + std::to_string(stages[i].downsample) + ".proj.";
            conv(p + "0.lkb_reparam", c, 1, 7);  // 7x7 s2, groups = input width
            conv(p + "1.reparam_conv", c, c, 1);
        }
        if (stages[i].pos_emb >= 0)
            conv(V + "network." + std::to_string(stages[i].pos_emb) + ".reparam_conv", c, 1, 7);  // RepCPE
        bool attention = i < v.attention.size() && v.attention[i];
        for (int b = 0; b < v.depths[i]; ++b) {
            std::string p = V + "network." + std::to_string(stages[i].blocks) + "." + std::to_string(b) + ".";
            if (attention) {
                add(p + "norm.weight", {c});
                add(p + "norm.bias", {c});
                add(p + "token_mixer.qkv.weight", {3 * c, c});
                add(p + "token_mixer.proj.weight", {c, c});
                add(p + "token_mixer.proj.bias", {c});
                convffn(p, c);
                add(p + "layer_scale_1", {c, 1, 1});
                add(p + "layer_scale_2", {c, 1, 1});
            } else {
                conv(p + "token_mixer.reparam_conv", c, 1, 3);  // RepMixer folded: dw 3x3
                convffn(p, c);
                add(p + "layer_scale", {c, 1, 1});
            }
        }
    }
    conv(V + "conv_exp.reparam_conv", v.out_channels, 1, 3);  // dw 3x3, groups = last width
    conv(V + "conv_exp.se.reduce", v.se_channels, v.out_channels, 1);
    conv(V + "conv_exp.se.expand", v.out_channels, v.se_channels, 1);
    if (config.layout == CheckpointLayout::LlavaQwen2) {
        // MCi's GlobalPool2D projection: computed by mci.py but unused by FastVLM.
        ExpectedTensor* head = add(V + "head.proj", {v.out_channels, std::max(1, v.out_channels / 4)});
        head->optional = true;
        head->checked = false;
    }

    // ---- projector (mlp2x_gelu)
    add("model.mm_projector.0.weight", {t.hidden, config.mm_hidden});
    add("model.mm_projector.0.bias", {t.hidden});
    add("model.mm_projector.2.weight", {t.hidden, t.hidden});
    add("model.mm_projector.2.bias", {t.hidden});

    // ---- language model (Qwen2)
    const int64_t q_width = int64_t(t.heads) * t.head_dim, kv_width = int64_t(t.kv_heads) * t.head_dim;
    add("model.embed_tokens.weight", {t.vocab, t.hidden});
    for (int l = 0; l < t.layers; ++l) {
        std::string p = "model.layers." + std::to_string(l) + ".";
        add(p + "self_attn.q_proj.weight", {q_width, t.hidden});
        add(p + "self_attn.q_proj.bias", {q_width});
        add(p + "self_attn.k_proj.weight", {kv_width, t.hidden});
        add(p + "self_attn.k_proj.bias", {kv_width});
        add(p + "self_attn.v_proj.weight", {kv_width, t.hidden});
        add(p + "self_attn.v_proj.bias", {kv_width});
        add(p + "self_attn.o_proj.weight", {t.hidden, q_width});
        add(p + "mlp.gate_proj.weight", {t.intermediate, t.hidden});
        add(p + "mlp.up_proj.weight", {t.intermediate, t.hidden});
        add(p + "mlp.down_proj.weight", {t.hidden, t.intermediate});
        add(p + "input_layernorm.weight", {t.hidden});
        add(p + "post_attention_layernorm.weight", {t.hidden});
    }
    add("model.norm.weight", {t.hidden});
    add("lm_head.weight", {t.vocab, t.hidden})->optional = true;  // absent: tied to embed_tokens

    for (ExpectedTensor& e : list) e.stored = stored_name(e.canonical, config.layout, v);
    return list;
}

// ------------------------------------------------------------------ structure inference

namespace {

// What one stage of the tower shows in the checkpoint.
struct SeenStage {
    bool has_downsample = false;
    bool has_pos_emb = false;
    bool has_blocks = false;
    bool attention = false;
    int depth = 0;
    std::map<std::string, std::vector<int64_t>> block0;  // canonical tail -> shape, block 0
    std::vector<int64_t> downsample_shape;               // proj.1.reparam_conv.weight
};

const char* const kTrainTimeMarkers[] = {
    "rbr_conv", "rbr_scale", "rbr_skip", "lkb_origin", "small_conv", "token_mixer.mixer.",  // mci.py
    "conv_kxk", "conv_scale", ".identity.", "large_conv", "pos_enc",                         // timm
};

bool is_train_time_name(const std::string& tail) {
    for (const char* m : kTrainTimeMarkers)
        if (tail.find(m) != std::string::npos) return true;
    // mci.py RepCPE before reparameterization: network.N.pe.{weight,bias}
    size_t pe = tail.find(".pe.");
    return pe != std::string::npos && starts_with(tail, "network.");
}

// A stage's width read from its first block (or its downsample), 0 when nothing tells.
int64_t stage_width(const SeenStage& s) {
    static const char* const candidates[] = {
        "convffn.conv.bn.weight", "convffn.fc2.bias", "convffn.conv.conv.weight", "token_mixer.reparam_conv.bias",
        "token_mixer.reparam_conv.weight", "norm.weight", "layer_scale", "layer_scale_1", "layer_scale_2",
    };
    for (const char* c : candidates) {
        auto it = s.block0.find(c);
        if (it != s.block0.end() && !it->second.empty() && it->second[0] > 0) return it->second[0];
    }
    if (!s.downsample_shape.empty() && s.downsample_shape[0] > 0) return s.downsample_shape[0];
    return 0;
}

constexpr int kMaxBlocksPerStage = 1024;

void note_block(SeenStage* s, int block, const std::string& tail, const std::vector<int64_t>& shape,
                const std::string& where) {
    if (block >= kMaxBlocksPerStage)
        fail(where, "vision tower has a block index ", block, "; at most ", kMaxBlocksPerStage, " blocks per stage are supported");
    s->has_blocks = true;
    s->depth = std::max(s->depth, block + 1);
    if (starts_with(tail, "token_mixer.qkv.")) s->attention = true;
    if (block == 0) s->block0[tail] = shape;
}

}  // namespace

void infer_vision_shape(const StoredShapes& tensors, CheckpointLayout layout, VisionConfig* vision,
                        const std::string& where) {
    const bool native = layout == CheckpointLayout::FastVlm;
    const std::string prefix = native ? kNativeVisionPrefix : kVisionPrefix;
    const std::string other_prefix = native ? kVisionPrefix : kNativeVisionPrefix;
    const char* other_layout = native ? "llava_qwen2" : "fast_vlm";

    size_t mine = 0, other = 0;
    for (const auto& [name, shape] : tensors) {
        if (starts_with(name, prefix)) {
            ++mine;
            if (is_train_time_name(name.substr(prefix.size())))
                fail(where, "vision tower is in train-time form (multi-branch tensors such as '", name,
                     "'); reparameterize it first (mci.py reparameterize_model or timm's reparameterize_model) "
                     "and save the inference-form weights");
        } else if (starts_with(name, other_prefix)) {
            ++other;
        }
    }
    if (mine == 0) {
        if (other > 0)
            fail(where, "tensor names are in the ", other_layout, " layout (", other_prefix,
                 "...) but config.json has model_type ", layout_name(layout));
        fail(where, "no vision tower tensors (no name starts with '", prefix, "')");
    }

    std::vector<SeenStage> stages;
    int64_t out_channels = 0, se_channels = 0;
    if (native) {
        // stages.<i>.{downsample, pos_emb, blocks.<b>}.*, stem.*, final_conv.*
        for (const auto& [name, shape] : tensors) {
            if (!starts_with(name, prefix)) continue;
            std::string rest = name.substr(prefix.size());
            if (rest == "final_conv.reparam_conv.weight" && !shape.empty()) out_channels = shape[0];
            if (rest == "final_conv.se.fc1.weight" && !shape.empty()) se_channels = shape[0];
            if (!starts_with(rest, "stages.")) continue;
            size_t end = 0;
            int i = read_index(rest, 7, &end);
            if (i < 0 || end >= rest.size()) continue;  // reported as unexpected later
            if (i >= 8) fail(where, "vision tower has a stage index ", i, " ('", name, "'); at most 8 stages are supported");
            if (size_t(i) >= stages.size()) stages.resize(i + 1);
            std::string tail = rest.substr(end + 1);
            SeenStage& s = stages[i];
            if (starts_with(tail, "downsample.")) {
                s.has_downsample = true;
                if (tail == "downsample.proj.1.reparam_conv.weight") s.downsample_shape = shape;
            } else if (starts_with(tail, "pos_emb.")) {
                s.has_pos_emb = true;
            } else if (starts_with(tail, "blocks.")) {
                size_t block_end = 0;
                int b = read_index(tail, 7, &block_end);
                if (b < 0 || block_end >= tail.size()) continue;
                note_block(&s, b, canonical_block_tail(tail.substr(block_end + 1)), shape, where);
            }
        }
        for (size_t i = 0; i < stages.size(); ++i)
            if (!stages[i].has_blocks)
                fail(where, "vision stage ", i, " has no blocks (no tensor named '", prefix, "stages.", i, ".blocks.0...')");
    } else {
        // network.<k>: a downsample (proj.*), a RepCPE (reparam_conv.*) or a stage's blocks (<b>.*)
        enum Kind { None = 0, Downsample = 1, PosEmb = 2, Blocks = 4 };
        std::map<int, int> kinds;                         // k -> Kind bits
        std::map<int, std::vector<std::pair<int, std::pair<std::string, std::vector<int64_t>>>>> blocks;
        std::map<int, std::vector<int64_t>> downsample_shapes;
        for (const auto& [name, shape] : tensors) {
            if (!starts_with(name, prefix)) continue;
            std::string rest = name.substr(prefix.size());
            if (rest == "conv_exp.reparam_conv.weight" && !shape.empty()) out_channels = shape[0];
            if (rest == "conv_exp.se.reduce.weight" && !shape.empty()) se_channels = shape[0];
            if (!starts_with(rest, "network.")) continue;
            size_t end = 0;
            int k = read_index(rest, 8, &end);
            if (k < 0 || end >= rest.size()) continue;
            if (k >= 64) fail(where, "vision tower has a network index ", k, " ('", name, "'); at most 64 are supported");
            std::string tail = rest.substr(end + 1);
            if (starts_with(tail, "proj.")) {
                kinds[k] |= Downsample;
                if (tail == "proj.1.reparam_conv.weight") downsample_shapes[k] = shape;
            } else if (starts_with(tail, "reparam_conv.")) {
                kinds[k] |= PosEmb;
            } else {
                size_t block_end = 0;
                int b = read_index(tail, 0, &block_end);
                if (b < 0 || block_end >= tail.size()) continue;
                kinds[k] |= Blocks;
                blocks[k].push_back({b, {tail.substr(block_end + 1), shape}});
            }
        }
        int last = kinds.empty() ? -1 : kinds.rbegin()->first;
        for (int k = 0; k <= last; ++k) {
            auto it = kinds.find(k);
            if (it == kinds.end())
                fail(where, "vision tower: no tensor named '", prefix, "network.", k, "...' although network.", last,
                     " exists");
            int kind = it->second;
            if (kind != Downsample && kind != PosEmb && kind != Blocks)
                fail(where, "vision tower: network.", k, " mixes downsample, RepCPE and block tensors");
            bool open = !stages.empty() && !stages.back().has_blocks;  // a stage still waiting for its blocks
            if (kind == Downsample) {
                if (stages.empty()) fail(where, "vision tower: network.0 is a downsample; the first stage has none");
                if (open) fail(where, "vision tower: network.", k, " is a downsample right after another one");
                stages.emplace_back();
                stages.back().has_downsample = true;
                stages.back().downsample_shape = downsample_shapes[k];
            } else if (kind == PosEmb) {
                if (!open) {
                    if (!stages.empty())
                        fail(where, "vision tower: RepCPE network.", k, " does not follow a downsample");
                    stages.emplace_back();
                }
                if (stages.back().has_pos_emb) fail(where, "vision tower: two RepCPE in a row at network.", k);
                stages.back().has_pos_emb = true;
            } else {
                if (!open) {
                    if (!stages.empty())
                        fail(where, "vision tower: network.", k, " holds blocks right after the blocks of network.",
                             k - 1, " (a downsample is missing between them)");
                    stages.emplace_back();
                }
                for (const auto& [b, entry] : blocks[k]) note_block(&stages.back(), b, entry.first, entry.second, where);
            }
            if (stages.size() > 8) fail(where, "vision tower has more than 8 stages");
        }
        if (!stages.empty() && !stages.back().has_blocks)
            fail(where, "vision tower ends with a downsample or RepCPE without blocks after it");
    }
    if (stages.empty()) fail(where, "vision tower has no stages (no '", prefix, native ? "stages." : "network.", "...' tensors)");

    VisionConfig v = *vision;
    v.depths.clear();
    v.widths.clear();
    v.attention.clear();
    v.pos_emb.clear();
    for (size_t i = 0; i < stages.size(); ++i) {
        int64_t width = stage_width(stages[i]);
        if (width <= 0 || width > (1 << 16))
            fail(where, "cannot tell the width of vision stage ", i, " from its tensors");
        v.depths.push_back(stages[i].depth);
        v.widths.push_back(int(width));
        v.attention.push_back(stages[i].attention);
        v.pos_emb.push_back(stages[i].has_pos_emb);
    }
    auto fc1 = stages[0].block0.find("convffn.fc1.weight");
    if (fc1 != stages[0].block0.end() && !fc1->second.empty() && fc1->second[0] % v.widths[0] == 0 &&
        fc1->second[0] / v.widths[0] >= 1 && fc1->second[0] / v.widths[0] <= 64)
        v.mlp_ratio = int(fc1->second[0] / v.widths[0]);
    if (out_channels > 0 && out_channels <= (1 << 16)) v.out_channels = int(out_channels);
    if (se_channels > 0 && se_channels <= (1 << 16)) v.se_channels = int(se_channels);

    std::string problem = vision_shape_problem(v);
    if (!problem.empty()) fail(where, "vision tower read from the tensors: ", problem);
    *vision = v;
}

std::string vision_shape_problem(const VisionConfig& v) {
    size_t n = v.depths.size();
    if (n == 0 || v.widths.size() != n || v.attention.size() != n || v.pos_emb.size() != n)
        return "stage lists (depths, widths, token mixers, pos_emb) must have the same non-zero length";
    for (size_t i = 0; i < n; ++i) {
        if (v.depths[i] < 1) return "stage " + std::to_string(i) + " has no blocks";
        if (v.widths[i] < 1) return "stage " + std::to_string(i) + " has width " + std::to_string(v.widths[i]);
        if (i > 0 && v.widths[i] % v.widths[i - 1] != 0)
            return "stage " + std::to_string(i) + " width " + std::to_string(v.widths[i]) +
                   " is not a multiple of the previous width " + std::to_string(v.widths[i - 1]) +
                   " (the downsample is a grouped conv)";
        if (v.attention[i] && (v.head_dim < 1 || v.widths[i] % v.head_dim != 0))
            return "attention stage " + std::to_string(i) + " width " + std::to_string(v.widths[i]) +
                   " is not a multiple of the head size " + std::to_string(v.head_dim);
    }
    if (v.out_channels < 1 || v.out_channels % v.widths.back() != 0)
        return "conv_exp output width " + std::to_string(v.out_channels) + " is not a multiple of the last stage width " +
               std::to_string(v.widths.back());
    if (v.se_channels < 1) return "squeeze-excite width " + std::to_string(v.se_channels) + " is not positive";
    if (v.mlp_ratio < 1) return "mlp ratio " + std::to_string(v.mlp_ratio) + " is not positive";
    return "";
}

}  // namespace fastvlm
