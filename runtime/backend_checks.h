// The shape and dtype contract of every Backend operation (runtime/backend.h), checked in one
// place for every backend: each function throws fastvlm::Error naming the operation and the
// offending tensor, or returns the sizes the operation runs over.
#pragma once
#include <cstdint>

#include "runtime/linear_weight.h"
#include "runtime/tensor.h"

namespace fastvlm::checks {

bool is_float(DType t);                                           // F32, F16 or BF16
void expect_f32(const Tensor& t, const char* op, const char* what);
void expect_float(const Tensor& t, const char* op, const char* what);
void expect_numel(const Tensor& t, int64_t n, const char* op, const char* what);

struct MatmulSize {
    int64_t m, n, k;
};
MatmulSize matmul(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias);
// The input and output, and every tensor the weight's format needs (dtype and size).
MatmulSize linear(const Tensor& y, const Tensor& x, const LinearWeight& w);

struct ConvSize {
    int64_t in_h, in_w, in_c, out_h, out_w, out_c;
    int kernel;
};
ConvSize conv2d(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias);
ConvSize depthwise_conv2d(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias);

void elementwise(const Tensor& y, const Tensor& x, const char* op);   // both F32, same numel
void transpose(const Tensor& y, const Tensor& x);
void layernorm(const Tensor& y, const Tensor& x, const Tensor& weight, const Tensor& bias);
void add_scaled(const Tensor& y, const Tensor& x, const Tensor& scale);
void mean_rows(const Tensor& y, const Tensor& x);
void scale_channels(const Tensor& x, const Tensor& s);
void self_attention(const Tensor& out, const Tensor& qkv, int heads, int head_dim);
void embedding(const Tensor& y, const Tensor& table, const int* ids, int64_t n_ids);  // ids checked too
void rmsnorm(const Tensor& y, const Tensor& x, const Tensor& weight);
void rope(const Tensor& x, int heads, int head_dim, int64_t n_positions);
void silu_gate(const Tensor& out, const Tensor& gate, const Tensor& up);
void kv_store(const Tensor& k_cache, const Tensor& v_cache, const Tensor& k, const Tensor& v, int pos);
void attention_cached(const Tensor& out, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, int pos,
                      int heads, int kv_heads, int head_dim);

}  // namespace fastvlm::checks
