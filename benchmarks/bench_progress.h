// Progress of a long bench run on stderr: a bar redrawn in place on a terminal, plain lines
// otherwise (logs, CI), so stdout carries only the results.
#pragma once
#include <cstdio>
#include <string>

namespace bench {

class Progress {
public:
    // total: how many steps the run has; tty: draw a bar (normally isatty(stderr)).
    Progress(int total, bool tty, std::FILE* out = stderr);
    void step(const std::string& what);   // one step done, `what` starts next
    void note(const std::string& line);   // a line that stays (the bar is redrawn under it)
    void finish();
    int done() const { return done_; }

private:
    int total_, done_ = 0;
    bool tty_;
    std::FILE* out_;
    std::string current_;  // the running step, redrawn after a note
};

}  // namespace bench
