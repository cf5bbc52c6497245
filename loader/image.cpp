// Image decoding with the reference's semantics (PIL Image.open + convert("RGB")); see image.h.
// Every input is validated before pixels are allocated: format by magic bytes, dimensions read
// from the header against kMaxImageSide / kMaxImagePixels, then stb_image's own header check
// (stbi_info_from_memory), which must agree.
#include "loader/image.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <memory>
#include <sys/stat.h>

#include <stb/stb_image.h>

#include "runtime/error.h"

namespace fastvlm {

// In stb_image_impl.cpp, next to the stb_image internals it drives.
RgbImage decode_jpeg_like_libjpeg(const uint8_t* data, size_t size, const std::string& name);

namespace {

// stb_image's brief reason for the last failure, e.g. "bad huffman code".
std::string stb_reason() {
    const char* reason = stbi_failure_reason();
    if (!reason || !*reason) return "invalid header";
    if (std::strcmp(reason, "outofmem") == 0) return "needs more memory than the decoder may use";
    return reason;
}

struct StbPixels {
    void* pixels = nullptr;
    ~StbPixels() { stbi_image_free(pixels); }
};

// ---------------------------------------------------------------- GIF first frame

// What PIL's GIF loader needs to know about the first frame, read from the block structure.
struct GifFirstFrame {
    int x = 0, y = 0, width = 0, height = 0;     // the frame's rectangle on the logical screen
    const uint8_t* palette = nullptr;            // [entries, 3]: the local table, else the global one
    int palette_entries = 0;
    int transparent_index = -1;                  // from the last graphic control extension, or -1
    std::vector<size_t> transparency_flag_offsets;  // bytes holding the GCE "transparent" flags
};

// Walks header, extensions and the first image descriptor, and checks that the first image's
// data sub-blocks are all there (PIL refuses a GIF cut inside them). Returns "" or what is wrong.
std::string read_gif_first_frame(const uint8_t* data, size_t size, GifFirstFrame* frame) {
    size_t pos = 13;
    if (size < pos) return "header incomplete";
    const uint8_t screen_flags = data[10];
    const uint8_t* global_palette = nullptr;
    int global_entries = 0;
    if (screen_flags & 0x80) {
        global_entries = 2 << (screen_flags & 7);
        global_palette = data + pos;
        pos += size_t(global_entries) * 3;
    }
    // Skips a chain of sub-blocks (length byte + data) up to and including its empty terminator.
    auto skip_sub_blocks = [&]() {
        while (pos < size && data[pos] != 0) pos += size_t(data[pos]) + 1;
        if (pos >= size) return false;
        ++pos;
        return true;
    };
    while (pos < size) {
        const uint8_t tag = data[pos++];
        if (tag == 0x2C) {  // image descriptor
            if (pos + 9 > size) return "image descriptor incomplete";
            auto u16 = [&](size_t at) { return int(data[at] | (data[at + 1] << 8)); };
            frame->x = u16(pos);
            frame->y = u16(pos + 2);
            frame->width = u16(pos + 4);
            frame->height = u16(pos + 6);
            const uint8_t local_flags = data[pos + 8];
            pos += 9;
            if (local_flags & 0x80) {
                frame->palette_entries = 2 << (local_flags & 7);
                frame->palette = data + pos;
                pos += size_t(frame->palette_entries) * 3;
            } else {
                frame->palette_entries = global_entries;
                frame->palette = global_palette;
            }
            ++pos;  // LZW minimum code size
            if (pos > size || !skip_sub_blocks()) return "image data ends early";
            return "";
        }
        if (tag == 0x3B) return "no image before the trailer";
        if (tag != 0x21 || pos >= size) return "unexpected block before the first image";
        const uint8_t label = data[pos++];
        if (label == 0xF9 && pos + 5 <= size && data[pos] == 4) {  // graphic control extension
            const size_t flags_at = pos + 1;
            frame->transparency_flag_offsets.push_back(flags_at);
            frame->transparent_index = (data[flags_at] & 1) ? data[pos + 4] : -1;
        }
        if (!skip_sub_blocks()) return "extension ends early";
    }
    return "no image found";
}

RgbImage decode_gif(const uint8_t* data, size_t size, const std::string& name) {
    GifFirstFrame frame;
    const std::string problem = read_gif_first_frame(data, size, &frame);
    if (!problem.empty()) fail(name, "corrupt or truncated GIF (", problem, ")");
    // convert("RGB") shows the transparent index in its palette colour: decode a copy with the
    // transparency flags cleared so that stb_image does not leave those pixels transparent.
    std::vector<uint8_t> patched(data, data + size);
    for (size_t at : frame.transparency_flag_offsets) patched[at] &= uint8_t(~1u);

    RgbImage image;
    int channels = 0;
    StbPixels decoded;
    decoded.pixels = stbi_load_from_memory(patched.data(), int(size), &image.width, &image.height,
                                           &channels, 3);
    if (!decoded.pixels) fail(name, "corrupt or truncated GIF (", stb_reason(), ")");
    const uint8_t* rgb = static_cast<const uint8_t*>(decoded.pixels);
    image.pixels.assign(rgb, rgb + size_t(image.width) * image.height * 3);

    // Outside the first frame PIL shows palette index <transparency, else 0>.
    const int fill_index = frame.transparent_index >= 0 ? frame.transparent_index : 0;
    uint8_t fill[3] = {0, 0, 0};
    if (frame.palette && fill_index < frame.palette_entries)
        std::memcpy(fill, frame.palette + fill_index * 3, 3);
    for (int y = 0; y < image.height; ++y) {
        for (int x = 0; x < image.width; ++x) {
            bool inside = x >= frame.x && x < frame.x + frame.width && y >= frame.y &&
                          y < frame.y + frame.height;
            if (!inside) std::memcpy(&image.pixels[(size_t(y) * image.width + x) * 3], fill, 3);
        }
    }
    return image;
}

// ---------------------------------------------------------------- header dimensions

uint32_t read_be(const uint8_t* p, int bytes) {
    uint32_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
    return v;
}
uint32_t read_le(const uint8_t* p, int bytes) {
    uint32_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

// The size the header declares, read without stb_image (whose own checks refuse very large
// images with a misleading "unknown image type"). Returns false when the header is cut short.
bool read_header_size(const uint8_t* data, size_t size, const std::string& format,
                      int64_t* width, int64_t* height, int* jpeg_frame = nullptr) {
    if (format == "PNG") {  // IHDR first: width, height big-endian at 16, 20
        if (size < 24 || std::memcmp(data + 12, "IHDR", 4) != 0) return false;
        *width = read_be(data + 16, 4);
        *height = read_be(data + 20, 4);
        return true;
    }
    if (format == "GIF") {  // logical screen
        if (size < 10) return false;
        *width = read_le(data + 6, 2);
        *height = read_le(data + 8, 2);
        return true;
    }
    if (format == "BMP") {  // negative height = top-down rows
        if (size < 26) return false;
        const bool os2 = read_le(data + 14, 4) == 12;
        *width = os2 ? int64_t(read_le(data + 18, 2)) : int64_t(int32_t(read_le(data + 18, 4)));
        *height = os2 ? int64_t(read_le(data + 20, 2)) : int64_t(int32_t(read_le(data + 22, 4)));
        if (*height < 0) *height = -*height;
        return true;
    }
    // JPEG: the first SOFn segment (C0..CF except DHT C4, JPG C8, DAC CC).
    size_t pos = 2;
    while (pos + 4 <= size) {
        if (data[pos] != 0xFF) { ++pos; continue; }  // junk between segments, tolerated by all
        const uint8_t marker = data[pos + 1];
        if (marker == 0xFF) { ++pos; continue; }  // fill byte
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) { pos += 2; continue; }
        if (marker == 0xDA || marker == 0xD9) return false;  // scan before any frame header
        const size_t length = read_be(data + pos + 2, 2);
        if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
            if (pos + 9 > size) return false;
            *height = read_be(data + pos + 5, 2);
            *width = read_be(data + pos + 7, 2);
            if (jpeg_frame) *jpeg_frame = marker;
            return true;
        }
        pos += 2 + length;
    }
    return false;
}

// ---------------------------------------------------------------- BMP header

// 16-bit BMP channel depths PIL accepts: 5-5-5 (BI_RGB, or bit fields 0x7C00/0x3E0/0x1F) and
// 5-6-5 (bit fields 0xF800/0x7E0/0x1F). Returns the green channel's bits (5 or 6), 0 for a
// BMP that is not 16-bit; refuses what PIL refuses and what stb_image cannot decode (RLE).
int check_bmp_header(const uint8_t* data, size_t size, const std::string& name) {
    // stb_image would read the missing bytes of a cut header as zeros.
    if (size < 18) fail(name, "corrupt or truncated BMP (header incomplete)");
    const uint32_t header_size = read_le(data + 14, 4);
    const bool os2 = header_size == 12;  // BITMAPCOREHEADER: 16-bit sizes, no compression
    if (!os2 && header_size < 40) return 0;  // stb_image refuses the unknown header
    if (size < 14 + uint64_t(header_size)) fail(name, "corrupt or truncated BMP (header incomplete)");
    const uint32_t bits = os2 ? read_le(data + 24, 2) : read_le(data + 28, 2);
    const uint32_t compression = os2 ? 0 : read_le(data + 30, 4);
    if (compression == 1 || compression == 2)
        fail(name, "RLE-compressed BMP is not supported (convert it to PNG)");
    if (compression != 0 && compression != 3)
        fail(name, "unsupported BMP compression ", compression);

    // stb_image reads missing pixel rows as zeros; PIL refuses such a file as truncated.
    const int64_t width = os2 ? int64_t(read_le(data + 18, 2)) : int32_t(read_le(data + 18, 4));
    const int64_t height = os2 ? int64_t(read_le(data + 20, 2)) : int32_t(read_le(data + 22, 4));
    const uint64_t stride = (uint64_t(width < 0 ? -width : width) * bits + 31) / 32 * 4;
    const uint64_t needed = read_le(data + 10, 4) + stride * uint64_t(height < 0 ? -height : height);
    if (needed > size)
        fail(name, "corrupt or truncated BMP (pixel data ends at byte ", size, " of ", needed, ")");

    if (bits != 16) return 0;
    if (compression == 0) return 5;
    if (size < 66) fail(name, "corrupt or truncated BMP (bit field masks missing)");
    const uint32_t red = read_le(data + 54, 4), green = read_le(data + 58, 4),
                   blue = read_le(data + 62, 4);
    if (red == 0x7C00 && green == 0x3E0 && blue == 0x1F) return 5;
    if (red == 0xF800 && green == 0x7E0 && blue == 0x1F) return 6;
    fail(name, "unsupported 16-bit BMP bit field layout (", std::hex, red, "/", green, "/", blue, ")");
}

// stb_image widens an n-bit channel by bit replication, PIL by v * 255 / (2^n - 1) (Unpack.c
// BGR;15 and BGR;16); the top n bits of stb_image's value are the original v.
void rescale_16bit_bmp_channels(RgbImage& image, int green_bits) {
    for (size_t i = 0; i < image.pixels.size(); ++i) {
        const int bits = (i % 3 == 1) ? green_bits : 5;
        const int v = image.pixels[i] >> (8 - bits);
        image.pixels[i] = uint8_t(v * 255 / ((1 << bits) - 1));
    }
}

// ---------------------------------------------------------------- PNG and BMP

RgbImage decode_png_or_bmp(const uint8_t* data, size_t size, const std::string& name,
                           const std::string& format, int channels_in_file) {
    const int green_bits = format == "BMP" ? check_bmp_header(data, size, name) : 0;
    RgbImage image;
    int channels = 0;
    StbPixels decoded;
    const bool gray16 = format == "PNG" && channels_in_file == 1 &&
                        stbi_is_16_bit_from_memory(data, int(size));
    if (gray16) {
        // PIL opens 16-bit gray as "I;16"; convert("RGB") clips each value to 255.
        decoded.pixels = stbi_load_16_from_memory(data, int(size), &image.width, &image.height,
                                                  &channels, 1);
    } else {
        // stb_image expands gray to RGB, drops alpha and keeps the high byte of 16-bit
        // samples, which is what convert("RGB") does for these modes.
        decoded.pixels =
            stbi_load_from_memory(data, int(size), &image.width, &image.height, &channels, 3);
    }
    if (!decoded.pixels)
        fail(name, "corrupt or truncated ", format, " (", stb_reason(), ")");

    const size_t n_pixels = size_t(image.width) * image.height;
    if (gray16) {
        const uint16_t* gray = static_cast<const uint16_t*>(decoded.pixels);
        image.pixels.resize(n_pixels * 3);
        for (size_t i = 0; i < n_pixels; ++i) {
            uint8_t v = gray[i] > 255 ? 255 : uint8_t(gray[i]);
            image.pixels[3 * i] = image.pixels[3 * i + 1] = image.pixels[3 * i + 2] = v;
        }
    } else {
        const uint8_t* rgb = static_cast<const uint8_t*>(decoded.pixels);
        image.pixels.assign(rgb, rgb + n_pixels * 3);
    }
    if (green_bits) rescale_16bit_bmp_channels(image, green_bits);
    return image;
}

}  // namespace

