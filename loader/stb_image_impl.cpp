// The one translation unit that compiles stb_image, plus a JPEG pipeline on top of stb_image's
// entropy decoder that reproduces libjpeg-turbo's output bit for bit, because the reference
// reads images with PIL, and PIL decodes JPEG with libjpeg-turbo using its defaults:
//   - ISLOW integer IDCT (jidctint.c), with libjpeg's range limiting (wrap modulo 1024, clamp);
//   - "fancy" chroma upsampling (jdsample.c): triangle filters with alternating rounding bias
//     for 2:1 horizontal (4:2:2), 2:1 vertical (4:4:0) and 2:1 both ways (4:2:0), plain
//     replication for components narrower than 3 samples and for other integral ratios;
//     the rows above the first and below the last are copies of them (jdmainct.c);
//   - YCbCr->RGB with 16-bit fixed-point tables (jdcolor.c build_ycc_rgb_table).
// stb_image's own IDCT, upsampling and colour conversion differ from these by +-1 here and
// there. Huffman/progressive decoding is lossless, so stb_image's coefficients are libjpeg's.
// Not reproduced: libjpeg's block smoothing for progressive files whose scans never complete
// the low AC coefficients (ordinary encoders always complete them).
//
// Relies on stb_image 2.27 internals (stbi__jpeg and its helpers), reachable only from here.
#include "loader/image.h"

#include <cstdlib>
#include <cstring>
#include <memory>

#include "runtime/error.h"

// Formats the reference path can read and we support; stb_image's others (PSD, TGA, HDR,
// PIC, PNM) are left out so that they are refused instead of decoded differently from PIL.
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF

// Every allocation stb_image makes goes through a cap, so that a hostile file (say a PNG whose
// deflate stream inflates far beyond its declared size) fails with "outofmem" instead of
// exhausting memory. The largest legitimate buffer is a 64 Mpixel 16-bit RGBA PNG: 512 MiB
// plus filter bytes.
namespace {
constexpr size_t kMaxStbAllocation = size_t(1) << 30;
void* capped_malloc(size_t size) { return size > kMaxStbAllocation ? nullptr : std::malloc(size); }
void* capped_realloc(void* p, size_t size) {
    return size > kMaxStbAllocation ? nullptr : std::realloc(p, size);
}
}  // namespace
#define STBI_MALLOC(size) capped_malloc(size)
#define STBI_REALLOC(p, size) capped_realloc(p, size)
#define STBI_FREE(p) std::free(p)

