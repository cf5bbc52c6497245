#include "tests/test_util.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "loader/safetensors.h"
#include "runtime/half.h"

using namespace fastvlm;

namespace {

// A safetensors image assembled byte by byte: 8-byte little-endian header length, header, data.
std::string image(const std::string& header, const std::string& data = "") {
    std::string out;
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out += char((n >> (8 * i)) & 0xff);
    return out + header + data;
}

// One F32 [2] tensor named `name` at [begin, end), for building headers with several entries.
std::string f32_entry(const std::string& name, int begin, int end) {
    return "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[" + std::to_string((end - begin) / 4) +
           "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
}

// `bytes` written to a fresh file; error() is the full message opening it gives ("<path>: ...").
struct BadFile {
    std::string path;
    explicit BadFile(const std::string& bytes) {
        path = test::temp_dir("safetensors_bad") + "/bad.safetensors";
        test::write_file(path, bytes);
    }
    std::string error() const {
        return test::error_of([&] { SafetensorsFile f(path); });
    }
};

// The message for a header (and data) written to a file, with the path stripped off.
std::string problem_of(const std::string& header, const std::string& data = "") {
    BadFile f(image(header, data));
    std::string e = f.error();
    std::string prefix = f.path + ": ";
    if (e.compare(0, prefix.size(), prefix) != 0) return "(message does not start with the path) " + e;
    return e.substr(prefix.size());
}

std::vector<uint8_t> bytes_of(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    return std::vector<uint8_t>(b, b + n);
}

template <typename T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) { return bytes_of(v.data(), v.size() * sizeof(T)); }

}  // namespace

// ---------------------------------------------------------------- round trip

TEST_CASE("safetensors: writer round trip of every dtype, odd shapes and metadata") {
    std::string dir = test::temp_dir("safetensors_round_trip");
    std::string path = dir + "/all.safetensors";
    std::vector<TensorToWrite> written = {
        {"f32", DType::F32, {2, 3}, bytes_of(std::vector<float>{1, -2, 3.5f, 0, 1e-30f, -7})},
        {"f16", DType::F16, {3}, bytes_of(std::vector<uint16_t>{0x3c00, 0xc000, 0x7c00})},
        {"bf16", DType::BF16, {1, 1, 2}, bytes_of(std::vector<uint16_t>{0x3f80, 0x4049})},
        {"i8", DType::I8, {5}, bytes_of(std::vector<int8_t>{-128, -1, 0, 1, 127})},
        {"u8", DType::U8, {1}, bytes_of(std::vector<uint8_t>{255})},
        {"i16", DType::I16, {2}, bytes_of(std::vector<int16_t>{-32768, 32767})},
        {"i32", DType::I32, {}, bytes_of(std::vector<int32_t>{-123456789})},  // scalar
        {"i64", DType::I64, {2, 1}, bytes_of(std::vector<int64_t>{INT64_MIN, INT64_MAX})},
        {"bool", DType::BOOL, {3}, bytes_of(std::vector<uint8_t>{1, 0, 1})},
        {"empty", DType::F32, {0, 4}, {}},
        {"model.layers.0.self_attn.q_proj.weight", DType::F16, {1, 2}, bytes_of(std::vector<uint16_t>{1, 2})},
    };
    std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "\xc3\xa9t\xc3\xa9"}};
    write_safetensors(path, written, metadata);

    std::string raw = test::read_file(path);
    REQUIRE(raw.size() >= 8);
    uint64_t header_len = 0;
    std::memcpy(&header_len, raw.data(), 8);
    CHECK(header_len % 8 == 0);  // data section 8-byte aligned

    SafetensorsFile f(path);
    CHECK(f.path() == path);
    CHECK(f.metadata() == metadata);
    REQUIRE(f.tensors().size() == written.size());
    for (const TensorToWrite& w : written) {
        CAPTURE(w.name);
        const TensorView* t = f.find(w.name);
        REQUIRE(t != nullptr);
        CHECK(t->name == w.name);
        CHECK(t->file == path);
        CHECK(t->dtype == w.dtype);
        CHECK(t->shape == w.shape);
        CHECK(t->nbytes == w.bytes.size());
        CHECK(size_t(t->numel()) * dtype_size(t->dtype) == t->nbytes);
        CHECK(std::vector<uint8_t>(t->data, t->data + t->nbytes) == w.bytes);
    }
    CHECK(f.find("missing") == nullptr);
    CHECK(f.find("i32")->numel() == 1);
    CHECK(f.find("i32")->shape_string() == "[]");
    CHECK(f.find("empty")->numel() == 0);
    CHECK(f.find("empty")->shape_string() == "[0, 4]");
    CHECK(f.find("f32")->shape_string() == "[2, 3]");
}

