// SIMT runtime: compiles CUDA kernel sources with the host compiler and runs them on the CPU
// with CUDA semantics. Each block's threads are cooperatively scheduled fibers; blocks run
// one after another. Barriers, warp shuffles and votes are exchanges between fibers, checked
// for honest masks; __shared__ variables live in one per-block memory region that the race
// check watches. docs/simt-on-cpu.md says what this guarantees and what it cannot show.
//
// This header is force-included (-include cuda/simt/simt.h) when a .cu file is compiled by
// the host compiler with -DFASTVLM_SIMT; host code that includes a kernel's .cuh gets it
// through cuda/common.cuh. Nothing here is used by the nvcc build.
#pragma once
#ifndef FASTVLM_SIMT
#define FASTVLM_SIMT 1
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>  // before __noinline__ is defined: libstdc++'s <memory> spells the attribute itself
#include <tuple>
#include <type_traits>
#include <utility>

#include "cuda/simt/half.h"

// ---------------------------------------------------------------- qualifiers
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __constant__
// A __shared__ variable is a static in the "simt_shared" section: one copy, which the block
// that is running owns (blocks run one at a time). The linker's __start_/__stop_simt_shared
// bound the region, so the runtime can poison it between blocks and watch it for races.
#define __shared__ static __attribute__((section("simt_shared")))
// Dynamic shared memory has no portable declaration spelling; kernels use this macro
// (cuda/common.cuh defines the nvcc form).
#define FASTVLM_DYNAMIC_SHARED(type, name) type* name = reinterpret_cast<type*>(::simt::dynamic_shared_memory())

// ---------------------------------------------------------------- vector types
struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(8) uint2 { unsigned x, y; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(4) char4 { signed char x, y, z, w; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline __half2 __float22half2_rn(float2 f) { return __floats2half2_rn(f.x, f.y); }
inline float2 __half22float2(__half2 h) { return {__half2float(h.x), __half2float(h.y)}; }

static constexpr int warpSize = 32;

// ---------------------------------------------------------------- runtime interface
namespace simt {

// What one fiber (one CUDA thread) sees of itself.
struct ThreadContext {
    uint3 thread_idx, block_idx;
    dim3 block_dim, grid_dim;
    int linear;  // x + y * blockDim.x + z * blockDim.x * blockDim.y
    int lane;    // linear % 32
    int warp;    // linear / 32
};
extern thread_local ThreadContext* current_thread;

// Runtime settings; `simt::options()` starts from the environment: SIMT_SHUFFLE=<seed>,
// SIMT_RACE_CHECK=1, SIMT_POISON_SHARED=0, SIMT_STACK_KB=<n>.
struct Options {
    uint64_t shuffle_seed = 0;    // 0: threads run in index order; else a random order per block
    bool race_check = false;      // flag unsynchronized shared-memory accesses (needs instrumented kernels)
    bool poison_shared = true;    // fill shared memory with 0xff bytes before each block
    // cp.async lands at its issue instead of at the wait: the earliest moment the device may
    // write shared memory (the default, landing at the wait, is the latest). With the race check
    // this exposes a copy into a buffer other threads may still be reading.
    bool early_async_copies = false;
    size_t stack_bytes = 64 * 1024;  // per fiber
};
Options& options();

// Sets options for a scope and restores the previous ones afterwards.
class ScopedOptions {
public:
    explicit ScopedOptions(const Options& o) : saved_(options()) { options() = o; }
    ~ScopedOptions() { options() = saved_; }
    ScopedOptions(const ScopedOptions&) = delete;
    ScopedOptions& operator=(const ScopedOptions&) = delete;

private:
    Options saved_;
};

// True when the kernels in this binary were compiled with the race-check instrumentation
// (-fsanitize=thread at compile time; the runtime supplies the hooks, not libtsan).
bool race_check_available();

// Stops the running kernel with a message naming the thread; the launch then throws
// fastvlm::Error. Outside a kernel it throws directly.
[[noreturn]] void kernel_error(const char* format, ...) __attribute__((format(printf, 1, 2)));

void sync_block();
enum class BarrierReduce { None, Count, And, Or };
int sync_block_reduce(int predicate, BarrierReduce kind);

// Warp collectives: every lane named in `mask` calls with the same op and mask; the last to
// arrive runs `combine` over all lanes' inputs and outputs (indexed by lane, null for lanes
// outside the mask), then all continue. `op` identifies the operation (compared by address).
using WarpCombine = void (*)(const void* const* inputs, void* const* outputs, unsigned mask);
void warp_collective(const char* op, unsigned mask, const void* input, void* output, WarpCombine combine);
void sync_warp(unsigned mask);
unsigned active_mask();

// Shared memory of the running block.
void* dynamic_shared_memory();
size_t dynamic_shared_bytes();
bool is_shared(const void* p, size_t bytes);

// Race-check bookkeeping for accesses the instrumentation cannot see (cp.async completion).
void note_shared_write(const void* p, size_t bytes);
void note_atomic(const void* p, size_t bytes);  // an access that never races with another atomic

// cp.async: copies are queued per thread and land in shared memory at the wait that
// completes their group, so a kernel that reads too early sees stale data.
void async_copy(void* shared_dst, const void* global_src, size_t bytes, size_t src_bytes);
void async_commit();
void async_wait(int newest_groups_left_pending);

// One kernel launch: `body(args)` runs once per thread.
struct Launch {
    const char* name;
    const void* kernel;
    dim3 grid, block;
    size_t shared_bytes;
    void (*body)(void* args);
    void* args;
};
// Runs every block; throws fastvlm::Error on a configuration error, a kernel error, a race or
// a deadlock.
void run(const Launch& launch);

// Largest dynamic shared memory a kernel may use (48 KB unless raised with
// cudaFuncSetAttribute, as on the device).
size_t max_dynamic_shared(const void* kernel);
void set_max_dynamic_shared(const void* kernel, size_t bytes);

template <typename... Params, typename... Args>
void launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
            Args&&... args) {
    struct Call {
        void (*kernel)(Params...);
        std::tuple<std::decay_t<Params>...> params;
    };
    Call call{kernel, std::tuple<std::decay_t<Params>...>(std::forward<Args>(args)...)};
    Launch l{name, reinterpret_cast<const void*>(kernel), grid, block, shared_bytes,
             [](void* p) {
                 Call* c = static_cast<Call*>(p);
                 std::apply(c->kernel, c->params);  // each thread gets its own copy of the arguments
             },
             &call};
    run(l);
}

template <typename T>
inline uint64_t to_bits(const T& v) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffles move at most 8 bytes");
    uint64_t u = 0;
    std::memcpy(&u, &v, sizeof(T));
    return u;
}
template <typename T>
inline T from_bits(uint64_t u) {
    T v;
    std::memcpy(&v, &u, sizeof(T));
    return v;
}

enum class ShuffleKind { Index, Up, Down, Xor };
uint64_t shuffle(const char* op, unsigned mask, uint64_t value, int lane_arg, int width, ShuffleKind kind);
unsigned vote_ballot(const char* op, unsigned mask, bool predicate);

}  // namespace simt

