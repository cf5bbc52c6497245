#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"

namespace fastvlm {

int32_t argmax(const float* logits, int vocab) {
    if (vocab <= 0) fail("sampler", "no logits");
    int32_t best = 0;
    for (int i = 1; i < vocab; ++i)
        if (logits[i] > logits[best]) best = i;
    return best;
}

Sampler::Sampler(const SamplerOptions& options) : options_(options), state_(options.seed) {
    if (!(options.temperature >= 0.0f) || !std::isfinite(options.temperature))
        fail("sampler", "temperature ", options.temperature, " must be a finite number >= 0");
    if (options.top_k < 0) fail("sampler", "top_k ", options.top_k, " must be >= 0");
    if (!(options.top_p > 0.0f && options.top_p <= 1.0f))
        fail("sampler", "top_p ", options.top_p, " must be in (0, 1]");
}

double Sampler::next_uniform() {
    // splitmix64
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return double(z >> 11) * (1.0 / 9007199254740992.0);  // 53 bits
}

std::vector<std::pair<int32_t, float>> Sampler::candidates(const float* logits, int vocab) const {
    if (vocab <= 0) fail("sampler", "no logits");
    if (options_.temperature == 0.0f) return {{argmax(logits, vocab), 1.0f}};

    // Scaled logits; "before" orders by logit, descending, lower ids first among equals.
    using Entry = std::pair<float, int32_t>;
    std::vector<Entry> order(static_cast<size_t>(vocab));
    for (int i = 0; i < vocab; ++i) order[size_t(i)] = {logits[i] / options_.temperature, i};
    auto before = [](const Entry& a, const Entry& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    if (options_.top_k > 0 && size_t(options_.top_k) < order.size()) {
        // Everything tied with the k-th largest stays, as in transformers' TopKLogitsWarper.
        std::nth_element(order.begin(), order.begin() + (options_.top_k - 1), order.end(), before);
        const float kth = order[size_t(options_.top_k - 1)].first;
        order.erase(std::partition(order.begin(), order.end(), [&](const Entry& e) { return e.first >= kth; }),
                    order.end());
    }

    // Softmax normalizer over the survivors (in double for a stable sum).
    float max_logit = -INFINITY;
    for (const Entry& e : order) max_logit = std::max(max_logit, e.first);
    double total = 0.0;
    for (const Entry& e : order) total += std::exp(double(e.first) - double(max_logit));
    auto probability = [&](const Entry& e) { return std::exp(double(e.first) - double(max_logit)) / total; };

    // Most likely first. With top_p, only the head of the order is needed: sort the 1024 most
    // likely first and the rest only when they do not reach top_p.
    size_t sorted = order.size();
    if (options_.top_p < 1.0f && order.size() > 1024) {
        std::nth_element(order.begin(), order.begin() + 1023, order.end(), before);
        std::sort(order.begin(), order.begin() + 1024, before);
        double head = 0.0;
        for (size_t i = 0; i < 1024; ++i) head += probability(order[i]);
        sorted = head >= double(options_.top_p) ? 1024 : order.size();
    }
    if (sorted == order.size()) std::sort(order.begin(), order.end(), before);

    size_t keep = order.size();
    double kept = 1.0;
    if (options_.top_p < 1.0f) {
        // Keep tokens while the probability of the more likely ones is below top_p.
        double cumulative = 0.0;
        keep = 0;
        while (keep < sorted && cumulative < double(options_.top_p)) cumulative += probability(order[keep++]);
        keep = std::max<size_t>(keep, 1);
        kept = cumulative > 0.0 ? cumulative : 1.0;
    }
    std::vector<std::pair<int32_t, float>> out(keep);
    for (size_t i = 0; i < keep; ++i) out[i] = {order[i].second, float(probability(order[i]) / kept)};
    return out;
}

int32_t Sampler::sample(const float* logits, int vocab) {
    if (options_.temperature == 0.0f) return argmax(logits, vocab);
    const std::vector<std::pair<int32_t, float>> c = candidates(logits, vocab);
    const double u = next_uniform();
    double cumulative = 0.0;
    for (const auto& [id, p] : c) {
        cumulative += double(p);
        if (u < cumulative) return id;
    }
    return c.back().first;  // u just below 1 and rounding in the sum
}

}  // namespace fastvlm
