// RMSNorm in fp32: one pass for the mean square (accumulated in double so long rows do not
// drift), one pass to scale.
#include "runtime/cpu/rmsnorm.h"

#include <cmath>

#include "runtime/error.h"
#include "runtime/half.h"

namespace fastvlm::cpu {

void rmsnorm(const float* x, const uint16_t* weight, float* y, int n_tokens, int dim, float eps) {
    if (n_tokens < 0 || dim <= 0)
        fail("rmsnorm", "bad shape: n_tokens ", n_tokens, ", dim ", dim);
    if (!(eps >= 0.0f)) fail("rmsnorm", "eps ", eps, " is not a non-negative number");
    for (int t = 0; t < n_tokens; ++t) {
        const float* xt = x + size_t(t) * size_t(dim);
        float* yt = y + size_t(t) * size_t(dim);
        double sum_sq = 0.0;
        for (int i = 0; i < dim; ++i) sum_sq += double(xt[i]) * double(xt[i]);
        const float inv_rms = 1.0f / std::sqrt(float(sum_sq / dim) + eps);
        for (int i = 0; i < dim; ++i) yt[i] = xt[i] * inv_rms * fp16_to_float(weight[i]);
    }
}

}  // namespace fastvlm::cpu
