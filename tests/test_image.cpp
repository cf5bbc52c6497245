// Image decoding and FastVLM preprocessing against the reference (PIL + llava expand2square +
// CLIPImageProcessor), fixtures from tools/golden/image.py. The pipeline reproduces PIL bit for
// bit (libjpeg-turbo's JPEG decoding included), so every comparison is exact: tolerance 0.
#include "tests/test_util.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "loader/image.h"
#include "loader/image_preprocess.h"

using namespace fastvlm;
using nlohmann::json;

namespace {

const std::string kGoldenDir = "tests/golden/image/";
const std::string kDataDir = "tests/data/images/";

json golden_index() {
    std::string text = test::read_file(kGoldenDir + "index.json");
    REQUIRE_MESSAGE(!text.empty(), "missing " << kGoldenDir << "index.json");
    return json::parse(text);
}

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::string s = test::read_file(path);
    return std::vector<uint8_t>(s.begin(), s.end());
}

// The golden script's checksum: sum of byte_i * ((i + 1) * 0x9E3779B97F4A7C15) mod 2^64.
std::string checksum(const std::vector<uint8_t>& bytes) {
    uint64_t sum = 0;
    for (size_t i = 0; i < bytes.size(); ++i) sum += bytes[i] * ((i + 1) * 0x9E3779B97F4A7C15ull);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(sum));
    return hex;
}

// The golden script's sample: pixel p_i = (i * 2654435761) mod (W * H), row-major.
std::vector<uint8_t> sample_pixels(const RgbImage& image, int n) {
    std::vector<uint8_t> out;
    const uint64_t count = uint64_t(image.width) * image.height;
    for (uint64_t i = 0; i < uint64_t(n); ++i) {
        uint64_t p = (i * 2654435761ull) % count;
        const uint8_t* px = image.at(int(p % image.width), int(p / image.width));
        out.insert(out.end(), px, px + 3);
    }
    return out;
}

// Count of differing bytes and the largest difference, for readable failures.
struct Difference {
    size_t count = 0;
    int largest = 0;
};
Difference compare(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
    Difference d;
    if (a.size() != b.size()) return {std::max(a.size(), b.size()), 256};
    for (size_t i = 0; i < a.size(); ++i) {
        int diff = std::abs(int(a[i]) - int(b[i]));
        if (diff) ++d.count;
        d.largest = std::max(d.largest, diff);
    }
    return d;
}

RgbImage random_image(int width, int height, uint32_t seed) {
    std::mt19937 rng(seed);
    RgbImage image;
    image.width = width;
    image.height = height;
    image.pixels.resize(size_t(width) * height * 3);
    for (auto& v : image.pixels) v = uint8_t(rng() & 255);
    return image;
}

std::string load_error(const std::string& path) {
    return test::error_of([&] { load_image(path); });
}

