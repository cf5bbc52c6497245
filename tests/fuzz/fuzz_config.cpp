// libFuzzer target: arbitrary bytes as config.json. The reader must either return a config
// whose sizes are usable or throw fastvlm::Error; any other exception, crash, hang or
// out-of-bounds access (AddressSanitizer) is a finding.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "loader/config.h"
#include "loader/tensor_names.h"
#include "runtime/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
    try {
        fastvlm::ModelConfig c =
            fastvlm::parse_config(std::string(reinterpret_cast<const char*>(bytes), size), "config.json");
        const fastvlm::TextConfig& t = c.text;
        if (t.hidden < 1 || t.layers < 1 || t.heads < 1 || t.kv_heads < 1 || t.heads % t.kv_heads != 0 ||
            t.head_dim < 1 || t.vocab < 1 || c.mm_hidden < 1)
            std::abort();
        // A fast_vlm config describes the whole tower; a llava_qwen2 config only its output width,
        // the stage widths being read from the tensors later (ModelFiles checks them together).
        if (c.layout == fastvlm::CheckpointLayout::FastVlm && !fastvlm::vision_shape_problem(c.vision).empty())
            std::abort();
        if (c.vision.out_channels < 1 || c.vision.se_channels < 1 || fastvlm::vision_tokens(c.vision) < 1) std::abort();
        for (int id : t.eos_token_ids)
            if (id < 0 || id >= t.vocab) std::abort();
    } catch (const fastvlm::Error&) {
        // a clean rejection
    }
    return 0;
}