#define STB_IMAGE_IMPLEMENTATION
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
#pragma clang diagnostic ignored "-Wunused-parameter"
#pragma clang diagnostic ignored "-Wsign-compare"
#pragma clang diagnostic ignored "-Wimplicit-fallthrough"
#pragma clang diagnostic ignored "-Wmissing-field-initializers"
#pragma clang diagnostic ignored "-Wtype-limits"
#pragma clang diagnostic ignored "-Wunused-but-set-variable"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <stb/stb_image.h>
#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace fastvlm {
namespace {

// ---------------------------------------------------------------- ISLOW IDCT (jidctint.c)

constexpr int kConstBits = 13;
constexpr int kPass1Bits = 2;

// libjpeg's FIX(x) constants for CONST_BITS = 13.
constexpr int64_t FIX_0_298631336 = 2446, FIX_0_390180644 = 3196, FIX_0_541196100 = 4433,
                  FIX_0_765366865 = 6270, FIX_0_899976223 = 7373, FIX_1_175875602 = 9633,
                  FIX_1_501321110 = 12299, FIX_1_847759065 = 15137, FIX_1_961570560 = 16069,
                  FIX_2_053119869 = 16819, FIX_2_562915447 = 20995, FIX_3_072711026 = 25172;

inline int64_t descale(int64_t x, int n) { return (x + (int64_t(1) << (n - 1))) >> n; }

// libjpeg's post-IDCT range limit: the value (before the +128 level shift) is taken modulo
// 1024 into [-512, 511], then shifted and clamped to [0, 255].
inline uint8_t idct_range_limit(int64_t value) {
    int i = int(value & 1023);
    if (i < 128) return uint8_t(i + 128);
    if (i < 512) return 255;
    if (i < 896) return 0;
    return uint8_t(i - 896);
}

// The decoder running on this thread, and what the IDCT hook throws when its entropy-coded
// data ran out: stb_image would go on decoding zeros for every remaining block (for a tiny
// file declaring 64 Mpixel, a second of work) before noticing the missing end marker.
thread_local const stbi__jpeg* t_active_decoder = nullptr;
struct EntropyDataEnded {};

// stb_image's IDCT hook: `data` holds the 64 dequantized coefficients in natural order
// (data[row * 8 + col], row = vertical frequency); writes 8x8 samples at `out`.
void idct_islow(stbi_uc* out, int out_stride, short data[64]) {
    // Sequential files run the IDCT block by block while decoding (progressive ones only at
    // the end): at the end of the input without having met a marker, the file is cut short.
    const stbi__jpeg* j = t_active_decoder;
    if (j && !j->progressive && !j->nomore && j->s->img_buffer >= j->s->img_buffer_end)
        throw EntropyDataEnded{};
    int workspace[64];
    // Pass 1: columns, results scaled up by 2^kPass1Bits.
    for (int col = 0; col < 8; ++col) {
        const short* in = data + col;
        int* ws = workspace + col;
        if (in[8] == 0 && in[16] == 0 && in[24] == 0 && in[32] == 0 && in[40] == 0 &&
            in[48] == 0 && in[56] == 0) {
            int dc = in[0] * (1 << kPass1Bits);
            for (int r = 0; r < 8; ++r) ws[r * 8] = dc;
            continue;
        }
        int64_t z2 = in[16], z3 = in[48];
        int64_t z1 = (z2 + z3) * FIX_0_541196100;
        int64_t tmp2 = z1 + z3 * -FIX_1_847759065;
        int64_t tmp3 = z1 + z2 * FIX_0_765366865;
        z2 = in[0];
        z3 = in[32];
        int64_t tmp0 = (z2 + z3) * (int64_t(1) << kConstBits);
        int64_t tmp1 = (z2 - z3) * (int64_t(1) << kConstBits);
        int64_t tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3;
        int64_t tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;

        tmp0 = in[56];
        tmp1 = in[40];
        tmp2 = in[24];
        tmp3 = in[8];
        z1 = tmp0 + tmp3;
        z2 = tmp1 + tmp2;
        z3 = tmp0 + tmp2;
        int64_t z4 = tmp1 + tmp3;
        int64_t z5 = (z3 + z4) * FIX_1_175875602;
        tmp0 *= FIX_0_298631336;
        tmp1 *= FIX_2_053119869;
        tmp2 *= FIX_3_072711026;
        tmp3 *= FIX_1_501321110;
        z1 *= -FIX_0_899976223;
        z2 *= -FIX_2_562915447;
        z3 = z3 * -FIX_1_961570560 + z5;
        z4 = z4 * -FIX_0_390180644 + z5;
        tmp0 += z1 + z3;
        tmp1 += z2 + z4;
        tmp2 += z2 + z3;
        tmp3 += z1 + z4;

        const int shift = kConstBits - kPass1Bits;
        ws[0] = int(descale(tmp10 + tmp3, shift));
        ws[56] = int(descale(tmp10 - tmp3, shift));
        ws[8] = int(descale(tmp11 + tmp2, shift));
        ws[48] = int(descale(tmp11 - tmp2, shift));
        ws[16] = int(descale(tmp12 + tmp1, shift));
        ws[40] = int(descale(tmp12 - tmp1, shift));
        ws[24] = int(descale(tmp13 + tmp0, shift));
        ws[32] = int(descale(tmp13 - tmp0, shift));
    }
    // Pass 2: rows, descaled by 8 * 2^kPass1Bits and level-shifted by the range limit.
    const int shift = kConstBits + kPass1Bits + 3;
    for (int row = 0; row < 8; ++row) {
        const int* ws = workspace + row * 8;
        stbi_uc* o = out + row * out_stride;
        if (ws[1] == 0 && ws[2] == 0 && ws[3] == 0 && ws[4] == 0 && ws[5] == 0 && ws[6] == 0 &&
            ws[7] == 0) {
            uint8_t dc = idct_range_limit(descale(ws[0], kPass1Bits + 3));
            for (int c = 0; c < 8; ++c) o[c] = dc;
            continue;
        }
        int64_t z2 = ws[2], z3 = ws[6];
        int64_t z1 = (z2 + z3) * FIX_0_541196100;
        int64_t tmp2 = z1 + z3 * -FIX_1_847759065;
        int64_t tmp3 = z1 + z2 * FIX_0_765366865;
        int64_t tmp0 = (int64_t(ws[0]) + ws[4]) * (int64_t(1) << kConstBits);
        int64_t tmp1 = (int64_t(ws[0]) - ws[4]) * (int64_t(1) << kConstBits);
        int64_t tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3;
        int64_t tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;

        tmp0 = ws[7];
        tmp1 = ws[5];
        tmp2 = ws[3];
        tmp3 = ws[1];
        z1 = tmp0 + tmp3;
        z2 = tmp1 + tmp2;
        z3 = tmp0 + tmp2;
        int64_t z4 = tmp1 + tmp3;
        int64_t z5 = (z3 + z4) * FIX_1_175875602;
        tmp0 *= FIX_0_298631336;
        tmp1 *= FIX_2_053119869;
        tmp2 *= FIX_3_072711026;
        tmp3 *= FIX_1_501321110;
        z1 *= -FIX_0_899976223;
        z2 *= -FIX_2_562915447;
        z3 = z3 * -FIX_1_961570560 + z5;
        z4 = z4 * -FIX_0_390180644 + z5;
        tmp0 += z1 + z3;
        tmp1 += z2 + z4;
        tmp2 += z2 + z3;
        tmp3 += z1 + z4;

        o[0] = idct_range_limit(descale(tmp10 + tmp3, shift));
        o[7] = idct_range_limit(descale(tmp10 - tmp3, shift));
        o[1] = idct_range_limit(descale(tmp11 + tmp2, shift));
        o[6] = idct_range_limit(descale(tmp11 - tmp2, shift));
        o[2] = idct_range_limit(descale(tmp12 + tmp1, shift));
        o[5] = idct_range_limit(descale(tmp12 - tmp1, shift));
        o[3] = idct_range_limit(descale(tmp13 + tmp0, shift));
        o[4] = idct_range_limit(descale(tmp13 - tmp0, shift));
    }
}

// ---------------------------------------------------------------- upsampling (jdsample.c)

// One decoded component: `width` x `height` real samples in a plane with `stride` bytes per
// row, to be enlarged `h_factor` x `v_factor` times to the full image size.
struct ComponentPlane {
    const uint8_t* data;
    int stride, width, height;
    int h_factor, v_factor;

