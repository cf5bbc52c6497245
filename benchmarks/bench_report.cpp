// The written forms of a bench::Report (benchmarks/bench_report.h): the terminal table, JSON,
// CSV and Markdown. The SVG chart is in bench_svg.cpp. docs/bench.md explains every column.
#include "benchmarks/bench_report.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>

#include "runtime/error.h"

namespace bench {

Stat summarize(std::vector<double> values) {
    // NaN is no measurement (and would break the ordering sort relies on).
    values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }), values.end());
    Stat s;
    s.n = int(values.size());
    if (values.empty()) return s;
    std::sort(values.begin(), values.end());
    const size_t mid = values.size() / 2;
    s.median = values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    s.min = values.front();
    s.max = values.back();
    return s;
}

namespace {

// ================================================================ formatting numbers and text

std::string printf_string(const char* format, double v) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, format, v);
    return buffer;
}

// About three significant digits, never in exponent form above 0.001: 1234, 123.4 -> 123,
// 12.34 -> 12.3, 1.234 -> 1.23, 0.01234 -> 0.0123.
std::string short_number(double v) {
    if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
    const double a = std::fabs(v);
    if (a >= 100 || a == 0) return printf_string("%.0f", v);
    if (a >= 10) return printf_string("%.1f", v);
    if (a >= 1) return printf_string("%.2f", v);
    return printf_string("%.3g", v);
}

// Full precision for files read by programs (CSV).
std::string exact_number(double v) {
    if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
    return printf_string("%.10g", v);
}

double megabytes(double bytes) { return bytes / 1e6; }

// "-" for a byte count that was not filled in.
std::string mb_cell(double bytes) { return bytes > 0 ? short_number(megabytes(bytes)) : "-"; }

std::string stat_cell(const Stat& s) { return s.n > 0 ? short_number(s.median) : "-"; }

// "12.3 [12.1–13.0]": the median and, over two or more iterations, the range.
std::string stat_range_cell(const Stat& s) {
    if (s.n <= 0) return "-";
    if (s.n == 1) return short_number(s.median);
    return short_number(s.median) + " [" + short_number(s.min) + "\u2013" + short_number(s.max) + "]";
}

std::string percent_cell(double fraction, const char* format) {
    return std::isfinite(fraction) ? printf_string(format, fraction * 100) + "%" : short_number(fraction);
}

// The label's short form: what is stored and what the matmul runs in.
std::string short_label(const ModeResult& m) {
    static const std::pair<const char*, const char*> known[] = {
        {"reference", "W16A32 reference"}, {"fp16", "W16A16"},        {"int8", "W8A8+fp16 outliers"},
        {"nf4-fp32", "W4A32 NF4"},         {"nf4-fp16", "W4A16 NF4"}, {"w4a4", "W4A4 int4"},
    };
    for (const auto& [mode, label] : known)
        if (m.mode == mode) return label;
    // A mode this table does not know (a newer peer): the label up to its first colon.
    return m.label.substr(0, std::min(m.label.find(':'), size_t(24)));
}

// One line: control characters become spaces.
std::string flat(const std::string& s) {
    std::string out;
    for (char c : s) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
    return out;
}

