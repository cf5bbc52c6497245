// The bench report as a self-contained SVG bar chart (bench::to_svg): three panels stacked
// vertically (decode ms/token, peak memory MB, top-1 agreement with fp16 in %), one group of
// bars per mode: ours, and the peer's beside it in another fill when a peer report is given.
// Plain SVG 1.1 elements and attributes only: no script, no CSS, no external font (the generic
// "sans-serif" family), so it opens the same in a browser, an editor or a Markdown preview.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "benchmarks/bench_report.h"

namespace bench {

namespace {

constexpr double kWidth = 760;
constexpr double kPlotLeft = 90, kPlotRight = kWidth - 20;  // the plot area's x range
constexpr double kPanelHeight = 230;                        // plot 170 + title and mode labels
constexpr double kPlotHeight = 170;
const char* const kOurFill = "#3b6ea5";
const char* const kPeerFill = "#e0913a";

// ---------------------------------------------------------------- text

// Valid UTF-8 without the control characters XML 1.0 forbids; anything else becomes '?'.
std::string clean_utf8(const std::string& s) {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        uint32_t code = length == 1 ? c : length == 2 ? c & 0x1F : length == 3 ? c & 0x0F : c & 0x07;
        bool ok = length > 0 && i + length <= s.size();
        for (size_t k = 1; ok && k < length; ++k) {
            const unsigned char next = static_cast<unsigned char>(s[i + k]);
            ok = (next & 0xC0) == 0x80;
            code = (code << 6) | (next & 0x3F);
        }
        static const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
        ok = ok && code >= smallest[length] && code <= 0x10FFFF && !(code >= 0xD800 && code <= 0xDFFF) &&
             code != 0xFFFE && code != 0xFFFF && !(code < 0x20 && code != '\t' && code != '\n' && code != '\r');
        if (ok) {
            out.append(s, i, length);
            i += length;
        } else {
            out += '?';
            ++i;
        }
    }
    return out;
}

// Text for an element's content or a quoted attribute.
std::string xml(const std::string& s) {
    std::string out;
    for (char c : clean_utf8(s)) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            case '\n': case '\r': case '\t': out += ' '; break;
            default: out += c;
        }
    }
    return out;
}

std::string num(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.1f", v);
    return buffer;
}

// A value printed on a bar: about three significant digits.
std::string value_text(double v) {
    char buffer[32];
    const double a = std::fabs(v);
    std::snprintf(buffer, sizeof buffer, a >= 100 || a == 0 ? "%.0f" : a >= 10 ? "%.1f" : a >= 1 ? "%.2f" : "%.3g", v);
    return buffer;
}

// The last `n` characters of a long path, "..." in front.
std::string tail(const std::string& s, size_t n) {
    if (s.size() <= n) return s;
    size_t start = s.size() - (n - 3);
    while (start < s.size() && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) ++start;
    return "..." + s.substr(start);
}

// The first `n` characters of a long name, "..." after them.
std::string head(const std::string& s, size_t n) {
    if (s.size() <= n) return s;
    size_t end = n - 3;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
    return s.substr(0, end) + "...";
}

std::string text_element(double x, double y, const std::string& content, const char* extra = "") {
    return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\"" + extra + ">" + xml(content) + "</text>\n";
}

// ---------------------------------------------------------------- panels

// One bar's value, or why there is none.
struct Value {
    bool present = false;
    double v = 0;
    std::string missing;  // "skipped", "not run", "n/a"
};

struct Metric {
    std::string title;  // panel title
    std::string axis;   // y-axis label
    bool percent;       // fixed 0..100 axis
    Value (*of)(const ModeResult&);
};

Value present_if(bool ok, double v) {
    if (ok && std::isfinite(v)) return {true, v, ""};
    return {false, 0, "n/a"};
}

Value decode_value(const ModeResult& m) { return present_if(m.decode_ms_per_token.n > 0, m.decode_ms_per_token.median); }
Value peak_value(const ModeResult& m) { return present_if(m.peak_bytes > 0, m.peak_bytes / 1e6); }
Value quality_value(const ModeResult& m) { return present_if(m.has_quality, m.top1_agreement * 100); }

// 1, 2 or 5 times a power of ten, at least x.
double nice_step(double x) {
    const double power = std::pow(10.0, std::floor(std::log10(x)));
    for (double f : {1.0, 2.0, 5.0, 10.0})
        if (f * power >= x * (1 - 1e-9)) return f * power;
    return 10 * power;
}

const ModeResult* find_mode(const Report* r, const std::string& mode) {
    if (r)
        for (const ModeResult& m : r->modes)
            if (m.mode == mode) return &m;
    return nullptr;
}