TEST_CASE("safetensors: writer refuses a byte count that does not match the shape") {
    std::string path = test::temp_dir("safetensors_writer") + "/w.safetensors";
    CHECK(test::error_of([&] { write_safetensors(path, {{"a", DType::F32, {2}, {1, 2, 3}}}); }) ==
          path + ": cannot write tensor 'a': 3 bytes given but F32 [2] needs 8");
    CHECK(test::error_of([&] {
              write_safetensors(path, {{"a", DType::U8, {1}, {1}}, {"a", DType::U8, {1}, {1}}});
          }) == path + ": cannot write tensor 'a': empty, reserved or repeated name");
}

TEST_CASE("safetensors: parses from memory and accepts what the reference accepts") {
    // No tensors at all.
    std::string empty = image("{}");
    CHECK(parse_safetensors(reinterpret_cast<const uint8_t*>(empty.data()), empty.size(), "m")
              .tensors.empty());
    // Header padded with spaces, zero-size tensors before, between and after data, scalar,
    // unknown fields ignored, null metadata.
    std::string header =
        "{\"__metadata__\":null,"
        "\"z0\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
        "\"s\":{\"dtype\":\"I16\",\"shape\":[],\"data_offsets\":[0,2],\"extra\":[1,2]},"
        "\"z1\":{\"dtype\":\"BF16\",\"shape\":[3,0,5],\"data_offsets\":[2,2]},"
        "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
        "\"z2\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[4,4]}}   ";
    std::string bytes = image(header, std::string("\x01\x02\x03\x04", 4));
    SafetensorsContents c =
        parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "m");
    REQUIRE(c.tensors.size() == 5);
    CHECK(c.metadata.empty());
    // Tensors come in data-offset order.
    CHECK(c.tensors[0].name == "z0");
    CHECK(c.tensors[1].name == "s");
    CHECK(c.tensors[1].data[0] == 1);
    CHECK(c.tensors[3].name == "b");
    CHECK(c.tensors[3].nbytes == 2);
    CHECK(c.tensors[3].data[1] == 4);
    CHECK(c.tensors[2].shape == std::vector<int64_t>{3, 0, 5});
    CHECK(c.tensors[4].name == "z2");
    CHECK(c.tensors[4].nbytes == 0);
    CHECK(c.tensors[4].file == "m");
}

// ---------------------------------------------------------------- bad files

TEST_CASE("safetensors: rejects files too short for the header length") {
    BadFile empty("");
    CHECK(empty.error() == empty.path + ": file is 0 bytes, too short for the 8-byte header length");
    BadFile five(std::string("\x02\0\0\0\0", 5));
    CHECK(five.error() == five.path + ": file is 5 bytes, too short for the 8-byte header length");
}

