#!/usr/bin/env python3
r"""Writes tokenizer/unicode_tables.cpp from the Unicode Character Database.

Usage (from the repository root, with unicodedata2 from tools/golden/requirements.txt installed):
    python3 tools/gen_unicode_tables.py [UCD_DIR]      # UCD_DIR defaults to /usr/share/unicode

UCD_DIR is Debian's unicode-data package (Unicode 15.0): UnicodeData.txt, PropList.txt,
DerivedNormalizationProps.txt, DerivedAge.txt. The output is committed, so the build never
needs the UCD.

The tables reproduce the tokenizers library (tools/golden/requirements.txt), whose two parts
run on different Unicode versions:
  - its regex engine (Oniguruma) on Unicode 16.0: \p{L} and \p{N} are taken from the Python
    package unicodedata2==16.0.0, because Debian's UCD is 15.0 and Unicode 16.0 added about
    5,000 letters and digits. \s is White_Space, the same in 15.0 and 16.0.
  - its NFC normalizer on Unicode 9.0: combining classes, decompositions, compositions and
    quick-check values are kept only for code points assigned by Unicode 9.0 (DerivedAge.txt).
    Normalization data never changes for an assigned code point, so the 15.0 files restricted
    this way are the 9.0 data.

Tables (see tokenizer/unicode_tables.h for how they are read):
  - per code point property flags (letter L*, number N*, White_Space, NFC_Quick_Check No/Maybe)
    and the canonical combining class, each as a two-level table (code point >> 7 picks a block
    of 128 entries; identical blocks are stored once);
  - full (recursive) canonical decompositions, sorted by code point, into one pool;
  - canonical compositions (decomposition pairs minus Full_Composition_Exclusion), sorted by pair.
Hangul syllables are left out: the code composes and decomposes them algorithmically.
"""
import os
import sys

UCD = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode"
OUT = "tokenizer/unicode_tables.cpp"
N_CODE_POINTS = 0x110000
BLOCK_SHIFT = 7
BLOCK = 1 << BLOCK_SHIFT

# Property flag bits; keep in sync with tokenizer/unicode_tables.h.
FLAG_LETTER = 1
FLAG_NUMBER = 2
FLAG_WHITESPACE = 4
FLAG_NFC_QC_NO = 8
FLAG_NFC_QC_MAYBE = 16

HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3
REGEX_UNICODE_VERSION = "16.0.0"
NORMALIZATION_UNICODE_VERSION = (9, 0)


