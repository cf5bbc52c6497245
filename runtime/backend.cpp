#include "runtime/backend.h"

#include "runtime/cpu/backend_cpu.h"
#include "runtime/error.h"

namespace fastvlm {

std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options) {
    if (name == "cpu") return std::make_unique<cpu::CpuBackend>(options.threads, options.copy_weights);
    fail("backend", "unknown backend '", name, "' (known: cpu)");
}

}  // namespace fastvlm