TEST_CASE("safetensors: rejects a header length past the end of the file or over the limit") {
    BadFile past(image("{}").substr(0, 9));
    CHECK(past.error() == past.path + ": header length 2 runs past the end of the file (9 bytes)");
    std::string huge(8, '\0');
    huge[0] = '\x01';
    huge[7] = '\x7f';  // 0x7f00000000000001
    BadFile big(huge + "{}");
    CHECK(big.error() == big.path + ": header length 9151314442816847873 exceeds the limit of 100000000 bytes");
    std::string all_ones(8, '\xff');
    BadFile max(all_ones + "{}");
    CHECK(max.error() == max.path + ": header length 18446744073709551615 exceeds the limit of 100000000 bytes");
    BadFile over(std::string("\x01\xe1\xf5\x05\0\0\0\0{}", 10));  // 100'000'001

    CHECK(over.error() == over.path + ": header length 100000001 exceeds the limit of 100000000 bytes");
}

TEST_CASE("safetensors: rejects a header that is not UTF-8, not JSON or not an object") {
    CHECK(problem_of("{\"a\xff\":1}") == "header is not valid UTF-8 (byte 3 of the header)");
    CHECK(problem_of("{\"\xc0\xaf\":1}") == "header is not valid UTF-8 (byte 2 of the header)");  // overlong '/'
    CHECK(problem_of("{\"\xed\xa0\x80\":1}") == "header is not valid UTF-8 (byte 2 of the header)");  // surrogate
    CHECK(problem_of("{\"\xe2\x82") == "header is not valid UTF-8 (byte 2 of the header)");  // cut short
    std::string not_json = problem_of("{\"a\":");
    CHECK(not_json.rfind("header is not valid JSON: ", 0) == 0);
    CHECK(not_json.find('\n') == std::string::npos);
    CHECK(problem_of("").rfind("header is not valid JSON: ", 0) == 0);
    CHECK(problem_of("{} {}").rfind("header is not valid JSON: ", 0) == 0);
    CHECK(problem_of("[]") == "header is not a JSON object");
    CHECK(problem_of("\"x\"") == "header is not a JSON object");
}

TEST_CASE("safetensors: rejects a header nested deeper than 128 levels") {
    CHECK(problem_of(std::string(128, '[') + std::string(128, ']')) == "header is not a JSON object");
    CHECK(problem_of(std::string(129, '[') + std::string(129, ']')) == "header nests deeper than 128 levels");
    CHECK(problem_of("{\"__metadata__\":" + std::string(1000000, '[')) == "header nests deeper than 128 levels");
    std::string deep_objects;
    for (int i = 0; i < 200; ++i) deep_objects += "{\"a\":";
    CHECK(problem_of(deep_objects) == "header nests deeper than 128 levels");
}

TEST_CASE("safetensors: rejects duplicate keys") {
    CHECK(problem_of("{" + f32_entry("a", 0, 4) + "," + f32_entry("a", 4, 8) + "}", std::string(8, '\0')) ==
          "header has duplicate key 'a'");
    CHECK(problem_of("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}") == "header has duplicate key 'k'");
}

TEST_CASE("safetensors: rejects __metadata__ that is not an object of strings") {
    CHECK(problem_of("{\"__metadata__\":[\"a\"]}") == "__metadata__ is not an object");
    CHECK(problem_of("{\"__metadata__\":{\"k\":1}}") == "__metadata__ value for 'k' is not a string");
    CHECK(problem_of("{\"__metadata__\":{\"k\":{}}}") == "__metadata__ value for 'k' is not a string");
}

