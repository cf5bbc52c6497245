// ./bench: every weight mode side by side (benchmarks/bench_modes.h).
//
// Method, per mode: a fresh backend; load + quantize the checkpoint; one untimed pass that is
// both the warm-up and the quality measurement (the fp16 mode decodes greedily and keeps its
// logits; the others are fed fp16's tokens and their logits compared); further warm-up passes if
// asked; then N timed passes of image -> vision tower -> prefill -> max_new_tokens greedy tokens
// (no early stop). The model is then freed and the backend's memory checked back at zero before
// the next mode starts.
#include "benchmarks/bench_modes.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/bandwidth.h"
#include "benchmarks/bench.h"
#include "benchmarks/bench_image.h"
#include "benchmarks/bench_progress.h"
#include "loader/image.h"
#include "loader/image_preprocess.h"
#include "loader/model_files.h"
#include "loader/synthetic.h"
#include "model/fastvlm.h"
#include "runtime/cpu/backend_cpu.h"
#include "runtime/error.h"
#include "runtime/generate.h"
#include "runtime/weight_mode.h"
#include "tokenizer/prompt.h"
#include "tokenizer/tokenizer.h"

namespace bench {

namespace {

using Clock = std::chrono::steady_clock;
using fastvlm::WeightMode;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

bool file_exists(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f) std::fclose(f);
    return f != nullptr;
}

std::string cpu_model_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            const size_t colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
        }
    return "unknown CPU";
}

std::string utc_now() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

// Logits of every generated position, from the fp16 mode: what the others are compared with.
struct QualityReference {
    std::vector<int32_t> ids;
    std::vector<std::vector<float>> logits;  // [new_tokens][id_limit]
    std::string text;
};

struct QualityScores {
    double top1_agreement = 0, kl_divergence = 0, max_logit_error = 0;
};

// Top-1 agreement, mean KL(p_ref || p) and max |logit error| over positions and ids.
QualityScores compare_logits(const std::vector<std::vector<float>>& reference,
                             const std::vector<std::vector<float>>& logits) {
    QualityScores q;
    const size_t positions = std::min(reference.size(), logits.size());
    if (positions == 0) return q;
    size_t agree = 0;
    double kl_sum = 0;
    for (size_t p = 0; p < positions; ++p) {
        const std::vector<float>& a = reference[p];
        const std::vector<float>& b = logits[p];
        const size_t n = std::min(a.size(), b.size());
        size_t arg_a = 0, arg_b = 0;
        double max_a = a[0], max_b = b[0];
        for (size_t i = 0; i < n; ++i) {
            if (a[i] > max_a) max_a = a[i], arg_a = i;
            if (b[i] > max_b) max_b = b[i], arg_b = i;
            q.max_logit_error = std::max(q.max_logit_error, double(std::fabs(a[i] - b[i])));
        }
        agree += arg_a == arg_b;
        double sum_a = 0, sum_b = 0;
        for (size_t i = 0; i < n; ++i) {
            sum_a += std::exp(double(a[i]) - max_a);
            sum_b += std::exp(double(b[i]) - max_b);
        }
        const double log_za = max_a + std::log(sum_a), log_zb = max_b + std::log(sum_b);
        double kl = 0;
        for (size_t i = 0; i < n; ++i) {
            const double log_pa = double(a[i]) - log_za, log_pb = double(b[i]) - log_zb;
            kl += std::exp(log_pa) * (log_pa - log_pb);
        }
        kl_sum += std::max(0.0, kl);
    }
    q.top1_agreement = double(agree) / double(positions);
    q.kl_divergence = kl_sum / double(positions);
    return q;
}

// One pass: image -> tokens -> prompt -> generation, with its timings.
struct PassTimes {
    double vision = 0, embed = 0;
    fastvlm::GenerateResult result;
};

}  // namespace

