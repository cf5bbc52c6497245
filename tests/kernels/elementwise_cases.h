// Tests of cuda/elementwise.cu against the CPU backend's twins (activate, add, add_scaled,
// copy, transpose, mean_rows, scale_channels) and the fp16 conversions of runtime/half.h,
// compiled into the SIMT suite (tests/test_kernel_elementwise.cpp) and the GPU suite
// (tests/gpu/test_kernel_elementwise.cu).
#pragma once
#include <limits>

// First: it brings in the standard headers before cuda/simt/simt.h defines its qualifier macros.
#include "tests/kernels/backend_ops_f32_test.h"

#include "cuda/elementwise.cuh"
#include "cuda/quant_common.cuh"

namespace kernel_test {

using fastvlm::Activation;
using fastvlm::DType;

// More elements than the capped grid has threads (1024 blocks of 256): the grid-stride loops
// take a second step.
constexpr size_t kPastTheGrid = size_t(1024) * 256 + 1000;

inline void check_activate(size_t n, Activation act) {
    Random random(n * 3 + size_t(act));
    const std::vector<float> x = random_floats(random, n, 6.0f);
    fastvlm::Tensor ref = host_tensor(x, {int64_t(n)});
    reference_backend().activate(ref, act);
    const std::vector<float> want = host_values(ref);

    DeviceBuffer<float> d_x(x);
    fastvlm::gpu::activate(d_x.get(), n, act, nullptr);
    const std::vector<float> got = d_x.download<float>();
    const std::string what = "activate " + std::to_string(int(act)) + ", n " + std::to_string(n);
    if (act == Activation::None || act == Activation::ReLU) return check_exact(got, want, what);
    // The CPU twin uses polynomial forms (runtime/cpu/vec_math.h): erf within 4.3e-7 absolute
    // (plus a couple of ulps of erff on the device), so GELU within 0.5 |x| (4.3e-7 + 2^-22);
    // exp within a few ulps, so sigmoid within 2^-20 relative.
    std::vector<float> tolerance(n);
    for (size_t i = 0; i < n; ++i)
        tolerance[i] = act == Activation::GELU ? 0.5f * std::fabs(x[i]) * (4.3e-7f + std::ldexp(1.0f, -22)) +
                                                     std::ldexp(std::fabs(want[i]), -21)
                                               : std::ldexp(std::fabs(want[i]), -20);
    check_close_f32(got, want, tolerance, what);
}

TEST_CASE("kernel activate: matches the CPU backend for every activation") {
    REQUIRE_DEVICE();
    for (Activation act : {Activation::None, Activation::GELU, Activation::ReLU, Activation::Sigmoid}) {
        check_activate(1, act);
        check_activate(1003, act);
    }
    check_activate(kPastTheGrid, Activation::GELU);
}

inline void check_add(size_t n, bool same_buffer) {
    Random random(n + 11);
    const std::vector<float> y = random_floats(random, n, 3.0f), x = random_floats(random, n, 3.0f);
    fastvlm::Tensor ref_y = host_tensor(y, {int64_t(n)});
    reference_backend().add(ref_y, same_buffer ? ref_y : host_tensor(x, {int64_t(n)}));
    DeviceBuffer<float> d_y(y), d_x(x);
    fastvlm::gpu::add(d_y.get(), same_buffer ? d_y.get() : d_x.get(), n, nullptr);
    check_exact(d_y.download<float>(), host_values(ref_y), "add n " + std::to_string(n));  // one rounding each side
}

TEST_CASE("kernel add: y += x exactly as the CPU backend, y += y too") {
    REQUIRE_DEVICE();
    check_add(1, false);
    check_add(4099, false);
    check_add(130, true);
    fastvlm::gpu::add(nullptr, nullptr, 0, nullptr);  // nothing to do, nothing launched
}

inline void check_add_scaled(int rows, int cols, DType scale_dtype) {
    Random random(uint64_t(rows) * 7 + uint64_t(cols) + uint64_t(scale_dtype));
    const size_t n = size_t(rows) * size_t(cols);
    const std::vector<float> y = random_floats(random, n, 2.0f), x = random_floats(random, n, 2.0f);
    const std::vector<uint8_t> scale = encode(random_floats(random, size_t(cols), 1.0f), scale_dtype);
    fastvlm::Tensor ref_y = host_tensor(y, {rows, cols});
    fastvlm::Tensor ref_scale = host_tensor(scale, scale_dtype, {cols});
    reference_backend().add_scaled(ref_y, host_tensor(x, {rows, cols}), ref_scale);
    const std::vector<float> want = host_values(ref_y), s = host_values(ref_scale);

    DeviceBuffer<float> d_y(y), d_x(x);
    DeviceBuffer<uint8_t> d_scale(scale);
    fastvlm::gpu::add_scaled(d_y.get(), d_x.get(), d_scale.get(), scale_dtype, rows, cols, nullptr);
    // Either side may fuse s * x + y into one fma: they differ by at most the rounding of the
    // product and one of the sum.
    std::vector<float> tolerance(n);
    for (size_t i = 0; i < n; ++i)
        tolerance[i] = std::ldexp(std::fabs(s[i % size_t(cols)] * x[i]) + std::fabs(want[i]), -23);
    check_close_f32(d_y.download<float>(), want, tolerance,
                    "add_scaled " + shape_name(rows, cols) + " " + fastvlm::dtype_name(scale_dtype));
}

TEST_CASE("kernel add_scaled: matches the CPU backend for F32, F16 and BF16 scales") {
    REQUIRE_DEVICE();
    for (DType dtype : {DType::F32, DType::F16, DType::BF16}) {
        check_add_scaled(1, 1, dtype);
        check_add_scaled(3, 7, dtype);
        check_add_scaled(65, 130, dtype);
    }
    check_add_scaled(kPastTheGrid / 1000, 1000, DType::F16);  // the column walk across grid steps
    fastvlm::gpu::add_scaled(nullptr, nullptr, nullptr, DType::F32, 0, 5, nullptr);
}

TEST_CASE("kernel copy: copies exactly; the same buffer is a no-op") {
    REQUIRE_DEVICE();
    Random random(5);
    const std::vector<float> x = random_floats(random, 1001, 100.0f);
    DeviceBuffer<float> d_x(x), d_y(x.size());
    fastvlm::gpu::copy(d_y.get(), d_x.get(), x.size(), nullptr);
    check_exact(d_y.download<float>(), x, "copy");
    fastvlm::gpu::copy(d_x.get(), d_x.get(), x.size(), nullptr);
    check_exact(d_x.download<float>(), x, "copy onto itself");
}

inline void check_transpose(int rows, int cols) {
    Random random(uint64_t(rows) * 13 + uint64_t(cols));
    const std::vector<float> x = random_floats(random, size_t(rows) * size_t(cols), 10.0f);
    fastvlm::Tensor ref_y = reference_backend().alloc(DType::F32, {cols, rows});
    reference_backend().transpose(ref_y, host_tensor(x, {rows, cols}));
    DeviceBuffer<float> d_x(x), d_y(x.size());
    fastvlm::gpu::transpose(d_y.get(), d_x.get(), rows, cols, nullptr);
    check_exact(d_y.download<float>(), host_values(ref_y), "transpose " + shape_name(rows, cols));
}

TEST_CASE("kernel transpose: matches the CPU backend exactly on ragged tiles") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_transpose(1, 1);
        check_transpose(1, 37);  // one row: a single partial tile
        check_transpose(37, 1);
        check_transpose(33, 65);  // one past whole tiles both ways
        check_transpose(64, 96);  // whole tiles only
    });
    check_transpose(3, 64 * 64);         // the CHW -> HWC pixel transpose of a 64x64 image
    check_transpose(1, 1024 * 32 + 40);  // more tiles than the capped grid: blocks take a second tile
}

