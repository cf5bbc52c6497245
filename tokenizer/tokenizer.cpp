// Byte-level BPE: tokenizer.json loading, encode, decode.
//
// BPE works on ids, never on strings: a piece starts as the ids of its single bytes, and the
// merge table maps an adjacent (left id, right id) pair to its rank and merged id. The lowest
// rank is merged first (leftmost on ties), with a heap over a linked list of symbols, exactly
// as the `tokenizers` library's Word::merge_all does. Pieces repeat a lot in real text, so
// their ids are cached.
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include "runtime/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/unicode.h"

namespace fastvlm {

using json = nlohmann::json;

namespace {

// The Split pattern of Qwen2's pre-tokenizer; qwen2_pretokenize() implements exactly this one.
constexpr std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr int64_t kMaxId = (int64_t(1) << 22) - 1;  // bounds the id -> token tables (4M ids)
constexpr size_t kMaxCachedPiece = 128;             // longer pieces are rare; not worth caching
constexpr size_t kCacheCapacity = 1 << 14;          // entries before the cache starts over

enum TokenKind : uint8_t { kUnknown = 0, kVocab = 1, kAdded = 2, kSpecial = 3 };

// Text whose code points are all below U+0300 is already in NFC (no combining marks, nothing
// that decomposes or recomposes differently); in UTF-8 that means no byte from 0xCC up.
bool surely_nfc(std::string_view s) {
    for (unsigned char c : s)
        if (c >= 0xCC) return false;
    return true;
}

// Index of the first byte that is not valid UTF-8, or npos.
size_t first_invalid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const size_t at = i;
        // Invalid bytes decode to U+FFFD; a genuine U+FFFD is the three bytes EF BF BD.
        if (unicode::decode_utf8(s, i) == 0xFFFD && s.compare(at, 3, "\xEF\xBF\xBD") != 0) return at;
    }
    return std::string::npos;
}

std::string shown(std::string_view s) {
    std::string out = "'";
    out.append(s.substr(0, 60));
    if (s.size() > 60) out += "...";
    return out + "'";
}

// Raw bytes a token string stands for when decoded: its alphabet characters mapped back, or,
// when any character is outside the alphabet, its own UTF-8 (as the ByteLevel decoder does).
std::string bytes_of_token_string(const std::string& token) {
    std::string bytes;
    if (byte_level::decode(token, bytes)) return bytes;
    return token;
}

// model.vocab and model.merges hold ~150k entries each. Building them as a DOM (std::map nodes)
// dominates the load time, so the parser hands them over as they are read and keeps them out
// of the tree; everything else is parsed normally.
struct StreamedModel {
    bool has_vocab = false;   // model.vocab was an object; its entries are below
    bool has_merges = false;  // model.merges was a list; its entries are below
    std::vector<std::pair<std::string, json>> vocab;
    std::vector<json> merges;
};

json parse_streaming_model(std::string_view text, StreamedModel& streamed, const std::string& where) {
    std::vector<std::string> keys(4);  // keys[d]: the last key read at depth d (d < 4)
    std::string vocab_key;
    auto in = [&](const char* member) { return keys[1] == "model" && keys[2] == member; };
    return json::parse(text.begin(), text.end(), [&](int depth, json::parse_event_t event, json& parsed) {
        using E = json::parse_event_t;
        const bool value_done = event == E::value || event == E::object_end || event == E::array_end;
        if (event == E::key && depth < 4) {
            keys[size_t(depth)] = parsed.get<std::string>();
            for (size_t d = size_t(depth) + 1; d < keys.size(); ++d) keys[d].clear();  // a new subtree
            if (depth == 3 && streamed.has_vocab && in("vocab")) {
                vocab_key = std::move(keys[3]);
                return false;  // the value still arrives, below
            }
            if (depth == 2 && keys[1] == "model" &&
                ((in("vocab") && streamed.has_vocab) || (in("merges") && streamed.has_merges)))
                fail(where, "model.", keys[2], ": appears twice");
            return true;
        }
        if (depth == 2 && in("vocab") && event == E::object_start) {
            streamed.has_vocab = true;
        } else if (depth == 2 && in("merges") && event == E::array_start) {
            streamed.has_merges = true;
        } else if (depth == 3 && (event == E::object_start || event == E::array_start) && streamed.has_vocab &&
                   in("vocab")) {
            // Values under a dropped key never reach the callback when they are containers.
            fail(where, "model.vocab[", shown(vocab_key), "]: expected an integer id, found ",
                 event == E::object_start ? "an object" : "a list");
        } else if (depth == 3 && value_done && streamed.has_vocab && in("vocab")) {
            streamed.vocab.emplace_back(std::move(vocab_key), std::move(parsed));
            return false;
        } else if (depth == 3 && value_done && streamed.has_merges && in("merges")) {
            streamed.merges.push_back(std::move(parsed));
            return false;
        }
        return true;
    });
}

}  // namespace

