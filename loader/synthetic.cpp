// Synthetic checkpoints: model description, generator, streaming safetensors writer,
// config.json and a small byte-level BPE tokenizer.json.
#include "loader/synthetic.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "loader/tensor_names.h"
#include "runtime/error.h"
#include "runtime/half.h"

namespace fastvlm {

// ------------------------------------------------------------------ generator

uint64_t fnv1a64(const std::string& bytes) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t splitmix64(uint64_t x) {
    uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

namespace {

bool ends_with(const std::string& s, const char* suffix) {
    size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// value = offset + scale * v, the product rounded to fp32 first (no fused multiply-add).
struct ValueRule {
    bool zero = false;
    bool has_offset = false;
    float scale = 1.0f;
    float offset = 0.0f;
};

ValueRule rule_for(const std::string& name, const std::vector<int64_t>& shape) {
    ValueRule r;
    auto affine = [&](float scale, float offset) {
        r.scale = scale;
        r.offset = offset;
        r.has_offset = true;
        return r;
    };
    if (ends_with(name, "num_batches_tracked")) { r.zero = true; return r; }
    if (ends_with(name, "running_var")) return affine(0.25f, 0.75f);
    if (ends_with(name, "running_mean")) { r.scale = 0.1f; return r; }
    if (ends_with(name, "layernorm.weight") || ends_with(name, "norm.weight") || ends_with(name, ".bn.weight"))
        return affine(0.1f, 1.0f);
    if (name.find("layer_scale") != std::string::npos) return affine(0.5f, 0.5f);
    if (ends_with(name, ".bias")) { r.scale = 0.1f; return r; }
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    int64_t fan_in = (shape.size() < 2 || shape[0] <= 0) ? 1 : numel / shape[0];
    r.scale = std::sqrt(3.0f / float(fan_in));
    return r;
}

inline float uniform_pm1(uint64_t r) { return float(r >> 40) * (1.0f / 8388608.0f) - 1.0f; }

}  // namespace

void synthetic_values(const std::string& name, const std::vector<int64_t>& shape, uint64_t seed, uint64_t first,
                      size_t count, float* out) {
    const ValueRule rule = rule_for(name, shape);
    const uint64_t base = fnv1a64(name) + seed + first;
    if (rule.zero) {
        std::fill(out, out + count, 0.0f);
    } else if (rule.has_offset) {
        for (size_t k = 0; k < count; ++k) {
            volatile float product = uniform_pm1(splitmix64(base + k)) * rule.scale;  // volatile: no FMA
            out[k] = rule.offset + product;
        }
    } else {
        for (size_t k = 0; k < count; ++k) out[k] = uniform_pm1(splitmix64(base + k)) * rule.scale;
    }
}

float synthetic_value(const std::string& name, const std::vector<int64_t>& shape, uint64_t seed, uint64_t i) {
    float v;
    synthetic_values(name, shape, seed, i, 1, &v);
    return v;
}

// ------------------------------------------------------------------ model descriptions

ModelConfig synthetic_model_config(SyntheticSize size, CheckpointLayout layout) {
    ModelConfig c;  // the defaults are FastVLM-0.5B (FastViTHD, Qwen2-0.5B)
    c.layout = layout;
    c.text.eos_token_ids.clear();
    c.image_token_index = layout == CheckpointLayout::FastVlm ? 0 : -200;  // fast_vlm: set from the tokenizer
    if (size == SyntheticSize::Tiny) {
        c.vision.image_size = 256;                // 4 x 4 = 16 image tokens
        c.vision.depths = {2, 1, 1, 2, 1};
        c.vision.widths = {8, 16, 32, 64, 128};   // attention stages: 2 and 4 heads of 32
        c.vision.out_channels = 256;
        c.vision.se_channels = 16;
        c.mm_hidden = 256;
        c.text.hidden = 64;
        c.text.layers = 2;
        c.text.heads = 4;
        c.text.kv_heads = 2;                      // GQA: 2 query heads per kv head
        c.text.head_dim = 16;
        c.text.intermediate = 128;
        c.text.vocab = 512;
        c.text.max_positions = 2048;
    }
    return c;
}

// ------------------------------------------------------------------ tokenizer

namespace {

// English text the merges are learned from (fixed: the merges are part of the fixtures).
const char* const kTrainingText =
    "You are a helpful assistant. Describe the image. What is in the picture? "
    "The image shows a small red house on a green hill under a blue sky, with a few white clouds. "
    "In front of the house there is a wooden fence and a path that leads to the door. "
    "A dog is sitting on the grass next to the path, and two children are playing with a ball. "
    "The sun is shining and the light is warm. There are trees on the left and the right of the house. "
    "Describe the image in detail. The picture was taken in the summer, in the afternoon. "
    "What color is the door? The door is yellow and the windows are open. "
    "How many people are in the image? There are two children and one adult in the image. "
    "The adult is standing near the door and is looking at the children. "
    "This is a photo of a city street at night. The street is wet from the rain and the lights of the "
    "shops are reflected on the ground. A man with an umbrella is walking on the sidewalk. "
    "There is a red car parked on the side of the street and a bus in the distance. "
    "The text on the sign says that the store is open from nine to five. "
    "Answer the question about the image. The cat is sleeping on the sofa in the living room. "
    "The room has a large window, a table with books and a lamp, and a plant in the corner. "
    "The model reads the image and writes a short answer in English. "
    "It counts 3 apples, 12 oranges and 2024 grapes on the table.\n"
    "The quick brown fox jumps over the lazy dog. The weather is nice today, and the people are happy.\n";

bool is_letter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_newline(unsigned char c) { return c == '\n' || c == '\r'; }
bool is_space(unsigned char c) { return c == ' ' || c == '\t' || is_newline(c); }

// A simple ASCII version of Qwen2's split pattern, good enough to learn merges from.
std::vector<std::string> split_for_training(const std::string& text) {
    std::vector<std::string> pieces;
    size_t i = 0, n = text.size();
    auto letters_from = [&](size_t j) {
        while (j < n && is_letter(text[j])) ++j;
        return j;
    };
    while (i < n) {
        unsigned char c = text[i];
        size_t j = i + 1;
        if (is_letter(c)) {
            j = letters_from(i);
        } else if (!is_digit(c) && !is_newline(c) && i + 1 < n && is_letter(text[i + 1])) {
            j = letters_from(i + 1);  // " word", "\"word"
        } else if (is_digit(c)) {
            j = i + 1;
        } else if (!is_space(c) || (c == ' ' && i + 1 < n && !is_space(text[i + 1]) && !is_digit(text[i + 1]))) {
            j = c == ' ' ? i + 1 : i;  // " ?[punct]+[\r\n]*"
            while (j < n && !is_space(text[j]) && !is_letter(text[j]) && !is_digit(text[j])) ++j;
            while (j < n && is_newline(text[j])) ++j;
            if (j == i) j = i + 1;
        } else {
            while (j < n && is_space(text[j])) ++j;
        }
        pieces.push_back(text.substr(i, j - i));
        i = j;
    }
    return pieces;
}

// GPT-2 bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100...
// Returns the 256 bytes in vocabulary order and each byte's UTF-8 spelling.
void byte_level_alphabet(std::vector<int>* order, std::vector<std::string>* spelling) {
    std::vector<int> bs;
    for (int b = 0x21; b <= 0x7E; ++b) bs.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
    std::vector<int> cs = bs;
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
        if (std::find(bs.begin(), bs.end(), b) != bs.end()) continue;
        bs.push_back(b);
        cs.push_back(256 + extra++);
    }
    spelling->assign(256, "");
    for (size_t k = 0; k < bs.size(); ++k) {
        int cp = cs[k];
        std::string utf8;
        if (cp < 0x80) utf8 += char(cp);
        else { utf8 += char(0xC0 | (cp >> 6)); utf8 += char(0x80 | (cp & 0x3F)); }
        (*spelling)[bs[k]] = utf8;
    }
    *order = bs;
}

}  // namespace

std::string synthetic_tokenizer_json(int max_vocab, bool with_image_token) {
    std::vector<std::string> added = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    if (with_image_token) added.push_back("<image>");
    if (max_vocab < 256 + int(added.size()))
        fail("tokenizer.json", "vocabulary of ", max_vocab, " ids is too small for 256 byte tokens and ",
             added.size(), " special tokens");

    std::vector<int> byte_order;
    std::vector<std::string> spelling;
    byte_level_alphabet(&byte_order, &spelling);

    // Tokens as raw byte strings; ids 0..255 are the bytes in GPT-2 order.
    std::vector<std::string> tokens;
    std::map<std::string, int> token_id;
    for (int b : byte_order) {
        token_id[std::string(1, char(b))] = int(tokens.size());
        tokens.push_back(std::string(1, char(b)));
    }

    std::map<std::string, int> piece_counts;
    for (const std::string& piece : split_for_training(kTrainingText)) ++piece_counts[piece];
    std::vector<std::pair<std::vector<int>, int>> words;  // token ids, count
    for (const auto& [piece, count] : piece_counts) {
        std::vector<int> ids;
        for (char ch : piece) ids.push_back(token_id[std::string(1, ch)]);
        words.push_back({ids, count});
    }

    // Greedy BPE training: merge the most frequent adjacent pair (ties: smallest bytes),
    // until the vocabulary budget is spent or every piece is a single token.
    std::vector<std::pair<int, int>> merges;
    const int max_merges = std::min(2000, max_vocab - 256 - int(added.size()));
    while (int(merges.size()) < max_merges) {
        std::map<std::pair<int, int>, long> pair_counts;
        for (const auto& [ids, count] : words)
            for (size_t k = 0; k + 1 < ids.size(); ++k) pair_counts[{ids[k], ids[k + 1]}] += count;
        const std::pair<int, int>* best = nullptr;
        long best_count = 0;
        for (const auto& [pair, count] : pair_counts) {
            bool better = count > best_count ||
                          (count == best_count && best &&
                           std::make_pair(tokens[pair.first], tokens[pair.second]) <
                               std::make_pair(tokens[best->first], tokens[best->second]));
            if (better) { best = &pair; best_count = count; }
        }
        if (!best) break;  // every piece is one token
        const std::pair<int, int> merge = *best;
        std::string joined = tokens[merge.first] + tokens[merge.second];
        int id;
        auto found = token_id.find(joined);
        if (found != token_id.end()) {
            id = found->second;
        } else {
            id = int(tokens.size());
            tokens.push_back(joined);
            token_id[joined] = id;
        }
        merges.push_back(merge);
        for (auto& [ids, count] : words) {
            std::vector<int> next;
            for (size_t k = 0; k < ids.size(); ++k) {
                if (k + 1 < ids.size() && ids[k] == merge.first && ids[k + 1] == merge.second) {
                    next.push_back(id);
                    ++k;
                } else {
                    next.push_back(ids[k]);
                }
            }
            ids = std::move(next);
        }
    }

    auto spell = [&](const std::string& raw) {
        std::string out;
        for (unsigned char ch : raw) out += spelling[ch];
        return out;
    };
    using ojson = nlohmann::ordered_json;
    ojson added_json = ojson::array();
    for (size_t k = 0; k < added.size(); ++k)
        added_json.push_back({{"id", int(tokens.size() + k)}, {"content", added[k]}, {"single_word", false},
                              {"lstrip", false}, {"rstrip", false}, {"normalized", false}, {"special", true}});
    ojson vocab = ojson::object();
    for (size_t id = 0; id < tokens.size(); ++id) vocab[spell(tokens[id])] = id;
    ojson merges_json = ojson::array();
    for (const auto& [a, b] : merges) merges_json.push_back(spell(tokens[a]) + " " + spell(tokens[b]));
    const ojson byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false},
                              {"use_regex", false}};
    ojson doc = {
        {"version", "1.0"},
        {"truncation", nullptr},
        {"padding", nullptr},
        {"added_tokens", added_json},
        {"normalizer", {{"type", "NFC"}}},
        {"pre_tokenizer",
         {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"},
             {"pattern",
              {{"Regex",
                "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}}},
             {"behavior", "Isolated"},
             {"invert", false}},
            byte_level}}}},
        {"post_processor", byte_level},
        {"decoder", byte_level},
        {"model",
         {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
          {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
          {"vocab", vocab}, {"merges", merges_json}}},
    };
    return doc.dump(2, ' ', false) + "\n";
}

// ------------------------------------------------------------------ files

namespace {

using ojson = nlohmann::ordered_json;

void make_dirs(const std::string& dir) {
    for (size_t pos = 1; pos <= dir.size(); ++pos) {
        if (pos < dir.size() && dir[pos] != '/') continue;
        std::string part = dir.substr(0, pos);
        if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) fail(part, "cannot create directory: ", std::strerror(errno));
    }
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) fail(dir, "not a directory");
}

