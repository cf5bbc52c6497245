// Tests of the PTX wrappers (cuda/ptx.cuh) against plain matrix products and the layout
// tables of the PTX ISA manual, compiled into the SIMT suite (tests/test_simt_ptx.cpp), where
// they check the CPU definitions, and the GPU suite (tests/gpu/test_kernels.cu), where the
// same expectations check the hardware, and with it the CPU definitions' reading of the manual.
#pragma once
#include <numeric>

#include "tests/kernels/kernel_test.h"
#include "tests/kernels/ptx_test_kernels.cuh"

namespace kernel_test {

// Small integers and halves keep every product and sum exact in fp32.
inline std::vector<uint16_t> small_halves(size_t n, int seed) {
    std::vector<uint16_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = fastvlm::float_to_fp16(float(int((i * 7 + size_t(seed) * 13) % 9) - 4) * 0.5f);
    return v;
}

// D = A B + C for a [16][16] row-major, b_nk [8][16] (b[n][k]), c [16][8].
inline std::vector<float> reference_mma_f16(const std::vector<uint16_t>& a, const std::vector<uint16_t>& b_nk,
                                            const std::vector<float>& c) {
    std::vector<float> d(128);
    for (int m = 0; m < 16; ++m)
        for (int n = 0; n < 8; ++n) {
            double sum = c[size_t(m * 8 + n)];
            for (int k = 0; k < 16; ++k)
                sum += double(fastvlm::fp16_to_float(a[size_t(m * 16 + k)])) *
                       double(fastvlm::fp16_to_float(b_nk[size_t(n * 16 + k)]));
            d[size_t(m * 8 + n)] = float(sum);
        }
    return d;
}

TEST_CASE("ptx: mma m16n8k16 f16 -> f32 equals the matrix product, fragments direct or by ldmatrix") {
    REQUIRE_DEVICE();
    const std::vector<uint16_t> a = small_halves(256, 1), b_nk = small_halves(128, 2);
    std::vector<uint16_t> b_kn(128);  // the same B, stored [k][n]
    for (int n = 0; n < 8; ++n)
        for (int k = 0; k < 16; ++k) b_kn[size_t(k * 8 + n)] = b_nk[size_t(n * 16 + k)];
    std::vector<float> c(128);
    for (size_t i = 0; i < c.size(); ++i) c[i] = float(i % 11) - 5.0f;
    const std::vector<float> want = reference_mma_f16(a, b_nk, c);

    DeviceBuffer<__half> d_a(a), d_b_nk(b_nk), d_b_kn(b_kn);
    DeviceBuffer<float> d_c(c), d_d(128);
    ptx_test::mma_f16_direct(d_a.get(), d_b_nk.get(), d_c.get(), d_d.get());
    CHECK(d_d.download<float>() == want);
    ptx_test::mma_f16_ldmatrix(d_a.get(), d_b_kn.get(), d_c.get(), d_d.get());
    CHECK(d_d.download<float>() == want);
}

TEST_CASE("ptx: mma m16n8k32 s8 -> s32 equals the integer matrix product, fragments direct or by ldmatrix") {
    REQUIRE_DEVICE();
    std::vector<int8_t> a(512), b_nk(256);
    for (size_t i = 0; i < a.size(); ++i) a[i] = int8_t(int((i * 37 + 11) % 255) - 127);  // full int8 range
    for (size_t i = 0; i < b_nk.size(); ++i) b_nk[i] = int8_t(int((i * 53 + 5) % 256) - 128);
    std::vector<int> c(128), want(128);
    for (size_t i = 0; i < c.size(); ++i) c[i] = int(i) * 1000 - 64000;
    for (int m = 0; m < 16; ++m)
        for (int n = 0; n < 8; ++n) {
            int sum = c[size_t(m * 8 + n)];
            for (int k = 0; k < 32; ++k) sum += int(a[size_t(m * 32 + k)]) * int(b_nk[size_t(n * 32 + k)]);
            want[size_t(m * 8 + n)] = sum;
        }
    DeviceBuffer<int8_t> d_a(a), d_b(b_nk);
    DeviceBuffer<int> d_c(c), d_d(128);
    ptx_test::mma_s8(d_a.get(), d_b.get(), d_c.get(), d_d.get(), false);
    CHECK(d_d.download<int>() == want);
    ptx_test::mma_s8(d_a.get(), d_b.get(), d_c.get(), d_d.get(), true);
    CHECK(d_d.download<int>() == want);
}

TEST_CASE("ptx: ldmatrix x1, x2, x4 and .trans deliver the manual's fragment of each 8x8 matrix") {
    REQUIRE_DEVICE();
    std::vector<uint16_t> m(256);  // [32][8]: element value = its index, so every register names its source
    for (size_t i = 0; i < m.size(); ++i) m[i] = uint16_t(i);
    DeviceBuffer<__half> d_m(m);
    DeviceBuffer<uint32_t> d_regs(128);
    const struct {
        int count;
        bool transpose;
    } variants[] = {{1, false}, {2, false}, {4, false}, {2, true}, {4, true}};
    for (const auto& variant : variants) {
        ptx_test::ldmatrix_rows(d_m.get(), d_regs.get(), variant.count, variant.transpose);
        const std::vector<uint32_t> regs = d_regs.download<uint32_t>();
        for (int lane = 0; lane < 32; ++lane)
            for (int i = 0; i < 4; ++i) {
                // Matrix i, lane l: row l/4, elements 2(l%4) and 2(l%4)+1; transposed, column l/4.
                const int r = lane / 4, c = 2 * (lane % 4);
                const uint32_t lo = variant.transpose ? uint32_t((8 * i + c) * 8 + r) : uint32_t((8 * i + r) * 8 + c);
                const uint32_t hi = variant.transpose ? uint32_t((8 * i + c + 1) * 8 + r) : lo + 1;
                const uint32_t want = i < variant.count ? (lo | (hi << 16)) : 0u;
                CHECK_MESSAGE(regs[size_t(lane * 4 + i)] == want,
                              "x" << variant.count << (variant.transpose ? ".trans" : "") << " lane " << lane
                                  << " register " << i);
            }
    }
}

TEST_CASE("ptx: cp.async groups land in order, with zero-filled tails") {
    REQUIRE_DEVICE();
    for (int n : {4, 37, 256}) {
        std::vector<int> in(size_t(n) + 3, -7);  // -7 beyond n must not be copied
        std::iota(in.begin(), in.begin() + n, 1);
        DeviceBuffer<int> d_in(in), d_out(256);
        FASTVLM_CUDA_CHECK(cudaMemset(d_out.get(), 0xff, 256 * sizeof(int)));
        ptx_test::async_copy_two_stages(d_in.get(), d_out.get(), n);
        const std::vector<int> out = d_out.download<int>();
        const int copied = (n + 3) / 4 * 4;
        for (int i = 0; i < 256; ++i) {
            const int want = i < n ? i + 1 : (i < copied ? 0 : -1);
            CHECK_MESSAGE(out[size_t(i)] == want, "n " << n << " element " << i);
        }
    }
}

TEST_CASE("ptx: dp4a adds the dot product of four signed bytes") {
    REQUIRE_DEVICE();
    std::vector<int> a(64), b(64), c(64), want(64);
    for (int i = 0; i < 64; ++i) {
        a[size_t(i)] = int(0x80017f05u * unsigned(i + 1));
        b[size_t(i)] = int(0x7f80ff03u ^ unsigned(i * 0x01020304));
        c[size_t(i)] = i * 1000 - 30000;
        int sum = c[size_t(i)];
        for (int j = 0; j < 4; ++j) sum += int(int8_t(a[size_t(i)] >> (8 * j))) * int(int8_t(b[size_t(i)] >> (8 * j)));
        want[size_t(i)] = sum;
    }
    DeviceBuffer<int> d_a(a), d_b(b), d_c(c), d_d(64);
    ptx_test::dp4a(d_a.get(), d_b.get(), d_c.get(), d_d.get());
    CHECK(d_d.download<int>() == want);
}

}  // namespace kernel_test