inline void check_mean_rows(int rows, int cols) {
    Random random(uint64_t(rows) * 17 + uint64_t(cols));
    const std::vector<float> x = random_floats(random, size_t(rows) * size_t(cols), 4.0f, 1.0f);
    fastvlm::Tensor ref_y = reference_backend().alloc(DType::F32, {1, cols});
    reference_backend().mean_rows(ref_y, host_tensor(x, {rows, cols}));
    DeviceBuffer<float> d_x(x), d_y{size_t(cols)};
    fastvlm::gpu::mean_rows(d_y.get(), d_x.get(), rows, cols, nullptr);
    // Both sum each column in row order in fp32 and divide once: the same roundings.
    check_exact(d_y.download<float>(), host_values(ref_y), "mean_rows " + shape_name(rows, cols));
}

TEST_CASE("kernel mean_rows: matches the CPU backend exactly") {
    REQUIRE_DEVICE();
    check_mean_rows(1, 1);
    check_mean_rows(1, 5);
    check_mean_rows(7, 3);
    check_mean_rows(300, 70);
    check_mean_rows(2, 1024 * 256 + 7);  // more columns than the capped grid has threads
}

inline void check_scale_channels(int rows, int cols) {
    Random random(uint64_t(rows) * 19 + uint64_t(cols));
    const std::vector<float> x = random_floats(random, size_t(rows) * size_t(cols), 4.0f);
    const std::vector<float> s = random_floats(random, size_t(cols), 2.0f);
    fastvlm::Tensor ref_x = host_tensor(x, {rows, cols});
    reference_backend().scale_channels(ref_x, host_tensor(s, {1, cols}));
    DeviceBuffer<float> d_x(x), d_s(s);
    fastvlm::gpu::scale_channels(d_x.get(), d_s.get(), rows, cols, nullptr);
    check_exact(d_x.download<float>(), host_values(ref_x), "scale_channels " + shape_name(rows, cols));  // one product
}

