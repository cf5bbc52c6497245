// The bench report's statistics and written forms (benchmarks/bench_report.h, bench_svg.cpp)
// and the progress display (benchmarks/bench_progress.h).
#include "tests/test_util.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "benchmarks/bench_progress.h"
#include "benchmarks/bench_report.h"

using namespace bench;

namespace {

Stat stat(double median, double min, double max, int n) {
    Stat s;
    s.median = median;
    s.min = min;
    s.max = max;
    s.n = n;
    return s;
}

// Every field set, each to a value no other field has, so a field written or read under the
// wrong name cannot go unnoticed.
ModeResult sample_mode(const std::string& mode, double base) {
    ModeResult m;
    m.mode = mode;
    m.label = "label of " + mode;
    m.measured = true;
    m.skipped_reason = "";
    m.vision_weight_bytes = 125.0e6 + base;
    m.llm_weight_bytes = 988.0e6 + base;
    m.peak_bytes = 1500.0e6 + base;
    m.driver_peak_bytes = 1700.0e6 + base;
    m.load_seconds = 1.25 + base;
    m.vision_ms = stat(40 + base, 39 + base, 42 + base, 5);
    m.prefill_tokens_per_s = stat(9000 + base, 8800 + base, 9100 + base, 5);
    m.ttft_ms = stat(75 + base, 74 + base, 77 + base, 5);
    m.decode_ms_per_token = stat(3.5 + base, 3.25 + base, 4.75 + base, 5);
    m.decode_tokens_per_s = stat(285 + base, 210 + base, 307 + base, 5);
    m.e2e_ms = stat(250 + base, 248 + base, 260 + base, 5);
    m.prompt_tokens = 280 + int(base);
    m.new_tokens = 50 + int(base);
    m.decode_bytes_per_token = 1.0e9 + base;
    m.achieved_gbps = 2800 + base;
    m.roofline_fraction = 0.83 + base / 100;
    m.has_quality = true;
    m.top1_agreement = 0.96 + base / 100;
    m.kl_divergence = 0.0123 + base;
    m.max_logit_error = 1.75 + base;
    m.same_text = base == 0;
    m.text = "The image shows a gradient with a disc (" + mode + ").";
    return m;
}

Report sample_report() {
    Report r;
    r.source = "fastvlm";
    r.checkpoint = "build/synthetic-fastvlm-0.5b";
    r.synthetic = true;
    r.backend = "cuda";
    r.device = "NVIDIA H100 80GB HBM3";
    r.threads = 16;
    r.bandwidth_gbps = 3350.5;
    r.iters = 5;
    r.warmup = 1;
    r.max_new_tokens = 50;
    r.image = "";
    r.prompt = "Describe the image.";
    r.lm_head = "fp16";
    r.vision_mode = "same";
    r.gemm = "cublaslt";
    r.date = "2025-01-02T03:04:05Z";
    r.notes = {"first note", "second note"};
    r.modes = {sample_mode("fp16", 0), sample_mode("int8", 1), sample_mode("nf4-fp32", 2), sample_mode("nf4-fp16", 3)};
    ModeResult skipped;
    skipped.mode = "w4a4";
    skipped.label = "W4A4: int4 weights x int4 activations";
    skipped.measured = false;
    skipped.skipped_reason = "needs sm_80 integer tensor cores";
    r.modes.push_back(skipped);
    return r;
}

Report sample_peer() {
    Report p;
    p.source = "transformers";
    p.checkpoint = "build/synthetic-fastvlm-0.5b-native";
    p.synthetic = true;
    p.backend = "cuda";
    p.device = "NVIDIA H100 80GB HBM3";
    p.iters = 3;
    p.modes = {sample_mode("fp16", 10), sample_mode("int8", 11)};
    p.modes[1].label = "W8A8: bitsandbytes LLM.int8";
    return p;
}

void check_stat(const Stat& a, const Stat& b) {
    CHECK(a.median == b.median);
    CHECK(a.min == b.min);
    CHECK(a.max == b.max);
    CHECK(a.n == b.n);
}

void check_same(const ModeResult& a, const ModeResult& b) {
    INFO("mode " << a.mode);
    CHECK(a.mode == b.mode);
    CHECK(a.label == b.label);
    CHECK(a.measured == b.measured);
    CHECK(a.skipped_reason == b.skipped_reason);
    CHECK(a.vision_weight_bytes == b.vision_weight_bytes);
    CHECK(a.llm_weight_bytes == b.llm_weight_bytes);
    CHECK(a.peak_bytes == b.peak_bytes);
    CHECK(a.driver_peak_bytes == b.driver_peak_bytes);
    CHECK(a.load_seconds == b.load_seconds);
    check_stat(a.vision_ms, b.vision_ms);
    check_stat(a.prefill_tokens_per_s, b.prefill_tokens_per_s);
    check_stat(a.ttft_ms, b.ttft_ms);
    check_stat(a.decode_ms_per_token, b.decode_ms_per_token);
    check_stat(a.decode_tokens_per_s, b.decode_tokens_per_s);
    check_stat(a.e2e_ms, b.e2e_ms);
    CHECK(a.prompt_tokens == b.prompt_tokens);
    CHECK(a.new_tokens == b.new_tokens);
    CHECK(a.decode_bytes_per_token == b.decode_bytes_per_token);
    CHECK(a.achieved_gbps == b.achieved_gbps);
    CHECK(a.roofline_fraction == b.roofline_fraction);
    CHECK(a.has_quality == b.has_quality);
    CHECK(a.top1_agreement == b.top1_agreement);
    CHECK(a.kl_divergence == b.kl_divergence);
    CHECK(a.max_logit_error == b.max_logit_error);
    CHECK(a.same_text == b.same_text);
    CHECK(a.text == b.text);
}

void check_same(const Report& a, const Report& b) {
    CHECK(a.schema == b.schema);
    CHECK(a.source == b.source);
    CHECK(a.checkpoint == b.checkpoint);
    CHECK(a.synthetic == b.synthetic);
    CHECK(a.backend == b.backend);
    CHECK(a.device == b.device);
    CHECK(a.threads == b.threads);
    CHECK(a.bandwidth_gbps == b.bandwidth_gbps);
    CHECK(a.iters == b.iters);
    CHECK(a.warmup == b.warmup);
    CHECK(a.max_new_tokens == b.max_new_tokens);
    CHECK(a.image == b.image);
    CHECK(a.prompt == b.prompt);
    CHECK(a.lm_head == b.lm_head);
    CHECK(a.vision_mode == b.vision_mode);
    CHECK(a.gemm == b.gemm);
    CHECK(a.date == b.date);
    CHECK(a.notes == b.notes);
    REQUIRE(a.modes.size() == b.modes.size());
    for (size_t i = 0; i < a.modes.size(); ++i) check_same(a.modes[i], b.modes[i]);
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

size_t display_width(const std::string& s) {
    size_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// The line of `text` that starts (after spaces) with `head`, "" when none.
std::string line_starting(const std::string& text, const std::string& head) {
    for (const std::string& line : lines_of(text)) {
        const size_t first = line.find_first_not_of(' ');
        if (first != std::string::npos && line.compare(first, head.size(), head) == 0) return line;
    }
    return "";
}

// RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
    std::vector<std::vector<std::string>> records(1, std::vector<std::string>(1));
    bool quoted = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        std::string& field = records.back().back();
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
            else if (c == '"') quoted = false;
            else field += c;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            records.back().emplace_back();
        } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
            ++i;
            if (i + 1 < text.size()) records.emplace_back(1);
        } else {
            field += c;
        }
    }
    return records;
}

