// The options of a plain `./bench` run (the side-by-side comparison of weight modes).
#pragma once
#include <string>
#include <vector>

namespace bench {

struct Options {
    std::string model_dir;              // empty: the synthetic checkpoint (written on first use)
    std::string image;                  // empty: the built-in procedural 1024x1024 test image
    std::string prompt;                 // empty: the default question
    std::vector<std::string> modes;     // empty: fp16, int8, nf4-fp32, nf4-fp16, w4a4
    std::string backend = "auto";       // auto | cpu | cuda
    int iters = 0;                      // 0: 5, or fewer on a small CPU (the run says so)
    int warmup = 1;
    int max_new_tokens = 50;
    std::string vision_mode = "fp16";   // fp16 | same (projector in the LLM's mode)
    std::string lm_head = "fp16";       // fp16 | quantized
    std::string gemm = "own";           // own | cublaslt
    int threads = 0;                    // 0: one per core
    std::string json, csv, markdown, plot, compare;  // output / input files
};

// Throws fastvlm::Error naming the bad argument; "--help" sets *help.
Options parse_options(const std::vector<std::string>& args, bool* help = nullptr);
std::string options_usage();

}  // namespace bench
