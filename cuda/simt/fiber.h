// Fibers for the SIMT runtime: stacks with a guard page, a context switch that saves only the
// callee-saved registers (x86-64; ucontext elsewhere), and the AddressSanitizer annotations
// that make stack switching visible to it.
#pragma once
#include <cstddef>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace simt {

class FiberStack {
public:
    explicit FiberStack(size_t bytes);
    ~FiberStack();
    FiberStack(const FiberStack&) = delete;
    FiberStack& operator=(const FiberStack&) = delete;
    void* bottom() const { return usable_; }  // lowest usable address
    size_t size() const { return usable_bytes_; }
    void clear_sanitizer_state();  // before reuse: frames of an abandoned fiber stay poisoned

private:
    void* mapping_ = nullptr;
    size_t mapping_bytes_ = 0;
    void* usable_ = nullptr;
    size_t usable_bytes_ = 0;
};

struct FiberContext {
#if defined(__x86_64__)
    void* stack_pointer = nullptr;  // where the callee-saved registers were pushed
#else
    ucontext_t context;
#endif
};

// Per OS thread: the context of the scheduler that fibers return to.
struct SchedulerContext {
    FiberContext context;
    const void* stack_bottom = nullptr;  // learnt from the sanitizer on the first switch
    size_t stack_size = 0;
};

// Prepares `context` to run entry() on `stack` the next time it is switched to.
void make_fiber_context(FiberContext* context, FiberStack* stack, void (*entry)());

// Scheduler -> fiber; returns when the fiber yields or finishes.
void switch_to_fiber(SchedulerContext* scheduler, FiberContext* fiber, const FiberStack* stack);
// Fiber -> scheduler; returns when the scheduler resumes this fiber.
void switch_to_scheduler(SchedulerContext* scheduler, FiberContext* fiber);
// The fiber's first instructions: completes the switch that started it.
void fiber_started(SchedulerContext* scheduler);
// A fiber that will never run again hands control back for good.
[[noreturn]] void leave_fiber(SchedulerContext* scheduler, FiberContext* fiber);

}  // namespace simt