// Balanced tags, known entities only, no raw '<' in text; returns "" or what is wrong.
std::string xml_problem(const std::string& svg) {
    std::vector<std::string> open;
    size_t i = 0;
    while (i < svg.size()) {
        if (svg[i] == '&') {
            const size_t semi = svg.find(';', i);
            if (semi == std::string::npos) return "unterminated entity at " + std::to_string(i);
            const std::string entity = svg.substr(i, semi - i + 1);
            if (entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;" && entity != "&apos;")
                return "unknown entity " + entity;
            i = semi + 1;
            continue;
        }
        if (svg[i] == '>') return "raw '>' outside a tag at " + std::to_string(i);
        if (svg[i] != '<') {
            ++i;
            continue;
        }
        // A tag: attribute values are quoted and cannot contain '<' or '>' once escaped.
        size_t end = i + 1;
        bool in_quotes = false;
        while (end < svg.size() && (in_quotes || svg[end] != '>')) {
            if (svg[end] == '"') in_quotes = !in_quotes;
            if (svg[end] == '<') return "'<' inside a tag at " + std::to_string(end);
            ++end;
        }
        if (end == svg.size()) return "unterminated tag at " + std::to_string(i);
        const std::string tag = svg.substr(i + 1, end - i - 1);
        if (tag[0] == '?') {
            if (tag.back() != '?') return "bad processing instruction";
        } else if (tag[0] == '/') {
            if (open.empty() || open.back() != tag.substr(1)) return "closing " + tag + " does not match";
            open.pop_back();
        } else if (tag.back() != '/') {
            open.push_back(tag.substr(0, tag.find_first_of(" \n")));
        }
        i = end + 1;
    }
    return open.empty() ? "" : "unclosed <" + open.back() + ">";
}

size_t count(const std::string& haystack, const std::string& needle) {
    size_t n = 0;
    for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
    return n;
}

std::string read_all(std::FILE* f) {
    std::rewind(f);
    std::string text;
    char buffer[4096];
    size_t got;
    while ((got = std::fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, got);
    std::fseek(f, 0, SEEK_END);  // go on writing where the text ends
    return text;
}

}  // namespace

// ---------------------------------------------------------------- statistics

TEST_CASE("bench report: summarize gives the median, min, max and count") {
    const Stat odd = summarize({5.0, 1.0, 3.0});
    CHECK(odd.n == 3);
    CHECK(odd.median == 3.0);
    CHECK(odd.min == 1.0);
    CHECK(odd.max == 5.0);

    const Stat even = summarize({4.0, 1.0, 3.0, 2.0});  // middle two: 2 and 3
    CHECK(even.n == 4);
    CHECK(even.median == 2.5);
    CHECK(even.min == 1.0);
    CHECK(even.max == 4.0);

    const Stat one = summarize({7.25});
    CHECK(one.n == 1);
    CHECK(one.median == 7.25);
    CHECK(one.min == 7.25);
    CHECK(one.max == 7.25);
}

TEST_CASE("bench report: summarize of nothing has n = 0 and NaN is no measurement") {
    const Stat none = summarize({});
    CHECK(none.n == 0);
    CHECK(none.median == 0.0);

    const Stat with_nan = summarize({2.0, std::nan(""), 6.0});
    CHECK(with_nan.n == 2);
    CHECK(with_nan.median == 4.0);
    CHECK(with_nan.max == 6.0);
}

// ---------------------------------------------------------------- JSON

TEST_CASE("bench report: JSON round-trips every field") {
    const Report report = sample_report();
    const std::string text = to_json(report);
    const Report back = from_json(text, "report.json");
    check_same(report, back);
    CHECK(to_json(back) == text);
}

TEST_CASE("bench report: JSON keys are the field names in declaration order") {
    const auto j = nlohmann::ordered_json::parse(to_json(sample_report()));
    std::vector<std::string> keys;
    for (const auto& item : j.items()) keys.push_back(item.key());
    const std::vector<std::string> report_keys = {
        "schema", "source", "checkpoint", "synthetic", "backend", "device", "threads", "bandwidth_gbps", "iters",
        "warmup", "max_new_tokens", "image", "prompt", "lm_head", "vision_mode", "gemm", "date", "notes", "modes"};
    CHECK(keys == report_keys);

    keys.clear();
    for (const auto& item : j["modes"][0].items()) keys.push_back(item.key());
    const std::vector<std::string> mode_keys = {
        "mode", "label", "measured", "skipped_reason", "vision_weight_bytes", "llm_weight_bytes", "peak_bytes",
        "driver_peak_bytes", "load_seconds", "vision_ms", "prefill_tokens_per_s", "ttft_ms", "decode_ms_per_token",
        "decode_tokens_per_s", "e2e_ms", "prompt_tokens", "new_tokens", "decode_bytes_per_token", "achieved_gbps",
        "roofline_fraction", "has_quality", "top1_agreement", "kl_divergence", "max_logit_error", "same_text", "text"};
    CHECK(keys == mode_keys);

    keys.clear();
    for (const auto& item : j["modes"][0]["decode_ms_per_token"].items()) keys.push_back(item.key());
    CHECK(keys == std::vector<std::string>{"median", "min", "max", "n"});
    CHECK(j["schema"] == "fastvlm-bench/1");
    CHECK(j["modes"][0]["decode_ms_per_token"]["n"].is_number_integer());
    CHECK(j["modes"][0]["vision_weight_bytes"] == 125.0e6);  // bytes as numbers
}

TEST_CASE("bench report: JSON reading fills absent optional fields with their defaults") {
    const Report r = from_json(R"({"schema": "fastvlm-bench/1", "source": "transformers",
                                   "threads": 8.0, "modes": [{"mode": "fp16", "ttft_ms": {"median": 12.5}}]})",
                               "peer.json");
    const Report defaults;
    const ModeResult mode_defaults;
    CHECK(r.source == "transformers");
    CHECK(r.threads == 8);
    CHECK(r.checkpoint == defaults.checkpoint);
    CHECK(r.notes.empty());
    REQUIRE(r.modes.size() == 1);
    CHECK(r.modes[0].mode == "fp16");
    CHECK(r.modes[0].measured == mode_defaults.measured);
    CHECK(r.modes[0].driver_peak_bytes == mode_defaults.driver_peak_bytes);
    CHECK(r.modes[0].ttft_ms.median == 12.5);
    CHECK(r.modes[0].ttft_ms.n == 0);
    CHECK(r.modes[0].text.empty());
}

