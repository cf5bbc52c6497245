// Tokenizer tests: ids and decoded text against the `tokenizers` library (fixtures written by
// tools/golden/tokenizer.py) for a small trained tokenizer always and the real Qwen2 tokenizer
// when ../shared/data is present; streaming decode; bad tokenizer.json files.
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <sstream>
#include <thread>

#include "tests/test_util.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

using fastvlm::StreamDecoder;
using fastvlm::Tokenizer;
using json = nlohmann::json;
using Ids = std::vector<int32_t>;

namespace {

const char* kCorpus = "tests/data/tokenizer_corpus.jsonl";
const char* kGolden = "tests/golden/tokenizer/";
const std::string kTiny = std::string(kGolden) + "tiny_tokenizer.json";

std::vector<json> read_jsonl(const std::string& path) {
    std::istringstream in(test::read_file(path));
    std::vector<json> rows;
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) rows.push_back(json::parse(line));
    REQUIRE_MESSAGE(!rows.empty(), path << " is missing or empty");
    return rows;
}

const std::vector<std::string>& corpus() {
    static const std::vector<std::string> lines = [] {
        std::vector<std::string> out;
        for (const json& row : read_jsonl(kCorpus)) out.push_back(row.get<std::string>());
        return out;
    }();
    return lines;
}

const Tokenizer& tiny() {
    static const Tokenizer t = Tokenizer::from_file(kTiny);
    return t;
}

std::string qwen2_path() { return test::shared_data() + "/qwen2-tokenizer/tokenizer.json"; }

// The real tokenizer, loaded once; nullptr when ../shared/data is absent.
const Tokenizer* qwen2() {
    static const std::unique_ptr<Tokenizer> t = [] {
        if (test::shared_data().empty() || !test::exists(qwen2_path())) return std::unique_ptr<Tokenizer>();
        return std::make_unique<Tokenizer>(Tokenizer::from_file(qwen2_path()));
    }();
    return t.get();
}

std::string show(const std::string& s) { return json(s).dump(); }

std::string show(const Ids& ids) { return json(ids).dump(); }

// Every corpus line encodes to the library's ids and decodes to the library's text.
void check_corpus(const Tokenizer& tok, const std::string& golden) {
    const auto& lines = corpus();
    const std::vector<json> rows = read_jsonl(golden);
    REQUIRE(rows.size() == lines.size());
    size_t mismatches = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
        const Ids expected = rows[i]["ids"].get<Ids>();
        const Ids ids = tok.encode(lines[i]);
        const std::string expected_text = rows[i].value("decoded", lines[i]);
        const std::string text = tok.decode(ids);
        if (ids != expected || text != expected_text) {
            if (++mismatches <= 5)
                FAIL_CHECK("line " << i + 1 << " " << show(lines[i]) << "\n  ids      " << show(ids) << "\n  expected "
                                   << show(expected) << "\n  decoded  " << show(text) << "\n  expected "
                                   << show(expected_text));
        }
    }
    CHECK_MESSAGE(mismatches == 0, mismatches << " of " << lines.size() << " corpus lines differ");
}

void check_decode_cases(const Tokenizer& tok, const std::string& golden) {
    for (const json& row : read_jsonl(golden)) {
        const Ids ids = row["ids"].get<Ids>();
        INFO("ids " << show(ids));
        CHECK(tok.decode(ids) == row["text"].get<std::string>());
        CHECK(tok.decode(ids, true) == row["text_skip_special"].get<std::string>());
        // Streaming gives the same text, broken UTF-8 included.
        for (bool skip : {false, true}) {
            StreamDecoder stream(tok, skip);
            std::string text;
            for (int32_t id : ids) text += stream.push(id);
            text += stream.finish();
            CHECK(text == tok.decode(ids, skip));
        }
    }
}

// A tokenizer.json text: the tiny tokenizer with `edit` applied.
std::string edited_tiny(const std::function<void(json&)>& edit) {
    json j = json::parse(test::read_file(kTiny));
    edit(j);
    return j.dump();
}

