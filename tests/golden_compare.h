// Comparing runtime tensors with golden references: the error metric, layout conversion, and
// typed reads from a reference.safetensors file.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "loader/safetensors.h"
#include "runtime/error.h"

namespace test {

// The tolerance metric of the model tests: max |got - want| over the tensor divided by
// max |want| over the tensor (so one number per tensor, insensitive to tiny reference values).
inline double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
    if (got.size() != want.size()) return INFINITY;
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double d = std::fabs(double(got[i]) - double(want[i]));
        diff = std::isnan(d) ? INFINITY : std::max(diff, d);
        scale = std::max(scale, std::fabs(double(want[i])));
    }
    return scale > 0.0 ? diff / scale : diff;
}

// [H, W, C] -> [C, H, W]
inline std::vector<float> hwc_to_chw(const std::vector<float>& hwc, int64_t h, int64_t w, int64_t c) {
    std::vector<float> chw(hwc.size());
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
            for (int64_t k = 0; k < c; ++k) chw[size_t((k * h + y) * w + x)] = hwc[size_t((y * w + x) * c + k)];
    return chw;
}

// A reference.safetensors file.
class Reference {
public:
    explicit Reference(const std::string& path) : file_(path) {}
    bool has(const std::string& name) const { return file_.find(name) != nullptr; }
    const fastvlm::TensorView& view(const std::string& name) const {
        const fastvlm::TensorView* t = file_.find(name);
        if (!t) fastvlm::fail(file_.path(), "no reference tensor '", name, "'");
        return *t;
    }
    std::vector<float> floats(const std::string& name) const { return fastvlm::to_float(view(name)); }
    std::vector<int32_t> ints(const std::string& name) const {
        const fastvlm::TensorView& t = view(name);
        if (t.dtype != fastvlm::DType::I64) fastvlm::fail(file_.path(), "'", name, "' is not I64");
        std::vector<int32_t> out(size_t(t.numel()));
        for (size_t i = 0; i < out.size(); ++i) {
            int64_t v;
            std::memcpy(&v, t.data + i * 8, 8);
            out[i] = int32_t(v);
        }
        return out;
    }
    const std::vector<int64_t>& shape(const std::string& name) const { return view(name).shape; }

private:
    fastvlm::SafetensorsFile file_;
};

}  // namespace test