std::string decode_error(const std::vector<uint8_t>& bytes, const std::string& name = "input") {
    return test::error_of([&] { decode_image(bytes.data(), bytes.size(), name); });
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

// ---------------------------------------------------------------- decoding

TEST_CASE("image: every synthetic image decodes exactly like PIL convert('RGB')") {
    json index = golden_index();
    REQUIRE(index["images"].size() >= 40);
    for (const json& entry : index["images"]) {
        const std::string file = entry["file"];
        INFO(file);
        RgbImage image = load_image(file);
        CHECK(image.width == entry["width"].get<int>());
        CHECK(image.height == entry["height"].get<int>());
        CHECK(checksum(image.pixels) == entry["checksum"].get<std::string>());
    }
}

TEST_CASE("image: decode_image from memory gives what load_image gives") {
    const std::string file = kDataDir + "jpeg_420_61x37.jpg";
    std::vector<uint8_t> bytes = read_bytes(file);
    RgbImage from_memory = decode_image(bytes.data(), bytes.size(), "memory");
    RgbImage from_file = load_image(file);
    CHECK(from_memory.width == 61);
    CHECK(from_memory.height == 37);
    CHECK(from_memory.pixels == from_file.pixels);
}

TEST_CASE("image: EXIF orientation is not applied, as in the reference") {
    // The file says "rotate 90 degrees" (orientation 6); PIL's Image.open ignores it.
    RgbImage image = load_image(kDataDir + "jpeg_exif_orientation6_61x37.jpg");
    CHECK(image.width == 61);
    CHECK(image.height == 37);
}

TEST_CASE("image: alpha is dropped, not composited, and 16-bit gray is clipped like PIL") {
    // RGBA pixels with alpha 0 keep their colour (pattern rows are not black).
    RgbImage rgba = load_image(kDataDir + "png_rgba_37x61.png");
    RgbImage rgba16 = load_image(kDataDir + "png_rgba16_37x61.png");
    long sum = 0;
    for (uint8_t v : rgba.pixels) sum += v;
    CHECK(sum > long(rgba.pixels.size()) * 50);
    CHECK(rgba16.width == 37);
    // 16-bit gray holds 0..1023 here: PIL's I;16 -> RGB clips everything above 255.
    RgbImage gray16 = load_image(kDataDir + "png_gray16_61x37.png");
    int white = 0;
    for (size_t i = 0; i < gray16.pixels.size(); i += 3) {
        CHECK(gray16.pixels[i] == gray16.pixels[i + 1]);
        white += gray16.pixels[i] == 255;
    }
    CHECK(white > 61 * 37 / 2);
}

TEST_CASE("image: format sniffing names supported and unsupported formats") {
    auto sniff = [](const std::string& bytes) {
        return sniff_image_format(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    };
    CHECK(sniff("\xFF\xD8\xFF\xE0") == "JPEG");
    CHECK(sniff("\x89PNG\r\n\x1A\n....") == "PNG");
    CHECK(sniff("GIF89a") == "GIF");
    CHECK(sniff("BM....") == "BMP");
    CHECK(sniff(std::string("II*\0", 4)) == "TIFF");
    CHECK(sniff(std::string("RIFF\x10\0\0\0WEBPVP8L", 16)) == "WebP");
    CHECK(sniff(std::string("\0\0\0\x1C" "ftypheic", 12)) == "HEIF");
    CHECK(sniff("hello") == "");
    CHECK(sniff("") == "");
}

// ---------------------------------------------------------------- preprocessing

TEST_CASE("image: every synthetic image preprocesses exactly like the reference at 64 and 37") {
    json index = golden_index();
    for (const json& entry : index["images"]) {
        const std::string file = entry["file"];
        RgbImage image = load_image(file);
        for (int size : index["full_sizes"].get<std::vector<int>>()) {
            INFO(file << " at " << size);
            std::vector<uint8_t> expected =
                read_bytes(kGoldenDir + entry[std::to_string(size)].get<std::string>());
            REQUIRE(expected.size() == size_t(size) * size * 3);
            RgbImage resized = pad_and_resize(image, size);
            Difference d = compare(resized.pixels, expected);
            CHECK_MESSAGE(d.count == 0, d.count << " bytes differ, by up to " << d.largest);
        }
    }
}

TEST_CASE("image: every synthetic image matches the reference's 1024 x 1024 sample") {
    json index = golden_index();
    const int n = index["n_samples_synthetic"];
    for (const json& entry : index["images"]) {
        const std::string file = entry["file"];
        INFO(file);
        std::vector<uint8_t> expected = read_bytes(kGoldenDir + entry["1024"].get<std::string>());
        REQUIRE(expected.size() == size_t(n) * 3);
        RgbImage resized = pad_and_resize(load_image(file), kVisionImageSize);
        REQUIRE(resized.width == 1024);
        Difference d = compare(sample_pixels(resized, n), expected);
        CHECK_MESSAGE(d.count == 0, d.count << " bytes differ, by up to " << d.largest);
    }
}

TEST_CASE("image: real photos decode and preprocess exactly like the reference") {
    if (test::shared_data().empty()) SKIP_TEST("../shared/data is not present");
    json index = golden_index();
    const int n = index["n_samples_photo"];
    REQUIRE(index["photos"].size() >= 1);
    for (const json& entry : index["photos"]) {
        std::string file = entry["file"].get<std::string>();
        file = test::shared_data() + file.substr(std::string("../shared/data").size());
        INFO(file);
        if (!test::exists(file)) SKIP_TEST("photo missing: " + file);
        RgbImage image = load_image(file);
        CHECK(image.width == entry["width"].get<int>());
        CHECK(image.height == entry["height"].get<int>());
        Difference decoded = compare(
            sample_pixels(image, n), read_bytes(kGoldenDir + entry["decoded_sample"].get<std::string>()));
        CHECK_MESSAGE(decoded.count == 0, "decoded: " << decoded.count << " bytes differ, by up to "
                                                      << decoded.largest);
        CHECK(checksum(image.pixels) == entry["checksum"].get<std::string>());
        Difference resized =
            compare(sample_pixels(pad_and_resize(image, 1024), n),
                    read_bytes(kGoldenDir + entry["1024"].get<std::string>()));
        CHECK_MESSAGE(resized.count == 0, "1024: " << resized.count << " bytes differ, by up to "
                                                   << resized.largest);
    }
}

TEST_CASE("image: rescale to CHW floats matches transformers' rescale bit for bit") {
    std::vector<uint8_t> table_bytes = read_bytes(kGoldenDir + "rescale_table.f32");
    REQUIRE(table_bytes.size() == 256 * 4);
    float table[256];
    std::memcpy(table, table_bytes.data(), sizeof table);
    CHECK(table[0] == 0.0f);
    CHECK(table[255] == 1.0f);

    RgbImage image = random_image(7, 5, 1);
    image.pixels[0] = 255;
    std::vector<float> chw = to_chw_float(image);
    REQUIRE(chw.size() == 3 * 7 * 5);
    for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 5; ++y)
            for (int x = 0; x < 7; ++x)
                REQUIRE(chw[(size_t(c) * 5 + y) * 7 + x] == table[image.at(x, y)[c]]);

    std::vector<float> pixel_values = preprocess_image(image, 37);
    RgbImage resized = pad_and_resize(image, 37);
    REQUIRE(pixel_values.size() == 3 * 37 * 37);
    CHECK(pixel_values == to_chw_float(resized));
}

TEST_CASE("image: pad to square centres wide and tall images on black") {
    // Wide 6x3: side 6, pasted at (0, (6 - 3) / 2 = 1). Tall 2x5: side 5, at ((5 - 2) / 2 = 1, 0).
    struct Case { int w, h, left, top; };
    for (Case c : {Case{6, 3, 0, 1}, Case{2, 5, 1, 0}, Case{7, 4, 0, 1}, Case{4, 4, 0, 0}, Case{1, 2, 0, 0}}) {
        INFO(c.w << "x" << c.h);
        RgbImage image = random_image(c.w, c.h, 7);
        for (auto& v : image.pixels) v = uint8_t(v | 1);  // never black, so the padding shows
        RgbImage square = pad_to_square(image);
        const int side = std::max(c.w, c.h);
        REQUIRE(square.width == side);
        REQUIRE(square.height == side);
        for (int y = 0; y < side; ++y)
            for (int x = 0; x < side; ++x) {
                const bool inside = x >= c.left && x < c.left + c.w && y >= c.top && y < c.top + c.h;
                for (int ch = 0; ch < 3; ++ch) {
                    const uint8_t expected = inside ? image.at(x - c.left, y - c.top)[ch] : 0;
                    REQUIRE(square.at(x, y)[ch] == expected);
                }
            }
    }
}

TEST_CASE("image: pad_and_resize equals resizing the materialised square") {
    struct Case { int w, h, size; };
    for (Case c : {Case{61, 37, 64}, Case{37, 61, 37}, Case{300, 41, 64}, Case{41, 300, 64},
                   Case{50, 50, 50}, Case{90, 60, 90}, Case{60, 90, 90}, Case{1, 1, 5},
                   Case{3, 1, 2}, Case{200, 3, 17}, Case{129, 128, 64}}) {
        INFO(c.w << "x" << c.h << " -> " << c.size);
        RgbImage image = random_image(c.w, c.h, uint32_t(c.w * 1000 + c.h));
        RgbImage direct = pad_and_resize(image, c.size);
        RgbImage via_square = resize_bicubic(pad_to_square(image), c.size, c.size);
        REQUIRE(direct.width == c.size);
        CHECK(direct.pixels == via_square.pixels);
    }
}

TEST_CASE("image: bicubic resize keeps constant images constant and same size is a copy") {
    for (int value : {0, 1, 17, 128, 254, 255}) {
        RgbImage image;
        image.width = 53;
        image.height = 29;
        image.pixels.assign(53 * 29 * 3, uint8_t(value));
        for (auto size : {std::pair<int, int>{20, 11}, {100, 200}, {53, 7}, {1, 1}}) {
            RgbImage out = resize_bicubic(image, size.first, size.second);
            REQUIRE(out.pixels.size() == size_t(size.first) * size.second * 3);
            CHECK(std::all_of(out.pixels.begin(), out.pixels.end(),
                              [&](uint8_t v) { return v == value; }));
        }
    }
    RgbImage image = random_image(13, 9, 3);
    CHECK(resize_bicubic(image, 13, 9).pixels == image.pixels);
}

TEST_CASE("image: resize refuses invalid sizes") {
    RgbImage image = random_image(4, 4, 1);
    CHECK(contains(test::error_of([&] { resize_bicubic(image, 0, 4); }), "invalid output size 0x4"));
    RgbImage broken;
    broken.width = 3;
    broken.height = 3;
    CHECK(contains(test::error_of([&] { pad_and_resize(broken, 8); }), "invalid RGB image 3x3"));
}

// ---------------------------------------------------------------- bad input

TEST_CASE("image: unreadable, empty and non-image files are refused naming the file") {
    const std::string dir = test::temp_dir("image_bad");
    std::string e = load_error(dir + "/missing.jpg");
    CHECK(contains(e, dir + "/missing.jpg: cannot open image file"));
    CHECK(contains(load_error(dir), "not a regular file"));

    test::write_file(dir + "/empty.png", "");
    e = load_error(dir + "/empty.png");
    CHECK(contains(e, "empty.png: empty file"));

    test::write_file(dir + "/notes.jpg", "these are not pixels\n");
    e = load_error(dir + "/notes.jpg");
    CHECK(contains(e, "notes.jpg: unsupported image format (unrecognised content)"));
}

TEST_CASE("image: unsupported formats are refused with their name") {
    CHECK(contains(load_error(kDataDir + "bad_unsupported.tiff"), "unsupported image format (TIFF)"));
    CHECK(contains(load_error(kDataDir + "bad_unsupported.webp"), "unsupported image format (WebP)"));
    CHECK(contains(load_error(kDataDir + "bad_cmyk.jpg"), "CMYK/YCCK JPEG is not supported"));
    CHECK(contains(load_error(kDataDir + "bad_rle8.bmp"), "RLE-compressed BMP is not supported"));
}

TEST_CASE("image: truncated files are refused, whatever the format") {
    for (std::string name : {"jpeg_420_61x37.jpg", "jpeg_progressive_420_37x61.jpg",
                             "png_rgb_61x37.png", "png_interlaced_rgb_37x61.png",
                             "bmp_24bit_61x37.bmp", "bmp_8bit_palette_61x37.bmp", "gif_61x37.gif",
                             "gif_animated_61x37.gif"}) {
        std::vector<uint8_t> bytes = read_bytes(kDataDir + name);
        const std::string format = sniff_image_format(bytes.data(), bytes.size());
        // A JPEG without its end-of-image marker, a GIF without its image data's end, then
        // cuts through the pixel data and through the header.
        std::vector<size_t> cuts = {bytes.size() / 2, 30, 8};
        if (format == "JPEG") cuts.push_back(bytes.size() - 2);
        if (format == "BMP") cuts.push_back(bytes.size() - 1);
        if (name == "gif_61x37.gif") cuts.push_back(bytes.size() - 3);
        for (size_t keep : cuts) {
            INFO(name << " cut to " << keep << " bytes");
            std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + long(keep));
            std::string e = decode_error(cut, name);
            CHECK(contains(e, name + ": corrupt or truncated " + format));
            if (name == "jpeg_420_61x37.jpg" && keep == bytes.size() / 2)
                CHECK(contains(e, "(image data ends early)"));
        }
    }
}