TEST_CASE("safetensors: rejects malformed entries, naming the tensor") {
    const std::string data(8, '\0');
    CHECK(problem_of("{\"w\":[1]}", data) == "tensor 'w': entry is not an object");
    CHECK(problem_of("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", data) == "tensor 'w': missing dtype");
    CHECK(problem_of("{\"w\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", data) ==
          "tensor 'w': dtype is not a string");
    CHECK(problem_of("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}", data) ==
          "tensor 'w': unknown dtype 'F8_E4M3'");
    CHECK(problem_of("{\"w\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data) ==
          "tensor 'w': unknown dtype 'f32'");
    CHECK(problem_of("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", data) == "tensor 'w': missing shape");
    CHECK(problem_of("{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", data) ==
          "tensor 'w': shape is not an array");
    CHECK(problem_of("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", data) ==
          "tensor 'w': shape [-2] is not a list of non-negative integers");
    CHECK(problem_of("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", data) ==
          "tensor 'w': shape [2.0] is not a list of non-negative integers");
    CHECK(problem_of("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", data) ==
          "tensor 'w': shape [\"2\"] is not a list of non-negative integers");
    CHECK(problem_of("{\"w\":{\"dtype\":\"F32\",\"shape\":[9223372036854775808],\"data_offsets\":[0,8]}}",
                     data) == "tensor 'w': shape [9223372036854775808] is not a list of non-negative integers");
    CHECK(problem_of("{\"w\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,8]}}",
                     data) == "tensor 'w': shape [1.8446744073709552e+19] is not a list of non-negative integers");
}

TEST_CASE("safetensors: rejects a shape whose byte size overflows 64 bits") {
    const std::string data(8, '\0');
    CHECK(problem_of("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
                     data) == "tensor 'w': shape [4294967296, 4294967296] is too large (byte size overflows)");
    // numel fits in 64 bits but numel * 8 does not.
    CHECK(problem_of("{\"w\":{\"dtype\":\"I64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,8]}}",
                     data) == "tensor 'w': shape [2305843009213693952] is too large (byte size overflows)");
    // ... and one that wraps to exactly the 8 bytes present must not pass either.
    CHECK(problem_of("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,9223372036854775807],\"data_offsets\":[0,8]}}",
                     data) == "tensor 'w': shape [2, 9223372036854775807] is too large (byte size overflows)");
}

TEST_CASE("safetensors: rejects bad data_offsets") {
    const std::string data(8, '\0');
    auto entry = [](const std::string& offsets) {
        return "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" + offsets + "}}";
    };
    CHECK(problem_of("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", data) == "tensor 'w': missing data_offsets");
    CHECK(problem_of(entry("[0]"), data) == "tensor 'w': data_offsets [0] is not two non-negative integers");
    CHECK(problem_of(entry("[0,4,8]"), data) == "tensor 'w': data_offsets [0,4,8] is not two non-negative integers");
    CHECK(problem_of(entry("[-1,8]"), data) == "tensor 'w': data_offsets [-1,8] is not two non-negative integers");
    CHECK(problem_of(entry("{\"a\":0}"), data) ==
          "tensor 'w': data_offsets {\"a\":0} is not two non-negative integers");
    CHECK(problem_of(entry("[8,0]"), data) == "tensor 'w': data_offsets [8, 0) run backwards");
    CHECK(problem_of(entry("[0,16]"), data) ==
          "tensor 'w': data_offsets [0, 16) run past the end of the 8-byte data section");
    CHECK(problem_of(entry("[0,18446744073709551615]"), data) ==
          "tensor 'w': data_offsets [0, 18446744073709551615) run past the end of the 8-byte data section");
    CHECK(problem_of(entry("[0,4]"), data) == "tensor 'w': data_offsets [0, 4) hold 4 bytes but F32 [2] needs 8");
}

TEST_CASE("safetensors: rejects overlapping ranges, holes and trailing bytes") {
    CHECK(problem_of("{" + f32_entry("a", 0, 8) + "," + f32_entry("b", 4, 12) + "}", std::string(12, '\0')) ==
          "tensors 'a' [0, 8) and 'b' [4, 12) overlap");
    CHECK(problem_of("{" + f32_entry("a", 0, 8) + "," + f32_entry("b", 0, 8) + "}", std::string(8, '\0')) ==
          "tensors 'a' [0, 8) and 'b' [0, 8) overlap");
    // A zero-size tensor inside another one overlaps it too (the reference agrees).
    CHECK(problem_of("{" + f32_entry("a", 0, 8) + ",\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
                     std::string(8, '\0')) == "tensors 'a' [0, 8) and 'z' [4, 4) overlap");
    CHECK(problem_of("{" + f32_entry("a", 0, 4) + "," + f32_entry("b", 8, 12) + "}", std::string(12, '\0')) ==
          "data section bytes [4, 8) belong to no tensor (hole before tensor 'b')");
    CHECK(problem_of("{" + f32_entry("a", 4, 8) + "}", std::string(8, '\0')) ==
          "data section bytes [0, 4) belong to no tensor (hole before tensor 'a')");
    CHECK(problem_of("{" + f32_entry("a", 0, 4) + "}", std::string(12, '\0')) ==
          "data section bytes [4, 12) belong to no tensor (trailing bytes after the last tensor)");
    CHECK(problem_of("{}", "x") == "data section bytes [0, 1) belong to no tensor (trailing bytes after the last tensor)");
}

TEST_CASE("safetensors: rejects an empty tensor name") {
    CHECK(problem_of("{" + f32_entry("", 0, 4) + "}", std::string(4, '\0')) == "tensor with an empty name");
}

TEST_CASE("safetensors: escapes unprintable tensor names in messages") {
    CHECK(problem_of("{\"a\\nb\\u00e9\":{\"dtype\":\"X\",\"shape\":[],\"data_offsets\":[0,0]}}") ==
          "tensor 'a\\x0ab\\xc3\\xa9': unknown dtype 'X'");
}

TEST_CASE("safetensors: reports missing files and directories") {
    std::string dir = test::temp_dir("safetensors_missing");
    CHECK(test::error_of([&] { SafetensorsFile f(dir + "/nope.safetensors"); }) ==
          dir + "/nope.safetensors: cannot open: No such file or directory");
    CHECK(test::error_of([&] { SafetensorsFile f(dir); }) == dir + ": not a regular file");
}

// ---------------------------------------------------------------- to_float

TEST_CASE("safetensors: to_float converts F32, F16 and BF16 and refuses other dtypes") {
    std::string path = test::temp_dir("safetensors_to_float") + "/t.safetensors";
    std::vector<float> f32 = {1.5f, -0.0f, std::numeric_limits<float>::infinity(), 3.14159f};
    // fp16: 1, -2, 65504 (max), 2^-24 (smallest subnormal), -inf
    std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x7bff, 0x0001, 0xfc00};
    // bf16: 1, -1.5, pi rounded (0x4049 = 3.140625), 2^-133 (subnormal)
    std::vector<uint16_t> bf16 = {0x3f80, 0xbfc0, 0x4049, 0x0001};
    // Put a 1-byte tensor first so the float data lies at odd addresses.
    write_safetensors(path, {{"pad", DType::U8, {1}, {7}},
                             {"f32", DType::F32, {2, 2}, bytes_of(f32)},
                             {"f16", DType::F16, {5}, bytes_of(f16)},
                             {"bf16", DType::BF16, {4}, bytes_of(bf16)},
                             {"i32", DType::I32, {1}, bytes_of(std::vector<int32_t>{1})},
                             {"none", DType::F16, {0}, {}}});
    SafetensorsFile f(path);
    CHECK(to_float(*f.find("f32")) == f32);
    CHECK(std::signbit(to_float(*f.find("f32"))[1]));
    CHECK(to_float(*f.find("f16")) ==
          std::vector<float>{1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -24), -std::numeric_limits<float>::infinity()});
    CHECK(to_float(*f.find("bf16")) == std::vector<float>{1.0f, -1.5f, 3.140625f, std::ldexp(1.0f, -133)});
    CHECK(to_float(*f.find("none")).empty());
    CHECK(test::error_of([&] { to_float(*f.find("i32")); }) ==
          path + ": tensor 'i32': cannot convert I32 to float (only F32, F16 and BF16)");
}

