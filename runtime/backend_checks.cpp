#include "runtime/backend_checks.h"

#include "runtime/error.h"

namespace fastvlm::checks {

bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

void expect_f32(const Tensor& t, const char* op, const char* what) {
    if (t.empty()) fail(op, what, " is missing");
    if (t.dtype() != DType::F32)
        fail(op, what, " ", shape_string(t.shape()), " is ", dtype_name(t.dtype()), ", expected F32");
}

void expect_float(const Tensor& t, const char* op, const char* what) {
    if (t.empty()) fail(op, what, " is missing");
    if (!is_float(t.dtype()))
        fail(op, what, " ", shape_string(t.shape()), " has dtype ", dtype_name(t.dtype()),
             " (expected F32, F16 or BF16)");
}

void expect_numel(const Tensor& t, int64_t n, const char* op, const char* what) {
    if (t.numel() != n)
        fail(op, what, " ", shape_string(t.shape()), " has ", t.numel(), " values, expected ", n);
}

namespace {

// [H, W, C] feature map dimensions.
void expect_feature_map(const Tensor& t, const char* op, const char* what) {
    expect_f32(t, op, what);
    if (t.rank() != 3) fail(op, what, " has shape ", shape_string(t.shape()), ", expected [H, W, C]");
}

ConvSize conv_size(const Tensor& y, const Tensor& x, const Tensor& w) {
    ConvSize s;
    s.in_h = x.dim(0); s.in_w = x.dim(1); s.in_c = x.dim(2);
    s.out_h = y.dim(0); s.out_w = y.dim(1); s.out_c = y.dim(2);
    s.kernel = int(w.dim(2));
    return s;
}

}  // namespace

MatmulSize matmul(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias) {
    expect_f32(x, "matmul", "input");
    expect_f32(y, "matmul", "output");
    expect_float(w, "matmul", "weight");
    const bool conv1x1 = w.rank() == 4 && w.dim(2) == 1 && w.dim(3) == 1;
    if (w.rank() != 2 && !conv1x1)
        fail("matmul", "weight has shape ", shape_string(w.shape()), ", expected [N, K] or [N, K, 1, 1]");
    const int64_t n = w.dim(0), k = w.dim(1), m = x.rows();
    if (x.cols() != k)
        fail("matmul", "input ", shape_string(x.shape()), " does not match weight ", shape_string(w.shape()));
    if (y.rows() != m || y.cols() != n)
        fail("matmul", "output ", shape_string(y.shape()), " for input ", shape_string(x.shape()),
             " and weight ", shape_string(w.shape()));
    if (!bias.empty()) {
        expect_float(bias, "matmul", "bias");
        expect_numel(bias, n, "matmul", "bias");
    }
    if (x.data() == y.data()) fail("matmul", "output aliases the input");
    return {m, n, k};
}

namespace {

void expect_dtype(const Tensor& t, DType dtype, int64_t numel, const char* what) {
    if (t.empty()) fail("linear", what, " is missing");
    if (t.dtype() != dtype)
        fail("linear", what, " ", shape_string(t.shape()), " is ", dtype_name(t.dtype()), ", expected ", dtype_name(dtype));
    if (numel >= 0 && t.numel() != numel)
        fail("linear", what, " ", shape_string(t.shape()), " has ", t.numel(), " values, expected ", numel);
}

}  // namespace

MatmulSize linear(const Tensor& y, const Tensor& x, const LinearWeight& w) {
    const int64_t n = w.out_features, k = w.in_features, t = x.rows();
    if (x.empty() || x.dtype() != DType::F32 || x.cols() != k)
        fail("linear", "input ", shape_string(x.shape()), " is not F32 rows of ", k);
    if (y.empty() || y.dtype() != DType::F32 || y.rows() != t || y.cols() != n)
        fail("linear", "output ", shape_string(y.shape()), " for ", t, " tokens of ", n, " features");
    if (x.data() == y.data()) fail("linear", "output aliases the input");
    if (!w.bias.empty()) expect_dtype(w.bias, DType::F32, n, "bias");
    const int64_t blocks = (n * k + 63) / 64, groups = (k + 63) / 64;
    switch (w.format) {
        case LinearFormat::Dense:
            break;  // matmul checks the weight
        case LinearFormat::Int8:
            expect_dtype(w.codes, DType::I8, n * k, "int8 codes");
            expect_dtype(w.row_scale, DType::F32, n, "int8 row scales");
            break;
        case LinearFormat::NF4:
            expect_dtype(w.codes, DType::U8, (n * k + 1) / 2, "nf4 codes");
            expect_dtype(w.absmax_codes, DType::U8, blocks, "nf4 absmax codes");
            expect_dtype(w.nested_absmax, DType::F32, (blocks + 255) / 256, "nf4 nested absmax");
            expect_dtype(w.dynamic_map, DType::F32, 256, "nf4 dynamic map");
            break;
        case LinearFormat::Int4:
            expect_dtype(w.codes, DType::U8, (n * k + 1) / 2, "int4 codes");
            expect_dtype(w.group_scale, DType::F16, n * groups, "int4 group scales");
            break;
    }
    return {t, n, k};
}

ConvSize conv2d(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias) {
    expect_feature_map(x, "conv2d", "input");
    expect_feature_map(y, "conv2d", "output");
    expect_float(w, "conv2d", "weight");
    if (w.rank() != 4 || w.dim(2) != w.dim(3) || w.dim(1) != x.dim(2) || w.dim(0) != y.dim(2))
        fail("conv2d", "weight ", shape_string(w.shape()), " does not fit input ", shape_string(x.shape()),
             " and output ", shape_string(y.shape()));
    if (!bias.empty()) expect_numel(bias, y.dim(2), "conv2d", "bias");
    return conv_size(y, x, w);
}

ConvSize depthwise_conv2d(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias) {
    expect_feature_map(x, "depthwise_conv2d", "input");
    expect_feature_map(y, "depthwise_conv2d", "output");
    expect_float(w, "depthwise_conv2d", "weight");
    if (w.rank() != 4 || w.dim(1) != 1 || w.dim(2) != w.dim(3) || w.dim(0) != y.dim(2))
        fail("depthwise_conv2d", "weight ", shape_string(w.shape()), " does not fit output ",
             shape_string(y.shape()), " (expected [Cout, 1, k, k])");
    if (x.data() == y.data()) fail("depthwise_conv2d", "output aliases the input");
    if (!bias.empty()) expect_numel(bias, y.dim(2), "depthwise_conv2d", "bias");
    return conv_size(y, x, w);
}

void elementwise(const Tensor& y, const Tensor& x, const char* op) {
    expect_f32(y, op, "output");
    expect_f32(x, op, "input");
    expect_numel(x, y.numel(), op, "input");
}

void transpose(const Tensor& y, const Tensor& x) {
    expect_f32(x, "transpose", "input");
    expect_f32(y, "transpose", "output");
    if (y.rows() != x.cols() || y.cols() != x.rows())
        fail("transpose", "output ", shape_string(y.shape()), " for input ", shape_string(x.shape()));
}

void layernorm(const Tensor& y, const Tensor& x, const Tensor& weight, const Tensor& bias) {
    expect_f32(x, "layernorm", "input");
    expect_f32(y, "layernorm", "output");
    expect_numel(y, x.numel(), "layernorm", "output");
    expect_float(weight, "layernorm", "weight");
    expect_float(bias, "layernorm", "bias");
    expect_numel(weight, x.cols(), "layernorm", "weight");
    expect_numel(bias, x.cols(), "layernorm", "bias");
}

void add_scaled(const Tensor& y, const Tensor& x, const Tensor& scale) {
    expect_f32(y, "add_scaled", "output");
    expect_f32(x, "add_scaled", "input");
    expect_numel(x, y.numel(), "add_scaled", "input");
    expect_float(scale, "add_scaled", "scale");
    expect_numel(scale, y.cols(), "add_scaled", "scale");
}

void mean_rows(const Tensor& y, const Tensor& x) {
    expect_f32(x, "mean_rows", "input");
    expect_f32(y, "mean_rows", "output");
    expect_numel(y, x.cols(), "mean_rows", "output");
}

void scale_channels(const Tensor& x, const Tensor& s) {
    expect_f32(x, "scale_channels", "tensor");
    expect_f32(s, "scale_channels", "scale");
    expect_numel(s, x.cols(), "scale_channels", "scale");
}

void self_attention(const Tensor& out, const Tensor& qkv, int heads, int head_dim) {
    expect_f32(qkv, "self_attention", "qkv");
    expect_f32(out, "self_attention", "output");
    const int64_t width = int64_t(heads) * head_dim;
    if (heads <= 0 || head_dim <= 0 || qkv.cols() != 3 * width)
        fail("self_attention", "qkv ", shape_string(qkv.shape()), " does not hold ", heads, " heads of ",
             head_dim, " for q, k and v");
    if (out.rows() != qkv.rows() || out.cols() != width)
        fail("self_attention", "output ", shape_string(out.shape()), " for qkv ", shape_string(qkv.shape()));
}

void embedding(const Tensor& y, const Tensor& table, const int* ids, int64_t n_ids) {
    expect_f32(y, "embedding", "output");
    expect_float(table, "embedding", "table");
    if (table.rank() != 2) fail("embedding", "table has shape ", shape_string(table.shape()), ", expected [V, D]");
    const int64_t vocab = table.dim(0), d = table.dim(1);
    if (y.rows() != n_ids || y.cols() != d)
        fail("embedding", "output ", shape_string(y.shape()), " for ", n_ids, " ids of width ", d);
    for (int64_t t = 0; t < n_ids; ++t)
        if (ids[t] < 0 || ids[t] >= vocab)
            fail("embedding", "token id ", ids[t], " at position ", t, " is outside the vocabulary of ", vocab);
}

void rmsnorm(const Tensor& y, const Tensor& x, const Tensor& weight) {
    expect_f32(x, "rmsnorm", "input");
    expect_f32(y, "rmsnorm", "output");
    expect_float(weight, "rmsnorm", "weight");
    expect_numel(y, x.numel(), "rmsnorm", "output");
    expect_numel(weight, x.cols(), "rmsnorm", "weight");
}

void rope(const Tensor& x, int heads, int head_dim, int64_t n_positions) {
    expect_f32(x, "rope", "tensor");
    if (x.rows() != n_positions || x.cols() != int64_t(heads) * head_dim)
        fail("rope", "tensor ", shape_string(x.shape()), " for ", n_positions, " positions and ", heads,
             " heads of ", head_dim);
}

void silu_gate(const Tensor& out, const Tensor& gate, const Tensor& up) {
    expect_f32(out, "silu_gate", "output");
    expect_f32(gate, "silu_gate", "gate");
    expect_f32(up, "silu_gate", "up");
    expect_numel(gate, out.numel(), "silu_gate", "gate");
    expect_numel(up, out.numel(), "silu_gate", "up");
}

void kv_store(const Tensor& k_cache, const Tensor& v_cache, const Tensor& k, const Tensor& v, int pos) {
    expect_f32(k, "kv_store", "keys");
    expect_f32(v, "kv_store", "values");
    if (k_cache.dtype() != v_cache.dtype() || k_cache.shape() != v_cache.shape() || k_cache.rank() != 2 ||
        (k_cache.dtype() != DType::F16 && k_cache.dtype() != DType::F32))
        fail("kv_store", "caches ", shape_string(k_cache.shape()), " ", dtype_name(k_cache.dtype()), " and ",
             shape_string(v_cache.shape()), " ", dtype_name(v_cache.dtype()),
             " are not a matching [capacity, width] F16 or F32 pair");
    const int64_t width = k_cache.dim(1), t = k.rows();
    if (k.cols() != width || v.cols() != width || v.rows() != t)
        fail("kv_store", "keys ", shape_string(k.shape()), " and values ", shape_string(v.shape()),
             " do not match cache rows of ", width);
    if (pos < 0 || pos + t > k_cache.dim(0))
        fail("kv_store", "positions [", pos, ", ", pos + t, ") are outside the cache of ", k_cache.dim(0));
}

void attention_cached(const Tensor& out, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, int pos,
                      int heads, int kv_heads, int head_dim) {
    expect_f32(q, "attention_cached", "queries");
    expect_f32(out, "attention_cached", "output");
    const int64_t t = q.rows(), width = int64_t(heads) * head_dim;
    if (heads <= 0 || kv_heads <= 0 || head_dim <= 0 || heads % kv_heads != 0)
        fail("attention_cached", heads, " query heads cannot share ", kv_heads, " kv heads");
    if (q.cols() != width || out.rows() != t || out.cols() != width)
        fail("attention_cached", "queries ", shape_string(q.shape()), " and output ", shape_string(out.shape()),
             " for ", heads, " heads of ", head_dim);
    if (k_cache.rank() != 2 || k_cache.shape() != v_cache.shape() || k_cache.dtype() != v_cache.dtype() ||
        k_cache.dim(1) != int64_t(kv_heads) * head_dim)
        fail("attention_cached", "caches ", shape_string(k_cache.shape()), " and ", shape_string(v_cache.shape()),
             " do not hold ", kv_heads, " kv heads of ", head_dim);
    if (k_cache.dtype() != DType::F16 && k_cache.dtype() != DType::F32)
        fail("attention_cached", "cache dtype ", dtype_name(k_cache.dtype()), " (expected F16 or F32)");
    if (pos < 0 || pos + t > k_cache.dim(0))
        fail("attention_cached", "positions [", pos, ", ", pos + t, ") are outside the cache of ", k_cache.dim(0));
}

}  // namespace fastvlm::checks
