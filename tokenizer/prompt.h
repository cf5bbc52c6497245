// The FastVLM "qwen_2" conversation (llava/conversation.py conv_qwen_2, as predict.py uses it)
// built in code and tokenized the way llava's tokenizer_image_token does: the text before and
// after "<image>" are tokenized separately and joined by a placeholder id that the runtime
// replaces with the vision-projector embeddings.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fastvlm {

class Tokenizer;

constexpr int32_t kImagePlaceholderId = -200;  // llava IMAGE_TOKEN_INDEX
constexpr std::string_view kDefaultQuestion = "Describe the image.";

struct PromptIds {
    std::vector<int32_t> ids;  // [n_prompt_tokens], the placeholder included
    int image_position = -1;   // index of the placeholder in ids; -1 for a text-only prompt
};

// The prompt as text, "<image>" marking where the image goes:
//   <|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>\n{question}<|im_end|>\n<|im_start|>assistant\n
// Without an image the "<image>\n" line is left out.
std::string fastvlm_prompt_text(std::string_view question, bool with_image = true);

// The prompt's ids. "<image>" inside `question` is ordinary text, not a second image. The
// placeholder must not be a real token id (throws fastvlm::Error otherwise).
PromptIds fastvlm_prompt_ids(const Tokenizer& tokenizer, std::string_view question, bool with_image = true,
                             int32_t image_placeholder = kImagePlaceholderId);

}  // namespace fastvlm
