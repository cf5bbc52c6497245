// Shared-memory watch of the SIMT runtime: the race check, and the poisoning of shared memory
// that a block reads before writing.
//
// A shadow entry per byte of shared memory remembers which thread last wrote and read it in
// the current barrier interval. A read of a byte another thread wrote, or a write of a byte
// another thread read or wrote, with no __syncthreads() (or, within a warp, __syncwarp())
// between, stops the kernel with a report.
//
// Accesses reach the watch through the compiler's thread-sanitizer instrumentation: kernel
// sources are compiled with -fsanitize=thread, and race_check.cpp defines the __tsan_* entry
// points itself (libtsan is never linked). __shared__ variables are statics: those of plain
// functions sit in the "simt_shared" section, those of function templates (where GCC ignores
// section attributes) in .bss; the watch covers both, plus the launch's dynamic shared memory.
// Other static storage that a kernel touches in .bss (a __device__ variable without an
// initializer) is therefore treated as shared memory too.
#pragma once
#include <cstddef>

namespace simt::race {

// Called by the scheduler around each block and at each synchronization point.
void begin_block(int n_warps, const void* dynamic_shared, size_t dynamic_bytes);
void end_block();
void block_synced();         // a __syncthreads() completed
void warp_synced(int warp);  // a __syncwarp() completed

// One access by the running thread; `checked` = false records the touch without a race check
// (atomics).
void on_access(const void* p, size_t bytes, bool is_write, bool checked = true);

// The "simt_shared" section (empty when no kernel declares a __shared__ variable there).
unsigned char* section_begin();
unsigned char* section_end();
// Inside the section or .bss: where __shared__ variables live (not a proof that p is one).
bool is_static_shared(const void* p, size_t bytes);

}  // namespace simt::race
