// __half and __half2 for the SIMT runtime: the same storage, conversions and arithmetic as
// cuda_fp16.h, with the device's rounding (round to nearest even, one rounding per operation).
//
// fp16 sums, products and quotients are computed in double, which is exact for + - * and,
// because double has more than 2 * 11 + 2 significand bits, rounds / correctly in two steps.
// The fused multiply-add carries the rounding error of its double sum so that its single
// rounding to fp16 is exact as well.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

struct __half_raw {
    unsigned short x;
};
struct __half2_raw {
    unsigned short x, y;
};

namespace simt {

inline float half_bits_to_float(unsigned short h) {
    uint32_t sign = uint32_t(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (mant << 13);
    } else if (exp == 0) {
        float v = float(mant) * (1.0f / 16777216.0f);  // subnormal: mant * 2^-24, exact
        return sign ? -v : v;
    } else {
        u = sign | ((exp + 112u) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Rounds v + err (err: the exact remainder of a computation whose rounded result is v, |err|
// tiny against v) to fp16, nearest even. Overflow goes to infinity as on the device; NaN
// becomes the device's canonical NaN 0x7fff.
inline unsigned short double_to_half_bits(double v, double err = 0.0) {
    if (std::isnan(v)) return 0x7fff;
    unsigned short sign = std::signbit(v) ? 0x8000 : 0;
    double a = std::fabs(v);
    if (sign) err = -err;
    if (std::isinf(a)) return sign | 0x7c00;
    // Quantum of the fp16 grid around a: 2^-24 below 2^-14, else 2^(exponent - 10).
    int exp;
    std::frexp(a, &exp);                       // a = m * 2^exp, m in [0.5, 1)
    int quantum_exp = exp - 11 < -24 ? -24 : exp - 11;
    double scaled = std::ldexp(a, -quantum_exp);  // exact: a power-of-two scale
    double whole = std::floor(scaled);
    double frac = scaled - whole;                 // exact
    bool up;
    if (frac > 0.5) up = true;
    else if (frac < 0.5) up = false;
    else if (err != 0.0) up = err > 0.0;          // the true value is off the midpoint
    else up = std::fmod(whole, 2.0) != 0.0;       // tie: to even
    double q = whole + (up ? 1.0 : 0.0);
    double result = std::ldexp(q, quantum_exp);
    if (result >= 65520.0) return sign | 0x7c00;
    if (result < std::ldexp(1.0, -14)) return uint16_t(sign | uint16_t(q));  // subnormal or zero
    int e;
    double m = std::frexp(result, &e);            // result = m * 2^e, m in [0.5, 1)
    uint16_t mant = uint16_t(std::ldexp(m, 11)) & 0x3ffu;
    return uint16_t(sign | uint16_t((e + 14) << 10) | mant);
}

inline unsigned short float_to_half_bits_rz(float f) {
    if (std::isnan(f)) return 0x7fff;
    double a = std::fabs(double(f));
    unsigned short sign = std::signbit(f) ? 0x8000 : 0;
    if (a >= 65536.0) return std::isinf(f) ? (sign | 0x7c00) : (sign | 0x7bff);
    int exp;
    std::frexp(a, &exp);
    int quantum_exp = exp - 11 < -24 ? -24 : exp - 11;
    double truncated = std::ldexp(std::floor(std::ldexp(a, -quantum_exp)), quantum_exp);
    return double_to_half_bits(sign ? -truncated : truncated);
}

}  // namespace simt

struct __half {
    unsigned short __x;
    __half() = default;
    __half(const __half_raw& raw) : __x(raw.x) {}
    __half(float f) : __x(simt::double_to_half_bits(double(f))) {}
    __half(double d) : __x(simt::double_to_half_bits(d)) {}
    __half(int i) : __x(simt::double_to_half_bits(double(i))) {}
    __half(unsigned i) : __x(simt::double_to_half_bits(double(i))) {}
    operator float() const { return simt::half_bits_to_float(__x); }
    operator __half_raw() const { return __half_raw{__x}; }
    __half& operator=(const __half_raw& raw) { __x = raw.x; return *this; }
};

struct alignas(4) __half2 {
    __half x, y;
    __half2() = default;
    __half2(const __half& a, const __half& b) : x(a), y(b) {}
    __half2(const __half2_raw& raw) { x.__x = raw.x; y.__x = raw.y; }
    operator __half2_raw() const { return __half2_raw{x.__x, y.__x}; }
};

// ---------------------------------------------------------------- conversions
inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline __half __float2half_rz(float f) { __half_raw r{simt::float_to_half_bits_rz(f)}; return __half(r); }
inline float __half2float(__half h) { return simt::half_bits_to_float(h.__x); }
inline __half2 __float2half2_rn(float f) { return __half2(__half(f), __half(f)); }
inline __half2 __floats2half2_rn(float a, float b) { return __half2(__half(a), __half(b)); }
inline __half2 __halves2half2(__half a, __half b) { return __half2(a, b); }
inline __half2 __half2half2(__half a) { return __half2(a, a); }
inline __half __low2half(__half2 h) { return h.x; }
inline __half __high2half(__half2 h) { return h.y; }
inline float __low2float(__half2 h) { return __half2float(h.x); }
inline float __high2float(__half2 h) { return __half2float(h.y); }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline short __half_as_short(__half h) { return short(h.__x); }
inline __half __ushort_as_half(unsigned short u) { return __half(__half_raw{u}); }
inline __half __short_as_half(short s) { return __half(__half_raw{(unsigned short)s}); }
inline __half __int2half_rn(int i) { return __half(i); }
inline int __half2int_rz(__half h) { return int(__half2float(h)); }

struct float2;
inline __half2 __float22half2_rn(float2 f);
inline float2 __half22float2(__half2 h);

// ---------------------------------------------------------------- arithmetic, one rounding each
inline __half simt_half_from_double(double v, double err = 0.0) {
    return __half(__half_raw{simt::double_to_half_bits(v, err)});
}
inline __half __hadd(__half a, __half b) { return simt_half_from_double(double(float(a)) + double(float(b))); }
inline __half __hsub(__half a, __half b) { return simt_half_from_double(double(float(a)) - double(float(b))); }
inline __half __hmul(__half a, __half b) { return simt_half_from_double(double(float(a)) * double(float(b))); }
inline __half __hdiv(__half a, __half b) { return simt_half_from_double(double(float(a)) / double(float(b))); }
inline __half __hneg(__half a) { return __half(__half_raw{(unsigned short)(a.__x ^ 0x8000u)}); }
inline __half __habs(__half a) { return __half(__half_raw{(unsigned short)(a.__x & 0x7fffu)}); }
inline __half __hfma(__half a, __half b, __half c) {
    const double p = double(float(a)) * double(float(b));  // exact: 22 significant bits
    const double cc = double(float(c));
    const double s = p + cc;                               // TwoSum: s + err == p + cc exactly
    const double bb = s - p;
    const double err = (p - (s - bb)) + (cc - bb);
    return simt_half_from_double(s, std::isfinite(s) ? err : 0.0);
}
inline __half __hmax(__half a, __half b) { return float(a) >= float(b) || std::isnan(float(b)) ? a : b; }
inline __half __hmin(__half a, __half b) { return float(a) <= float(b) || std::isnan(float(b)) ? a : b; }
inline bool __heq(__half a, __half b) { return float(a) == float(b); }
inline bool __hne(__half a, __half b) { return float(a) != float(b) && !std::isnan(float(a)) && !std::isnan(float(b)); }
inline bool __hlt(__half a, __half b) { return float(a) < float(b); }
inline bool __hle(__half a, __half b) { return float(a) <= float(b); }
inline bool __hgt(__half a, __half b) { return float(a) > float(b); }
inline bool __hge(__half a, __half b) { return float(a) >= float(b); }
inline bool __hisnan(__half a) { return std::isnan(float(a)); }
inline bool __hisinf(__half a) { return std::isinf(float(a)); }

inline __half2 __hadd2(__half2 a, __half2 b) { return __half2(__hadd(a.x, b.x), __hadd(a.y, b.y)); }
inline __half2 __hsub2(__half2 a, __half2 b) { return __half2(__hsub(a.x, b.x), __hsub(a.y, b.y)); }
inline __half2 __hmul2(__half2 a, __half2 b) { return __half2(__hmul(a.x, b.x), __hmul(a.y, b.y)); }
inline __half2 __h2div(__half2 a, __half2 b) { return __half2(__hdiv(a.x, b.x), __hdiv(a.y, b.y)); }
inline __half2 __hfma2(__half2 a, __half2 b, __half2 c) { return __half2(__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y)); }
inline __half2 __hneg2(__half2 a) { return __half2(__hneg(a.x), __hneg(a.y)); }
inline __half2 __hmax2(__half2 a, __half2 b) { return __half2(__hmax(a.x, b.x), __hmax(a.y, b.y)); }
inline __half2 __hmin2(__half2 a, __half2 b) { return __half2(__hmin(a.x, b.x), __hmin(a.y, b.y)); }

// Operators, as cuda_fp16.h provides them (each is the matching intrinsic).
inline __half operator+(__half a, __half b) { return __hadd(a, b); }
inline __half operator-(__half a, __half b) { return __hsub(a, b); }
inline __half operator*(__half a, __half b) { return __hmul(a, b); }
inline __half operator/(__half a, __half b) { return __hdiv(a, b); }
inline __half operator-(__half a) { return __hneg(a); }
inline __half& operator+=(__half& a, __half b) { return a = __hadd(a, b); }
inline __half& operator-=(__half& a, __half b) { return a = __hsub(a, b); }
inline __half& operator*=(__half& a, __half b) { return a = __hmul(a, b); }
inline __half& operator/=(__half& a, __half b) { return a = __hdiv(a, b); }
inline bool operator==(__half a, __half b) { return __heq(a, b); }
inline bool operator!=(__half a, __half b) { return __hne(a, b); }
inline bool operator<(__half a, __half b) { return __hlt(a, b); }
inline bool operator<=(__half a, __half b) { return __hle(a, b); }
inline bool operator>(__half a, __half b) { return __hgt(a, b); }
inline bool operator>=(__half a, __half b) { return __hge(a, b); }
inline __half2 operator+(__half2 a, __half2 b) { return __hadd2(a, b); }
inline __half2 operator-(__half2 a, __half2 b) { return __hsub2(a, b); }
inline __half2 operator*(__half2 a, __half2 b) { return __hmul2(a, b); }
inline __half2 operator/(__half2 a, __half2 b) { return __h2div(a, b); }
inline __half2& operator+=(__half2& a, __half2 b) { return a = __hadd2(a, b); }
inline __half2& operator*=(__half2& a, __half2 b) { return a = __hmul2(a, b); }

// Math in fp16: computed in fp32 and rounded once, as the device's h* functions do.
inline __half hexp(__half a) { return __half(std::exp(float(a))); }
inline __half hsqrt(__half a) { return simt_half_from_double(std::sqrt(double(float(a)))); }
inline __half hrsqrt(__half a) { return __half(1.0f / std::sqrt(float(a))); }
