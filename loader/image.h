// Image input: JPEG (baseline and progressive), PNG, BMP and GIF (first frame) decoded to
// 8-bit RGB exactly as the reference does it: PIL's Image.open(path).convert("RGB").
//
// What that means, format by format (checked against Pillow 13 and its libjpeg-turbo 3.2):
//   - JPEG: decoded like libjpeg-turbo with PIL's settings (ISLOW integer IDCT, "fancy"
//     triangle-filter chroma upsampling, table-driven YCbCr->RGB); see stb_image_impl.cpp.
//     CMYK/YCCK (4-component) JPEGs are refused.
//   - Alpha (RGBA, gray+alpha, palette or color-key transparency) is dropped, not composited:
//     convert("RGB") keeps the colour values of transparent pixels.
//   - 16-bit PNG: RGB, RGBA and gray+alpha keep the high byte of each sample (PIL unpacks
//     them with its ";16B" raw modes); 16-bit grayscale opens as mode "I;16" and convert("RGB")
//     clips each value to 255 (a value of 256 or more becomes 255), it does not rescale.
//   - Palette and 1/2/4-bit gray PNG: palette colours; gray levels scaled to 0..255.
//   - GIF: first frame, transparency ignored (the transparent index shows its palette colour);
//     pixels outside the first frame's rectangle take the colour of palette index
//     <transparency index, else 0>, as PIL's GIF loader fills them.
//   - EXIF orientation is NOT applied (the reference never calls exif_transpose).
//
// Limits: each side at most kMaxImageSide and at most kMaxImagePixels in all, checked from the
// header before any pixel buffer is allocated.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fastvlm {

constexpr int kMaxImageSide = 16384;                 // pixels per side
constexpr int64_t kMaxImagePixels = 64ll << 20;      // 64 Mpixel (8192 x 8192), 192 MiB as RGB

// Interleaved 8-bit RGB, row-major.
struct RgbImage {
    int width = 0;
    int height = 0;
    std::vector<uint8_t> pixels;                     // [height, width, 3]

    const uint8_t* at(int x, int y) const { return &pixels[(size_t(y) * width + x) * 3]; }
};

// Reads and decodes an image file. Throws fastvlm::Error naming the path and the problem
// ("unsupported image format (TIFF)", "corrupt or truncated JPEG (...)", "image too large ...").
RgbImage load_image(const std::string& path);

// Same from bytes in memory; `name` is used in error messages. `max_pixels` may lower the
// pixel-count limit (the fuzzer does: a few bytes can declare a 64 Mpixel image).
RgbImage decode_image(const uint8_t* data, size_t size, const std::string& name,
                      int64_t max_pixels = kMaxImagePixels);

// The container format found from the first bytes ("JPEG", "PNG", "BMP", "GIF"), the name of a
// recognised but unsupported one ("TIFF", "WebP", ...), or "" when nothing matches.
std::string sniff_image_format(const uint8_t* data, size_t size);

}  // namespace fastvlm