Report run_modes_bench(const Options& o, std::FILE* progress_out) {
    using namespace fastvlm;
    Report report;
    report.date = utc_now();

    // ---- where, on what: the CUDA backend when this build has it and a GPU answers, else the CPU
    std::string backend_name = o.backend;
    BackendOptions backend_options;
    backend_options.threads = o.threads;
    backend_options.copy_weights = true;
    backend_options.gemm = o.gemm == "cublaslt" ? GemmEngine::CublasLt : GemmEngine::Own;
    if (backend_name == "auto") {
        backend_name = "cpu";
        if (!backend_registered("cuda")) {
            report.notes.push_back("backend: cpu (this build has no CUDA backend: nvcc was not found at build time)");
        } else {
            try {
                make_backend("cuda", backend_options);
                backend_name = "cuda";
            } catch (const Error& e) {
                report.notes.push_back(std::string("backend: cpu (no usable GPU: ") + e.what() + ")");
            }
        }
    }
    if (backend_name == "cuda" && !backend_registered("cuda"))
        fail("bench", "--backend cuda: this build has no CUDA backend (nvcc was not found at build time); use "
                      "--backend cpu");
    if (backend_name != "cpu" && backend_name != "cuda")
        fail("bench", "--backend ", backend_name, ": expected cpu, cuda or auto");
    report.backend = backend_name;
    if (o.gemm == "cublaslt" && backend_name != "cuda")
        fail("bench", "--gemm cublaslt: cuBLASLt runs on the CUDA backend only, and this run uses the CPU backend",
             report.notes.empty() ? std::string() : " (" + report.notes.back() + ")");
    report.gemm = o.gemm;
    if (o.gemm == "cublaslt")
        report.notes.push_back("gemm: cuBLASLt computes the dense GEMMs (activations narrowed to the weight's 16-bit "
                               "type, fp32 accumulation); quantized layers and other operations run our kernels");
    report.lm_head = o.lm_head;
    report.vision_mode = o.vision_mode;
    report.device = cpu_model_name();

    std::vector<WeightMode> modes;
    if (o.modes.empty()) modes = benchmark_weight_modes();
    for (const std::string& name : o.modes) modes.push_back(parse_weight_mode(name));

    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    int iters = o.iters;
    if (iters <= 0) {
        // A small CPU takes ~10 s per pass: one timed pass after the warm-up/quality pass keeps
        // the default run of five modes near two minutes there.
        iters = backend_name == "cpu" && cores <= 4 ? 1 : 5;
        if (iters < 5)
            report.notes.push_back("iterations: " + std::to_string(iters) + " instead of 5 (" + std::to_string(cores) +
                                   " CPU cores: the default run stays within three minutes; --iters 5 for more)");
    }
    report.iters = iters;
    report.warmup = std::max(1, o.warmup);
    if (o.warmup < 1)
        report.notes.push_back("warm-up: one untimed pass is always run (it is the quality measurement)");
    report.max_new_tokens = o.max_new_tokens;

    const int total_steps = 2 + int(modes.size()) * (1 + report.warmup + iters);
    std::unique_ptr<Progress> progress;
    if (progress_out) progress = std::make_unique<Progress>(total_steps, isatty(fileno(progress_out)) != 0, progress_out);
    auto step = [&](const std::string& what) {
        if (progress) progress->step(what);
    };

    std::string dir = o.model_dir;
    report.synthetic = dir.empty();
    if (dir.empty()) {
        dir = kSyntheticCheckpointDir;
        if (!file_exists(dir + "/config.json")) {
            if (progress) progress->note("writing the synthetic FastVLM-0.5B checkpoint to " + dir + " (once)");
            SyntheticOptions synthetic;
            synthetic.size = SyntheticSize::Full;
            synthetic.layout = CheckpointLayout::LlavaQwen2;
            synthetic.dtype = DType::F16;
            write_synthetic_checkpoint(dir, synthetic);
        }
    }
    report.checkpoint = dir;
    step("checkpoint ready");


    const RgbImage image = o.image.empty() ? procedural_test_image() : load_image(o.image);
    report.image = o.image.empty() ? "built-in procedural " + std::to_string(kTestImageSide) + "x" +
                                         std::to_string(kTestImageSide) + " test image"
                                   : o.image;
    const std::string question = o.prompt.empty() ? std::string(kDefaultQuestion) : o.prompt;
    report.prompt = question;

    {  // a checkpoint that cannot be read fails here, before any measuring
        const ModelFiles probe(dir);
        Tokenizer::from_file(probe.tokenizer_path());
    }

    if (backend_name == "cpu") {
        cpu::ThreadPool pool(o.threads);
        report.threads = pool.size();
        report.bandwidth_gbps = measure_bandwidth(pool);
    } else {
        std::unique_ptr<Backend> probe = make_backend(backend_name, backend_options);
        report.bandwidth_gbps = probe->measure_bandwidth_gbps();
        report.threads = 0;
        report.device = probe->device_name();
    }
    step("bandwidth measured");

    QualityReference reference;
    bool have_reference = false;
    for (const WeightMode mode : modes) {
        const std::string name = weight_mode_name(mode);
        ModeResult m;
        m.mode = name;
        m.label = weight_mode_label(mode);
        {
            const std::unique_ptr<Backend> backend_owner = make_backend(backend_name, backend_options);
            Backend& backend = *backend_owner;
            // What the backend holds for itself (the cuBLASLt workspace): the level to return to.
            const size_t baseline_bytes = backend.memory().current_bytes;
            step(name + ": load + quantize");
            auto start = Clock::now();
            const ModelFiles files(dir);
            const ModelModes model_modes =
                ModelModes::for_mode(mode, o.lm_head == "quantized", o.vision_mode == "same");
            auto model = std::make_unique<FastVLM>(backend, files, model_modes);
            const Tokenizer tokenizer = Tokenizer::from_file(files.tokenizer_path());
            m.load_seconds = seconds_since(start);
            m.vision_weight_bytes = double(model->vision_weight_bytes());
            m.llm_weight_bytes = double(model->llm_weight_bytes());

            const std::vector<float> pixels = preprocess_image(image, model->image_size());
            const PromptIds prompt = fastvlm_prompt_ids(tokenizer, question, true, kImagePlaceholderId);
            GenerateOptions base;
            base.max_new_tokens = o.max_new_tokens;  // no stop ids: always the full count
            base.id_limit = tokenizer.id_limit();

            auto pass = [&](const GenerateOptions& options) {
                PassTimes t;
                auto mark = Clock::now();
                const Tensor image_tokens = model->encode_image(pixels);
                backend.synchronize();
                t.vision = seconds_since(mark);
                mark = Clock::now();
                const Tensor embeddings = model->embed_prompt(prompt.ids, kImagePlaceholderId, &image_tokens);
                t.embed = seconds_since(mark);
                t.result = generate(backend, model->language_model(), embeddings, options, &tokenizer);
                return t;
            };

            // Warm-up and quality: fp16 decodes freely and keeps its logits; the others follow its tokens.
            std::vector<std::vector<float>> logits;
            GenerateOptions quality = base;
            quality.on_logits = [&](int, const std::vector<float>& l) {
                logits.emplace_back(l.begin(), l.begin() + std::min<size_t>(l.size(), size_t(base.id_limit)));
            };
            const bool is_reference = mode == WeightMode::F16 && !have_reference;
            if (!is_reference && have_reference) quality.forced_ids = reference.ids;
            step(name + ": warm-up + quality pass");
            const PassTimes first = pass(quality);
            if (is_reference) {
                reference.ids = first.result.ids;
                reference.logits = std::move(logits);
                reference.text = first.result.text;
                have_reference = true;
                m.has_quality = true;
                m.top1_agreement = 1.0;  // the baseline itself
            } else if (have_reference) {
                const QualityScores q = compare_logits(reference.logits, logits);
                m.has_quality = true;
                m.top1_agreement = q.top1_agreement;
                m.kl_divergence = q.kl_divergence;
                m.max_logit_error = q.max_logit_error;
            }
            logits.clear();
            for (int w = 1; w < report.warmup; ++w) {
                step(name + ": warm-up");
                pass(base);
            }

            std::vector<double> vision_ms, prefill_tps, ttft_ms, decode_ms, decode_tps, e2e_ms;
            for (int i = 0; i < iters; ++i) {
                step(name + ": timed pass " + std::to_string(i + 1) + "/" + std::to_string(iters));
                const PassTimes t = pass(base);
                const GenerateResult& r = t.result;
                const double ttft = t.vision + t.embed + r.prefill_seconds;
                vision_ms.push_back(t.vision * 1e3);
                prefill_tps.push_back(r.prompt_tokens / std::max(r.prefill_seconds, 1e-12));
                ttft_ms.push_back(ttft * 1e3);
                if (r.decode_steps > 0) {
                    const double per_token = r.decode_seconds / r.decode_steps;
                    decode_ms.push_back(per_token * 1e3);
                    decode_tps.push_back(1.0 / per_token);
                }
                e2e_ms.push_back((ttft + r.decode_seconds) * 1e3);
                if (i == 0) {
                    m.text = r.text;
                    m.prompt_tokens = r.prompt_tokens;
                    m.new_tokens = int(r.ids.size());
                }
            }
            m.vision_ms = summarize(vision_ms);
            m.prefill_tokens_per_s = summarize(prefill_tps);
            m.ttft_ms = summarize(ttft_ms);
            m.decode_ms_per_token = summarize(decode_ms);
            m.decode_tokens_per_s = summarize(decode_tps);
            m.e2e_ms = summarize(e2e_ms);
            if (have_reference) m.same_text = m.text == reference.text;

            // Bytes one decode step reads: the weights, and the fp32 KV cache at its mean length.
            const TextConfig& text = model->config().text;
            const double mean_positions = m.prompt_tokens + 0.5 * std::max(0, m.new_tokens - 1);
            const double kv_bytes = mean_positions * text.layers * 2.0 * text.kv_heads * text.head_dim * 4.0;
            m.decode_bytes_per_token = double(model->language_model().decode_weight_bytes()) + kv_bytes;
            if (m.decode_ms_per_token.n > 0) {
                m.achieved_gbps = m.decode_bytes_per_token / (m.decode_ms_per_token.median * 1e-3) / 1e9;
                m.roofline_fraction = report.bandwidth_gbps > 0 ? m.achieved_gbps / report.bandwidth_gbps : 0;
            }
            const MemoryStats memory = backend.memory();
            m.peak_bytes = double(memory.peak_bytes);
            if (backend_name == "cuda") m.driver_peak_bytes = double(memory.driver_used_bytes);

            model.reset();
            const size_t now = backend.memory().current_bytes;
            if (now != baseline_bytes)
                report.notes.push_back(name + ": " + std::to_string(now) + " bytes allocated after the model was freed, " +
                                       std::to_string(baseline_bytes) + " before it was loaded");
        }
        report.modes.push_back(std::move(m));
    }
    if (!have_reference) report.notes.push_back("quality: needs the fp16 mode in --modes (it is the baseline)");
    report.notes.push_back("peak memory: our allocator's accounting (weights copied at load + activations + KV cache)");
    if (progress) progress->finish();
    return report;
}

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fastvlm::fail(path, "cannot open");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    if (!out) fastvlm::fail(path, "cannot open for writing");
    out << text;
    if (!out.flush()) fastvlm::fail(path, "write failed");
}

}  // namespace