// ---------------------------------------------------------------- checkpoints

namespace {

// Writes shard files with one U8 tensor per name (value = its index) and an index listing
// `weight_map` verbatim; returns the directory.
std::string sharded_dir(const std::string& name, const std::vector<std::vector<std::string>>& shards,
                        const std::string& weight_map_json) {
    std::string dir = test::temp_dir(name);
    for (size_t s = 0; s < shards.size(); ++s) {
        std::vector<TensorToWrite> tensors;
        for (size_t i = 0; i < shards[s].size(); ++i)
            tensors.push_back({shards[s][i], DType::U8, {1}, {uint8_t(10 * s + i)}});
        write_safetensors(dir + "/model-0000" + std::to_string(s + 1) + "-of-0000" +
                              std::to_string(shards.size()) + ".safetensors",
                          tensors);
    }
    test::write_file(dir + "/model.safetensors.index.json",
                     "{\"metadata\":{\"total_size\":3},\"weight_map\":" + weight_map_json + "}");
    return dir;
}

const char* kTwoShardMap =
    "{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00001-of-00002.safetensors\","
    "\"c\":\"model-00002-of-00002.safetensors\"}";

}  // namespace

TEST_CASE("safetensors: checkpoint from a single file or a directory holding model.safetensors") {
    std::string dir = test::temp_dir("safetensors_ckpt_single");
    write_safetensors(dir + "/model.safetensors", {{"y", DType::U8, {1}, {2}}, {"x", DType::U8, {1}, {1}}});
    for (const std::string& path : {dir, dir + "/model.safetensors"}) {
        Checkpoint c(path);
        CHECK(c.path() == path);
        CHECK(c.names() == std::vector<std::string>{"x", "y"});
        CHECK(c.get("y").data[0] == 2);
        CHECK(c.find("z") == nullptr);
        CHECK(test::error_of([&] { c.get("z"); }) == path + ": no tensor 'z' in the checkpoint");
    }
}

