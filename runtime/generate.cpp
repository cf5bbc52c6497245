#include "runtime/generate.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "runtime/error.h"
#include "runtime/kv_cache.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace fastvlm {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

GenerateResult generate(Backend& backend, Qwen2& model, const Tensor& prompt, const GenerateOptions& options,
                        const Tokenizer* tokenizer, const TextCallback& on_text) {
    const TextConfig& config = model.config();
    GenerateResult result;
    result.prompt_tokens = int(prompt.rows());
    if (options.max_new_tokens < 0) fail("generate", "max_new_tokens ", options.max_new_tokens, " is negative");
    const int capacity = KVCache::capacity_for(config, result.prompt_tokens, options.max_new_tokens);
    if (options.max_new_tokens == 0) return result;

    Sampler sampler(options.sampling);
    KVCache cache(backend, config, capacity, options.kv_dtype);
    std::unique_ptr<StreamDecoder> decoder;
    if (tokenizer) decoder = std::make_unique<StreamDecoder>(*tokenizer, /*skip_special=*/true);
    auto emit = [&](const std::string& piece) {
        if (piece.empty()) return;
        result.text += piece;
        if (on_text) on_text(piece);
    };
    if (options.id_limit < 0) fail("generate", "id_limit ", options.id_limit, " is negative");
    if (!options.forced_ids.empty() && int(options.forced_ids.size()) < options.max_new_tokens)
        fail("generate", options.forced_ids.size(), " forced ids for ", options.max_new_tokens, " new tokens");
    int step = 0;
    auto next_token = [&](const Tensor& hidden_row) {
        const std::vector<float> logits = backend.read(model.logits(hidden_row));
        if (options.on_logits) options.on_logits(step, logits);
        const int limit = options.id_limit > 0 ? std::min(options.id_limit, int(logits.size())) : int(logits.size());
        int32_t chosen = sampler.sample(logits.data(), limit);
        if (!options.forced_ids.empty()) chosen = options.forced_ids[size_t(step)];
        ++step;
        return chosen;
    };

    const auto prefill_start = std::chrono::steady_clock::now();
    const Tensor hidden = model.forward(prompt, cache);
    int32_t token = next_token(hidden.slice(hidden.rows() - 1, hidden.rows()));
    result.prefill_seconds = seconds_since(prefill_start);

    const auto decode_start = std::chrono::steady_clock::now();
    for (;;) {
        result.ids.push_back(token);
        if (std::find(options.stop_ids.begin(), options.stop_ids.end(), token) != options.stop_ids.end()) {
            result.stopped = true;
            break;
        }
        if (decoder) emit(decoder->push(token));
        if (int(result.ids.size()) >= options.max_new_tokens) break;
        const auto step_start = std::chrono::steady_clock::now();
        const Tensor step = model.forward(model.embed({token}), cache);
        token = next_token(step);
        result.step_seconds.push_back(seconds_since(step_start));
        ++result.decode_steps;
    }
    result.decode_seconds = seconds_since(decode_start);
    if (decoder) emit(decoder->finish());
    return result;
}

}  // namespace fastvlm
