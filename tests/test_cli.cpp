// The fastvlm command line, run in-process: the tiny golden model answers the golden prompt and
// image with transformers' greedy text, text-only prompts work, bad arguments are one-line errors.
#include <cmath>
#include <sstream>

#include "runtime/cli.h"
#include "tests/golden_compare.h"
#include "tests/test_util.h"
#include "tokenizer/tokenizer.h"

using namespace fastvlm;

namespace {

const char* kTinyDir = "tests/golden/fastvlm_tiny";
const char* kTinyTokenizer = "tests/golden/tokenizer/tiny_tokenizer.json";

struct CliRun {
    int status = 0;
    std::string out, err;
};

CliRun run(const std::vector<std::string>& args) {
    std::ostringstream out, err;
    CliRun r;
    r.status = run_cli(args, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
}

// A model directory: the tiny llava checkpoint and config plus the tiny tokenizer.
std::string tiny_model_dir() {
    const std::string dir = test::temp_dir("cli_model");
    for (const char* name : {"config.json", "model.safetensors"})
        test::write_file(dir + "/" + name, test::read_file(std::string(kTinyDir) + "/llava/" + name));
    test::write_file(dir + "/tokenizer.json", test::read_file(kTinyTokenizer));
    return dir;
}

void put_u32(std::string& s, uint32_t v) {
    for (int i = 0; i < 4; ++i) s.push_back(char((v >> (8 * i)) & 0xff));
}

// The reference pixel values (k / 255 levels) as a 24-bit BMP file.
std::string write_reference_bmp(const std::string& path) {
    const test::Reference ref(std::string(kTinyDir) + "/reference.safetensors");
    const std::vector<float> pixels = ref.floats("pixel_values");  // [1, 3, H, W]
    const int h = int(ref.shape("pixel_values")[2]), w = int(ref.shape("pixel_values")[3]);
    const int row_bytes = (3 * w + 3) / 4 * 4;
    std::string bmp = "BM";
    put_u32(bmp, uint32_t(54 + row_bytes * h));
    put_u32(bmp, 0);
    put_u32(bmp, 54);
    put_u32(bmp, 40);
    put_u32(bmp, uint32_t(w));
    put_u32(bmp, uint32_t(h));
    bmp += std::string("\x01\x00\x18\x00", 4);  // 1 plane, 24 bits
    for (int i = 0; i < 6; ++i) put_u32(bmp, 0);
    for (int y = h - 1; y >= 0; --y) {  // bottom-up rows of B, G, R
        std::string row;
        for (int x = 0; x < w; ++x)
            for (int c = 2; c >= 0; --c)
                row.push_back(char(int(std::lround(pixels[size_t((c * h + y) * w + x)] * 255.0f))));
        row.resize(size_t(row_bytes), '\0');
        bmp += row;
    }
    test::write_file(path, bmp);
    return path;
}

}  // namespace

TEST_CASE("cli: the tiny model answers the golden image and prompt with transformers' greedy text") {
    const std::string dir = tiny_model_dir();
    const std::string image = write_reference_bmp(dir + "/image.bmp");
    const CliRun r = run({"--model", dir, "--image", image, "--prompt", "Describe the image.", "--max-new-tokens", "32"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    const test::Reference ref(std::string(kTinyDir) + "/reference.safetensors");
    const Tokenizer tokenizer = Tokenizer::from_file(kTinyTokenizer);
    CHECK(r.out == tokenizer.decode(ref.ints("generated_ids"), true) + "\n");
    for (const char* line : {"load: ", "vision: ", "time to first token: ", "decode: 31 steps, ", "ms/token",
                             "generated: 32 tokens, reached --max-new-tokens", "peak memory: "})
        CHECK(r.err.find(line) != std::string::npos);
}

TEST_CASE("cli: a text-only prompt runs without an image") {
    const std::string dir = tiny_model_dir();
    const CliRun r = run({"--model", dir, "--prompt", "Hello there", "--max-new-tokens", "5", "--temperature", "0.8",
                          "--seed", "7", "--top-k", "20", "--top-p", "0.9", "--kv-cache", "f16", "--threads", "1",
                          "--mmap-weights"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err.find("vision: none (text-only prompt)") != std::string::npos);
    CHECK(r.err.find("of which weights 0.0 MiB") != std::string::npos);  // all read in place
    CHECK(!r.out.empty());
    // The same seed gives the same text, with weights copied or read in place, on 1 or 2 threads.
    const CliRun again = run({"--model", dir, "--prompt", "Hello there", "--max-new-tokens", "5", "--temperature",
                              "0.8", "--seed", "7", "--top-k", "20", "--top-p", "0.9", "--kv-cache", "f16"});
    CHECK(again.out == r.out);
    CHECK(again.err.find("of which weights 0.0 MiB") == std::string::npos);  // some were copied
}

TEST_CASE("cli: argument errors are one line plus the usage, exit status 2") {
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const Case cases[] = {
        {{}, "fastvlm: --model DIR is required"},
        {{"--model"}, "fastvlm: --model needs a value"},
        {{"--model", "m", "--frobnicate", "1"}, "fastvlm: unknown option '--frobnicate'"},
        {{"--model", "m", "stray"}, "fastvlm: unexpected argument 'stray'"},
        {{"--model", "m", "--max-new-tokens", "ten"}, "fastvlm: --max-new-tokens: 'ten' is not an integer"},
        {{"--model", "m", "--max-new-tokens", "-1"}, "fastvlm: --max-new-tokens: -1 is outside 0 .. 1048576"},
        {{"--model", "m", "--max-new-tokens", "12x"}, "fastvlm: --max-new-tokens: '12x' is not an integer"},
        {{"--model", "m", "--temperature", "warm"}, "fastvlm: --temperature: 'warm' is not a number"},
        {{"--model", "m", "--temperature", "-0.5"}, "fastvlm: --temperature: must be >= 0"},
        {{"--model", "m", "--top-p", "1.5"}, "fastvlm: --top-p: must be in (0, 1]"},
        {{"--model", "m", "--threads", "0"}, "fastvlm: --threads: 0 is outside 1 .. 1024"},
        {{"--model", "m", "--kv-cache", "f8"}, "fastvlm: --kv-cache: 'f8' is not f32 or f16"},
        {{"--model", "m", "--gemm", "cublas"}, "fastvlm: --gemm: 'cublas' is not own or cublaslt"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.message);
        const CliRun r = run(c.args);
        CHECK(r.status == 2);
        CHECK(r.err.rfind(c.message + "\n", 0) == 0);
        CHECK(r.err.find("usage: fastvlm --model DIR") != std::string::npos);
        CHECK(r.out.empty());
    }
}

TEST_CASE("cli: run failures name the file and exit with status 1") {
    const CliRun missing = run({"--model", "build/test-tmp/no-such-model"});
    CHECK(missing.status == 1);
    CHECK(missing.err.rfind("fastvlm: build/test-tmp/no-such-model/config.json", 0) == 0);
    CHECK(missing.err.find('\n') == missing.err.size() - 1);  // one line

    const std::string dir = tiny_model_dir();
    const CliRun image = run({"--model", dir, "--image", dir + "/absent.png"});
    CHECK(image.status == 1);
    CHECK(image.err.find("absent.png") != std::string::npos);

    const CliRun backend = run({"--model", dir, "--backend", "tpu"});
    CHECK(backend.status == 1);
    CHECK(backend.err == "fastvlm: backend: unknown backend 'tpu' (known: cpu)\n");

    const CliRun gemm = run({"--model", dir, "--gemm", "cublaslt"});
    CHECK(gemm.status == 1);
    CHECK(gemm.err == "fastvlm: cpu backend: cuBLASLt GEMMs need the CUDA backend; the CPU backend has only its own\n");

    const CliRun context = run({"--model", dir, "--max-new-tokens", "600"});
    CHECK(context.status == 1);
    CHECK(context.err.find("exceeds the context limit of 512 positions") != std::string::npos);
}

TEST_CASE("cli: --help prints the usage") {
    const CliRun r = run({"--help"});
    CHECK(r.status == 0);
    CHECK(r.out.rfind("usage: fastvlm --model DIR", 0) == 0);
    CHECK(r.err.empty());
}
