// Rotary embedding, rotate_half form: (a, b) = (x[i], x[i + half]) becomes
// (a cos - b sin, b cos + a sin).
#include "runtime/cpu/rope.h"

#include <cmath>
#include <vector>

#include "runtime/error.h"

namespace fastvlm::cpu {

float rope_inv_freq(int i, int head_dim, float theta) {
    return 1.0f / std::pow(theta, float(2 * i) / float(head_dim));
}

void rope(float* x, const int* positions, int n_tokens, int n_heads, int head_dim, float theta) {
    if (n_tokens < 0 || n_heads <= 0 || head_dim <= 0 || head_dim % 2 != 0)
        fail("rope", "bad shape: n_tokens ", n_tokens, ", n_heads ", n_heads, ", head_dim ", head_dim,
             " (head_dim must be even)");
    if (!(theta > 0.0f)) fail("rope", "theta ", theta, " is not positive");
    const int half = head_dim / 2;
    std::vector<float> inv_freq(static_cast<size_t>(half)), cos_a(inv_freq.size()), sin_a(inv_freq.size());
    for (int i = 0; i < half; ++i) inv_freq[size_t(i)] = rope_inv_freq(i, head_dim, theta);
    for (int t = 0; t < n_tokens; ++t) {
        if (positions[t] < 0) fail("rope", "token ", t, " has negative position ", positions[t]);
        for (int i = 0; i < half; ++i) {
            const float angle = float(positions[t]) * inv_freq[size_t(i)];  // fp32, as the reference
            cos_a[size_t(i)] = std::cos(angle);
            sin_a[size_t(i)] = std::sin(angle);
        }
        for (int h = 0; h < n_heads; ++h) {
            float* v = x + (size_t(t) * size_t(n_heads) + size_t(h)) * size_t(head_dim);
            for (int i = 0; i < half; ++i) {
                const float a = v[i], b = v[i + half];
                v[i] = a * cos_a[size_t(i)] - b * sin_a[size_t(i)];
                v[i + half] = b * cos_a[size_t(i)] + a * sin_a[size_t(i)];
            }
        }
    }
}

}  // namespace fastvlm::cpu
