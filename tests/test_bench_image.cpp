// The bench's built-in test image (benchmarks/bench_image.h): the formula of design_quant.md.
#include "tests/test_util.h"

#include <array>
#include <cstdint>

#include "benchmarks/bench_image.h"

using namespace bench;

namespace {

std::array<int, 3> pixel(const fastvlm::RgbImage& image, int x, int y) {
    const uint8_t* p = image.at(x, y);
    return {p[0], p[1], p[2]};
}

}  // namespace

TEST_CASE("bench image: 1024x1024 RGB by default") {
    const fastvlm::RgbImage image = procedural_test_image();
    CHECK(image.width == 1024);
    CHECK(image.height == 1024);
    CHECK(image.pixels.size() == size_t(1024) * 1024 * 3);
}

TEST_CASE("bench image: pixels worked out by hand from the formula") {
    const fastvlm::RgbImage image = procedural_test_image(1024);
    // Corners: ramps at 0 and 255, outside the disc: blue 40 on even checker squares, 200 on odd.
    CHECK(pixel(image, 0, 0) == std::array<int, 3>{0, 0, 40});
    CHECK(pixel(image, 1023, 1023) == std::array<int, 3>{255, 255, 40});
    CHECK(pixel(image, 1023, 0) == std::array<int, 3>{255, 0, 200});  // square (15, 0) is odd
    // x = 64: red 64*255/1023 = 15 (rounded down); square (1, 0) is odd: blue 200.
    CHECK(pixel(image, 64, 0) == std::array<int, 3>{15, 0, 200});
    CHECK(pixel(image, 63, 0) == std::array<int, 3>{15, 0, 40});
    // The centre of the disc is white-blue 255.
    CHECK(pixel(image, 512, 512) == std::array<int, 3>{127, 127, 255});
    // On the rim, d2 = 300^2 is not inside: checker square (8, 3) is odd.
    CHECK(pixel(image, 512, 212) == std::array<int, 3>{127, 52, 200});
    // One pixel in, d2 = 299^2 = 89401: 255 - 89401*255/90000 = 255 - 253 = 2.
    CHECK(pixel(image, 512, 213) == std::array<int, 3>{127, 53, 2});
    // d2 = 100^2 + 100^2 = 20000: 255 - 20000*255/90000 = 255 - 56 = 199.
    CHECK(pixel(image, 612, 612) == std::array<int, 3>{152, 152, 199});
}

TEST_CASE("bench image: every pixel at 1024 matches the formula with its literal constants") {
    const fastvlm::RgbImage image = procedural_test_image(1024);
    int64_t wrong = 0;
    for (int y = 0; y < 1024; ++y) {
        for (int x = 0; x < 1024; ++x) {
            const int d2 = (x - 512) * (x - 512) + (y - 512) * (y - 512);
            const int r = (x * 255) / 1023, g = (y * 255) / 1023;
            const int b = d2 < 300 * 300 ? 255 - (d2 * 255) / (300 * 300) : ((x / 64 + y / 64) % 2) * 160 + 40;
            wrong += pixel(image, x, y) != std::array<int, 3>{r, g, b};
        }
    }
    CHECK(wrong == 0);
}

TEST_CASE("bench image: other sides scale the constants") {
    // side 512: 511 for 1023, 256 for 512, radius 150, squares of 32.
    const fastvlm::RgbImage image = procedural_test_image(512);
    CHECK(image.width == 512);
    CHECK(image.height == 512);
    CHECK(pixel(image, 511, 511) == std::array<int, 3>{255, 255, 40});
    CHECK(pixel(image, 32, 0) == std::array<int, 3>{15, 0, 200});  // 32*255/511 = 15
    CHECK(pixel(image, 256, 256) == std::array<int, 3>{127, 127, 255});
    CHECK(pixel(image, 256, 106) == std::array<int, 3>{127, 52, 200});  // rim: d2 = 150^2; square (8, 3)
    CHECK(pixel(image, 256, 107) == std::array<int, 3>{127, 53, 4});    // 149^2: 255 - 22201*255/22500 = 255 - 251

    // side 1000: 999, 500, radius 1000*300/1024 = 292 (rounded down), squares of 62.
    const fastvlm::RgbImage odd = procedural_test_image(1000);
    CHECK(pixel(odd, 500, 208) == std::array<int, 3>{127, 53, 200});  // rim: d2 = 292^2; square (8, 3)
    CHECK(pixel(odd, 500, 209) == std::array<int, 3>{127, 53, 2});    // 291^2: 255 - 84681*255/85264 = 2
    CHECK(pixel(odd, 999, 0) == std::array<int, 3>{255, 0, 40});  // square 999/62 = 16, even (15 with squares of 64)
    // The smallest side: 16, radius 16*300/1024 = 4, squares of 1.
    const fastvlm::RgbImage tiny = procedural_test_image(16);
    CHECK(pixel(tiny, 8, 8) == std::array<int, 3>{136, 136, 255});
    CHECK(pixel(tiny, 0, 1) == std::array<int, 3>{0, 17, 200});
}

TEST_CASE("bench image: sides outside the supported range are refused") {
    CHECK(test::error_of([] { procedural_test_image(15); }) == "test image: side 15 is outside [16, 16384]");
    CHECK(test::error_of([] { procedural_test_image(0); }) == "test image: side 0 is outside [16, 16384]");
    CHECK(test::error_of([] { procedural_test_image(-1024); }) == "test image: side -1024 is outside [16, 16384]");
    CHECK(test::error_of([] { procedural_test_image(16385); }) == "test image: side 16385 is outside [16, 16384]");
}
