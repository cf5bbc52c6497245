// Shadow memory for the shared-memory watch and the instrumentation entry points that feed it.
#include "cuda/simt/race_check.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cuda/simt/simt.h"
#include "cuda/simt/symbols.h"

// Bounds from the linker: the "simt_shared" section (when some kernel declares a __shared__
// variable outside a template) and .bss. Weak, so that a binary without them still links.
extern "C" unsigned char __start_simt_shared[] __attribute__((weak));
extern "C" unsigned char __stop_simt_shared[] __attribute__((weak));
extern "C" unsigned char __bss_start[] __attribute__((weak));
extern "C" unsigned char _end[] __attribute__((weak));

namespace simt::race {
namespace {

struct Shadow {
    uint32_t touched;                        // block serial of the first access in the current block
    uint32_t write_epoch, write_warp_epoch;  // barrier epoch of the last write; its warp's sync epoch then
    uint32_t read_epoch, read_warp_epoch;
    int16_t writer, writer_warp;             // thread and warp of the last write
    int16_t reader, reader_warp;             // kSeveral when more than one thread read
};
constexpr int16_t kSeveral = -1;

// Shadow pages are allocated on first touch: .bss can be large, kernels touch little of it.
constexpr size_t kPageBytes = 4096;
struct Region {
    uintptr_t begin = 0, end = 0;
    bool poison_on_first_read = false;  // dynamic and section memory are poisoned eagerly instead
    std::vector<std::unique_ptr<Shadow[]>> pages;
    const char* name = "";
    Shadow& at(uintptr_t byte) {
        const size_t offset = byte - begin;
        std::unique_ptr<Shadow[]>& page = pages[offset / kPageBytes];
        if (!page) page.reset(new Shadow[kPageBytes]());
        return page[offset % kPageBytes];
    }
};

std::atomic<bool> instrumented{false};
// Read by every hook: the watched ranges as (begin, size) pairs, sizes zero while no block runs.
std::atomic<uintptr_t> watch_begin[3], watch_size[3];
bool checking = false, poisoning = false;
Region regions[3];  // section, .bss, dynamic
uint32_t block_serial = 0;
std::vector<uint32_t> warp_epoch;
uint32_t epoch_counter = 0;  // unique across blocks, so shadow entries never need clearing
uint32_t block_epoch = 0;

void prepare(Region& r, uintptr_t begin, uintptr_t end, const char* name, bool poison_on_first_read) {
    r.begin = begin;
    r.end = end > begin ? end : begin;
    r.name = name;
    r.poison_on_first_read = poison_on_first_read;
    const size_t pages = (r.end - r.begin + kPageBytes - 1) / kPageBytes;
    if (r.pages.size() < pages) r.pages.resize(pages);
}

[[noreturn]] void report(const Region& r, uintptr_t a, bool is_write, bool other_wrote, int other) {
    char other_name[48];
    if (other == kSeveral) {
        std::snprintf(other_name, sizeof other_name, "other threads");
    } else {
        const dim3 d = current_thread->block_dim;
        std::snprintf(other_name, sizeof other_name, "thread (%u,%u,%u)", unsigned(other) % d.x,
                      unsigned(other) / d.x % d.y, unsigned(other) / (d.x * d.y));
    }
    char message[768];
    {  // strings are freed before kernel_error abandons this fiber
        std::string where = &r != &regions[2] ? describe_static_address(reinterpret_cast<const void*>(a)) : "";
        if (where.empty()) where = std::string(r.name) + ", byte " + std::to_string(a - r.begin);
        std::snprintf(message, sizeof message,
                      "race on shared memory: this thread %s %s, which %s %s earlier, with no __syncthreads() or "
                      "__syncwarp() between",
                      is_write ? "writes" : "reads", where.c_str(), other_name, other_wrote ? "wrote" : "read");
    }
    kernel_error("%s", message);
}

void check_byte(const Region& r, Shadow& s, uintptr_t byte, bool is_write) {
    const int16_t me = int16_t(current_thread->linear), my_warp = int16_t(current_thread->warp);
    const uint32_t my_warp_epoch = warp_epoch[size_t(my_warp)];
    // Another thread's access in this interval is ordered only by a later __syncwarp of a shared warp.
    const bool written_unordered = s.write_epoch == block_epoch && s.writer != me &&
                                   !(s.writer_warp == my_warp && s.write_warp_epoch != my_warp_epoch);
    if (written_unordered) report(r, byte, is_write, true, s.writer);
    if (is_write) {
        const bool read_unordered = s.read_epoch == block_epoch && s.reader != me &&
                                    !(s.reader_warp == my_warp && s.read_warp_epoch != my_warp_epoch);
        if (read_unordered) report(r, byte, true, false, s.reader);
        s.write_epoch = block_epoch;
        s.write_warp_epoch = my_warp_epoch;
        s.writer = me;
        s.writer_warp = my_warp;
        s.read_epoch = 0;
    } else if (s.read_epoch != block_epoch) {
        s.read_epoch = block_epoch;
        s.read_warp_epoch = my_warp_epoch;
        s.reader = me;
        s.reader_warp = my_warp;
    } else {
        if (s.reader != me) s.reader = kSeveral;
        if (s.reader_warp != my_warp) s.reader_warp = kSeveral;
        s.read_warp_epoch = my_warp_epoch;
    }
}

}  // namespace

// The hooks' fast path: most accesses are to global memory or the stack.
inline bool watched(const void* p) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    bool hit = false;
    for (int i = 0; i < 3; ++i)
        hit |= a - watch_begin[i].load(std::memory_order_relaxed) < watch_size[i].load(std::memory_order_relaxed);
    return hit;
}

