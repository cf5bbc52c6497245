#include "runtime/backend.h"

#include <map>

#include "runtime/cpu/backend_cpu.h"
#include "runtime/error.h"

namespace fastvlm {

namespace {
std::map<std::string, BackendFactory>& registry() {
    static std::map<std::string, BackendFactory> factories;
    return factories;
}
}  // namespace

void register_backend(const std::string& name, BackendFactory factory) { registry()[name] = factory; }

bool backend_registered(const std::string& name) { return name == "cpu" || registry().count(name) != 0; }

std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options) {
    if (name == "cpu") {
        if (options.gemm != GemmEngine::Own)
            fail("cpu backend", "cuBLASLt GEMMs need the CUDA backend; the CPU backend has only its own");
        return std::make_unique<cpu::CpuBackend>(options.threads, options.copy_weights);
    }
    const auto it = registry().find(name);
    if (it != registry().end()) return it->second(options);
    std::string known = "cpu";
    for (const auto& entry : registry()) known += ", " + entry.first;
    if (name == "cuda") fail("backend", "this build has no CUDA backend (built without nvcc); known: ", known);
    fail("backend", "unknown backend '", name, "' (known: ", known, ")");
}

}  // namespace fastvlm
