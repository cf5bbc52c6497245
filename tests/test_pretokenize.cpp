// The Qwen2 pre-tokenizer split against fixtures from the tokenizers library
// (tests/golden/pretokenize/, made by tools/golden/pretokenize.py).
#include <nlohmann/json.hpp>

#include <random>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode.h"

using fastvlm::qwen2_pretokenize;

namespace {

const char* const kGoldenDir = "tests/golden/pretokenize/";

std::vector<std::string> split(std::string_view text) {
    std::vector<std::string> out;
    for (std::string_view piece : qwen2_pretokenize(text)) out.emplace_back(piece);
    return out;
}

std::string utf8(uint32_t cp) {
    std::string s;
    fastvlm::unicode::append_utf8(s, cp);
    return s;
}

nlohmann::json load_char_classes() {
    const std::string text = test::read_file(std::string(kGoldenDir) + "char_classes.json");
    REQUIRE_MESSAGE(!text.empty(), "missing ", kGoldenDir, "char_classes.json");
    return nlohmann::json::parse(text);
}

std::vector<uint32_t> expand_ranges(const nlohmann::json& ranges) {
    std::vector<uint32_t> out;
    for (const auto& r : ranges)
        for (uint32_t cp = r[0].get<uint32_t>(); cp <= r[1].get<uint32_t>(); ++cp) out.push_back(cp);
    return out;
}

// Checks that the pieces are non-empty, back to back, and cover `text` exactly.
void check_covers(std::string_view text, const std::vector<std::string_view>& pieces) {
    size_t at = 0;
    for (std::string_view piece : pieces) {
        REQUIRE(!piece.empty());
        REQUIRE(piece.data() == text.data() + at);
        at += piece.size();
    }
    REQUIRE(at == text.size());
}

}  // namespace

TEST_CASE("pretokenize: matches the reference on every golden case") {
    const std::string text = test::read_file(std::string(kGoldenDir) + "cases.jsonl");
    REQUIRE_MESSAGE(!text.empty(), "missing ", kGoldenDir, "cases.jsonl");
    size_t n = 0;
    for (size_t start = 0; start < text.size();) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        const auto c = nlohmann::json::parse(text.substr(start, end - start));
        start = end + 1;
        const std::string input = c["text"];
        CAPTURE(c["name"].get<std::string>());
        CHECK(split(input) == c["pieces"].get<std::vector<std::string>>());
        check_covers(input, qwen2_pretokenize(input));
        ++n;
    }
    CHECK(n > 400);
}

TEST_CASE("pretokenize: splits the textbook examples") {
    using V = std::vector<std::string>;
    CHECK(split("Hello world") == V{"Hello", " world"});
    CHECK(split("it's") == V{"it", "'s"});
    CHECK(split("WE'LL") == V{"WE", "'LL"});
    CHECK(split("a   b") == V{"a", "  ", " b"});                  // \s+(?!\S) leaves one space
    CHECK(split("x   \n\n  y") == V{"x", "   \n\n", " ", " y"});   // \s*[\r\n]+ then \s+(?!\S)
    CHECK(split("2024") == V{"2", "0", "2", "4"});
    CHECK(split(" !!!\n\nok") == V{" !!!\n\n", "ok"});
    CHECK(split("\"quote") == V{"\"quote"});
    CHECK(split("end  ") == V{"end", "  "});
    CHECK(split("").empty());
}

TEST_CASE("pretokenize: letter, number and whitespace probes agree with the reference for every code point") {
    // The same probes the fixture script runs against the library (see probe_classes there).
    const nlohmann::json classes = load_char_classes();
    std::vector<int> expected(0x110000, 0);  // 1 letter, 2 number, 3 whitespace
    for (uint32_t cp : expand_ranges(classes["letter"])) expected[cp] = 1;
    for (uint32_t cp : expand_ranges(classes["number"])) expected[cp] = 2;
    for (uint32_t cp : expand_ranges(classes["whitespace"])) expected[cp] = 3;
    size_t mismatches = 0;
    for (uint32_t cp = 0; cp < 0x110000; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        const std::string c = utf8(cp);
        int got = 0;
        if (qwen2_pretokenize("x" + c).size() == 1)
            got = 1;
        else if (qwen2_pretokenize(c + c).size() == 2)
            got = 2;
        else if (cp == ' ' || qwen2_pretokenize(c + "!").size() == 2)
            got = 3;
        if (got != expected[cp] && ++mismatches <= 10) FAIL_CHECK("class probe mismatch at U+", std::hex, cp);
    }
    CHECK(mismatches == 0);
}