int run_modes_command(const std::vector<std::string>& args, const std::string& default_output_dir) {
    bool help = false;
    Options options = parse_options(args, &help);
    if (help) {
        std::printf("%s", options_usage().c_str());
        return 0;
    }
    if (options.plot.empty() || options.json.empty()) {
        std::error_code error;
        std::filesystem::create_directories(default_output_dir, error);
        if (error) fastvlm::fail(default_output_dir, "cannot create the output folder: ", error.message());
        if (options.plot.empty()) options.plot = default_output_dir + "/modes.svg";
        if (options.json.empty()) options.json = default_output_dir + "/modes.json";
    }
    // Read the peer's results first: a bad file should fail before minutes of measuring.
    Report peer;
    const bool with_peer = !options.compare.empty();
    if (with_peer) peer = from_json(read_file(options.compare), options.compare);

    const Report report = run_modes_bench(options, stderr);
    const Report* other = with_peer ? &peer : nullptr;
    std::printf("%s", render_table(report, other).c_str());
    std::fflush(stdout);
    std::string written;
    auto output = [&](const std::string& path, const char* what, const std::string& text) {
        if (path.empty()) return;
        write_file(path, text);
        written += (written.empty() ? "" : ", ") + path + " (" + what + ")";
    };
    output(options.json, "JSON report", to_json(report));
    output(options.csv, "CSV", to_csv(report, other));
    output(options.markdown, "Markdown", to_markdown(report, other));
    output(options.plot, "SVG chart", to_svg(report, other));
    std::printf("\nwritten: %s\n", written.c_str());
    return 0;
}

}  // namespace bench

namespace {
int run_modes(const std::vector<std::string>& args) { return bench::run_modes_command(args); }
}  // namespace

BENCH_COMMAND("modes",
              "every weight mode side by side (the default; same options as a plain ./bench, see ./bench --help)",
              run_modes, true);