std::string load_error(const std::string& text, const std::string& name = "bad.json") {
    const std::string path = test::temp_dir("tokenizer_bad") + "/" + name;
    test::write_file(path, text);
    return test::error_of([&] { Tokenizer::from_file(path); });
}

bool is_valid_utf8(const std::string& s) {
    std::string repaired;
    return fastvlm::append_utf8_lossy(repaired, s, true) == s.size() && repaired == s;
}

void check_round_trip(const Tokenizer& tok) {
    for (const std::string& line : corpus()) {
        const std::string back = tok.decode(tok.encode(line));
        if (back != fastvlm::unicode::nfc(line)) FAIL_CHECK(show(line) << " came back as " << show(back));
    }
}

// Fed one id at a time, the decoder returns valid UTF-8 pieces that add up to decode(ids).
void check_streaming(const Tokenizer& tok) {
    for (const std::string& line : corpus()) {
        const Ids ids = tok.encode(line);
        StreamDecoder stream(tok);
        std::string text;
        bool pieces_valid = true;
        for (int32_t id : ids) {
            const std::string piece = stream.push(id);
            pieces_valid = pieces_valid && is_valid_utf8(piece);
            text += piece;
        }
        text += stream.finish();
        CHECK_MESSAGE(text == tok.decode(ids), show(line));
        CHECK_MESSAGE(pieces_valid, show(line));
    }
}

}  // namespace

// ------------------------------------------------------------------ against the library

TEST_CASE("tokenizer: tiny tokenizer gives the library's ids and text on the whole corpus") {
    REQUIRE(corpus().size() >= 2000);
    CHECK(tiny().merge_count() == 1000);
    check_corpus(tiny(), std::string(kGolden) + "tiny_ids.jsonl");
}

TEST_CASE("tokenizer: Qwen2 tokenizer gives the library's ids and text on the whole corpus") {
    if (!qwen2()) SKIP_TEST("needs ../shared/data/qwen2-tokenizer");
    CHECK(qwen2()->vocab_size() == 151643);
    CHECK(qwen2()->merge_count() == 151387);
    check_corpus(*qwen2(), std::string(kGolden) + "qwen2_ids.jsonl");
}

TEST_CASE("tokenizer: tiny tokenizer decodes random ids, broken UTF-8 and special tokens like the library") {
    check_decode_cases(tiny(), std::string(kGolden) + "tiny_decode.jsonl");
}

TEST_CASE("tokenizer: Qwen2 tokenizer decodes random ids, broken UTF-8 and special tokens like the library") {
    if (!qwen2()) SKIP_TEST("needs ../shared/data/qwen2-tokenizer");
    check_decode_cases(*qwen2(), std::string(kGolden) + "qwen2_decode.jsonl");
}

TEST_CASE("tokenizer: added tokens that are non-special, normalized, stripping or overlapping") {
    const json fixture = json::parse(test::read_file(std::string(kGolden) + "tiny_added_tokens.json"));
    const std::string path = test::temp_dir("tokenizer_added") + "/tokenizer.json";
    test::write_file(path, edited_tiny([&](json& j) { j["added_tokens"] = fixture["added_tokens"]; }));
    const Tokenizer tok = Tokenizer::from_file(path);
    for (const json& c : fixture["cases"]) {
        const std::string text = c["text"].get<std::string>();
        INFO("text " << show(text));
        const Ids ids = tok.encode(text);
        CHECK(show(ids) == show(c["ids"].get<Ids>()));
        CHECK(tok.decode(ids) == c["decoded"].get<std::string>());
        CHECK(tok.decode(ids, true) == c["decoded_skip_special"].get<std::string>());
    }
}

