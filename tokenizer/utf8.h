// Inline UTF-8 decoding shared by the Unicode layer and the pre-tokenizer (private header).
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastvlm::unicode {

// Returned for a byte that does not start a valid UTF-8 sequence (invalid lead byte, bad or
// missing continuation byte, overlong form, surrogate, above U+10FFFF). It is no code point.
constexpr uint32_t kInvalidByte = 0xFFFFFFFFu;

// Decodes the code point at p[0..n) (n >= 1) and sets `length` to its size in bytes; an invalid
// sequence yields kInvalidByte with length 1. Never reads p[n] or beyond.
inline uint32_t decode_utf8_at(const unsigned char* p, size_t n, size_t& length) {
    const uint32_t b0 = p[0];
    if (b0 < 0x80) {
        length = 1;
        return b0;
    }
    length = 1;
    if (b0 < 0xC2 || b0 > 0xF4) return kInvalidByte;
    if (b0 < 0xE0) {
        if (n < 2 || (p[1] & 0xC0) != 0x80) return kInvalidByte;
        length = 2;
        return ((b0 & 0x1F) << 6) | (p[1] & 0x3F);
    }
    if (n < 2) return kInvalidByte;
    const uint32_t b1 = p[1];
    // The second byte's valid range rules out overlong forms, surrogates and > U+10FFFF.
    const uint32_t low = b0 == 0xE0 ? 0xA0 : b0 == 0xF0 ? 0x90 : 0x80;
    const uint32_t high = b0 == 0xED ? 0x9F : b0 == 0xF4 ? 0x8F : 0xBF;
    if (b1 < low || b1 > high) return kInvalidByte;
    if (n < 3 || (p[2] & 0xC0) != 0x80) return kInvalidByte;
    if (b0 < 0xF0) {
        length = 3;
        return ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (p[2] & 0x3F);
    }
    if (n < 4 || (p[3] & 0xC0) != 0x80) return kInvalidByte;
    length = 4;
    return ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

}  // namespace fastvlm::unicode
