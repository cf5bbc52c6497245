// ./bench model [--dir DIR] [--new-tokens N] [--threads N] [--no-vision] [--vision-runs N]
//               [--question TEXT] [--mmap-weights]
//
// The CPU backend on a synthetic full-size FastVLM-0.5B (real shapes, fp16 weights from the
// deterministic generator of loader/synthetic.h; written to build/synthetic-fastvlm-0.5b/ when
// absent). Numbers are for synthetic weights: speed does not depend on the values, but the
// generated text is meaningless.
//   bandwidth   streaming read of a 1 GiB buffer with the decode threads (best of 3), GB/s
//   vision      FastViTHD + projector at the model's image size (1024x1024), ms
//   prefill     the spliced prompt (256 image tokens + the chat template), tokens/s
//   decode      greedy, ms/token, against the floor = bytes read per token / bandwidth
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "benchmarks/bandwidth.h"
#include "benchmarks/bench.h"
#include "loader/model_files.h"
#include "loader/synthetic.h"
#include "model/fastvlm.h"
#include "runtime/cpu/backend_cpu.h"
#include "runtime/error.h"
#include "runtime/generate.h"
#include "tokenizer/prompt.h"
#include "tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

bool file_exists(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f) std::fclose(f);
    return f != nullptr;
}

struct Args {
    std::string dir = "build/synthetic-fastvlm-0.5b";
    int new_tokens = 32, threads = 0, vision_runs = 2;
    bool vision = true;
    bool copy_weights = true;
    std::string question = std::string(fastvlm::kDefaultQuestion);
};

Args parse(const std::vector<std::string>& args) {
    Args a;
    for (size_t i = 0; i < args.size(); ++i) {
        auto value = [&]() -> const std::string& {
            if (i + 1 >= args.size()) fastvlm::fail("bench model", args[i], " needs a value");
            return args[++i];
        };
        if (args[i] == "--dir") a.dir = value();
        else if (args[i] == "--new-tokens") a.new_tokens = std::stoi(value());
        else if (args[i] == "--threads") a.threads = std::stoi(value());
        else if (args[i] == "--vision-runs") a.vision_runs = std::stoi(value());
        else if (args[i] == "--no-vision") a.vision = false;
        else if (args[i] == "--mmap-weights") a.copy_weights = false;
        else if (args[i] == "--question") a.question = value();
        else fastvlm::fail("bench model", "unknown argument '", args[i], "'");
    }
    if (a.new_tokens < 2) fastvlm::fail("bench model", "--new-tokens must be at least 2");
    return a;
}