TEST_CASE("bench report: JSON reading ignores fields it does not know (newer writers add fields)") {
    const Report r = from_json(R"({"schema": "fastvlm-bench/1", "gpu_clock_mhz": 1980,
                                   "modes": [{"mode": "int8", "extra": [1, 2]}]})",
                               "new.json");
    REQUIRE(r.modes.size() == 1);
    CHECK(r.modes[0].mode == "int8");
}

TEST_CASE("bench report: a value that is not a finite number is written as null and read back as NaN") {
    Report report = sample_report();
    report.modes[0].kl_divergence = std::nan("");
    report.modes[0].max_logit_error = INFINITY;
    const std::string text = to_json(report);
    CHECK(nlohmann::json::parse(text)["modes"][0]["kl_divergence"].is_null());
    const Report back = from_json(text, "report.json");
    CHECK(std::isnan(back.modes[0].kl_divergence));
    CHECK(std::isnan(back.modes[0].max_logit_error));
}

TEST_CASE("bench report: JSON reading takes Python's NaN and Infinity as not-a-number") {
    const Report r = from_json(R"({"schema": "fastvlm-bench/1", "device": "NaN Infinity \"NaN\"",
                                   "modes": [{"mode": "int8", "kl_divergence": NaN, "max_logit_error": Infinity,
                                              "load_seconds": -Infinity, "text": "NaN"}]})",
                               "peer.json");
    CHECK(r.device == "NaN Infinity \"NaN\"");  // words inside strings stay as they are
    REQUIRE(r.modes.size() == 1);
    CHECK(std::isnan(r.modes[0].kl_divergence));
    CHECK(std::isnan(r.modes[0].max_logit_error));
    CHECK(std::isnan(r.modes[0].load_seconds));
    CHECK(r.modes[0].text == "NaN");
    CHECK(test::error_of([] { from_json(R"({"schema": "fastvlm-bench/1", "modes": [{"mode": NaNx}]})", "p.json"); })
              .find("p.json: not valid JSON") == 0);
}

