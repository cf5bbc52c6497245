// The subset of the CUDA runtime API that kernel launchers and tests use, for the SIMT
// build: device memory is host memory, copies are memcpy, work finishes before calls return.
#include <cstdlib>
#include <cstring>
#include <new>

#include "cuda/simt/simt.h"

namespace {
thread_local cudaError_t last_error = cudaSuccess;

cudaError_t record(cudaError_t e) {
    if (e != cudaSuccess) last_error = e;
    return e;
}
}  // namespace

const char* cudaGetErrorString(cudaError_t e) {
    switch (e) {
        case cudaSuccess: return "no error";
        case cudaErrorInvalidValue: return "invalid argument";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorInvalidConfiguration: return "invalid configuration argument";
        case cudaErrorNoDevice: return "no CUDA-capable device is detected";
        case cudaErrorLaunchFailure: return "unspecified launch failure";
    }
    return "unknown error";
}

cudaError_t cudaGetLastError() {
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError() { return last_error; }

cudaError_t cudaMalloc(void** p, size_t bytes) {
    if (p == nullptr) return record(cudaErrorInvalidValue);
    // 256-byte aligned, like device allocations, so that vector loads see the same alignment.
    *p = ::operator new(bytes == 0 ? 1 : bytes, std::align_val_t(256), std::nothrow);
    return *p ? cudaSuccess : record(cudaErrorMemoryAllocation);
}

cudaError_t cudaFree(void* p) {
    if (p) ::operator delete(p, std::align_val_t(256));
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
    if (bytes && (dst == nullptr || src == nullptr)) return record(cudaErrorInvalidValue);
    if (bytes) std::memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
    return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemset(void* p, int value, size_t bytes) {
    if (bytes && p == nullptr) return record(cudaErrorInvalidValue);
    if (bytes) std::memset(p, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t) { return cudaMemset(p, value, bytes); }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

cudaError_t cudaFuncSetAttribute(const void* kernel, cudaFuncAttribute attribute, int value) {
    if (attribute != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || value > 227 * 1024)
        return record(cudaErrorInvalidValue);
    simt::set_max_dynamic_shared(kernel, size_t(value));
    return cudaSuccess;
}