// ------------------------------------------------------------------ merge table

// Open addressing over 64-bit keys (left id << 32 | right id); ids are at most kMaxId, so the
// all-ones key never occurs and marks empty slots.
struct Tokenizer::MergeTable {
    struct Slot {
        uint64_t key = ~uint64_t(0);
        uint32_t rank = 0;
        int32_t merged = 0;
    };
    std::vector<Slot> slots;
    uint64_t mask = 0;

    explicit MergeTable(size_t n) {
        size_t capacity = 16;
        while (capacity < n * 2) capacity <<= 1;
        slots.resize(capacity);
        mask = capacity - 1;
    }
    static uint64_t key_of(int32_t left, int32_t right) { return (uint64_t(uint32_t(left)) << 32) | uint32_t(right); }
    static uint64_t hash(uint64_t k) {
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdULL;
        k ^= k >> 33;
        return k;
    }
    // A later duplicate of a pair replaces the earlier one, as in the library's HashMap.
    void insert(int32_t left, int32_t right, uint32_t rank, int32_t merged) {
        const uint64_t key = key_of(left, right);
        for (uint64_t i = hash(key) & mask;; i = (i + 1) & mask) {
            Slot& s = slots[i];
            if (s.key == key || s.key == ~uint64_t(0)) {
                s = {key, rank, merged};
                return;
            }
        }
    }
    const Slot* find(int32_t left, int32_t right) const {
        const uint64_t key = key_of(left, right);
        for (uint64_t i = hash(key) & mask;; i = (i + 1) & mask) {
            const Slot& s = slots[i];
            if (s.key == key) return &s;
            if (s.key == ~uint64_t(0)) return nullptr;
        }
    }
};

// ------------------------------------------------------------------ vocab index

// Byte-level spelling -> id with open addressing; the spellings live back to back in one
// string. Loading looks up ~450k merge parts, and node-based maps spend it on cache misses.
struct Tokenizer::SpellingIndex {
    struct Slot {
        uint32_t hash = 0;  // 0: empty
        uint32_t offset = 0, size = 0;
        int32_t id = -1;
    };
    std::vector<Slot> slots;
    std::string spellings;
    size_t count = 0;

    explicit SpellingIndex(size_t n) {
        size_t capacity = 16;
        while (capacity < n * 2) capacity <<= 1;
        slots.resize(capacity);
    }
    static uint32_t hash_of(std::string_view s) {
        const uint64_t h = std::hash<std::string_view>()(s);
        return uint32_t(h ^ (h >> 32)) | 1;
    }
    // The slot holding `s`, or the empty slot where it would go.
    size_t slot_of(std::string_view s, uint32_t hash) const {
        for (size_t i = hash & (slots.size() - 1);; i = (i + 1) & (slots.size() - 1)) {
            const Slot& slot = slots[i];
            if (slot.hash == 0) return i;
            if (slot.hash == hash && std::string_view(spellings).substr(slot.offset, slot.size) == s) return i;
        }
    }
    std::optional<int32_t> find(std::string_view s) const {
        const Slot& slot = slots[slot_of(s, hash_of(s))];
        return slot.hash ? std::optional<int32_t>(slot.id) : std::nullopt;
    }
    // False when `s` is already there. Holds at most half as many entries as it was made for.
    bool insert(std::string_view s, int32_t id) {
        const uint32_t hash = hash_of(s);
        Slot& slot = slots[slot_of(s, hash)];
        if (slot.hash) return false;
        slot = {hash, uint32_t(spellings.size()), uint32_t(s.size()), id};
        spellings.append(s);
        ++count;
        return true;
    }
    std::string spelling_of(int32_t id) const {  // linear; for error messages
        for (const Slot& slot : slots)
            if (slot.hash && slot.id == id) return spellings.substr(slot.offset, slot.size);
        return "";
    }
};

// ------------------------------------------------------------------ added-token matching

// Leftmost-longest search over the added tokens' contents (what the library's Aho-Corasick
// automaton with MatchKind::LeftmostLongest finds). There are few added tokens and they start
// with few distinct bytes, so candidates are bucketed by first byte.
struct Tokenizer::AddedTokenMatcher {
    std::vector<std::string> patterns;
    std::vector<size_t> token_of_pattern;                 // index into added_tokens_
    std::array<std::vector<uint32_t>, 256> by_first_byte;  // pattern indices, longest first
    std::array<bool, 256> starts{};

