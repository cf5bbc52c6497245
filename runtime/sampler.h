// Choosing the next token from logits, as transformers' generate() does it:
//   temperature == 0   greedy: the highest logit, the lowest id on ties (torch.argmax)
//   temperature > 0    logits / temperature, then top-k (keep every logit >= the k-th largest),
//                      then top-p (keep the most likely tokens until their probability reaches
//                      top_p; the token that crosses it is kept), then one draw from the
//                      renormalized distribution with a seeded generator.
// The generator is splitmix64, so a seed gives the same tokens on every machine.
#pragma once
#include <cstdint>
#include <vector>

namespace fastvlm {

struct SamplerOptions {
    float temperature = 0.0f;  // 0: greedy
    int top_k = 0;             // 0: off
    float top_p = 1.0f;        // 1: off
    uint64_t seed = 0;
};

class Sampler {
public:
    // Throws on a negative temperature or top_k, or top_p outside (0, 1].
    explicit Sampler(const SamplerOptions& options);

    int32_t sample(const float* logits, int vocab);
    int32_t sample(const std::vector<float>& logits) { return sample(logits.data(), int(logits.size())); }

    // The candidate ids and probabilities a sampling step draws from (after temperature, top-k,
    // top-p), most likely first. Greedy options give the single argmax with probability 1.
    std::vector<std::pair<int32_t, float>> candidates(const float* logits, int vocab) const;

    // A uniform draw in [0, 1) from the generator (advances it).
    double next_uniform();

private:
    SamplerOptions options_;
    uint64_t state_;
};

// The id of the largest logit; the lowest id among equal maxima.
int32_t argmax(const float* logits, int vocab);

}  // namespace fastvlm