void write_text(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) fail(path, "cannot create: ", std::strerror(errno));
    size_t written = std::fwrite(text.data(), 1, text.size(), f);
    if (std::fclose(f) != 0 || written != text.size()) fail(path, "write failed");
}

const char* torch_dtype_name(DType t) {
    return t == DType::F32 ? "float32" : t == DType::BF16 ? "bfloat16" : "float16";
}

// Ids of the special tokens in the synthetic tokenizer: right after the regular vocabulary.
struct SpecialIds {
    int endoftext = 0, im_start = 0, im_end = 0, image = -1;
};
SpecialIds special_ids(const std::string& tokenizer_json) {
    nlohmann::json doc = nlohmann::json::parse(tokenizer_json);
    SpecialIds ids;
    for (const auto& t : doc["added_tokens"]) {
        std::string content = t["content"];
        int id = t["id"];
        if (content == "<|endoftext|>") ids.endoftext = id;
        if (content == "<|im_start|>") ids.im_start = id;
        if (content == "<|im_end|>") ids.im_end = id;
        if (content == "<image>") ids.image = id;
    }
    return ids;
}

ojson llava_config_json(const ModelConfig& c, const SyntheticOptions& o, const SpecialIds& ids) {
    const TextConfig& t = c.text;
    return ojson{
        {"architectures", {"LlavaQwen2ForCausalLM"}},
        {"model_type", "llava_qwen2"},
        {"hidden_size", t.hidden},
        {"num_hidden_layers", t.layers},
        {"num_attention_heads", t.heads},
        {"num_key_value_heads", t.kv_heads},
        {"intermediate_size", t.intermediate},
        {"hidden_act", "silu"},
        {"vocab_size", t.vocab},
        {"max_position_embeddings", t.max_positions},
        {"rms_norm_eps", 1e-6},
        {"rope_theta", 1000000.0},
        {"sliding_window", t.max_positions},
        {"use_sliding_window", false},
        {"max_window_layers", t.layers},
        {"attention_dropout", 0.0},
        {"bos_token_id", ids.endoftext},
        {"eos_token_id", ids.im_end},
        {"torch_dtype", torch_dtype_name(o.dtype)},
        {"transformers_version", "4.39.3"},
        {"tie_word_embeddings", o.tied},
        {"mm_vision_tower", "mobileclip_l_" + std::to_string(c.vision.image_size)},
        {"mm_hidden_size", c.mm_hidden},
        {"mm_projector_type", "mlp2x_gelu"},
        {"mm_vision_select_layer", -2},
        {"mm_vision_select_feature", "patch"},
        {"mm_patch_merge_type", "flat"},
        {"mm_use_im_start_end", false},
        {"mm_use_im_patch_token", false},
        {"image_aspect_ratio", "pad"},
        {"image_grid_pinpoints", nullptr},
        {"tokenizer_model_max_length", 8192},
        {"tokenizer_padding_side", "right"},
        {"unfreeze_mm_vision_tower", true},
        {"use_mm_proj", true},
        {"tune_mm_mlp_adapter", false},
        {"freeze_mm_mlp_adapter", false},
        {"use_cache", true},
    };
}

