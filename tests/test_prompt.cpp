// FastVLM qwen_2 prompt: the text of llava's conv_qwen_2 and its chunk-wise tokenization.
#include "tests/test_util.h"
#include "tokenizer/prompt.h"
#include "tokenizer/tokenizer.h"

using fastvlm::Tokenizer;
using Ids = std::vector<int32_t>;

namespace {

const Tokenizer& tiny() {
    static const Tokenizer t = Tokenizer::from_file("tests/golden/tokenizer/tiny_tokenizer.json");
    return t;
}

Ids concat(Ids a, int32_t middle, const Ids& b) {
    a.push_back(middle);
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

}  // namespace

TEST_CASE("prompt: text is llava's qwen_2 conversation") {
    // The string predict.py builds (spec: fastvlm.md section 7).
    CHECK(fastvlm::fastvlm_prompt_text(fastvlm::kDefaultQuestion) ==
          "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>\nDescribe the "
          "image.<|im_end|>\n<|im_start|>assistant\n");
    CHECK(fastvlm::fastvlm_prompt_text("Hi?", false) ==
          "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n"
          "<|im_start|>assistant\n");
}

TEST_CASE("prompt: FastVLM ids of the spec with the real tokenizer") {
    const std::string path = test::shared_data() + "/qwen2-tokenizer/tokenizer.json";
    if (test::shared_data().empty() || !test::exists(path)) SKIP_TEST("needs ../shared/data/qwen2-tokenizer");
    const Tokenizer tok = Tokenizer::from_file(path);
    const fastvlm::PromptIds prompt = fastvlm::fastvlm_prompt_ids(tok, "Describe the image.");
    CHECK(prompt.ids == Ids{151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872,
                            198, -200, 198, 74785, 279, 2168, 13, 151645, 198, 151644, 77091, 198});
    CHECK(prompt.image_position == 14);
}

TEST_CASE("prompt: the text around the image is tokenized chunk by chunk") {
    const std::string question = "What is on the table?";
    const fastvlm::PromptIds prompt = fastvlm::fastvlm_prompt_ids(tiny(), question);
    const std::string text = fastvlm::fastvlm_prompt_text(question);
    const size_t image = text.find("<image>");
    const Ids before = tiny().encode(text.substr(0, image));
    const Ids after = tiny().encode(text.substr(image + 7));
    CHECK(prompt.ids == concat(before, -200, after));
    CHECK(prompt.image_position == int(before.size()));
    CHECK(prompt.ids[size_t(prompt.image_position)] == -200);
    // "\n" right after the image is a token of its own, not merged with the question.
    CHECK(prompt.ids[size_t(prompt.image_position) + 1] == *tiny().token_id("\xC4\x8A"));  // 'Ċ'
}

TEST_CASE("prompt: text-only prompt has no placeholder") {
    const fastvlm::PromptIds prompt = fastvlm::fastvlm_prompt_ids(tiny(), "Tell me a joke.", false);
    CHECK(prompt.image_position == -1);
    CHECK(prompt.ids == tiny().encode(fastvlm::fastvlm_prompt_text("Tell me a joke.", false)));
    for (int32_t id : prompt.ids) CHECK(id >= 0);
}

TEST_CASE("prompt: placeholder id is a parameter and may not be a real token") {
    const fastvlm::PromptIds prompt = fastvlm::fastvlm_prompt_ids(tiny(), "x", true, -7);
    CHECK(prompt.ids[size_t(prompt.image_position)] == -7);
    const std::string e = test::error_of([] { fastvlm::fastvlm_prompt_ids(tiny(), "x", true, 1257); });
    CHECK(e.find("image placeholder id 1257 is a real token") != std::string::npos);
}

TEST_CASE("prompt: <image> inside the question stays text") {
    const fastvlm::PromptIds prompt = fastvlm::fastvlm_prompt_ids(tiny(), "Is <image> a tag?");
    size_t placeholders = 0;
    for (int32_t id : prompt.ids) placeholders += id == fastvlm::kImagePlaceholderId;
    CHECK(placeholders == 1);
    const Ids after(prompt.ids.begin() + prompt.image_position + 1, prompt.ids.end());
    CHECK(tiny().decode(after) == "\nIs <image> a tag?<|im_end|>\n<|im_start|>assistant\n");
}
