// UTF-8 coding, character classes and NFC against fixtures from the tokenizers library
// (tests/golden/pretokenize/, made by tools/golden/pretokenize.py).
#include <nlohmann/json.hpp>

#include <random>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "tokenizer/unicode.h"

using fastvlm::unicode::append_utf8;
using fastvlm::unicode::decode_utf8;
using fastvlm::unicode::nfc;

namespace {

const char* const kGoldenDir = "tests/golden/pretokenize/";

std::string utf8(uint32_t cp) {
    std::string s;
    append_utf8(s, cp);
    return s;
}

// Decodes all of `s` into code points (invalid bytes as U+FFFD).
std::vector<uint32_t> code_points(std::string_view s) {
    std::vector<uint32_t> out;
    for (size_t i = 0; i < s.size();) out.push_back(decode_utf8(s, i));
    return out;
}

nlohmann::json load_char_classes() {
    const std::string text = test::read_file(std::string(kGoldenDir) + "char_classes.json");
    REQUIRE_MESSAGE(!text.empty(), "missing ", kGoldenDir, "char_classes.json");
    return nlohmann::json::parse(text);
}

std::vector<nlohmann::json> load_cases() {
    const std::string text = test::read_file(std::string(kGoldenDir) + "cases.jsonl");
    REQUIRE_MESSAGE(!text.empty(), "missing ", kGoldenDir, "cases.jsonl");
    std::vector<nlohmann::json> cases;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        if (end > start) cases.push_back(nlohmann::json::parse(text.substr(start, end - start)));
        start = end + 1;
    }
    return cases;
}

// Membership of every code point in a list of [first, last] ranges.
std::vector<bool> range_set(const nlohmann::json& ranges) {
    std::vector<bool> in(0x110000, false);
    for (const auto& r : ranges)
        for (uint32_t cp = r[0].get<uint32_t>(); cp <= r[1].get<uint32_t>(); ++cp) in[cp] = true;
    return in;
}

}  // namespace

// ------------------------------------------------------------------ UTF-8

TEST_CASE("unicode: decodes one to four byte sequences at their boundaries") {
    const uint32_t samples[] = {0x0, 0x41, 0x7F, 0x80, 0xE9, 0x7FF, 0x800, 0x4E2D, 0xD7FF,
                                0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF};
    const size_t lengths[] = {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4};
    for (size_t k = 0; k < std::size(samples); ++k) {
        const std::string s = utf8(samples[k]);
        CHECK(s.size() == lengths[k]);
        size_t i = 0;
        CHECK(decode_utf8(s, i) == samples[k]);
        CHECK(i == s.size());
    }
    CHECK(utf8(0xE9) == "\xC3\xA9");
    CHECK(utf8(0x4E2D) == "\xE4\xB8\xAD");
    CHECK(utf8(0x1F600) == "\xF0\x9F\x98\x80");
}

TEST_CASE("unicode: every code point survives encode then decode") {
    size_t mismatches = 0;
    for (uint32_t cp = 0; cp < 0x110000; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        const std::string s = utf8(cp);
        size_t i = 0;
        if ((decode_utf8(s, i) != cp || i != s.size()) && ++mismatches <= 10)
            FAIL_CHECK("round trip fails at U+", std::hex, cp);
    }
    CHECK(mismatches == 0);
}

TEST_CASE("unicode: surrogates and values above U+10FFFF encode as U+FFFD") {
    CHECK(utf8(0xD800) == utf8(0xFFFD));
    CHECK(utf8(0xDFFF) == utf8(0xFFFD));
    CHECK(utf8(0x110000) == utf8(0xFFFD));
    CHECK(utf8(0xFFFFFFFF) == utf8(0xFFFD));
}

