#include "tests/test_util.h"

#include <cmath>

#include "runtime/half.h"

using namespace fastvlm;

TEST_CASE("half: fp16 round trip of every bit pattern") {
    for (uint32_t h = 0; h < 65536; ++h) {
        float f = fp16_to_float(uint16_t(h));
        if (std::isnan(f)) {
            CHECK(std::isnan(fp16_to_float(float_to_fp16(f))));
            continue;
        }
        REQUIRE(float_to_fp16(f) == h);
    }
}

TEST_CASE("half: fp16 rounding to nearest even and overflow") {
    CHECK(fp16_to_float(float_to_fp16(1.0f + 1.0f / 2048)) == 1.0f);          // tie -> even
    CHECK(fp16_to_float(float_to_fp16(1.0f + 3.0f / 2048)) == 1.0f + 2.0f / 1024);
    CHECK(fp16_to_float(float_to_fp16(65504.0f)) == 65504.0f);
    CHECK(std::isinf(fp16_to_float(float_to_fp16(65520.0f))));
    CHECK(fp16_to_float(float_to_fp16(65519.0f)) == 65504.0f);
    CHECK(fp16_to_float(float_to_fp16(std::ldexp(1.0f, -25))) == 0.0f);        // tie -> 0
    CHECK(fp16_to_float(float_to_fp16(std::ldexp(1.5f, -25))) == std::ldexp(1.0f, -24));
}

TEST_CASE("half: bf16 rounding") {
    CHECK(bf16_to_float(float_to_bf16(1.0f)) == 1.0f);
    CHECK(float_to_bf16(1.0f + std::ldexp(1.0f, -8)) == float_to_bf16(1.0f));  // tie -> even
    CHECK(bf16_to_float(float_to_bf16(1.0f + std::ldexp(3.0f, -9))) == 1.0f + std::ldexp(1.0f, -7));
    CHECK(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
}