    void add(const std::string& pattern, size_t token) {
        patterns.push_back(pattern);
        token_of_pattern.push_back(token);
    }
    void finish() {
        for (uint32_t p = 0; p < patterns.size(); ++p) {
            const auto first = static_cast<unsigned char>(patterns[p][0]);
            by_first_byte[first].push_back(p);
            starts[first] = true;
        }
        for (auto& bucket : by_first_byte)
            std::stable_sort(bucket.begin(), bucket.end(),
                             [&](uint32_t a, uint32_t b) { return patterns[a].size() > patterns[b].size(); });
    }
    bool empty() const { return patterns.empty(); }

    // The leftmost match at or after `from`, longest at that position: pattern index and start.
    bool find(std::string_view text, size_t from, uint32_t& pattern, size_t& start) const {
        for (size_t i = from; i < text.size(); ++i) {
            const auto c = static_cast<unsigned char>(text[i]);
            if (!starts[c]) continue;
            for (uint32_t p : by_first_byte[c]) {
                if (text.compare(i, patterns[p].size(), patterns[p]) == 0) {
                    pattern = p;
                    start = i;
                    return true;
                }
            }
        }
        return false;
    }
};

namespace {

// Start of the whitespace run that ends `text` (text.size() when it ends otherwise).
size_t trailing_whitespace_start(std::string_view text) {
    size_t start = 0;
    for (size_t i = 0; i < text.size();) {
        const uint32_t cp = unicode::decode_utf8(text, i);
        if (!unicode::is_whitespace(cp)) start = i;
    }
    return start;
}

// Length of the whitespace run that starts `text`.
size_t leading_whitespace_length(std::string_view text) {
    size_t i = 0;
    while (i < text.size()) {
        size_t next = i;
        if (!unicode::is_whitespace(unicode::decode_utf8(text, next))) break;
        i = next;
    }
    return i;
}

}  // namespace

template <typename OnText, typename OnToken>
void Tokenizer::split_on_added(std::string_view text, const AddedTokenMatcher& matcher, OnText&& on_text,
                               OnToken&& on_token) const {
    size_t done = 0;  // text before this is handled
    uint32_t pattern = 0;
    size_t match_start = 0;
    while (!matcher.empty() && matcher.find(text, done, pattern, match_start)) {
        const AddedToken& token = added_tokens_[matcher.token_of_pattern[pattern]];
        size_t start = match_start, stop = match_start + matcher.patterns[pattern].size();
        // Stripping takes whitespace up to the previous match at most, as in the library.
        if (token.lstrip) start = done + trailing_whitespace_start(text.substr(done, start - done));
        if (token.rstrip) stop += leading_whitespace_length(text.substr(stop));
        if (start > done) on_text(text.substr(done, start - done));
        on_token(token.id);
        done = stop;
    }
    if (done < text.size()) on_text(text.substr(done));
}

// ------------------------------------------------------------------ piece cache

// Open addressing keyed by a hash of the piece; pieces and ids live in two arenas. Slots are
// 16 bytes so the table stays in the CPU cache. When full it starts over: memory stays bounded
// and the frequent pieces come back at once.
struct Tokenizer::PieceCache {
    struct Slot {
        uint32_t hash = 0;  // 0: empty
        uint32_t piece_offset = 0;
        uint32_t ids_offset = 0;
        uint8_t piece_size = 0;  // pieces are at most kMaxCachedPiece bytes, so ids too
        uint8_t ids_count = 0;
    };
    static_assert(kMaxCachedPiece <= 255, "piece sizes are stored in a byte");
    std::mutex mutex;
    std::vector<Slot> slots = std::vector<Slot>(kCacheCapacity * 2);
    std::string pieces;
    std::vector<int32_t> ids;
    size_t used = 0;

    static uint32_t hash_of(std::string_view piece) {
        uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
        for (unsigned char c : piece) h = (h ^ c) * 0x100000001b3ULL;
        return uint32_t(h ^ (h >> 32)) | 1;  // never 0
    }
    size_t first_slot(uint32_t hash) const { return size_t(hash * 0x9E3779B1u) & (slots.size() - 1); }
    bool holds(const Slot& s, uint32_t hash, std::string_view piece) const {
        return s.hash == hash && s.piece_size == piece.size() &&
               std::memcmp(pieces.data() + s.piece_offset, piece.data(), piece.size()) == 0;
    }

