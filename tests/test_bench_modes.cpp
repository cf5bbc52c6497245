// A miniature `./bench` end to end: every weight mode on a tiny synthetic checkpoint, one timed
// pass of a few tokens, and the report it fills (then written and read back as JSON).
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "benchmarks/bench_modes.h"
#include "loader/synthetic.h"
#include "tests/test_util.h"

namespace {

std::string tiny_checkpoint() {
    const std::string dir = test::temp_dir("bench_modes_tiny");
    fastvlm::SyntheticOptions options;
    options.size = fastvlm::SyntheticSize::Tiny;
    write_synthetic_checkpoint(dir, options);
    return dir;
}

bench::Options tiny_options(const std::string& dir) {
    bench::Options o;
    o.model_dir = dir;
    o.iters = 1;
    o.max_new_tokens = 4;
    o.threads = 1;
    return o;
}

}  // namespace

TEST_CASE("bench modes: a miniature run measures every mode and compares it with fp16") {
    const std::string dir = tiny_checkpoint();
    std::FILE* progress = std::tmpfile();
    const bench::Report report = bench::run_modes_bench(tiny_options(dir), progress);
    std::fclose(progress);

    CHECK(report.checkpoint == dir);
    CHECK_FALSE(report.synthetic);  // --model was given: the bench cannot know the weights are synthetic
    CHECK(report.backend == "cpu");
    CHECK(report.iters == 1);
    CHECK(report.bandwidth_gbps > 0);
    REQUIRE(report.modes.size() == 5);
    const char* names[] = {"fp16", "int8", "nf4-fp32", "nf4-fp16", "w4a4"};
    for (size_t i = 0; i < 5; ++i) {
        const bench::ModeResult& m = report.modes[i];
        CAPTURE(m.mode);
        CHECK(m.mode == names[i]);
        CHECK(m.measured);
        CHECK(m.new_tokens == 4);
        CHECK(m.prompt_tokens > 0);
        CHECK(m.vision_ms.n == 1);
        CHECK(m.vision_ms.median > 0);
        CHECK(m.decode_ms_per_token.n == 1);
        CHECK(m.decode_ms_per_token.median > 0);
        CHECK(m.e2e_ms.median >= m.ttft_ms.median);
        CHECK(m.peak_bytes >= m.llm_weight_bytes);
        CHECK(m.decode_bytes_per_token > 0);
        CHECK(m.has_quality);
        CHECK(m.top1_agreement >= 0.0);
        CHECK(m.top1_agreement <= 1.0);
        CHECK(m.kl_divergence >= 0.0);
    }
    // fp16 is the baseline; 8-bit weights take about half its bytes, 4-bit about a quarter.
    const bench::ModeResult& fp16 = report.modes[0];
    CHECK(fp16.top1_agreement == 1.0);
    CHECK(fp16.same_text);
    CHECK(report.modes[1].llm_weight_bytes < fp16.llm_weight_bytes);
    CHECK(report.modes[2].llm_weight_bytes < report.modes[1].llm_weight_bytes);
    CHECK(report.modes[4].max_logit_error > 0.0);
    // Nothing stayed allocated between modes.
    for (const std::string& note : report.notes) CHECK(note.find("after the model was freed") == std::string::npos);

    // The JSON is read back field for field.
    const bench::Report back = bench::from_json(bench::to_json(report), "report.json");
    REQUIRE(back.modes.size() == report.modes.size());
    CHECK(back.modes[3].mode == "nf4-fp16");
    CHECK(back.modes[3].decode_ms_per_token.median == report.modes[3].decode_ms_per_token.median);
    CHECK(back.modes[4].text == report.modes[4].text);
}

