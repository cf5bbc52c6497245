// The bench's built-in test image: a procedural RGB pattern that needs no file and that the peer
// script (tools/peer/bench_transformers.py) reproduces pixel for pixel. At the model's 1024x1024:
//   r  = (x * 255) / 1023                      horizontal ramp   (x: column, y: row, integer division)
//   g  = (y * 255) / 1023                      vertical ramp
//   d2 = (x - 512)^2 + (y - 512)^2
//   b  = d2 < 300^2 ? 255 - (d2 * 255) / 300^2  bright disc fading outwards
//                   : ((x / 64 + y / 64) % 2) * 160 + 40   checkerboard of 64-pixel squares
// For another side s the same formula runs with s-1 for 1023, s/2 for 512, s*300/1024 for the
// radius 300 and s/16 for 64 (all integer divisions), so s = 1024 gives exactly the pattern above.
#pragma once
#include "loader/image.h"

namespace bench {

constexpr int kTestImageSide = 1024;
constexpr int kMinTestImageSide = 16;  // the checkerboard square (side/16) must be at least 1 pixel

// side x side RGB pixels; throws fastvlm::Error when side is outside [16, fastvlm::kMaxImageSide].
fastvlm::RgbImage procedural_test_image(int side = kTestImageSide);

}  // namespace bench
