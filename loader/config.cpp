// config.json -> ModelConfig, for both FastVLM layouts.
//
//   llava_qwen2 (apple/FastVLM-0.5B): flat Qwen2 fields plus mm_* fields at the top level.
//   fast_vlm (transformers FastVlmConfig): text_config (Qwen2), vision_config (timm_wrapper
//     around fastvit_mci3), projector fields at the top level.
//
// The vision tower's depths and widths are not in the llava_qwen2 config at all; ModelFiles
// infers them from the tensors. Here they keep the FastViTHD defaults unless a fast_vlm
// config overrides them through vision_config.model_args (as timm.create_model would).
#include "loader/config.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "loader/tensor_names.h"
#include "runtime/error.h"

namespace fastvlm {

using json = nlohmann::json;

namespace {

constexpr size_t kMaxConfigBytes = 16u << 20;

// Offset of the first byte that is not part of well-formed UTF-8, or npos.
size_t find_invalid_utf8(const std::string& s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t n = s.size(), i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) { ++i; continue; }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
        else return i;
        if (i + len > n) return i;
        for (size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;  // overlong, out of range or a surrogate
        i += len;
    }
    return std::string::npos;
}

// Keeps an error message on one printable line.
std::string printable(const std::string& s) {
    std::string out;
    for (unsigned char c : s) out += (c >= 0x20 && c < 0x7F) ? char(c) : '?';
    return out;
}

// One JSON object of the config with the dotted path that leads to it ("text_config."),
// so that every error names the file and the full field name.
class Fields {
public:
    Fields(const json& object, const std::string& file, const std::string& prefix)
        : object_(object), file_(file), prefix_(prefix) {}

    bool has(const char* key) const { return find(key) != nullptr; }

    // nullptr when absent or null (transformers writes null for "not set").
    const json* find(const char* key) const {
        auto it = object_.find(key);
        if (it == object_.end() || it->is_null()) return nullptr;
        return &*it;
    }

    const json& require(const char* key) const {
        const json* v = find(key);
        if (!v) fail(file_, "missing required field '", name(key), "'");
        return *v;
    }

    [[noreturn]] void bad(const char* key, const std::string& problem) const {
        fail(file_, "field '", name(key), "' ", problem);
    }

    int64_t integer(const json& v, const char* key, int64_t lo, int64_t hi) const {
        if (!v.is_number_integer())
            bad(key, "must be an integer, got " + describe(v));
        if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
            bad(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + v.dump());
        int64_t x = v.get<int64_t>();
        if (x < lo || x > hi)
            bad(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                         std::to_string(x));
        return x;
    }
    int get_int(const char* key, int64_t lo, int64_t hi) const {
        return int(integer(require(key), key, lo, hi));
    }
    int get_int(const char* key, int64_t lo, int64_t hi, int fallback) const {
        const json* v = find(key);
        return v ? int(integer(*v, key, lo, hi)) : fallback;
    }

    // A positive finite number (integers accepted: "rope_theta": 1000000).
    float get_positive(const char* key, float fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_number()) bad(key, "must be a number, got " + describe(*v));
        double x = v->get<double>();
        if (!std::isfinite(x) || x <= 0 || x > 1e30)
            bad(key, "must be a positive finite number, got " + v->dump());
        return float(x);
    }

    bool get_bool(const char* key, bool fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_boolean()) bad(key, "must be true or false, got " + describe(*v));
        return v->get<bool>();
    }

    std::string get_string(const char* key, const std::string& fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_string()) bad(key, "must be a string, got " + describe(*v));
        return v->get<std::string>();
    }
    std::string require_string(const char* key) const {
        require(key);
        return get_string(key, "");
    }

    // A nested object; `required` decides between an error and nullopt-like empty result.
    const json* object(const char* key, bool required) const {
        const json* v = required ? &require(key) : find(key);
        if (v && !v->is_object()) bad(key, "must be an object, got " + describe(*v));
        return v;
    }
    Fields nested(const json& v, const char* key) const { return Fields(v, file_, name(key) + "."); }

    // A list of integers, each in [lo, hi].
    std::vector<int> int_list(const json& v, const char* key, int64_t lo, int64_t hi, size_t max_len) const {
        if (!v.is_array()) bad(key, "must be a list of integers, got " + describe(v));
        if (v.empty() || v.size() > max_len)
            bad(key, "must hold 1 to " + std::to_string(max_len) + " entries, got " + std::to_string(v.size()));
        std::vector<int> out;
        for (size_t i = 0; i < v.size(); ++i) {
            std::string element = std::string(key) + "[" + std::to_string(i) + "]";
            out.push_back(int(integer(v[i], element.c_str(), lo, hi)));
        }
        return out;
    }

    std::string name(const char* key) const { return prefix_ + key; }
    const std::string& file() const { return file_; }

    static std::string describe(const json& v) {
        std::string text = v.dump();
        if (text.size() > 40) text = text.substr(0, 37) + "...";
        return std::string(v.type_name()) + " " + printable(text);
    }