TEST_CASE("unicode: invalid bytes decode to U+FFFD one byte at a time") {
    struct Case {
        std::string bytes;
        std::vector<uint32_t> expected;
    };
    const Case cases[] = {
        {"\x80", {0xFFFD}},                                   // lone continuation byte
        {"\xBF" "a", {0xFFFD, 'a'}},
        {"\xC0\x80", {0xFFFD, 0xFFFD}},                       // overlong NUL
        {"\xC1\xBF", {0xFFFD, 0xFFFD}},                       // overlong
        {"\xE0\x80\x80", {0xFFFD, 0xFFFD, 0xFFFD}},           // overlong 3-byte
        {"\xE0\x9F\xBF", {0xFFFD, 0xFFFD, 0xFFFD}},
        {"\xED\xA0\x80", {0xFFFD, 0xFFFD, 0xFFFD}},           // surrogate U+D800
        {"\xED\xBF\xBF", {0xFFFD, 0xFFFD, 0xFFFD}},           // surrogate U+DFFF
        {"\xF0\x80\x80\x80", {0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD}},  // overlong 4-byte
        {"\xF4\x90\x80\x80", {0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD}},  // above U+10FFFF
        {"\xF5\x80", {0xFFFD, 0xFFFD}},
        {"\xFE\xFF", {0xFFFD, 0xFFFD}},
        {"\xC3", {0xFFFD}},                                   // truncated at the end
        {"\xE4\xB8", {0xFFFD, 0xFFFD}},
        {"\xF0\x9F\x98", {0xFFFD, 0xFFFD, 0xFFFD}},
        {"\xE4\xB8" "a", {0xFFFD, 0xFFFD, 'a'}},              // truncated before ASCII
        {"\xC3\xC3\xA9", {0xFFFD, 0xE9}},                     // bad continuation, then valid
    };
    for (const Case& c : cases) {
        CAPTURE(c.bytes);
        CHECK(code_points(c.bytes) == c.expected);
    }
}

TEST_CASE("unicode: decoding at or past the end returns U+FFFD without moving") {
    const std::string s = "ab";
    size_t i = 2;
    CHECK(decode_utf8(s, i) == 0xFFFD);
    CHECK(i == 2);
    i = 7;
    CHECK(decode_utf8(s, i) == 0xFFFD);
    CHECK(i == 7);
}

TEST_CASE("unicode: decoding random bytes never reads past the end and always advances") {
    std::mt19937 rng(7);
    for (int round = 0; round < 2000; ++round) {
        // A heap buffer of exactly the string's size, so ASan would see any overread.
        const size_t n = rng() % 12;
        std::vector<char> buffer(n);
        for (char& b : buffer) b = char(rng() % 4 == 0 ? 0x80 | (rng() & 0x3F) : rng() & 0xFF);
        const std::string_view s(buffer.data(), n);
        for (size_t i = 0; i < n;) {
            const size_t before = i;
            const uint32_t cp = decode_utf8(s, i);
            REQUIRE(i > before);
            REQUIRE(i <= n);
            REQUIRE(cp <= 0x10FFFF);
        }
    }
}

// ------------------------------------------------------------------ character classes

TEST_CASE("unicode: letter, number and whitespace spot checks") {
    using namespace fastvlm::unicode;
    for (uint32_t cp : {uint32_t('a'), uint32_t('Z'), 0xE9u, 0x4E2Du, 0x3042u, 0xAC00u, 0x0627u, 0x0928u,
                        0x0E01u, 0x02B0u /* Lm */, 0x01C5u /* Lt */, 0x10400u, 0x20000u,
                        0x105C0u /* Todhri, Unicode 16.0 */})
        CHECK_MESSAGE(is_letter(cp), std::hex, cp);
    for (uint32_t cp : {uint32_t('1'), 0x0663u, 0x0967u, 0xB2u, 0xBDu, 0x2167u, 0x3007u, 0x2460u, 0x1D7CEu,
                        0x10D40u /* Garay digit, Unicode 16.0 */})
        CHECK_MESSAGE(is_number(cp), std::hex, cp);
    for (uint32_t cp : {uint32_t(' '), uint32_t('\t'), uint32_t('\n'), uint32_t('\r'), 0x0Bu, 0x0Cu, 0x85u,
                        0xA0u, 0x1680u, 0x2000u, 0x200Au, 0x2028u, 0x2029u, 0x202Fu, 0x205Fu, 0x3000u})
        CHECK_MESSAGE(is_whitespace(cp), std::hex, cp);
    // Not \s in the reference regex engine, though some are "spaces" elsewhere.
    for (uint32_t cp : {0x1Cu, 0x1Fu, 0x180Eu, 0x200Bu, 0x200Cu, 0x200Du, 0x2060u, 0xFEFFu})
        CHECK_MESSAGE(!is_whitespace(cp), std::hex, cp);
    for (uint32_t cp : {uint32_t('\''), uint32_t('_'), 0x0301u, 0x1F600u, 0xFFFDu, 0xE000u, 0x110000u,
                        0xFFFFFFFFu}) {
        CHECK_MESSAGE(!is_letter(cp), std::hex, cp);
        CHECK_MESSAGE(!is_number(cp), std::hex, cp);
        CHECK_MESSAGE(!is_whitespace(cp), std::hex, cp);
    }
}