TEST_CASE("tokenizer: reference encodings of the spec") {
    if (!qwen2()) SKIP_TEST("needs ../shared/data/qwen2-tokenizer");
    const Tokenizer& tok = *qwen2();
    CHECK(tok.encode("Hello world") == Ids{9707, 1879});
    CHECK(tok.encode("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n") ==
          Ids{151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872, 198});
    CHECK(tok.encode("\nDescribe the image.<|im_end|>\n<|im_start|>assistant\n") ==
          Ids{198, 74785, 279, 2168, 13, 151645, 198, 151644, 77091, 198});
    CHECK(tok.token_id("<|endoftext|>") == 151643);
    CHECK(tok.token_id("<|im_start|>") == 151644);
    CHECK(tok.token_id("<|im_end|>") == 151645);
    CHECK(tok.token_id("\xC4\xA0world") == 1879);  // "Ġworld"
    CHECK(tok.is_special(151645));
    CHECK(!tok.is_special(9707));
    CHECK(tok.decode({151644, 9707, 151645}, true) == "Hello");
    CHECK(tok.id_limit() == 151646);
}

// ------------------------------------------------------------------ round trips, streaming

TEST_CASE("tokenizer: tiny tokenizer: decode(encode(x)) is NFC(x) on the whole corpus") {
    size_t changed_by_nfc = 0;
    for (const std::string& line : corpus()) changed_by_nfc += fastvlm::unicode::nfc(line) != line;
    CHECK(changed_by_nfc > 0);  // the corpus does exercise the normalizer
    check_round_trip(tiny());
}

TEST_CASE("tokenizer: Qwen2 tokenizer: decode(encode(x)) is NFC(x) on the whole corpus") {
    if (!qwen2()) SKIP_TEST("needs ../shared/data/qwen2-tokenizer");
    check_round_trip(*qwen2());
}

TEST_CASE("tokenizer: invalid UTF-8 input is tokenized by bytes and decodes with U+FFFD") {
    const std::string text = "ok \xFF\xFE then \xE2\x82 cut \xF0\x9F\x98\x80 fine";
    const Ids ids = tiny().encode(text);
    std::string expected;
    fastvlm::append_utf8_lossy(expected, text, true);
    CHECK(tiny().decode(ids) == expected);
    std::string bytes;
    for (int32_t id : ids) bytes += tiny().token_bytes(id);
    CHECK(bytes == text);  // no byte lost
}

TEST_CASE("tokenizer: tiny tokenizer: streaming decode equals full decode on the corpus") {
    check_streaming(tiny());
}

TEST_CASE("tokenizer: Qwen2 tokenizer: streaming decode equals full decode on the corpus") {
    if (!qwen2()) SKIP_TEST("needs ../shared/data/qwen2-tokenizer");
    check_streaming(*qwen2());
}

TEST_CASE("tokenizer: streaming holds back an emoji split across tokens") {
    // People holding hands, two skin tones: 7 code points that the tiny tokenizer cuts into 9
    // tokens, several of them ending inside a character.
    const std::string emoji =
        "\xF0\x9F\xA7\x91\xF0\x9F\x8F\xBF\xE2\x80\x8D\xF0\x9F\xA4\x9D\xE2\x80\x8D\xF0\x9F\xA7\x91\xF0\x9F\x8F\xBB";
    const Ids ids = tiny().encode(emoji);
    REQUIRE(ids.size() > 7);
    StreamDecoder stream(tiny());
    std::vector<std::string> pieces;
    for (int32_t id : ids) pieces.push_back(stream.push(id));
    CHECK(stream.finish().empty());
    CHECK(pieces.front().empty());  // the first token cannot complete a 4-byte character
    std::string joined;
    for (const std::string& piece : pieces) {
        CHECK(is_valid_utf8(piece));
        joined += piece;
    }
    CHECK(joined == emoji);

    // A stream that ends inside a character flushes it as one U+FFFD.
    StreamDecoder cut(tiny());
    CHECK(cut.push(*tiny().token_id("\xC3\xB0")).empty());  // 'ð' stands for byte F0
    CHECK(cut.push(*tiny().token_id("\xC5\x81")).empty());  // 'Ł' stands for byte 9F
    CHECK(cut.finish() == "\xEF\xBF\xBD");
    CHECK(cut.push(*tiny().token_id("a")) == "a");  // and it starts over
}

