// Turning token bytes into text: UTF-8 with ill-formed sequences replaced the way Python's
// bytes.decode(errors="replace") and Rust's from_utf8_lossy do (one U+FFFD per maximal ill-formed
// subpart), and a decoder that takes one id at a time for streaming generation.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace fastvlm {

class Tokenizer;

// Appends `bytes` to `out` as valid UTF-8, each maximal ill-formed subpart replaced by U+FFFD,
// and returns how many bytes it consumed. Unless `final`, a sequence that is cut off at the end
// but could still be completed is left unconsumed (the caller keeps it for the next call).
size_t append_utf8_lossy(std::string& out, std::string_view bytes, bool final);

// Feeds ids one at a time and returns only whole characters: a multi-byte character split
// across tokens comes out with the token that completes it. The concatenation of everything
// push() and finish() return equals tokenizer.decode(all ids, skip_special).
class StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false);

    std::string push(int32_t id);  // throws fastvlm::Error on an unknown id
    std::string finish();          // flushes a cut-off sequence as U+FFFD and starts over

private:
    const Tokenizer* tokenizer_;
    bool skip_special_;
    std::string pending_;  // bytes of an incomplete character, at most 3
};

}  // namespace fastvlm