TEST_CASE("image: corrupt JPEG data is refused") {
    std::vector<uint8_t> bytes = read_bytes(kDataDir + "jpeg_420_61x37.jpg");
    // Zero the Huffman tables' code counts: every table becomes empty.
    std::vector<uint8_t> no_codes = bytes;
    for (size_t i = 0; i + 4 < no_codes.size(); ++i)
        if (no_codes[i] == 0xFF && no_codes[i + 1] == 0xC4)
            std::fill(no_codes.begin() + long(i) + 5, no_codes.begin() + long(i) + 21, 0);
    CHECK(contains(decode_error(no_codes), "corrupt or truncated JPEG"));
    // A frame header that declares zero components.
    std::vector<uint8_t> no_components = bytes;
    for (size_t i = 0; i + 9 < no_components.size(); ++i)
        if (no_components[i] == 0xFF && no_components[i + 1] == 0xC0) no_components[i + 9] = 0;
    CHECK(contains(decode_error(no_components), "corrupt or truncated JPEG"));
    // Code counts summing to more than 256 (they would overflow the decoder's tables).
    std::vector<uint8_t> too_many_codes = bytes;
    for (size_t i = 0; i + 21 < too_many_codes.size(); ++i)
        if (too_many_codes[i] == 0xFF && too_many_codes[i + 1] == 0xC4) {
            std::fill(too_many_codes.begin() + long(i) + 5, too_many_codes.begin() + long(i) + 21, 0x40);
            break;
        }
    CHECK(contains(decode_error(too_many_codes), "corrupt or truncated JPEG (bad DHT header)"));
    // A scan that uses Huffman tables the file never defines (table 3).
    std::vector<uint8_t> undefined_table = bytes;
    for (size_t i = 0; i + 4 < undefined_table.size(); ++i)
        if (undefined_table[i] == 0xFF && undefined_table[i + 1] == 0xDA) {
            const int n_components = undefined_table[i + 4];
            for (int c = 0; c < n_components; ++c) undefined_table[i + 6 + 2 * c] = 0x33;
            break;
        }
    CHECK(contains(decode_error(undefined_table), "corrupt or truncated JPEG (bad huffman code)"));
}

