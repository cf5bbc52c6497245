// Writes a deterministic synthetic FastVLM model directory (config.json, tokenizer.json,
// safetensors) for tests and benchmarks without the real weights.
//
//   make_synthetic_checkpoint --out DIR [--size full|tiny] [--layout llava_qwen2|fast_vlm]
//                             [--dtype f16|bf16|f32] [--seed N] [--shards N] [--tied]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "loader/synthetic.h"
#include "runtime/error.h"

namespace {

const char* const kUsage =
    "usage: make_synthetic_checkpoint --out DIR [--size full|tiny] [--layout llava_qwen2|fast_vlm]\n"
    "                                 [--dtype f16|bf16|f32] [--seed N] [--shards N] [--tied]\n";

uint64_t parse_number(const std::string& flag, const std::string& text) {
    if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
        fastvlm::fail("make_synthetic_checkpoint", flag, " needs a non-negative integer, got '", text, "'");
    return std::strtoull(text.c_str(), nullptr, 10);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        std::string out;
        fastvlm::SyntheticOptions options;
        for (int i = 1; i < argc; ++i) {
            std::string flag = argv[i];
            if (flag == "--help" || flag == "-h") {
                std::fputs(kUsage, stdout);
                return 0;
            }
            if (flag == "--tied") {
                options.tied = true;
                continue;
            }
            if (i + 1 >= argc) fastvlm::fail("make_synthetic_checkpoint", flag, " needs a value");
            std::string value = argv[++i];
            if (flag == "--out") {
                out = value;
            } else if (flag == "--size") {
                if (value == "full") options.size = fastvlm::SyntheticSize::Full;
                else if (value == "tiny") options.size = fastvlm::SyntheticSize::Tiny;
                else fastvlm::fail("make_synthetic_checkpoint", "--size must be full or tiny, got '", value, "'");
            } else if (flag == "--layout") {
                if (value == "llava_qwen2") options.layout = fastvlm::CheckpointLayout::LlavaQwen2;
                else if (value == "fast_vlm") options.layout = fastvlm::CheckpointLayout::FastVlm;
                else fastvlm::fail("make_synthetic_checkpoint", "--layout must be llava_qwen2 or fast_vlm, got '", value, "'");
            } else if (flag == "--dtype") {
                if (value == "f16") options.dtype = fastvlm::DType::F16;
                else if (value == "bf16") options.dtype = fastvlm::DType::BF16;
                else if (value == "f32") options.dtype = fastvlm::DType::F32;
                else fastvlm::fail("make_synthetic_checkpoint", "--dtype must be f16, bf16 or f32, got '", value, "'");
            } else if (flag == "--seed") {
                options.seed = parse_number(flag, value);
            } else if (flag == "--shards") {
                uint64_t shards = parse_number(flag, value);
                if (shards < 1 || shards > 999) fastvlm::fail("make_synthetic_checkpoint", "--shards must be 1..999");
                options.shards = int(shards);
            } else {
                fastvlm::fail("make_synthetic_checkpoint", "unknown option '", flag, "'");
            }
        }
        if (out.empty()) fastvlm::fail("make_synthetic_checkpoint", "--out DIR is required");

        auto start = std::chrono::steady_clock::now();
        fastvlm::write_synthetic_checkpoint(out, options);
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("wrote %s (%s, %s layout) in %.1f s\n", out.c_str(),
                    options.size == fastvlm::SyntheticSize::Full ? "full" : "tiny",
                    fastvlm::layout_name(options.layout), seconds);
        return 0;
    } catch (const fastvlm::Error& e) {
        std::fprintf(stderr, "error: %s\n%s", e.what(), kUsage);
        return 1;
    }
}
