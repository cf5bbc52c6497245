// Rotary position embedding of q and k, rotate_half form (cuda/rope.cu).
#pragma once
#include "cuda/common.cuh"

namespace fastvlm::gpu {

// Rotates q and k in place: element i of each head pairs with element i + head_dim/2 and the
// pair turns by positions[t] * theta^(-2i/head_dim) (fp32, as the reference).
//   q         [n_tokens, n_heads, head_dim]    fp16
//   k         [n_tokens, n_kv_heads, head_dim] fp16
//   positions [n_tokens] int32, device memory (so a captured graph can replay with new positions)
void rope(__half* q, __half* k, const int* positions, int n_tokens, int n_heads, int n_kv_heads, int head_dim,
          float theta, cudaStream_t stream);

// The same rotation of one fp32 tensor in place (the backend's rope, called for q and for k):
//   x         [rows, heads * head_dim] f32
//   positions [rows] int32 >= 0, device memory (checked by the caller: the kernel cannot fail)
void rope_f32(float* x, const int* positions, int rows, int heads, int head_dim, float theta, cudaStream_t stream);
// The same with row r at position first_position + r: a prompt or a decode step needs no upload
// of its positions (the copy would wait for the device to drain before every layer).
void rope_f32_consecutive(float* x, int first_position, int rows, int heads, int head_dim, float theta,
                          cudaStream_t stream);

}  // namespace fastvlm::gpu
