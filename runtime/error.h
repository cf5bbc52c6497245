// One error type for the whole runtime: what failed and where (file, tensor, shape).
// Libraries throw it; only the CLI and the bench turn it into one line and an exit code.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace fastvlm {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Builds "<where>: <part><part>..." and throws it, e.g.
//   fail("model.safetensors", "tensor 'x': offsets [8, 4) run backwards");
template <typename... Parts>
[[noreturn]] void fail(const std::string& where, const Parts&... parts) {
    std::ostringstream message;
    message << where << ": ";
    (message << ... << parts);
    throw Error(message.str());
}

}  // namespace fastvlm
