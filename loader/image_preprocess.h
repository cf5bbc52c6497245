// FastVLM image preprocessing, exactly as the reference (ml-fastvlm predict.py, transformers
// 4.48 slow CLIPImageProcessor, PIL):
//   1. llava mm_utils.expand2square: paste onto a black max(W,H) square at
//      ((S - W) / 2, (S - H) / 2), integer division;
//   2. CLIPImageProcessor: resize the square to size x size with PIL's Image.resize(BICUBIC)
//      (shortest_edge = crop = size, so the center crop is a no-op);
//   3. rescale by 1/255 to float32 (mean 0, std 1: normalisation is the identity), CHW.
// The resize reproduces Pillow's 8-bit resampler bit for bit (Resample.c): separable, the
// horizontal pass first, each pass with a = -0.5 bicubic weights whose support grows with the
// downscale factor (antialiasing), normalised to sum 1, converted to 22-bit fixed point and
// rounded/clipped to uint8 after each pass. No reducing_gap pre-shrink (transformers passes
// reducing_gap=None).
#pragma once
#include <vector>

#include "loader/image.h"

namespace fastvlm {

constexpr int kVisionImageSize = 1024;  // FastVLM-0.5B: mobileclip_l_1024

// expand2square with a black background.
RgbImage pad_to_square(const RgbImage& image);

// PIL Image.resize((out_width, out_height), Image.BICUBIC) of an RGB image, bit-exact.
RgbImage resize_bicubic(const RgbImage& image, int out_width, int out_height);

// resize_bicubic(pad_to_square(image), size, size) without building the padded square.
RgbImage pad_and_resize(const RgbImage& image, int size = kVisionImageSize);

// uint8 HWC -> float32 CHW in [0, 1], as transformers rescales: float32(double(v) * (1/255)).
std::vector<float> to_chw_float(const RgbImage& image);  // [3, height, width]

// The whole pipeline: pixel values for the vision tower.
std::vector<float> preprocess_image(const RgbImage& image, int size = kVisionImageSize);  // [3, size, size]

}  // namespace fastvlm