    bool lookup(std::string_view piece, uint32_t hash, std::vector<int32_t>& out) {
        std::lock_guard<std::mutex> lock(mutex);
        for (size_t i = first_slot(hash);; i = (i + 1) & (slots.size() - 1)) {
            const Slot& s = slots[i];
            if (s.hash == 0) return false;
            if (holds(s, hash, piece)) {
                out.insert(out.end(), ids.begin() + s.ids_offset, ids.begin() + s.ids_offset + s.ids_count);
                return true;
            }
        }
    }
    void store(std::string_view piece, uint32_t hash, const int32_t* first, size_t count) {
        std::lock_guard<std::mutex> lock(mutex);
        if (used >= kCacheCapacity) {
            std::fill(slots.begin(), slots.end(), Slot());
            pieces.clear();
            ids.clear();
            used = 0;
        }
        for (size_t i = first_slot(hash);; i = (i + 1) & (slots.size() - 1)) {
            Slot& s = slots[i];
            if (holds(s, hash, piece)) return;  // another thread stored it meanwhile
            if (s.hash != 0) continue;
            s = {hash, uint32_t(pieces.size()), uint32_t(ids.size()), uint8_t(piece.size()), uint8_t(count)};
            pieces.append(piece);
            ids.insert(ids.end(), first, first + count);
            ++used;
            return;
        }
    }
};

// ------------------------------------------------------------------ BPE

struct Tokenizer::Scratch {
    struct Symbol {
        int32_t id;
        int32_t prev, next;  // linked list over live symbols; -1 at the ends
        bool alive;
    };
    struct Candidate {
        uint32_t rank;
        int32_t pos;
        int32_t merged;
    };
    std::vector<Symbol> symbols;
    std::vector<Candidate> heap;
    std::string normalized;  // NFC of the segment being encoded
};

namespace {

// Heap order: lowest rank first, then leftmost position.
struct LaterCandidate {
    template <typename C>
    bool operator()(const C& a, const C& b) const {
        return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    }
};

}  // namespace

void Tokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& out, Scratch& scratch) const {
    if (piece.size() == 1) {
        out.push_back(byte_ids_[static_cast<unsigned char>(piece[0])]);
        return;
    }
    if (ignore_merges_) {
        auto it = bytes_to_id_.find(std::string(piece));
        if (it != bytes_to_id_.end()) {
            out.push_back(it->second);
            return;
        }
    }
    const bool cacheable = piece.size() <= kMaxCachedPiece;
    const uint32_t hash = cacheable ? PieceCache::hash_of(piece) : 0;
    if (cacheable && cache_->lookup(piece, hash, out)) return;

    auto& symbols = scratch.symbols;  // [n] one per byte at first; merged ones die
    auto& heap = scratch.heap;        // candidate merges, lowest rank on top
    auto push_candidate = [&](int32_t pos, int32_t left_id, int32_t right_id) {
        if (const MergeTable::Slot* m = merges_->find(left_id, right_id)) {
            heap.push_back({m->rank, pos, m->merged});
            std::push_heap(heap.begin(), heap.end(), LaterCandidate());
        }
    };
    const int32_t n = int32_t(piece.size());
    symbols.resize(size_t(n));
    heap.clear();
    for (int32_t i = 0; i < n; ++i) {
        const int32_t id = byte_ids_[static_cast<unsigned char>(piece[size_t(i)])];
        symbols[size_t(i)] = {id, i - 1, i + 1 < n ? i + 1 : -1, true};
        if (i > 0) push_candidate(i - 1, symbols[size_t(i - 1)].id, id);
    }

    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), LaterCandidate());
        const Scratch::Candidate top = heap.back();
        heap.pop_back();
        Scratch::Symbol& left = symbols[size_t(top.pos)];
        if (!left.alive || left.next < 0) continue;
        Scratch::Symbol& right = symbols[size_t(left.next)];
        // A stale entry: the pair at this position has changed since it was pushed.
        const MergeTable::Slot* m = merges_->find(left.id, right.id);
        if (!m || m->merged != top.merged) continue;

        left.id = top.merged;
        right.alive = false;
        left.next = right.next;
        if (right.next >= 0) symbols[size_t(right.next)].prev = top.pos;
        if (left.prev >= 0) push_candidate(left.prev, symbols[size_t(left.prev)].id, left.id);
        if (left.next >= 0) push_candidate(top.pos, left.id, symbols[size_t(left.next)].id);
    }

    const size_t first = out.size();
    for (int32_t i = 0; i >= 0; i = symbols[size_t(i)].next) out.push_back(symbols[size_t(i)].id);
    if (cacheable) cache_->store(piece, hash, out.data() + first, out.size() - first);
}

void Tokenizer::encode_text(std::string_view text, std::vector<int32_t>& out, Scratch& scratch) const {
    for (std::string_view piece : qwen2_pretokenize(text)) encode_piece(piece, out, scratch);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
    if (text.size() > size_t(INT32_MAX)) fail(where_, "cannot encode ", text.size(), " bytes at once (limit 2 GiB)");
    std::vector<int32_t> out;
    Scratch scratch;
    auto push_token = [&](int32_t id) { out.push_back(id); };
    split_on_added(
        text, *raw_matcher_,
        [&](std::string_view segment) {
            if (nfc_ && !surely_nfc(segment)) {
                scratch.normalized = unicode::nfc(segment);
                segment = scratch.normalized;
            }
            if (normalized_matcher_->empty()) {
                encode_text(segment, out, scratch);
                return;
            }
            split_on_added(
                segment, *normalized_matcher_, [&](std::string_view part) { encode_text(part, out, scratch); },
                push_token);
        },
        push_token);
    return out;
}

