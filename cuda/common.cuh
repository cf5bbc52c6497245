// Included first by every kernel source and kernel header: the CUDA headers under nvcc, the
// SIMT runtime (cuda/simt/simt.h) under a host compiler, and the pieces that must read the
// same in both worlds: the dynamic shared memory declaration, the error check and the one
// launcher through which every kernel starts.
//
// Host code compiled by a host compiler for the real device (not the SIMT runtime) defines
// FASTVLM_CUDA_HOST before including this.
#pragma once
#if !defined(__CUDACC__) && !defined(FASTVLM_CUDA_HOST)
#include "cuda/simt/simt.h"
#else
#include <cuda_fp16.h>
#include <cuda_runtime.h>
// All extern __shared__ arrays alias one region; each kernel names its view of it.
#define FASTVLM_DYNAMIC_SHARED(type, name)                          \
    extern __shared__ __align__(16) unsigned char name##_bytes[]; \
    type* name = reinterpret_cast<type*>(name##_bytes)
#endif

#include <cstdint>
#include <string>

#include "runtime/error.h"

namespace fastvlm::gpu {

inline void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
    if (status != cudaSuccess)
        fail(std::string(file) + ":" + std::to_string(line), call, " failed: ", cudaGetErrorString(status));
}
#define FASTVLM_CUDA_CHECK(call) ::fastvlm::gpu::check_cuda((call), #call, __FILE__, __LINE__)

inline unsigned ceil_div(size_t a, size_t b) { return unsigned((a + b - 1) / b); }

inline bool aligned_16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

#if defined(FASTVLM_SIMT) || defined(__CUDACC__)
// Starts `kernel` on a grid of blocks. Every kernel launch in the project goes through here,
// so the SIMT and device builds share every call site. On the device, configuration errors
// are reported at once; faults inside the kernel surface at the next synchronization.
template <typename... Params, typename... Args>
void launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
            cudaStream_t stream, Args... args) {
#if defined(FASTVLM_SIMT)
    (void)stream;
    simt::launch(name, kernel, grid, block, shared_bytes, args...);
#else
    kernel<<<grid, block, shared_bytes, stream>>>(args...);
    const cudaError_t status = cudaGetLastError();
    if (status != cudaSuccess) fail(name, "launch failed: ", cudaGetErrorString(status));
#endif
}
#endif

}  // namespace fastvlm::gpu