TEST_CASE("safetensors: sharded checkpoint through its index") {
    std::string dir = sharded_dir("safetensors_ckpt_sharded", {{"a", "b"}, {"c"}}, kTwoShardMap);
    // The index wins over a model.safetensors lying beside it.
    write_safetensors(dir + "/model.safetensors", {{"other", DType::U8, {1}, {0}}});
    for (const std::string& path : {dir, dir + "/model.safetensors.index.json"}) {
        Checkpoint c(path);
        CHECK(c.names() == std::vector<std::string>{"a", "b", "c"});
        CHECK(c.get("a").data[0] == 0);
        CHECK(c.get("b").data[0] == 1);
        CHECK(c.get("c").data[0] == 10);
        CHECK(c.get("c").file == dir + "/model-00002-of-00002.safetensors");
    }
}

TEST_CASE("safetensors: checkpoint directory without a checkpoint lists what it looked for") {
    std::string dir = test::temp_dir("safetensors_ckpt_empty");
    CHECK(test::error_of([&] { Checkpoint c(dir); }) ==
          dir + ": no checkpoint here (looked for model.safetensors.index.json and model.safetensors)");
    CHECK(test::error_of([&] { Checkpoint c(dir + "/x.safetensors"); }) ==
          dir + "/x.safetensors: cannot open: No such file or directory");
}

TEST_CASE("safetensors: rejects a malformed index") {
    std::string dir = sharded_dir("safetensors_ckpt_bad_index", {{"a", "b"}, {"c"}}, kTwoShardMap);
    std::string index = dir + "/model.safetensors.index.json";
    auto error_with_index = [&](const std::string& text) {
        test::write_file(index, text);
        return test::error_of([&] { Checkpoint c(dir); });
    };
    std::string not_json = error_with_index("{\"weight_map\":");
    CHECK(not_json.rfind(index + ": index is not valid JSON: ", 0) == 0);
    CHECK(error_with_index("[]") == index + ": index is not a JSON object");
    CHECK(error_with_index("{\"metadata\":{}}") == index + ": index has no weight_map");
    CHECK(error_with_index("{\"weight_map\":[]}") == index + ": weight_map is not an object");
    CHECK(error_with_index("{\"weight_map\":{\"a\":1}}") == index + ": weight_map entry for 'a' is not a string");
    CHECK(error_with_index("{\"weight_map\":{\"a\":\"x\",\"a\":\"y\"}}") == index + ": index has duplicate key 'a'");
    test::write_file(index, "");
    CHECK(test::error_of([&] { Checkpoint c(index); }).rfind(index + ": index is not valid JSON: ", 0) == 0);
    CHECK(test::error_of([&] { Checkpoint c(dir + "/other.index.json"); }) ==
          dir + "/other.index.json: cannot open: No such file or directory");
}

