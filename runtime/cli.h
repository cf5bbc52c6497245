// The fastvlm command line, as a function so that tests can run it in-process:
//
//   fastvlm --model DIR [--image FILE] [--prompt TEXT] [--max-new-tokens N] [--temperature T]
//           [--top-k K] [--top-p P] [--seed S] [--backend cpu] [--threads N] [--kv-cache f32|f16]
//           [--mmap-weights] [--no-stop]
//
// --no-stop ignores end-of-text tokens (benchmarks that need a fixed token count).
// Streams the answer to `out` as it is generated, then prints load time, vision time, time to
// first token, decode speed and peak memory to `err`. Returns the process exit status:
// 0 done, 1 the run failed (a one-line "fastvlm: ..." message on `err`), 2 bad arguments.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace fastvlm {

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace fastvlm