// ---------------------------------------------------------------- built-in variables
#define threadIdx (::simt::current_thread->thread_idx)
#define blockIdx (::simt::current_thread->block_idx)
#define blockDim (::simt::current_thread->block_dim)
#define gridDim (::simt::current_thread->grid_dim)

// ---------------------------------------------------------------- synchronization
inline void __syncthreads() { ::simt::sync_block(); }
inline int __syncthreads_count(int p) { return ::simt::sync_block_reduce(p, ::simt::BarrierReduce::Count); }
inline int __syncthreads_and(int p) { return ::simt::sync_block_reduce(p, ::simt::BarrierReduce::And); }
inline int __syncthreads_or(int p) { return ::simt::sync_block_reduce(p, ::simt::BarrierReduce::Or); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::simt::sync_warp(mask); }
inline unsigned __activemask() { return ::simt::active_mask(); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
[[noreturn]] inline void __trap() { ::simt::kernel_error("__trap() called"); }

template <typename T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
    return ::simt::from_bits<T>(::simt::shuffle("__shfl_sync", mask, ::simt::to_bits(var), src_lane, width,
                                                ::simt::ShuffleKind::Index));
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
    return ::simt::from_bits<T>(::simt::shuffle("__shfl_up_sync", mask, ::simt::to_bits(var), int(delta), width,
                                                ::simt::ShuffleKind::Up));
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
    return ::simt::from_bits<T>(::simt::shuffle("__shfl_down_sync", mask, ::simt::to_bits(var), int(delta), width,
                                                ::simt::ShuffleKind::Down));
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
    return ::simt::from_bits<T>(::simt::shuffle("__shfl_xor_sync", mask, ::simt::to_bits(var), lane_mask, width,
                                                ::simt::ShuffleKind::Xor));
}
inline unsigned __ballot_sync(unsigned mask, int p) { return ::simt::vote_ballot("__ballot_sync", mask, p != 0); }
inline int __all_sync(unsigned mask, int p) {
    return (::simt::vote_ballot("__all_sync", mask, p != 0) & mask) == mask;
}
inline int __any_sync(unsigned mask, int p) { return (::simt::vote_ballot("__any_sync", mask, p != 0) & mask) != 0; }

