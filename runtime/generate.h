// Text generation: prefill the prompt embeddings through the language model, then decode one
// token at a time (greedy or sampled) until a stop id or max_new_tokens, streaming text out as
// soon as it forms whole UTF-8 characters.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/qwen2.h"
#include "runtime/backend.h"
#include "runtime/sampler.h"

namespace fastvlm {

class Tokenizer;

struct GenerateOptions {
    int max_new_tokens = 256;
    SamplerOptions sampling;
    std::vector<int32_t> stop_ids;   // e.g. <|im_end|>, <|endoftext|>; kept in ids, never in text
    DType kv_dtype = DType::F32;     // F32: exact; F16: half the cache memory
    // Only ids below this are chosen (0: the whole vocabulary). FastVLM's own loader shrinks the
    // embeddings to the tokenizer's size, so its padding rows can never be generated; the CLI
    // passes the tokenizer's id count here for the same effect.
    int id_limit = 0;
    // Teacher forcing: when not empty, new token i is forced_ids[i] whatever the sampler chose
    // (quality comparisons feed every mode the same tokens). Needs max_new_tokens <= its size.
    std::vector<int32_t> forced_ids;
    // Called with the logits [vocab] that chose each new token (step 0 is the prefill's).
    std::function<void(int step, const std::vector<float>& logits)> on_logits;
};

struct GenerateResult {
    std::vector<int32_t> ids;        // generated ids, a final stop id included
    std::string text;                // their text (special tokens skipped)
    bool stopped = false;            // ended on a stop id (else on max_new_tokens)
    int prompt_tokens = 0;
    double prefill_seconds = 0.0;    // prompt forward pass and the first token
    double decode_seconds = 0.0;     // every later token
    int decode_steps = 0;            // forward passes of one token
    std::vector<double> step_seconds;  // each of those steps: forward, logits and sampling
};

// Called with each piece of text as soon as it is complete UTF-8.
using TextCallback = std::function<void(const std::string& piece)>;

// prompt: [L, hidden] spliced embeddings for positions 0 .. L-1. `tokenizer` may be null (no
// text, ids only). Throws a clear error when L + max_new_tokens passes the context limit.
GenerateResult generate(Backend& backend, Qwen2& model, const Tensor& prompt, const GenerateOptions& options,
                        const Tokenizer* tokenizer = nullptr, const TextCallback& on_text = {});

}  // namespace fastvlm