    const uint8_t* row(int r) const { return data + size_t(r) * stride; }
};

// Writes full-resolution row `y` of the component into out[0 .. width * h_factor).
void upsample_row(const ComponentPlane& c, int y, uint8_t* out, int* colsum) {
    const int w = c.width;
    const int in_row = y / c.v_factor;
    const uint8_t* near = c.row(in_row);
    // The other row a vertical triangle filter mixes in: above for the upper output row of a
    // pair, below for the lower one; the image's first and last rows stand in at the edges.
    const bool upper = (y % 2) == 0;
    const uint8_t* far = c.row(upper ? (in_row > 0 ? in_row - 1 : 0)
                                     : (in_row + 1 < c.height ? in_row + 1 : c.height - 1));

    if (c.h_factor == 1 && c.v_factor == 1) {
        for (int x = 0; x < w; ++x) out[x] = near[x];
    } else if (c.h_factor == 2 && c.v_factor == 1 && w > 2) {  // h2v1_fancy_upsample
        out[0] = near[0];
        out[1] = uint8_t((near[0] * 3 + near[1] + 2) >> 2);
        for (int x = 1; x < w - 1; ++x) {
            int v = near[x] * 3;
            out[2 * x] = uint8_t((v + near[x - 1] + 1) >> 2);
            out[2 * x + 1] = uint8_t((v + near[x + 1] + 2) >> 2);
        }
        out[2 * w - 2] = uint8_t((near[w - 1] * 3 + near[w - 2] + 1) >> 2);
        out[2 * w - 1] = near[w - 1];
    } else if (c.h_factor == 1 && c.v_factor == 2) {  // h1v2_fancy_upsample
        const int bias = upper ? 1 : 2;
        for (int x = 0; x < w; ++x) out[x] = uint8_t((near[x] * 3 + far[x] + bias) >> 2);
    } else if (c.h_factor == 2 && c.v_factor == 2 && w > 2) {  // h2v2_fancy_upsample
        for (int x = 0; x < w; ++x) colsum[x] = near[x] * 3 + far[x];
        out[0] = uint8_t((colsum[0] * 4 + 8) >> 4);
        out[1] = uint8_t((colsum[0] * 3 + colsum[1] + 7) >> 4);
        for (int x = 1; x < w - 1; ++x) {
            out[2 * x] = uint8_t((colsum[x] * 3 + colsum[x - 1] + 8) >> 4);
            out[2 * x + 1] = uint8_t((colsum[x] * 3 + colsum[x + 1] + 7) >> 4);
        }
        out[2 * w - 2] = uint8_t((colsum[w - 1] * 3 + colsum[w - 2] + 8) >> 4);
        out[2 * w - 1] = uint8_t((colsum[w - 1] * 4 + 7) >> 4);
    } else {  // h2v1_upsample, h2v2_upsample, int_upsample: replication
        for (int x = 0; x < w; ++x)
            for (int k = 0; k < c.h_factor; ++k) out[x * c.h_factor + k] = near[x];
    }
}

// ---------------------------------------------------------------- YCbCr -> RGB (jdcolor.c)

struct YccTables {
    int cr_r[256], cb_b[256];
    int64_t cr_g[256], cb_g[256];