// Characters on screen, counting each UTF-8 sequence once.
size_t display_width(const std::string& s) {
    size_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

// At most `n` characters, "..." marking a cut, never splitting a UTF-8 sequence.
std::string truncate(const std::string& s, size_t n) {
    if (display_width(s) <= n) return s;
    std::string out;
    size_t chars = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        const bool starts_char = (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
        if (starts_char && ++chars > n - 3) break;
        out += s[i];
    }
    return out + "...";
}

// ================================================================ the columns

// What one row shows: our rows and the peer's, in order.
struct Row {
    const ModeResult* mode;
    const Report* report;
};

std::vector<Row> rows_of(const Report& report, const Report* peer) {
    std::vector<Row> rows;
    for (const ModeResult& m : report.modes) rows.push_back({&m, &report});
    if (peer)
        for (const ModeResult& m : peer->modes) rows.push_back({&m, peer});
    return rows;
}

struct Column {
    std::string title;       // one line (Markdown)
    std::string top, under;  // the title on two lines (terminal)
    bool numeric;            // right-aligned
    std::function<std::string(const ModeResult&)> cell;
};

std::string same_text_cell(const ModeResult& m) { return m.has_quality ? (m.same_text ? "yes" : "no") : "-"; }

// The terminal splits the columns into two tables so that each stays under 100 characters;
// Markdown puts them in one.
std::vector<Column> first_columns() {
    return {
        {"mode", "mode", "", false, [](const ModeResult& m) { return m.mode; }},
        {"label", "label", "", false, [](const ModeResult& m) { return short_label(m); }},
        {"weights MB vision / LLM", "weights MB", "vision / LLM", true,
         [](const ModeResult& m) { return mb_cell(m.vision_weight_bytes) + " / " + mb_cell(m.llm_weight_bytes); }},
        {"peak MB", "peak", "MB", true, [](const ModeResult& m) { return mb_cell(m.peak_bytes); }},
        {"load s", "load", "s", true, [](const ModeResult& m) { return short_number(m.load_seconds); }},
        {"vision ms", "vision", "ms", true, [](const ModeResult& m) { return stat_cell(m.vision_ms); }},
        {"prefill tok/s", "prefill", "tok/s", true, [](const ModeResult& m) { return stat_cell(m.prefill_tokens_per_s); }},
        {"TTFT ms", "TTFT", "ms", true, [](const ModeResult& m) { return stat_cell(m.ttft_ms); }},
    };
}

std::vector<Column> second_columns() {
    return {
        {"mode", "mode", "", false, [](const ModeResult& m) { return m.mode; }},
        {"decode ms/tok median [min\u2013max]", "decode ms/tok", "median [min\u2013max]", true,
         [](const ModeResult& m) { return stat_range_cell(m.decode_ms_per_token); }},
        {"tok/s", "tok/s", "", true, [](const ModeResult& m) { return stat_cell(m.decode_tokens_per_s); }},
        {"e2e ms", "e2e", "ms", true, [](const ModeResult& m) { return stat_cell(m.e2e_ms); }},
        {"GB/s", "GB/s", "", true,
         [](const ModeResult& m) { return m.achieved_gbps > 0 ? short_number(m.achieved_gbps) : "-"; }},
        {"% roofline", "%", "roofline", true,
         [](const ModeResult& m) { return m.roofline_fraction > 0 ? percent_cell(m.roofline_fraction, "%.0f") : "-"; }},
        {"top-1 agree", "top-1", "agree", true,
         [](const ModeResult& m) { return m.has_quality ? percent_cell(m.top1_agreement, "%.1f") : "-"; }},
        {"KL", "KL", "nats", true,
         [](const ModeResult& m) { return m.has_quality ? printf_string("%.3g", m.kl_divergence) : "-"; }},
        {"max logit err", "max logit", "error", true,
         [](const ModeResult& m) { return m.has_quality ? printf_string("%.3g", m.max_logit_error) : "-"; }},
        {"same text", "same", "text", false, same_text_cell},
    };
}

std::string skipped_reason_text(const ModeResult& m) {
    return m.skipped_reason.empty() ? std::string("no reason given") : m.skipped_reason;
}
std::string skipped_cell(const ModeResult& m) { return "skipped: " + skipped_reason_text(m); }

// ================================================================ the terminal table

std::string pad(const std::string& s, size_t width, bool right) {
    const size_t w = display_width(s);
    if (w >= width) return s;
    return right ? std::string(width - w, ' ') + s : s + std::string(width - w, ' ');
}

void rstrip(std::string& line) {
    while (!line.empty() && line.back() == ' ') line.pop_back();
}

// Columns separated by two spaces; a skipped mode fills the columns after its leading text ones
// with its reason.
std::string table(const std::vector<Column>& columns_in, const std::vector<Row>& rows, bool with_source) {
    std::vector<Column> columns = columns_in;
    if (with_source) columns.insert(columns.begin(), Column{"source", "source", "", false, nullptr});
    size_t leading = 0;  // columns a skipped row still fills: source, mode, label
    while (leading < columns.size() && !columns[leading].numeric) ++leading;

    std::vector<std::vector<std::string>> cells;
    for (const Row& r : rows) {
        std::vector<std::string> line;
        for (size_t c = 0; c < columns.size(); ++c) {
            if (with_source && c == 0) line.push_back(flat(r.report->source));
            else if (!r.mode->measured && c >= leading) break;
            else line.push_back(flat(columns[c].cell(*r.mode)));
        }
        cells.push_back(line);
    }
    std::vector<size_t> width(columns.size());
    for (size_t c = 0; c < columns.size(); ++c) {
        width[c] = std::max(display_width(columns[c].top), display_width(columns[c].under));
        for (const auto& line : cells)
            if (c < line.size()) width[c] = std::max(width[c], display_width(line[c]));
    }
    std::string out;
    auto emit = [&](const std::vector<std::string>& line, const std::string& tail) {
        std::string text = "  ";
        for (size_t c = 0; c < line.size(); ++c)
            text += pad(line[c], width[c], columns[c].numeric) + (c + 1 < columns.size() ? "  " : "");
        text += tail;
        rstrip(text);
        out += text + "\n";
    };
    std::vector<std::string> top, under;
    for (const Column& c : columns) {
        top.push_back(c.top);
        under.push_back(c.under);
    }
    emit(top, "");
    emit(under, "");
    for (size_t r = 0; r < rows.size(); ++r)
        emit(cells[r], rows[r].mode->measured ? "" : flat(skipped_cell(*rows[r].mode)));
    return out;
}

std::string field_line(const char* name, const std::string& value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "  %-12s ", name);
    return buffer + flat(value) + "\n";
}

