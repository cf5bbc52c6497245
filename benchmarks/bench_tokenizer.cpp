// ./bench tokenizer [TOKENIZER_JSON]: single-thread encode and decode throughput over the
// tokenizer corpus (tests/data/tokenizer_corpus.jsonl, mixed scripts, code, emoji), with the
// real Qwen2 tokenizer when ../shared/data has it, else the small test tokenizer.
//   cold:     a freshly loaded tokenizer encodes the corpus once (its piece cache starts empty)
//   repeated: the corpus repeated to about 4 MB, best of 3 (the cache is warm, as in a long run)
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "benchmarks/bench.h"
#include "runtime/error.h"
#include "tokenizer/tokenizer.h"

namespace {

const char* const kCorpus = "tests/data/tokenizer_corpus.jsonl";
const char* const kQwen2 = "../shared/data/qwen2-tokenizer/tokenizer.json";
const char* const kTiny = "tests/golden/tokenizer/tiny_tokenizer.json";

std::string read_text(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fastvlm::fail(path, "cannot open");
    std::string text;
    char buffer[1 << 16];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, f)) > 0;) text.append(buffer, n);
    std::fclose(f);
    return text;
}

std::vector<std::string> corpus_lines() {
    std::istringstream in(read_text(kCorpus));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        try {
            lines.push_back(nlohmann::json::parse(line).get<std::string>());
        } catch (const nlohmann::json::exception& e) {
            fastvlm::fail(kCorpus, "line ", lines.size() + 1, ": ", e.what());
        }
    }
    return lines;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Encodes every line; returns the token count.
size_t encode_all(const fastvlm::Tokenizer& tok, const std::vector<std::string>& lines) {
    size_t tokens = 0;
    for (const std::string& line : lines) tokens += tok.encode(line).size();
    return tokens;
}

void print_row(const char* pass, size_t bytes, size_t tokens, double s) {
    std::printf("%-10s %8.2f %10zu %9.2f %12.0f\n", pass, double(bytes) / 1e6, tokens, double(bytes) / 1e6 / s,
                double(tokens) / s);
}

int run_tokenizer(const std::vector<std::string>& args) {
    std::string path = args.empty() ? kQwen2 : args[0];
    std::string which = args.empty() ? "qwen2" : "given";
    if (args.empty() && !std::ifstream(path).good()) {
        path = kTiny;
        which = "tiny (../shared/data absent; 1000 merges, so more tokens per byte than Qwen2)";
    }
    const std::vector<std::string> lines = corpus_lines();
    size_t corpus_bytes = 0;
    for (const std::string& line : lines) corpus_bytes += line.size();

    auto start = std::chrono::steady_clock::now();
    const fastvlm::Tokenizer tok = fastvlm::Tokenizer::from_file(path);
    const double load_s = seconds_since(start);
    std::printf("tokenizer: %s, %s\n", which.c_str(), path.c_str());
    std::printf("load %.0f ms; corpus %zu lines, %.2f MB; one thread\n", load_s * 1e3, lines.size(),
                double(corpus_bytes) / 1e6);
    std::printf("%-10s %8s %10s %9s %12s\n", "pass", "MB", "tokens", "MB/s", "tokens/s");

    start = std::chrono::steady_clock::now();
    const size_t cold_tokens = encode_all(tok, lines);
    print_row("cold", corpus_bytes, cold_tokens, seconds_since(start));

    const size_t repeats = (4u << 20) / corpus_bytes + 1;
    double best = 1e30;
    for (int round = 0; round < 3; ++round) {
        start = std::chrono::steady_clock::now();
        for (size_t r = 0; r < repeats; ++r) encode_all(tok, lines);
        best = std::min(best, seconds_since(start));
    }
    print_row("repeated", corpus_bytes * repeats, cold_tokens * repeats, best);

    std::vector<std::vector<int32_t>> encoded;
    for (const std::string& line : lines) encoded.push_back(tok.encode(line));
    start = std::chrono::steady_clock::now();
    size_t decoded_bytes = 0;
    for (size_t r = 0; r < repeats; ++r)
        for (const auto& ids : encoded) decoded_bytes += tok.decode(ids).size();
    print_row("decode", decoded_bytes, cold_tokens * repeats, seconds_since(start));
    return 0;
}

}  // namespace

BENCH_COMMAND("tokenizer", "tokenizer encode/decode throughput (MB/s, tokens/s) [TOKENIZER_JSON]", run_tokenizer, false);
