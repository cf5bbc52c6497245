#include "runtime/cli.h"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <memory>
#include <sstream>

#include "loader/image.h"
#include "loader/image_preprocess.h"
#include "loader/model_files.h"
#include "model/fastvlm.h"
#include "runtime/backend.h"
#include "runtime/error.h"
#include "runtime/generate.h"
#include "runtime/weight_mode.h"
#include "tokenizer/prompt.h"
#include "tokenizer/tokenizer.h"

namespace fastvlm {

namespace {

const char* kUsage =
    "usage: fastvlm --model DIR [--image FILE] [--prompt TEXT] [--max-new-tokens N]\n"
    "               [--temperature T] [--top-k K] [--top-p P] [--seed S] [--backend cpu]\n"
    "               [--threads N] [--kv-cache f32|f16] [--mmap-weights] [--no-stop]\n"
    "               [--weights MODE] [--lm-head fp16|quantized] [--gemm own|cublaslt]\n"
    "\n"
    "  --model DIR          model directory: config.json, model.safetensors, tokenizer.json\n"
    "  --image FILE         JPEG/PNG/BMP/GIF image; without it the prompt is text only\n"
    "  --prompt TEXT        the question (default \"Describe the image.\")\n"
    "  --max-new-tokens N   generation budget (default 256)\n"
    "  --temperature T      0 = greedy (default); > 0 samples\n"
    "  --top-k K            sample among the K most likely tokens (default 0 = all)\n"
    "  --top-p P            sample among the most likely tokens reaching mass P (default 1)\n"
    "  --seed S             sampling seed (default 0)\n"
    "  --backend NAME       compute backend: cpu (default) or cuda (when built with nvcc)\n"
    "  --threads N          CPU threads (default: one per core)\n"
    "  --kv-cache f32|f16   KV cache precision (default f32)\n"
    "  --mmap-weights       read weights in place from the checkpoint file (less memory,\n"
    "                       slower decoding) instead of copying them at load\n"
    "  --no-stop            ignore end-of-text tokens: always --max-new-tokens (benchmarks)\n"
    "  --weights MODE       reference (default: weights as stored, fp32 activations), fp16,\n"
    "                       int8 (LLM.int8), nf4-fp32, nf4-fp16, w4a4: the language model's\n"
    "                       linear layers, quantized at load\n"
    "  --lm-head fp16|quantized  the output head in fp16 (default) or in the --weights mode\n"
    "  --gemm own|cublaslt  dense GEMMs on our kernels (default) or on cuBLASLt, the measured\n"
    "                       baseline (--backend cuda only)\n";

struct Options {
    std::string model, image, prompt = std::string(kDefaultQuestion), backend = "cpu";
    int max_new_tokens = 256, threads = 0, top_k = 0;
    float temperature = 0.0f, top_p = 1.0f;
    uint64_t seed = 0;
    DType kv_dtype = DType::F32;
    bool help = false;
    bool stop = true;
    bool copy_weights = true;
    WeightMode weights = WeightMode::Reference;
    bool quantize_lm_head = false;
    GemmEngine gemm = GemmEngine::Own;
};

// Thrown for bad arguments (exit status 2).
struct UsageError : Error {
    using Error::Error;
};

[[noreturn]] void usage_error(const std::string& message) { throw UsageError("fastvlm: " + message); }

long long parse_integer(const std::string& flag, const std::string& text, long long lo, long long hi) {
    size_t used = 0;
    long long v = 0;
    try {
        v = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size()) usage_error(flag + ": '" + text + "' is not an integer");
    if (v < lo || v > hi)
        usage_error(flag + ": " + text + " is outside " + std::to_string(lo) + " .. " + std::to_string(hi));
    return v;
}

float parse_float(const std::string& flag, const std::string& text) {
    size_t used = 0;
    float v = 0.0f;
    try {
        v = std::stof(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size() || !std::isfinite(v)) usage_error(flag + ": '" + text + "' is not a number");
    return v;
}

Options parse(const std::vector<std::string>& args) {
    Options o;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& flag = args[i];
        if (flag == "--help" || flag == "-h") {
            o.help = true;
            continue;
        }
        if (flag == "--no-stop") {
            o.stop = false;
            continue;
        }
        if (flag == "--mmap-weights") {
            o.copy_weights = false;
            continue;
        }
        if (flag.rfind("--", 0) != 0) usage_error("unexpected argument '" + flag + "'");
        if (i + 1 >= args.size()) usage_error(flag + " needs a value");
        const std::string& value = args[++i];
        if (flag == "--model") o.model = value;
        else if (flag == "--image") o.image = value;
        else if (flag == "--prompt") o.prompt = value;
        else if (flag == "--backend") o.backend = value;
        else if (flag == "--max-new-tokens") o.max_new_tokens = int(parse_integer(flag, value, 0, 1 << 20));
        else if (flag == "--threads") o.threads = int(parse_integer(flag, value, 1, 1024));
        else if (flag == "--top-k") o.top_k = int(parse_integer(flag, value, 0, 1 << 30));
        else if (flag == "--seed") o.seed = uint64_t(parse_integer(flag, value, 0, (1ll << 62)));
        else if (flag == "--temperature") o.temperature = parse_float(flag, value);
        else if (flag == "--top-p") o.top_p = parse_float(flag, value);
        else if (flag == "--weights") {
            try {
                o.weights = parse_weight_mode(value);
            } catch (const Error& e) {
                usage_error(std::string("--weights: ") + e.what());
            }
        } else if (flag == "--lm-head") {
            if (value == "fp16") o.quantize_lm_head = false;
            else if (value == "quantized") o.quantize_lm_head = true;
            else usage_error("--lm-head: '" + value + "' is not fp16 or quantized");
        } else if (flag == "--gemm") {
            if (value == "own") o.gemm = GemmEngine::Own;
            else if (value == "cublaslt") o.gemm = GemmEngine::CublasLt;
            else usage_error("--gemm: '" + value + "' is not own or cublaslt");
        } else if (flag == "--kv-cache") {
            if (value == "f32") o.kv_dtype = DType::F32;
            else if (value == "f16") o.kv_dtype = DType::F16;
            else usage_error("--kv-cache: '" + value + "' is not f32 or f16");
        } else {
            usage_error("unknown option '" + flag + "'");
        }
    }
    if (!o.help && o.model.empty()) usage_error("--model DIR is required");
    if (o.temperature < 0.0f) usage_error("--temperature: must be >= 0");
    if (!(o.top_p > 0.0f && o.top_p <= 1.0f)) usage_error("--top-p: must be in (0, 1]");
    return o;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

size_t peak_rss_bytes() {
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    return size_t(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

int run(const Options& o, std::ostream& out, std::ostream& err) {
    const auto load_start = std::chrono::steady_clock::now();
    const ModelFiles files(o.model);
    BackendOptions backend_options;
    backend_options.threads = o.threads;
    backend_options.copy_weights = o.copy_weights;
    backend_options.gemm = o.gemm;
    std::unique_ptr<Backend> backend = make_backend(o.backend, backend_options);
    FastVLM model(*backend, files, ModelModes::for_mode(o.weights, o.quantize_lm_head));
    const Tokenizer tokenizer = Tokenizer::from_file(files.tokenizer_path());
    const double load_seconds = seconds_since(load_start);

    // Image -> projected image tokens.
    const bool with_image = !o.image.empty();
    Tensor image_tokens;
    double vision_seconds = 0.0;
    if (with_image) {
        const RgbImage image = load_image(o.image);
        const auto vision_start = std::chrono::steady_clock::now();
        image_tokens = model.encode_image(preprocess_image(image, model.image_size()));
        backend->synchronize();
        vision_seconds = seconds_since(vision_start);
    }

    const PromptIds prompt = fastvlm_prompt_ids(tokenizer, o.prompt, with_image, kImagePlaceholderId);
    const Tensor embeddings = model.embed_prompt(prompt.ids, kImagePlaceholderId, with_image ? &image_tokens : nullptr);

    GenerateOptions options;
    options.max_new_tokens = o.max_new_tokens;
    options.sampling.temperature = o.temperature;
    options.sampling.top_k = o.top_k;
    options.sampling.top_p = o.top_p;
    options.sampling.seed = o.seed;
    options.kv_dtype = o.kv_dtype;
    options.id_limit = tokenizer.id_limit();  // ids past the tokenizer are embedding padding
    if (o.stop) {
        for (int id : model.config().text.eos_token_ids) options.stop_ids.push_back(id);
        for (const char* stop : {"<|im_end|>", "<|endoftext|>"})
            if (auto id = tokenizer.token_id(stop)) options.stop_ids.push_back(*id);
    }

    const GenerateResult result = generate(*backend, model.language_model(), embeddings, options, &tokenizer,
                                           [&](const std::string& piece) { out << piece << std::flush; });
    out << "\n" << std::flush;

    const MemoryStats memory = backend->memory();
    std::ostringstream stats;
    stats << std::fixed << std::setprecision(1);
    stats << "load: " << load_seconds * 1e3 << " ms (" << files.dir() << ", " << backend->name() << " backend, weights "
          << weight_mode_name(o.weights) << ": " << weight_mode_label(o.weights) << ")\n";
    if (with_image)
        stats << "vision: " << vision_seconds * 1e3 << " ms (" << model.image_size() << "x" << model.image_size()
              << " -> " << image_tokens.rows() << " tokens, projector included)\n";
    else
        stats << "vision: none (text-only prompt)\n";
    stats << "time to first token: " << (vision_seconds + result.prefill_seconds) * 1e3 << " ms (prefill of "
          << result.prompt_tokens << " tokens: " << result.prefill_seconds * 1e3 << " ms, "
          << result.prompt_tokens / std::max(result.prefill_seconds, 1e-9) << " tokens/s)\n";
    if (result.decode_steps > 0)
        stats << "decode: " << result.decode_steps << " steps, "
              << result.decode_seconds / result.decode_steps * 1e3 << " ms/token ("
              << result.decode_steps / result.decode_seconds << " tokens/s)\n";
    else
        stats << "decode: no steps (" << result.ids.size() << " token(s) generated)\n";
    stats << "generated: " << result.ids.size() << " tokens, "
          << (result.stopped ? "ended on a stop token" : "reached --max-new-tokens") << "\n";
    stats << "peak memory: " << double(peak_rss_bytes()) / (1 << 20) << " MiB resident (backend peak "
          << double(memory.peak_bytes) / (1 << 20) << " MiB, of which weights "
          << double(memory.weight_bytes) / (1 << 20) << " MiB; weights read in place from the file: "
          << double(memory.mapped_bytes) / (1 << 20) << " MiB)\n";
    err << stats.str() << std::flush;
    return 0;
}

}  // namespace

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    try {
        const Options options = parse(args);
        if (options.help) {
            out << kUsage;
            return 0;
        }
        return run(options, out, err);
    } catch (const UsageError& e) {
        err << e.what() << "\n" << kUsage;
        return 2;
    } catch (const std::exception& e) {
        err << "fastvlm: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace fastvlm
