// The GPT-2 byte-level alphabet: every byte gets a printable code point so that BPE vocabularies
// can be stored as text. Bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF stand for themselves; the other
// 68 bytes map, in order, to U+0100.. (so ' ' is 'Ġ' U+0120, '\n' is 'Ċ' U+010A).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace fastvlm::byte_level {

uint32_t codepoint_of_byte(uint8_t byte);

// The byte a code point stands for, or -1 when it is not one of the 256 alphabet characters.
int byte_of_codepoint(uint32_t cp);

// Raw bytes -> their alphabet characters, UTF-8 encoded ("a b" -> "aĠb").
std::string encode(std::string_view bytes);

// Alphabet characters (UTF-8) -> raw bytes. False, leaving `bytes` unspecified, when `text` holds
// a character outside the alphabet or is not valid UTF-8.
bool decode(std::string_view text, std::string& bytes);

}  // namespace fastvlm::byte_level