    YccTables() {
        const int scale_bits = 16;
        const int64_t one_half = int64_t(1) << (scale_bits - 1);
        auto fix = [](double x) { return int64_t(x * (1 << 16) + 0.5); };
        for (int i = 0; i < 256; ++i) {
            int64_t x = i - 128;
            cr_r[i] = int((fix(1.40200) * x + one_half) >> scale_bits);
            cb_b[i] = int((fix(1.77200) * x + one_half) >> scale_bits);
            cr_g[i] = -fix(0.71414) * x;
            cb_g[i] = -fix(0.34414) * x + one_half;
        }
    }
};

inline uint8_t clamp255(int v) { return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v); }

// ---------------------------------------------------------------- decoding driver

struct JpegDecoder {
    stbi__context context;
    stbi__jpeg* jpeg = nullptr;

    JpegDecoder(const uint8_t* data, size_t size) {
        stbi__start_mem(&context, data, int(size));
        jpeg = static_cast<stbi__jpeg*>(stbi__malloc(sizeof(stbi__jpeg)));
        if (!jpeg) return;
        // stb_image leaves the struct uninitialised; a scan that names a Huffman table the file
        // never defined would then decode with garbage tables (out-of-bounds reads). Empty
        // tables (no fast entries, no codes below the sentinel) make such a scan fail with
        // "bad huffman code" instead, as libjpeg refuses it.
        std::memset(jpeg, 0, sizeof(stbi__jpeg));
        for (stbi__huffman* h : {jpeg->huff_dc, jpeg->huff_ac}) {
            for (int t = 0; t < 4; ++t) {
                std::memset(h[t].fast, 255, sizeof h[t].fast);
                h[t].maxcode[17] = 0xffffffff;  // the search's sentinel, as stbi__build_huffman sets it
            }
        }
        jpeg->s = &context;
        jpeg->s->img_n = 0;  // makes stbi__cleanup_jpeg safe before the frame header is read
        stbi__setup_jpeg(jpeg);
        jpeg->idct_block_kernel = idct_islow;
    }
    ~JpegDecoder() {
        if (!jpeg) return;
        stbi__cleanup_jpeg(jpeg);
        STBI_FREE(jpeg);
    }
    JpegDecoder(const JpegDecoder&) = delete;
    JpegDecoder& operator=(const JpegDecoder&) = delete;
};

