// Lossy UTF-8 decoding (Unicode "maximal subpart" replacement) and the streaming decoder.
#include "tokenizer/stream_decoder.h"

#include "tokenizer/tokenizer.h"

namespace fastvlm {

namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Number of bytes a sequence starting with `lead` has, or 0 when `lead` cannot start one.
size_t sequence_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead >= 0xE0 && lead <= 0xEF) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 0;
}

// Valid range of the byte right after `lead` (Unicode Table 3-7); later bytes are 80..BF.
bool second_byte_ok(unsigned char lead, unsigned char b) {
    switch (lead) {
        case 0xE0: return b >= 0xA0 && b <= 0xBF;  // no overlong 3-byte forms
        case 0xED: return b >= 0x80 && b <= 0x9F;  // no surrogates
        case 0xF0: return b >= 0x90 && b <= 0xBF;  // no overlong 4-byte forms
        case 0xF4: return b >= 0x80 && b <= 0x8F;  // nothing above U+10FFFF
        default: return b >= 0x80 && b <= 0xBF;
    }
}

}  // namespace

size_t append_utf8_lossy(std::string& out, std::string_view bytes, bool final) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const size_t n = bytes.size();
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {  // ASCII runs are the common case
            size_t j = i + 1;
            while (j < n && p[j] < 0x80) ++j;
            out.append(bytes.data() + i, j - i);
            i = j;
            continue;
        }
        const size_t length = sequence_length(p[i]);
        if (length == 0) {
            out += kReplacement;
            ++i;
            continue;
        }
        // Count the bytes that continue the sequence correctly.
        size_t good = 1;
        while (good < length && i + good < n &&
               (good == 1 ? second_byte_ok(p[i], p[i + 1]) : (p[i + good] & 0xC0) == 0x80))
            ++good;
        if (good == length) {
            out.append(bytes.data() + i, length);
        } else if (i + good == n && !final) {
            break;  // cut off by the end: may still be completed
        } else {
            out += kReplacement;  // the valid prefix is one maximal subpart
        }
        i += good;
    }
    return i;
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(&tokenizer), skip_special_(skip_special) {}

std::string StreamDecoder::push(int32_t id) {
    const std::string_view bytes = tokenizer_->token_bytes(id);
    if (skip_special_ && tokenizer_->is_special(id)) return {};
    pending_ += bytes;
    std::string text;
    pending_.erase(0, append_utf8_lossy(text, pending_, /*final=*/false));
    return text;
}

std::string StreamDecoder::finish() {
    std::string text;
    append_utf8_lossy(text, pending_, /*final=*/true);
    pending_.clear();
    return text;
}

}  // namespace fastvlm
