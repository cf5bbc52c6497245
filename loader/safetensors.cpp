// safetensors reader, checkpoint (single file or sharded index) and fixture writer.
//
// The reader trusts nothing in the file: every header field is checked before a pointer is
// formed from it. The rules follow the reference implementation (huggingface/safetensors,
// Rust crate `safetensors`, used by the Python package too):
//   - header length N <= 100'000'000 bytes and 8 + N <= file size;
//   - the header is UTF-8 JSON, an object of {name: {dtype, shape, data_offsets}} plus an
//     optional "__metadata__" object of strings (or null); unknown fields in an entry are
//     ignored, as the reference does;
//   - data_offsets are relative to the data section; sorted by offset, the tensors must tile
//     the data section exactly: no overlap, no hole, no trailing bytes (the reference's
//     Metadata::validate requires each begin to equal the previous end, and read_metadata
//     requires the last end to be the end of the buffer);
//   - end - begin == numel * dtype size, with the product checked for overflow.
// Stricter than the reference: duplicate keys anywhere in the header are rejected (the
// reference keeps the last one silently), and so is an empty tensor name (the reference
// accepts it, but no checkpoint uses one and it cannot be looked up meaningfully).
#include "loader/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/error.h"
#include "runtime/half.h"

namespace fastvlm {

using json = nlohmann::json;

static constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference's MAX_HEADER_SIZE

// ---------------------------------------------------------------- small helpers

int64_t TensorView::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

static std::string shape_to_string(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::string TensorView::shape_string() const { return shape_to_string(shape); }

// Names in messages: printable ASCII kept, everything else escaped, long names cut, so that
// a hostile header cannot break the one-line error format.
static std::string quote_name(const std::string& name) {
    std::string s = "'";
    for (size_t i = 0; i < name.size() && i < 200; ++i) {
        unsigned char c = static_cast<unsigned char>(name[i]);
        if (c >= 0x20 && c < 0x7f) {
            s += char(c);
        } else {
            static const char hex[] = "0123456789abcdef";
            s += "\\x";
            s += hex[c >> 4];
            s += hex[c & 15];
        }
    }
    if (name.size() > 200) s += "...";
    return s + "'";
}

// Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points
// past U+10FFFF included), or `size` when the text is valid.
static size_t first_invalid_utf8(const uint8_t* p, size_t size) {
    size_t i = 0;
    while (i < size) {
        uint8_t c = p[i];
        if (c < 0x80) { ++i; continue; }
        size_t len;
        uint32_t cp, min_cp;
        if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min_cp = 0x80; }
        else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min_cp = 0x800; }
        else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min_cp = 0x10000; }
        else return i;
        if (size - i < len) return i;
        for (size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xc0) != 0x80) return i;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min_cp || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
        i += len;
    }
    return size;
}

// Parses JSON text, rejecting duplicate keys in any object (nlohmann keeps the last one) and
// nesting deeper than serde_json's default limit of 128, which the reference inherits; a
// real header nests 3 deep, and a deep one would only cost memory.
static json parse_json_strict(const std::string& text, const std::string& where,
                              const char* what) {
    const int max_depth = 128;
    std::vector<std::set<std::string>> keys_of_open_objects;
    auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
        if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
            depth >= max_depth)
            fail(where, what, " nests deeper than ", max_depth, " levels");
        if (event == json::parse_event_t::object_start) {
            keys_of_open_objects.emplace_back();
        } else if (event == json::parse_event_t::object_end) {
            keys_of_open_objects.pop_back();
        } else if (event == json::parse_event_t::key) {
            const std::string& key = parsed.get_ref<const std::string&>();
            if (!keys_of_open_objects.back().insert(key).second)
                fail(where, what, " has duplicate key ", quote_name(key));
        }
        return true;
    };
    try {
        return json::parse(text, on_event);
    } catch (const json::exception& e) {
        fail(where, what, " is not valid JSON: ", e.what());
    }
}

// A JSON number that is a non-negative integer (fractions, negatives and integers past
// 2^64, which nlohmann stores as floats, are all refused).
static bool as_count(const json& v, uint64_t* out) {
    if (v.is_number_unsigned()) { *out = v.get<uint64_t>(); return true; }
    if (v.is_number_integer() && v.get<int64_t>() >= 0) { *out = uint64_t(v.get<int64_t>()); return true; }
    return false;
}

// ---------------------------------------------------------------- parsing

namespace {
struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t begin, end;  // [begin, end) within the data section
};
}  // namespace