std::string iterations_text(const Report& r) {
    return std::to_string(r.iters) + " timed after " + std::to_string(r.warmup) + " warmup, " +
           std::to_string(r.max_new_tokens) + " new tokens each (greedy)";
}

std::string header_block(const Report& r, bool full) {
    std::string out;
    out += field_line("checkpoint", r.checkpoint.empty() ? "(not given)" : r.checkpoint);
    if (r.synthetic) out += field_line("weights", "SYNTHETIC: real shapes, made-up values; speeds hold, answers do not");
    out += field_line("backend", r.backend);
    out += field_line("device", r.device);
    out += field_line("threads", std::to_string(r.threads));
    out += field_line("bandwidth", r.bandwidth_gbps > 0 ? short_number(r.bandwidth_gbps) + " GB/s, measured" : "-");
    out += field_line("iterations", iterations_text(r));
    if (full) {
        out += field_line("image", r.image.empty() ? "(built-in 1024x1024 test image)" : r.image);
        out += field_line("prompt", "\"" + r.prompt + "\"");
        out += field_line("settings", "lm_head " + r.lm_head + ", vision mode " + r.vision_mode + ", gemm " + r.gemm);
        if (!r.date.empty()) out += field_line("date", r.date);
    }
    for (const std::string& note : r.notes) out += field_line("note", note);
    return out;
}

}  // namespace

std::string render_table(const Report& report, const Report* peer) {
    std::string out = "FastVLM-0.5B weight modes (" + flat(report.source) + ")\n" + header_block(report, true);
    if (peer) out += "compared with " + flat(peer->source) + "\n" + header_block(*peer, false);
    const std::vector<Row> rows = rows_of(report, peer);
    out += "\nmemory, load and first token\n" + table(first_columns(), rows, peer != nullptr);
    out += "\ndecode, and quality against the fp16 mode\n" + table(second_columns(), rows, peer != nullptr);
    bool any_text = false;
    for (const Row& r : rows) any_text |= r.mode->measured && !r.mode->text.empty();
    if (any_text) {
        out += "\nanswers\n";
        for (const Row& r : rows) {
            if (!r.mode->measured) continue;
            const std::string who = (peer ? flat(r.report->source) + " " : std::string()) + r.mode->mode;
            out += "  " + pad(who, peer ? 22 : 9, false) + " \"" + truncate(flat(r.mode->text), 80) + "\"\n";
        }
    }
    return out;
}

// ================================================================ JSON