unsigned char* section_begin() { return __start_simt_shared; }
unsigned char* section_end() { return __stop_simt_shared; }

bool is_static_shared(const void* p, size_t bytes) {
    const unsigned char* c = static_cast<const unsigned char*>(p);
    return (__start_simt_shared && c >= __start_simt_shared && c + bytes <= __stop_simt_shared) ||
           (__bss_start && c >= __bss_start && c + bytes <= _end);
}

void begin_block(int n_warps, const void* dynamic_shared, size_t dynamic_bytes) {
    checking = options().race_check;
    poisoning = options().poison_shared;
    if (!(checking || poisoning) || !instrumented.load(std::memory_order_relaxed)) return;
    prepare(regions[0], reinterpret_cast<uintptr_t>(__start_simt_shared), reinterpret_cast<uintptr_t>(__stop_simt_shared),
            "static __shared__ data", false);
    prepare(regions[1], reinterpret_cast<uintptr_t>(__bss_start), reinterpret_cast<uintptr_t>(_end),
            "static __shared__ data", true);
    const uintptr_t d = reinterpret_cast<uintptr_t>(dynamic_shared);
    prepare(regions[2], d, d + dynamic_bytes, "dynamic shared memory", false);
    warp_epoch.assign(size_t(n_warps), ++epoch_counter);
    block_epoch = ++epoch_counter;
    ++block_serial;
    for (int i = 0; i < 3; ++i) {
        watch_begin[i].store(regions[i].begin, std::memory_order_relaxed);
        watch_size[i].store(regions[i].end - regions[i].begin, std::memory_order_relaxed);
    }
}

void end_block() {
    for (auto& size : watch_size) size.store(0, std::memory_order_relaxed);
}
void block_synced() { block_epoch = ++epoch_counter; }
void warp_synced(int warp) {
    if (size_t(warp) < warp_epoch.size()) warp_epoch[size_t(warp)] = ++epoch_counter;
}

void on_access(const void* p, size_t bytes, bool is_write, bool checked) {
    if (!watched(p) || current_thread == nullptr) return;
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    for (Region& r : regions) {
        if (a < r.begin || a >= r.end) continue;
        for (uintptr_t byte = a; byte < a + bytes && byte < r.end; ++byte) {
            Shadow& s = r.at(byte);
            if (s.touched != block_serial) {
                // First touch in this block: what an earlier block left behind is not visible.
                s.touched = block_serial;
                s.write_epoch = s.read_epoch = 0;
                if (poisoning && r.poison_on_first_read && !is_write) *reinterpret_cast<unsigned char*>(byte) = 0xff;
            }
            if (checking && checked) check_byte(r, s, byte, is_write);
        }
        return;
    }
}

}  // namespace simt::race

namespace simt {
bool race_check_available() { return race::instrumented.load(std::memory_order_relaxed); }
void note_shared_write(const void* p, size_t bytes) { race::on_access(p, bytes, true); }
void note_atomic(const void* p, size_t bytes) { race::on_access(p, bytes, true, false); }
}  // namespace simt

// ---------------------------------------------------------------- instrumentation entry points
// The names and signatures the compiler's -fsanitize=thread pass calls.
#define SIMT_READ(p, size) \
    if (simt::race::watched(p)) simt::race::on_access(p, size, false)
#define SIMT_WRITE(p, size) \
    if (simt::race::watched(p)) simt::race::on_access(p, size, true)
