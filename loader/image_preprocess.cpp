// Pad-to-square and Pillow-exact bicubic resampling (see image_preprocess.h).
//
// The resampler works on a "canvas": the image placed at (left, top) on a black canvas_w x
// canvas_h area, which is what expand2square produces. Black pixels add nothing to the
// fixed-point sums (PIL starts each sum at the rounding constant 2^21, and a sum of just that
// rounds to 0), so the padding never has to exist in memory: taps that fall on it are skipped
// and rows made only of padding come out black.
#include "loader/image_preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/error.h"

namespace fastvlm {
namespace {

// ---------------------------------------------------------------- coefficients (Resample.c)

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS for 8-bit images
constexpr int32_t kRoundHalf = 1 << (kPrecisionBits - 1);

// Pillow's wheels are built without fused multiply-add; contracting a * b + c into one
// rounding could move a weight across an integer rounding boundary. (GCC does not contract
// in ISO C++ mode, -std=c++17; clang does unless told not to.)
#if defined(__clang__)
#define NO_FP_CONTRACT _Pragma("clang fp contract(off)")
#else
#define NO_FP_CONTRACT
#endif

double bicubic_filter(double x) {  // a = -0.5, support 2
    NO_FP_CONTRACT
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

// For each output position: the first input index and the 22-bit weights of the taps.
struct ResampleWeights {
    int taps = 0;                 // ksize: stride of `weights`
    std::vector<int> first;       // [out_size]
    std::vector<int> count;       // [out_size]
    std::vector<int32_t> weights; // [out_size, taps]
};

// precompute_coeffs + normalize_coeffs_8bpc, with Pillow's double arithmetic step for step.
ResampleWeights resample_weights(int in_size, int out_size) {
    NO_FP_CONTRACT
    const double support_base = 2.0;
    double scale = double(in_size) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = support_base * filterscale;
    ResampleWeights w;
    w.taps = int(std::ceil(support)) * 2 + 1;
    w.first.resize(size_t(out_size));
    w.count.resize(size_t(out_size));
    w.weights.assign(size_t(out_size) * w.taps, 0);
    std::vector<double> k(size_t(w.taps));
    const double inv_filterscale = 1.0 / filterscale;
    for (int xx = 0; xx < out_size; ++xx) {
        double center = (xx + 0.5) * scale;
        int xmin = int(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = int(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double total = 0.0;
        for (int x = 0; x < xmax; ++x) {
            k[size_t(x)] = bicubic_filter((x + xmin - center + 0.5) * inv_filterscale);
            total += k[size_t(x)];
        }
        for (int x = 0; x < xmax; ++x) {
            double v = total != 0.0 ? k[size_t(x)] / total : k[size_t(x)];
            double scaled = v * (1 << kPrecisionBits);
            w.weights[size_t(xx) * w.taps + x] = int32_t(v < 0 ? -0.5 + scaled : 0.5 + scaled);
        }
        w.first[size_t(xx)] = xmin;
        w.count[size_t(xx)] = xmax;
    }
    return w;
}

// Pillow's clip8: the sum shifted down by the precision, clamped to [0, 255].
inline uint8_t clip8(int32_t sum) {
    int32_t v = sum >> kPrecisionBits;
    return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
}

// The image on its canvas.
struct Canvas {
    const RgbImage* image;
    int width, height;  // canvas size
    int left, top;      // image position on the canvas
};

// The inner loops below run over kLanes = 64 independent sums with one weight: a fixed count
// and restrict pointers are what GCC's -O2 vectoriser needs.
constexpr int kLanes = 64;

inline void multiply_add_lanes(int32_t* __restrict sum, const uint8_t* __restrict src,
                               int32_t weight) {
    for (int l = 0; l < kLanes; ++l) sum[l] += weight * int32_t(src[l]);
}

// ---------------------------------------------------------------- horizontal pass

// Resamples up to kBlockRows image rows at once: their samples are interleaved column by
// column into `block` ([image width, kLanes], lane = row * 3 + channel, the last lane unused)
// so that each weight multiplies one run of 64 bytes.
constexpr int kBlockRows = kLanes / 3;  // 21

void horizontal_block(const Canvas& canvas, const ResampleWeights& w, int out_width, int row0,
                      int n_rows, std::vector<uint8_t>& block,
                      uint8_t* out /* [n_rows, out_width, 3] */) {
    const RgbImage& image = *canvas.image;
    const int iw = image.width;
    // Pixels are moved as 4-byte words (RGB + the next pixel's R, overwritten by the next
    // row's word, or landing in the unused lane 63); the last column as 3 bytes.
    const uint8_t* src_rows[kBlockRows];
    for (int r = 0; r < n_rows; ++r) src_rows[r] = image.at(0, row0 + r);
    for (int x = 0; x + 1 < iw; ++x) {
        uint8_t* column = &block[size_t(x) * kLanes];
        for (int r = 0; r < n_rows; ++r) std::memcpy(column + r * 3, src_rows[r] + x * 3, 4);
    }
    for (int r = 0; r < n_rows; ++r)
        std::memcpy(&block[size_t(iw - 1) * kLanes + r * 3], src_rows[r] + (iw - 1) * 3, 3);
    alignas(64) int32_t sum[kLanes];
    for (int xx = 0; xx < out_width; ++xx) {
        // Taps on canvas columns [first, first + count); only those on the image count.
        const int first = w.first[size_t(xx)];
        const int t_begin = std::max(0, canvas.left - first);
        const int t_end = std::min(w.count[size_t(xx)], canvas.left + iw - first);
        const int32_t* k = &w.weights[size_t(xx) * w.taps];
        for (int l = 0; l < kLanes; ++l) sum[l] = kRoundHalf;
        for (int t = t_begin; t < t_end; ++t)
            multiply_add_lanes(sum, &block[size_t(first + t - canvas.left) * kLanes], k[t]);
        for (int r = 0; r < n_rows; ++r)
            for (int c = 0; c < 3; ++c)
                out[(size_t(r) * out_width + xx) * 3 + c] = clip8(sum[r * 3 + c]);
    }
}

// Every image row resampled to out_width: [image height, out_width, 3]. When the width does
// not change the row is copied onto its canvas row (padding columns black).
std::vector<uint8_t> horizontal_pass(const Canvas& canvas, int out_width) {
    const RgbImage& image = *canvas.image;
    std::vector<uint8_t> rows(size_t(image.height) * out_width * 3, 0);
    if (canvas.width == out_width) {
        for (int y = 0; y < image.height; ++y)
            std::memcpy(&rows[(size_t(y) * out_width + canvas.left) * 3], image.at(0, y),
                        size_t(image.width) * 3);
        return rows;
    }
    const ResampleWeights w = resample_weights(canvas.width, out_width);
    std::vector<uint8_t> block(size_t(image.width) * kLanes, 0);
    for (int y = 0; y < image.height; y += kBlockRows)
        horizontal_block(canvas, w, out_width, y, std::min(kBlockRows, image.height - y), block,
                         &rows[size_t(y) * out_width * 3]);
    return rows;
}

// ---------------------------------------------------------------- vertical pass

// `rows` holds the image rows (already at the output width); canvas rows above and below them
// are black.
RgbImage vertical_pass(const Canvas& canvas, const std::vector<uint8_t>& rows, int out_width,
                       int out_height) {
    const int ih = canvas.image->height;
    const size_t row_bytes = size_t(out_width) * 3;
    RgbImage out;
    out.width = out_width;
    out.height = out_height;
    out.pixels.assign(row_bytes * out_height, 0);
    if (canvas.height == out_height) {
        std::memcpy(&out.pixels[size_t(canvas.top) * row_bytes], rows.data(), rows.size());
        return out;
    }
    const ResampleWeights w = resample_weights(canvas.height, out_height);
    const size_t full_runs = row_bytes / kLanes;
    std::vector<int32_t> sum(row_bytes);
    for (int yy = 0; yy < out_height; ++yy) {
        const int first = w.first[size_t(yy)];
        const int t_begin = std::max(0, canvas.top - first);
        const int t_end = std::min(w.count[size_t(yy)], canvas.top + ih - first);
        const int32_t* k = &w.weights[size_t(yy) * w.taps];
        std::fill(sum.begin(), sum.end(), kRoundHalf);
        for (int t = t_begin; t < t_end; ++t) {
            const uint8_t* src = &rows[size_t(first + t - canvas.top) * row_bytes];
            for (size_t run = 0; run < full_runs; ++run)
                multiply_add_lanes(&sum[run * kLanes], src + run * kLanes, k[t]);
            for (size_t i = full_runs * kLanes; i < row_bytes; ++i) sum[i] += k[t] * int32_t(src[i]);
        }
        uint8_t* dst = &out.pixels[size_t(yy) * row_bytes];
        for (size_t i = 0; i < row_bytes; ++i) dst[i] = clip8(sum[i]);
    }
    return out;
}

RgbImage resample_canvas(const Canvas& canvas, int out_width, int out_height) {
    const RgbImage& image = *canvas.image;
    if (image.width <= 0 || image.height <= 0 ||
        image.pixels.size() != size_t(image.width) * image.height * 3)
        fail("resize", "invalid RGB image ", image.width, "x", image.height, " with ",
             image.pixels.size(), " bytes");
    if (out_width <= 0 || out_height <= 0 || out_width > kMaxImageSide || out_height > kMaxImageSide)
        fail("resize", "invalid output size ", out_width, "x", out_height);
    return vertical_pass(canvas, horizontal_pass(canvas, out_width), out_width, out_height);
}

}  // namespace

RgbImage pad_to_square(const RgbImage& image) {
    const int side = std::max(image.width, image.height);
    RgbImage square;
    square.width = square.height = side;
    square.pixels.assign(size_t(side) * side * 3, 0);
    const int left = (side - image.width) / 2, top = (side - image.height) / 2;
    for (int y = 0; y < image.height; ++y)
        std::memcpy(&square.pixels[(size_t(top + y) * side + left) * 3], image.at(0, y),
                    size_t(image.width) * 3);
    return square;
}

RgbImage resize_bicubic(const RgbImage& image, int out_width, int out_height) {
    return resample_canvas({&image, image.width, image.height, 0, 0}, out_width, out_height);
}

RgbImage pad_and_resize(const RgbImage& image, int size) {
    const int side = std::max(image.width, image.height);
    Canvas canvas{&image, side, side, (side - image.width) / 2, (side - image.height) / 2};
    return resample_canvas(canvas, size, size);
}

std::vector<float> to_chw_float(const RgbImage& image) {
    float scaled[256];
    for (int v = 0; v < 256; ++v) scaled[v] = float(double(v) * (1.0 / 255.0));
    const size_t plane = size_t(image.width) * image.height;
    std::vector<float> chw(plane * 3);
    for (size_t i = 0; i < plane; ++i)
        for (int c = 0; c < 3; ++c) chw[size_t(c) * plane + i] = scaled[image.pixels[i * 3 + c]];
    return chw;
}

std::vector<float> preprocess_image(const RgbImage& image, int size) {
    return to_chw_float(pad_and_resize(image, size));
}

}  // namespace fastvlm