TEST_CASE("pretokenize: contractions accept exactly the letters the reference accepts") {
    const nlohmann::json classes = load_char_classes();
    const std::vector<uint32_t> letters = expand_ranges(classes["letter"]);
    const std::pair<const char*, std::pair<std::string, std::string>> probes[] = {
        {"'?", {"'", "a"}}, {"'r?", {"'r", "a"}}, {"'?e", {"'", "ea"}},
        {"'v?", {"'v", "a"}}, {"'l?", {"'l", "a"}}, {"'?l", {"'", "la"}},
    };
    for (const auto& probe : probes) {
        const std::string name = probe.first;
        const auto& affixes = probe.second;
        CAPTURE(name);
        std::vector<uint32_t> accepted;
        for (uint32_t cp : letters) {
            const std::string text = affixes.first + utf8(cp) + affixes.second;
            const auto pieces = qwen2_pretokenize(text);
            if (pieces.size() == 2 && pieces[1].size() == 1) accepted.push_back(cp);
        }
        CHECK(accepted == classes["contraction_letters"][name].get<std::vector<uint32_t>>());
    }
}

TEST_CASE("pretokenize: pieces cover random byte strings exactly, invalid UTF-8 included") {
    std::mt19937 rng(3);
    const char* const fragments[] = {" ", "  ", "\n", "\r\n", "\t", "a", "Z", "'s", "'", "7", "!", "\xC2\xA0",
                                     "\xE4\xB8\xAD", "\xCC\x81", "\xF0\x9F\x98\x80", "\xE3\x80\x80"};
    for (int round = 0; round < 5000; ++round) {
        std::string s;
        const size_t n = rng() % 24;
        for (size_t k = 0; k < n; ++k) {
            if (rng() % 3 == 0)
                s += char(rng() & 0xFF);  // often invalid UTF-8
            else
                s += fragments[rng() % std::size(fragments)];
        }
        // A heap buffer of exactly the string's size, so ASan would see any overread.
        std::vector<char> buffer(s.begin(), s.end());
        const std::string_view text(buffer.data(), buffer.size());
        check_covers(text, qwen2_pretokenize(text));
    }
}

TEST_CASE("pretokenize: an invalid byte splits like U+FFFD but stays one raw byte") {
    // Each byte that does not start valid UTF-8 is one character of class "other".
    using V = std::vector<std::string>;
    CHECK(split("a\xFF" "b") == V{"a", "\xFF" "b"});          // prefixes a letter run
    CHECK(split(" \xFF\xFE!\n") == V{" \xFF\xFE!\n"});         // joins a symbol run
    CHECK(split("x\xE4\xB8") == V{"x", "\xE4\xB8"});          // truncated sequence at the end
    CHECK(split("1\x80" "2") == V{"1", "\x80", "2"});

    // Property: replacing every invalid byte with U+FFFD gives the same boundaries.
    std::mt19937 rng(5);
    const char* const fragments[] = {" ", "\n", "a", "'", "s", "1", "!", "\xE4\xB8\xAD", "\xCC\x81"};
    for (int round = 0; round < 3000; ++round) {
        std::string raw;
        const size_t n = rng() % 16;
        for (size_t k = 0; k < n; ++k)
            raw += rng() % 3 == 0 ? std::string(1, char(0x80 | (rng() & 0x7F))) : fragments[rng() % std::size(fragments)];
        // Map each raw byte offset that starts a character to its offset in the repaired text.
        std::string repaired;
        std::vector<size_t> offset_map(raw.size() + 1, size_t(-1));
        for (size_t i = 0; i < raw.size();) {
            offset_map[i] = repaired.size();
            const size_t start = i;
            const uint32_t cp = fastvlm::unicode::decode_utf8(raw, i);
            if (cp == 0xFFFD && !(i - start == 3 && raw.compare(start, 3, "\xEF\xBF\xBD") == 0))
                repaired += "\xEF\xBF\xBD";
            else
                repaired.append(raw, start, i - start);
        }
        offset_map[raw.size()] = repaired.size();
        std::vector<size_t> raw_ends, repaired_ends;
        size_t end = 0;
        for (std::string_view piece : qwen2_pretokenize(raw)) raw_ends.push_back(offset_map[end += piece.size()]);
        end = 0;
        for (std::string_view piece : qwen2_pretokenize(repaired)) repaired_ends.push_back(end += piece.size());
        CAPTURE(raw);
        CHECK(raw_ends == repaired_ends);
    }
}