std::string sniff_image_format(const uint8_t* data, size_t size) {
    // `magic` may hold NUL bytes, hence the explicit length.
    auto has = [&](size_t offset, const char* magic, size_t n) {
        return size >= offset + n && std::memcmp(data + offset, magic, n) == 0;
    };
    if (has(0, "\xFF\xD8\xFF", 3)) return "JPEG";
    if (has(0, "\x89PNG\r\n\x1A\n", 8)) return "PNG";
    if (has(0, "GIF87a", 6) || has(0, "GIF89a", 6)) return "GIF";
    if (has(0, "BM", 2)) return "BMP";
    // Recognised only to name them in the error message.
    if (has(0, "II*\0", 4) || has(0, "MM\0*", 4)) return "TIFF";
    if (has(0, "RIFF", 4) && has(8, "WEBP", 4)) return "WebP";
    if (has(4, "ftypavif", 8) || has(4, "ftypavis", 8)) return "AVIF";
    if (has(4, "ftypheic", 8) || has(4, "ftypheix", 8) || has(4, "ftypmif1", 8)) return "HEIF";
    if (has(0, "\xFF\x4F\xFF\x51", 4) || has(0, "\0\0\0\x0CjP  \r\n\x87\n", 12)) return "JPEG 2000";
    if (has(0, "8BPS", 4)) return "PSD";
    if (has(0, "\x76\x2F\x31\x01", 4)) return "OpenEXR";
    if (has(0, "#?RADIANCE", 10) || has(0, "#?RGBE", 6)) return "HDR";
    if (size >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '7') return "PNM";
    if (has(0, "\0\0\x01\0", 4)) return "ICO";
    if (has(0, "<svg", 4) || has(0, "<?xml", 5)) return "SVG/XML";
    return "";
}

