// safetensors reader (memory-mapped, zero-copy, every header entry validated before use)
// and a small writer for fixtures. Format: 8-byte little-endian header length N, N bytes
// of JSON {name: {dtype, shape, data_offsets: [begin, end)}, "__metadata__": {...}},
// then the data section; offsets are relative to the start of the data section.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/dtype.h"

namespace fastvlm {

// A typed view into mapped checkpoint bytes. Valid while its file stays open.
struct TensorView {
    std::string name;
    std::string file;               // path of the file holding it, for error messages
    DType dtype = DType::F32;
    std::vector<int64_t> shape;     // row-major, outermost first
    const uint8_t* data = nullptr;
    size_t nbytes = 0;

    int64_t numel() const;
    std::string shape_string() const;  // "[896, 3072]"
};

// What a safetensors image holds, every entry validated: tensors in data-offset order.
struct SafetensorsContents {
    std::vector<TensorView> tensors;
    std::map<std::string, std::string> metadata;
};

// Parses and validates a whole safetensors image held in memory (header length, header,
// data section). The views point into `bytes`; `name_for_errors` opens every error message.
SafetensorsContents parse_safetensors(const uint8_t* bytes, size_t size,
                                      const std::string& name_for_errors);

// Converts an F32, F16 or BF16 tensor to fp32 (throws for other dtypes, naming the tensor).
std::vector<float> to_float(const TensorView& t);

// One mapped .safetensors file.
class SafetensorsFile {
public:
    // Throws fastvlm::Error naming the path and the problem for any malformed file.
    explicit SafetensorsFile(const std::string& path);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::string& path() const { return path_; }
    const std::vector<TensorView>& tensors() const { return tensors_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    const TensorView* find(const std::string& name) const;  // nullptr when absent

private:
    std::string path_;
    void* map_ = nullptr;
    size_t map_size_ = 0;
    std::vector<TensorView> tensors_;
    std::map<std::string, std::string> metadata_;
    std::map<std::string, size_t> index_;  // name -> position in tensors_
};

// A checkpoint: a single model.safetensors, or the shards listed by
// model.safetensors.index.json ({"weight_map": {tensor: shard file}}).
class Checkpoint {
public:
    // `path` is a directory (index.json preferred, else model.safetensors), an index.json,
    // or one .safetensors file.
    explicit Checkpoint(const std::string& path);

    const TensorView* find(const std::string& name) const;  // nullptr when absent
    const TensorView& get(const std::string& name) const;   // throws naming the checkpoint
    std::vector<std::string> names() const;                 // sorted
    const std::string& path() const { return path_; }

private:
    std::string path_;
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, const TensorView*> by_name_;
};

// Writer for fixtures and tests: tensors are laid out in the order given, 8-byte aligned header.
struct TensorToWrite {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;     // exactly numel * dtype_size bytes
};
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace fastvlm
