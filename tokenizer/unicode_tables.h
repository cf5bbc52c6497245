// Tables generated from the Unicode Character Database by tools/gen_unicode_tables.py
// (tokenizer/unicode_tables.cpp). Private to tokenizer/unicode.cpp and tokenizer/pretokenize.cpp.
#pragma once
#include <cstdint>

namespace fastvlm::unicode::tables {

// The tokenizers library's regex classes follow one Unicode version, its NFC another.
extern const char regex_unicode_version[];          // "16.0.0": letter, number
extern const char normalization_unicode_version[];  // "9.0": combining classes, (de)compositions, NFC_QC

constexpr uint32_t kCodePoints = 0x110000;
constexpr int kBlockShift = 7;  // two-level tables: index[cp >> 7] picks a block of 128 entries
constexpr uint32_t kBlockMask = (1u << kBlockShift) - 1;

// Bits of property_blocks.
constexpr uint8_t kFlagLetter = 1;       // general category L*
constexpr uint8_t kFlagNumber = 2;       // general category N*
constexpr uint8_t kFlagWhitespace = 4;   // White_Space
constexpr uint8_t kFlagNfcQcNo = 8;      // NFC_Quick_Check=No
constexpr uint8_t kFlagNfcQcMaybe = 16;  // NFC_Quick_Check=Maybe

// Both two-level tables cover [0, indexed_code_points); every code point above is 0 in both.
extern const uint32_t indexed_code_points;
extern const uint16_t property_index[];
extern const uint8_t property_blocks[];
extern const uint16_t combining_class_index[];
extern const uint8_t combining_class_blocks[];

struct Decomposition {
    uint32_t code_point;
    uint16_t offset;  // into decomposition_pool
    uint16_t length;
};
extern const Decomposition decompositions[];
extern const uint32_t decomposition_pool[];

struct Composition {
    uint32_t first, second, composite;
};
extern const Composition compositions[];

// Sizes of the arrays above (defined next to them).
extern const uint32_t n_decompositions;
extern const uint32_t n_compositions;

inline uint8_t property(uint32_t cp) {
    if (cp >= indexed_code_points) return 0;
    return property_blocks[(uint32_t(property_index[cp >> kBlockShift]) << kBlockShift) | (cp & kBlockMask)];
}
inline uint8_t combining_class(uint32_t cp) {
    if (cp >= indexed_code_points) return 0;
    return combining_class_blocks[(uint32_t(combining_class_index[cp >> kBlockShift]) << kBlockShift) |
                                  (cp & kBlockMask)];
}

}  // namespace fastvlm::unicode::tables
