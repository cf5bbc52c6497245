// conv_qwen_2.get_prompt() for one user turn (image first, then the question) and an open
// assistant turn: system + sep, then role + message + sep, then the bare assistant role.
#include "tokenizer/prompt.h"

#include "runtime/error.h"
#include "tokenizer/tokenizer.h"

namespace fastvlm {

namespace {

constexpr std::string_view kSystem = "<|im_start|>system\nYou are a helpful assistant.";
constexpr std::string_view kUserRole = "<|im_start|>user\n";
constexpr std::string_view kAssistantRole = "<|im_start|>assistant\n";
constexpr std::string_view kSeparator = "<|im_end|>\n";
constexpr std::string_view kImageToken = "<image>";  // llava DEFAULT_IMAGE_TOKEN; not a vocab token

// The prompt is before_image() + "<image>" + after_image(): the system turn and the user role,
// then the "\n" that follows the image, the question, and the open assistant turn.
std::string before_image() {
    std::string text;
    text.append(kSystem).append(kSeparator).append(kUserRole);
    return text;
}

std::string after_image(std::string_view question, bool with_image) {
    std::string text = with_image ? "\n" : "";
    text.append(question).append(kSeparator).append(kAssistantRole);
    return text;
}

}  // namespace

std::string fastvlm_prompt_text(std::string_view question, bool with_image) {
    std::string text = before_image();
    if (with_image) text.append(kImageToken);
    return text + after_image(question, with_image);
}

PromptIds fastvlm_prompt_ids(const Tokenizer& tokenizer, std::string_view question, bool with_image,
                             int32_t image_placeholder) {
    PromptIds prompt;
    if (!with_image) {
        prompt.ids = tokenizer.encode(before_image() + after_image(question, false));
        return prompt;
    }
    if (tokenizer.is_known(image_placeholder))
        fail("prompt", "image placeholder id ", image_placeholder, " is a real token of ", tokenizer.source());
    prompt.ids = tokenizer.encode(before_image());
    prompt.image_position = int(prompt.ids.size());
    prompt.ids.push_back(image_placeholder);
    const std::vector<int32_t> rest = tokenizer.encode(after_image(question, true));
    prompt.ids.insert(prompt.ids.end(), rest.begin(), rest.end());
    return prompt;
}

}  // namespace fastvlm