TEST_CASE("safetensors: rejects index shards that escape the directory or do not exist") {
    std::string dir = sharded_dir("safetensors_ckpt_escape", {{"a", "b"}, {"c"}}, kTwoShardMap);
    std::string index = dir + "/model.safetensors.index.json";
    auto error_with_map = [&](const std::string& map) {
        test::write_file(index, "{\"weight_map\":" + map + "}");
        return test::error_of([&] { Checkpoint c(dir); });
    };
    for (std::string shard : {"/etc/passwd", "../model-00001-of-00002.safetensors", "x/../../y", "..", ""})
        CHECK(error_with_map("{\"a\":\"" + shard + "\"}") ==
              index + ": shard '" + shard + "' for tensor 'a' is not a relative path inside the checkpoint directory");
    CHECK(error_with_map("{\"a\":\"missing.safetensors\"}") ==
          index + ": shard 'missing.safetensors' (for tensor 'a') does not exist at " + dir + "/missing.safetensors");
    // ".." inside a name is not a parent reference.
    CHECK(error_with_map("{\"a\":\"x..y\"}") == index + ": shard 'x..y' (for tensor 'a') does not exist at " + dir + "/x..y");
}

TEST_CASE("safetensors: rejects an index that disagrees with its shards") {
    // 'c' listed in the first shard, which does not hold it (and the second shard then holds
    // an unlisted tensor); reported for the listing, whichever is found first.
    std::string dir = sharded_dir("safetensors_ckpt_wrong_shard", {{"a", "b"}, {"c"}},
                                  "{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00001-of-00002.safetensors\","
                                  "\"c\":\"model-00001-of-00002.safetensors\"}");
    CHECK(test::error_of([&] { Checkpoint c(dir); }) ==
          dir + "/model.safetensors.index.json: weight_map puts tensor 'c' in shard "
                "'model-00001-of-00002.safetensors', which does not hold it");

    dir = sharded_dir("safetensors_ckpt_absent", {{"a", "b"}, {"c"}},
                      "{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00001-of-00002.safetensors\","
                      "\"c\":\"model-00002-of-00002.safetensors\",\"d\":\"model-00002-of-00002.safetensors\"}");
    CHECK(test::error_of([&] { Checkpoint c(dir); }) ==
          dir + "/model.safetensors.index.json: weight_map puts tensor 'd' in shard "
                "'model-00002-of-00002.safetensors', which does not hold it");

    dir = sharded_dir("safetensors_ckpt_twice", {{"a", "b"}, {"b", "c"}}, kTwoShardMap);
    CHECK(test::error_of([&] { Checkpoint c(dir); }) ==
          dir + "/model.safetensors.index.json: tensor 'b' is in two shards, "
                "'model-00001-of-00002.safetensors' and 'model-00002-of-00002.safetensors'");

    dir = sharded_dir("safetensors_ckpt_unlisted", {{"a", "b"}, {"c", "d"}}, kTwoShardMap);
    CHECK(test::error_of([&] { Checkpoint c(dir); }) ==
          dir + "/model.safetensors.index.json: shard 'model-00002-of-00002.safetensors' holds tensor 'd', "
                "which weight_map does not list");
}

TEST_CASE("safetensors: a broken shard is reported under its own path") {
    std::string dir = sharded_dir("safetensors_ckpt_broken_shard", {{"a", "b"}, {"c"}}, kTwoShardMap);
    test::write_file(dir + "/model-00002-of-00002.safetensors", "abc");
    CHECK(test::error_of([&] { Checkpoint c(dir); }) ==
          dir + "/model-00002-of-00002.safetensors: file is 3 bytes, too short for the 8-byte header length");
}