TEST_CASE("tokenizer: lossy UTF-8 replaces each maximal ill-formed subpart once") {
    // The example of the Unicode Standard, section 3.9 (U+FFFD substitution of maximal subparts).
    const std::string bytes = "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64";
    std::string text;
    CHECK(fastvlm::append_utf8_lossy(text, bytes, true) == bytes.size());
    CHECK(text == "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD" "d");
    // Not final: a sequence cut by the end is left for later, an impossible one is not.
    text.clear();
    CHECK(fastvlm::append_utf8_lossy(text, "ab\xF0\x9F\x98", false) == 2);
    CHECK(text == "ab");
    text.clear();
    CHECK(fastvlm::append_utf8_lossy(text, "ab\xED\xA0", false) == 4);  // surrogate lead pair: never valid
    CHECK(text == "ab\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("tokenizer: byte-level alphabet") {
    using namespace fastvlm::byte_level;
    CHECK(codepoint_of_byte(' ') == 0x120);
    CHECK(codepoint_of_byte('\n') == 0x10A);
    CHECK(codepoint_of_byte('\r') == 0x10D);
    CHECK(codepoint_of_byte('A') == 'A');
    CHECK(codepoint_of_byte(0xAD) == 0x143);  // the last of the 68 shifted bytes
    CHECK(byte_of_codepoint(0x144) == -1);
    CHECK(byte_of_codepoint(' ') == -1);  // space is not in the alphabet
    std::string all;
    for (int b = 0; b < 256; ++b) all += char(b);
    std::string back;
    REQUIRE(decode(encode(all), back));
    CHECK(back == all);
    CHECK(!decode("a b", back));
}

TEST_CASE("tokenizer: encode is safe from several threads") {
    const auto& lines = corpus();
    std::vector<Ids> expected;
    for (const std::string& line : lines) expected.push_back(tiny().encode(line));
    std::vector<size_t> wrong(2, 0);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < wrong.size(); ++t)
        threads.emplace_back([&, t] {
            for (size_t i = 0; i < lines.size(); ++i) {
                const size_t line = (i + t * 997) % lines.size();  // the threads start at different lines
                wrong[t] += tiny().encode(lines[line]) != expected[line];
            }
        });
    for (auto& th : threads) th.join();
    CHECK(wrong[0] + wrong[1] == 0);
}

// ------------------------------------------------------------------ format variants

TEST_CASE("tokenizer: merges as \"a b\" strings give the same ids as [a, b] pairs") {
    const std::string text = edited_tiny([](json& j) {
        for (json& m : j["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
    });
    REQUIRE(text.find("\"merges\":[[") == std::string::npos);
    const Tokenizer strings = Tokenizer::from_json(text, "strings.json");
    for (size_t i = 0; i < corpus().size(); i += 7) CHECK(strings.encode(corpus()[i]) == tiny().encode(corpus()[i]));
}

TEST_CASE("tokenizer: normalizer null, NFC, or a Sequence of NFC") {
    const std::string decomposed = "cafe\xCC\x81";  // e + combining acute
    const Tokenizer nfc_seq = Tokenizer::from_json(edited_tiny([](json& j) {
        j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}}}};
    }), "seq.json");
    CHECK(nfc_seq.encode(decomposed) == tiny().encode(decomposed));
    const Tokenizer none = Tokenizer::from_json(edited_tiny([](json& j) { j["normalizer"] = nullptr; }), "none.json");
    CHECK(none.decode(none.encode(decomposed)) == decomposed);           // kept as it is
    CHECK(tiny().decode(tiny().encode(decomposed)) == "caf\xC3\xA9");    // composed
}

