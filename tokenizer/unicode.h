// UTF-8 and the Unicode properties the tokenizer needs, from tables generated out of the
// Unicode Character Database by tools/gen_unicode_tables.py (committed output: unicode_tables.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace fastvlm::unicode {

// Decodes one code point at s[i], advancing i. Invalid or truncated sequences decode to
// U+FFFD and advance one byte (never read past the end).
uint32_t decode_utf8(std::string_view s, size_t& i);
void append_utf8(std::string& out, uint32_t cp);

// Classes of the tokenizers library's regex engine, which follows Unicode 16.0.
bool is_letter(uint32_t cp);      // \p{L}
bool is_number(uint32_t cp);      // \p{N}
bool is_whitespace(uint32_t cp);  // \s as the tokenizers library's regex engine defines it (White_Space)

// Unicode Normalization Form C, as the tokenizers library's NFC normalizer computes it (its data
// is Unicode 9.0: marks and compositions added later are left alone). Text already in NFC comes
// back unchanged after a quick check. Invalid UTF-8 bytes are copied through unchanged and act as
// starters that compose with nothing.
std::string nfc(std::string_view utf8);

}  // namespace fastvlm::unicode
