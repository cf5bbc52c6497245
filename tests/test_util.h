// Helpers shared by the CPU tests: skipping with a reason, locating data, temporary files.
#pragma once
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <sys/stat.h>

#include "runtime/error.h"

namespace test {

// Counted and reported in the closing "tests: N passed, N failed, N skipped" line.
void note_skip(const std::string& reason);

// A test that cannot run here (missing ../shared/data, no GPU) says so and returns.
#define SKIP_TEST(reason)                 \
    do {                                  \
        ::test::note_skip(reason);        \
        return;                           \
    } while (0)

inline bool exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

// ../shared/data, relative to the repository root where the tests run; empty when absent.
inline std::string shared_data() {
    const char* env = std::getenv("FASTVLM_SHARED_DATA");
    std::string dir = env ? env : "../shared/data";
    return exists(dir) ? dir : std::string();
}

// A fresh directory under build/ for files a test writes.
std::string temp_dir(const std::string& name);

inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs `body` and returns the fastvlm::Error message it throws ("" when it does not throw).
template <typename F>
std::string error_of(F&& body) {
    try {
        body();
    } catch (const fastvlm::Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace test