// ---------------------------------------------------------------- atomics
// Blocks run one at a time and fibers only switch at synchronization points, so a plain
// read-modify-write is atomic here. Kept out of the race-check instrumentation; the
// shared-memory watch is told of the access so that it is not mistaken for a race.
#define SIMT_ATOMIC(T, name, params, update)                   \
    inline __attribute__((no_sanitize("thread"))) T name params { \
        ::simt::note_atomic(p, sizeof(T));                       \
        T old = *p;                                              \
        update;                                                  \
        return old;                                              \
    }
template <typename T> SIMT_ATOMIC(T, atomicAdd, (T* p, T v), *p = T(old + v))
template <typename T> SIMT_ATOMIC(T, atomicSub, (T* p, T v), *p = T(old - v))
template <typename T> SIMT_ATOMIC(T, atomicExch, (T* p, T v), *p = v)
template <typename T> SIMT_ATOMIC(T, atomicMax, (T* p, T v), *p = old < v ? v : old)
template <typename T> SIMT_ATOMIC(T, atomicMin, (T* p, T v), *p = v < old ? v : old)
template <typename T> SIMT_ATOMIC(T, atomicAnd, (T* p, T v), *p = old & v)
template <typename T> SIMT_ATOMIC(T, atomicOr, (T* p, T v), *p = old | v)
template <typename T> SIMT_ATOMIC(T, atomicXor, (T* p, T v), *p = old ^ v)
template <typename T> SIMT_ATOMIC(T, atomicCAS, (T* p, T compare, T v), if (old == compare) *p = v)
SIMT_ATOMIC(unsigned, atomicInc, (unsigned* p, unsigned limit), *p = old >= limit ? 0u : old + 1u)
SIMT_ATOMIC(__half2, atomicAdd, (__half2* p, __half2 v), *p = __hadd2(old, v))
SIMT_ATOMIC(__half, atomicAdd, (__half* p, __half v), *p = __hadd(old, v))
#undef SIMT_ATOMIC

// ---------------------------------------------------------------- loads, bits and math
template <typename T> inline T __ldg(const T* p) { return *p; }
template <typename T> inline T __ldcs(const T* p) { return *p; }
template <typename T> inline T __ldcg(const T* p) { return *p; }
template <typename T> inline void __stcs(T* p, T v) { *p = v; }
template <typename T> inline void __stcg(T* p, T v) { *p = v; }

inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline unsigned __brev(unsigned x) {
    unsigned r = 0;
    for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
    return r;
}
// PRMT: byte i of the result is byte selector[4i..4i+3] of the 8-byte value {y, x}.
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned selector) {
    uint64_t bytes = uint64_t(x) | (uint64_t(y) << 32);
    unsigned r = 0;
    for (int i = 0; i < 4; ++i) r |= unsigned((bytes >> (8 * ((selector >> (4 * i)) & 7u))) & 0xffu) << (8 * i);
    return r;
}
inline int __dp4a(int a, int b, int c) {
    for (int i = 0; i < 4; ++i) c += int(int8_t(a >> (8 * i))) * int(int8_t(b >> (8 * i)));
    return c;
}
inline unsigned __dp4a(unsigned a, unsigned b, unsigned c) {
    for (int i = 0; i < 4; ++i) c += ((a >> (8 * i)) & 0xffu) * ((b >> (8 * i)) & 0xffu);
    return c;
}

// The device's approximate intrinsics are evaluated exactly here (docs/simt-on-cpu.md).
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __exp2f(float x) { return std::exp2(x); }
inline float __logf(float x) { return std::log(x); }
inline float __log2f(float x) { return std::log2(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline void __sincosf(float x, float* s, float* c) { *s = std::sin(x); *c = std::cos(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
// Never contracted into an FMA on the device; volatile keeps the host compiler from doing it.
inline float __fadd_rn(float a, float b) { volatile float r = a + b; return r; }
inline float __fmul_rn(float a, float b) { volatile float r = a * b; return r; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }

// ---------------------------------------------------------------- CUDA runtime API subset
// Device memory is host memory; copies are memcpy; launches finish before they return.
enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorNoDevice = 100,
    cudaErrorLaunchFailure = 719,
};
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
struct SimtStream;
typedef SimtStream* cudaStream_t;

const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
cudaError_t cudaMalloc(void** p, size_t bytes);
template <typename T> inline cudaError_t cudaMalloc(T** p, size_t bytes) {
    return cudaMalloc(reinterpret_cast<void**>(p), bytes);
}
cudaError_t cudaFree(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s = nullptr);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t s = nullptr);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaFuncSetAttribute(const void* kernel, cudaFuncAttribute attribute, int value);
template <typename... Params>
inline cudaError_t cudaFuncSetAttribute(void (*kernel)(Params...), cudaFuncAttribute attribute, int value) {
    return cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel), attribute, value);
}
