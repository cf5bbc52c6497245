// The weight modes the runtime runs the same checkpoint in. Each has a short name (CLI, bench,
// JSON) and an honest label saying what is stored and in what precision the matmul computes.
#pragma once
#include <string>
#include <vector>

namespace fastvlm {

enum class WeightMode {
    Reference,  // weights as stored in the checkpoint, fp32 activations (the CPU reference path)
    F16,        // fp16 weights, fp16 matmul inputs and outputs, fp32 accumulation     (W16A16)
    Int8,       // LLM.int8: int8 rows + per-row scales, int8 activations, fp16 outlier columns (W8A8)
    NF4F32,     // NF4 + double-quantized scales, dequantized and multiplied in fp32      (W4A32)
    NF4F16,     // the same weights, dequantized and multiplied in fp16                   (W4A16)
    W4A4,       // int4 weights x int4 activations, integer products                      (W4A4)
};

const char* weight_mode_name(WeightMode mode);    // "reference", "fp16", "int8", "nf4-fp32", "nf4-fp16", "w4a4"
const char* weight_mode_label(WeightMode mode);   // "W16A16: fp16 weights, fp16 activations, fp32 accumulate", ...
// Parses a name; throws fastvlm::Error listing the known names.
WeightMode parse_weight_mode(const std::string& name);
// The five modes the bench compares, fp16 first (the quality baseline).
std::vector<WeightMode> benchmark_weight_modes();

}  // namespace fastvlm
