// __half arithmetic of the SIMT runtime rounds like the device: one round-to-nearest-even
// per operation. Checked against exact arithmetic: every fp16 value is a multiple of 2^-24,
// so sums and products (and the cross-multiplied form of quotients) are exact integers in
// units of 2^-48, which fit in 128 bits.
#include "tests/test_util.h"

#include <cmath>

#include "cuda/common.cuh"
#include "runtime/half.h"

namespace {

using Exact = __int128;

// The value of a finite fp16 in units of 2^-24.
Exact units(uint16_t h) {
    const int exp = (h >> 10) & 31, mant = h & 1023;
    const Exact magnitude = exp == 0 ? Exact(mant) : Exact(1024 + mant) << (exp - 1);
    return (h & 0x8000) ? -magnitude : magnitude;
}
bool finite(uint16_t h) { return ((h >> 10) & 31) != 31; }
Exact abs128(Exact v) { return v < 0 ? -v : v; }
const Exact k2pow24 = Exact(1) << 24;  // units of 2^-24 -> units of 2^-48 (a multiply: values may be negative)

// fp16 values in order, so that "the next value" is well defined across zero.
int order(uint16_t h) { return (h & 0x8000) ? -int(h & 0x7fff) : int(h); }
uint16_t from_order(int o) { return o < 0 ? uint16_t(0x8000 | -o) : uint16_t(o); }

// True when `got` is the correctly rounded result: no neighbour on the fp16 grid is nearer to
// the exact value, and on a tie `got` has the even significand. distance(h) is |exact - h|
// in any common unit.
template <typename Distance>
bool is_nearest_even(uint16_t got, Distance distance) {
    if (!finite(got)) return false;
    const Exact d = distance(got);
    for (int step : {-1, 1}) {
        const uint16_t n = from_order(order(got) + step);
        if (!finite(n)) continue;
        const Exact dn = distance(n);
        if (dn < d || (dn == d && (got & 1) && !(n & 1))) return false;
    }
    return true;
}

__half bits(uint16_t b) { return __ushort_as_half(b); }

}  // namespace

TEST_CASE("simt half: add, sub, mul, fma and div round once to nearest even") {
    uint64_t state = 12345;
    auto next_half = [&] {
        for (;;) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            const uint16_t h = uint16_t(state >> 48);
            if (finite(h)) return h;
        }
    };
    const Exact max_finite = Exact(65504) << 48, overflow = Exact(65520) << 48;  // |x| >= 65520 rounds to inf
    int checked = 0;
    for (int i = 0; i < 200000; ++i) {
        const uint16_t a = next_half(), b = next_half(), c = next_half();
        const Exact ua = units(a), ub = units(b), uc = units(c);
        const struct {
            const char* name;
            uint16_t got;
            Exact exact;  // in units of 2^-48
        } ops[] = {{"add", __half_as_ushort(__hadd(bits(a), bits(b))), (ua + ub) * k2pow24},
                   {"sub", __half_as_ushort(__hsub(bits(a), bits(b))), (ua - ub) * k2pow24},
                   {"mul", __half_as_ushort(__hmul(bits(a), bits(b))), ua * ub},
                   {"fma", __half_as_ushort(__hfma(bits(a), bits(b), bits(c))), ua * ub + uc * k2pow24}};
        for (const auto& op : ops) {
            if (abs128(op.exact) >= overflow) {
                CHECK_MESSAGE((op.got & 0x7fff) == 0x7c00, std::string(op.name) << " of " << a << ", " << b << " should overflow");
                continue;
            }
            const bool ok = is_nearest_even(op.got, [&](uint16_t h) { return abs128(op.exact - units(h) * k2pow24); });
            if (!ok) FAIL_CHECK(std::string(op.name) << " of fp16 bits " << a << ", " << b << ", " << c << " gave " << op.got);
            ++checked;
        }
        if (ub != 0) {  // a / b: minimise |a - q b|, exact in units of 2^-48
            const uint16_t q = __half_as_ushort(__hdiv(bits(a), bits(b)));
            if (finite(q) && abs128(units(q)) <= max_finite >> 24) {
                const bool ok = is_nearest_even(q, [&](uint16_t h) { return abs128(ua * k2pow24 - units(h) * ub); });
                if (!ok) FAIL_CHECK("div of fp16 bits " << a << ", " << b << " gave " << q);
            }
        }
    }
    CHECK(checked > 500000);
}

TEST_CASE("simt half: conversions and the device's NaN") {
    CHECK(__half_as_ushort(__float2half(1.0f + 1.0f / 2048)) == 0x3c00);        // tie to even
    CHECK(__half_as_ushort(__float2half_rz(1.0f + 1.0f / 1024 * 0.99f)) == 0x3c00);
    CHECK(__half_as_ushort(__float2half_rz(-65535.0f)) == 0xfbff);            // toward zero: no infinity
    CHECK(__half_as_ushort(__float2half(NAN)) == 0x7fff);
    CHECK(__half2float(__float2half(-0.0f)) == 0.0f);
    CHECK(std::signbit(__half2float(__float2half(-0.0f))));
    for (uint32_t h = 0; h < 65536; h += 7) {
        const float f = __half2float(bits(uint16_t(h)));
        if (std::isnan(f)) continue;
        REQUIRE(f == fastvlm::fp16_to_float(uint16_t(h)));
        REQUIRE(__half_as_ushort(__float2half(f)) == h);
    }
    const float2 pair = __half22float2(__floats2half2_rn(0.1f, -3.0f));
    CHECK(pair.x == fastvlm::fp16_to_float(fastvlm::float_to_fp16(0.1f)));
    CHECK(pair.y == -3.0f);
}