TEST_CASE("bench report: JSON of an answer with broken UTF-8 is still valid JSON") {
    Report report = sample_report();
    report.modes[0].text = std::string("half a character: \xE2\x82");
    std::string text;
    CHECK_NOTHROW(text = to_json(report));
    const Report back = from_json(text, "report.json");
    CHECK(back.modes[0].text.find("half a character") == 0);
}

TEST_CASE("bench report: JSON reading rejects bad input, naming the file and the problem") {
    using test::error_of;
    auto read = [](const std::string& text) { return error_of([&] { from_json(text, "peer.json"); }); };
    CHECK(read("{\"schema\": ").find("peer.json: not valid JSON") == 0);
    CHECK(read("") .find("peer.json: not valid JSON") == 0);
    CHECK(read("[1, 2]") == "peer.json: expected a JSON object at the top, got array");
    CHECK(read("{\"modes\": []}") == "peer.json: no 'schema' field; not a fastvlm-bench/1 report");
    CHECK(read("{\"schema\": \"fastvlm-bench/2\", \"modes\": []}") ==
          "peer.json: schema is \"fastvlm-bench/2\", expected \"fastvlm-bench/1\"");
    CHECK(read("{\"schema\": 1, \"modes\": []}") == "peer.json: schema is 1, expected \"fastvlm-bench/1\"");
    CHECK(read("{\"schema\": \"fastvlm-bench/1\"}") == "peer.json: field 'modes': missing");
    CHECK(read("{\"schema\": \"fastvlm-bench/1\", \"modes\": {}}") ==
          "peer.json: field 'modes': expected an array, got object");
    CHECK(read("{\"schema\": \"fastvlm-bench/1\", \"threads\": \"many\", \"modes\": []}") ==
          "peer.json: field 'threads': expected an integer, got string");
    CHECK(read("{\"schema\": \"fastvlm-bench/1\", \"threads\": 2.5, \"modes\": []}") ==
          "peer.json: field 'threads': expected an integer, got 2.5");
    CHECK(read("{\"schema\": \"fastvlm-bench/1\", \"iters\": 1e12, \"modes\": []}") ==
          "peer.json: field 'iters': integer 1000000000000.0 is out of range");
    CHECK(read("{\"schema\": \"fastvlm-bench/1\", \"synthetic\": 1, \"modes\": []}") ==
          "peer.json: field 'synthetic': expected true or false, got number");
    CHECK(read("{\"schema\": \"fastvlm-bench/1\", \"notes\": [\"a\", 2], \"modes\": []}") ==
          "peer.json: field 'notes[1]': expected a string, got number");
    CHECK(read("{\"schema\": \"fastvlm-bench/1\", \"modes\": [7]}") ==
          "peer.json: field 'modes[0]': expected an object, got number");
    CHECK(read("{\"schema\": \"fastvlm-bench/1\", \"modes\": [{\"label\": \"x\"}]}") ==
          "peer.json: field 'modes[0].mode': missing");
    CHECK(read("{\"schema\": \"fastvlm-bench/1\", \"modes\": [{\"mode\": \"\"}]}") ==
          "peer.json: field 'modes[0].mode': is empty");
    CHECK(read("{\"schema\": \"fastvlm-bench/1\", \"modes\": [{\"mode\": \"fp16\"}, "
               "{\"mode\": \"int8\", \"decode_ms_per_token\": {\"median\": \"fast\"}}]}") ==
          "peer.json: field 'modes[1].decode_ms_per_token.median': expected a number, got string");
    CHECK(read("{\"schema\": \"fastvlm-bench/1\", \"modes\": [{\"mode\": \"int8\", \"e2e_ms\": [1]}]}") ==
          "peer.json: field 'modes[0].e2e_ms': expected an object {median, min, max, n}, got array");
    CHECK(read("{\"schema\": \"fastvlm-bench/1\", \"modes\": [{\"mode\": \"int8\", \"e2e_ms\": {\"n\": -1}}]}") ==
          "peer.json: field 'modes[0].e2e_ms.n': is negative (-1)");
    CHECK(read("{\"schema\": \"fastvlm-bench/1\", \"modes\": [{\"mode\": \"int8\", \"text\": null}]}") ==
          "peer.json: field 'modes[0].text': expected a string, got null");
}

