// GPT-2's bytes_to_unicode() table and its inverse.
#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/unicode.h"

namespace fastvlm::byte_level {

namespace {

bool stands_for_itself(int b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Tables {
    std::array<uint32_t, 256> codepoint{};  // byte -> code point
    std::array<int16_t, 512> byte{};        // code point (all < 0x144) -> byte, -1 if none
    Tables() {
        byte.fill(-1);
        uint32_t next_shifted = 0x100;
        for (int b = 0; b < 256; ++b) {
            codepoint[b] = stands_for_itself(b) ? uint32_t(b) : next_shifted++;
            byte[codepoint[b]] = int16_t(b);
        }
    }
};

const Tables& tables() {
    static const Tables t;
    return t;
}

}  // namespace

uint32_t codepoint_of_byte(uint8_t b) { return tables().codepoint[b]; }

int byte_of_codepoint(uint32_t cp) { return cp < 512 ? tables().byte[cp] : -1; }

std::string encode(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char b : bytes) unicode::append_utf8(out, tables().codepoint[b]);
    return out;
}

bool decode(std::string_view text, std::string& bytes) {
    bytes.clear();
    for (size_t i = 0; i < text.size();) {
        // Invalid UTF-8 decodes to U+FFFD, which is outside the alphabet.
        int b = byte_of_codepoint(unicode::decode_utf8(text, i));
        if (b < 0) return false;
        bytes.push_back(char(b));
    }
    return true;
}

}  // namespace fastvlm::byte_level