// stb_image 2.27 trusts the code counts of a DHT segment: counts summing to more than 256
// overflow its Huffman table arrays. This looks at the segment stb_image is about to parse
// (memory contexts read straight from img_buffer) and refuses such a table first.
bool huffman_counts_valid(const stbi__context& s) {
    const stbi_uc* p = s.img_buffer;
    const stbi_uc* end = s.img_buffer_end;
    if (end - p < 2) return true;  // stb_image reads zeros past the end: no counts
    long remaining = long((p[0] << 8) | p[1]) - 2;
    p += 2;
    while (remaining > 0 && p < end) {
        int n = 0;  // p[0] is the table class and id, p[1..16] the code counts
        for (int i = 1; i <= 16 && i < end - p; ++i) n += p[i];
        if (n > 256) return false;
        if (end - p < 17 + n) return true;
        p += 17 + n;
        remaining -= 17 + n;
    }
    return true;
}

int process_marker_checked(stbi__jpeg* z, int m) {
    if (m == 0xC4 && !huffman_counts_valid(*z->s))
        return stbi__err("bad DHT header", "Corrupt JPEG");
    return stbi__process_marker(z, m);
}

// stbi__decode_jpeg_header and stbi__decode_jpeg_image (stb_image 2.27) with every marker
// going through process_marker_checked.
int decode_jpeg_header_checked(stbi__jpeg* z) {
    z->jfif = 0;
    z->app14_color_transform = -1;  // valid values are 0,1,2
    z->marker = STBI__MARKER_none;  // initialize cached marker to empty
    int m = stbi__get_marker(z);
    if (!stbi__SOI(m)) return stbi__err("no SOI", "Corrupt JPEG");
    m = stbi__get_marker(z);
    while (!stbi__SOF(m)) {
        if (!process_marker_checked(z, m)) return 0;
        m = stbi__get_marker(z);
        while (m == STBI__MARKER_none) {
            // some files have extra padding after their blocks, so ok, we'll scan
            if (stbi__at_eof(z->s)) return stbi__err("no SOF", "Corrupt JPEG");
            m = stbi__get_marker(z);
        }
    }
    z->progressive = stbi__SOF_progressive(m);
    return stbi__process_frame_header(z, STBI__SCAN_load);
}

// Progressive encoders write about 10 scans; libjpeg-turbo suggests limits of a few hundred.
constexpr int kMaxScans = 256;

int decode_jpeg_image_checked(stbi__jpeg* j) {
    for (int m = 0; m < 4; m++) {
        j->img_comp[m].raw_data = nullptr;
        j->img_comp[m].raw_coeff = nullptr;
    }
    j->restart_interval = 0;
    if (!decode_jpeg_header_checked(j)) return 0;
    // stb_image allocates the sample and coefficient planes uninitialised; a file whose scans
    // leave blocks undecoded would show whatever memory held. Start from zeros instead.
    for (int c = 0; c < j->s->img_n; ++c) {
        const size_t samples = size_t(j->img_comp[c].w2) * j->img_comp[c].h2;
        std::memset(j->img_comp[c].raw_data, 0, samples + 15);
        if (j->img_comp[c].raw_coeff) std::memset(j->img_comp[c].raw_coeff, 0, samples * 2 + 15);
    }
    int m = stbi__get_marker(j);
    int scans = 0;
    while (!stbi__EOI(m)) {
        if (stbi__SOS(m)) {
            // Each scan visits every block of its components; a small file can hold many.
            if (++scans > kMaxScans) return stbi__err("too many scans", "Corrupt JPEG");
            if (!stbi__process_scan_header(j)) return 0;
            if (!stbi__parse_entropy_coded_data(j)) return 0;
            if (j->marker == STBI__MARKER_none) {
                // handle 0s at the end of image data from IP Kamera 9060
                while (!stbi__at_eof(j->s)) {
                    int x = stbi__get8(j->s);
                    if (x == 255) {
                        j->marker = stbi__get8(j->s);
                        break;
                    }
                }
                // if we reach eof without hitting a marker, stbi__get_marker() below will fail
            }
        } else if (stbi__DNL(m)) {
            int Ld = stbi__get16be(j->s);
            stbi__uint32 NL = stbi__get16be(j->s);
            if (Ld != 4) return stbi__err("bad DNL len", "Corrupt JPEG");
            if (NL != j->s->img_y) return stbi__err("bad DNL height", "Corrupt JPEG");
        } else {
            if (!process_marker_checked(j, m)) return 0;
        }
        m = stbi__get_marker(j);
    }
    if (j->progressive) stbi__jpeg_finish(j);
    return 1;
}