private:
    const json& object_;
    const std::string& file_;
    std::string prefix_;
};

// Bounds that keep every product of sizes far from overflow and reject nonsense.
constexpr int64_t kMaxHidden = 1 << 16, kMaxLayers = 1024, kMaxHeads = 4096, kMaxIntermediate = 1 << 20;
constexpr int64_t kMaxVocab = 1 << 24, kMaxPositions = 1 << 24, kMaxHeadDim = 4096;
constexpr int64_t kMaxStages = 8, kMaxDepth = 1024, kMaxWidth = 1 << 16, kMaxImage = 16384;

// The Qwen2 fields (flat in llava_qwen2, under text_config in fast_vlm).
TextConfig parse_qwen2(const Fields& f) {
    TextConfig t;
    t.hidden = f.get_int("hidden_size", 1, kMaxHidden);
    t.layers = f.get_int("num_hidden_layers", 1, kMaxLayers);
    t.heads = f.get_int("num_attention_heads", 1, kMaxHeads);
    t.kv_heads = f.get_int("num_key_value_heads", 1, kMaxHeads, t.heads);
    t.intermediate = f.get_int("intermediate_size", 1, kMaxIntermediate);
    t.vocab = f.get_int("vocab_size", 1, kMaxVocab);
    t.max_positions = f.get_int("max_position_embeddings", 1, kMaxPositions, 32768);
    t.rms_eps = f.get_positive("rms_norm_eps", 1e-6f);
    t.tie_word_embeddings = f.get_bool("tie_word_embeddings", false);

    if (f.has("head_dim")) {
        t.head_dim = f.get_int("head_dim", 1, kMaxHeadDim);
    } else {
        if (t.hidden % t.heads != 0)
            fail(f.file(), "field '", f.name("num_attention_heads"), "' (", t.heads, ") does not divide '",
                 f.name("hidden_size"), "' (", t.hidden, ")");
        t.head_dim = t.hidden / t.heads;
    }
    if (t.head_dim % 2 != 0)
        fail(f.file(), "field '", f.name("head_dim"), "': head_dim ", t.head_dim, " is odd (rotary embedding needs pairs)");
    if (t.heads % t.kv_heads != 0)
        fail(f.file(), "field '", f.name("num_key_value_heads"), "' (", t.kv_heads, ") does not divide '",
             f.name("num_attention_heads"), "' (", t.heads, ")");

    std::string act = f.get_string("hidden_act", "silu");
    if (act != "silu") f.bad("hidden_act", "must be \"silu\" (Qwen2 SwiGLU), got \"" + printable(act) + "\"");
    if (f.get_bool("use_sliding_window", false))
        f.bad("use_sliding_window", "is true: sliding-window attention is not supported");

    // rope_theta: top level (transformers 4.x) or rope_parameters.rope_theta (5.x).
    t.rope_theta = f.get_positive("rope_theta", 10000.0f);
    if (const json* rp = f.object("rope_parameters", false)) {
        Fields rope = f.nested(*rp, "rope_parameters");
        t.rope_theta = rope.get_positive("rope_theta", t.rope_theta);
        std::string type = rope.get_string("rope_type", "default");
        if (type != "default") rope.bad("rope_type", "must be \"default\", got \"" + printable(type) + "\"");
    }
    if (const json* rs = f.find("rope_scaling")) {
        if (!rs->is_object()) f.bad("rope_scaling", "must be an object or null, got " + Fields::describe(*rs));
        Fields scaling = f.nested(*rs, "rope_scaling");
        std::string type = scaling.get_string("rope_type", scaling.get_string("type", "default"));
        if (type != "default") scaling.bad("rope_type", "must be \"default\", got \"" + printable(type) + "\"");
    }

    // eos_token_id: one id or a list of ids; absent or null gives an empty list.
    t.eos_token_ids.clear();
    if (const json* eos = f.find("eos_token_id")) {
        if (eos->is_array()) t.eos_token_ids = f.int_list(*eos, "eos_token_id", 0, t.vocab - 1, 64);
        else t.eos_token_ids.push_back(int(f.integer(*eos, "eos_token_id", 0, t.vocab - 1)));
    }
    return t;
}

// "mobileclip_l_1024" -> 1024 (the tower name carries the input size); fallback otherwise.
int image_size_from_tower_name(const std::string& tower, int fallback) {
    size_t us = tower.rfind('_');
    if (us == std::string::npos || us + 1 >= tower.size() || tower.size() - us > 6) return fallback;
    int size = 0;
    for (size_t i = us + 1; i < tower.size(); ++i) {
        if (tower[i] < '0' || tower[i] > '9') return fallback;
        size = size * 10 + (tower[i] - '0');
    }
    return size;
}

