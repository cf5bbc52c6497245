// libFuzzer target: arbitrary bytes as a safetensors image. The parser must either return
// views that lie inside the input or throw fastvlm::Error; any other exception, crash, or
// out-of-bounds read (caught by AddressSanitizer) is a finding.
#include <cstdint>
#include <cstdlib>

#include "loader/safetensors.h"
#include "runtime/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
    try {
        fastvlm::SafetensorsContents contents = fastvlm::parse_safetensors(bytes, size, "fuzz");
        uint64_t sum = 0;
        for (const fastvlm::TensorView& t : contents.tensors) {
            if (t.data < bytes || t.nbytes > size || t.data + t.nbytes > bytes + size) std::abort();
            if (size_t(t.numel()) * fastvlm::dtype_size(t.dtype) != t.nbytes) std::abort();
            for (size_t i = 0; i < t.nbytes; ++i) sum += t.data[i];  // every byte must be readable
            sum += t.shape_string().size();
            if (t.dtype == fastvlm::DType::F32 || t.dtype == fastvlm::DType::F16 ||
                t.dtype == fastvlm::DType::BF16)
                sum += fastvlm::to_float(t).size();
        }
        volatile uint64_t keep = sum;
        (void)keep;
    } catch (const fastvlm::Error&) {
        // a clean rejection
    }
    return 0;
}