TEST_CASE("kernel scale_channels: matches the CPU backend exactly") {
    REQUIRE_DEVICE();
    check_scale_channels(1, 1);
    check_scale_channels(5, 3);
    check_scale_channels(64, 257);
    check_scale_channels(int(kPastTheGrid / 999), 999);  // the column walk across grid steps
}

// Values that probe fp16 rounding: ties both ways, the subnormal range, the overflow edge,
// infinities, signed zero, NaN, and random values over the whole fp16 range.
inline std::vector<float> fp16_probe_values() {
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> v = {0.0f,
                            -0.0f,
                            1.0f,
                            -1.0f,
                            1.0f + std::ldexp(1.0f, -11),
                            1.0f + 3 * std::ldexp(1.0f, -11),
                            65504.0f,
                            65519.0f,
                            65520.0f,
                            -65520.0f,
                            1e6f,
                            inf,
                            -inf,
                            std::numeric_limits<float>::quiet_NaN(),
                            std::ldexp(1.0f, -24),
                            std::ldexp(1.0f, -25),
                            std::ldexp(3.0f, -26),
                            std::ldexp(1.0f, -14) * 0.999f,
                            1e-10f,
                            -3.0e-6f};
    Random random(99);
    for (int i = 0; i < 2000; ++i) v.push_back(std::ldexp(random.uniform(1.0f), int(random.uniform(20.0f))));
    return v;
}

TEST_CASE("kernel round_to_fp16: matches the host rounding bit for bit") {
    REQUIRE_DEVICE();
    const std::vector<float> x = fp16_probe_values();
    std::vector<float> want(x.size());
    for (size_t i = 0; i < x.size(); ++i) want[i] = fastvlm::quant::round_to_fp16(x[i]);
    DeviceBuffer<float> d_x(x);
    fastvlm::gpu::round_to_fp16(d_x.get(), x.size(), nullptr);
    check_exact(d_x.download<float>(), want, "round_to_fp16");
}

TEST_CASE("kernel f32_to_f16 and f16_to_f32: match runtime/half.h bit for bit") {
    REQUIRE_DEVICE();
    const std::vector<float> x = fp16_probe_values();
    DeviceBuffer<float> d_x(x);
    DeviceBuffer<__half> d_h(x.size());
    fastvlm::gpu::f32_to_f16(d_x.get(), d_h.get(), x.size(), nullptr);
    const std::vector<uint16_t> h = d_h.download<uint16_t>();
    for (size_t i = 0; i < x.size(); ++i) {
        if (std::isnan(x[i])) {  // NaN payloads differ (the device writes 0x7fff): only NaN-ness is fixed
            CHECK(std::isnan(fastvlm::fp16_to_float(h[i])));
            continue;
        }
        if (h[i] != fastvlm::float_to_fp16(x[i]))
            FAIL_CHECK("f32_to_f16 of " << x[i] << " gave bits " << h[i] << ", expected "
                                        << fastvlm::float_to_fp16(x[i]));
    }

    std::vector<uint16_t> every(1 << 16);  // every fp16 bit pattern
    std::vector<float> want(every.size());
    for (size_t i = 0; i < every.size(); ++i) {
        every[i] = uint16_t(i);
        want[i] = fastvlm::fp16_to_float(every[i]);
    }
    DeviceBuffer<__half> d_every(every);
    DeviceBuffer<float> d_wide(every.size());
    fastvlm::gpu::f16_to_f32(d_every.get(), d_wide.get(), every.size(), nullptr);
    check_exact(d_wide.download<float>(), want, "f16_to_f32");
}

