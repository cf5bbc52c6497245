// libFuzzer target for the tokenizer. Each input is used twice:
//  (a) as a tokenizer.json: loading either works or throws fastvlm::Error, nothing else;
//  (b) as text for the small test tokenizer: encode, decode and the streaming decoder must agree,
//      every id must be known, and the tokens' bytes must give the input back whenever NFC
//      leaves it unchanged (valid UTF-8 or not; invalid bytes pass through NFC untouched).
// Runs from the repository root (make fuzz), where the test tokenizer is.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/error.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_tokenizer: %s\n", what);
        std::abort();
    }
}

const fastvlm::Tokenizer& tiny() {
    static const fastvlm::Tokenizer t = fastvlm::Tokenizer::from_file("tests/golden/tokenizer/tiny_tokenizer.json");
    return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    try {
        const fastvlm::Tokenizer tok = fastvlm::Tokenizer::from_json(input, "fuzz.json");
        (void)tok.decode(tok.encode("Hello <|im_end|> world"));
    } catch (const fastvlm::Error&) {
        // Rejected with a message: fine. Any other exception escapes and is reported.
    }

    const fastvlm::Tokenizer& tok = tiny();
    const std::vector<int32_t> ids = tok.encode(input);
    std::string bytes;
    for (int32_t id : ids) {
        check(tok.is_known(id), "encode produced an unknown id");
        bytes += tok.token_bytes(id);
    }
    const std::string text = tok.decode(ids);
    std::string repaired;
    check(fastvlm::append_utf8_lossy(repaired, bytes, true) == bytes.size() && repaired == text,
          "decode differs from the tokens' bytes made valid");

    fastvlm::StreamDecoder stream(tok);
    std::string streamed;
    for (int32_t id : ids) streamed += stream.push(id);
    streamed += stream.finish();
    check(streamed == text, "streaming decode differs from decode");

    if (fastvlm::unicode::nfc(input) == input) {
        check(bytes == input, "the tokens' bytes are not the input");
        std::string input_repaired;
        fastvlm::append_utf8_lossy(input_repaired, input, true);
        if (input_repaired == input) check(text == input, "decode(encode(x)) != x for valid UTF-8");
    }
    return 0;
}