// ------------------------------------------------------------------ decode

bool Tokenizer::is_known(int32_t id) const {
    return id >= 0 && size_t(id) < token_kind_.size() && token_kind_[size_t(id)] != kUnknown;
}

size_t Tokenizer::vocab_size() const { return vocab_->count; }

bool Tokenizer::is_special(int32_t id) const { return is_known(id) && token_kind_[size_t(id)] == kSpecial; }

std::string_view Tokenizer::token_bytes(int32_t id) const {
    if (!is_known(id)) fail(where_, "token id ", id, " is not in the vocabulary (ids are below ", id_limit(), ")");
    const uint32_t begin = token_offsets_[size_t(id)];
    return std::string_view(token_text_).substr(begin, token_offsets_[size_t(id) + 1] - begin);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
    std::string bytes;
    for (int32_t id : ids) {
        const std::string_view b = token_bytes(id);
        if (!(skip_special && token_kind_[size_t(id)] == kSpecial)) bytes += b;
    }
    std::string text;
    text.reserve(bytes.size());
    append_utf8_lossy(text, bytes, /*final=*/true);
    return text;
}

std::optional<int32_t> Tokenizer::token_id(std::string_view token) const {
    for (const AddedToken& t : added_tokens_)
        if (t.content == token) return t.id;
    return vocab_->find(token);
}

// ------------------------------------------------------------------ loading

Tokenizer::Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

// Reads and checks one tokenizer.json; every complaint names the file and the field.
class Tokenizer::Loader {
public:
    Loader(Tokenizer& t, const std::string& where) : t_(t), where_(where) {}

    void load(std::string_view text) {
        const size_t bad = first_invalid_utf8(text);
        if (bad != std::string::npos) fail(where_, "not valid UTF-8 (byte ", bad, ")");
        json root;
        try {
            root = parse_streaming_model(text, streamed_, where_);
        } catch (const json::exception& e) {
            fail(where_, "malformed JSON: ", e.what());
        }
        try {
            if (!root.is_object()) fail(where_, "top level is not a JSON object");
            check_null_or_absent(root, "truncation");
            check_null_or_absent(root, "padding");
            load_model(member(root, "model", "model"));
            load_normalizer(root);
            load_pre_tokenizer(root);
            load_post_processor(root);
            load_decoder(root);
            load_added_tokens(root);
            store_token_bytes();
        } catch (const json::exception& e) {
            fail(where_, "unexpected JSON structure: ", e.what());
        }
    }

private:
    Tokenizer& t_;
    const std::string& where_;
    std::vector<std::pair<int32_t, std::string>> bytes_;  // (id, raw bytes) of every token
    StreamedModel streamed_;                               // model.vocab and model.merges

    // Packs the tokens' bytes into one string indexed by offsets; an added token that is also a
    // vocab entry comes later in bytes_ and wins (its content is the same string anyway).
    void store_token_bytes() {
        std::vector<const std::string*> by_id(t_.token_kind_.size(), nullptr);
        for (const auto& [id, bytes] : bytes_) by_id[size_t(id)] = &bytes;
        t_.token_offsets_.assign(by_id.size() + 1, 0);
        for (size_t id = 0; id < by_id.size(); ++id) {
            if (by_id[id]) t_.token_text_ += *by_id[id];
            if (t_.token_text_.size() > UINT32_MAX) fail(where_, "tokens hold more than 4 GiB of text");
            t_.token_offsets_[id + 1] = uint32_t(t_.token_text_.size());
        }
    }

