// Rotary position embedding, non-interleaved "rotate_half" form (HF Qwen2): the CPU twin of
// cuda/rope.cu. Element i of each head is paired with element i + head_dim/2 and the pair is
// rotated by the angle positions[t] * inv_freq[i], inv_freq[i] = theta^(-2i/head_dim), all fp32
// as in the reference implementation.
#pragma once

namespace fastvlm::cpu {

// Rotates x in place; call it once for q and once for k.
//   x         [n_tokens, n_heads, head_dim] fp32, head_dim even
//   positions [n_tokens] absolute positions of the tokens (>= 0)
void rope(float* x, const int* positions, int n_tokens, int n_heads, int head_dim, float theta);

// theta^(-2i/head_dim) for pair i, computed the way the reference does (fp32 pow, then 1/x).
float rope_inv_freq(int i, int head_dim, float theta);

}  // namespace fastvlm::cpu
