// Host conversions between fp32 and the 16-bit float formats stored in checkpoints.
// Round-to-nearest-even, NaN and infinity preserved, subnormals exact; bit-exact with
// PyTorch's .half() / .bfloat16() casts.
#pragma once
#include <cstdint>
#include <cstring>

namespace fastvlm {

inline float bits_to_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t float_to_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

inline float bf16_to_float(uint16_t h) { return bits_to_float(uint32_t(h) << 16); }

inline uint16_t float_to_bf16(float f) {
    uint32_t u = float_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);                                         // round to nearest even
    return uint16_t(u >> 16);
}

inline float fp16_to_float(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | (mant << 13));  // inf / NaN
    if (exp == 0) {
        if (mant == 0) return bits_to_float(sign);
        // subnormal: value = mant * 2^-24, exactly representable in fp32
        float v = float(mant) * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return bits_to_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

inline uint16_t float_to_fp16(float f) {
    uint32_t u = float_to_bits(f);
    uint16_t sign = uint16_t((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u);       // NaN
    if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);      // rounds to >= 65520: inf
    if (a < 0x38800000u) {                                      // below the smallest normal 2^-14
        // subnormal or zero: scale to units of 2^-24 and round to nearest even
        float v = bits_to_float(a) * 16777216.0f;               // exact (power-of-two scale)
        uint32_t q = uint32_t(v);
        float rem = v - float(q);
        if (rem > 0.5f || (rem == 0.5f && (q & 1u))) ++q;
        return uint16_t(sign | q);
    }
    uint32_t rounded = a + 0xfffu + ((a >> 13) & 1u);           // round mantissa to 10 bits
    return uint16_t(sign | (((rounded >> 13) - (112u << 10)) & 0x7fffu));
}

}  // namespace fastvlm