namespace {

using ordered_json = nlohmann::ordered_json;
using json = nlohmann::json;

ordered_json stat_json(const Stat& s) {
    ordered_json j;
    j["median"] = s.median;
    j["min"] = s.min;
    j["max"] = s.max;
    j["n"] = s.n;
    return j;
}

ordered_json mode_json(const ModeResult& m) {
    ordered_json j;
    j["mode"] = m.mode;
    j["label"] = m.label;
    j["measured"] = m.measured;
    j["skipped_reason"] = m.skipped_reason;
    j["vision_weight_bytes"] = m.vision_weight_bytes;
    j["llm_weight_bytes"] = m.llm_weight_bytes;
    j["peak_bytes"] = m.peak_bytes;
    j["driver_peak_bytes"] = m.driver_peak_bytes;
    j["load_seconds"] = m.load_seconds;
    j["vision_ms"] = stat_json(m.vision_ms);
    j["prefill_tokens_per_s"] = stat_json(m.prefill_tokens_per_s);
    j["ttft_ms"] = stat_json(m.ttft_ms);
    j["decode_ms_per_token"] = stat_json(m.decode_ms_per_token);
    j["decode_tokens_per_s"] = stat_json(m.decode_tokens_per_s);
    j["e2e_ms"] = stat_json(m.e2e_ms);
    j["prompt_tokens"] = m.prompt_tokens;
    j["new_tokens"] = m.new_tokens;
    j["decode_bytes_per_token"] = m.decode_bytes_per_token;
    j["achieved_gbps"] = m.achieved_gbps;
    j["roofline_fraction"] = m.roofline_fraction;
    j["has_quality"] = m.has_quality;
    j["top1_agreement"] = m.top1_agreement;
    j["kl_divergence"] = m.kl_divergence;
    j["max_logit_error"] = m.max_logit_error;
    j["same_text"] = m.same_text;
    j["text"] = m.text;
    return j;
}

// Reads fields of the parsed file into the structs, checking each value's type. `path` names the
// field in messages ("modes[2].decode_ms_per_token.median"). Absent fields keep their defaults.
struct Reader {
    const std::string& where;

    [[noreturn]] void bad(const std::string& path, const std::string& problem) const {
        fastvlm::fail(where, "field '", path, "': ", problem);
    }
    [[noreturn]] void wrong_type(const std::string& path, const char* expected, const json& value) const {
        bad(path, std::string("expected ") + expected + ", got " + value.type_name());
    }
    const json* find(const json& object, const char* key) const {
        const auto it = object.find(key);
        return it == object.end() ? nullptr : &*it;
    }
    static std::string join(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }

    void read(const json& object, const std::string& path, const char* key, std::string& out) const {
        if (const json* v = find(object, key)) {
            if (!v->is_string()) wrong_type(join(path, key), "a string", *v);
            out = v->get<std::string>();
        }
    }
    void read(const json& object, const std::string& path, const char* key, bool& out) const {
        if (const json* v = find(object, key)) {
            if (!v->is_boolean()) wrong_type(join(path, key), "true or false", *v);
            out = v->get<bool>();
        }
    }
    // null stands for a value that was not a finite number (JSON has no NaN or infinity).
    void read(const json& object, const std::string& path, const char* key, double& out) const {
        if (const json* v = find(object, key)) {
            if (v->is_null()) out = std::numeric_limits<double>::quiet_NaN();
            else if (v->is_number()) out = v->get<double>();
            else wrong_type(join(path, key), "a number", *v);
        }
    }
    // Whole numbers in int range; 5.0 counts as 5 (some writers put every number as a float).
    void read(const json& object, const std::string& path, const char* key, int& out) const {
        if (const json* v = find(object, key)) {
            if (!v->is_number()) wrong_type(join(path, key), "an integer", *v);
            const double d = v->get<double>();
            if (d != std::floor(d)) bad(join(path, key), "expected an integer, got " + v->dump());
            if (d < INT_MIN || d > INT_MAX) bad(join(path, key), "integer " + v->dump() + " is out of range");
            out = v->is_number_float() ? int(d) : v->get<int>();
        }
    }
    void read(const json& object, const std::string& path, const char* key, std::vector<std::string>& out) const {
        if (const json* v = find(object, key)) {
            if (!v->is_array()) wrong_type(join(path, key), "an array of strings", *v);
            out.clear();
            for (size_t i = 0; i < v->size(); ++i) {
                if (!(*v)[i].is_string())
                    wrong_type(join(path, key) + "[" + std::to_string(i) + "]", "a string", (*v)[i]);
                out.push_back((*v)[i].get<std::string>());
            }
        }
    }
    void read(const json& object, const std::string& path, const char* key, Stat& out) const {
        const json* v = find(object, key);
        if (!v) return;
        const std::string here = join(path, key);
        if (!v->is_object()) wrong_type(here, "an object {median, min, max, n}", *v);
        read(*v, here, "median", out.median);
        read(*v, here, "min", out.min);
        read(*v, here, "max", out.max);
        read(*v, here, "n", out.n);
        if (out.n < 0) bad(join(here, "n"), "is negative (" + std::to_string(out.n) + ")");
    }