// Squeeze-excite bottleneck of conv_exp: timm SqueezeExcite(rd_ratio=1/16, rd_divisor=1).
int se_channels_for(int out_channels) { return std::max(1, int(std::lround(out_channels / 16.0))); }

void check_image_size(const Fields& f, const char* key, const VisionConfig& v) {
    int stride = vision_stride(v);
    if (v.image_size <= 0 || v.image_size > kMaxImage || v.image_size % stride != 0)
        f.bad(key, "gives image size " + std::to_string(v.image_size) + ", which must be a positive multiple of " +
                       std::to_string(stride) + " up to " + std::to_string(kMaxImage));
}

ModelConfig parse_llava_qwen2(const Fields& f) {
    ModelConfig c;
    c.layout = CheckpointLayout::LlavaQwen2;
    c.text = parse_qwen2(f);
    c.mm_hidden = f.get_int("mm_hidden_size", 1, kMaxWidth);
    c.projector_type = f.get_string("mm_projector_type", "mlp2x_gelu");
    if (c.projector_type != "mlp2x_gelu")
        f.bad("mm_projector_type", "must be \"mlp2x_gelu\", got \"" + printable(c.projector_type) + "\"");
    std::string tower = f.get_string("mm_vision_tower", "mobileclip_l_1024");
    c.vision.image_size = image_size_from_tower_name(tower, 1024);
    check_image_size(f, "mm_vision_tower", c.vision);
    c.vision.out_channels = c.mm_hidden;
    c.vision.se_channels = se_channels_for(c.mm_hidden);
    // The reference (llava) path marks the image with IMAGE_TOKEN_INDEX = -200 whatever
    // image_token_index the export scripts may have added to config.json.
    c.image_token_index = -200;
    return c;
}

ModelConfig parse_fast_vlm(const Fields& f) {
    ModelConfig c;
    c.layout = CheckpointLayout::FastVlm;

    const json& text_json = *f.object("text_config", true);
    Fields text = f.nested(text_json, "text_config");
    std::string text_type = text.get_string("model_type", "qwen2");
    if (text_type != "qwen2") text.bad("model_type", "must be \"qwen2\", got \"" + printable(text_type) + "\"");
    c.text = parse_qwen2(text);
    // FastVlmConfig.__post_init__: the top-level flag, or the text config's when that one is set.
    c.text.tie_word_embeddings = f.get_bool("tie_word_embeddings", false) || c.text.tie_word_embeddings;
    if (c.text.eos_token_ids.empty() && f.has("eos_token_id")) {
        const json& eos = f.require("eos_token_id");
        if (eos.is_array()) c.text.eos_token_ids = f.int_list(eos, "eos_token_id", 0, c.text.vocab - 1, 64);
        else c.text.eos_token_ids.push_back(int(f.integer(eos, "eos_token_id", 0, c.text.vocab - 1)));
    }

    const json& vision_json = *f.object("vision_config", true);
    Fields vision = f.nested(vision_json, "vision_config");
    std::string vision_type = vision.get_string("model_type", "timm_wrapper");
    if (vision_type != "timm_wrapper")
        vision.bad("model_type", "must be \"timm_wrapper\", got \"" + printable(vision_type) + "\"");
    std::string arch = vision.require_string("architecture");
    if (arch != "fastvit_mci3")
        vision.bad("architecture", "must be \"fastvit_mci3\" (FastViTHD), got \"" + printable(arch) + "\"");
    c.mm_hidden = vision.get_int("hidden_size", 1, kMaxWidth);
    c.vision.out_channels = c.mm_hidden;
    c.vision.se_channels = se_channels_for(c.mm_hidden);

    // timm.create_model(architecture, **model_args): the stage shape may be overridden there.
    if (const json* args_json = vision.object("model_args", false)) {
        Fields args = vision.nested(*args_json, "model_args");
        size_t stages = c.vision.depths.size();
        if (const json* layers = args.find("layers")) {
            c.vision.depths = args.int_list(*layers, "layers", 1, kMaxDepth, kMaxStages);
            stages = c.vision.depths.size();
        }
        if (const json* dims = args.find("embed_dims"))
            c.vision.widths = args.int_list(*dims, "embed_dims", 1, kMaxWidth, kMaxStages);
        if (c.vision.widths.size() != stages)
            args.bad("embed_dims", "has " + std::to_string(c.vision.widths.size()) + " entries but layers has " +
                                        std::to_string(stages));
        if (const json* ratios = args.find("mlp_ratios")) {
            std::vector<int> r = args.int_list(*ratios, "mlp_ratios", 1, 64, kMaxStages);
            for (int x : r)
                if (x != r[0]) args.bad("mlp_ratios", "must be equal for every stage");
            c.vision.mlp_ratio = r[0];
        }
        if (const json* mixers = args.find("token_mixers")) {
            if (!mixers->is_array() || mixers->size() != stages)
                args.bad("token_mixers", "must be a list of " + std::to_string(stages) + " strings");
            c.vision.attention.clear();
            for (const json& m : *mixers) {
                std::string s = m.is_string() ? m.get<std::string>() : "";
                if (s != "repmixer" && s != "attention")
                    args.bad("token_mixers", "entries must be \"repmixer\" or \"attention\", got " + Fields::describe(m));
                c.vision.attention.push_back(s == "attention");
            }
        } else if (stages != c.vision.attention.size()) {
            args.bad("layers", "has " + std::to_string(stages) + " stages; token_mixers must then be given too");
        }
    }
    // fastvit_mci3: RepCPE before exactly the attention stages.
    c.vision.pos_emb = c.vision.attention;
    std::string problem = vision_shape_problem(c.vision);
    if (!problem.empty()) vision.bad("model_args", "describe an unusable tower: " + problem);

    // The processor inserts image_seq_length placeholders, one per vision output token.
    int seq = f.get_int("image_seq_length", 1, 1 << 20, 576);
    int side = int(std::lround(std::sqrt(double(seq))));
    if (side * side != seq) f.bad("image_seq_length", "must be a square number of tokens, got " + std::to_string(seq));
    c.vision.image_size = side * vision_stride(c.vision);
    check_image_size(f, "image_seq_length", c.vision);

    std::string act = f.get_string("projector_hidden_act", "gelu");
    if (act != "gelu") f.bad("projector_hidden_act", "must be \"gelu\", got \"" + printable(act) + "\"");
    if (!f.get_bool("multimodal_projector_bias", true))
        f.bad("multimodal_projector_bias", "is false: a projector without biases is not supported");
    if (const json* layer = f.find("vision_feature_layer"))
        if (!layer->is_number_integer() || layer->get<int64_t>() != -1)
            f.bad("vision_feature_layer", "must be -1, got " + Fields::describe(*layer));
    std::string strategy = f.get_string("vision_feature_select_strategy", "full");
    if (strategy != "full")
        f.bad("vision_feature_select_strategy", "must be \"full\", got \"" + printable(strategy) + "\"");
    c.projector_type = "mlp2x_gelu";
    c.image_token_index = f.get_int("image_token_index", 0, c.text.vocab - 1, 151646);
    return c;
}

}  // namespace