// ---------------------------------------------------------------- the terminal table

TEST_CASE("bench report: the table has the header block and a row per mode with its numbers") {
    const Report report = sample_report();
    const std::string table = render_table(report);
    CHECK(contains(table, "build/synthetic-fastvlm-0.5b"));
    CHECK(contains(table, "SYNTHETIC"));
    CHECK(contains(table, "cuda"));
    CHECK(contains(table, "NVIDIA H100 80GB HBM3"));
    CHECK(contains(line_starting(table, "threads"), "16"));
    CHECK(contains(line_starting(table, "bandwidth"), "3350 GB/s"));
    CHECK(contains(line_starting(table, "iterations"), "5 timed after 1 warmup, 50 new tokens"));
    CHECK(contains(table, "first note"));
    CHECK(contains(table, "second note"));

    // fp16's rows: weights 125 / 988 MB, peak 1500 MB, decode 3.50 [3.25–4.75] ms, 96.0% agreement.
    const std::vector<std::string> lines = lines_of(table);
    std::vector<std::string> fp16_rows;
    for (const std::string& line : lines_of(table.substr(0, table.find("\nanswers\n"))))
        if (line.compare(0, 6, "  fp16") == 0) fp16_rows.push_back(line);
    REQUIRE(fp16_rows.size() == 2);  // one in each of the two tables
    CHECK(contains(fp16_rows[0], "W16A16"));
    CHECK(contains(fp16_rows[0], "125 / 988"));
    CHECK(contains(fp16_rows[0], "1500"));
    CHECK(contains(fp16_rows[0], "1.25"));  // load s
    CHECK(contains(fp16_rows[0], "9000"));  // prefill tok/s
    CHECK(contains(fp16_rows[1], "3.50 [3.25\u20134.75]"));
    CHECK(contains(fp16_rows[1], "285"));    // tok/s
    CHECK(contains(fp16_rows[1], "2800"));   // GB/s
    CHECK(contains(fp16_rows[1], "83%"));    // roofline
    CHECK(contains(fp16_rows[1], "96.0%"));  // top-1
    CHECK(contains(fp16_rows[1], "0.0123"));  // KL
    CHECK(contains(fp16_rows[1], "yes"));
    CHECK(contains(line_starting(table, "int8"), "W8A8+fp16 outliers"));
    CHECK(contains(table, "nf4-fp32"));
    CHECK(contains(table, "nf4-fp16"));
    for (const std::string& line : lines) {
        INFO(line);
        CHECK(display_width(line) <= 100);
    }
}

