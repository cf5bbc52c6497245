// Tests of cuda/conv.cu against its CPU twins (runtime/cpu/conv.h: conv2d_hwc and
// depthwise_conv2d_hwc, given the weights widened by widen_to_f32 as the CPU backend does),
// compiled into the SIMT suite (tests/test_kernel_conv.cpp) and the GPU suite
// (tests/gpu/test_kernel_conv.cu).
#pragma once
// The CPU side first (twins, helpers): their standard headers (<thread>, <functional>) must not
// see the SIMT runtime's __noinline__ macro, which cuda/common.cuh brings in.
#include "runtime/cpu/conv.h"
#include "runtime/cpu/matmul.h"
#include "runtime/cpu/thread_pool.h"

#include "tests/kernels/dense_kernel_test.h"

#include "cuda/conv.cuh"

namespace kernel_test {

struct ConvCase {
    int height, width, c_in, c_out, ksize, stride, pad;
};

// Runs conv2d (depthwise false) or depthwise_conv2d on random data and compares with the twin.
inline void check_conv(bool depthwise, const ConvCase& s, fastvlm::DType dtype, bool with_bias,
                       fastvlm::Activation act) {
    const int taps = (depthwise ? 1 : s.c_in) * s.ksize * s.ksize;  // weights per output channel
    fastvlm::cpu::ConvShape shape;
    shape.in_h = s.height, shape.in_w = s.width, shape.in_c = s.c_in, shape.out_c = s.c_out;
    shape.kernel = s.ksize, shape.stride = s.stride, shape.pad = s.pad;
    shape.out_h = fastvlm::cpu::conv_out_size(s.height, s.ksize, s.stride, s.pad);
    shape.out_w = fastvlm::cpu::conv_out_size(s.width, s.ksize, s.stride, s.pad);
    const size_t pixels = size_t(shape.out_h * shape.out_w), outputs = pixels * size_t(s.c_out);

    Random random(uint64_t(s.height) * 7919 + uint64_t(s.c_in) * 131 + uint64_t(s.c_out) * 17 + uint64_t(s.ksize));
    const std::vector<float> x = random_floats(random, size_t(s.height) * size_t(s.width) * size_t(s.c_in), 1.0f);  // [H, W, Cin]
    const StoredWeights w = random_weights(random, size_t(s.c_out) * size_t(taps), dtype, 1.0f);  // [Cout, Cin or 1, k, k]
    const std::vector<float> bias = random_floats(random, size_t(s.c_out), 1.0f);                 // [Cout]
    const float* bias_ptr = with_bias ? bias.data() : nullptr;

    std::vector<float> w_f32(w.values.size()), want(outputs);
    fastvlm::cpu::widen_to_f32(w.bytes.data(), dtype, w_f32.data(), int64_t(w_f32.size()));
    fastvlm::cpu::ThreadPool pool(1);
    if (depthwise)
        fastvlm::cpu::depthwise_conv2d_hwc(pool, shape, x.data(), w_f32.data(), bias_ptr, want.data(), act);
    else
        fastvlm::cpu::conv2d_hwc(pool, shape, x.data(), w_f32.data(), bias_ptr, want.data(), act);

    // Sum of |terms| per output, over the taps that land inside the input.
    std::vector<float> tolerance(outputs);
    const int multiplier = s.c_out / s.c_in;
    for (size_t p = 0; p < pixels; ++p) {
        const int iy0 = int(p / size_t(shape.out_w)) * s.stride - s.pad, ix0 = int(p % size_t(shape.out_w)) * s.stride - s.pad;
        for (int o = 0; o < s.c_out; ++o) {
            double magnitude = with_bias ? std::fabs(double(bias[size_t(o)])) : 0.0;
            for (int ky = 0; ky < s.ksize; ++ky)
                for (int kx = 0; kx < s.ksize; ++kx) {
                    const int iy = iy0 + ky, ix = ix0 + kx;
                    if (iy < 0 || iy >= s.height || ix < 0 || ix >= s.width) continue;
                    const float* x_pixel = x.data() + (size_t(iy) * size_t(s.width) + size_t(ix)) * size_t(s.c_in);
                    const int c_first = depthwise ? o / multiplier : 0, c_end = depthwise ? c_first + 1 : s.c_in;
                    for (int c = c_first; c < c_end; ++c) {
                        const size_t t = size_t(o) * size_t(taps) + size_t((c - c_first) * s.ksize * s.ksize + ky * s.ksize + kx);
                        magnitude += std::fabs(double(w_f32[t]) * double(x_pixel[c]));
                    }
                }
            tolerance[p * size_t(s.c_out) + size_t(o)] = dense_tolerance(magnitude);
        }
    }

    DeviceBuffer<float> d_x(x), d_bias(bias), d_y(outputs);
    DeviceBuffer<uint8_t> d_w(w.bytes);
    auto run = depthwise ? fastvlm::gpu::depthwise_conv2d : fastvlm::gpu::conv2d;
    run(d_x.get(), d_w.get(), dtype, with_bias ? d_bias.get() : nullptr, d_y.get(), s.height, s.width, s.c_in, s.c_out,
        s.ksize, s.stride, s.pad, act, nullptr);
    check_close_f32(d_y.download<float>(), want, tolerance,
                    std::string(depthwise ? "depthwise_conv2d " : "conv2d ") + std::to_string(s.height) + "x" +
                        std::to_string(s.width) + "x" + std::to_string(s.c_in) + " -> " + std::to_string(s.c_out) +
                        " k " + std::to_string(s.ksize) + " stride " + std::to_string(s.stride) + " pad " +
                        std::to_string(s.pad) + " " + fastvlm::dtype_name(dtype) + (with_bias ? " bias " : " ") +
                        activation_name(act));
}

using fastvlm::Activation;
using fastvlm::DType;

TEST_CASE("kernel conv2d: matches the CPU twin on awkward shapes") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_conv(false, {5, 7, 3, 5, 3, 2, 1}, DType::F32, true, Activation::GELU);     // stem-like, odd sides
        check_conv(false, {4, 4, 1, 1, 1, 1, 0}, DType::F16, false, Activation::None);    // 1x1, one channel
        check_conv(false, {6, 5, 2, 33, 3, 1, 1}, DType::BF16, true, Activation::ReLU);   // 33 outputs: a partial channel tile
        check_conv(false, {7, 6, 3, 8, 3, 2, 0}, DType::F16, true, Activation::Sigmoid);  // no padding, stride 2
        check_conv(false, {5, 5, 48, 9, 3, 1, 2}, DType::F32, true, Activation::None);    // 432 taps: weights read from global memory
        check_conv(false, {3, 4, 2, 3, 5, 2, 2}, DType::BF16, false, Activation::GELU);   // window wider than the input
    });
}