const char* layout_name(CheckpointLayout layout) {
    return layout == CheckpointLayout::FastVlm ? "fast_vlm" : "llava_qwen2";
}

int vision_stride(const VisionConfig& vision) {
    int stages = int(vision.depths.size());
    return stages < 1 ? 4 : 4 << (stages - 1);
}

int vision_tokens(const VisionConfig& vision) {
    int side = vision.image_size / vision_stride(vision);
    return side * side;
}

ModelConfig parse_config(const std::string& text, const std::string& where) {
    if (text.size() > kMaxConfigBytes) fail(where, "config is ", text.size(), " bytes, more than a config.json can be");
    size_t bad = find_invalid_utf8(text);
    if (bad != std::string::npos) fail(where, "not valid UTF-8 (byte ", bad, ")");

    json root;
    try {
        root = json::parse(text);
    } catch (const json::parse_error& e) {
        // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
        std::string what = e.what();
        size_t pos = what.find("] ");
        fail(where, "malformed JSON: ", printable(pos == std::string::npos ? what : what.substr(pos + 2)));
    } catch (const json::exception& e) {
        fail(where, "malformed JSON: ", printable(e.what()));
    }
    if (!root.is_object()) fail(where, "top level must be a JSON object, got ", root.type_name());

    try {
        Fields top(root, where, "");
        std::string type = top.require_string("model_type");
        if (type == "llava_qwen2") return parse_llava_qwen2(top);
        if (type == "fast_vlm") return parse_fast_vlm(top);
        top.bad("model_type", "is \"" + printable(type) + "\": expected \"llava_qwen2\" or \"fast_vlm\"");
    } catch (const json::exception& e) {
        fail(where, "unreadable field: ", printable(e.what()));  // defensive: any nlohmann accessor error
    }
}

ModelConfig load_config(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) fail(path, "cannot open config.json (no such file)");
    if (!S_ISREG(st.st_mode)) fail(path, "config.json is not a regular file");
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, "cannot open config.json");
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (in.bad()) fail(path, "read error");
    return parse_config(bytes.str(), path);
}

}  // namespace fastvlm
