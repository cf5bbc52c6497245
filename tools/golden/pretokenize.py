#!/usr/bin/env python3
"""Golden fixtures for the Qwen2 pre-tokenizer split and the NFC normalizer.

Run from the repository root:  python tools/golden/pretokenize.py
Writes tests/golden/pretokenize/:
  cases.jsonl        one JSON object per line: {"name", "text", "pieces", "nfc"}, where
                     pieces = tokenizers.pre_tokenizers.Split(Regex(R), "isolated") applied to text
                     and nfc = tokenizers.normalizers.NFC() applied to text.
  char_classes.json  what the library's regex and NFC do with every code point, probed one
                     code point at a time (see probe_* below): letter / number / whitespace
                     ranges, the letters the case-insensitive contractions accept, the code points
                     NFC reorders as combining marks, and every code point NFC changes.
Deterministic: hand-written cases plus random strings from a fixed seed.
"""
import json
import os
import random
import sys

from tokenizers import Regex, normalizers, pre_tokenizers

OUT_DIR = "tests/golden/pretokenize"
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
                 r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

split = pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False)
nfc_normalizer = normalizers.NFC()


def pieces(text):
    return [piece for piece, _ in split.pre_tokenize_str(text)]


def nfc(text):
    return nfc_normalizer.normalize_str(text)


def all_code_points():
    return (cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF)  # no surrogates in str


# ------------------------------------------------------------------ hand-written cases