    ModeResult mode(const json& j, const std::string& path) const {
        if (!j.is_object()) wrong_type(path, "an object", j);
        ModeResult m;
        if (!find(j, "mode")) bad(join(path, "mode"), "missing");
        read(j, path, "mode", m.mode);
        if (m.mode.empty()) bad(join(path, "mode"), "is empty");
        read(j, path, "label", m.label);
        read(j, path, "measured", m.measured);
        read(j, path, "skipped_reason", m.skipped_reason);
        read(j, path, "vision_weight_bytes", m.vision_weight_bytes);
        read(j, path, "llm_weight_bytes", m.llm_weight_bytes);
        read(j, path, "peak_bytes", m.peak_bytes);
        read(j, path, "driver_peak_bytes", m.driver_peak_bytes);
        read(j, path, "load_seconds", m.load_seconds);
        read(j, path, "vision_ms", m.vision_ms);
        read(j, path, "prefill_tokens_per_s", m.prefill_tokens_per_s);
        read(j, path, "ttft_ms", m.ttft_ms);
        read(j, path, "decode_ms_per_token", m.decode_ms_per_token);
        read(j, path, "decode_tokens_per_s", m.decode_tokens_per_s);
        read(j, path, "e2e_ms", m.e2e_ms);
        read(j, path, "prompt_tokens", m.prompt_tokens);
        read(j, path, "new_tokens", m.new_tokens);
        read(j, path, "decode_bytes_per_token", m.decode_bytes_per_token);
        read(j, path, "achieved_gbps", m.achieved_gbps);
        read(j, path, "roofline_fraction", m.roofline_fraction);
        read(j, path, "has_quality", m.has_quality);
        read(j, path, "top1_agreement", m.top1_agreement);
        read(j, path, "kl_divergence", m.kl_divergence);
        read(j, path, "max_logit_error", m.max_logit_error);
        read(j, path, "same_text", m.same_text);
        read(j, path, "text", m.text);
        return m;
    }
};

// Python's json.dump writes NaN, Infinity and -Infinity as bare words, which JSON lacks: read
// them as null (outside strings only), the form to_json gives a non-finite value.
std::string python_non_finite_as_null(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            out += c;
            if (c == '\\' && i + 1 < text.size()) out += text[++i];
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        bool replaced = false;
        for (const char* word : {"NaN", "Infinity", "-Infinity"}) {
            const size_t n = std::char_traits<char>::length(word);
            if (text.compare(i, n, word) == 0) {
                out += "null";
                i += n - 1;
                replaced = true;
                break;
            }
        }
        if (!replaced) out += c;
    }
    return out;
}

}  // namespace

