// libFuzzer target: arbitrary bytes as an image file. Decoding must either produce an image of
// the size it reports or throw fastvlm::Error; a decoded image is then preprocessed at a small
// size. Any other exception, crash, hang or out-of-bounds access (AddressSanitizer) is a finding.
#include <cstdint>
#include <cstdlib>

#include "loader/image.h"
#include "loader/image_preprocess.h"
#include "runtime/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
    try {
        // At most 1 Mpixel: larger declared sizes are refused before decoding, which keeps
        // each run short; the decoders' paths are the same at any size.
        fastvlm::RgbImage image = fastvlm::decode_image(bytes, size, "fuzz", 1 << 20);
        if (image.width <= 0 || image.height <= 0 ||
            image.pixels.size() != size_t(image.width) * image.height * 3)
            std::abort();
        if (int64_t(image.width) * image.height <= (1 << 16)) {
            std::vector<float> pixel_values = fastvlm::preprocess_image(image, 16);
            if (pixel_values.size() != 3 * 16 * 16) std::abort();
            for (float v : pixel_values)
                if (!(v >= 0.0f && v <= 1.0f)) std::abort();
        }
    } catch (const fastvlm::Error&) {
        // a clean rejection
    }
    return 0;
}
