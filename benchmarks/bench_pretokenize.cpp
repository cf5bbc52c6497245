// ./bench pretokenize [FILE]: throughput of the Qwen2 pre-tokenizer split and of NFC on one core,
// over built-in samples (English prose, source code, Chinese, mixed scripts) or over FILE.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "benchmarks/bench.h"
#include "runtime/error.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode.h"

namespace {

const char* const kEnglish =
    "The quick brown fox jumps over the lazy dog. It's a sentence that we've all seen, and "
    "we'll see it again: \"pangrams\" use every letter at least once. In 2023, about 1,250 "
    "people read it... or so they'd claim!\n\nA second paragraph follows, with   extra spaces, "
    "tabs\tand trailing whitespace.  \n";

const char* const kCode =
    "def tokenize(text: str) -> list[int]:\n"
    "    \"\"\"Split text into pieces, then map each piece to ids.\"\"\"\n"
    "    pieces = [p for p in PATTERN.findall(text) if p]\n"
    "    return [vocab[b] for p in pieces for b in bpe(p.encode('utf-8'))]\n\n"
    "int main(int argc, char** argv) {\n"
    "\tfor (int i = 0; i < argc; ++i) printf(\"%s\\n\", argv[i]);\n"
    "\treturn 0;  // done\n}\n";

const char* const kChinese =
    "\xE4\xBA\xBA\xE5\xB7\xA5\xE6\x99\xBA\xE8\x83\xBD\xE6\x98\xAF\xE8\xAE\xA1\xE7\xAE\x97\xE6\x9C\xBA"
    "\xE7\xA7\x91\xE5\xAD\xA6\xE7\x9A\x84\xE4\xB8\x80\xE4\xB8\xAA\xE5\x88\x86\xE6\x94\xAF\xEF\xBC\x8C"
    "\xE5\xAE\x83\xE4\xBC\x81\xE5\x9B\xBE\xE4\xBA\x86\xE8\xA7\xA3\xE6\x99\xBA\xE8\x83\xBD\xE7\x9A\x84"
    "\xE5\xAE\x9E\xE8\xB4\xA8\xE3\x80\x82 2024\xE5\xB9\xB4\xEF\xBC\x9A\xE5\x9B\xBE\xE5\x83\x8F\xE6\x8F"
    "\x8F\xE8\xBF\xB0\xE3\x80\x82\n";

const char* const kMixed =
    "Caf\xC3\xA9 na\xC3\xAFve r\xC3\xA9sum\xC3\xA9 \xE2\x80\x94 \xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5"
    "\xD1\x82, \xD0\xBC\xD0\xB8\xD1\x80! \xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 \xE0\xA4\xA8\xE0\xA4"
    "\xAE\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4\xA4\xE0\xA5\x87 \xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81"
    "\xA1\xE3\x81\xAF \xF0\x9F\x98\x80\xF0\x9F\x91\x8D \xEC\x95\x88\xEB\x85\x95 \xCE\x93\xCE\xB5\xCE\xB9"
    "\xCE\xAC 3.14\n";

std::string repeat_to(const std::string& unit, size_t bytes) {
    std::string out;
    while (out.size() < bytes) out += unit;
    return out;
}

// Best of `rounds` timings of fn(), in seconds.
template <typename F>
double best_seconds(int rounds, F&& fn) {
    double best = 1e30;
    for (int r = 0; r < rounds; ++r) {
        const auto start = std::chrono::steady_clock::now();
        fn();
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (s < best) best = s;
    }
    return best;
}

int run_pretokenize(const std::vector<std::string>& args) {
    std::vector<std::pair<std::string, std::string>> samples;
    if (!args.empty()) {
        std::ifstream in(args[0], std::ios::binary);
        if (!in) fastvlm::fail(args[0], "cannot open");
        samples.emplace_back(args[0], std::string(std::istreambuf_iterator<char>(in), {}));
    } else {
        const size_t size = 4 << 20;
        samples = {{"english", repeat_to(kEnglish, size)},
                   {"code", repeat_to(kCode, size)},
                   {"chinese", repeat_to(kChinese, size)},
                   {"mixed", repeat_to(std::string(kEnglish) + kCode + kChinese + kMixed, size)}};
    }
    const int rounds = 10;  // best of 10: the other processes on a shared machine only slow runs down
    std::printf("%-10s %10s %14s %12s %12s\n", "sample", "MB", "pieces", "split MB/s", "nfc MB/s");
    for (const auto& sample : samples) {
        const std::string& name = sample.first;
        const std::string& text = sample.second;
        size_t pieces = 0;
        const double split_s = best_seconds(rounds, [&] { pieces = fastvlm::qwen2_pretokenize(text).size(); });
        size_t normalized = 0;
        const double nfc_s = best_seconds(rounds, [&] { normalized = fastvlm::unicode::nfc(text).size(); });
        const double mb = double(text.size()) / 1e6;
        std::printf("%-10s %10.2f %14zu %12.1f %12.1f\n", name.c_str(), mb, pieces, mb / split_s, mb / nfc_s);
        if (normalized == 0 && !text.empty()) fastvlm::fail("bench pretokenize", "nfc returned nothing");
    }
    return 0;
}

}  // namespace

BENCH_COMMAND("pretokenize", "Qwen2 pre-tokenizer split and NFC throughput (MB/s) [FILE]", run_pretokenize, false);
