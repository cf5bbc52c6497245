// Options of a plain `./bench` run (benchmarks/bench_options.h).
#include "tests/test_util.h"

#include <string>
#include <vector>

#include "benchmarks/bench_options.h"

using namespace bench;
using test::error_of;

namespace {

std::string error_for(const std::vector<std::string>& args) {
    return error_of([&] { parse_options(args); });
}

}  // namespace

TEST_CASE("bench options: no arguments give the documented defaults") {
    bool help = true;
    const Options o = parse_options({}, &help);
    CHECK(!help);
    CHECK(o.model_dir.empty());
    CHECK(o.image.empty());
    CHECK(o.prompt.empty());
    CHECK(o.modes.empty());
    CHECK(o.backend == "auto");
    CHECK(o.iters == 0);
    CHECK(o.warmup == 1);
    CHECK(o.max_new_tokens == 50);
    CHECK(o.vision_mode == "fp16");
    CHECK(o.lm_head == "fp16");
    CHECK(o.gemm == "own");
    CHECK(o.threads == 0);
    CHECK(o.json.empty());
    CHECK(o.compare.empty());
}

TEST_CASE("bench options: every option, as '--opt value' and as '--opt=value'") {
    const std::vector<std::pair<std::string, std::string>> given = {
        {"--model", "ckpt dir"},  {"--image", "cat.jpg"},   {"--prompt", "What is this? a=b"},
        {"--modes", "int8,fp16"}, {"--backend", "cuda"},    {"--iters", "7"},
        {"--warmup", "0"},        {"--max-new-tokens", "12"}, {"--vision-mode", "same"},
        {"--lm-head", "quantized"}, {"--gemm", "cublaslt"}, {"--threads", "3"},
        {"--json", "out.json"},   {"--csv", "out.csv"},     {"--markdown", "out.md"},
        {"--plot", "out.svg"},    {"--compare", "peer.json"},
    };
    for (bool joined : {false, true}) {
        CAPTURE(joined);
        std::vector<std::string> args;
        for (const auto& [name, value] : given) {
            if (joined) {
                args.push_back(name + "=" + value);
            } else {
                args.push_back(name);
                args.push_back(value);
            }
        }
        bool help = true;
        const Options o = parse_options(args, &help);
        CHECK(!help);
        CHECK(o.model_dir == "ckpt dir");
        CHECK(o.image == "cat.jpg");
        CHECK(o.prompt == "What is this? a=b");
        CHECK(o.modes == std::vector<std::string>{"int8", "fp16"});
        CHECK(o.backend == "cuda");
        CHECK(o.iters == 7);
        CHECK(o.warmup == 0);
        CHECK(o.max_new_tokens == 12);
        CHECK(o.vision_mode == "same");
        CHECK(o.lm_head == "quantized");
        CHECK(o.gemm == "cublaslt");
        CHECK(o.threads == 3);
        CHECK(o.json == "out.json");
        CHECK(o.csv == "out.csv");
        CHECK(o.markdown == "out.md");
        CHECK(o.plot == "out.svg");
        CHECK(o.compare == "peer.json");
    }
}

TEST_CASE("bench options: --help is reported, and a repeated option keeps its last value") {
    bool help = false;
    parse_options({"--iters", "3", "--help"}, &help);
    CHECK(help);
    help = false;
    parse_options({"-h"}, &help);
    CHECK(help);
    CHECK(parse_options({"--iters", "3", "--iters=9"}).iters == 9);
    // A value may itself start with dashes when given separately.
    CHECK(parse_options({"--prompt", "--not an option"}).prompt == "--not an option");
}

TEST_CASE("bench options: --modes takes known weight modes, each once") {
    CHECK(parse_options({"--modes=fp16,int8,nf4-fp32,nf4-fp16,w4a4"}).modes.size() == 5);
    CHECK(parse_options({"--modes=reference"}).modes == std::vector<std::string>{"reference"});
    CHECK(error_for({"--modes", "fp16,int9"}) ==
          "--modes: 'fp16,int9': weight mode: unknown mode 'int9' (known: reference, fp16, int8, nf4-fp32, "
          "nf4-fp16, w4a4)");
    CHECK(error_for({"--modes", "int8,fp16,int8"}) == "--modes: 'int8,fp16,int8' names 'int8' twice");
    CHECK(error_for({"--modes", "int8,,fp16"}) == "--modes: 'int8,,fp16' has an empty mode name");
    CHECK(error_for({"--modes", "int8,"}) == "--modes: 'int8,' has an empty mode name");
    CHECK(error_for({"--modes", "FP16"}).find("unknown mode 'FP16'") != std::string::npos);
}