RgbImage decode_image(const uint8_t* data, size_t size, const std::string& name,
                      int64_t max_pixels) {
    if (size == 0) fail(name, "empty file, not an image");
    if (size > size_t(INT_MAX)) fail(name, "file too large (", size, " bytes) for an image");

    const std::string format = sniff_image_format(data, size);
    if (format != "JPEG" && format != "PNG" && format != "GIF" && format != "BMP") {
        fail(name, "unsupported image format",
             format.empty() ? std::string(" (unrecognised content)") : " (" + format + ")",
             "; supported: JPEG, PNG, BMP, GIF");
    }

    // Dimensions from the header, before anything is allocated for pixels.
    int64_t header_width = 0, header_height = 0;
    int jpeg_frame = 0, channels = 0;
    const bool have_size =
        read_header_size(data, size, format, &header_width, &header_height, &jpeg_frame);
    max_pixels = std::min(max_pixels, kMaxImagePixels);
    if (have_size && (header_width > kMaxImageSide || header_height > kMaxImageSide ||
                      header_width * header_height > max_pixels)) {
        fail(name, "image too large: ", header_width, "x", header_height, " (limit ", kMaxImageSide,
             " pixels per side and ", max_pixels, " pixels in all)");
    }
    if (format == "JPEG") {
        // stb_image's header parser is left to the decoder, which runs it with extra checks.
        if (!have_size) fail(name, "corrupt or truncated JPEG (no frame header)");
        if (jpeg_frame == 0xC3 || jpeg_frame == 0xCB)
            fail(name, "lossless JPEG is not supported");
        if (jpeg_frame >= 0xC9)
            fail(name, "arithmetic-coded JPEG is not supported");
        if (jpeg_frame > 0xC2)
            fail(name, "unsupported JPEG process (frame marker 0x", std::hex, jpeg_frame, ")");
        if (header_width == 0 || header_height == 0)
            fail(name, "corrupt or truncated JPEG (header gives ", header_width, "x", header_height,
                 " pixels)");
    } else {
        // stb_image's view of the header must agree (it validates more than the size).
        int width = 0, height = 0;
        if (!stbi_info_from_memory(data, int(size), &width, &height, &channels)) {
            if (format == "BMP") check_bmp_header(data, size, name);  // names RLE and the like
            fail(name, "corrupt or truncated ", format, " (", stb_reason(), ")");
        }
        // stb_image reports a top-down BMP's height as negative.
        if (format == "BMP" && height < 0 && height > INT_MIN) height = -height;
        if (width <= 0 || height <= 0 || width != header_width || height != header_height)
            fail(name, "corrupt or truncated ", format, " (header gives ", width, "x", height,
                 " pixels)");
    }

    RgbImage image;
    if (format == "JPEG")
        image = decode_jpeg_like_libjpeg(data, size, name);
    else if (format == "GIF")
        image = decode_gif(data, size, name);
    else
        image = decode_png_or_bmp(data, size, name, format, channels);

    if (image.width != header_width || image.height != header_height)
        fail(name, "decoded size ", image.width, "x", image.height, " differs from the header's ",
             header_width, "x", header_height);
    return image;
}

RgbImage load_image(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) fail(path, "cannot open image file (", std::strerror(errno), ")");
    if (!S_ISREG(st.st_mode)) fail(path, "cannot open image file (not a regular file)");
    if (uint64_t(st.st_size) > uint64_t(INT_MAX))
        fail(path, "file too large (", st.st_size, " bytes) for an image");
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, "cannot open image file (", std::strerror(errno), ")");
    std::vector<uint8_t> bytes(size_t(st.st_size));
    if (!bytes.empty() && !in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(bytes.size())))
        fail(path, "cannot read image file");
    return decode_image(bytes.data(), bytes.size(), path);
}

}  // namespace fastvlm