TEST_CASE("unicode: letter, number and whitespace agree with the reference for every code point") {
    const nlohmann::json classes = load_char_classes();
    const std::vector<bool> letter = range_set(classes["letter"]);
    const std::vector<bool> number = range_set(classes["number"]);
    const std::vector<bool> whitespace = range_set(classes["whitespace"]);
    size_t mismatches = 0;
    for (uint32_t cp = 0; cp < 0x110000; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;  // cannot occur in the reference's strings
        const bool ok = fastvlm::unicode::is_letter(cp) == letter[cp] &&
                        fastvlm::unicode::is_number(cp) == number[cp] &&
                        fastvlm::unicode::is_whitespace(cp) == whitespace[cp];
        if (!ok && ++mismatches <= 10) FAIL_CHECK("class mismatch at U+", std::hex, cp);
    }
    CHECK(mismatches == 0);
}

// ------------------------------------------------------------------ NFC

TEST_CASE("unicode: nfc matches the reference on every golden case") {
    size_t n = 0;
    for (const auto& c : load_cases()) {
        const std::string text = c["text"];
        const std::string expected = c["nfc"];
        CAPTURE(c["name"].get<std::string>());
        CHECK(nfc(text) == expected);
        CHECK(nfc(expected) == expected);  // idempotent
        ++n;
    }
    CHECK(n > 400);
}

TEST_CASE("unicode: nfc changes exactly the single code points the reference changes") {
    const nlohmann::json classes = load_char_classes();
    std::vector<std::string> expected(0x110000);
    std::vector<bool> changes(0x110000, false);
    for (const auto& entry : classes["nfc_changes"]) {
        const uint32_t cp = entry[0];
        expected[cp] = entry[1].get<std::string>();
        changes[cp] = true;
    }
    size_t mismatches = 0;
    for (uint32_t cp = 0; cp < 0x110000; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        const std::string s = utf8(cp);
        const std::string got = nfc(s);
        const bool ok = changes[cp] ? got == expected[cp] : got == s;
        if (!ok && ++mismatches <= 10) FAIL_CHECK("nfc mismatch at U+", std::hex, cp);
    }
    CHECK(mismatches == 0);
}

TEST_CASE("unicode: nfc reorders exactly the combining marks the reference reorders") {
    // "#" U+0345 (class 240) c: c moves in front of U+0345 iff 0 < class(c) < 240.
    const std::vector<bool> marks = range_set(load_char_classes()["nfc_combining_below_240"]);
    size_t mismatches = 0;
    for (uint32_t cp = 0; cp < 0x110000; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        const std::string text = "#\xCD\x85" + utf8(cp);
        const bool reordered = nfc(text) != text;
        if (reordered != marks[cp] && ++mismatches <= 10) FAIL_CHECK("reorder mismatch at U+", std::hex, cp);
    }
    CHECK(mismatches == 0);
}

TEST_CASE("unicode: nfc composes, orders and decomposes the textbook cases") {
    CHECK(nfc("e\xCC\x81") == "\xC3\xA9");                              // e + acute -> U+00E9
    CHECK(nfc("\xE1\x84\x80\xE1\x85\xA1") == "\xEA\xB0\x80");           // jamo L V -> U+AC00
    CHECK(nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8") == "\xEA\xB0\x81");  // L V T -> U+AC01
    CHECK(nfc("\xE2\x84\xAB") == "\xC3\x85");                           // ANGSTROM SIGN -> U+00C5
    CHECK(nfc("\xEF\xA4\x80") == "\xE8\xB1\x88");                       // U+F900 -> U+8C48
    CHECK(nfc("a\xCC\x81\xCC\x96") == "\xC3\xA1\xCC\x96");              // a U+0301 U+0316 -> á U+0316
    CHECK(nfc("plain ascii stays") == "plain ascii stays");
    CHECK(nfc("") == "");
}

TEST_CASE("unicode: nfc keeps invalid bytes and composes nothing across them") {
    // An invalid byte is copied through and acts as a starter that composes with nothing.
    CHECK(nfc("\xFF") == "\xFF");
    CHECK(nfc("e\xFF\xCC\x81") == "e\xFF\xCC\x81");
    CHECK(nfc("\xFF" "e\xCC\x81") == "\xFF\xC3\xA9");
    CHECK(nfc("e\xCC\x81\xE4\xB8") == "\xC3\xA9\xE4\xB8");  // truncated sequence at the end
    CHECK(nfc("\xC0\x80" "A\xCC\x8A") == "\xC0\x80\xC3\x85");
    std::mt19937 rng(11);
    for (int round = 0; round < 2000; ++round) {
        std::string s;
        const size_t n = rng() % 10;
        for (size_t k = 0; k < n; ++k) s += char(rng() % 3 == 0 ? 0xCC : rng() & 0xFF);
        const std::string once = nfc(s);
        CHECK(nfc(once) == once);
    }
}
