// Fiber stacks and context switches. AddressSanitizer must be told when the stack changes
// (__sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber), otherwise it mistakes
// fiber stacks for heap memory and reports false stack errors.
#include "cuda/simt/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#include "runtime/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define SIMT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIMT_ASAN 1
#endif
#endif

#ifdef SIMT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__x86_64__)
// simt_switch_stack(void** save, void* next): pushes the callee-saved registers, stores the
// stack pointer in *save, loads `next` and pops the registers saved there. Kernels do not
// change the floating-point control registers, so they are not part of the switch.
extern "C" void simt_switch_stack(void** save, void* next);
asm(R"(
    .text
    .globl simt_switch_stack
    .type simt_switch_stack, @function
simt_switch_stack:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size simt_switch_stack, .-simt_switch_stack
)");
#endif

namespace simt {

FiberStack::FiberStack(size_t bytes) {
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    usable_bytes_ = (bytes + page - 1) / page * page;
    mapping_bytes_ = usable_bytes_ + page;  // one guard page below the stack
    mapping_ = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping_ == MAP_FAILED) fastvlm::fail("simt", "cannot map a fiber stack of ", mapping_bytes_, " bytes");
    mprotect(mapping_, page, PROT_NONE);  // an overflow faults instead of corrupting a neighbour
    usable_ = static_cast<char*>(mapping_) + page;
}

FiberStack::~FiberStack() {
    clear_sanitizer_state();
    munmap(mapping_, mapping_bytes_);
}

void FiberStack::clear_sanitizer_state() {
#ifdef SIMT_ASAN
    __asan_unpoison_memory_region(usable_, usable_bytes_);
#endif
}

#if defined(__x86_64__)
void make_fiber_context(FiberContext* context, FiberStack* stack, void (*entry)()) {
    // The first switch pops six zero registers and "returns" into entry with the stack
    // aligned as after a call (rsp = 16n + 8); entry never returns.
    uintptr_t top = (reinterpret_cast<uintptr_t>(stack->bottom()) + stack->size()) & ~uintptr_t(15);
    uintptr_t* sp = reinterpret_cast<uintptr_t*>(top - 8);  // entry's rsp; [sp] is a null return address
    sp[0] = 0;
    *--sp = reinterpret_cast<uintptr_t>(entry);
    for (int i = 0; i < 6; ++i) *--sp = 0;
    context->stack_pointer = sp;
}
static void switch_contexts(FiberContext* from, FiberContext* to) {
    simt_switch_stack(&from->stack_pointer, to->stack_pointer);
}
#else
void make_fiber_context(FiberContext* context, FiberStack* stack, void (*entry)()) {
    getcontext(&context->context);
    context->context.uc_stack.ss_sp = stack->bottom();
    context->context.uc_stack.ss_size = stack->size();
    context->context.uc_link = nullptr;
    makecontext(&context->context, entry, 0);
}
static void switch_contexts(FiberContext* from, FiberContext* to) { swapcontext(&from->context, &to->context); }
#endif

void switch_to_fiber(SchedulerContext* scheduler, FiberContext* fiber, const FiberStack* stack) {
#ifdef SIMT_ASAN
    void* fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&fake_stack, stack->bottom(), stack->size());
    switch_contexts(&scheduler->context, fiber);
    __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#else
    (void)stack;
    switch_contexts(&scheduler->context, fiber);
#endif
}

void fiber_started(SchedulerContext* scheduler) {
#ifdef SIMT_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &scheduler->stack_bottom, &scheduler->stack_size);
#else
    (void)scheduler;
#endif
}

void switch_to_scheduler(SchedulerContext* scheduler, FiberContext* fiber) {
#ifdef SIMT_ASAN
    void* fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&fake_stack, scheduler->stack_bottom, scheduler->stack_size);
    switch_contexts(fiber, &scheduler->context);
    __sanitizer_finish_switch_fiber(fake_stack, &scheduler->stack_bottom, &scheduler->stack_size);
#else
    switch_contexts(fiber, &scheduler->context);
#endif
}

void leave_fiber(SchedulerContext* scheduler, FiberContext* fiber) {
#ifdef SIMT_ASAN
    __sanitizer_start_switch_fiber(nullptr, scheduler->stack_bottom, scheduler->stack_size);
#endif
    switch_contexts(fiber, &scheduler->context);
    std::abort();  // a finished fiber is never resumed
}

}  // namespace simt
