#include "model/qwen2.h"

#include "model/linear.h"
#include "runtime/error.h"

namespace fastvlm {

Tensor Qwen2::load(const std::string& name, const std::vector<int64_t>& shape) {
    const TensorView& t = require_weight(weights_, name, "language model");
    if (t.shape != shape)
        fail(t.file, "tensor '", name, "' has shape ", shape_string(t.shape), ", expected ", shape_string(shape));
    return backend_.weight(t);
}

LinearWeight Qwen2::load_linear(const std::string& name, const std::vector<int64_t>& shape, bool with_bias,
                               WeightMode mode) {
    const TensorView& w = require_weight(weights_, name + ".weight", "language model");
    if (w.shape != shape)
        fail(w.file, "tensor '", name, ".weight' has shape ", shape_string(w.shape), ", expected ", shape_string(shape));
    const TensorView* b = nullptr;
    if (with_bias) {
        b = &require_weight(weights_, name + ".bias", "language model");
        if (b->shape != std::vector<int64_t>{shape[0]})
            fail(b->file, "tensor '", name, ".bias' has shape ", shape_string(b->shape), ", expected [", shape[0], "]");
    }
    return fastvlm::load_linear(backend_, w, b, mode);
}

Qwen2::Qwen2(Backend& backend, const TextConfig& config, const WeightLookup& weights, const Qwen2Modes& modes)
    : backend_(backend), config_(config), weights_(weights) {
    const int64_t d = config.hidden, q_width = int64_t(config.heads) * config.head_dim,
                  kv_width = int64_t(config.kv_heads) * config.head_dim, ffn = config.intermediate,
                  vocab = config.vocab;
    if (config.heads <= 0 || config.kv_heads <= 0 || config.heads % config.kv_heads != 0)
        fail("language model", config.heads, " attention heads cannot share ", config.kv_heads, " kv heads");
    if (config.head_dim <= 0 || config.head_dim % 2 != 0)
        fail("language model", "head_dim ", config.head_dim, " must be positive and even (rotary pairs)");
    embed_tokens_ = load("model.embed_tokens.weight", {vocab, d});
    for (int l = 0; l < config.layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        Layer layer;
        layer.input_norm = load(p + "input_layernorm.weight", {d});
        layer.post_attention_norm = load(p + "post_attention_layernorm.weight", {d});
        const WeightMode m = modes.layers;
        layer.q = load_linear(p + "self_attn.q_proj", {q_width, d}, true, m);
        layer.k = load_linear(p + "self_attn.k_proj", {kv_width, d}, true, m);
        layer.v = load_linear(p + "self_attn.v_proj", {kv_width, d}, true, m);
        layer.o = load_linear(p + "self_attn.o_proj", {d, q_width}, false, m);
        layer.gate = load_linear(p + "mlp.gate_proj", {ffn, d}, false, m);
        layer.up = load_linear(p + "mlp.up_proj", {ffn, d}, false, m);
        layer.down = load_linear(p + "mlp.down_proj", {d, ffn}, false, m);
        layers_.push_back(std::move(layer));
    }
    final_norm_ = load("model.norm.weight", {d});
    lm_head_ = load_linear("lm_head", {vocab, d}, false, modes.lm_head);
}

Tensor Qwen2::embed(const std::vector<int32_t>& ids) {
    Tensor x = backend_.alloc(DType::F32, {int64_t(ids.size()), config_.hidden});
    embed_into(x, 0, ids);
    return x;
}

void Qwen2::embed_into(const Tensor& x, int64_t row, const std::vector<int32_t>& ids) {
    const std::vector<int> as_int(ids.begin(), ids.end());
    backend_.embedding(x.slice(row, row + int64_t(ids.size())), embed_tokens_, as_int);
}

Tensor Qwen2::forward(const Tensor& inputs, KVCache& cache, const LayerTap& tap) {
    const int64_t t = inputs.rows(), d = config_.hidden;
    if (inputs.cols() != d)
        fail("language model", "inputs ", shape_string(inputs.shape()), " are not rows of ", d);
    const int pos = cache.length();
    cache.check_room(int(t));
    std::vector<int> positions(static_cast<size_t>(t));
    for (int64_t i = 0; i < t; ++i) positions[size_t(i)] = pos + int(i);

    const int heads = config_.heads, kv_heads = config_.kv_heads, head_dim = config_.head_dim;
    const int64_t q_width = int64_t(heads) * head_dim, kv_width = int64_t(kv_heads) * head_dim;
    Tensor x = backend_.alloc(DType::F32, {t, d});               // residual stream
    backend_.copy(x, inputs);
    Tensor h = backend_.alloc(DType::F32, {t, d});               // normed input of a sublayer
    Tensor q = backend_.alloc(DType::F32, {t, q_width});
    Tensor k = backend_.alloc(DType::F32, {t, kv_width});
    Tensor v = backend_.alloc(DType::F32, {t, kv_width});
    Tensor attended = backend_.alloc(DType::F32, {t, q_width});
    Tensor branch = backend_.alloc(DType::F32, {t, d});          // a sublayer's output
    Tensor gate = backend_.alloc(DType::F32, {t, config_.intermediate});
    Tensor up = backend_.alloc(DType::F32, {t, config_.intermediate});

    for (size_t l = 0; l < layers_.size(); ++l) {
        const Layer& layer = layers_[l];
        backend_.rmsnorm(h, x, layer.input_norm, config_.rms_eps);
        backend_.linear(q, h, layer.q);
        backend_.linear(k, h, layer.k);
        backend_.linear(v, h, layer.v);
        backend_.rope(q, heads, head_dim, positions, config_.rope_theta);
        backend_.rope(k, kv_heads, head_dim, positions, config_.rope_theta);
        backend_.kv_store(cache.keys(int(l)), cache.values(int(l)), k, v, pos);
        backend_.attention_cached(attended, q, cache.keys(int(l)), cache.values(int(l)), pos, heads, kv_heads,
                                  head_dim);
        backend_.linear(branch, attended, layer.o);
        backend_.add(x, branch);

        backend_.rmsnorm(h, x, layer.post_attention_norm, config_.rms_eps);
        backend_.linear(gate, h, layer.gate);
        backend_.linear(up, h, layer.up);
        backend_.silu_gate(gate, gate, up);
        backend_.linear(branch, gate, layer.down);
        backend_.add(x, branch);
        if (tap) tap("llm.layer" + std::to_string(l) + ".output", x);
    }
    cache.advance(int(t));
    backend_.rmsnorm(h, x, final_norm_, config_.rms_eps);
    return h;
}

size_t Qwen2::decode_weight_bytes() const {
    size_t bytes = final_norm_.nbytes() + lm_head_.nbytes() + embed_tokens_.nbytes() / size_t(config_.vocab);
    for (const Layer& l : layers_) {
        bytes += l.input_norm.nbytes() + l.post_attention_norm.nbytes();
        for (const LinearWeight* w : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) bytes += w->nbytes();
    }
    return bytes;
}

size_t Qwen2::weight_bytes() const {
    return decode_weight_bytes() - embed_tokens_.nbytes() / size_t(config_.vocab) + embed_tokens_.nbytes();
}

Tensor Qwen2::logits(const Tensor& hidden) {
    Tensor out = backend_.alloc(DType::F32, {hidden.rows(), config_.vocab});
    backend_.linear(out, hidden, lm_head_);
    return out;
}

}  // namespace fastvlm
