"""Tokenizer fixtures, made with the Hugging Face `tokenizers` library.

Run from the repository root:  python3 tools/golden/tokenizer.py

Writes
  tests/data/tokenizer_corpus.jsonl              the corpus: one JSON string per line, built from the
                                                 hand-written fragments in tokenizer_corpus/fragments.py
                                                 combined with a fixed seed
  tests/golden/tokenizer/tiny_tokenizer.json     a small byte-level BPE (Qwen2 normalizer, pre-tokenizer,
                                                 decoder and special tokens) trained on the even corpus lines
  tests/golden/tokenizer/tiny_ids.jsonl          its ids for every corpus line
  tests/golden/tokenizer/tiny_decode.jsonl       decode cases for it (random ids, cut UTF-8, special tokens)
  tests/golden/tokenizer/tiny_added_tokens.json  extra added tokens (non-special, normalized, lstrip/rstrip,
                                                 overlapping) on top of the tiny tokenizer, with cases
  tests/golden/tokenizer/qwen2_ids.jsonl         the real Qwen2 tokenizer's ids for every corpus line
  tests/golden/tokenizer/qwen2_decode.jsonl      decode cases for the real tokenizer
  tests/golden/tokenizer/README.txt
  tests/fuzz/seeds/fuzz_tokenizer/*              seeds for the fuzz target: two small tokenizer.json files
                                                 and a few texts
The qwen2_* files need ../shared/data/qwen2-tokenizer/tokenizer.json; without it they are left as they are.

Line format of *_ids.jsonl: {"ids": [...]} plus "decoded" (decode without skipping special tokens)
only where it differs from the corpus line (NFC changes it). *_decode.jsonl:
{"ids": [...], "text": decode(ids), "text_skip_special": decode(ids, skip_special_tokens=True)}.
"""
import json
import os
import random
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokenizer_corpus"))
import fragments  # noqa: E402

CORPUS_PATH = "tests/data/tokenizer_corpus.jsonl"
FUZZ_SEEDS_DIR = "tests/fuzz/seeds/fuzz_tokenizer"
GOLDEN_DIR = "tests/golden/tokenizer"
QWEN2_TOKENIZER = "../shared/data/qwen2-tokenizer/tokenizer.json"
CORPUS_LINES = 2100
TINY_MERGES = 1000
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
FASTVLM_PROMPT = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                  "<image>\n{}<|im_end|>\n<|im_start|>assistant\n")

GROUPS = {
    "english": fragments.ENGLISH, "contractions": fragments.CONTRACTIONS, "chinese": fragments.CHINESE,
    "japanese": fragments.JAPANESE, "korean": fragments.KOREAN, "arabic": fragments.ARABIC,
    "hindi": fragments.HINDI, "other_scripts": fragments.OTHER_SCRIPTS, "emoji": fragments.EMOJI,
    "code": fragments.CODE, "numbers": fragments.NUMBERS, "urls": fragments.URLS,
    "whitespace": fragments.WHITESPACE, "normalization": fragments.NORMALIZATION,
    "special": fragments.SPECIAL, "odd": fragments.ODD,
}
ALL_FRAGMENTS = [f for group in GROUPS.values() for f in group]
SEPARATORS = [" ", " ", " ", "\n", "\n", "\r\n", "\t", "  ", "", "\n\n", " \n", "   \t ", "\u3000", ". ", ", "]

# Pieces for the synthetic generators.
SKIN_TONES = ["\U0001f3fb", "\U0001f3fc", "\U0001f3fd", "\U0001f3fe", "\U0001f3ff"]
EMOJI_BASES = ["\U0001f44d", "\U0001f44b", "\U0001f9d1", "\U0001f469", "\U0001f468", "\U0001f467", "\U0001f476",
               "\U0001f64f", "\U0001f4aa", "\u270c\ufe0f", "\U0001f91d"]
EMOJI_ZWJ_TAILS = ["\U0001f4bb", "\U0001f52c", "\U0001f680", "\U0001f373", "\U0001f3a8", "\u2695\ufe0f",
                   "\U0001f467", "\U0001f466", "\U0001f469", "\U0001f468", "\u2764\ufe0f"]
EMOJI_PLAIN = ["\U0001f600", "\U0001f389", "\U0001f34e", "\U0001f697", "\u2615", "\U0001f4f7", "\U0001f30d",
               "\u2705", "\u274c", "\U0001f525", "\U0001f4af", "\U0001f440"]
