// The Qwen2 decoder (HF Qwen2, as in FastVLM-0.5B): token embeddings, then per layer
//   h = RMSNorm(x);  q, k, v = h Wq + bq, h Wk + bk, h Wv + bv;  RoPE (rotate_half) on q and k;
//   grouped-query attention over the KV cache (query head j reads KV head j / (heads / kv_heads)),
//   causal;  x += attn Wo;  h = RMSNorm(x);  x += (silu(h Wgate) * (h Wup)) Wdown
// then the final RMSNorm and the lm_head (stored, or tied to the embeddings).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "loader/config.h"
#include "model/weights.h"
#include "runtime/backend.h"
#include "runtime/kv_cache.h"
#include "runtime/weight_mode.h"

namespace fastvlm {

// Called with the residual stream after each layer ("llm.layer{i}.output", [T, hidden]).
using LayerTap = std::function<void(const std::string& name, const Tensor& x)>;

// How the linear layers are held: `mode` for the seven projections of every layer, `lm_head_mode`
// for the output head (transformers keeps it in fp16 when it quantizes a model).
struct Qwen2Modes {
    WeightMode layers = WeightMode::Reference;
    WeightMode lm_head = WeightMode::Reference;
};

class Qwen2 {
public:
    // Throws fastvlm::Error naming any missing or mis-shaped weight.
    Qwen2(Backend& backend, const TextConfig& config, const WeightLookup& weights, const Qwen2Modes& modes = {});

    const TextConfig& config() const { return config_; }

    // [ids.size(), hidden] embedding rows; throws on an id outside the vocabulary.
    Tensor embed(const std::vector<int32_t>& ids);
    // Writes the embedding rows of `ids` into rows [row, row + ids.size()) of x [T, hidden].
    void embed_into(const Tensor& x, int64_t row, const std::vector<int32_t>& ids);

    // Runs every layer over `inputs` [T, hidden] (the tokens at positions cache.length() ..
    // cache.length() + T - 1), appends their keys and values to the cache, and returns the
    // final-norm hidden states [T, hidden]. `inputs` is not modified.
    Tensor forward(const Tensor& inputs, KVCache& cache, const LayerTap& tap = {});

    // [T, vocab] logits of hidden states [T, hidden].
    Tensor logits(const Tensor& hidden);

    // Weight bytes one decode step reads: every layer, the final norm, the lm_head, and one
    // embedding row (the bandwidth floor of decoding is this over the memory bandwidth).
    size_t decode_weight_bytes() const;
    // Bytes of every weight the model holds (embeddings, layers, norms, lm_head).
    size_t weight_bytes() const;

private:
    struct Layer {
        Tensor input_norm, post_attention_norm;        // [hidden]
        LinearWeight q, k, v;     // [heads * head_dim, hidden], [kv_heads * head_dim, hidden] x 2, with biases
        LinearWeight o;           // [hidden, heads * head_dim]
        LinearWeight gate, up;    // [intermediate, hidden]
        LinearWeight down;        // [hidden, intermediate]
    };
    Tensor load(const std::string& name, const std::vector<int64_t>& shape);
    LinearWeight load_linear(const std::string& name, const std::vector<int64_t>& shape, bool with_bias,
                             WeightMode mode);

    Backend& backend_;
    TextConfig config_;
    WeightLookup weights_;
    Tensor embed_tokens_;  // [vocab, hidden]
    std::vector<Layer> layers_;
    Tensor final_norm_;    // [hidden]
    LinearWeight lm_head_; // [vocab, hidden]
};

}  // namespace fastvlm