static Entry parse_entry(const std::string& where, const std::string& name, const json& info,
                         uint64_t data_size) {
    const std::string tensor = "tensor " + quote_name(name) + ": ";
    if (!info.is_object()) fail(where, tensor, "entry is not an object");
    Entry e;
    e.name = name;

    auto dtype_it = info.find("dtype");
    if (dtype_it == info.end()) fail(where, tensor, "missing dtype");
    if (!dtype_it->is_string()) fail(where, tensor, "dtype is not a string");
    if (!parse_dtype(dtype_it->get_ref<const std::string&>(), &e.dtype))
        fail(where, tensor, "unknown dtype ", quote_name(dtype_it->get_ref<const std::string&>()));

    auto shape_it = info.find("shape");
    if (shape_it == info.end()) fail(where, tensor, "missing shape");
    if (!shape_it->is_array()) fail(where, tensor, "shape is not an array");
    bool has_zero_dim = false;
    for (const json& d : *shape_it) {
        uint64_t dim;
        if (!as_count(d, &dim) || dim > uint64_t(INT64_MAX))
            fail(where, tensor, "shape ", shape_it->dump(), " is not a list of non-negative integers");
        e.shape.push_back(int64_t(dim));
        has_zero_dim |= dim == 0;
    }
    // numel * dtype_size in 64 bits; a product that overflows can never match the offsets.
    uint64_t nbytes = has_zero_dim ? 0 : dtype_size(e.dtype);
    for (int64_t d : e.shape) {
        if (has_zero_dim) break;
        if (nbytes > UINT64_MAX / uint64_t(d))
            fail(where, tensor, "shape ", shape_to_string(e.shape), " is too large (byte size overflows)");
        nbytes *= uint64_t(d);
    }

    auto offsets_it = info.find("data_offsets");
    if (offsets_it == info.end()) fail(where, tensor, "missing data_offsets");
    if (!offsets_it->is_array() || offsets_it->size() != 2 || !as_count((*offsets_it)[0], &e.begin) ||
        !as_count((*offsets_it)[1], &e.end))
        fail(where, tensor, "data_offsets ", offsets_it->dump(), " is not two non-negative integers");
    if (e.begin > e.end)
        fail(where, tensor, "data_offsets [", e.begin, ", ", e.end, ") run backwards");
    if (e.end > data_size)
        fail(where, tensor, "data_offsets [", e.begin, ", ", e.end, ") run past the end of the ",
             data_size, "-byte data section");
    if (e.end - e.begin != nbytes)
        fail(where, tensor, "data_offsets [", e.begin, ", ", e.end, ") hold ", e.end - e.begin,
             " bytes but ", dtype_name(e.dtype), " ", shape_to_string(e.shape), " needs ", nbytes);
    return e;
}