TEST_CASE("bench options: numbers are checked, the message naming the option and the value") {
    CHECK(error_for({"--iters", "0"}) == "--iters: '0' is out of range (1 to 100000)");
    CHECK(error_for({"--iters", "abc"}) == "--iters: 'abc' is not an integer");
    CHECK(error_for({"--iters", "3x"}) == "--iters: '3x' is not an integer");
    CHECK(error_for({"--iters", "2.5"}) == "--iters: '2.5' is not an integer");
    CHECK(error_for({"--iters", " 3"}) == "--iters: ' 3' is not an integer");
    CHECK(error_for({"--iters=99999999999999999999"}) == "--iters: '99999999999999999999' is out of range (1 to 100000)");
    CHECK(error_for({"--warmup", "-1"}) == "--warmup: '-1' is out of range (0 to 100000)");
    CHECK(error_for({"--max-new-tokens", "0"}) == "--max-new-tokens: '0' is out of range (1 to 32768)");
    CHECK(error_for({"--threads", "-2"}) == "--threads: '-2' is out of range (0 to 4096)");
    CHECK(parse_options({"--warmup", "0"}).warmup == 0);
    CHECK(parse_options({"--iters", "1"}).iters == 1);
}

TEST_CASE("bench options: choices are checked against their list") {
    CHECK(error_for({"--backend", "gpu"}) == "--backend: 'gpu' is not one of cpu, cuda, auto");
    CHECK(error_for({"--vision-mode=int8"}) == "--vision-mode: 'int8' is not one of fp16, same");
    CHECK(error_for({"--lm-head", "int8"}) == "--lm-head: 'int8' is not one of fp16, quantized");
    CHECK(error_for({"--gemm", "cublas"}) == "--gemm: 'cublas' is not one of own, cublaslt");
    CHECK(parse_options({"--backend=cpu"}).backend == "cpu");
    CHECK(parse_options({"--backend=auto"}).backend == "auto");
}

TEST_CASE("bench options: malformed command lines are refused with the argument named") {
    CHECK(error_for({"--iters"}) == "--iters: needs a value (N)");
    CHECK(error_for({"--model="}) == "--model: the value is empty");
    CHECK(error_for({"--image", ""}) == "--image: the value is empty");
    CHECK(error_for({"--frobnicate", "1"}) == "--frobnicate: unknown option (see --help)");
    CHECK(error_for({"--frob=1"}) == "--frob: unknown option (see --help)");
    CHECK(error_for({"fp16"}) == "bench: unexpected argument 'fp16' (options start with --, see --help)");
    CHECK(error_for({"-i", "3"}) == "bench: unexpected argument '-i' (options start with --, see --help)");
    CHECK(error_for({"--help=yes"}) == "--help: takes no value, got 'yes'");
    CHECK(error_for({"--plot", "chart.png"}) == "--plot: 'chart.png': the chart is SVG, name the file *.svg");
    CHECK(error_for({"--json", "a.out", "--csv", "a.out"}) == "--csv: 'a.out' is also the file of --json");
    CHECK(error_for({"--json", "peer.json", "--compare", "peer.json"}) ==
          "--compare: 'peer.json' is also the file of --json");
}

TEST_CASE("bench options: the usage has one line for each option") {
    const std::string usage = options_usage();
    const char* names[] = {"--model", "--image", "--prompt", "--modes", "--backend", "--iters", "--warmup",
                           "--max-new-tokens", "--vision-mode", "--lm-head", "--gemm", "--threads", "--json",
                           "--csv", "--markdown", "--plot", "--compare", "--help"};
    size_t option_lines = 0;
    size_t start = 0;
    while (start < usage.size()) {
        const size_t end = usage.find('\n', start);
        const std::string line = usage.substr(start, end - start);
        if (line.compare(0, 4, "  --") == 0) ++option_lines;
        CHECK(line.size() <= 120);
        start = end + 1;
    }
    CHECK(option_lines == std::size(names));
    CHECK(usage.find("(default: fp16,int8,nf4-fp32,nf4-fp16,w4a4)") != std::string::npos);
    for (const char* name : names) {
        INFO(name);
        CHECK(usage.find(std::string("  ") + name + " ") != std::string::npos);
        // Every documented option parses (a flag alone, the others with a valid value).
        if (std::string(name) != "--help") CHECK(error_for({name}).find("needs a value") != std::string::npos);
    }
}