TEST_CASE("bench modes: a subset of modes, and refusals with clear messages") {
    const std::string dir = tiny_checkpoint();
    bench::Options o = tiny_options(dir);
    o.modes = {"int8"};
    const bench::Report report = bench::run_modes_bench(o, nullptr);
    REQUIRE(report.modes.size() == 1);
    CHECK_FALSE(report.modes[0].has_quality);  // no fp16 baseline in this run
    bool said_why = false;
    for (const std::string& note : report.notes) said_why |= note.find("needs the fp16 mode") != std::string::npos;
    CHECK(said_why);

    o.backend = "cuda";
    CHECK(test::error_of([&] { bench::run_modes_bench(o, nullptr); }).find("no CUDA backend") != std::string::npos);
    o.backend = "cpu";
    o.gemm = "cublaslt";
    CHECK(test::error_of([&] { bench::run_modes_bench(o, nullptr); }) ==
          "bench: --gemm cublaslt: cuBLASLt runs on the CUDA backend only, and this run uses the CPU backend");
    o.gemm = "own";
    o.model_dir = dir + "/missing";
    CHECK(test::error_of([&] { bench::run_modes_bench(o, nullptr); }).find("missing") != std::string::npos);
    o.model_dir = dir;
    o.image = dir + "/config.json";  // not an image
    CHECK(test::error_of([&] { bench::run_modes_bench(o, nullptr); }).find("config.json") != std::string::npos);
}

namespace {

// Runs `body` with stdout going to a file; returns what it printed and the error it threw.
struct Captured {
    std::string out, error;
};
template <typename F>
Captured capture_stdout(F&& body) {
    const std::string path = test::temp_dir("bench_modes_stdout") + "/stdout.txt";
    std::fflush(stdout);
    const int saved = dup(fileno(stdout));
    std::FILE* sink = std::fopen(path.c_str(), "w");
    REQUIRE(sink);
    dup2(fileno(sink), fileno(stdout));
    Captured c;
    c.error = test::error_of(body);
    std::fflush(stdout);
    dup2(saved, fileno(stdout));
    close(saved);
    std::fclose(sink);
    c.out = test::read_file(path);
    return c;
}

}  // namespace

TEST_CASE("bench modes: the command prints the table and leaves the SVG chart and JSON report by default") {
    const std::string dir = tiny_checkpoint();
    const std::string out_dir = test::temp_dir("bench_modes_command") + "/outputs";  // created by the command
    const std::vector<std::string> args = {"--model", dir, "--modes", "fp16,w4a4", "--iters", "1",
                                           "--max-new-tokens", "2", "--threads", "1"};
    int status = -1;
    const Captured run = capture_stdout([&] { status = bench::run_modes_command(args, out_dir); });
    REQUIRE(run.error == "");
    CHECK(status == 0);
    CHECK(run.out.find("w4a4") != std::string::npos);
    CHECK(run.out.find("written: " + out_dir + "/modes.json (JSON report), " + out_dir + "/modes.svg (SVG chart)") !=
          std::string::npos);
    const std::string svg = test::read_file(out_dir + "/modes.svg");
    CHECK(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
    CHECK(svg.find("</svg>") != std::string::npos);
    const bench::Report report = bench::from_json(test::read_file(out_dir + "/modes.json"), out_dir + "/modes.json");
    REQUIRE(report.modes.size() == 2);
    CHECK(report.modes[1].mode == "w4a4");

    // A file named on the command line replaces its default; the other default stays.
    const std::string named = test::temp_dir("bench_modes_named") + "/chart.svg";
    std::vector<std::string> with_plot = args;
    with_plot.insert(with_plot.end(), {"--plot", named, "--modes", "fp16"});
    const Captured again = capture_stdout([&] { bench::run_modes_command(with_plot, out_dir); });
    REQUIRE(again.error == "");
    CHECK(test::read_file(named).find("</svg>") != std::string::npos);
    CHECK(again.out.find(named + " (SVG chart)") != std::string::npos);
    CHECK(bench::from_json(test::read_file(out_dir + "/modes.json"), "modes.json").modes.size() == 1);
}