TEST_CASE("bench report: the table aligns its columns") {
    const std::string table = render_table(sample_report());
    // In the second table the tok/s column ends at the same place on every row.
    std::vector<size_t> ends;
    for (const std::string& line : lines_of(table)) {
        for (const char* row_value : {" 285", " 286", " 287", " 288"}) {
            const size_t at = line.find(row_value);
            if (at != std::string::npos && contains(line, "[")) ends.push_back(display_width(line.substr(0, at + 4)));
        }
    }
    REQUIRE(ends.size() == 4);
    for (size_t e : ends) CHECK(e == ends[0]);
}

TEST_CASE("bench report: a skipped mode shows its reason instead of numbers") {
    const std::string table = render_table(sample_report());
    const std::string row = line_starting(table, "w4a4");
    CHECK(contains(row, "skipped: needs sm_80 integer tensor cores"));
    CHECK(!contains(row, " 0.00"));
    CHECK(count(table, "skipped: needs sm_80") == 2);
    // Not measured: no answer line for it.
    CHECK(!contains(table.substr(table.find("\nanswers\n")), "w4a4"));
}

TEST_CASE("bench report: the table says SYNTHETIC only for synthetic weights") {
    Report report = sample_report();
    report.synthetic = false;
    CHECK(!contains(render_table(report), "SYNTHETIC"));
    CHECK(!contains(to_svg(report), "SYNTHETIC"));
    CHECK(!contains(to_markdown(report), "SYNTHETIC"));
}

TEST_CASE("bench report: the peer's rows follow ours, marked by source") {
    const Report report = sample_report(), peer = sample_peer();
    const std::string table = render_table(report, &peer);
    CHECK(contains(table, "compared with transformers"));
    CHECK(contains(table, "build/synthetic-fastvlm-0.5b-native"));
    std::vector<std::string> sources;
    for (const std::string& line : lines_of(table)) {
        const size_t first = line.find_first_not_of(' ');
        if (first == std::string::npos) continue;
        for (const char* source : {"fastvlm ", "transformers "})
            if (line.compare(first, std::string(source).size(), source) == 0 && contains(line, "/ 9"))
                sources.push_back(source);
    }
    // First table: 4 measured rows of ours then 2 of the peer's (the skipped row has no weights).
    const std::vector<std::string> expected = {"fastvlm ", "fastvlm ", "fastvlm ", "fastvlm ", "transformers ",
                                               "transformers "};
    CHECK(sources == expected);
    CHECK(contains(table, "W8A8+fp16 outliers"));
    for (const std::string& line : lines_of(table)) {
        INFO(line);
        CHECK(display_width(line) <= 120);
    }
}

// ---------------------------------------------------------------- CSV and Markdown

