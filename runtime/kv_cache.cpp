#include "runtime/kv_cache.h"

#include <algorithm>

#include "runtime/error.h"

namespace fastvlm {

KVCache::KVCache(Backend& backend, const TextConfig& config, int capacity, DType dtype)
    : capacity_(capacity), dtype_(dtype) {
    if (capacity <= 0 || capacity > config.max_positions)
        fail("KV cache", "capacity ", capacity, " is outside 1 .. ", config.max_positions,
             " (the model's context limit)");
    if (dtype != DType::F32 && dtype != DType::F16)
        fail("KV cache", "dtype ", dtype_name(dtype), " (expected F32 or F16)");
    const int64_t width = int64_t(config.kv_heads) * config.head_dim;
    for (int l = 0; l < config.layers; ++l) {
        keys_.push_back(backend.alloc(dtype, {capacity, width}));
        values_.push_back(backend.alloc(dtype, {capacity, width}));
    }
}

int KVCache::capacity_for(const TextConfig& config, int prompt_tokens, int max_new_tokens) {
    if (prompt_tokens <= 0) fail("KV cache", "empty prompt");
    if (max_new_tokens < 0) fail("KV cache", "max_new_tokens ", max_new_tokens, " is negative");
    if (int64_t(prompt_tokens) + max_new_tokens > config.max_positions)
        fail("KV cache", "a prompt of ", prompt_tokens, " tokens plus ", max_new_tokens,
             " new tokens exceeds the context limit of ", config.max_positions,
             " positions (max_position_embeddings); shorten the prompt or lower max_new_tokens");
    return std::max(1, prompt_tokens + max_new_tokens);
}

void KVCache::check_room(int tokens) const {
    if (tokens < 0 || int64_t(length_) + tokens > capacity_)
        fail("KV cache", "cannot add ", tokens, " positions at position ", length_, ": the cache holds ", capacity_,
             " positions");
}

void KVCache::advance(int tokens) {
    check_room(tokens);
    length_ += tokens;
}

}  // namespace fastvlm