// ---------------------------------------------------------------- golden files

namespace {

// Element i of a tensor as an integer: the bit pattern for float dtypes, the value otherwise.
int64_t element_bits(const TensorView& t, size_t i) {
    const uint8_t* p = t.data + i * dtype_size(t.dtype);
    switch (t.dtype) {
        case DType::F32: { uint32_t v; std::memcpy(&v, p, 4); return v; }
        case DType::F16: case DType::BF16: { uint16_t v; std::memcpy(&v, p, 2); return v; }
        case DType::I8: return int8_t(*p);
        case DType::U8: case DType::BOOL: return *p;
        case DType::I16: { int16_t v; std::memcpy(&v, p, 2); return v; }
        case DType::I32: { int32_t v; std::memcpy(&v, p, 4); return v; }
        case DType::I64: { int64_t v; std::memcpy(&v, p, 8); return v; }
    }
    return 0;
}

// Compares one tensor against its expected.json entry, element by element.
void check_against_golden(const TensorView& t, const nlohmann::json& want) {
    CAPTURE(t.name);
    CHECK(dtype_name(t.dtype) == want["dtype"].get<std::string>());
    CHECK(t.shape == want["shape"].get<std::vector<int64_t>>());
    const auto& bits = want["bits"];
    REQUIRE(size_t(t.numel()) == bits.size());
    REQUIRE(t.nbytes == bits.size() * dtype_size(t.dtype));
    for (size_t i = 0; i < bits.size(); ++i) {
        CAPTURE(i);
        REQUIRE(element_bits(t, i) == bits[i].get<int64_t>());
    }
    if (want.contains("float_bits")) {
        std::vector<float> f = to_float(t);
        const auto& float_bits = want["float_bits"];
        REQUIRE(f.size() == float_bits.size());
        for (size_t i = 0; i < f.size(); ++i) {
            CAPTURE(i);
            REQUIRE(float_to_bits(f[i]) == float_bits[i].get<uint32_t>());
        }
    }
}

const char* kGoldenDir = "tests/golden/safetensors";

nlohmann::json golden_expected() {
    std::string text = test::read_file(std::string(kGoldenDir) + "/expected.json");
    REQUIRE_MESSAGE(!text.empty(), "missing ", kGoldenDir, "/expected.json (make golden)");
    return nlohmann::json::parse(text);
}

}  // namespace

TEST_CASE("safetensors: golden single file from the reference writer, every element") {
    nlohmann::json expected = golden_expected()["single"];
    SafetensorsFile f(std::string(kGoldenDir) + "/single.safetensors");
    CHECK(f.metadata() == expected["metadata"].get<std::map<std::string, std::string>>());
    REQUIRE(f.tensors().size() == expected["tensors"].size());
    for (const auto& item : expected["tensors"].items()) {
        const TensorView* t = f.find(item.key());
        REQUIRE_MESSAGE(t != nullptr, item.key());
        check_against_golden(*t, item.value());
    }
}

TEST_CASE("safetensors: golden sharded checkpoint from save_pretrained, every element") {
    nlohmann::json expected = golden_expected()["sharded"];
    std::string dir = std::string(kGoldenDir) + "/sharded";
    Checkpoint c(dir);
    std::vector<std::string> want_names;
    for (const auto& item : expected["weight_map"].items()) want_names.push_back(item.key());
    CHECK(c.names() == want_names);  // both sorted
    std::set<std::string> shards_used;
    for (const auto& item : expected["tensors"].items()) {
        const TensorView& t = c.get(item.key());
        std::string shard = expected["weight_map"][item.key()].get<std::string>();
        CHECK(t.file == dir + "/" + shard);
        shards_used.insert(shard);
        check_against_golden(t, item.value());
    }
    CHECK(shards_used.size() == 2);
}