// The shape transformers' FastVlmConfig.to_json_string() gives (fields it does not need omitted).
ojson fast_vlm_config_json(const ModelConfig& c, const SyntheticOptions& o, const SpecialIds& ids, bool tiny) {
    const TextConfig& t = c.text;
    ojson model_args = {{"inference_mode", true}};
    if (tiny) {
        model_args["layers"] = c.vision.depths;
        model_args["embed_dims"] = c.vision.widths;
    }
    return ojson{
        {"architectures", {"FastVlmForConditionalGeneration"}},
        {"image_seq_length", vision_tokens(c.vision)},
        {"image_token_index", ids.image},
        {"model_type", "fast_vlm"},
        {"multimodal_projector_bias", true},
        {"projector_hidden_act", "gelu"},
        {"text_config",
         {{"attention_dropout", 0.0},
          {"bos_token_id", ids.endoftext},
          {"eos_token_id", ids.im_end},
          {"hidden_act", "silu"},
          {"hidden_size", t.hidden},
          {"intermediate_size", t.intermediate},
          {"max_position_embeddings", t.max_positions},
          {"max_window_layers", t.layers},
          {"model_type", "qwen2"},
          {"num_attention_heads", t.heads},
          {"num_hidden_layers", t.layers},
          {"num_key_value_heads", t.kv_heads},
          {"rms_norm_eps", 1e-6},
          {"rope_parameters", {{"rope_theta", 1000000.0}, {"rope_type", "default"}}},
          {"sliding_window", nullptr},
          {"tie_word_embeddings", o.tied},
          {"use_cache", true},
          {"use_sliding_window", false},
          {"vocab_size", t.vocab}}},
        {"tie_word_embeddings", o.tied},
        {"dtype", torch_dtype_name(o.dtype)},
        {"transformers_version", "5.24.0"},
        {"vision_config",
         {{"architecture", "fastvit_mci3"},
          {"do_pooling", true},
          {"global_pool", "avg"},
          {"hidden_size", c.vision.out_channels},
          {"initializer_range", 0.02},
          {"model_args", model_args},
          {"model_type", "timm_wrapper"}}},
        {"vision_feature_layer", -1},
        {"vision_feature_select_strategy", "full"},
    };
}

