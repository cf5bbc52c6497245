// The mlp2x_gelu projector: vision tokens [N, mm_hidden] -> language-model embeddings
// [N, hidden] = Linear(hidden) . GELU (exact) . Linear(mm_hidden -> hidden).
//   model.mm_projector.0.weight [hidden, mm_hidden], .bias [hidden]
//   model.mm_projector.2.weight [hidden, hidden],    .bias [hidden]
#pragma once
#include <string>

#include "loader/config.h"
#include "model/weights.h"
#include "runtime/backend.h"
#include "runtime/weight_mode.h"

namespace fastvlm {

class Projector {
public:
    // Throws for a projector type other than "mlp2x_gelu" or a missing / mis-shaped weight.
    Projector(Backend& backend, const ModelConfig& config, const WeightLookup& weights,
              WeightMode mode = WeightMode::Reference);
    Tensor forward(const Tensor& features);  // [N, mm_hidden] -> [N, hidden]
    size_t weight_bytes() const { return layer1_.nbytes() + layer2_.nbytes(); }

private:
    Backend& backend_;
    LinearWeight layer1_;  // [hidden, mm_hidden] + bias [hidden]
    LinearWeight layer2_;  // [hidden, hidden] + bias [hidden]
};

}  // namespace fastvlm
