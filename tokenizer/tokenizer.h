// Byte-level BPE tokenizer (Qwen2) read from a Hugging Face tokenizer.json, matching the
// `tokenizers` library id for id:
//   added tokens matched first (leftmost-longest) -> NFC -> Qwen2 regex split -> bytes as
//   GPT-2 alphabet characters -> rank-based BPE.
// Only the configuration Qwen2 uses is accepted; anything else is rejected at load time with a
// message naming the file and the field.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fastvlm {

// An entry of tokenizer.json's added_tokens: matched as a whole string before anything else.
struct AddedToken {
    int32_t id = 0;
    std::string content;      // NFC-normalized when `normalized` and the normalizer is NFC
    bool special = false;     // dropped by decode(..., skip_special = true)
    bool normalized = false;  // matched in the normalized text instead of the raw text
    bool lstrip = false;      // the match swallows the whitespace on its left
    bool rstrip = false;      // ... and on its right
};

class Tokenizer {
public:
    // Throws fastvlm::Error naming `path` (and the field) when the file is unreadable, not
    // UTF-8, not JSON, or describes a tokenizer this class does not implement.
    static Tokenizer from_file(const std::string& path);
    // The same from text already in memory; `where` names it in error messages.
    static Tokenizer from_json(std::string_view json_text, const std::string& where);

    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

    // Ids for `text` (no BOS/EOS is added; Qwen2 has none). Invalid UTF-8 is tokenized byte by
    // byte like any other text, so decode() gives it back with U+FFFD in place of the bad bytes.
    std::vector<int32_t> encode(std::string_view text) const;

    // Text for `ids`: the tokens' bytes joined, then decoded as UTF-8 with each ill-formed
    // sequence replaced by U+FFFD. Throws on an id that names no token.
    std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

    // The bytes token `id` contributes to decoded text. Throws on an unknown id.
    std::string_view token_bytes(int32_t id) const;
    bool is_known(int32_t id) const;
    bool is_special(int32_t id) const;  // false for unknown ids

    // Id of an added token's content or of a vocab entry in its stored (byte-level) spelling.
    std::optional<int32_t> token_id(std::string_view token) const;

    int32_t id_limit() const { return int32_t(token_kind_.size()); }  // every id is below this
    size_t vocab_size() const;  // model vocab, without added tokens
    size_t merge_count() const { return merge_count_; }
    const std::vector<AddedToken>& added_tokens() const { return added_tokens_; }
    const std::string& source() const { return where_; }

private:
    struct MergeTable;
    struct SpellingIndex;
    struct AddedTokenMatcher;
    struct PieceCache;
    struct Scratch;
    class Loader;

    Tokenizer();
    void encode_piece(std::string_view piece, std::vector<int32_t>& out, Scratch& scratch) const;
    void encode_text(std::string_view text, std::vector<int32_t>& out, Scratch& scratch) const;
    template <typename OnText, typename OnToken>
    void split_on_added(std::string_view text, const AddedTokenMatcher& matcher, OnText&& on_text,
                        OnToken&& on_token) const;

    std::string where_;                                  // file name for error messages
    std::unique_ptr<SpellingIndex> vocab_;               // byte-level spelling -> id
    std::vector<uint8_t> token_kind_;                    // [id_limit] 0 unknown, 1 vocab, 2 added, 3 special
    std::string token_text_;                             // every token's raw bytes, back to back
    std::vector<uint32_t> token_offsets_;                // [id_limit + 1] id's bytes: [offsets[id], offsets[id + 1])
    int32_t byte_ids_[256] = {};                         // id of each single-byte token
    std::unique_ptr<MergeTable> merges_;                 // (left id, right id) -> (rank, merged id)
    size_t merge_count_ = 0;
    bool ignore_merges_ = false;                         // a piece found whole in the vocab skips BPE
    std::unordered_map<std::string, int32_t> bytes_to_id_;  // raw bytes -> id, for ignore_merges
    bool nfc_ = false;
    std::vector<AddedToken> added_tokens_;
    std::unique_ptr<AddedTokenMatcher> raw_matcher_;         // tokens with normalized = false
    std::unique_ptr<AddedTokenMatcher> normalized_matcher_;  // tokens with normalized = true
    std::unique_ptr<PieceCache> cache_;                      // piece bytes -> ids; pieces repeat
};

}  // namespace fastvlm