    const json& member(const json& object, const char* key, const std::string& field) {
        if (!object.is_object()) fail(where_, field.substr(0, field.rfind('.')), ": not a JSON object");
        auto it = object.find(key);
        if (it == object.end()) fail(where_, field, ": missing");
        return *it;
    }
    const json* optional_member(const json& object, const char* key) {
        auto it = object.find(key);
        return it == object.end() || it->is_null() ? nullptr : &*it;
    }
    bool flag(const json& object, const char* key, const std::string& field, bool fallback) {
        const json* v = optional_member(object, key);
        if (!v) return fallback;
        if (!v->is_boolean()) fail(where_, field, ": expected true or false, found ", v->dump());
        return v->get<bool>();
    }
    std::string string_of(const json& v, const std::string& field) {
        if (!v.is_string()) fail(where_, field, ": expected a string, found ", v.dump().substr(0, 80));
        return v.get<std::string>();
    }
    std::string type_of(const json& object, const std::string& field) {
        if (!object.is_object()) fail(where_, field, ": expected an object, found ", object.dump().substr(0, 80));
        auto it = object.find("type");
        if (it == object.end()) fail(where_, field, ".type: missing");
        return string_of(*it, field + ".type");
    }
    int32_t id_of(const json& v, const std::string& field) {
        if (!v.is_number_integer()) fail(where_, field, ": expected an integer id, found ", v.dump().substr(0, 80));
        if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(kMaxId))
            fail(where_, field, ": id ", v.get<uint64_t>(), " out of range [0, ", kMaxId, "]");
        const int64_t id = v.get<int64_t>();
        if (id < 0 || id > kMaxId) fail(where_, field, ": id ", id, " out of range [0, ", kMaxId, "]");
        return int32_t(id);
    }
    void check_null_or_absent(const json& object, const char* key) {
        if (const json* v = optional_member(object, key))
            fail(where_, key, ": only null is supported, found ", v->dump().substr(0, 80));
    }

    void load_model(const json& model) {
        if (!model.is_object()) fail(where_, "model: expected an object");
        auto type = model.find("type");
        if (type == model.end() || type->is_null()) fail(where_, "model type missing (model.type)");
        const std::string type_name = string_of(*type, "model.type");
        if (type_name != "BPE")
            fail(where_, "unsupported model type ", shown(type_name), " (model.type; only BPE is implemented)");
        if (const json* v = optional_member(model, "dropout"))
            fail(where_, "model.dropout: only null is supported, found ", v->dump());
        if (const json* v = optional_member(model, "unk_token"))
            fail(where_, "model.unk_token: only null is supported (byte-level BPE needs none), found ", v->dump());
        if (flag(model, "byte_fallback", "model.byte_fallback", false))
            fail(where_, "model.byte_fallback: only false is supported");
        for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
            if (const json* v = optional_member(model, key))
                if (string_of(*v, std::string("model.") + key) != "")
                    fail(where_, "model.", key, ": only \"\" or null is supported, found ", v->dump());
        t_.ignore_merges_ = flag(model, "ignore_merges", "model.ignore_merges", false);
        // Streamed when they have the right type; otherwise they are in the tree, and wrong.
        if (!streamed_.has_vocab) {
            member(model, "vocab", "model.vocab");
            fail(where_, "model.vocab: expected an object {token: id}");
        }
        if (!streamed_.has_merges) {
            member(model, "merges", "model.merges");
            fail(where_, "model.merges: expected a list");
        }
        load_vocab(streamed_.vocab);
        load_merges(streamed_.merges);
    }

    void load_vocab(const std::vector<std::pair<std::string, json>>& vocab) {
        int32_t max_id = -1;
        for (const auto& [spelling, id] : vocab)
            max_id = std::max(max_id, id_of(id, "model.vocab[" + shown(spelling) + "]"));
        t_.token_kind_.assign(size_t(max_id + 1), kUnknown);
        t_.vocab_ = std::make_unique<SpellingIndex>(vocab.size());
        bytes_.reserve(vocab.size());
        for (const auto& [spelling, value] : vocab) {
            const int32_t id = value.get<int32_t>();
            if (t_.token_kind_[size_t(id)] != kUnknown)
                fail(where_, "model.vocab: id ", id, " is given to both ", shown(token_string(id)), " and ",
                     shown(spelling));
            t_.token_kind_[size_t(id)] = kVocab;
            if (!t_.vocab_->insert(spelling, id)) fail(where_, "model.vocab: ", shown(spelling), " appears twice");
            bytes_.emplace_back(id, bytes_of_token_string(spelling));
        }
        for (int b = 0; b < 256; ++b) {
            const std::string spelling = byte_level::encode(std::string(1, char(b)));
            const std::optional<int32_t> id = t_.vocab_->find(spelling);
            if (!id)
                fail(where_, "model.vocab: no token for byte ", b, " (", shown(spelling),
                     "); a byte-level BPE without unk_token needs all 256");
            t_.byte_ids_[b] = *id;
        }
        if (t_.ignore_merges_)
            for (const auto& [id, bytes] : bytes_) t_.bytes_to_id_.emplace(bytes, id);
    }

    // The vocab spelling of id (for messages; ids here are known vocab ids).
    std::string token_string(int32_t id) { return t_.vocab_->spelling_of(id); }

    int32_t vocab_id(std::string_view token, size_t index, const char* what) {
        const std::optional<int32_t> id = t_.vocab_->find(token);
        if (!id)
            fail(where_, "model.merges[", index, "]: ", what, " ", shown(token), " is not in the vocab");
        return *id;
    }

    void load_merges(const std::vector<json>& merges) {
        t_.merges_ = std::make_unique<MergeTable>(merges.size());
        t_.merge_count_ = merges.size();
        std::string merged;
        for (size_t i = 0; i < merges.size(); ++i) {
            const json& m = merges[i];
            std::string_view left, right;
            if (m.is_string()) {  // "left right"
                const std::string& s = m.get_ref<const std::string&>();
                const size_t space = s.find(' ');
                if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
                    fail(where_, "model.merges[", i, "]: ", shown(s), " is not two tokens separated by one space");
                left = std::string_view(s).substr(0, space);
                right = std::string_view(s).substr(space + 1);
            } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // ["left", "right"]
                left = m[0].get_ref<const std::string&>();
                right = m[1].get_ref<const std::string&>();
            } else {
                fail(where_, "model.merges[", i, "]: expected \"left right\" or [\"left\", \"right\"], found ",
                     m.dump().substr(0, 80));
            }
            const int32_t left_id = vocab_id(left, i, "token");
            const int32_t right_id = vocab_id(right, i, "token");
            merged.assign(left).append(right);
            const int32_t merged_id = vocab_id(merged, i, "merged token");
            t_.merges_->insert(left_id, right_id, uint32_t(i), merged_id);
        }
    }

    void load_normalizer(const json& root) {
        const json* normalizer = optional_member(root, "normalizer");
        if (!normalizer) return;
        const std::string type = type_of(*normalizer, "normalizer");
        if (type == "NFC") {
            t_.nfc_ = true;
            return;
        }
        if (type == "Sequence") {
            const json& list = member(*normalizer, "normalizers", "normalizer.normalizers");
            if (!list.is_array()) fail(where_, "normalizer.normalizers: expected a list");
            for (size_t i = 0; i < list.size(); ++i) {
                const std::string inner = type_of(list[i], "normalizer.normalizers[" + std::to_string(i) + "]");
                if (inner != "NFC")
                    fail(where_, "normalizer.normalizers[", i, "]: unsupported normalizer ", shown(inner),
                         " (only NFC is implemented)");
                t_.nfc_ = true;
            }
            return;
        }
        fail(where_, "normalizer: unsupported normalizer ", shown(type), " (only null or NFC is implemented)");
    }

    // Only Qwen2's: Sequence[Split(kQwen2Pattern, Isolated), ByteLevel(add_prefix_space=false, use_regex=false)].
    void load_pre_tokenizer(const json& root) {
        const char* expected = " (expected Qwen2's Sequence[Split(regex, Isolated), ByteLevel(use_regex=false)])";
        const json* pre = optional_member(root, "pre_tokenizer");
        if (!pre) fail(where_, "pre_tokenizer: missing or null", expected);
        const std::string type = type_of(*pre, "pre_tokenizer");
        if (type != "Sequence") fail(where_, "pre_tokenizer: unsupported pre-tokenizer ", shown(type), expected);
        const json& list = member(*pre, "pretokenizers", "pre_tokenizer.pretokenizers");
        if (!list.is_array() || list.size() != 2)
            fail(where_, "pre_tokenizer.pretokenizers: expected 2 entries, found ", list.is_array() ? list.size() : 0,
                 expected);

        const json& split = list[0];
        const std::string split_type = type_of(split, "pre_tokenizer.pretokenizers[0]");
        if (split_type != "Split")
            fail(where_, "pre_tokenizer.pretokenizers[0]: unsupported pre-tokenizer ", shown(split_type), expected);
        const json& pattern = member(split, "pattern", "pre_tokenizer.pretokenizers[0].pattern");
        const json* regex = pattern.is_object() ? optional_member(pattern, "Regex") : nullptr;
        if (!regex || !regex->is_string() || regex->get<std::string>() != kQwen2Pattern)
            fail(where_, "pre_tokenizer.pretokenizers[0].pattern: only Qwen2's regex is implemented, found ",
                 pattern.dump().substr(0, 120));
        const json& behavior = member(split, "behavior", "pre_tokenizer.pretokenizers[0].behavior");
        if (string_of(behavior, "pre_tokenizer.pretokenizers[0].behavior") != "Isolated")
            fail(where_, "pre_tokenizer.pretokenizers[0].behavior: only \"Isolated\" is implemented, found ",
                 behavior.dump());
        if (flag(split, "invert", "pre_tokenizer.pretokenizers[0].invert", false))
            fail(where_, "pre_tokenizer.pretokenizers[0].invert: only false is implemented");

        const json& byte_level = list[1];
        const std::string byte_level_type = type_of(byte_level, "pre_tokenizer.pretokenizers[1]");
        if (byte_level_type != "ByteLevel")
            fail(where_, "pre_tokenizer.pretokenizers[1]: unsupported pre-tokenizer ", shown(byte_level_type),
                 expected);
        if (flag(byte_level, "add_prefix_space", "pre_tokenizer.pretokenizers[1].add_prefix_space", true))
            fail(where_, "pre_tokenizer.pretokenizers[1].add_prefix_space: only false is implemented");
        if (flag(byte_level, "use_regex", "pre_tokenizer.pretokenizers[1].use_regex", true))
            fail(where_, "pre_tokenizer.pretokenizers[1].use_regex: only false is implemented (the Split splits)");
    }

    void load_post_processor(const json& root) {
        const json* post = optional_member(root, "post_processor");
        if (!post) return;
        const std::string type = type_of(*post, "post_processor");
        if (type != "ByteLevel")  // it only adjusts offsets; anything else would add tokens
            fail(where_, "post_processor: unsupported post-processor ", shown(type), " (only null or ByteLevel)");
    }

    void load_decoder(const json& root) {
        const json* decoder = optional_member(root, "decoder");
        if (!decoder) fail(where_, "decoder: missing or null (expected ByteLevel)");
        const std::string type = type_of(*decoder, "decoder");
        if (type != "ByteLevel")
            fail(where_, "decoder: unsupported decoder ", shown(type), " (only ByteLevel is implemented)");
    }

    void load_added_tokens(const json& root) {
        const json* list = optional_member(root, "added_tokens");
        t_.raw_matcher_ = std::make_unique<AddedTokenMatcher>();
        t_.normalized_matcher_ = std::make_unique<AddedTokenMatcher>();
        if (list) {
            if (!list->is_array()) fail(where_, "added_tokens: expected a list");
            for (size_t i = 0; i < list->size(); ++i) add_token((*list)[i], "added_tokens[" + std::to_string(i) + "]");
        }
        t_.raw_matcher_->finish();
        t_.normalized_matcher_->finish();
    }

    void add_token(const json& entry, const std::string& field) {
        if (!entry.is_object()) fail(where_, field, ": expected an object");
        AddedToken token;
        token.id = id_of(member(entry, "id", field + ".id"), field + ".id");
        token.content = string_of(member(entry, "content", field + ".content"), field + ".content");
        const std::string name = field + " (" + shown(token.content) + ")";
        if (token.content.empty()) fail(where_, field, ".content: empty");
        token.special = flag(entry, "special", field + ".special", false);
        token.normalized = flag(entry, "normalized", field + ".normalized", !token.special);
        token.lstrip = flag(entry, "lstrip", field + ".lstrip", false);
        token.rstrip = flag(entry, "rstrip", field + ".rstrip", false);
        if (flag(entry, "single_word", field + ".single_word", false))
            fail(where_, name, ": single_word=true is not supported");
        // The library matches and decodes a normalized token by its normalized content.
        if (token.normalized && t_.nfc_) token.content = unicode::nfc(token.content);

        for (const AddedToken& other : t_.added_tokens_) {
            if (other.content == token.content) fail(where_, name, ": same content as the token with id ", other.id);
            if (other.id == token.id)
                fail(where_, name, ": id ", token.id, " is already used by ", shown(other.content));
        }
        const std::optional<int32_t> in_vocab = t_.vocab_->find(token.content);
        if (in_vocab && *in_vocab != token.id)
            fail(where_, name, ": has id ", token.id, " but the vocab gives it id ", *in_vocab);
        if (size_t(token.id) < t_.token_kind_.size() && t_.token_kind_[size_t(token.id)] == kVocab && !in_vocab)
            fail(where_, name, ": id ", token.id, " is already the vocab token ", shown(token_string(token.id)));

        if (size_t(token.id) >= t_.token_kind_.size()) t_.token_kind_.resize(size_t(token.id) + 1, kUnknown);
        bytes_.emplace_back(token.id, bytes_of_token_string(token.content));
        t_.token_kind_[size_t(token.id)] = token.special ? kSpecial : kAdded;
        (token.normalized ? t_.normalized_matcher_ : t_.raw_matcher_)->add(token.content, t_.added_tokens_.size());
        t_.added_tokens_.push_back(std::move(token));
    }
};

Tokenizer Tokenizer::from_json(std::string_view json_text, const std::string& where) {
    Tokenizer t;
    t.where_ = where;
    t.cache_ = std::make_unique<PieceCache>();
    Loader(t, t.where_).load(json_text);
    return t;
}

Tokenizer Tokenizer::from_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, "cannot open tokenizer file");
    std::ostringstream text;
    text << in.rdbuf();
    if (!in.good() && !in.eof()) fail(path, "read error");
    return from_json(text.str(), path);
}

}  // namespace fastvlm