SafetensorsContents parse_safetensors(const uint8_t* bytes, size_t size, const std::string& where) {
    if (size < 8) fail(where, "file is ", size, " bytes, too short for the 8-byte header length");
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];  // little-endian
    if (header_len > kMaxHeaderBytes)
        fail(where, "header length ", header_len, " exceeds the limit of ", kMaxHeaderBytes, " bytes");
    if (header_len > size - 8)
        fail(where, "header length ", header_len, " runs past the end of the file (", size, " bytes)");

    const uint8_t* header = bytes + 8;
    size_t bad = first_invalid_utf8(header, size_t(header_len));
    if (bad != header_len) fail(where, "header is not valid UTF-8 (byte ", bad, " of the header)");
    json root = parse_json_strict(std::string(reinterpret_cast<const char*>(header), size_t(header_len)),
                                  where, "header");
    if (!root.is_object()) fail(where, "header is not a JSON object");

    const uint8_t* data = header + header_len;
    const uint64_t data_size = size - 8 - header_len;
    SafetensorsContents out;
    std::vector<Entry> entries;
    for (const auto& item : root.items()) {
        const std::string& name = item.key();
        if (name == "__metadata__") {
            if (item.value().is_null()) continue;  // the reference reads null as "no metadata"
            if (!item.value().is_object()) fail(where, "__metadata__ is not an object");
            for (const auto& m : item.value().items()) {
                if (!m.value().is_string())
                    fail(where, "__metadata__ value for ", quote_name(m.key()), " is not a string");
                out.metadata[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        if (name.empty()) fail(where, "tensor with an empty name");
        entries.push_back(parse_entry(where, name, item.value(), data_size));
    }

    // Sorted by offset the tensors must tile the data section: [0, e1) [e1, e2) ... [ek, data_size).
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    uint64_t covered = 0;  // end of the tiled prefix
    for (size_t i = 0; i < entries.size(); ++i) {
        const Entry& e = entries[i];
        if (e.begin < covered) {
            const Entry& prev = entries[i - 1];
            fail(where, "tensors ", quote_name(prev.name), " [", prev.begin, ", ", prev.end, ") and ",
                 quote_name(e.name), " [", e.begin, ", ", e.end, ") overlap");
        }
        if (e.begin > covered)
            fail(where, "data section bytes [", covered, ", ", e.begin,
                 ") belong to no tensor (hole before tensor ", quote_name(e.name), ")");
        covered = e.end;
    }
    if (covered != data_size)
        fail(where, "data section bytes [", covered, ", ", data_size,
             ") belong to no tensor (trailing bytes after the last tensor)");

    out.tensors.reserve(entries.size());
    for (Entry& e : entries) {
        TensorView t;
        t.name = std::move(e.name);
        t.file = where;
        t.dtype = e.dtype;
        t.shape = std::move(e.shape);
        t.data = data + e.begin;
        t.nbytes = size_t(e.end - e.begin);
        out.tensors.push_back(std::move(t));
    }
    return out;
}

// ---------------------------------------------------------------- conversion

std::vector<float> to_float(const TensorView& t) {
    std::vector<float> out(t.nbytes / dtype_size(t.dtype));
    // The data section need not be aligned for the element type: copy, never reinterpret.
    switch (t.dtype) {
        case DType::F32:
            if (!out.empty()) std::memcpy(out.data(), t.data, out.size() * 4);
            break;
        case DType::F16:
        case DType::BF16:
            for (size_t i = 0; i < out.size(); ++i) {
                uint16_t h;
                std::memcpy(&h, t.data + 2 * i, 2);
                out[i] = t.dtype == DType::F16 ? fp16_to_float(h) : bf16_to_float(h);
            }
            break;
        default:
            fail(t.file, "tensor ", quote_name(t.name), ": cannot convert ", dtype_name(t.dtype),
                 " to float (only F32, F16 and BF16)");
    }
    return out;
}

// ---------------------------------------------------------------- one mapped file

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path, "cannot open: ", std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        fail(path, "cannot stat: ", std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(path, "not a regular file");
    }
    size_t size = size_t(st.st_size);
    if (size > 0) {  // mmap of length 0 is an error; the parser reports the short file
        void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int err = errno;
            ::close(fd);
            fail(path, "cannot map ", size, " bytes: ", std::strerror(err));
        }
        map_ = map;
        map_size_ = size;
    }
    ::close(fd);  // the mapping keeps the file alive
    try {
        SafetensorsContents contents = parse_safetensors(static_cast<const uint8_t*>(map_), size, path);
        tensors_ = std::move(contents.tensors);
        metadata_ = std::move(contents.metadata);
    } catch (...) {
        if (map_) ::munmap(map_, map_size_);
        throw;
    }
    for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

SafetensorsFile::~SafetensorsFile() {
    if (map_) ::munmap(map_, map_size_);
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

// ---------------------------------------------------------------- checkpoint

static bool is_directory(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

static bool path_exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

static bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

static std::string directory_of(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

// A shard name must stay inside the index's directory: relative, no ".." component.
static bool is_contained_relative_path(const std::string& p) {
    if (p.empty() || p[0] == '/') return false;
    size_t start = 0;
    while (start <= p.size()) {
        size_t slash = p.find('/', start);
        if (slash == std::string::npos) slash = p.size();
        if (p.compare(start, slash - start, "..") == 0 && slash - start == 2) return false;
        start = slash + 1;
    }
    return true;
}

Checkpoint::Checkpoint(const std::string& path) : path_(path) {
    std::string file = path;
    if (is_directory(path)) {
        std::string index = path + "/model.safetensors.index.json";
        std::string single = path + "/model.safetensors";
        if (path_exists(index)) file = index;
        else if (path_exists(single)) file = single;
        else fail(path, "no checkpoint here (looked for model.safetensors.index.json and model.safetensors)");
    }

    if (!ends_with(file, ".json")) {
        files_.push_back(std::make_unique<SafetensorsFile>(file));
        for (const TensorView& t : files_.back()->tensors()) by_name_[t.name] = &t;
        return;
    }

    // Sharded: {"metadata": {...}, "weight_map": {tensor: shard file relative to the index}}.
    std::ifstream in(file, std::ios::binary);
    if (!in) fail(file, "cannot open: ", std::strerror(errno));
    struct stat st;
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) fail(file, "not a regular file");
    if (uint64_t(st.st_size) > kMaxHeaderBytes)  // a real index is ~100 KB
        fail(file, "index is ", st.st_size, " bytes, over the limit of ", kMaxHeaderBytes);
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) fail(file, "cannot read");
    json index = parse_json_strict(text.str(), file, "index");
    if (!index.is_object()) fail(file, "index is not a JSON object");
    auto map_it = index.find("weight_map");
    if (map_it == index.end()) fail(file, "index has no weight_map");
    if (!map_it->is_object()) fail(file, "weight_map is not an object");

    std::map<std::string, std::string> shard_of;  // tensor -> shard
    std::map<std::string, std::string> first_tensor_in;  // shard -> a tensor naming it
    for (const auto& item : map_it->items()) {
        if (!item.value().is_string())
            fail(file, "weight_map entry for ", quote_name(item.key()), " is not a string");
        const std::string& shard = item.value().get_ref<const std::string&>();
        if (!is_contained_relative_path(shard))
            fail(file, "shard ", quote_name(shard), " for tensor ", quote_name(item.key()),
                 " is not a relative path inside the checkpoint directory");
        shard_of[item.key()] = shard;
        first_tensor_in.emplace(shard, item.key());
    }

    const std::string dir = directory_of(file);
    std::map<std::string, const SafetensorsFile*> shard_files;
    for (const auto& [shard, tensor] : first_tensor_in) {
        std::string shard_path = dir + "/" + shard;
        if (!path_exists(shard_path))
            fail(file, "shard ", quote_name(shard), " (for tensor ", quote_name(tensor), ") does not exist at ", shard_path);
        files_.push_back(std::make_unique<SafetensorsFile>(shard_path));
        shard_files[shard] = files_.back().get();
    }

    std::map<std::string, std::string> found_in;  // tensor -> shard that holds it
    for (const auto& [shard, f] : shard_files) {
        for (const TensorView& t : f->tensors()) {
            auto [it, fresh] = found_in.emplace(t.name, shard);
            if (!fresh)
                fail(file, "tensor ", quote_name(t.name), " is in two shards, ", quote_name(it->second),
                     " and ", quote_name(shard));
            if (!shard_of.count(t.name))
                fail(file, "shard ", quote_name(shard), " holds tensor ", quote_name(t.name),
                     ", which weight_map does not list");
            by_name_[t.name] = &t;
        }
    }
    for (const auto& [tensor, shard] : shard_of) {
        auto it = found_in.find(tensor);
        if (it == found_in.end() || it->second != shard)
            fail(file, "weight_map puts tensor ", quote_name(tensor), " in shard ", quote_name(shard),
                 ", which does not hold it");
    }
}

const TensorView* Checkpoint::find(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
}

const TensorView& Checkpoint::get(const std::string& name) const {
    const TensorView* t = find(name);
    if (!t) fail(path_, "no tensor ", quote_name(name), " in the checkpoint");
    return *t;
}

std::vector<std::string> Checkpoint::names() const {
    std::vector<std::string> out;
    out.reserve(by_name_.size());
    for (const auto& item : by_name_) out.push_back(item.first);
    return out;
}

// ---------------------------------------------------------------- writer

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) {
        nlohmann::ordered_json meta = nlohmann::ordered_json::object();
        for (const auto& [key, value] : metadata) meta[key] = value;
        header["__metadata__"] = meta;
    }
    uint64_t offset = 0;
    for (const TensorToWrite& t : tensors) {
        if (t.name.empty() || t.name == "__metadata__" || header.contains(t.name))
            fail(path, "cannot write tensor ", quote_name(t.name), ": empty, reserved or repeated name");
        uint64_t numel = 1;
        for (int64_t d : t.shape) {
            if (d < 0) fail(path, "cannot write tensor ", quote_name(t.name), ": negative dimension");
            numel *= uint64_t(d);
        }
        if (t.bytes.size() != numel * dtype_size(t.dtype))
            fail(path, "cannot write tensor ", quote_name(t.name), ": ", t.bytes.size(), " bytes given but ",
                 dtype_name(t.dtype), " ", shape_to_string(t.shape), " needs ", numel * dtype_size(t.dtype));
        header[t.name] = {{"dtype", dtype_name(t.dtype)},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + t.bytes.size()}}};
        offset += t.bytes.size();
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::ordered_json::exception& e) {
        fail(path, "cannot write header: ", e.what());
    }
    text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data section is 8-byte aligned

    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) fail(path, "cannot create: ", std::strerror(errno));
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(text.size()) >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), std::streamsize(text.size()));
    for (const TensorToWrite& t : tensors)
        out.write(reinterpret_cast<const char*>(t.bytes.data()), std::streamsize(t.bytes.size()));
    out.close();
    if (!out) fail(path, "write failed");
}

}  // namespace fastvlm