// One tensor of the plan: what to generate and where it goes in its shard.
struct PlannedTensor {
    const ExpectedTensor* spec;
    DType dtype;
    uint64_t nbytes;
    int shard;
};

// Streams one safetensors file: header first (offsets known from the plan), then each
// tensor generated in chunks, so at most one chunk is in memory.
void write_shard(const std::string& path, const std::vector<const PlannedTensor*>& tensors, uint64_t seed) {
    ojson header = ojson::object();
    header["__metadata__"] = {{"format", "pt"}};
    uint64_t offset = 0;
    for (const PlannedTensor* p : tensors) {
        header[p->spec->stored] = {{"dtype", dtype_name(p->dtype)},
                                   {"shape", p->spec->shape},
                                   {"data_offsets", {offset, offset + p->nbytes}}};
        offset += p->nbytes;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // 8-byte aligned data section

    std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!file) fail(path, "cannot create: ", std::strerror(errno));
    auto put = [&](const void* data, size_t n) {
        if (std::fwrite(data, 1, n, file.get()) != n) fail(path, "write failed: ", std::strerror(errno));
    };
    uint8_t len[8];
    for (int k = 0; k < 8; ++k) len[k] = uint8_t(uint64_t(text.size()) >> (8 * k));
    put(len, 8);
    put(text.data(), text.size());

    constexpr size_t kChunk = 1 << 20;
    std::vector<float> values(kChunk);
    std::vector<uint8_t> bytes(kChunk * 4);
    for (const PlannedTensor* p : tensors) {
        if (p->dtype == DType::I64) {  // num_batches_tracked: 0
            std::vector<uint8_t> zero(p->nbytes, 0);
            put(zero.data(), zero.size());
            continue;
        }
        const size_t elem = dtype_size(p->dtype);
        const uint64_t numel = p->nbytes / elem;
        for (uint64_t first = 0; first < numel; first += kChunk) {
            size_t count = size_t(std::min<uint64_t>(kChunk, numel - first));
            synthetic_values(p->spec->canonical, p->spec->shape, seed, first, count, values.data());
            uint8_t* out = bytes.data();
            for (size_t k = 0; k < count; ++k) {
                if (p->dtype == DType::F32) {
                    uint32_t u = float_to_bits(values[k]);
                    for (int b = 0; b < 4; ++b) *out++ = uint8_t(u >> (8 * b));
                } else {
                    uint16_t h = p->dtype == DType::F16 ? float_to_fp16(values[k]) : float_to_bf16(values[k]);
                    *out++ = uint8_t(h);
                    *out++ = uint8_t(h >> 8);
                }
            }
            put(bytes.data(), count * elem);
        }
    }
    if (std::fflush(file.get()) != 0) fail(path, "write failed: ", std::strerror(errno));
}