std::string panel(const Metric& metric, double top, const std::vector<std::string>& modes, const Report& report,
                  const Report* peer) {
    const Report* sources[2] = {&report, peer};
    const int bars = peer ? 2 : 1;
    auto value = [&](int source, const std::string& mode) {
        const ModeResult* m = find_mode(sources[source], mode);
        if (!m) return Value{false, 0, "not run"};
        if (!m->measured) return Value{false, 0, "skipped"};
        return metric.of(*m);
    };

    // The y axis: 0 to a round number above the largest bar, 5 ticks or so.
    double largest = 0;
    for (const std::string& mode : modes)
        for (int s = 0; s < bars; ++s) {
            const Value v = value(s, mode);
            if (v.present) largest = std::max(largest, v.v);
        }
    double step = metric.percent ? 20 : largest > 0 ? nice_step(largest / 5) : 1;
    double axis_max = metric.percent ? 100 : std::max(step, std::ceil(largest / step - 1e-9) * step);

    const double plot_top = top + 34, plot_bottom = plot_top + kPlotHeight;
    std::string out = "<g>\n";
    out += text_element(kPlotLeft, top + 16, metric.title, " font-size=\"14\" font-weight=\"bold\"");
    // Grid lines with their values, then the axis label turned along the axis.
    for (double t = 0; t <= axis_max * (1 + 1e-9); t += step) {
        const double y = plot_bottom - t / axis_max * kPlotHeight;
        out += "<line x1=\"" + num(kPlotLeft) + "\" y1=\"" + num(y) + "\" x2=\"" + num(kPlotRight) + "\" y2=\"" + num(y) +
               "\" stroke=\"#dddddd\" stroke-width=\"1\"/>\n";
        char tick[32];
        std::snprintf(tick, sizeof tick, "%g", t);
        out += text_element(kPlotLeft - 6, y + 4, tick, " font-size=\"11\" text-anchor=\"end\"");
    }
    const double mid = (plot_top + plot_bottom) / 2;
    out += text_element(24, mid, metric.axis,
                        (" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 24 " + num(mid) + ")\"").c_str());
    out += "<line x1=\"" + num(kPlotLeft) + "\" y1=\"" + num(plot_top) + "\" x2=\"" + num(kPlotLeft) + "\" y2=\"" +
           num(plot_bottom) + "\" stroke=\"#333333\" stroke-width=\"1\"/>\n";
    out += "<line x1=\"" + num(kPlotLeft) + "\" y1=\"" + num(plot_bottom) + "\" x2=\"" + num(kPlotRight) + "\" y2=\"" +
           num(plot_bottom) + "\" stroke=\"#333333\" stroke-width=\"1\"/>\n";

    // The bars, a group per mode, the mode's name under it.
    const double group = (kPlotRight - kPlotLeft) / double(std::max<size_t>(modes.size(), 1));
    const double bar = std::min(group * 0.7 / bars, 70.0);
    for (size_t g = 0; g < modes.size(); ++g) {
        const double centre = kPlotLeft + group * (double(g) + 0.5);
        for (int s = 0; s < bars; ++s) {
            const double x = centre - bar * bars / 2 + bar * s;
            const Value v = value(s, modes[g]);
            if (!v.present) {
                out += text_element(x + bar / 2, plot_bottom - 6, v.missing,
                                    " font-size=\"10\" fill=\"#777777\" text-anchor=\"middle\"");
                continue;
            }
            const double h = std::min(std::max(v.v, 0.0) / axis_max, 1.0) * kPlotHeight;
            out += "<rect x=\"" + num(x + 1) + "\" y=\"" + num(plot_bottom - h) + "\" width=\"" + num(bar - 2) +
                   "\" height=\"" + num(h) + "\" fill=\"" + (s == 0 ? kOurFill : kPeerFill) + "\"/>\n";
            out += text_element(x + bar / 2, plot_bottom - h - 4, value_text(v.v) + (metric.percent ? "%" : ""),
                                " font-size=\"10\" text-anchor=\"middle\"");
        }
        out += text_element(centre, plot_bottom + 16, modes[g], " font-size=\"12\" text-anchor=\"middle\"");
    }
    return out + "</g>\n";
}

}  // namespace

std::string to_svg(const Report& report, const Report* peer) {
    // Every mode of either report, ours in order first.
    std::vector<std::string> modes;
    for (const Report* r : {&report, peer})
        if (r)
            for (const ModeResult& m : r->modes)
                if (std::find(modes.begin(), modes.end(), m.mode) == modes.end()) modes.push_back(m.mode);

    const Metric metrics[] = {
        {"decode time per token (median, lower is better)", "ms / token", false, decode_value},
        {"peak memory (lower is better)", "MB", false, peak_value},
        {"top-1 agreement with fp16 (higher is better)", "% of positions", true, quality_value},
    };
    const double header = peer ? 86 : 64;
    const double height = header + kPanelHeight * 3 + 10;

    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + num(kWidth) + "\" height=\"" +
           num(height) + "\" viewBox=\"0 0 " + num(kWidth) + " " + num(height) +
           "\" font-family=\"sans-serif\" fill=\"#222222\">\n";
    const std::string title = "FastVLM-0.5B weight modes: " + tail(report.checkpoint, 60) +
                              (report.synthetic ? " (SYNTHETIC weights)" : "");
    out += "<title>" + xml(title) + "</title>\n";
    out += "<rect x=\"0\" y=\"0\" width=\"" + num(kWidth) + "\" height=\"" + num(height) + "\" fill=\"#ffffff\"/>\n";
    out += text_element(20, 26, title, " font-size=\"16\" font-weight=\"bold\"");
    out += text_element(20, 46, report.backend + " backend, " + report.device + ", " + std::to_string(report.threads) +
                                    " threads, " + std::to_string(report.iters) + " iterations, " +
                                    std::to_string(report.max_new_tokens) + " new tokens",
                        " font-size=\"12\"");
    if (peer) {
        // The legend: which fill is which report.
        const Report* sources[2] = {&report, peer};
        for (int s = 0; s < 2; ++s) {
            const double x = 20 + 360 * s;
            out += "<rect x=\"" + num(x) + "\" y=\"58\" width=\"14\" height=\"14\" fill=\"" + (s ? kPeerFill : kOurFill) + "\"/>\n";
            out += text_element(x + 20, 70, sources[s]->source + " (" + sources[s]->backend + ", " + head(sources[s]->device, 30) + ")",
                                " font-size=\"12\"");
        }
    }
    for (int p = 0; p < 3; ++p) out += panel(metrics[p], header + kPanelHeight * p, modes, report, peer);
    return out + "</svg>\n";
}

}  // namespace bench