HAND_WRITTEN = [
    # plain text and every alternative of the regex
    ("hello", "Hello world"),
    ("sentence", "The quick brown fox jumps over the lazy dog."),
    ("empty-like single space", " "),
    ("single letter", "a"),
    ("contractions lower", "it's don't we're you've I'm we'll he'd"),
    ("contractions upper", "IT'S DON'T WE'RE YOU'VE I'M WE'LL HE'D"),
    ("contractions mixed case", "we'Re you'vE I'm we'lL it'S he'D we'rE"),
    ("contraction then letters", "'sa 'tb 'rex 'vex 'mm 'llama 'dd"),
    ("contraction at start", "'s"),
    ("apostrophe alone", "' ' '' '''"),
    ("apostrophe before digit", "'1 '9s"),
    ("not contractions", "'x 'z 'q 'k 'ra 'va 'la"),
    ("long s contraction", "it\u017f ab'\u017f x'\u017ft"),
    ("kelvin sign after apostrophe", "a'\u212a b'\u212a\u212a"),
    ("fold candidates", "'\u0130 '\u0131 '\u00df '\ufb06 '\u01c4"),
    ("right single quote", "it\u2019s don\u2019t"),
    ("leading non-letter on word", "\"quoted\" (paren) [bracket] #tag @user $var"),
    ("letter run after tab", "a\tb\t\tc"),
    ("digits one at a time", "12345 and 3.14159 and 1,000,000"),
    ("digits attached", "abc123def 4x4"),
    ("punctuation runs", "Hello!!! What??? ...and... --- === ***"),
    ("punctuation with space", "a !b ?? c ..."),
    ("punctuation with newline", "end.\nnext!\r\nthen?\n\n\nx"),
    ("newline runs", "a\nb\n\nc\n\n\nd"),
    ("crlf", "line one\r\nline two\r\n\r\nline three"),
    ("cr only", "a\rb\r\rc"),
    ("whitespace before newline", "a   \n   b"),
    ("whitespace after newline", "a\n   b"),
    ("mixed whitespace newline", "x \t \r\n \t y"),
    ("spaces before word", "a     b"),
    ("two spaces before word", "a  b"),
    ("spaces before punctuation", "a     !"),
    ("spaces before digit", "a     1"),
    ("tabs before word", "a\t\t\tb"),
    ("leading spaces", "   leading"),
    ("trailing spaces", "trailing   "),
    ("only spaces", "     "),
    ("only newlines", "\n\n\n"),
    ("only tabs", "\t\t"),
    ("space newline space", " \n "),
    ("nbsp", "a\u00a0b a\u00a0\u00a0b \u00a0"),
    ("ideographic space", "\u4e2d\u3000\u6587 \u3000\u3000x"),
    ("unicode spaces", "a\u2000b\u2001c\u2002d\u2003e\u2009f\u200ag\u202fh\u205fi\u1680j"),
    ("line and paragraph separators", "a\u2028b\u2029c\u2028\u2028d"),
    ("next line u85", "a\u0085b \u0085\u0085 c"),
    ("vertical tab form feed", "a\u000bb\u000cc \u000b\u000c d"),
    ("file group unit separators", "a\u001cb\u001dc\u001ed\u001ff"),
    ("zero width space and bom", "a\u200bb \ufeffc\u200c\u200dd"),
    ("mongolian vowel separator", "a\u180eb"),
    ("code python", "def f(x):\n    return x**2  # square\n\nprint(f(3))\n"),
    ("code c", "int main(void) {\n\tprintf(\"%d\\n\", a[i]);\n\treturn 0;\n}\n"),
    ("code json", "{\"key\": [1, 2.5, true, null], \"s\": \"a\\\"b\"}"),
    ("url", "https://example.com/path?q=1&r=two#frag"),
    ("markdown", "# Title\n\n- item *one*\n- item **two**\n\n```\ncode\n```"),
    ("chinese", "\u6211\u7231\u5317\u4eac\u5929\u5b89\u95e8\u3002\u4f60\u597d\uff0c\u4e16\u754c\uff01"),
    ("japanese", "\u3053\u3093\u306b\u3061\u306f\u3001\u4e16\u754c\uff01\u30ab\u30bf\u30ab\u30ca"),
    ("korean", "\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4"),
    ("arabic", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 \u0661\u0662\u0663"),
    ("hebrew with points", "\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd"),
    ("hindi", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e \u0967\u0968\u0969"),
    ("thai", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01 \u0e51\u0e52"),
    ("russian", "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0401\u0436"),
    ("greek", "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5"),
    ("digits many scripts", "\u0660\u06f1\u0966\u09e7\u0a67\u0ae8\u0b69\u0bea\u0c6b\u0ce6\u0d67\u0e50\u0ed1\u0f22\u1040\u17e3\uff11"),
    ("number categories", "\u00b2\u00b3\u00b9\u00bc\u00bd\u2160\u2161\u2167\u3007\u3021\u2460\u2474\U00010107\U0001d7ce"),
    ("digits and letters", "x\u00b2 H\u2082O \u2167th"),
    ("emoji", "\U0001f600 \U0001f44d\U0001f3fd \U0001f468\u200d\U0001f469\u200d\U0001f467 \u2764\ufe0f \U0001f1fa\U0001f1f8"),
    ("emoji in words", "hi\U0001f600there a\U0001f44db"),
    ("combining marks", "e\u0301 a\u0308 n\u0303o \u0301alone x\u0323\u0302"),
    ("decomposed words", "Cafe\u0301 nai\u0308ve re\u0301sume\u0301"),
    ("math symbols", "\u2200x\u2208\u211d: x\u00b2 \u2265 0 \u21d2 \u221ax \u2260 -1"),
    ("currency", "$5 \u20ac10 \u00a320 \u00a5300 \u20b9400"),
    ("private use and specials", "\ue000\uf8ff \ufffd \uffff"),
    ("control characters", "a\u0000b\u0001c\u007fd\u0080e"),
    ("unicode 16 letters", "\U000105c0\U000105c1 \u1c89\u1c8a \U00016d40\U00016d41 \U00010d40\U00010d41"),
    ("supplementary letters", "\U00020000\U0002a6d6 \U0001d400\U0001d7ff \U00010400\U00010428"),
    ("long word", "Pneumonoultramicroscopicsilicovolcanoconiosis"),
    ("chat template", "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"),
    ("prompt", "\nDescribe the image."),
    # NFC
    ("nfc composed", "\u00e9\u00e8\u00ea\u00eb \u00c5ngstr\u00f6m"),
    ("nfc decomposed latin", "e\u0301e\u0300e\u0302e\u0308 A\u030angstro\u0308m"),
    ("nfc multiple marks", "a\u0323\u0302 a\u0302\u0323 q\u0307\u0323 \u1e0b\u0323 \u1e0d\u0307"),
    ("nfc reorder", "a\u0301\u0316 a\u0316\u0301 a\u0345\u0301\u0316\u0334"),
    ("nfc blocked", "a\u0306\u0306 a\u0301\u0301 e\u0327\u0306 a\u05b0\u0301"),
    ("nfc hangul jamo", "\u1100\u1161 \u1100\u1161\u11a8 \u1112\u1161\u11ab\u1100\u1173\u11af \u1100\u11a8"),
    ("nfc hangul lv plus t", "\uac00\u11a8 \uac01\u11a8 \uac00\u11a7 \uac00\u11c2 \uac00\u11c3"),
    ("nfc hangul syllables kept", "\ud55c\uad6d\uc5b4"),
    ("nfc singletons", "\u212b \u2126 \u212a \u0340\u0341 \u0343 \u0374 \u037e \u0387 \u2000 \u2001 \u2329\u232a"),
    ("nfc cjk compatibility", "\uf900\uf901\ufa10\ufa2e \U0002f800\U0002fa1d"),
    ("nfc exclusions", "\u0958\u0959 \u09dc \u0a33 \u0f43 \ufb1d\ufb2a \U0001d15e \u2adc"),
    ("nfc exclusion decomposed", "\u0915\u093c \u05e9\u05c1 \u0f42\u0fb7"),
    ("nfc non-starter decompositions", "\u0344 \u0f73 \u0f75 \u0f81 a\u0344"),
    ("nfc greek", "\u03b1\u0313\u0301\u0345 \u1f85 \u03c9\u0342\u0345 \u1ff7"),
    ("nfc starter pairs", "\u0b47\u0b3e \u0b47\u0b56 \u0bc6\u0bbe \u0dd9\u0dcf \u1025\u102e \u0cc6\u0cc2"),
    ("nfc vietnamese", "Vie\u0323\u0302t Nam Tie\u0302\u0301ng Vi\u1ec7t"),
    ("nfc leading combining", "\u0301a \u0308\u0301e"),
    ("nfc after version 9", "\U00011935\U00011930 #\u0345\u0898 #\u07fd\u0334"),
    ("nfc mark after newline", "a\n\u0301 b\r\u0308"),
]


# ------------------------------------------------------------------ random cases

RANDOM_POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "sStTrReEvVmMlLdD\u017f\u212a",
    "'''''",
    "0123456789",
    "\u0660\u0967\u0e51\u00b2\u2167\u3007\U0001d7ce\u00bd\u2460",
    "      ",
    "\t\r\n\n\r\n",
    "\u00a0\u3000\u2028\u2029\u0085\u1680\u2009\u200b\ufeff\u000b\u000c\u001c",
    "!?.,;:-_()[]{}\"#$%&*+/<=>@\\^`|~",
    "\u0301\u0308\u0327\u0345\u05b0\u093c\u0316\u0334\u0302\u0323",
    "\u4e2d\u6587\u65e5\u672c\u3042\u30a2",
    "\u1100\u1161\u11a8\uac00\uac01\u1112\u1173",
    "\U0001f600\U0001f44d\U0001f3fd\u200d\u2764\ufe0f\U0001f468",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
    "\u0939\u093f\u0928\u094d\u0926\u0940",
    "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
    "\u212b\u2126\uf900\u0958\u0344\u00c5\u00e9\u1e0b",
    "\U000105c0\u1c89\U00016d40\U00010d40",
]


def random_text(rng):
    chars = []
    for _ in range(rng.randint(1, 16)):
        if rng.random() < 0.9:
            chars.append(rng.choice(rng.choice(RANDOM_POOLS)))
        else:  # any code point but a surrogate
            cp = rng.randint(0, 0x10FFFF - 0x800)
            chars.append(chr(cp + 0x800 if cp >= 0xD800 else cp))
    return "".join(chars)


# ------------------------------------------------------------------ per code point probes

def ranges(code_points):
    out = []
    for cp in sorted(code_points):
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def probe_classes():
    """\\p{L}, \\p{N} and \\s as the regex sees them. For a code point c:
    letter      iff "x" + c stays one piece (the letter run takes it);
    number      iff c + c gives two pieces (digits are split one at a time, runs of anything
                else stay together);
    whitespace  iff c + "!" gives two pieces (a symbol run would take c along), or c is ' '
                (" !" is one symbol run with its optional leading space)."""
    letter, number, whitespace = [], [], []
    for cp in all_code_points():
        c = chr(cp)
        if len(pieces("x" + c)) == 1:
            letter.append(cp)
        elif len(pieces(c + c)) == 2:
            number.append(cp)
        elif c == " " or len(pieces(c + "!")) == 2:
            whitespace.append(cp)
    return letter, number, whitespace


def probe_contractions(letters):
    """Letters the case-insensitive contractions accept, at each letter position of each
    contraction: for "'?" the letters c with "'" + c + "a" -> ["'" + c, "a"], and so on."""
    probes = {"'?": ("'", "a"), "'r?": ("'r", "a"), "'?e": ("'", "ea"), "'v?": ("'v", "a"),
              "'l?": ("'l", "a"), "'?l": ("'", "la")}
    result = {}
    for name, (before, after) in probes.items():
        accepted = []
        for cp in letters:
            text = before + chr(cp) + after
            if pieces(text) == [text[:-1], text[-1]]:
                accepted.append(cp)
        result[name] = accepted
    return result


def probe_combining():
    """Code points NFC treats as combining marks with class below 240: in "#" + U+0345
    (class 240) + c, NFC moves c in front of U+0345 exactly when 0 < class(c) < 240."""
    marks = []
    for cp in all_code_points():
        text = "#\u0345" + chr(cp)
        if nfc(text) != text:
            marks.append(cp)
    return marks


def probe_nfc_changes():
    return [[cp, nfc(chr(cp))] for cp in all_code_points() if nfc(chr(cp)) != chr(cp)]


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    rng = random.Random(20240611)

    cases = [(name, text) for name, text in HAND_WRITTEN]
    cases += [(f"random {i}", random_text(rng)) for i in range(400)]
    with open(os.path.join(OUT_DIR, "cases.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for name, text in cases:
            got = pieces(text)
            assert "".join(got) == text, name
            f.write(json.dumps({"name": name, "text": text, "pieces": got, "nfc": nfc(text)},
                               ensure_ascii=False) + "\n")

    letter, number, whitespace = probe_classes()
    classes = {
        "letter": ranges(letter),
        "number": ranges(number),
        "whitespace": ranges(whitespace),
        "contraction_letters": probe_contractions(letter),
        "nfc_combining_below_240": ranges(probe_combining()),
        "nfc_changes": probe_nfc_changes(),
    }
    with open(os.path.join(OUT_DIR, "char_classes.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(classes, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")

    with open(os.path.join(OUT_DIR, "README.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("Made by: python tools/golden/pretokenize.py   (run from the repository root)\n"
                "Reference: tokenizers " + __import__("tokenizers").__version__ +
                " (pre_tokenizers.Split with the Qwen2 regex, behavior isolated; normalizers.NFC).\n"
                "cases.jsonl: {name, text, pieces, nfc} per line. char_classes.json: per code point\n"
                "probes of the same library (letter/number/whitespace ranges, contraction letters,\n"
                "NFC combining marks, every code point NFC changes). See the script for details.\n")
    print(f"wrote {len(cases)} cases and char_classes.json to {OUT_DIR}", file=sys.stderr)


if __name__ == "__main__":
    main()