std::string shard_name(int index, int count) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", index + 1, count);
    return name;
}

}  // namespace

void write_synthetic_checkpoint(const std::string& dir, const SyntheticOptions& o) {
    if (o.dtype != DType::F32 && o.dtype != DType::F16 && o.dtype != DType::BF16)
        fail(dir, "synthetic weights are F32, F16 or BF16, not ", dtype_name(o.dtype));
    if (o.shards < 1 || o.shards > 999) fail(dir, "shard count must be 1..999, got ", o.shards);
    make_dirs(dir);

    ModelConfig config = synthetic_model_config(o.size, o.layout);
    const bool native = o.layout == CheckpointLayout::FastVlm;
    const std::string tokenizer = synthetic_tokenizer_json(config.text.vocab, native);
    const SpecialIds ids = special_ids(tokenizer);
    const ojson config_json = native ? fast_vlm_config_json(config, o, ids, o.size == SyntheticSize::Tiny)
                                     : llava_config_json(config, o, ids);
    write_text(dir + "/config.json", config_json.dump(2) + "\n");
    write_text(dir + "/tokenizer.json", tokenizer);

    // Plan: every expected tensor (optional ones included) except a tied lm_head.
    std::vector<ExpectedTensor> expected = expected_tensors(config);
    std::vector<PlannedTensor> plan;
    uint64_t total = 0;
    for (const ExpectedTensor& e : expected) {
        if (o.tied && e.canonical == "lm_head.weight") continue;
        uint64_t numel = 1;
        for (int64_t d : e.shape) numel *= uint64_t(d);
        DType dtype = e.is_float ? o.dtype : DType::I64;
        plan.push_back({&e, dtype, numel * dtype_size(dtype), 0});
        total += plan.back().nbytes;
    }
    const int shards = o.shards;
    if (size_t(shards) > plan.size()) fail(dir, "more shards (", shards, ") than tensors (", plan.size(), ")");
    // Consecutive tensors per shard, balanced by bytes, never an empty shard.
    uint64_t before = 0;
    const int n = int(plan.size());
    for (int t = 0; t < n; ++t) {
        int ideal = int(std::min<uint64_t>(shards - 1, (before + plan[t].nbytes / 2) * shards / std::max<uint64_t>(total, 1)));
        int prev = t ? plan[t - 1].shard : 0;
        int s = ideal > prev ? prev + 1 : prev;
        s = std::max(s, shards - n + t);
        plan[t].shard = std::min(s, shards - 1);
        before += plan[t].nbytes;
    }

    const std::string index_path = dir + "/model.safetensors.index.json";
    if (shards == 1) {
        ::unlink(index_path.c_str());  // a stale index would take precedence over model.safetensors
        std::vector<const PlannedTensor*> all;
        for (const PlannedTensor& p : plan) all.push_back(&p);
        write_shard(dir + "/model.safetensors", all, o.seed);
        return;
    }
    ::unlink((dir + "/model.safetensors").c_str());
    nlohmann::json weight_map = nlohmann::json::object();
    for (int s = 0; s < shards; ++s) {
        std::vector<const PlannedTensor*> part;
        for (const PlannedTensor& p : plan)
            if (p.shard == s) part.push_back(&p);
        write_shard(dir + "/" + shard_name(s, shards), part, o.seed);
        for (const PlannedTensor* p : part) weight_map[p->spec->stored] = shard_name(s, shards);
    }
    nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    write_text(index_path, index.dump(2) + "\n");
}

}  // namespace fastvlm
