// Parsing of a plain `./bench` run's options (benchmarks/bench_options.h). One table describes
// every option: the parser and the usage text both read it, so they cannot drift apart.
#include "benchmarks/bench_options.h"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <iterator>
#include <set>
#include <utility>

#include "runtime/error.h"
#include "runtime/weight_mode.h"

namespace bench {

namespace {

struct OptionSpec {
    const char* name;   // "--iters"
    const char* value;  // the value's placeholder in the usage; nullptr: a flag
    const char* help;   // one line
};

const OptionSpec kOptions[] = {
    {"--model", "DIR", "checkpoint folder (default: synthetic FastVLM-0.5B weights, written on first use)"},
    {"--image", "FILE", "input image (default: the built-in procedural 1024x1024 test image)"},
    {"--prompt", "TEXT", "question asked about the image (default: \"Describe the image.\")"},
    {"--modes", "LIST", "comma-separated weight modes, each once (default: {benchmark modes})"},
    {"--backend", "NAME", "cpu | cuda | auto (default: auto, cuda when a GPU is found)"},
    {"--iters", "N", "timed iterations per mode, N >= 1 (default: 5, fewer on a small CPU)"},
    {"--warmup", "N", "untimed iterations before them, N >= 0 (default: 1)"},
    {"--max-new-tokens", "N", "tokens generated per iteration, greedy, N >= 1 (default: 50)"},
    {"--vision-mode", "MODE", "fp16 | same: projector in fp16, or in the LLM's weight mode (default: fp16)"},
    {"--lm-head", "MODE", "fp16 | quantized: lm_head kept fp16, or quantized like the layers (default: fp16)"},
    {"--gemm", "NAME", "own | cublaslt: dense GEMMs on our kernels (default) or cuBLASLt (CUDA backend only)"},
    {"--threads", "N", "CPU threads, N >= 0, 0: one per core (default: 0)"},
    {"--json", "FILE", "write the report as JSON (schema fastvlm-bench/1)"},
    {"--csv", "FILE", "write the table as CSV"},
    {"--markdown", "FILE", "write the table as Markdown"},
    {"--plot", "FILE.svg", "write a bar chart (decode ms/token, peak MB, top-1 agreement) as SVG"},
    {"--compare", "FILE.json", "add a peer's report (tools/peer/bench_transformers.py) to every output"},
    {"--help", nullptr, "print this help"},
};

// Sanity ceilings: far above any real run, low enough that nothing overflows downstream.
constexpr int kMaxIters = 100000;
constexpr int kMaxNewTokens = 32768;  // Qwen2-0.5B's context
constexpr int kMaxThreads = 4096;

const OptionSpec* find_option(const std::string& name) {
    for (const OptionSpec& o : kOptions)
        if (name == o.name) return &o;
    return nullptr;
}

int parse_int(const std::string& option, const std::string& value, int lo, int hi) {
    int result = 0;
    const char* begin = value.data();
    const char* end = begin + value.size();
    const auto [stop, ec] = std::from_chars(begin, end, result);
    if (ec == std::errc::result_out_of_range || (ec == std::errc() && stop == end && (result < lo || result > hi)))
        fastvlm::fail(option, "'", value, "' is out of range (", lo, " to ", hi, ")");
    if (ec != std::errc() || stop != end) fastvlm::fail(option, "'", value, "' is not an integer");
    return result;
}

std::string parse_choice(const std::string& option, const std::string& value,
                         std::initializer_list<const char*> choices) {
    std::string known;
    for (const char* c : choices) {
        if (value == c) return value;
        known += known.empty() ? "" : ", ";
        known += c;
    }
    fastvlm::fail(option, "'", value, "' is not one of ", known);
}

// "fp16,int8": each a known weight mode, none twice.
std::vector<std::string> parse_modes(const std::string& option, const std::string& value) {
    std::vector<std::string> modes;
    std::set<std::string> seen;
    size_t start = 0;
    while (true) {
        const size_t comma = value.find(',', start);
        const std::string name = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (name.empty()) fastvlm::fail(option, "'", value, "' has an empty mode name");
        try {
            fastvlm::parse_weight_mode(name);
        } catch (const fastvlm::Error& e) {
            fastvlm::fail(option, "'", value, "': ", e.what());
        }
        if (!seen.insert(name).second) fastvlm::fail(option, "'", value, "' names '", name, "' twice");
        modes.push_back(name);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return modes;
}

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

void apply(Options& o, const std::string& name, const std::string& value) {
    if (value.empty()) fastvlm::fail(name, "the value is empty");
    if (name == "--model") o.model_dir = value;
    else if (name == "--image") o.image = value;
    else if (name == "--prompt") o.prompt = value;
    else if (name == "--modes") o.modes = parse_modes(name, value);
    else if (name == "--backend") o.backend = parse_choice(name, value, {"cpu", "cuda", "auto"});
    else if (name == "--iters") o.iters = parse_int(name, value, 1, kMaxIters);
    else if (name == "--warmup") o.warmup = parse_int(name, value, 0, kMaxIters);
    else if (name == "--max-new-tokens") o.max_new_tokens = parse_int(name, value, 1, kMaxNewTokens);
    else if (name == "--vision-mode") o.vision_mode = parse_choice(name, value, {"fp16", "same"});
    else if (name == "--lm-head") o.lm_head = parse_choice(name, value, {"fp16", "quantized"});
    else if (name == "--gemm") o.gemm = parse_choice(name, value, {"own", "cublaslt"});
    else if (name == "--threads") o.threads = parse_int(name, value, 0, kMaxThreads);
    else if (name == "--json") o.json = value;
    else if (name == "--csv") o.csv = value;
    else if (name == "--markdown") o.markdown = value;
    else if (name == "--plot") {
        if (!ends_with(value, ".svg")) fastvlm::fail(name, "'", value, "': the chart is SVG, name the file *.svg");
        o.plot = value;
    } else if (name == "--compare") o.compare = value;
}

// No two outputs into one file, and no output over the report being compared against.
void check_files_distinct(const Options& o) {
    const std::pair<const char*, const std::string*> files[] = {
        {"--json", &o.json}, {"--csv", &o.csv}, {"--markdown", &o.markdown}, {"--plot", &o.plot}, {"--compare", &o.compare}};
    for (size_t i = 0; i < std::size(files); ++i)
        for (size_t j = i + 1; j < std::size(files); ++j)
            if (!files[i].second->empty() && *files[i].second == *files[j].second)
                fastvlm::fail(files[j].first, "'", *files[j].second, "' is also the file of ", files[i].first);
}

}  // namespace

Options parse_options(const std::vector<std::string>& args, bool* help) {
    Options o;
    if (help) *help = false;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--help" || arg == "-h") {
            if (help) *help = true;
            return o;
        }
        if (arg.size() < 3 || arg.compare(0, 2, "--") != 0)
            fastvlm::fail("bench", "unexpected argument '", arg, "' (options start with --, see --help)");
        const size_t eq = arg.find('=');
        const std::string name = arg.substr(0, eq);
        const OptionSpec* spec = find_option(name);
        if (!spec) fastvlm::fail(name, "unknown option (see --help)");
        if (!spec->value) fastvlm::fail(name, "takes no value, got '", arg.substr(eq + 1), "'");
        std::string value;
        if (eq != std::string::npos) {
            value = arg.substr(eq + 1);
        } else {
            if (i + 1 >= args.size()) fastvlm::fail(name, "needs a value (", spec->value, ")");
            value = args[++i];
        }
        apply(o, name, value);
    }
    check_files_distinct(o);
    return o;
}

std::string options_usage() {
    // Printed under ./bench's own usage line and by `./bench modes --help`.
    std::string usage =
        "Each weight mode of FastVLM-0.5B on one image and prompt, one table on stdout (memory, load,\n"
        "vision, prefill, first token, decode against the bandwidth roofline, agreement with fp16);\n"
        "progress on stderr. Values as \"--opt value\" or \"--opt=value\"; a repeated option keeps the last.\n";
    for (const OptionSpec& o : kOptions) {
        std::string lhs = std::string("  ") + o.name + (o.value ? std::string(" ") + o.value : "");
        std::string help = o.help;
        const std::string placeholder = "{benchmark modes}";
        if (const size_t at = help.find(placeholder); at != std::string::npos) {
            std::string names;
            for (fastvlm::WeightMode m : fastvlm::benchmark_weight_modes())
                names += (names.empty() ? "" : ",") + std::string(fastvlm::weight_mode_name(m));
            help.replace(at, placeholder.size(), names);
        }
        lhs.resize(std::max(lhs.size(), size_t(24)), ' ');
        usage += lhs + " " + help + "\n";
    }
    return usage;
}

}  // namespace bench