std::string to_json(const Report& report) {
    ordered_json j;
    j["schema"] = report.schema;
    j["source"] = report.source;
    j["checkpoint"] = report.checkpoint;
    j["synthetic"] = report.synthetic;
    j["backend"] = report.backend;
    j["device"] = report.device;
    j["threads"] = report.threads;
    j["bandwidth_gbps"] = report.bandwidth_gbps;
    j["iters"] = report.iters;
    j["warmup"] = report.warmup;
    j["max_new_tokens"] = report.max_new_tokens;
    j["image"] = report.image;
    j["prompt"] = report.prompt;
    j["lm_head"] = report.lm_head;
    j["vision_mode"] = report.vision_mode;
    j["gemm"] = report.gemm;
    j["date"] = report.date;
    j["notes"] = report.notes;
    j["modes"] = ordered_json::array();
    for (const ModeResult& m : report.modes) j["modes"].push_back(mode_json(m));
    // A generated answer may hold invalid UTF-8 (a token split mid-character): replace, never throw.
    return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

Report from_json(const std::string& text, const std::string& where) {
    json j;
    try {
        j = json::parse(python_non_finite_as_null(text));
    } catch (const json::parse_error& e) {
        fastvlm::fail(where, "not valid JSON (", e.what(), ")");
    }
    if (!j.is_object()) fastvlm::fail(where, "expected a JSON object at the top, got ", j.type_name());
    const Report defaults;
    const auto schema = j.find("schema");
    if (schema == j.end()) fastvlm::fail(where, "no 'schema' field; not a ", defaults.schema, " report");
    if (!schema->is_string() || schema->get<std::string>() != defaults.schema)
        fastvlm::fail(where, "schema is ", schema->dump(), ", expected \"", defaults.schema, "\"");

    const Reader in{where};
    Report r;
    in.read(j, "", "source", r.source);
    in.read(j, "", "checkpoint", r.checkpoint);
    in.read(j, "", "synthetic", r.synthetic);
    in.read(j, "", "backend", r.backend);
    in.read(j, "", "device", r.device);
    in.read(j, "", "threads", r.threads);
    in.read(j, "", "bandwidth_gbps", r.bandwidth_gbps);
    in.read(j, "", "iters", r.iters);
    in.read(j, "", "warmup", r.warmup);
    in.read(j, "", "max_new_tokens", r.max_new_tokens);
    in.read(j, "", "image", r.image);
    in.read(j, "", "prompt", r.prompt);
    in.read(j, "", "lm_head", r.lm_head);
    in.read(j, "", "vision_mode", r.vision_mode);
    in.read(j, "", "gemm", r.gemm);
    in.read(j, "", "date", r.date);
    in.read(j, "", "notes", r.notes);
    const auto modes = j.find("modes");
    if (modes == j.end()) in.bad("modes", "missing");
    if (!modes->is_array()) in.wrong_type("modes", "an array", *modes);
    for (size_t i = 0; i < modes->size(); ++i) r.modes.push_back(in.mode((*modes)[i], "modes[" + std::to_string(i) + "]"));
    return r;
}

// ================================================================ CSV

namespace {

// RFC 4180: a field holding a comma, a quote or a line break is quoted, its quotes doubled.
std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string csv_line(const std::vector<std::string>& fields) {
    std::string line;
    for (size_t i = 0; i < fields.size(); ++i) line += (i ? "," : "") + csv_field(fields[i]);
    return line + "\r\n";
}

}  // namespace

// The table's columns with one number per field (the decode range as three) and empty fields
// for what was not measured; the source, backend and device lead each row.
std::string to_csv(const Report& report, const Report* peer) {
    auto number = [](double v, bool present) { return present ? exact_number(v) : std::string(); };
    auto stat = [&](const Stat& s, double Stat::*field) { return number(s.*field, s.n > 0); };
    std::string out = csv_line({"source", "backend", "device", "mode", "label", "skipped", "weights vision MB",
                                "weights LLM MB", "peak MB", "load s", "vision ms", "prefill tok/s", "TTFT ms",
                                "decode ms/tok median", "decode ms/tok min", "decode ms/tok max", "tok/s", "e2e ms",
                                "GB/s", "% roofline", "top-1 agree %", "KL", "max logit err", "same text"});
    for (const Row& r : rows_of(report, peer)) {
        const ModeResult& m = *r.mode;
        const bool ok = m.measured, q = m.measured && m.has_quality;
        out += csv_line({r.report->source, r.report->backend, r.report->device, m.mode, short_label(m),
                         ok ? "" : skipped_reason_text(m), number(megabytes(m.vision_weight_bytes), ok),
                         number(megabytes(m.llm_weight_bytes), ok), number(megabytes(m.peak_bytes), ok),
                         number(m.load_seconds, ok), stat(m.vision_ms, &Stat::median),
                         stat(m.prefill_tokens_per_s, &Stat::median), stat(m.ttft_ms, &Stat::median),
                         stat(m.decode_ms_per_token, &Stat::median), stat(m.decode_ms_per_token, &Stat::min),
                         stat(m.decode_ms_per_token, &Stat::max), stat(m.decode_tokens_per_s, &Stat::median),
                         stat(m.e2e_ms, &Stat::median), number(m.achieved_gbps, ok),
                         number(m.roofline_fraction * 100, ok), number(m.top1_agreement * 100, q),
                         number(m.kl_divergence, q), number(m.max_logit_error, q),
                         q ? (m.same_text ? "yes" : "no") : ""});
    }
    return out;
}

// ================================================================ Markdown

namespace {

// Plain text in Markdown: one line, punctuation that would format or break a table escaped.
std::string md_text(const std::string& s) {
    std::string out;
    for (char c : flat(s)) {
        if (c == '&') out += "&amp;";
        else if (std::string("\\`*_<>|#~").find(c) != std::string::npos) out += std::string("\\") + c;
        else out += c;
    }
    return out;
}

std::string md_header(const Report& r, bool full) {
    std::string out;
    auto item = [&](const char* name, const std::string& value) { out += std::string("- ") + name + ": " + md_text(value) + "\n"; };
    item("checkpoint", r.checkpoint.empty() ? "(not given)" : r.checkpoint);
    if (r.synthetic) out += "- **SYNTHETIC weights**: real shapes, made-up values; the speeds hold, the answers do not\n";
    item("backend", r.backend);
    item("device", r.device);
    item("threads", std::to_string(r.threads));
    item("bandwidth", r.bandwidth_gbps > 0 ? short_number(r.bandwidth_gbps) + " GB/s, measured" : "-");
    item("iterations", iterations_text(r));
    if (full) {
        item("image", r.image.empty() ? "(built-in 1024x1024 test image)" : r.image);
        item("prompt", "\"" + r.prompt + "\"");
        item("settings", "lm_head " + r.lm_head + ", vision mode " + r.vision_mode + ", gemm " + r.gemm);
        if (!r.date.empty()) item("date", r.date);
    }
    for (const std::string& note : r.notes) item("note", note);
    return out;
}

}  // namespace

std::string to_markdown(const Report& report, const Report* peer) {
    std::string out = "## FastVLM-0.5B weight modes (" + md_text(report.source) + ")\n\n" + md_header(report, true);
    if (peer) out += "\nCompared with " + md_text(peer->source) + ":\n\n" + md_header(*peer, false);

    std::vector<Column> columns = first_columns();
    for (Column& c : second_columns())
        if (c.title != "mode") columns.push_back(c);
    std::string head = peer ? "| source |" : "|", rule = peer ? "|---|" : "|";
    for (const Column& c : columns) {
        head += " " + md_text(c.title) + " |";
        rule += c.numeric ? "---:|" : "---|";
    }
    out += "\n" + head + "\n" + rule + "\n";
    for (const Row& r : rows_of(report, peer)) {
        std::string line = peer ? "| " + md_text(r.report->source) + " |" : "|";
        bool reason_shown = false;  // a skipped mode: its first numeric column carries the reason
        for (const Column& c : columns) {
            std::string cell;
            if (r.mode->measured || !c.numeric) cell = c.cell(*r.mode);
            else if (!reason_shown) {
                cell = skipped_cell(*r.mode);
                reason_shown = true;
            }
            line += " " + md_text(cell) + " |";
        }
        out += line + "\n";
    }
    bool any_text = false;
    for (const Row& r : rows_of(report, peer)) any_text |= r.mode->measured && !r.mode->text.empty();
    if (any_text) {
        out += "\nAnswers:\n\n";
        for (const Row& r : rows_of(report, peer))
            if (r.mode->measured)
                out += "- " + (peer ? md_text(r.report->source) + " " : std::string()) + md_text(r.mode->mode) + ": \"" +
                       md_text(r.mode->text) + "\"\n";
    }
    return out;
}

}  // namespace bench
