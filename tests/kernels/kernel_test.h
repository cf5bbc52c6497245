// Helpers for the kernel tests, which compile twice: with the host compiler under the SIMT
// runtime (tests/test_kernel_*.cpp, part of `make test`) and with nvcc for the device
// (tests/gpu/*.cu, `make test-gpu`). Everything here reads the same in both worlds.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/common.cuh"
#include "runtime/half.h"
#include "tests/test_util.h"

namespace kernel_test {

// Device memory holding `count` elements of T, freed on scope exit.
template <typename T>
class DeviceBuffer {
public:
    explicit DeviceBuffer(size_t count) : count_(count) {
        FASTVLM_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&data_), bytes() ? bytes() : 1));
    }
    // Uploads host data of the same element size (uint16_t fp16 bits for __half).
    template <typename H>
    explicit DeviceBuffer(const std::vector<H>& host) : DeviceBuffer(host.size()) {
        static_assert(sizeof(H) == sizeof(T), "host and device elements differ in size");
        if (bytes()) FASTVLM_CUDA_CHECK(cudaMemcpy(data_, host.data(), bytes(), cudaMemcpyHostToDevice));
    }
    ~DeviceBuffer() { cudaFree(data_); }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    T* get() const { return data_; }
    size_t bytes() const { return count_ * sizeof(T); }

    template <typename H>
    std::vector<H> download() const {
        static_assert(sizeof(H) == sizeof(T), "host and device elements differ in size");
        std::vector<H> host(count_);
        FASTVLM_CUDA_CHECK(cudaDeviceSynchronize());
        if (bytes()) FASTVLM_CUDA_CHECK(cudaMemcpy(host.data(), data_, bytes(), cudaMemcpyDeviceToHost));
        return host;
    }

private:
    T* data_ = nullptr;
    size_t count_;
};

inline bool device_present() {
#if defined(FASTVLM_SIMT)
    return true;
#else
    int count = 0;
    return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
#endif
}
#define REQUIRE_DEVICE()                                                           \
    do {                                                                           \
        if (!::kernel_test::device_present()) SKIP_TEST("no CUDA device present"); \
    } while (0)

// Runs `body`, and under the SIMT runtime runs it again with the race check on, the threads of
// each block in a shuffled order and cp.async landing at its issue, so each kernel test also
// proves its barriers.
template <typename F>
void run_checked(F&& body) {
    body();
#if defined(FASTVLM_SIMT)
    simt::Options checked = simt::options();
    checked.race_check = true;
    checked.shuffle_seed = 0x5eed;
    checked.early_async_copies = true;
    simt::ScopedOptions scope(checked);
    body();
#endif
}

// Deterministic values uniform in [-scale, scale].
class Random {
public:
    explicit Random(uint64_t seed) : state_(seed) {}
    float uniform(float scale) {
        state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
        return scale * (float(uint32_t(state_ >> 40)) / float(1u << 23) - 1.0f);
    }
    std::vector<uint16_t> fp16(size_t n, float scale) {
        std::vector<uint16_t> v(n);
        for (auto& h : v) h = fastvlm::float_to_fp16(uniform(scale));
        return v;
    }

private:
    uint64_t state_;
};

inline std::vector<float> to_float(const std::vector<uint16_t>& h) {
    std::vector<float> f(h.size());
    for (size_t i = 0; i < h.size(); ++i) f[i] = fastvlm::fp16_to_float(h[i]);
    return f;
}

// Compares fp16 results with fp32 references: |got - want| <= tolerance[i]. Reports the
// first mismatch (at most a few) so failures stay readable.
inline void check_close(const std::vector<uint16_t>& got, const std::vector<float>& want,
                        const std::vector<float>& tolerance, const std::string& what) {
    REQUIRE(got.size() == want.size());
    int reported = 0;
    for (size_t i = 0; i < got.size() && reported < 4; ++i) {
        const float g = fastvlm::fp16_to_float(got[i]);
        if (std::fabs(g - want[i]) <= tolerance[i]) continue;
        ++reported;
        FAIL_CHECK(what << ": element " << i << " is " << g << ", expected " << want[i] << " +- " << tolerance[i]);
    }
}

// The same for fp32 results: |got - want| <= tolerance[i]; reports the first few mismatches.
inline void check_close_f32(const std::vector<float>& got, const std::vector<float>& want,
                            const std::vector<float>& tolerance, const std::string& what) {
    REQUIRE(got.size() == want.size());
    REQUIRE(tolerance.size() == want.size());
    int reported = 0;
    for (size_t i = 0; i < got.size() && reported < 4; ++i) {
        if (std::fabs(got[i] - want[i]) <= tolerance[i]) continue;
        ++reported;
        FAIL_CHECK(what << ": element " << i << " is " << got[i] << ", expected " << want[i] << " +- " << tolerance[i]);
    }
}

// The fp16 output of a kernel that computes in fp32: one rounding to fp16 (2^-11 relative,
// doubled for margin) plus a different fp32 summation order, a few fp32 ulps (2^-24) of
// `magnitude`, the sum of the absolute values of the summed terms.
inline float fp16_output_tolerance(float want, float magnitude) {
    return std::ldexp(std::fabs(want), -10) + std::ldexp(magnitude, -18) + 1e-7f;
}

}  // namespace kernel_test
