// Element types found in checkpoints and used by the runtime, with their sizes and
// safetensors spellings.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace fastvlm {

enum class DType : uint8_t { F32, F16, BF16, I8, U8, I16, I32, I64, BOOL };

inline size_t dtype_size(DType t) {
    switch (t) {
        case DType::F32: case DType::I32: return 4;
        case DType::F16: case DType::BF16: case DType::I16: return 2;
        case DType::I8: case DType::U8: case DType::BOOL: return 1;
        case DType::I64: return 8;
    }
    return 0;
}

inline const char* dtype_name(DType t) {
    switch (t) {
        case DType::F32: return "F32";   case DType::F16: return "F16";
        case DType::BF16: return "BF16"; case DType::I8: return "I8";
        case DType::U8: return "U8";     case DType::I16: return "I16";
        case DType::I32: return "I32";   case DType::I64: return "I64";
        case DType::BOOL: return "BOOL";
    }
    return "?";
}

// Parses a safetensors dtype string; false when it is not one we know.
inline bool parse_dtype(const std::string& s, DType* out) {
    static const DType all[] = {DType::F32, DType::F16, DType::BF16, DType::I8, DType::U8,
                                DType::I16, DType::I32, DType::I64, DType::BOOL};
    for (DType t : all)
        if (s == dtype_name(t)) { *out = t; return true; }
    return false;
}

}  // namespace fastvlm