// The colour space libjpeg assumes for a 3-component file (jdapimin.c default_decompress_parms).
bool components_are_rgb(const stbi__jpeg& j) {
    if (j.jfif) return false;
    if (j.app14_color_transform >= 0) return j.app14_color_transform == 0;
    return j.img_comp[0].id == 'R' && j.img_comp[1].id == 'G' && j.img_comp[2].id == 'B';
}

}  // namespace

// Declared in image.cpp, its only caller.
RgbImage decode_jpeg_like_libjpeg(const uint8_t* data, size_t size, const std::string& name) {
    JpegDecoder decoder(data, size);
    if (!decoder.jpeg) fail(name, "out of memory decoding JPEG");
    stbi__jpeg& j = *decoder.jpeg;
    int decoded = 0;
    t_active_decoder = &j;
    try {
        decoded = decode_jpeg_image_checked(&j);
    } catch (const EntropyDataEnded&) {
        t_active_decoder = nullptr;
        fail(name, "corrupt or truncated JPEG (image data ends early)");
    }
    t_active_decoder = nullptr;
    if (!decoded) {
        const char* reason = stbi_failure_reason();
        fail(name, "corrupt or truncated JPEG (", reason && *reason ? reason : "unreadable data", ")");
    }

    const int n_components = j.s->img_n;
    if (n_components == 4) fail(name, "CMYK/YCCK JPEG is not supported (convert it to RGB)");
    if (n_components != 1 && n_components != 3)
        fail(name, "unsupported JPEG with ", n_components, " components");

    RgbImage image;
    image.width = int(j.s->img_x);
    image.height = int(j.s->img_y);
    image.pixels.resize(size_t(image.width) * image.height * 3);

    ComponentPlane planes[3];
    int widest = 0;
    for (int k = 0; k < n_components; ++k) {
        const auto& c = j.img_comp[k];
        planes[k] = {c.data, c.w2, c.x, c.y, j.img_h_max / c.h, j.img_v_max / c.v};
        if (c.x * planes[k].h_factor > widest) widest = c.x * planes[k].h_factor;
    }
    // Upsampled rows, each as wide as the padded component times its factor (>= image width).
    std::vector<uint8_t> rows(size_t(widest) * n_components);
    std::vector<int> colsum(static_cast<size_t>(widest));
    static const YccTables ycc;
    const bool is_rgb = n_components == 3 && components_are_rgb(j);

    for (int y = 0; y < image.height; ++y) {
        for (int k = 0; k < n_components; ++k)
            upsample_row(planes[k], y, &rows[size_t(k) * widest], colsum.data());
        uint8_t* out = &image.pixels[size_t(y) * image.width * 3];
        const uint8_t* c0 = &rows[0];
        if (n_components == 1) {
            for (int x = 0; x < image.width; ++x) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = c0[x];
            continue;
        }
        const uint8_t* c1 = &rows[size_t(widest)];
        const uint8_t* c2 = &rows[size_t(widest) * 2];
        if (is_rgb) {
            for (int x = 0; x < image.width; ++x) {
                out[3 * x] = c0[x];
                out[3 * x + 1] = c1[x];
                out[3 * x + 2] = c2[x];
            }
            continue;
        }
        for (int x = 0; x < image.width; ++x) {
            int luma = c0[x], cb = c1[x], cr = c2[x];
            out[3 * x] = clamp255(luma + ycc.cr_r[cr]);
            out[3 * x + 1] = clamp255(luma + int((ycc.cb_g[cb] + ycc.cr_g[cr]) >> 16));
            out[3 * x + 2] = clamp255(luma + ycc.cb_b[cb]);
        }
    }
    return image;
}

}  // namespace fastvlm
