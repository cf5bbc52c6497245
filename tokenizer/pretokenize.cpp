// The Qwen2 pre-tokenizer regex, matched by hand:
//
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)      1. contraction
//   |[^\r\n\p{L}\p{N}]?\p{L}+         2. letter run, with at most one leading non-letter
//   |\p{N}                            3. one digit
//   | ?[^\s\p{L}\p{N}]+[\r\n]*        4. symbol run, optional leading space, trailing newlines
//   |\s*[\r\n]+                       5. whitespace up to and including its last newline
//   |\s+(?!\S)                        6. whitespace not followed by a non-space
//   |\s+                              7. any other whitespace
//
// as the Oniguruma engine of the tokenizers library runs it: at each position the alternatives
// are tried in order and the first that matches wins (greedy, with backtracking). Every
// character starts some match, so the pieces are exactly the matches, back to back.
//
// Invalid UTF-8 (which the reference never sees, its strings being valid): each byte that does
// not start a valid sequence counts as one character of class "other", like U+FFFD, so it joins
// symbol runs or prefixes a letter run. Pieces stay byte ranges, so the text round-trips.
#include "tokenizer/pretokenize.h"

#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace fastvlm {

namespace {

using unicode::tables::kFlagLetter;
using unicode::tables::kFlagNumber;
using unicode::tables::kFlagWhitespace;

// Character classes of the regex.
enum CharClass : uint8_t {
    kOther,    // [^\s\p{L}\p{N}]
    kLetter,   // \p{L}
    kNumber,   // \p{N}
    kSpace,    // \s other than \r, \n
    kNewline,  // \r or \n (also \s)
};

struct CharInfo {
    CharClass cls;
    uint32_t cp;    // code point, or unicode::kInvalidByte
    size_t length;  // bytes
};

CharClass class_of(uint32_t cp) {
    if (cp == '\r' || cp == '\n') return kNewline;
    if (cp == unicode::kInvalidByte) return kOther;
    const uint8_t flags = unicode::tables::property(cp);
    if (flags & kFlagLetter) return kLetter;
    if (flags & kFlagNumber) return kNumber;
    if (flags & kFlagWhitespace) return kSpace;
    return kOther;
}

// Not a class: a byte >= 0x80, whose character has to be decoded first.
constexpr CharClass kNonAscii = CharClass(0xFF);

// Classes of the ASCII characters by byte, looked up without decoding. In ASCII, \s is \t \n \v
// \f \r and space only (not the separators U+001C..U+001F). The tests check this against the tables.
struct AsciiClasses {
    CharClass of[256] = {};
    constexpr AsciiClasses() {
        for (int c = 0; c < 256; ++c) {
            if (c >= 0x80)
                of[c] = kNonAscii;
            else if (c == '\r' || c == '\n')
                of[c] = kNewline;
            else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
                of[c] = kLetter;
            else if (c >= '0' && c <= '9')
                of[c] = kNumber;
            else if (c == ' ' || (c >= '\t' && c <= '\r'))
                of[c] = kSpace;
            else
                of[c] = kOther;
        }
    }
};
constexpr AsciiClasses kAscii;

class Scanner {
public:
    explicit Scanner(std::string_view text)
        : p_(reinterpret_cast<const unsigned char*>(text.data())), n_(text.size()) {}

    size_t size() const { return n_; }

    // The character at byte position i (i < size()).
    CharInfo at(size_t i) const {
        if (p_[i] < 0x80) return {kAscii.of[p_[i]], p_[i], 1};
        CharInfo info;
        info.cp = unicode::decode_utf8_at(p_ + i, n_ - i, info.length);
        info.cls = class_of(info.cp);
        return info;
    }

    // Case-insensitive match of one ASCII lowercase letter at i, as Oniguruma folds case:
    // the letter, its uppercase, and U+017F LATIN SMALL LETTER LONG S for 's'.
    size_t match_folded(size_t i, char lower) const {
        if (i >= n_) return 0;
        const unsigned char c = p_[i];
        if (c == uint8_t(lower) || c == uint8_t(lower - 'a' + 'A')) return 1;
        if (lower == 's' && c == 0xC5 && i + 1 < n_ && p_[i + 1] == 0xBF) return 2;  // U+017F
        return 0;
    }

    // 1. (?i:'s|'t|'re|'ve|'m|'ll|'d) at i; returns the end or 0.
    size_t match_contraction(size_t i) const {
        if (p_[i] != '\'') return 0;
        const size_t j = i + 1;
        static const char* const kSuffixes[] = {"s", "t", "re", "ve", "m", "ll", "d"};
        for (const char* suffix : kSuffixes) {
            size_t k = j;
            bool ok = true;
            for (const char* c = suffix; *c; ++c) {
                const size_t length = match_folded(k, *c);
                if (!length) {
                    ok = false;
                    break;
                }
                k += length;
            }
            if (ok) return k;
        }
        return 0;
    }

    size_t skip_class(size_t i, CharClass cls) const {
        while (i < n_ && kAscii.of[p_[i]] == cls) ++i;
        while (i < n_) {
            const CharInfo c = at(i);
            if (c.cls != cls) break;
            i += c.length;
        }
        return i;
    }

    // The end of the longest match of the regex at i (i < size()).
    size_t match(size_t i) const {
        if (const size_t end = match_contraction(i)) return end;
        const CharInfo first = at(i);
        const size_t next = i + first.length;
        // 2. letter run, optionally after one character that is not a letter, digit or newline.
        if (first.cls == kLetter) return skip_class(next, kLetter);
        if (first.cls != kNumber && first.cls != kNewline && next < n_ && at(next).cls == kLetter)
            return skip_class(next, kLetter);
        // 3. one digit.
        if (first.cls == kNumber) return next;
        // 4. symbol run with an optional leading space, then any \r and \n.
        if (first.cls == kOther || (first.cp == ' ' && next < n_ && at(next).cls == kOther)) {
            size_t end = skip_class(first.cls == kOther ? i : next, kOther);
            return skip_class(end, kNewline);
        }
        // Whitespace from here on (first is \s). Find the run and its last newline.
        size_t run_end = i, after_last_newline = 0, last_start = i;
        while (run_end < n_) {
            const CharInfo c = at(run_end);
            if (c.cls != kSpace && c.cls != kNewline) break;
            last_start = run_end;
            run_end += c.length;
            if (c.cls == kNewline) after_last_newline = run_end;
        }
        // 5. \s*[\r\n]+ : up to and including the run's last newline.
        if (after_last_newline) return after_last_newline;
        // 6. \s+(?!\S) : the whole run at the end of the text, else all but its last character.
        if (run_end == n_) return run_end;
        if (last_start > i) return last_start;
        // 7. \s+ : a single whitespace character before a non-space.
        return run_end;
    }

private:
    const unsigned char* p_;
    size_t n_;
};

}  // namespace

std::vector<std::string_view> qwen2_pretokenize(std::string_view text) {
    std::vector<std::string_view> pieces;
    pieces.reserve(text.size() / 3 + 1);  // pieces average 3 to 4 bytes in English and code
    const Scanner scanner(text);
    for (size_t i = 0; i < text.size();) {
        const size_t end = scanner.match(i);
        pieces.push_back(text.substr(i, end - i));
        i = end;
    }
    return pieces;
}

}  // namespace fastvlm