TEST_CASE("bench report: CSV has a header and one record per mode, quoted per RFC 4180") {
    Report report = sample_report();
    report.modes[1].label = "x";
    report.device = "GPU \"A\", rev 2";
    report.modes[4].skipped_reason = "line one\nline two, with comma";
    const Report peer = sample_peer();
    const std::string csv = to_csv(report, &peer);
    CHECK(contains(csv, "\"GPU \"\"A\"\", rev 2\""));
    CHECK(csv.find("\r\n") != std::string::npos);

    const auto records = parse_csv(csv);
    REQUIRE(records.size() == 1 + 5 + 2);
    const std::vector<std::string>& header = records[0];
    for (const auto& r : records) CHECK(r.size() == header.size());
    auto column = [&](const std::string& name) {
        for (size_t i = 0; i < header.size(); ++i)
            if (header[i] == name) return i;
        FAIL("no column " << name);
        return size_t(0);
    };
    CHECK(records[1][column("source")] == "fastvlm");
    CHECK(records[1][column("device")] == "GPU \"A\", rev 2");
    CHECK(records[1][column("mode")] == "fp16");
    CHECK(std::stod(records[1][column("decode ms/tok median")]) == 3.5);
    CHECK(std::stod(records[1][column("decode ms/tok min")]) == 3.25);
    CHECK(std::stod(records[1][column("decode ms/tok max")]) == 4.75);
    CHECK(std::stod(records[1][column("peak MB")]) == 1500);
    CHECK(std::stod(records[2][column("weights LLM MB")]) == doctest::Approx(988.000001));
    CHECK(std::stod(records[1][column("top-1 agree %")]) == doctest::Approx(96.0));
    CHECK(records[1][column("same text")] == "yes");
    CHECK(records[5][column("mode")] == "w4a4");
    CHECK(records[5][column("skipped")] == "line one\nline two, with comma");
    CHECK(records[5][column("decode ms/tok median")].empty());
    CHECK(records[6][column("source")] == "transformers");
    CHECK(records[7][column("mode")] == "int8");
}

TEST_CASE("bench report: Markdown is a GitHub table with a row per mode, text escaped") {
    Report report = sample_report();
    report.device = "GPU | with pipe";
    report.modes[0].text = "a | b";
    const Report peer = sample_peer();
    const std::string md = to_markdown(report, &peer);
    CHECK(contains(md, "GPU \\| with pipe"));
    CHECK(contains(md, "SYNTHETIC"));

    std::vector<std::string> table;
    for (const std::string& line : lines_of(md))
        if (!line.empty() && line[0] == '|') table.push_back(line);
    REQUIRE(table.size() == 2 + 5 + 2);
    CHECK(table[1].find("---") != std::string::npos);
    // Every row has as many cells as the header: count unescaped pipes.
    auto cells = [](const std::string& line) {
        size_t n = 0;
        for (size_t i = 0; i < line.size(); ++i) n += line[i] == '|' && (i == 0 || line[i - 1] != '\\');
        return n;
    };
    for (const std::string& line : table) {
        INFO(line);
        CHECK(cells(line) == cells(table[0]));
    }
    CHECK(contains(table[0], "source"));
    CHECK(contains(table[0], "decode ms/tok median [min\u2013max]"));
    CHECK(contains(table[2], "| fastvlm | fp16 |"));
    CHECK(contains(table[2], "3.50 [3.25\u20134.75]"));
    CHECK(contains(table[6], "skipped: needs sm\\_80 integer tensor cores"));
    CHECK(contains(table[7], "| transformers | fp16 |"));
    CHECK(contains(md, "a \\| b"));

    const std::string alone = to_markdown(report);
    CHECK(!contains(alone, "transformers"));
    CHECK(!contains(alone, "| source |"));
}

// ---------------------------------------------------------------- SVG