TEST_CASE("kernel widen_to_f32: every fp16 and bf16 bit pattern as runtime/half.h widens it") {
    REQUIRE_DEVICE();
    std::vector<uint16_t> every(1 << 16);
    for (size_t i = 0; i < every.size(); ++i) every[i] = uint16_t(i);
    DeviceBuffer<uint16_t> d_every(every);
    DeviceBuffer<float> d_wide(every.size());
    for (const DType dtype : {DType::F16, DType::BF16}) {
        fastvlm::gpu::widen_to_f32(d_every.get(), dtype, d_wide.get(), every.size(), nullptr);
        const std::vector<float> got = d_wide.download<float>();
        for (size_t i = 0; i < every.size(); ++i) {
            const float want = dtype == DType::F16 ? fastvlm::fp16_to_float(every[i]) : fastvlm::bf16_to_float(every[i]);
            if (fastvlm::float_to_bits(got[i]) != fastvlm::float_to_bits(want) && !(std::isnan(got[i]) && std::isnan(want)))
                FAIL_CHECK(dtype_name(dtype) << " bits " << i << " widened to " << got[i] << ", expected " << want);
        }
    }
    const std::vector<float> floats = {1.5f, -0.0f, 3e38f};
    DeviceBuffer<float> d_floats(floats), d_copy(floats.size());
    fastvlm::gpu::widen_to_f32(d_floats.get(), DType::F32, d_copy.get(), floats.size(), nullptr);
    CHECK(d_copy.download<float>() == floats);
    CHECK(test::error_of([&] { fastvlm::gpu::widen_to_f32(d_floats.get(), DType::I8, d_copy.get(), 1, nullptr); }) ==
          "widen_to_f32: input has dtype I8 (expected F32, F16 or BF16)");
}

TEST_CASE("kernel f32_to_bf16: matches runtime/half.h (PyTorch's cast) bit for bit") {
    REQUIRE_DEVICE();
    std::vector<float> x = fp16_probe_values();
    for (uint32_t bits : {0x3f808000u, 0x3f818000u, 0x3f80ffffu, 0x7f7fffffu, 0xff7fffffu, 0x00008000u, 0x80018000u,
                          0x7f800001u, 0xffc00000u, 0x7fbfffffu})  // ties both ways, overflow, subnormals, NaNs
        x.push_back(fastvlm::bits_to_float(bits));
    DeviceBuffer<float> d_x(x);
    DeviceBuffer<uint16_t> d_b(x.size());
    fastvlm::gpu::f32_to_bf16(d_x.get(), d_b.get(), x.size(), nullptr);
    const std::vector<uint16_t> b = d_b.download<uint16_t>();
    for (size_t i = 0; i < x.size(); ++i)
        if (b[i] != fastvlm::float_to_bf16(x[i]))
            FAIL_CHECK("f32_to_bf16 of " << x[i] << " (bits " << fastvlm::float_to_bits(x[i]) << ") gave " << b[i]
                                         << ", expected " << fastvlm::float_to_bf16(x[i]));
}

TEST_CASE("kernel elementwise: rejects bad shapes, dtypes and overlaps") {
    REQUIRE_DEVICE();
    DeviceBuffer<float> d(64);
    float* p = d.get();
    CHECK(test::error_of([&] { fastvlm::gpu::activate(p, 4, Activation(7), nullptr); }) ==
          "activate: unknown activation 7");
    CHECK(test::error_of([&] { fastvlm::gpu::add_scaled(p, p, p, DType::F32, -1, 4, nullptr); }) ==
          "add_scaled: bad shape: rows -1, cols 4");
    CHECK(test::error_of([&] { fastvlm::gpu::add_scaled(p, p, p, DType::I8, 1, 4, nullptr); }) ==
          "add_scaled: scale has dtype I8 (expected F32, F16 or BF16)");
    CHECK(test::error_of([&] { fastvlm::gpu::copy(p + 1, p, 8, nullptr); }) ==
          "copy: source and destination of 8 floats overlap");
    CHECK(test::error_of([&] { fastvlm::gpu::transpose(p, p, 4, 4, nullptr); }) ==
          "transpose: output overlaps the input");
    CHECK(test::error_of([&] { fastvlm::gpu::transpose(p, p + 16, 4, -4, nullptr); }) ==
          "transpose: bad shape: rows 4, cols -4");
    CHECK(test::error_of([&] { fastvlm::gpu::mean_rows(p, p + 8, 0, 8, nullptr); }) ==
          "mean_rows: the mean of 0 rows is undefined");
    CHECK(test::error_of([&] { fastvlm::gpu::scale_channels(p, p, 2, -3, nullptr); }) ==
          "scale_channels: bad shape: rows 2, cols -3");
}

}  // namespace kernel_test