TEST_CASE("tokenizer: ignore_merges takes a piece found whole in the vocab") {
    // Bytes, "ab", "abc": merges only build "ab", so BPE gives [ab, c]; ignore_merges gives [abc].
    json vocab = json::object();
    for (int b = 0; b < 256; ++b) vocab[fastvlm::byte_level::encode(std::string(1, char(b)))] = b;
    vocab["ab"] = 256;
    vocab["abc"] = 257;
    json j = json::parse(test::read_file(kTiny));
    j["model"]["vocab"] = vocab;
    j["model"]["merges"] = json::array({"a b"});
    j["added_tokens"] = json::array();
    CHECK(Tokenizer::from_json(j.dump(), "t.json").encode("abc") == Ids{256, 'c'});
    j["model"]["ignore_merges"] = true;
    CHECK(Tokenizer::from_json(j.dump(), "t.json").encode("abc") == Ids{257});
}

// ------------------------------------------------------------------ bad input

TEST_CASE("tokenizer: rejects bad tokenizer.json files with a message naming file and field") {
    auto with = [](const std::function<void(json&)>& edit) { return load_error(edited_tiny(edit)); };

    std::string e = with([](json& j) { j["model"].erase("type"); });
    CHECK(e.find("bad.json") != std::string::npos);
    CHECK(e.find("model type missing") != std::string::npos);

    e = with([](json& j) { j["model"]["type"] = "WordPiece"; });
    CHECK(e.find("unsupported model type 'WordPiece'") != std::string::npos);

    e = load_error(edited_tiny([](json&) {}).substr(0, 5000));
    CHECK(e.find("bad.json: malformed JSON") != std::string::npos);

    std::string latin1 = edited_tiny([](json& j) { j["model"]["vocab"]["caf\xC3\xA9"] = 5000; });
    latin1.replace(latin1.find("caf\xC3\xA9"), 5, "caf\xE9");
    e = load_error(latin1);
    CHECK(e.find("bad.json: not valid UTF-8") != std::string::npos);

    e = with([](json& j) { j["model"]["merges"].push_back({"zzz", "q"}); });
    CHECK(e.find("model.merges[1000]: token 'zzz' is not in the vocab") != std::string::npos);

    e = with([](json& j) { j["model"]["merges"].push_back("a qqq"); });
    CHECK(e.find("model.merges[1000]: token 'qqq' is not in the vocab") != std::string::npos);

    e = with([](json& j) { j["model"]["merges"].push_back("a b c"); });
    CHECK(e.find("model.merges[1000]: 'a b c' is not two tokens separated by one space") != std::string::npos);

    e = with([](json& j) {
        j["model"]["vocab"]["\xC3\xA6\xC3\xA6\xC3\xA6"] = 5000;
        j["model"]["merges"].push_back({"\xC3\xA6", "\xC3\xA6\xC3\xA6\xC3\xA6"});
    });
    CHECK(e.find("model.merges[1000]: merged token '\xC3\xA6\xC3\xA6\xC3\xA6\xC3\xA6' is not in the vocab") !=
          std::string::npos);

    e = with([](json& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; });
    CHECK(e.find("pre_tokenizer: unsupported pre-tokenizer 'Whitespace'") != std::string::npos);

    e = with([](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\s+"; });
    CHECK(e.find("pre_tokenizer.pretokenizers[0].pattern: only Qwen2's regex") != std::string::npos);

    e = with([](json& j) { j["pre_tokenizer"]["pretokenizers"][1]["use_regex"] = true; });
    CHECK(e.find("pre_tokenizer.pretokenizers[1].use_regex") != std::string::npos);

    e = with([](json& j) { j["pre_tokenizer"] = nullptr; });
    CHECK(e.find("pre_tokenizer: missing or null") != std::string::npos);

    e = with([](json& j) { j["normalizer"] = {{"type", "Lowercase"}}; });
    CHECK(e.find("normalizer: unsupported normalizer 'Lowercase'") != std::string::npos);

    e = with([](json& j) { j["decoder"] = {{"type", "WordPiece"}}; });
    CHECK(e.find("decoder: unsupported decoder 'WordPiece'") != std::string::npos);

    e = with([](json& j) { j["post_processor"] = {{"type", "TemplateProcessing"}}; });
    CHECK(e.find("post_processor: unsupported post-processor 'TemplateProcessing'") != std::string::npos);

    e = with([](json& j) { j["model"]["dropout"] = 0.1; });
    CHECK(e.find("model.dropout: only null") != std::string::npos);

    e = with([](json& j) { j["model"]["unk_token"] = "<unk>"; });
    CHECK(e.find("model.unk_token: only null") != std::string::npos);

    e = with([](json& j) { j["model"]["byte_fallback"] = true; });
    CHECK(e.find("model.byte_fallback") != std::string::npos);

    e = with([](json& j) { j["model"]["vocab"].erase("\xC4\xA0"); });  // 'Ġ', the space byte
    CHECK(e.find("model.vocab: no token for byte 32") != std::string::npos);

    e = with([](json& j) { j["model"]["vocab"]["zz"] = 5; });
    CHECK(e.find("model.vocab: id 5 is given to both") != std::string::npos);

    e = with([](json& j) { j["model"]["vocab"]["zz"] = -3; });
    CHECK(e.find("out of range") != std::string::npos);

    e = with([](json& j) { j["model"]["vocab"]["zz"] = "7"; });
    CHECK(e.find("expected an integer id") != std::string::npos);

    e = with([](json& j) { j["model"]["vocab"]["zz"] = {{"x", 1}}; });
    CHECK(e.find("model.vocab['zz']: expected an integer id, found an object") != std::string::npos);

    e = load_error(R"({"model": {"type": "BPE", "vocab": {}, "vocab": {}, "merges": []}})");
    CHECK(e.find("model.vocab: appears twice") != std::string::npos);

    e = with([](json& j) { j["model"]["merges"] = "a b"; });
    CHECK(e.find("model.merges: expected a list") != std::string::npos);

    e = with([](json& j) { j["model"]["vocab"] = json::array({"a"}); });
    CHECK(e.find("model.vocab: expected an object") != std::string::npos);

    e = with([](json& j) { j["model"]["merges"].push_back({{"a", "b"}}); });
    CHECK(e.find("model.merges[1000]: expected \"left right\" or [\"left\", \"right\"]") != std::string::npos);

    e = with([](json& j) { j["added_tokens"][0]["single_word"] = true; });
    CHECK(e.find("added_tokens[0] ('<|endoftext|>'): single_word=true is not supported") != std::string::npos);

    e = with([](json& j) { j["added_tokens"][1]["id"] = 1256; });
    CHECK(e.find("id 1256 is already used by '<|endoftext|>'") != std::string::npos);

    e = with([](json& j) { j["added_tokens"][1]["id"] = 40; });
    CHECK(e.find("is already the vocab token") != std::string::npos);

    e = with([](json& j) { j["model"] = json::array(); });
    CHECK(e.find("model: expected an object") != std::string::npos);

    e = load_error("[1, 2]");
    CHECK(e.find("top level is not a JSON object") != std::string::npos);

    e = load_error("");
    CHECK(e.find("malformed JSON") != std::string::npos);

    e = test::error_of([] { Tokenizer::from_file("build/no/such/tokenizer.json"); });
    CHECK(e.find("build/no/such/tokenizer.json: cannot open") != std::string::npos);
}

TEST_CASE("tokenizer: unknown ids are an error") {
    CHECK(test::error_of([] { tiny().decode({1, 2, 99999}); }).find("token id 99999 is not in the vocabulary") !=
          std::string::npos);
    CHECK(test::error_of([] { tiny().decode({-1}); }).find("token id -1") != std::string::npos);
    StreamDecoder stream(tiny());
    CHECK(test::error_of([&] { stream.push(1259); }).find("token id 1259") != std::string::npos);
    CHECK(!tiny().token_id("no such token").has_value());
}
