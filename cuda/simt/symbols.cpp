// ELF symbol lookup for race reports; only runs when a report is written.
#include "cuda/simt/symbols.h"

#include <cxxabi.h>
#include <elf.h>
#include <link.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

namespace simt {
namespace {

uintptr_t executable_load_bias() {
    uintptr_t bias = 0;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* out) {
            *static_cast<uintptr_t*>(out) = info->dlpi_addr;  // the first object is the executable
            return 1;
        },
        &bias);
    return bias;
}

std::string demangle(const char* name) {
    int status = 0;
    char* readable = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    std::string s = status == 0 && readable ? readable : name;
    std::free(readable);
    return s;
}

// Reads `size` bytes at `offset` of the file; false when the file is shorter.
bool read_at(std::ifstream& in, uint64_t offset, void* out, size_t size) {
    in.seekg(std::streamoff(offset));
    in.read(static_cast<char*>(out), std::streamsize(size));
    return bool(in);
}

}  // namespace

std::string describe_static_address(const void* address) {
    // Only the section headers, the symbol table and its strings are read: the executable may
    // be large (debug information).
    std::ifstream in("/proc/self/exe", std::ios::binary);
    Elf64_Ehdr header;
    if (!read_at(in, 0, &header, sizeof header) || std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 ||
        header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_shentsize != sizeof(Elf64_Shdr))
        return "";
    std::vector<Elf64_Shdr> sections(header.e_shnum);
    if (!read_at(in, header.e_shoff, sections.data(), sections.size() * sizeof(Elf64_Shdr))) return "";
    const uintptr_t target = reinterpret_cast<uintptr_t>(address) - executable_load_bias();
    for (const Elf64_Shdr& s : sections) {
        if (s.sh_type != SHT_SYMTAB || s.sh_link >= sections.size()) continue;
        std::vector<Elf64_Sym> symbols(s.sh_size / sizeof(Elf64_Sym));
        if (!read_at(in, s.sh_offset, symbols.data(), symbols.size() * sizeof(Elf64_Sym))) return "";
        for (const Elf64_Sym& sym : symbols) {
            if (ELF64_ST_TYPE(sym.st_info) != STT_OBJECT) continue;
            if (target < sym.st_value || target >= sym.st_value + sym.st_size) continue;
            const Elf64_Shdr& strings = sections[s.sh_link];
            if (sym.st_name >= strings.sh_size) return "";
            std::string name(size_t(std::min<uint64_t>(strings.sh_size - sym.st_name, 4096)), '\0');
            if (!read_at(in, strings.sh_offset + sym.st_name, &name[0], name.size())) return "";
            name.resize(std::strlen(name.c_str()));
            return demangle(name.c_str()) + ", byte " + std::to_string(target - sym.st_value);
        }
    }
    return "";
}

}  // namespace simt
