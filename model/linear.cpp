#include "model/linear.h"

#include <vector>

#include "cuda/quant_common.cuh"
#include "loader/quantize.h"
#include "runtime/error.h"
#include "runtime/half.h"

namespace fastvlm {

namespace {

Tensor upload_floats(Backend& backend, std::vector<float> values, bool round_to_fp16) {
    if (round_to_fp16)
        for (float& v : values) v = quant::round_to_fp16(v);
    const int64_t n = int64_t(values.size());
    return backend.upload_bytes(DType::F32, {n}, values.data());
}

}  // namespace

LinearWeight load_linear(Backend& backend, const TensorView& weight, const TensorView* bias, WeightMode mode) {
    const bool conv1x1 = weight.shape.size() == 4 && weight.shape[2] == 1 && weight.shape[3] == 1;
    if (weight.shape.size() != 2 && !conv1x1)
        fail(weight.file, "tensor '", weight.name, "' has shape ", shape_string(weight.shape),
             ", expected a linear weight [N, K]");
    LinearWeight w;
    w.out_features = weight.shape[0];
    w.in_features = weight.shape[1];
    const int64_t n = w.out_features, k = w.in_features;
    if (bias && (bias->shape.size() != 1 || bias->shape[0] != n))
        fail(bias->file, "tensor '", bias->name, "' has shape ", shape_string(bias->shape), ", expected [", n, "]");

    // Every mode but the reference one computes with 16-bit activations around the matmul
    // (nf4-fp32 keeps fp32, as bitsandbytes' compute dtype fp32 does).
    const bool f16_io = mode != WeightMode::Reference && mode != WeightMode::NF4F32;
    w.f16_activations = mode == WeightMode::F16 || mode == WeightMode::NF4F16;
    if (bias) w.bias = upload_floats(backend, to_float(*bias), f16_io);

    if (mode == WeightMode::Reference) {
        w.weight = backend.weight(weight);
        return w;
    }
    if (mode == WeightMode::F16 && weight.dtype == DType::F16) {
        w.weight = backend.weight(weight);
        if (conv1x1) w.weight = w.weight.reshape({n, k});
        return w;
    }
    const std::vector<float> values = to_float(weight);  // [N, K]
    switch (mode) {
        case WeightMode::Reference:
            break;
        case WeightMode::F16: {
            std::vector<uint16_t> bits(values.size());
            for (size_t i = 0; i < values.size(); ++i) bits[i] = float_to_fp16(values[i]);
            w.weight = backend.upload_bytes(DType::F16, {n, k}, bits.data());
            break;
        }
        case WeightMode::Int8: {
            const Int8Quantized q = quantize_int8(values.data(), n, k);
            w.format = LinearFormat::Int8;
            w.codes = backend.upload_bytes(DType::I8, {n, k}, q.codes.data());
            w.row_scale = backend.upload_bytes(DType::F32, {n}, q.row_scale.data());
            break;
        }
        case WeightMode::NF4F32:
        case WeightMode::NF4F16: {
            const NF4Quantized q = quantize_nf4(values.data(), n, k);
            w.format = LinearFormat::NF4;
            w.codes = backend.upload_bytes(DType::U8, {int64_t(q.codes.size())}, q.codes.data());
            w.absmax_codes = backend.upload_bytes(DType::U8, {int64_t(q.absmax_codes.size())}, q.absmax_codes.data());
            w.nested_absmax = backend.upload_bytes(DType::F32, {int64_t(q.nested_absmax.size())}, q.nested_absmax.data());
            w.dynamic_map = backend.upload_bytes(DType::F32, {int64_t(q.dynamic_map.size())}, q.dynamic_map.data());
            w.nested_offset = q.offset;
            break;
        }
        case WeightMode::W4A4: {
            const Int4Quantized q = quantize_int4(values.data(), n, k);
            w.format = LinearFormat::Int4;
            w.codes = backend.upload_bytes(DType::U8, {int64_t(q.codes.size())}, q.codes.data());
            w.group_scale = backend.upload_bytes(DType::F16, {n, int64_t(q.scales.size()) / n}, q.scales.data());
            break;
        }
    }
    return w;
}

}  // namespace fastvlm
