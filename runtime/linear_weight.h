// A linear layer's weight in whichever stored form its weight mode uses, as backend tensors.
// The model code holds these and calls Backend::linear; only the backends look inside.
//   y[t, n] = act(sum_k x[t, k] * W[n, k] + bias[n])      W [out_features, in_features]
#pragma once
#include <cstddef>
#include <cstdint>

#include "runtime/tensor.h"

namespace fastvlm {

enum class LinearFormat {
    Dense,  // weight [N, K] F32 / F16 / BF16
    Int8,   // LLM.int8 (cuda/quant_int8.cuh): codes I8 [N, K], row_scale F32 [N]
    NF4,    // NF4 double quant (cuda/quant_nf4.cuh): codes U8 [(N*K+1)/2], absmax_codes U8 [blocks],
            // nested_absmax F32 [ceil(blocks/256)], dynamic_map F32 [256], nested_offset
    Int4,   // W4A4 (cuda/quant_int4.cuh): codes U8 [(N*K+1)/2], group_scale F16 [N, ceil(K/64)]
};

struct LinearWeight {
    LinearFormat format = LinearFormat::Dense;
    // The 16-bit activation modes (fp16, nf4-fp16): the layer's input is rounded to fp16 before
    // the matmul and its output after, as a model running in fp16 would see them.
    bool f16_activations = false;
    int64_t out_features = 0, in_features = 0;

    Tensor bias;            // [N] F32, or empty
    Tensor weight;          // Dense
    Tensor codes;           // Int8, NF4, Int4
    Tensor row_scale;       // Int8
    Tensor absmax_codes;    // NF4
    Tensor nested_absmax;   // NF4
    Tensor dynamic_map;     // NF4
    float nested_offset = 0.0f;
    Tensor group_scale;     // Int4
    float outlier_threshold = 6.0f;  // Int8

    // Bytes of every tensor above (what the layer costs in memory, and per decode step).
    size_t nbytes() const {
        size_t total = 0;
        for (const Tensor* t : {&bias, &weight, &codes, &row_scale, &absmax_codes, &nested_absmax, &dynamic_map,
                                &group_scale})
            if (!t->empty()) total += t->nbytes();
        return total;
    }
};

}  // namespace fastvlm
