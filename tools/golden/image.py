#!/usr/bin/env python3
"""Golden fixtures for image decoding and FastVLM preprocessing.

Run from the repository root:  python tools/golden/image.py

Writes
  tests/data/images/*             small synthetic images, one per format/variant (deterministic)
  tests/golden/image/index.json   what each image decodes to and where its expected outputs are
  tests/golden/image/*.rgb        expected uint8 RGB outputs ([S, S, 3] or [n_samples, 3])
  tests/golden/image/rescale_table.f32   transformers' rescale of 0..255 (float32, 256 values)
  tests/fuzz/seeds/fuzz_image/*   a few of the synthetic images as fuzzing seeds

The reference path is ml-fastvlm's predict.py + llava.mm_utils.process_images ("pad"):
  Image.open(path).convert("RGB") -> expand2square(bg = black) -> CLIPImageProcessor
  (shortest_edge = crop = S, BICUBIC, rescale 1/255, mean 0, std 1).
The checkpoint's pins (transformers 4.48) use the slow, PIL-based CLIPImageProcessor; in
transformers 5.x CLIPImageProcessor resizes with torchvision instead (it differs from PIL by up
to 1/255), and the PIL path lives on as CLIPImageProcessorPil. The outputs here are made with
PIL directly, and checked to equal CLIPImageProcessorPil's output for every image.

Expected outputs are stored as uint8 (before the exact, separately tested rescale):
  - every synthetic image: the full S x S result for S = 64 and 37, a 1024-pixel sample of the
    1024 x 1024 result, and a checksum of the decoded RGB image;
  - every photo in ../shared/data/images: a 4096-pixel sample of the decoded image and of the
    1024 x 1024 result, and the checksum (no image data is copied).
Sample positions (C++ twin in tests/test_image.cpp): p_i = (i * 2654435761) mod (W * H),
pixel (x, y) = (p_i mod W, p_i div W), i = 0 .. n - 1.
Checksum: sum over bytes b_i of the row-major RGB array of b_i * ((i + 1) * 0x9E3779B97F4A7C15),
all modulo 2^64.
"""
import io
import json
import os
import struct
import sys
import zlib

# Sibling scripts here (e.g. safetensors.py) must not shadow the packages transformers imports.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != _here]

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

DATA_DIR = "tests/data/images"
GOLDEN_DIR = "tests/golden/image"
PHOTO_DIR = "../shared/data/images"
FUZZ_SEED_DIR = "tests/fuzz/seeds/fuzz_image"
FUZZ_SEEDS = ["jpeg_420_3x2.jpg", "jpeg_422_5x4.jpg", "jpeg_progressive_420_37x61.jpg",
              "png_palette2bit_61x37.png", "png_interlaced_gray16_61x37.png",
              "bmp_16bit_61x37.bmp", "gif_small_frame_transparency_23x37.gif"]
FULL_SIZES = (64, 37)
SAMPLE_SIDE = 1024
N_SAMPLES_SYNTHETIC = 1024  # pixels sampled from each synthetic image's 1024 x 1024 result
N_SAMPLES_PHOTO = 4096      # pixels sampled from each photo, decoded and at 1024 x 1024


# ---------------------------------------------------------------- reference path