#define SIMT_TSAN_ACCESS(size)                                                         \
    void __tsan_read##size(void* p) { SIMT_READ(p, size); }                           \
    void __tsan_write##size(void* p) { SIMT_WRITE(p, size); }                         \
    void __tsan_unaligned_read##size(void* p) { SIMT_READ(p, size); }                 \
    void __tsan_unaligned_write##size(void* p) { SIMT_WRITE(p, size); }               \
    void __tsan_volatile_read##size(void* p) { SIMT_READ(p, size); }                  \
    void __tsan_volatile_write##size(void* p) { SIMT_WRITE(p, size); }                \
    void __tsan_unaligned_volatile_read##size(void* p) { SIMT_READ(p, size); }        \
    void __tsan_unaligned_volatile_write##size(void* p) { SIMT_WRITE(p, size); }

extern "C" {
void __tsan_init() { simt::race::instrumented.store(true, std::memory_order_relaxed); }
void __tsan_func_entry(void*) {}
void __tsan_func_exit() {}
SIMT_TSAN_ACCESS(1)
SIMT_TSAN_ACCESS(2)
SIMT_TSAN_ACCESS(4)
SIMT_TSAN_ACCESS(8)
SIMT_TSAN_ACCESS(16)
void __tsan_read_range(void* p, unsigned long size) { simt::race::on_access(p, size, false); }
void __tsan_write_range(void* p, unsigned long size) { simt::race::on_access(p, size, true); }
void __tsan_vptr_read(void**) {}
void __tsan_vptr_update(void**, void*) {}
void* __tsan_memcpy(void* dst, const void* src, unsigned long size) {
    simt::race::on_access(src, size, false);
    simt::race::on_access(dst, size, true);
    return std::memcpy(dst, src, size);
}
void* __tsan_memmove(void* dst, const void* src, unsigned long size) {
    simt::race::on_access(src, size, false);
    simt::race::on_access(dst, size, true);
    return std::memmove(dst, src, size);
}
void* __tsan_memset(void* dst, int value, unsigned long size) {
    simt::race::on_access(dst, size, true);
    return std::memset(dst, value, size);
}
void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
}

// Atomic operations in instrumented code (guards of function-local statics, std::atomic):
// performed sequentially consistent; atomics never race with each other.
#define SIMT_TSAN_ATOMICS(bits, T)                                                                                \
    extern "C" T __tsan_atomic##bits##_load(const volatile T* a, int) { return __atomic_load_n(a, __ATOMIC_SEQ_CST); } \
    extern "C" void __tsan_atomic##bits##_store(volatile T* a, T v, int) { __atomic_store_n(a, v, __ATOMIC_SEQ_CST); } \
    extern "C" T __tsan_atomic##bits##_exchange(volatile T* a, T v, int) {                                        \
        return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST);                                                       \
    }                                                                                                             \
    extern "C" T __tsan_atomic##bits##_fetch_add(volatile T* a, T v, int) {                                       \
        return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST);                                                        \
    }                                                                                                             \
    extern "C" T __tsan_atomic##bits##_fetch_sub(volatile T* a, T v, int) {                                       \
        return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST);                                                        \
    }                                                                                                             \
    extern "C" T __tsan_atomic##bits##_fetch_and(volatile T* a, T v, int) {                                       \
        return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST);                                                        \
    }                                                                                                             \
    extern "C" T __tsan_atomic##bits##_fetch_or(volatile T* a, T v, int) {                                        \
        return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST);                                                         \
    }                                                                                                             \
    extern "C" T __tsan_atomic##bits##_fetch_xor(volatile T* a, T v, int) {                                       \
        return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST);                                                        \
    }                                                                                                             \
    extern "C" T __tsan_atomic##bits##_fetch_nand(volatile T* a, T v, int) {                                      \
        return __atomic_fetch_nand(a, v, __ATOMIC_SEQ_CST);                                                       \
    }                                                                                                             \
    extern "C" int __tsan_atomic##bits##_compare_exchange_strong(volatile T* a, T* expected, T v, int, int) {     \
        return __atomic_compare_exchange_n(a, expected, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);            \
    }                                                                                                             \
    extern "C" int __tsan_atomic##bits##_compare_exchange_weak(volatile T* a, T* expected, T v, int, int) {       \
        return __atomic_compare_exchange_n(a, expected, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);             \
    }                                                                                                             \
    extern "C" T __tsan_atomic##bits##_compare_exchange_val(volatile T* a, T expected, T v, int, int) {           \
        __atomic_compare_exchange_n(a, &expected, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                  \
        return expected;                                                                                          \
    }
SIMT_TSAN_ATOMICS(8, char)
SIMT_TSAN_ATOMICS(16, short)
SIMT_TSAN_ATOMICS(32, int)
SIMT_TSAN_ATOMICS(64, long)

extern "C" {
void __tsan_atomic_signal_fence(int) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
}
