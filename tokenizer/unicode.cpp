// UTF-8, character properties and NFC over the generated tables (tokenizer/unicode_tables.cpp).
//
// Invalid UTF-8: the tokenizer has to round-trip arbitrary bytes, so nfc() never drops or
// replaces anything. A byte that does not start a valid sequence is copied through unchanged
// and acts as a starter that composes with nothing (so text around it is normalized as if the
// byte were a symbol such as U+FFFD). decode_utf8() reports such a byte as U+FFFD.
#include "tokenizer/unicode.h"

#include <algorithm>
#include <vector>

#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace fastvlm::unicode {

uint32_t decode_utf8(std::string_view s, size_t& i) {
    if (i >= s.size()) return 0xFFFD;
    size_t length = 1;
    const uint32_t cp = decode_utf8_at(reinterpret_cast<const unsigned char*>(s.data()) + i, s.size() - i, length);
    i += length;
    return cp == kInvalidByte ? 0xFFFD : cp;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;  // not encodable
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

bool is_letter(uint32_t cp) { return tables::property(cp) & tables::kFlagLetter; }
bool is_number(uint32_t cp) { return tables::property(cp) & tables::kFlagNumber; }
bool is_whitespace(uint32_t cp) { return tables::property(cp) & tables::kFlagWhitespace; }

// ------------------------------------------------------------------ NFC

namespace {

// Hangul syllables: S = SBase + (L - LBase) * NCount + (V - VBase) * TCount + (T - TBase).
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr uint32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

// Inside nfc() an invalid byte b is carried as kRawByteBase + b: no code point, ccc 0.
constexpr uint32_t kRawByteBase = 0x110000;

uint8_t combining_class_of(uint32_t c) { return c < 0x300 ? 0 : tables::combining_class(c); }

void decompose(uint32_t cp, std::vector<uint32_t>& out) {
    if (cp - kSBase < kSCount) {
        const uint32_t s = cp - kSBase;
        out.push_back(kLBase + s / kNCount);
        out.push_back(kVBase + (s % kNCount) / kTCount);
        if (s % kTCount) out.push_back(kTBase + s % kTCount);
        return;
    }
    if (cp >= 0xC0 && cp < kRawByteBase) {
        const tables::Decomposition* begin = tables::decompositions;
        const tables::Decomposition* end = begin + tables::n_decompositions;
        const auto* found = std::lower_bound(
            begin, end, cp, [](const tables::Decomposition& d, uint32_t c) { return d.code_point < c; });
        if (found != end && found->code_point == cp) {
            out.insert(out.end(), tables::decomposition_pool + found->offset,
                       tables::decomposition_pool + found->offset + found->length);
            return;
        }
    }
    out.push_back(cp);
}

// The primary composite of (first, second), or 0 when there is none.
uint32_t compose_pair(uint32_t first, uint32_t second) {
    if (first - kLBase < kLCount && second - kVBase < kVCount)
        return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
    if (first - kSBase < kSCount && (first - kSBase) % kTCount == 0 && second - kTBase - 1 < kTCount - 1)
        return first + (second - kTBase);
    const tables::Composition* begin = tables::compositions;
    const tables::Composition* end = begin + tables::n_compositions;
    const auto* found = std::lower_bound(begin, end, std::make_pair(first, second),
                                         [](const tables::Composition& c, std::pair<uint32_t, uint32_t> key) {
                                             return c.first < key.first ||
                                                    (c.first == key.first && c.second < key.second);
                                         });
    if (found != end && found->first == first && found->second == second) return found->composite;
    return 0;
}

// Quick check: returns text.size() when `text` is certainly in NFC (NFC_Quick_Check=Yes
// everywhere and combining marks in canonical order). Otherwise returns where normalization has
// to start: the start of the last starter with NFC_Quick_Check=Yes before the first problem.
// Nothing after such a starter composes or reorders with the text before it, and that text is
// already in NFC.
size_t nfc_prefix_length(std::string_view text) {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    uint8_t last_class = 0;
    size_t boundary = 0;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {  // ASCII: NFC starters that compose with nothing before them
            boundary = i++;
            last_class = 0;
            continue;
        }
        size_t length = 1;
        const uint32_t cp = decode_utf8_at(p + i, n - i, length);
        if (cp < 0x300 || cp == kInvalidByte) {
            boundary = i;
            i += length;
            last_class = 0;
            continue;
        }
        const uint8_t cls = tables::combining_class(cp);
        if (cls != 0 && last_class > cls) return boundary;
        if (tables::property(cp) & (tables::kFlagNfcQcNo | tables::kFlagNfcQcMaybe)) return boundary;
        if (cls == 0) boundary = i;
        last_class = cls;
        i += length;
    }
    return n;
}

// Full NFC of `text`: decompose, order the marks, compose.
void append_nfc(std::string_view text, std::string& result) {
    // 1. Full canonical decomposition.
    std::vector<uint32_t> chars;
    chars.reserve(text.size() + 8);
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    for (size_t i = 0; i < text.size();) {
        size_t length = 1;
        const uint32_t cp = decode_utf8_at(p + i, text.size() - i, length);
        decompose(cp == kInvalidByte ? kRawByteBase + p[i] : cp, chars);
        i += length;
    }

    // 2. Canonical ordering: stable sort of each run of non-starters by combining class.
    for (size_t i = 0; i < chars.size();) {
        if (combining_class_of(chars[i]) == 0) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < chars.size() && combining_class_of(chars[j]) != 0) ++j;
        if (j - i > 1)
            std::stable_sort(chars.begin() + long(i), chars.begin() + long(j), [](uint32_t a, uint32_t b) {
                return combining_class_of(a) < combining_class_of(b);
            });
        i = j;
    }

    // 3. Canonical composition: each character joins the last starter unless blocked.
    size_t out = 0;        // chars[0, out) is the composed text so far
    long starter = -1;     // index in chars[0, out) of the last starter, -1 before the first
    int last_class = 256;  // class of the last kept character; 256 blocks until a starter
    for (size_t i = 0; i < chars.size(); ++i) {
        const uint32_t c = chars[i];
        const int cls = combining_class_of(c);
        if (starter >= 0 && (last_class < cls || last_class == 0)) {
            const uint32_t composite = compose_pair(chars[size_t(starter)], c);
            if (composite) {
                chars[size_t(starter)] = composite;
                continue;
            }
        }
        if (cls == 0) starter = long(out);
        last_class = cls;
        chars[out++] = c;
    }

    for (size_t i = 0; i < out; ++i) {
        if (chars[i] >= kRawByteBase)
            result += char(chars[i] - kRawByteBase);
        else
            append_utf8(result, chars[i]);
    }
}

}  // namespace

std::string nfc(std::string_view utf8) {
    const size_t prefix = nfc_prefix_length(utf8);
    std::string result(utf8.substr(0, prefix));
    if (prefix < utf8.size()) append_nfc(utf8.substr(prefix), result);
    return result;
}

}  // namespace fastvlm::unicode
