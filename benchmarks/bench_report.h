// What one `./bench` run measured, mode by mode, and the ways it is written out: a table for
// the terminal, JSON (an interface for scripts: fields only ever added), CSV, Markdown and a
// self-contained SVG chart. The peer script (tools/peer/bench_transformers.py) writes the same
// JSON, so `./bench --compare peer.json` can put both side by side.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace bench {

// median / min / max of n measurements (n = 0: not measured).
struct Stat {
    double median = 0.0, min = 0.0, max = 0.0;
    int n = 0;
};
Stat summarize(std::vector<double> values);

struct ModeResult {
    std::string mode;               // "fp16", "int8", "nf4-fp32", "nf4-fp16", "w4a4", "reference"
    std::string label;              // honest label: what is stored, what the matmul computes in
    bool measured = true;           // false: skipped, `skipped_reason` says why
    std::string skipped_reason;
    // memory
    double vision_weight_bytes = 0;  // vision tower + projector weights as held by the backend
    double llm_weight_bytes = 0;     // language model weights (embeddings and lm_head included)
    double peak_bytes = 0;           // our allocator's peak while this mode was loaded and run
    double driver_peak_bytes = -1;   // CUDA: driver's used-memory reading at the peak (-1: n/a)
    double load_seconds = 0;         // read + quantize + upload
    // speed (each over the timed iterations)
    Stat vision_ms;                  // vision tower + projector, one image
    Stat prefill_tokens_per_s;       // prompt tokens / prefill time
    Stat ttft_ms;                    // vision + prefill + first token
    Stat decode_ms_per_token;        // mean step time of one generation
    Stat decode_tokens_per_s;
    Stat e2e_ms;                     // image in -> max_new_tokens out (vision, prefill, decode)
    int prompt_tokens = 0;
    int new_tokens = 0;
    double decode_bytes_per_token = 0;  // weight + KV bytes one decode step reads (mean context)
    double achieved_gbps = 0;            // decode_bytes_per_token / median decode time
    double roofline_fraction = 0;        // achieved / measured bandwidth
    // quality against the fp16 mode (teacher-forced on fp16's greedy tokens)
    bool has_quality = false;
    double top1_agreement = 0;       // fraction of positions whose argmax equals fp16's
    double kl_divergence = 0;        // mean KL(p_fp16 || p_mode) per position, nats
    double max_logit_error = 0;      // max |logit - logit_fp16| over positions and vocabulary
    bool same_text = false;          // this mode's own greedy answer equals fp16's
    std::string text;                // the greedy answer
};

struct Report {
    std::string schema = "fastvlm-bench/1";
    std::string source = "fastvlm";  // or "transformers" for the peer
    std::string checkpoint;          // path
    bool synthetic = false;          // deterministic synthetic weights with the real shapes
    std::string backend;             // "cpu", "cuda"
    std::string device;              // CPU model name or GPU name
    int threads = 0;
    double bandwidth_gbps = 0;       // measured on the spot
    int iters = 0, warmup = 0, max_new_tokens = 0;
    std::string image, prompt;
    std::string lm_head, vision_mode, gemm;
    std::string date;                // UTC, ISO 8601
    std::vector<std::string> notes;  // e.g. why fewer iterations were run
    std::vector<ModeResult> modes;
};

// Column-aligned table; `peer` (may be null) adds its rows, marked by source, below ours.
std::string render_table(const Report& report, const Report* peer = nullptr);
std::string to_json(const Report& report);
Report from_json(const std::string& text, const std::string& where);  // throws fastvlm::Error
std::string to_csv(const Report& report, const Report* peer = nullptr);
std::string to_markdown(const Report& report, const Report* peer = nullptr);
std::string to_svg(const Report& report, const Report* peer = nullptr);

}  // namespace bench