def ucd_lines(name):
    with open(os.path.join(UCD, name), encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                yield [field.strip() for field in line.split(";")]


def code_point_range(field):
    if ".." in field:
        first, last = field.split("..")
        return range(int(first, 16), int(last, 16) + 1)
    return range(int(field, 16), int(field, 16) + 1)


def read_unicode_data():
    """Combining class and raw canonical decomposition per code point."""
    ccc, decomposition = {}, {}
    range_start = None
    for fields in ucd_lines("UnicodeData.txt"):
        cp, name = int(fields[0], 16), fields[1]
        if name.endswith(", First>"):
            range_start = cp
            continue
        first = range_start if name.endswith(", Last>") else cp
        range_start = None
        for c in range(first, cp + 1):
            if int(fields[3]):
                ccc[c] = int(fields[3])
        if fields[5] and not fields[5].startswith("<"):  # canonical mappings only
            decomposition[cp] = [int(x, 16) for x in fields[5].split()]
    return ccc, decomposition


def assigned_by(version):
    """Code points assigned in Unicode `version` (a (major, minor) pair) or earlier."""
    assigned = set()
    for fields in ucd_lines("DerivedAge.txt"):
        major, minor = (int(x) for x in fields[1].split("."))
        if (major, minor) <= version:
            assigned.update(code_point_range(fields[0]))
    return assigned


def regex_letters_and_numbers():
    """General category L* and N* at the regex engine's Unicode version."""
    import unicodedata2
    if unicodedata2.unidata_version != REGEX_UNICODE_VERSION:
        sys.exit(f"need unicodedata2=={REGEX_UNICODE_VERSION} (Unicode {REGEX_UNICODE_VERSION}), "
                 f"found {unicodedata2.unidata_version}")
    letters, numbers = set(), set()
    for cp in range(N_CODE_POINTS):
        gc = unicodedata2.category(chr(cp))
        if gc[0] == "L":
            letters.add(cp)
        elif gc[0] == "N":
            numbers.add(cp)
    return letters, numbers


def unicode_version():
    with open(os.path.join(UCD, "DerivedNormalizationProps.txt"), encoding="utf-8") as f:
        first = f.readline()  # "# DerivedNormalizationProps-15.0.0.txt"
    return first.split("-")[1].rsplit(".", 1)[0]


def two_level(values, limit, name, ctype):
    """C++ for a two-level table: `<name>_index[cp >> 7]` is a block number into `<name>_blocks`."""
    blocks, index = {}, []
    for start in range(0, limit, BLOCK):
        block = tuple(values[start:start + BLOCK])
        index.append(blocks.setdefault(block, len(blocks)))
    lines = [f"const uint16_t {name}_index[{len(index)}] = {{"]
    lines += wrap(index)
    lines.append("};")
    lines.append(f"const {ctype} {name}_blocks[{len(blocks) * BLOCK}] = {{")
    for block in sorted(blocks, key=blocks.get):
        lines += wrap(block)
    lines.append("};")
    return lines, len(blocks)


def wrap(numbers, width=100):
    lines, line = [], "   "
    for n in numbers:
        item = f" {n},"
        if len(line) + len(item) > width:
            lines.append(line)
            line = "   "
        line += item
    if line.strip():
        lines.append(line)
    return lines


def main():
    ccc, raw_decomposition = read_unicode_data()
    # Normalization data at the normalizer's Unicode version.
    normalization_assigned = assigned_by(NORMALIZATION_UNICODE_VERSION)
    ccc = {cp: c for cp, c in ccc.items() if cp in normalization_assigned}
    raw_decomposition = {cp: d for cp, d in raw_decomposition.items() if cp in normalization_assigned}

    flags = [0] * N_CODE_POINTS
    letters, numbers = regex_letters_and_numbers()
    for cp in letters:
        flags[cp] |= FLAG_LETTER
    for cp in numbers:
        flags[cp] |= FLAG_NUMBER
    for fields in ucd_lines("PropList.txt"):
        if fields[1] == "White_Space":
            for cp in code_point_range(fields[0]):
                flags[cp] |= FLAG_WHITESPACE

    full_exclusion = set()
    for fields in ucd_lines("DerivedNormalizationProps.txt"):
        if fields[1] == "NFC_QC":
            flag = FLAG_NFC_QC_NO if fields[2] == "N" else FLAG_NFC_QC_MAYBE
            for cp in code_point_range(fields[0]):
                if cp in normalization_assigned:
                    flags[cp] |= flag
        elif fields[1] == "Full_Composition_Exclusion":
            full_exclusion.update(code_point_range(fields[0]))

    combining_class = [ccc.get(cp, 0) for cp in range(N_CODE_POINTS)]

    def full_decomposition(cp):
        if cp not in raw_decomposition:
            return [cp]
        return [d for part in raw_decomposition[cp] for d in full_decomposition(part)]

    decompositions = sorted((cp, full_decomposition(cp)) for cp in raw_decomposition)
    compositions = sorted((parts[0], parts[1], cp) for cp, parts in raw_decomposition.items()
                          if len(parts) == 2 and cp not in full_exclusion)
    assert not any(HANGUL_FIRST <= cp <= HANGUL_LAST for cp, _ in decompositions)

    ucd_version = unicode_version()
    normalization_version = "%d.%d" % NORMALIZATION_UNICODE_VERSION
    out = [
        f"// Generated by tools/gen_unicode_tables.py from the Unicode Character Database {ucd_version}",
        f"// (Debian package unicode-data) and unicodedata2 {REGEX_UNICODE_VERSION}. Do not edit; regenerate with:",
        "//     python3 tools/gen_unicode_tables.py /usr/share/unicode   (needs unicodedata2==16.0.0)",
        f"// Letters and numbers are Unicode {REGEX_UNICODE_VERSION}, normalization data Unicode "
        f"{normalization_version}, as in the",
        "// tokenizers library (see the generator for why).",
        '#include "tokenizer/unicode_tables.h"',
        "",
        "namespace fastvlm::unicode::tables {",
        "",
        f'const char regex_unicode_version[] = "{REGEX_UNICODE_VERSION}";',
        f'const char normalization_unicode_version[] = "{normalization_version}";',
        "",
    ]
    # Code points from `indexed` up are all 0 in both tables (planes 4-16 hold only format
    # characters, variation selectors and private use), so the index stops there.
    last_nonzero = max(cp for cp in range(N_CODE_POINTS) if flags[cp] or combining_class[cp])
    indexed = (last_nonzero // BLOCK + 1) * BLOCK
    out += [f"const uint32_t indexed_code_points = 0x{indexed:X};", ""]
    lines, n_flag_blocks = two_level(flags, indexed, "property", "uint8_t")
    out += ["// Property flags (kFlag* in unicode_tables.h)."] + lines
    out += ["", "// Canonical combining class."]
    lines, n_ccc_blocks = two_level(combining_class, indexed, "combining_class", "uint8_t")
    out += lines

    pool = []
    out += ["", f"// Full canonical decompositions of {len(decompositions)} code points "
            "(Hangul syllables are computed).",
            f"const Decomposition decompositions[{len(decompositions)}] = {{"]
    entries = []
    for cp, parts in decompositions:
        entries.append(f"{{0x{cp:X}, {len(pool)}, {len(parts)}}}")
        pool += parts
    out += wrap_items(entries)
    out += ["};", f"const uint32_t decomposition_pool[{len(pool)}] = {{"]
    out += wrap_items([f"0x{cp:X}" for cp in pool])
    out += ["};", "",
            f"// Canonical compositions: (first, second) -> composite, sorted by (first, second).",
            f"const Composition compositions[{len(compositions)}] = {{"]
    out += wrap_items([f"{{0x{a:X}, 0x{b:X}, 0x{c:X}}}" for a, b, c in compositions])
    out += ["};", "",
            f"const uint32_t n_decompositions = {len(decompositions)};",
            f"const uint32_t n_compositions = {len(compositions)};",
            "", "}  // namespace fastvlm::unicode::tables", ""]

    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(out))

    header_counts = {
        "kPropertyBlocks": n_flag_blocks, "kCombiningClassBlocks": n_ccc_blocks,
        "kDecompositions": len(decompositions), "kDecompositionPool": len(pool),
        "kCompositions": len(compositions),
    }
    print(f"wrote {OUT}: " +
          ", ".join(f"{k}={v}" for k, v in header_counts.items()))


def wrap_items(items, width=100):
    lines, line = [], "   "
    for item in items:
        item = f" {item},"
        if len(line) + len(item) > width:
            lines.append(line)
            line = "   "
        line += item
    if line.strip():
        lines.append(line)
    return lines


if __name__ == "__main__":
    main()
