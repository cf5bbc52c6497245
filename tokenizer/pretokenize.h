// The Qwen2 pre-tokenizer split, matched by hand (no regex library):
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// with "Isolated" behaviour: every match is a piece and so is any text between matches.
#pragma once
#include <string_view>
#include <vector>

namespace fastvlm {

// Pieces are views into `text`; concatenated they give `text` back exactly. None is empty.
// A byte that is not valid UTF-8 counts as one character of class "other" (as U+FFFD would).
std::vector<std::string_view> qwen2_pretokenize(std::string_view text);

}  // namespace fastvlm