CHAR_POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    " \t\n\r", "\u00e9\u00fc\u00df\u00f1\u00e5\u00f8", "\u4e00\u4e8c\u4e09\u4eba\u5927\u5c0f\u56fe\u50cf",
    "\u3042\u3044\u3046\u30a2\u30a4\u30a6", "\ud55c\uad6d\uc5b4", "\u0627\u0644\u0639\u0631\u0628",
    "\u0928\u092e\u0938\u094d\u0924\u0947", "\u0301\u0308\u0327\u200d\ufe0f", "\u00a0\u2009\u3000\u2028\u0085",
    "\u0661\u0662\u00bd\u00b2\u2160\uff11", "\U0001f600\U0001f3fd\U0001f468", "'sSlLdDmMtTrReEvV",
]
QUESTIONS = fragments.ENGLISH[4:8] + [
    "What does the text on the whiteboard say?", "Is there a traffic light in this picture? Answer yes or no.",
    "\u8bf7\u7528\u4e2d\u6587\u56de\u7b54\uff1a\u56fe\u4e2d\u6709\u51e0\u4e2a\u4eba\uff1f",
    "Count the apples \U0001f34e on the table.", "Read the number plate: it's partly hidden.",
    "  Describe the image in detail.  ", "Describe the image.\nThen list the colours.",
]


def _numbers(rng):
    forms = [
        lambda: str(rng.randint(0, 10 ** rng.randint(1, 12))),
        lambda: f"{rng.uniform(-1000, 1000):.{rng.randint(1, 6)}f}",
        lambda: f"{rng.randint(1, 31):02d}/{rng.randint(1, 12):02d}/{rng.randint(1900, 2100)}",
        lambda: f"{rng.randint(0, 23)}:{rng.randint(0, 59):02d}",
        lambda: f"{rng.randint(1, 999):,}{rng.randint(0, 999):03d}",
        lambda: hex(rng.randint(0, 2 ** 32)),
        lambda: f"{rng.random():.3e}",
        lambda: f"${rng.randint(1, 9999)}.{rng.randint(0, 99):02d}",
        lambda: f"{rng.randint(1, 100)}%",
    ]
    return " ".join(rng.choice(forms)() for _ in range(rng.randint(1, 6)))


def _whitespace_run(rng):
    return "".join(rng.choice([" ", " ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000"]) for _ in range(rng.randint(1, 9)))


def _emoji(rng):
    out = []
    for _ in range(rng.randint(1, 5)):
        kind = rng.randrange(4)
        if kind == 0:
            out.append(rng.choice(EMOJI_PLAIN))
        elif kind == 1:
            out.append(rng.choice(EMOJI_BASES) + rng.choice(SKIN_TONES))
        elif kind == 2:
            base = rng.choice(EMOJI_BASES[:6]) + (rng.choice(SKIN_TONES) if rng.random() < 0.5 else "")
            out.append(base + "\u200d" + rng.choice(EMOJI_ZWJ_TAILS))
        else:
            out.append("".join(chr(0x1F1E6 + rng.randrange(26)) for _ in range(2)))  # regional indicators
        out.append(rng.choice(["", " ", " ", "\n"]))
    words = rng.choice(fragments.ENGLISH).split()
    at = rng.randint(0, len(words))
    return " ".join(words[:at]) + " " + "".join(out) + " ".join(words[at:])


def _char_soup(rng):
    return "".join(rng.choice(rng.choice(CHAR_POOLS)) for _ in range(rng.randint(5, 60)))


def _combo(rng):
    parts = [rng.choice(rng.choice(list(GROUPS.values()))) for _ in range(rng.randint(2, 4))]
    out = parts[0]
    for p in parts[1:]:
        out += rng.choice(SEPARATORS) + p
    return out


def _recased(rng):
    text = rng.choice(fragments.ENGLISH + fragments.CONTRACTIONS + fragments.OTHER_SCRIPTS)
    return rng.choice([str.upper, str.lower, str.title, str.swapcase])(text)


def _chat(rng):
    user, reply = rng.choice(ALL_FRAGMENTS), rng.choice(fragments.ENGLISH + fragments.CHINESE + fragments.CODE)
    return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n{reply}<|im_end|>\n"


def _prompt(rng):
    return FASTVLM_PROMPT.format(rng.choice(QUESTIONS + fragments.ENGLISH))


def _spaced(rng):
    words = rng.choice(fragments.ENGLISH + fragments.CODE).split(" ")
    return "".join(w + _whitespace_run(rng) for w in words).rstrip(" ") + rng.choice(["", " ", "  ", "\n"])


def _long(rng):
    return "".join(rng.choice(ALL_FRAGMENTS) + rng.choice(SEPARATORS) for _ in range(rng.randint(8, 20)))