TEST_CASE("kernel depthwise_conv2d: matches the CPU twin on awkward shapes") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_conv(true, {5, 7, 4, 4, 3, 1, 1}, DType::F32, true, Activation::None);      // 3x3 token mixer
        check_conv(true, {7, 9, 3, 6, 7, 2, 3}, DType::F16, true, Activation::GELU);      // 7x7 stride 2, multiplier 2
        check_conv(true, {6, 6, 40, 40, 7, 1, 3}, DType::BF16, false, Activation::ReLU);  // 40 channels: two tiles
        check_conv(true, {3, 5, 2, 4, 3, 2, 1}, DType::F16, true, Activation::Sigmoid);   // multiplier 2, stride 2, odd sides
        check_conv(true, {6, 5, 5, 10, 5, 1, 0}, DType::F32, false, Activation::GELU);    // no padding
        check_conv(true, {4, 5, 3, 3, 21, 1, 10}, DType::BF16, true, Activation::GELU);   // 441 taps: weights from global memory
    });
}

TEST_CASE("kernel conv2d / depthwise_conv2d: match the CPU twins on FastViTHD-like shapes") {
    REQUIRE_DEVICE();
    check_conv(false, {32, 32, 3, 96, 3, 2, 1}, DType::F16, true, Activation::GELU);  // stem conv
    check_conv(true, {16, 16, 48, 96, 7, 2, 3}, DType::F32, true, Activation::GELU);  // downsampling 7x7, multiplier 2
    check_conv(true, {12, 12, 64, 64, 7, 1, 3}, DType::BF16, true, Activation::None); // ConvFFN 7x7
}

TEST_CASE("kernel conv2d / depthwise_conv2d: reject bad arguments") {
    REQUIRE_DEVICE();
    DeviceBuffer<float> buffer(1024);
    float* p = buffer.get();
    const Activation none = Activation::None;
    CHECK(test::error_of([&] { fastvlm::gpu::conv2d(p, p, DType::F32, nullptr, p + 512, 5, 5, 3, 8, 3, 0, 1, none, nullptr); }) ==
          "conv2d: bad convolution: kernel 3, stride 0, pad 1, input 5x5x3, 8 outputs");
    CHECK(test::error_of([&] { fastvlm::gpu::conv2d(p, p, DType::F32, nullptr, p + 512, 3, 3, 3, 8, 7, 1, 1, none, nullptr); }) ==
          "conv2d: kernel 7 is larger than the input 3x3 padded by 1");
    CHECK(test::error_of([&] { fastvlm::gpu::depthwise_conv2d(p, p, DType::F32, nullptr, p + 512, 4, 4, 2, 5, 3, 1, 1, none, nullptr); }) ==
          "depthwise_conv2d: 5 output channels are not a multiple of 2 inputs");
    CHECK(test::error_of([&] { fastvlm::gpu::depthwise_conv2d(p, p, DType::I32, nullptr, p + 512, 4, 4, 2, 4, 3, 1, 1, none, nullptr); }) ==
          "depthwise_conv2d: weight has dtype I32 (expected F32, F16 or BF16)");
    CHECK(test::error_of([&] { fastvlm::gpu::conv2d(p, nullptr, DType::F16, nullptr, p + 512, 4, 4, 2, 4, 3, 1, 1, none, nullptr); }) ==
          "conv2d: null pointer among x, w, y");
    CHECK(test::error_of([&] { fastvlm::gpu::depthwise_conv2d(p, p + 256, DType::F16, nullptr, p, 4, 4, 2, 4, 3, 1, 1, none, nullptr); }) ==
          "depthwise_conv2d: output aliases the input");
    CHECK(test::error_of([&] { fastvlm::gpu::conv2d(p, p, DType::F32, nullptr, p + 512, 1 << 30, 4, 3, 8, 3, 1, 1, none, nullptr); }) ==
          "conv2d: convolution too large: input 1073741824x4x3, kernel 3, 8 outputs");
}

}  // namespace kernel_test