TEST_CASE("image: a header claiming 30000x30000 is refused before any pixel is allocated") {
    // Only the header is patched: the refusal has to come from the size check, which runs
    // before decoding, since the data that follows could never fill such an image.
    auto patch_be16 = [](std::vector<uint8_t>& b, size_t at, int v) {
        b[at] = uint8_t(v >> 8);
        b[at + 1] = uint8_t(v);
    };
    auto patch_le = [](std::vector<uint8_t>& b, size_t at, uint32_t v, int n) {
        for (int i = 0; i < n; ++i) b[at + i] = uint8_t(v >> (8 * i));
    };
    const std::string too_large = "image too large: 30000x30000 (limit 16384 pixels per side and 67108864 pixels in all)";

    std::vector<uint8_t> png = read_bytes(kDataDir + "png_rgb_61x37.png");
    patch_be16(png, 18, 30000);  // IHDR width and height, big-endian 32-bit
    patch_be16(png, 22, 30000);
    CHECK(contains(decode_error(png, "huge.png"), "huge.png: " + too_large));

    std::vector<uint8_t> jpeg = read_bytes(kDataDir + "jpeg_420_61x37.jpg");
    for (size_t i = 0; i + 8 < jpeg.size(); ++i)
        if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) {
            patch_be16(jpeg, i + 5, 30000);  // SOF0 height, width
            patch_be16(jpeg, i + 7, 30000);
            break;
        }
    CHECK(contains(decode_error(jpeg), too_large));

    std::vector<uint8_t> bmp = read_bytes(kDataDir + "bmp_24bit_61x37.bmp");
    patch_le(bmp, 18, 30000, 4);
    patch_le(bmp, 22, 30000, 4);
    CHECK(contains(decode_error(bmp), too_large));

    std::vector<uint8_t> gif = read_bytes(kDataDir + "gif_61x37.gif");
    patch_le(gif, 6, 30000, 2);
    patch_le(gif, 8, 30000, 2);
    CHECK(contains(decode_error(gif), too_large));

    // Within the per-side limit but over 64 Mpixel in all.
    std::vector<uint8_t> wide = read_bytes(kDataDir + "png_rgb_61x37.png");
    patch_be16(wide, 18, 16384);
    patch_be16(wide, 22, 4097);
    CHECK(contains(decode_error(wide), "image too large: 16384x4097"));

    // A caller may lower the pixel limit.
    std::vector<uint8_t> small = read_bytes(kDataDir + "png_rgb_61x37.png");
    CHECK(contains(test::error_of([&] { decode_image(small.data(), small.size(), "small.png", 2000); }),
                   "small.png: image too large: 61x37 (limit 16384 pixels per side and 2000 pixels"));
    CHECK(decode_image(small.data(), small.size(), "small.png", 61 * 37).width == 61);
}

TEST_CASE("image: a GIF without an image is refused") {
    std::vector<uint8_t> gif = read_bytes(kDataDir + "gif_61x37.gif");
    const size_t header = 13 + ((gif[10] & 0x80) ? 3u * (2u << (gif[10] & 7)) : 0u);
    std::vector<uint8_t> only_header(gif.begin(), gif.begin() + long(header));
    only_header.push_back(0x3B);  // trailer
    CHECK(contains(decode_error(only_header), "corrupt or truncated GIF"));
}