GENERATORS = [(_combo, 30), (_numbers, 8), (_emoji, 8), (_char_soup, 10), (_recased, 6), (_chat, 8),
              (_prompt, 4), (_spaced, 8), (_long, 1), (lambda rng: _whitespace_run(rng), 3)]


def make_corpus():
    rng = random.Random(20250607)
    lines, seen = [], set()

    def add(line):
        if line and line not in seen:
            seen.add(line)
            lines.append(line)

    for f in ALL_FRAGMENTS:
        add(f)
    generators = [g for g, weight in GENERATORS for _ in range(weight)]
    while len(lines) < CORPUS_LINES:
        add(rng.choice(generators)(rng))
    return lines


def make_tiny_tokenizer(train_lines, merges=TINY_MERGES):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(vocab_size=256 + merges, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(train_lines, trainer)
    # The special tokens go after the vocab, as in Qwen2.
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    return tok


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")


def ids_rows(tok, lines):
    rows = []
    for line in lines:
        ids = tok.encode(line, add_special_tokens=False).ids
        row = {"ids": ids}
        decoded = tok.decode(ids, skip_special_tokens=False)
        if decoded != line:
            row["decoded"] = decoded
        rows.append(row)
    return rows


def decode_rows(tok, lines, seed):
    """Id sequences whose decoding is worth checking: random ids, random single-byte tokens (mostly broken
    UTF-8), corpus encodings cut at random points (splitting multi-byte characters), and special tokens."""
    rng = random.Random(seed)
    vocab = tok.get_vocab()
    byte_ids = sorted(vocab[c] for c in pre_tokenizers.ByteLevel.alphabet())
    special_ids = [vocab[t] for t in SPECIAL_TOKENS]
    n_ids = tok.get_vocab_size()
    multibyte = [l for l in lines if any(ord(c) > 0x7FF for c in l)]
    rows = []
    for i in range(240):
        kind = i % 4
        if kind == 0:
            ids = [rng.randrange(n_ids) for _ in range(rng.randint(1, 8))]
        elif kind == 1:
            ids = [rng.choice(byte_ids) for _ in range(rng.randint(1, 6))]
        elif kind == 2:
            ids = tok.encode(rng.choice(multibyte), add_special_tokens=False).ids
            start = rng.randrange(len(ids))
            ids = ids[start:start + rng.randint(1, 6)]
        else:
            ids = tok.encode(rng.choice(lines), add_special_tokens=False).ids[:6]
            for _ in range(rng.randint(1, 3)):
                ids.insert(rng.randint(0, len(ids)), rng.choice(special_ids))
        rows.append({"ids": ids, "text": tok.decode(ids, skip_special_tokens=False),
                     "text_skip_special": tok.decode(ids, skip_special_tokens=True)})
    return rows


def tiny_added_tokens_case(tiny_json, lines):
    """Added tokens Qwen2 does not use but the format allows, on top of the tiny tokenizer."""
    tok = Tokenizer.from_str(tiny_json)
    tok.add_tokens([
        AddedToken("<tool_call>", special=False, normalized=False),
        AddedToken("</tool_call>", special=False, normalized=False),
        AddedToken("caf\u00e9", special=False, normalized=True),        # matched after NFC
        AddedToken("re\u0301sume\u0301", special=False, normalized=True),  # stored decomposed, matched composed
        AddedToken("Ġhello", special=False, normalized=False),          # decodes through the byte-level table
        AddedToken("im", special=False, normalized=False),               # inside <|im_start|>: leftmost-longest
    ])
    tok.add_special_tokens([
        AddedToken("[MASK]", special=True, normalized=False, lstrip=True, rstrip=True),
        AddedToken("<|im_start|>user", special=True, normalized=False),  # overlaps <|im_start|>
    ])
    texts = [
        "<tool_call>{\"name\": \"f\"}</tool_call>", "a cafe\u0301 and a caf\u00e9 and a CAF\u00c9",
        "my re\u0301sume\u0301 and my r\u00e9sum\u00e9", "Ġhello vs hello vs  hello", "time to swim in the image",
        "<|im_start|>user\nhi<|im_end|>", "<|im_start|>assistant\n<|im_start|>user", "x [MASK] y",
        "x   [MASK]\t\ty", "[MASK][MASK] [MASK]", "\u3000[MASK]\u3000", "  [MASK]", "[MASK]  ", "<tool_call><tool_call>",
        "im<|im_end|>im", "cafe\u0301<|endoftext|>caf\u00e9", "",
    ] + lines[::50]
    cases = []
    for text in texts:
        ids = tok.encode(text, add_special_tokens=False).ids
        cases.append({"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
                      "decoded_skip_special": tok.decode(ids, skip_special_tokens=True)})
    return {"added_tokens": json.loads(tok.to_str())["added_tokens"], "cases": cases}


def write_fuzz_seeds(lines):
    os.makedirs(FUZZ_SEEDS_DIR, exist_ok=True)
    small = json.loads(make_tiny_tokenizer(lines[:40], merges=24).to_str())
    with open(os.path.join(FUZZ_SEEDS_DIR, "small_tokenizer.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(small, f, ensure_ascii=False, separators=(",", ":"))
    small["model"]["merges"] = [" ".join(m) for m in small["model"]["merges"]]
    small["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFC"}]}
    with open(os.path.join(FUZZ_SEEDS_DIR, "merges_as_strings.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(small, f, ensure_ascii=False, separators=(",", ":"))
    texts = {
        "prompt.txt": FASTVLM_PROMPT.format("Describe the image.").encode(),
        "mixed.txt": "Hello world! It's 2024: \u4f60\u597d \U0001f469\U0001f3fd\u200d\U0001f4bb cafe\u0301\r\n\t  x".encode(),
        "broken_utf8.txt": b"ok \xff\xfe \xe2\x82 <|im_end|> \xf0\x9f\x98 end",
    }
    for name, data in texts.items():
        with open(os.path.join(FUZZ_SEEDS_DIR, name), "wb") as f:
            f.write(data)


def main():
    lines = make_corpus()
    os.makedirs(os.path.dirname(CORPUS_PATH), exist_ok=True)
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    write_jsonl(CORPUS_PATH, lines)

    tiny = make_tiny_tokenizer(lines[::2])
    tiny_json = tiny.to_str()
    with open(os.path.join(GOLDEN_DIR, "tiny_tokenizer.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(tiny_json)
    tiny = Tokenizer.from_str(tiny_json)
    write_jsonl(os.path.join(GOLDEN_DIR, "tiny_ids.jsonl"), ids_rows(tiny, lines))
    write_jsonl(os.path.join(GOLDEN_DIR, "tiny_decode.jsonl"), decode_rows(tiny, lines, seed=1))
    with open(os.path.join(GOLDEN_DIR, "tiny_added_tokens.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(tiny_added_tokens_case(tiny_json, lines), f, ensure_ascii=False, indent=1)
        f.write("\n")

    if os.path.exists(QWEN2_TOKENIZER):
        qwen2 = Tokenizer.from_file(QWEN2_TOKENIZER)
        write_jsonl(os.path.join(GOLDEN_DIR, "qwen2_ids.jsonl"), ids_rows(qwen2, lines))
        write_jsonl(os.path.join(GOLDEN_DIR, "qwen2_decode.jsonl"), decode_rows(qwen2, lines, seed=2))
    else:
        print(f"tokenizer.py: {QWEN2_TOKENIZER} not found; qwen2_*.jsonl left as they are")

    write_fuzz_seeds(lines)
    n_merges = len(json.loads(tiny_json)["model"]["merges"])
    with open(os.path.join(GOLDEN_DIR, "README.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write(
            "Made by: python3 tools/golden/tokenizer.py   (from the repository root;\n"
            "versions in tools/golden/requirements.txt, tokenizers==0.23.3)\n\n"
            f"../../data/tokenizer_corpus.jsonl: {len(lines)} lines, one JSON string each, from the fragments in\n"
            "  tools/golden/tokenizer_corpus/fragments.py combined with a fixed seed.\n"
            f"tiny_tokenizer.json: byte-level BPE with {n_merges} merges trained by tokenizers' BpeTrainer on the even\n"
            "  corpus lines, with Qwen2's normalizer (NFC), pre-tokenizer (Split regex + ByteLevel), decoder and the\n"
            "  three special tokens after the vocab. Saved by the library itself (merges as [a, b] pairs).\n"
            "tiny_ids.jsonl, qwen2_ids.jsonl: per corpus line {\"ids\": encode(line).ids}, plus \"decoded\" =\n"
            "  decode(ids, skip_special_tokens=False) only where that differs from the line (NFC).\n"
            "tiny_decode.jsonl, qwen2_decode.jsonl: {\"ids\", \"text\": decode(ids), \"text_skip_special\"} for\n"
            "  random ids, random byte tokens (broken UTF-8), cut encodings and special tokens.\n"
            "tiny_added_tokens.json: added_tokens of the tiny tokenizer after adding non-special, normalized,\n"
            "  lstrip/rstrip and overlapping tokens, and cases {text, ids, decoded, decoded_skip_special}.\n"
            "qwen2_* use ../shared/data/qwen2-tokenizer/tokenizer.json.\n")


if __name__ == "__main__":
    main()
