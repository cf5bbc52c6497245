#include "runtime/weight_mode.h"

#include "runtime/error.h"

namespace fastvlm {

namespace {
struct ModeInfo {
    WeightMode mode;
    const char* name;
    const char* label;
};
const ModeInfo kModes[] = {
    {WeightMode::Reference, "reference", "W16A32: checkpoint weights as stored, fp32 activations and accumulate"},
    {WeightMode::F16, "fp16", "W16A16: fp16 weights, fp16 activations, fp32 accumulate"},
    {WeightMode::Int8, "int8", "W8A8 LLM.int8: int8 rows x int8 activations (int32 accumulate), fp16 outlier columns"},
    {WeightMode::NF4F32, "nf4-fp32", "W4A32: NF4 weights, double-quantized scales, fp32 dequant and matmul"},
    {WeightMode::NF4F16, "nf4-fp16", "W4A16: NF4 weights, double-quantized scales, fp16 dequant and matmul"},
    {WeightMode::W4A4, "w4a4", "W4A4: int4 weights x int4 activations (groups of 64, int32 accumulate)"},
};
}  // namespace

const char* weight_mode_name(WeightMode mode) {
    for (const ModeInfo& m : kModes)
        if (m.mode == mode) return m.name;
    return "?";
}

const char* weight_mode_label(WeightMode mode) {
    for (const ModeInfo& m : kModes)
        if (m.mode == mode) return m.label;
    return "?";
}

WeightMode parse_weight_mode(const std::string& name) {
    std::string known;
    for (const ModeInfo& m : kModes) {
        if (name == m.name) return m.mode;
        known += known.empty() ? "" : ", ";
        known += m.name;
    }
    fail("weight mode", "unknown mode '", name, "' (known: ", known, ")");
}

std::vector<WeightMode> benchmark_weight_modes() {
    return {WeightMode::F16, WeightMode::Int8, WeightMode::NF4F32, WeightMode::NF4F16, WeightMode::W4A4};
}

}  // namespace fastvlm