int run_model(const std::vector<std::string>& argv) {
    using namespace fastvlm;
    const Args args = parse(argv);
    if (!file_exists(args.dir + "/config.json")) {
        std::printf("model: writing the synthetic FastVLM-0.5B checkpoint (fp16, llava_qwen2 layout) to %s ...\n",
                    args.dir.c_str());
        std::fflush(stdout);
        SyntheticOptions options;
        options.size = SyntheticSize::Full;
        options.layout = CheckpointLayout::LlavaQwen2;
        options.dtype = DType::F16;
        write_synthetic_checkpoint(args.dir, options);
    }

    cpu::CpuBackend backend(args.threads, args.copy_weights);
    std::printf("model: SYNTHETIC FastVLM-0.5B weights (%s), cpu backend, %d threads, weights %s\n",
                args.dir.c_str(), backend.threads(), args.copy_weights ? "copied at load" : "read in place (mmap)");
    const double bandwidth = bench::measure_bandwidth(backend.pool());
    std::printf("  memory bandwidth       %8.1f GB/s (streaming read, %d threads)\n", bandwidth, backend.threads());

    auto start = Clock::now();
    const ModelFiles files(args.dir);
    FastVLM model(backend, files);
    const Tokenizer tokenizer = Tokenizer::from_file(files.tokenizer_path());
    std::printf("  load                   %8.1f ms\n", seconds_since(start) * 1e3);

    // Vision: synthetic pixels in [0, 1).
    const int side = model.image_size();
    std::vector<float> pixels(size_t(3) * size_t(side) * size_t(side));
    for (size_t i = 0; i < pixels.size(); ++i)
        pixels[i] = 0.5f + 0.5f * (float(splitmix64(fnv1a64("pixel_values") + i) >> 40) * (1.0f / 8388608.0f) - 1.0f);
    Tensor image;
    const bool with_image = args.vision;
    if (with_image) {
        double best = 1e30;
        std::string stages;  // where the time went in the last run
        for (int run = 0; run < std::max(1, args.vision_runs); ++run) {
            stages.clear();
            start = Clock::now();
            Clock::time_point mark = start;
            image = model.encode_image(pixels, [&](const std::string& name, const Tensor&) {
                char part[96];
                std::snprintf(part, sizeof part, " %s %.0f", name.c_str() + 7, seconds_since(mark) * 1e3);
                stages += part;
                mark = Clock::now();
            });
            const double s = seconds_since(start);
            best = std::min(best, s);
            std::printf("  vision run %d           %8.1f ms\n", run + 1, s * 1e3);
        }
        std::printf("  vision stages (ms):   %s\n", stages.c_str());
        std::printf("  vision (best)          %8.1f ms  (%dx%d -> %lld tokens, projector included)\n", best * 1e3, side,
                    side, (long long)image.rows());
    }

    // Prefill and decode of the FastVLM prompt.
    const PromptIds prompt = fastvlm_prompt_ids(tokenizer, args.question, with_image);
    const Tensor embeddings = model.embed_prompt(prompt.ids, kImagePlaceholderId, with_image ? &image : nullptr);
    GenerateOptions options;
    options.max_new_tokens = args.new_tokens;  // no stop ids: always the full count
    const GenerateResult result = generate(backend, model.language_model(), embeddings, options);
    const double decode_ms = result.decode_seconds / result.decode_steps * 1e3;
    std::vector<double> steps = result.step_seconds;
    std::sort(steps.begin(), steps.end());
    const double median_ms = steps[steps.size() / 2] * 1e3, fastest_ms = steps.front() * 1e3;

    // Bytes one decode step reads: the weights, plus the KV cache at its mean length.
    const TextConfig& text = model.config().text;
    const double mean_positions = result.prompt_tokens + 0.5 * result.decode_steps;
    const double kv_bytes = mean_positions * text.layers * 2.0 * text.kv_heads * text.head_dim * 4.0;
    const double bytes = double(model.language_model().decode_weight_bytes()) + kv_bytes;
    // The floor uses the better of the bandwidths measured before and after (the machine may be
    // shared: the higher one is the closer to what the hardware gives).
    const double bandwidth_after = bench::measure_bandwidth(backend.pool());
    std::printf("  memory bandwidth again %8.1f GB/s (after decoding)\n", bandwidth_after);
    const double best_bandwidth = std::max(bandwidth, bandwidth_after);
    const double floor_ms = bytes / (best_bandwidth * 1e9) * 1e3;
    std::printf("  prefill                %8.1f tokens/s  (%d tokens in %.1f ms, first token included)\n",
                result.prompt_tokens / result.prefill_seconds, result.prompt_tokens, result.prefill_seconds * 1e3);
    std::printf("  decode                 %8.2f ms/token  (mean of %d steps, %.1f tokens/s; median %.2f, fastest %.2f)\n",
                decode_ms, result.decode_steps, 1e3 / decode_ms, median_ms, fastest_ms);
    std::printf("  decode floor           %8.2f ms/token  (%.1f MB per token at %.1f GB/s)\n", floor_ms, bytes / 1e6,
                best_bandwidth);
    std::printf("  decode / floor         %8.2f x          (target <= 1.5)\n", decode_ms / floor_ms);
    std::printf("  achieved bandwidth     %8.1f GB/s\n", bytes / (decode_ms * 1e-3) / 1e9);
    const MemoryStats memory = backend.memory();
    std::printf("  memory                 %8.1f MiB backend peak (%.1f MiB of it weights), %.1f MiB weights mapped\n",
                double(memory.peak_bytes) / (1 << 20), double(memory.weight_bytes) / (1 << 20),
                double(memory.mapped_bytes) / (1 << 20));
    return 0;
}

}  // namespace

BENCH_COMMAND("model",
              "CPU FastVLM-0.5B on synthetic weights: vision ms, prefill tokens/s, decode ms/token vs the "
              "bandwidth floor [--dir DIR] [--new-tokens N] [--threads N] [--no-vision] [--question TEXT] [--mmap-weights]",
              run_model, false);