TEST_CASE("bench report: SVG is well formed, self-contained and names every mode") {
    const Report report = sample_report();
    const std::string svg = to_svg(report);
    CHECK(xml_problem(svg) == "");
    CHECK(svg.compare(0, 5, "<?xml") == 0);
    CHECK(contains(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    CHECK(!contains(svg, "<script"));
    CHECK(!contains(svg, "<style"));
    CHECK(!contains(svg, "href"));
    CHECK(!contains(svg, "@import"));
    for (const ModeResult& m : report.modes) CHECK(count(svg, ">" + m.mode + "</text>") == 3);  // one per panel
    CHECK(contains(svg, "SYNTHETIC"));
    CHECK(contains(svg, "cuda"));
    CHECK(contains(svg, "NVIDIA H100 80GB HBM3"));
    CHECK(contains(svg, "decode time per token"));
    CHECK(contains(svg, "peak memory"));
    CHECK(contains(svg, "top-1 agreement"));
    CHECK(contains(svg, ">3.50</text>"));   // fp16's decode bar
    CHECK(contains(svg, ">1500</text>"));   // fp16's peak MB bar
    CHECK(contains(svg, ">96.0%</text>"));  // fp16's agreement bar
    CHECK(count(svg, ">skipped</text>") == 3);  // w4a4 in each panel
    CHECK(count(svg, "<rect") == 1 + 4 * 3);    // background + a bar per measured mode and panel
}

TEST_CASE("bench report: SVG escapes text") {
    Report report = sample_report();
    report.device = "A<B> & \"C\" 'D'";
    report.checkpoint = std::string("dir\x01with control and bad \xFF byte");
    report.modes[0].mode = "m<&>";
    const std::string svg = to_svg(report);
    CHECK(xml_problem(svg) == "");
    CHECK(contains(svg, "A&lt;B&gt; &amp; &quot;C&quot; &apos;D&apos;"));
    CHECK(contains(svg, "m&lt;&amp;&gt;"));
    CHECK(!contains(svg, "\x01"));
    CHECK(!contains(svg, "\xFF"));
}

TEST_CASE("bench report: SVG draws the peer's bars in another fill, with a legend") {
    const Report report = sample_report(), peer = sample_peer();
    const std::string alone = to_svg(report), both = to_svg(report, &peer);
    CHECK(xml_problem(both) == "");
    CHECK(contains(both, "transformers"));
    // The peer measured fp16 and int8: 2 bars in each of 3 panels, plus a legend swatch.
    auto fills = [](const std::string& svg) {
        std::vector<std::string> found;
        for (size_t at = svg.find("<rect"); at != std::string::npos; at = svg.find("<rect", at + 1)) {
            const size_t f = svg.find("fill=\"", at);
            found.push_back(svg.substr(f + 6, svg.find('"', f + 6) - f - 6));
        }
        return found;
    };
    const auto ours = fills(alone), with_peer = fills(both);
    CHECK(with_peer.size() == ours.size() + 2 * 3 + 2);
    std::vector<std::string> distinct_ours(ours.begin() + 1, ours.end());  // without the background
    std::sort(distinct_ours.begin(), distinct_ours.end());
    distinct_ours.erase(std::unique(distinct_ours.begin(), distinct_ours.end()), distinct_ours.end());
    REQUIRE(distinct_ours.size() == 1);
    size_t other = 0;
    for (const std::string& f : with_peer) other += f != distinct_ours[0] && f != "#ffffff";
    CHECK(other == 2 * 3 + 1);
    CHECK(count(both, ">" + std::string("fp16") + "</text>") == 3);  // one group per mode, shared
}

// ---------------------------------------------------------------- progress

TEST_CASE("bench report: progress off a terminal prints one plain line per step") {
    std::FILE* f = std::tmpfile();
    REQUIRE(f != nullptr);
    Progress progress(17, false, f);
    progress.step("fp16: load");
    progress.step("fp16: vision");
    progress.note("fp16: 3 iterations on a small CPU");
    progress.step("int8: decode");
    CHECK(progress.done() == 3);
    progress.finish();
    const std::string text = read_all(f);
    std::fclose(f);
    CHECK(text ==
          "[1/17] fp16: load\n"
          "[2/17] fp16: vision\n"
          "fp16: 3 iterations on a small CPU\n"
          "[3/17] int8: decode\n"
          "[3/17] done\n");
    CHECK(!contains(text, "\r"));
    CHECK(!contains(text, "\033"));
}

TEST_CASE("bench report: progress counts on past the announced total and keeps a step on one line") {
    std::FILE* f = std::tmpfile();
    REQUIRE(f != nullptr);
    Progress progress(1, false, f);
    progress.step("a");
    progress.step("b\nc");
    const std::string text = read_all(f);
    std::fclose(f);
    CHECK(text == "[1/1] a\n[2/2] b c\n");
}

TEST_CASE("bench report: progress on a terminal redraws one bar in place") {
    std::FILE* f = std::tmpfile();
    REQUIRE(f != nullptr);
    Progress progress(4, true, f);
    progress.step("fp16: load");
    progress.step("fp16: decode " + std::string(200, 'x'));
    const std::string bar = read_all(f);
    CHECK(!contains(bar, "\n"));  // redrawn with \r, never scrolled
    CHECK(count(bar, "\r") == 2);
    CHECK(contains(bar, "1/4 fp16: load"));
    CHECK(contains(bar, "2/4 fp16: decode"));
    // Each drawing fits 79 columns.
    const std::string last = bar.substr(bar.rfind('\r') + 1);
    CHECK(display_width(last.substr(0, last.find('\033'))) <= 79);
    progress.note("a line that stays");
    progress.finish();
    const std::string all = read_all(f);
    std::fclose(f);
    CHECK(contains(all, "a line that stays\n"));
    CHECK(contains(all, "2/4 fp16: decode"));
    CHECK(all.back() == '\n');
    CHECK(contains(all, "2/4 done"));
}