def expand2square(pil_img, background_color):
    """llava/mm_utils.py (ml-fastvlm @ 592b4ad), verbatim."""
    width, height = pil_img.size
    if width == height:
        return pil_img
    elif width > height:
        result = Image.new(pil_img.mode, (width, width), background_color)
        result.paste(pil_img, (0, (width - height) // 2))
        return result
    else:
        result = Image.new(pil_img.mode, (height, height), background_color)
        result.paste(pil_img, ((height - width) // 2, 0))
        return result


def reference_rgb(path):
    return Image.open(path).convert("RGB")


def reference_resized(rgb, size):
    square = expand2square(rgb, tuple(int(x * 255) for x in (0.0, 0.0, 0.0)))
    return np.asarray(square.resize((size, size), Image.BICUBIC))


_processors = {}


def check_against_transformers(rgb, size, resized):
    """The slow (PIL) CLIPImageProcessor as FastVLM configures it must give the same floats."""
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
    if size not in _processors:
        _processors[size] = CLIPImageProcessorPil(
            size={"shortest_edge": size}, crop_size={"height": size, "width": size},
            image_mean=[0.0, 0.0, 0.0], image_std=[1.0, 1.0, 1.0])
    square = expand2square(rgb, (0, 0, 0))
    pixel_values = _processors[size](images=square, return_tensors="np")["pixel_values"][0]
    expected = (resized.astype(np.float64) * (1 / 255)).astype(np.float32).transpose(2, 0, 1)
    if not np.array_equal(pixel_values, expected):
        sys.exit(f"CLIPImageProcessorPil disagrees with PIL resize at size {size}")


def sample_positions(width, height, n):
    i = np.arange(n, dtype=np.uint64)
    p = (i * np.uint64(2654435761)) % np.uint64(width * height)
    return (p % np.uint64(width)).astype(np.int64), (p // np.uint64(width)).astype(np.int64)


def checksum(rgb_array):
    data = np.ascontiguousarray(rgb_array, dtype=np.uint8).reshape(-1).astype(np.uint64)
    weights = np.arange(1, data.size + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return "%016x" % int(np.sum(data * weights, dtype=np.uint64))


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- synthetic content

def pattern(width, height, seed):
    """Gradients, a checkerboard with sharp edges, and noise: exercises every resize tap."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:height, 0:width]
    r = x * 255 // max(width - 1, 1)
    g = y * 255 // max(height - 1, 1)
    b = ((x // 4 + y // 3) % 2) * 200 + 20
    img = np.stack([r, g, b], axis=-1) + rng.randint(-24, 25, size=(height, width, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def pil_bytes(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


# ---------------------------------------------------------------- hand-made PNG (16-bit, Adam7)

def png_filter_rows(raw_rows, bpp):
    """Filters each row with type (row index mod 5), so every PNG filter is exercised."""
    out = bytearray()
    prev = bytes(len(raw_rows[0])) if raw_rows else b""
    for index, row in enumerate(raw_rows):
        kind = index % 5
        filtered = bytearray(len(row))
        for i, value in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 0:
                predictor = 0
            elif kind == 1:
                predictor = a
            elif kind == 2:
                predictor = b
            elif kind == 3:
                predictor = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            filtered[i] = (value - predictor) & 0xFF
        out.append(kind)
        out += filtered
        prev = row
    return bytes(out)


def png_rows(samples, bit_depth):
    """samples: [h, w, channels] integers -> list of packed scanlines."""
    h, w, channels = samples.shape
    rows = []
    for y in range(h):
        if bit_depth == 16:
            rows.append(samples[y].astype(">u2").tobytes())
        elif bit_depth == 8:
            rows.append(samples[y].astype(np.uint8).tobytes())
        else:
            bits = "".join(format(int(v), "0%db" % bit_depth) for v in samples[y].reshape(-1))
            bits += "0" * (-len(bits) % 8)
            rows.append(bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8)))
    return rows


def png_bytes(samples, color_type, bit_depth, interlace=False, palette=None):
    h, w, channels = samples.shape
    bpp = max(1, channels * bit_depth // 8)

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    if not interlace:
        raw = png_filter_rows(png_rows(samples, bit_depth), bpp)
    else:
        raw = b""
        for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                               (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
            sub = samples[y0::dy, x0::dx]
            if sub.size:
                raw += png_filter_rows(png_rows(sub, bit_depth), bpp)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if palette is not None:
        out += chunk(b"PLTE", bytes(palette))
    return out + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


# ---------------------------------------------------------------- hand-made BMP

def bmp_bytes(width, height, bits, pixel_rows, compression=0, palette=b"", top_down=False):
    """pixel_rows: list of bytes, bottom row first unless top_down (unpadded for RLE)."""
    if compression == 0:
        stride = ((width * bits + 31) // 32) * 4
        data = b"".join(r + bytes(stride - len(r)) for r in pixel_rows)
    else:
        data = b"".join(pixel_rows)
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, -height if top_down else height, 1, bits,
                       compression, len(data), 2835, 2835, len(palette) // 4, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + info + palette + data


# ---------------------------------------------------------------- JPEG patching

def jpeg_segments(data):
    """(marker, start, end) of each marker segment up to SOS."""
    pos, out = 2, []
    while pos < len(data):
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        out.append((marker, pos, pos + 2 + length))
        if marker == 0xDA:
            break
        pos += 2 + length
    return out


def jpeg_transpose_sampling(data, new_width, new_height, new_factors):
    """Rewrites SOF0 with other dimensions and sampling factors (same MCU count and blocks per
    MCU): a valid file with scrambled content, used to reach 4:4:0 and 4:1:1 sampling."""
    data = bytearray(data)
    for marker, start, _ in jpeg_segments(data):
        if marker == 0xC0:
            struct.pack_into(">HH", data, start + 5, new_height, new_width)
            for k, (h, v) in enumerate(new_factors):
                data[start + 10 + 3 * k + 1] = (h << 4) | v
    return bytes(data)


def jpeg_rgb_variant(data, adobe):
    """Drops the JFIF APP0; either adds an Adobe APP14 with transform 0 or renames the
    components 'R','G','B': both make libjpeg treat the samples as RGB (no YCbCr conversion)."""
    data = bytearray(data)
    segments = jpeg_segments(data)
    app0 = [s for s in segments if s[0] == 0xE0][0]
    if not adobe:
        for marker, start, _ in segments:
            if marker == 0xC0:
                for k, cid in enumerate(b"RGB"):
                    data[start + 10 + 3 * k] = cid
            if marker == 0xDA:
                for k, cid in enumerate(b"RGB"):
                    data[start + 5 + 2 * k] = cid
        return bytes(data[:app0[1]] + data[app0[2]:])
    app14 = b"\xff\xee" + struct.pack(">H", 14) + b"Adobe" + struct.pack(">HHHB", 100, 0, 0, 0)
    return bytes(data[:app0[1]]) + app14 + bytes(data[app0[2]:])


# ---------------------------------------------------------------- GIF patching

def gif_with_small_frame(data, screen_w, screen_h, left, top):
    """Enlarges the logical screen around the first frame."""
    data = bytearray(data)
    struct.pack_into("<HH", data, 6, screen_w, screen_h)
    pos = data.index(b"\x2c", 13)
    struct.pack_into("<HH", data, pos + 1, left, top)
    return bytes(data)


# ---------------------------------------------------------------- the synthetic set

def synthetic_images():
    """name -> file bytes. Every one is readable by PIL and must be decoded like PIL does."""
    images = {}
    wide, tall = pattern(61, 37, 1), pattern(37, 61, 2)
    rgb_wide, rgb_tall = Image.fromarray(wide), Image.fromarray(tall)

    # JPEG
    images["jpeg_420_61x37.jpg"] = pil_bytes(rgb_wide, "JPEG", quality=90, subsampling=2)
    images["jpeg_422_37x61.jpg"] = pil_bytes(rgb_tall, "JPEG", quality=85, subsampling=1)
    images["jpeg_444_61x37.jpg"] = pil_bytes(rgb_wide, "JPEG", quality=95, subsampling=0)
    images["jpeg_progressive_420_37x61.jpg"] = pil_bytes(
        rgb_tall, "JPEG", quality=80, subsampling=2, progressive=True)
    images["jpeg_progressive_444_61x37.jpg"] = pil_bytes(
        rgb_wide, "JPEG", quality=92, subsampling=0, progressive=True)
    images["jpeg_gray_61x37.jpg"] = pil_bytes(rgb_wide.convert("L"), "JPEG", quality=90)
    images["jpeg_restart_420_61x37.jpg"] = pil_bytes(
        rgb_wide, "JPEG", quality=75, subsampling=2, restart_marker_blocks=1)
    images["jpeg_optimized_420_37x61.jpg"] = pil_bytes(
        rgb_tall, "JPEG", quality=70, subsampling=2, optimize=True)
    images["jpeg_420_1x1.jpg"] = pil_bytes(Image.fromarray(pattern(1, 1, 3)), "JPEG", subsampling=2)
    images["jpeg_420_3x2.jpg"] = pil_bytes(Image.fromarray(pattern(3, 2, 4)), "JPEG", subsampling=2)
    images["jpeg_420_2x3.jpg"] = pil_bytes(Image.fromarray(pattern(2, 3, 5)), "JPEG", subsampling=2)
    images["jpeg_422_5x4.jpg"] = pil_bytes(Image.fromarray(pattern(5, 4, 6)), "JPEG", subsampling=1)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display; the reference ignores it
    images["jpeg_exif_orientation6_61x37.jpg"] = pil_bytes(rgb_wide, "JPEG", quality=90, exif=exif)
    # 4:2:2 (Y 2x1) re-declared as 4:4:0 (Y 1x2): 61x37 -> 37x61, same MCU count.
    images["jpeg_440_37x61.jpg"] = jpeg_transpose_sampling(
        pil_bytes(rgb_wide, "JPEG", quality=90, subsampling=1), 37, 61, [(1, 2), (1, 1), (1, 1)])
    # 4:2:0 (Y 2x2) of 32x32 re-declared as 4:1:1 (Y 4x1) of 61x13: 4 MCUs either way.
    images["jpeg_411_61x13.jpg"] = jpeg_transpose_sampling(
        pil_bytes(Image.fromarray(pattern(32, 32, 7)), "JPEG", quality=90, subsampling=2),
        61, 13, [(4, 1), (1, 1), (1, 1)])
    ycc444 = pil_bytes(rgb_wide, "JPEG", quality=90, subsampling=0)
    images["jpeg_rgb_ids_61x37.jpg"] = jpeg_rgb_variant(ycc444, adobe=False)
    images["jpeg_adobe_rgb_61x37.jpg"] = jpeg_rgb_variant(ycc444, adobe=True)

    # PNG
    images["png_rgb_61x37.png"] = pil_bytes(rgb_wide, "PNG")
    alpha = np.arange(37 * 61).reshape(61, 37, 1) % 256
    images["png_rgba_37x61.png"] = pil_bytes(
        Image.fromarray(np.concatenate([tall, alpha.astype(np.uint8)], axis=-1), "RGBA"), "PNG")
    images["png_gray_61x37.png"] = pil_bytes(rgb_wide.convert("L"), "PNG")
    images["png_gray_alpha_37x61.png"] = pil_bytes(rgb_tall.convert("LA"), "PNG")
    images["png_palette_61x37.png"] = pil_bytes(
        rgb_wide.quantize(colors=50, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE),
        "PNG")
    images["png_palette_transparency_37x61.png"] = pil_bytes(
        rgb_tall.quantize(colors=16, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE),
        "PNG", transparency=3)
    images["png_rgb_colorkey_61x37.png"] = pil_bytes(
        rgb_wide, "PNG", transparency=tuple(int(v) for v in wide[0, 0]))
    images["png_1bit_61x37.png"] = pil_bytes(rgb_wide.convert("1"), "PNG")
    gray16 = (pattern(61, 37, 8)[:, :, :1].astype(np.uint32) * 257 // 64)  # 0 .. 1023
    images["png_gray16_61x37.png"] = png_bytes(gray16, 0, 16)
    rgb16 = pattern(37, 61, 9).astype(np.uint32) * 257 - np.random.RandomState(10).randint(
        0, 200, size=(61, 37, 3))
    images["png_rgb16_37x61.png"] = png_bytes(np.clip(rgb16, 0, 65535), 2, 16)
    rgba16 = np.concatenate([np.clip(rgb16, 0, 65535), (alpha * 200).astype(np.uint32)], axis=-1)
    images["png_rgba16_37x61.png"] = png_bytes(rgba16, 6, 16)
    images["png_gray_alpha16_37x61.png"] = png_bytes(rgba16[:, :, 1::2], 4, 16)
    images["png_gray4_61x37.png"] = png_bytes(wide[:, :, :1] // 16, 0, 4)
    palette = pattern(16, 1, 11).reshape(-1)
    images["png_palette2bit_61x37.png"] = png_bytes(wide[:, :, :1] // 64, 3, 2, palette=palette[:12])
    images["png_interlaced_rgb_37x61.png"] = png_bytes(tall, 2, 8, interlace=True)
    images["png_interlaced_gray16_61x37.png"] = png_bytes(gray16, 0, 16, interlace=True)

    # BMP
    images["bmp_24bit_61x37.bmp"] = pil_bytes(rgb_wide, "BMP")
    images["bmp_32bit_37x61.bmp"] = pil_bytes(Image.fromarray(
        np.concatenate([tall, alpha.astype(np.uint8)], axis=-1), "RGBA"), "BMP")
    images["bmp_8bit_palette_61x37.bmp"] = pil_bytes(
        rgb_wide.quantize(colors=40, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE),
        "BMP")
    images["bmp_1bit_37x61.bmp"] = pil_bytes(rgb_tall.convert("1"), "BMP")
    images["bmp_top_down_61x37.bmp"] = bmp_bytes(
        61, 37, 24, [row[:, ::-1].tobytes() for row in wide], top_down=True)
    images["bmp_16bit_61x37.bmp"] = bmp_bytes(61, 37, 16, [
        np.array([(int(r) >> 3 << 10) | (int(g) >> 3 << 5) | (int(b) >> 3) for r, g, b in row],
                 dtype="<u2").tobytes() for row in wide[::-1]])

    # GIF
    images["gif_61x37.gif"] = pil_bytes(rgb_wide.quantize(colors=64, dither=Image.Dither.NONE), "GIF")
    images["gif_transparency_37x61.gif"] = pil_bytes(
        rgb_tall.quantize(colors=32, dither=Image.Dither.NONE), "GIF", transparency=5)
    images["gif_gray_61x37.gif"] = pil_bytes(rgb_wide.convert("L"), "GIF")
    frames = [rgb_wide.quantize(colors=32, dither=Image.Dither.NONE),
              Image.fromarray(255 - wide).quantize(colors=32, dither=Image.Dither.NONE)]
    images["gif_animated_61x37.gif"] = pil_bytes(frames[0], "GIF", save_all=True,
                                                  append_images=frames[1:], duration=100)
    small = pil_bytes(Image.fromarray(pattern(20, 9, 12)).quantize(colors=8, dither=Image.Dither.NONE), "GIF")
    images["gif_small_frame_37x23.gif"] = gif_with_small_frame(small, 37, 23, 5, 7)
    small_t = pil_bytes(Image.fromarray(pattern(20, 9, 13)).quantize(colors=8, dither=Image.Dither.NONE),
                        "GIF", transparency=2)
    images["gif_small_frame_transparency_23x37.gif"] = gif_with_small_frame(small_t, 23, 37, 1, 20)
    return images


def bad_images():
    """Inputs that must be refused (stored as files so that the tests need no generator)."""
    tiny = Image.fromarray(pattern(8, 8, 20))
    bad = {
        "bad_cmyk.jpg": pil_bytes(tiny.convert("CMYK"), "JPEG"),
        "bad_unsupported.tiff": pil_bytes(tiny, "TIFF"),
        "bad_unsupported.webp": pil_bytes(tiny, "WEBP", lossless=True),
        "bad_rle8.bmp": bmp_bytes(4, 2, 8, [b"\x04\x01\x00\x00", b"\x04\x02\x00\x01"],
                                  compression=1, palette=bytes(range(16))),
    }
    return bad


def main():
    os.makedirs(DATA_DIR, exist_ok=True)
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    for name in os.listdir(GOLDEN_DIR):
        os.remove(os.path.join(GOLDEN_DIR, name))
    for name in os.listdir(DATA_DIR):
        os.remove(os.path.join(DATA_DIR, name))

    index = {"sample_side": SAMPLE_SIDE, "n_samples_synthetic": N_SAMPLES_SYNTHETIC,
             "n_samples_photo": N_SAMPLES_PHOTO, "full_sizes": list(FULL_SIZES),
             "images": [], "photos": [], "refused": []}

    for name, data in sorted(synthetic_images().items()):
        path = os.path.join(DATA_DIR, name)
        write(path, data)
        rgb = reference_rgb(path)
        entry = {"file": path, "width": rgb.size[0], "height": rgb.size[1],
                 "checksum": checksum(np.asarray(rgb))}
        for size in FULL_SIZES + (SAMPLE_SIDE,):
            resized = reference_resized(rgb, size)
            check_against_transformers(rgb, size, resized)
            if size == SAMPLE_SIDE:
                xs, ys = sample_positions(size, size, N_SAMPLES_SYNTHETIC)
                resized = resized[ys, xs]
            out = "%s.%d%s.rgb" % (name, size, ".sample" if size == SAMPLE_SIDE else "")
            write(os.path.join(GOLDEN_DIR, out), resized.tobytes())
            entry[str(size)] = out
        index["images"].append(entry)

    os.makedirs(FUZZ_SEED_DIR, exist_ok=True)
    for name in os.listdir(FUZZ_SEED_DIR):
        os.remove(os.path.join(FUZZ_SEED_DIR, name))
    for name in FUZZ_SEEDS:
        with open(os.path.join(DATA_DIR, name), "rb") as f:
            write(os.path.join(FUZZ_SEED_DIR, name), f.read())

    for name, data in sorted(bad_images().items()):
        write(os.path.join(DATA_DIR, name), data)
        index["refused"].append(os.path.join(DATA_DIR, name))

    if os.path.isdir(PHOTO_DIR):
        for name in sorted(os.listdir(PHOTO_DIR)):
            if name.endswith(".md"):
                continue
            path = os.path.join(PHOTO_DIR, name)
            rgb = reference_rgb(path)
            decoded = np.asarray(rgb)
            xs, ys = sample_positions(*rgb.size, N_SAMPLES_PHOTO)
            write(os.path.join(GOLDEN_DIR, name + ".decoded.sample.rgb"), decoded[ys, xs].tobytes())
            resized = reference_resized(rgb, SAMPLE_SIDE)
            check_against_transformers(rgb, SAMPLE_SIDE, resized)
            xs, ys = sample_positions(SAMPLE_SIDE, SAMPLE_SIDE, N_SAMPLES_PHOTO)
            write(os.path.join(GOLDEN_DIR, name + ".1024.sample.rgb"), resized[ys, xs].tobytes())
            index["photos"].append({"file": path, "width": rgb.size[0], "height": rgb.size[1],
                                    "checksum": checksum(decoded),
                                    "decoded_sample": name + ".decoded.sample.rgb",
                                    "1024": name + ".1024.sample.rgb"})

    table = (np.arange(256).astype(np.uint8)[None, None, :] * np.ones((3, 1, 1), np.uint8))
    from transformers.image_transforms import rescale
    rescaled = rescale(table, 1 / 255, input_data_format="channels_first")[0, 0]
    write(os.path.join(GOLDEN_DIR, "rescale_table.f32"), rescaled.astype("<f4").tobytes())

    with open(os.path.join(GOLDEN_DIR, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    with open(os.path.join(GOLDEN_DIR, "README.txt"), "w") as f:
        f.write("Made by: python tools/golden/image.py   (from the repository root; pins in\n"
                "tools/golden/requirements.txt). It also writes the synthetic images in\n"
                "tests/data/images/ and the seeds in tests/fuzz/seeds/fuzz_image/.\n"
                "Formats, sample positions and checksum: see the script's docstring.\n")


if __name__ == "__main__":
    main()
