// The key/value cache of the language model: per layer, keys and values of every position so
// far, [capacity, kv_heads * head_dim] each, position-major (appending a token writes one row).
// Sized once from the prompt and the generation budget; running past it is an error, never a
// silent overwrite.
#pragma once
#include <string>
#include <vector>

#include "loader/config.h"
#include "runtime/backend.h"

namespace fastvlm {

class KVCache {
public:
    // capacity: positions to hold, 1 .. config.max_positions. dtype: F32 (exact) or F16.
    KVCache(Backend& backend, const TextConfig& config, int capacity, DType dtype = DType::F32);

    // Capacity for a prompt of `prompt_tokens` followed by `max_new_tokens` generated ones;
    // throws a clear error when that passes the model's context limit (max_position_embeddings).
    static int capacity_for(const TextConfig& config, int prompt_tokens, int max_new_tokens);

    int capacity() const { return capacity_; }
    int length() const { return length_; }      // positions filled
    DType dtype() const { return dtype_; }
    const Tensor& keys(int layer) const { return keys_[size_t(layer)]; }
    const Tensor& values(int layer) const { return values_[size_t(layer)]; }

    // Throws unless `tokens` more positions fit.
    void check_room(int tokens) const;
    // Marks `tokens` more positions filled (after every layer stored them).
    void advance(int tokens);
    void clear() { length_ = 0; }

private:
    int capacity_ = 0;
    int length_ = 0;
    DType dtype_;
    std::vector<Tensor> keys_, values_;  // per layer [capacity, kv_heads * head_dim]
};

}  // namespace fastvlm
