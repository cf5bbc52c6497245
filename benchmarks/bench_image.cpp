#include "benchmarks/bench_image.h"

#include <cstdint>

#include "runtime/error.h"

namespace bench {

fastvlm::RgbImage procedural_test_image(int side) {
    if (side < kMinTestImageSide || side > fastvlm::kMaxImageSide)
        fastvlm::fail("test image", "side ", side, " is outside [", kMinTestImageSide, ", ",
                      fastvlm::kMaxImageSide, "]");
    // The constants of the 1024 formula, scaled; 64-bit because d2 * 255 overflows int32 from
    // side 4096 on.
    const int64_t last = side - 1;                      // 1023
    const int64_t centre = side / 2;                    // 512
    const int64_t radius = int64_t(side) * 300 / 1024;  // 300
    const int64_t square = side / 16;                   // 64
    const int64_t radius2 = radius * radius;

    fastvlm::RgbImage image;
    image.width = side;
    image.height = side;
    image.pixels.resize(size_t(side) * size_t(side) * 3);  // [side, side, 3]
    uint8_t* p = image.pixels.data();
    for (int64_t y = 0; y < side; ++y) {
        for (int64_t x = 0; x < side; ++x, p += 3) {
            const int64_t d2 = (x - centre) * (x - centre) + (y - centre) * (y - centre);
            p[0] = uint8_t(x * 255 / last);
            p[1] = uint8_t(y * 255 / last);
            p[2] = uint8_t(d2 < radius2 ? 255 - d2 * 255 / radius2 : ((x / square + y / square) % 2) * 160 + 40);
        }
    }
    return image;
}

}  // namespace bench
