// Progress of a bench run (benchmarks/bench_progress.h).
//   terminal:  "\r[######..................] 3/17 int8: decode" redrawn in place on one line
//   otherwise: "[3/17] int8: decode", one line per step, nothing redrawn (logs, CI)
// step() is called as each step starts (the previous one is then done), so step k shows as k/total
// while it runs and the bar fills with the k-1 steps finished before it.
#include "benchmarks/bench_progress.h"

#include <algorithm>
#include <cstdint>

namespace bench {

namespace {

constexpr int kBarCells = 24;
constexpr size_t kMaxLine = 79;  // a redrawn line must not wrap, or \r returns only to its last row
const char* const kEraseToEnd = "\033[K";

// `s` on one line (control characters become spaces), cut to at most `n` bytes without splitting
// a UTF-8 sequence.
std::string one_line(const std::string& s, size_t n) {
    std::string out;
    for (char c : s) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
    if (out.size() <= n) return out;
    size_t cut = n;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    return out.substr(0, cut);
}

// "[######..................] 3/17 int8: decode", at most kMaxLine bytes.
std::string bar_line(int done, int total, const std::string& what) {
    const int filled = total > 0 ? int(int64_t(kBarCells) * std::max(done - 1, 0) / total) : 0;
    std::string line = "[" + std::string(size_t(filled), '#') + std::string(size_t(kBarCells - filled), '.') + "] " +
                       std::to_string(done) + "/" + std::to_string(total) + " ";
    return line + one_line(what, kMaxLine > line.size() ? kMaxLine - line.size() : 0);
}

}  // namespace

Progress::Progress(int total, bool tty, std::FILE* out) : total_(std::max(total, 0)), tty_(tty), out_(out) {}

void Progress::step(const std::string& what) {
    ++done_;
    current_ = what;
    const int total = std::max(total_, done_);  // more steps than announced: count on, never overfill
    if (tty_)
        std::fprintf(out_, "\r%s%s", bar_line(done_, total, what).c_str(), kEraseToEnd);
    else
        std::fprintf(out_, "[%d/%d] %s\n", done_, total, one_line(what, 4096).c_str());
    std::fflush(out_);
}

void Progress::note(const std::string& line) {
    if (tty_) {
        // Erase the bar, print the line, draw the bar again below it.
        std::fprintf(out_, "\r%s%s\n", kEraseToEnd, line.c_str());
        if (done_ > 0) std::fprintf(out_, "%s%s", bar_line(done_, std::max(total_, done_), current_).c_str(), kEraseToEnd);
    } else {
        std::fprintf(out_, "%s\n", line.c_str());
    }
    std::fflush(out_);
}

void Progress::finish() {
    const int total = std::max(total_, done_);
    if (tty_)
        std::fprintf(out_, "\r[%s] %d/%d done%s\n", std::string(size_t(kBarCells), '#').c_str(), done_, total,
                     kEraseToEnd);
    else
        std::fprintf(out_, "[%d/%d] done\n", done_, total);
    std::fflush(out_);
}

}  // namespace bench
