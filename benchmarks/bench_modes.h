// The main job of `./bench`: every weight mode of FastVLM-0.5B measured side by side on one
// checkpoint, image and prompt (docs/bench.md explains the method and every column).
#pragma once
#include <cstdio>

#include "benchmarks/bench_options.h"
#include "benchmarks/bench_report.h"

namespace bench {

// Where the synthetic checkpoint lives when --model is not given (written on first use).
constexpr const char* kSyntheticCheckpointDir = "build/synthetic-fastvlm-0.5b";

// Where a run writes its chart and JSON report when --plot / --json do not say
// (<dir>/modes.svg, <dir>/modes.json): a plain `./bench` leaves both behind.
constexpr const char* kDefaultOutputDir = "build/bench";

// Runs the comparison. `progress_out` (may be null) receives the progress bar or lines.
Report run_modes_bench(const Options& options, std::FILE* progress_out);

// `./bench [OPTIONS]`: runs it, prints the table, writes the requested files (the chart and the
// JSON report into `default_output_dir` unless --plot / --json name them) and lists them.
int run_modes_command(const std::vector<std::string>& args, const std::string& default_output_dir = kDefaultOutputDir);

}  // namespace bench
