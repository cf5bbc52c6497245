// The SIMT scheduler: runs a launch block by block, each block's threads as fibers that switch
// only at barriers and warp collectives. A barrier releases when every thread that has not
// exited arrives; a warp collective completes when every lane of its mask arrives. When no
// fiber can run and some have not finished, the block is deadlocked and the launch fails
// with a description of who waits where.
#include <cstdarg>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "cuda/simt/fiber.h"
#include "cuda/simt/race_check.h"
#include "cuda/simt/simt.h"
#include "runtime/error.h"

namespace simt {

thread_local ThreadContext* current_thread = nullptr;

namespace {

enum class State : uint8_t { Ready, AtBarrier, AtWarp, AtActiveMask, Done };

struct AsyncCopy {
    void* dst;
    size_t bytes;
    unsigned char data[16];  // read from global memory when the copy was issued
};

struct Fiber {
    ThreadContext thread;
    FiberContext context;
    FiberStack* stack = nullptr;
    State state = State::Ready;
    int barrier_predicate = 0;
    unsigned active_mask = 0;
    const void* warp_input = nullptr;
    void* warp_output = nullptr;
    std::vector<AsyncCopy> open_group;                // cp.async issued since the last commit
    std::deque<std::vector<AsyncCopy>> committed;     // oldest first
};

struct PendingCollective {
    const char* op;
    unsigned mask, arrived;
    WarpCombine combine;
};

struct Warp {
    unsigned exists = 0;  // lanes inside blockDim
    unsigned live = 0;    // lanes that have not exited
    std::vector<PendingCollective> pending;
};

struct Block {
    const Launch* launch = nullptr;
    std::vector<Fiber>* fibers = nullptr;
    std::vector<Warp> warps;
    int live = 0, at_barrier = 0;
    BarrierReduce barrier_kind = BarrierReduce::None;
    int barrier_result = 0;
    std::deque<int> ready;
    Fiber* running = nullptr;
    std::string error;
    uint64_t rng = 0;
    bool shuffle = false;  // options().shuffle_seed != 0, read once per block
    void* dynamic_shared = nullptr;
    size_t dynamic_bytes = 0;
};

thread_local Block* block = nullptr;
thread_local SchedulerContext scheduler;
std::mutex launch_mutex;  // the static __shared__ region is one per process: one launch at a time

uint64_t next_random(uint64_t& state) {  // splitmix64
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

Fiber* running_fiber(const char* what) {
    if (block == nullptr || block->running == nullptr)
        fastvlm::fail("simt", what, " called outside a kernel");
    return block->running;
}

void make_ready(Fiber& f) {
    f.state = State::Ready;
    block->ready.push_back(f.thread.linear);
}

// The running fiber gives up the CPU; it continues when the scheduler picks it again.
void yield(Fiber* f) { switch_to_scheduler(&scheduler, &f->context); }

std::string xyz(const uint3& v) {
    return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")";
}
std::string hex_mask(unsigned m) {
    char s[16];
    std::snprintf(s, sizeof s, "0x%08x", m);
    return s;
}

void release_barrier() {
    int count = 0, all = 1, any = 0;
    for (Fiber& f : *block->fibers) {
        if (f.state != State::AtBarrier) continue;
        count += f.barrier_predicate != 0;
        all &= f.barrier_predicate != 0;
        any |= f.barrier_predicate != 0;
    }
    switch (block->barrier_kind) {
        case BarrierReduce::Count: block->barrier_result = count; break;
        case BarrierReduce::And: block->barrier_result = all; break;
        case BarrierReduce::Or: block->barrier_result = any; break;
        case BarrierReduce::None: block->barrier_result = 0; break;
    }
    for (Fiber& f : *block->fibers)
        if (f.state == State::AtBarrier) make_ready(f);
    block->at_barrier = 0;
    race::block_synced();
}

void complete_async_group(std::vector<AsyncCopy>& group) {
    for (AsyncCopy& c : group) {
        note_shared_write(c.dst, c.bytes);
        std::memcpy(c.dst, c.data, c.bytes);
    }
}

void thread_exit(Fiber* f) {
    // Copies still in flight land, as they would on the device.
    for (auto& group : f->committed) complete_async_group(group);
    complete_async_group(f->open_group);
    f->committed.clear();
    f->open_group.clear();
    f->state = State::Done;
    --block->live;
    Warp& w = block->warps[size_t(f->thread.warp)];
    const unsigned bit = 1u << f->thread.lane;
    w.live &= ~bit;
    for (const PendingCollective& p : w.pending)
        if (p.mask & bit)
            kernel_error("exited while lanes %s of its warp wait for it in %s (mask %s)",
                         hex_mask(p.arrived).c_str(), p.op, hex_mask(p.mask).c_str());
    if (block->at_barrier > 0 && block->at_barrier == block->live) release_barrier();
}

void fiber_entry() {
    fiber_started(&scheduler);
    Fiber* f = block->running;
    char what[256] = "";
    try {
        block->launch->body(block->launch->args);
    } catch (const std::exception& e) {
        std::snprintf(what, sizeof what, "%s", e.what());  // the exception is freed before the fiber is abandoned
    }
    if (what[0]) kernel_error("threw an exception: %s", what);
    thread_exit(f);
    leave_fiber(&scheduler, &f->context);
}

bool release_active_mask_waiters() {
    std::vector<unsigned> arrived(block->warps.size(), 0u);
    bool any = false;
    for (Fiber& f : *block->fibers)
        if (f.state == State::AtActiveMask) {
            arrived[size_t(f.thread.warp)] |= 1u << f.thread.lane;
            any = true;
        }
    for (Fiber& f : *block->fibers)
        if (f.state == State::AtActiveMask) {
            f.active_mask = arrived[size_t(f.thread.warp)];
            make_ready(f);
        }
    return any;
}

std::string describe_deadlock() {
    std::string s = "deadlock: no thread can continue;";
    if (block->at_barrier > 0) s += " " + std::to_string(block->at_barrier) + " threads wait at __syncthreads();";
    for (size_t w = 0; w < block->warps.size(); ++w)
        for (const PendingCollective& p : block->warps[w].pending)
            s += " warp " + std::to_string(w) + ": lanes " + hex_mask(p.arrived) + " wait in " + p.op + " (mask " +
                 hex_mask(p.mask) + ") for lanes " + hex_mask(p.mask & ~p.arrived) + ";";
    s += " " + std::to_string(block->live) + " threads have not exited";
    return s;
}

// Fiber stacks are kept between launches.
std::vector<std::unique_ptr<FiberStack>>& stack_pool(size_t count, size_t bytes) {
    static thread_local std::vector<std::unique_ptr<FiberStack>> pool;
    static thread_local size_t pool_bytes = 0;
    if (pool_bytes != bytes) {
        pool.clear();
        pool_bytes = bytes;
    }
    while (pool.size() < count) pool.push_back(std::make_unique<FiberStack>(bytes));
    return pool;
}

void validate(const Launch& l) {
    const uint64_t threads = uint64_t(l.block.x) * l.block.y * l.block.z;
    if (threads == 0 || threads > 1024 || l.block.x > 1024 || l.block.y > 1024 || l.block.z > 64)
        fastvlm::fail(l.name, "invalid launch: block ", xyz({l.block.x, l.block.y, l.block.z}),
                      " (1 to 1024 threads, z at most 64)");
    if (l.grid.x == 0 || l.grid.y == 0 || l.grid.z == 0 || l.grid.x > 0x7fffffffu || l.grid.y > 65535 ||
        l.grid.z > 65535)
        fastvlm::fail(l.name, "invalid launch: grid ", xyz({l.grid.x, l.grid.y, l.grid.z}));
    if (l.shared_bytes > max_dynamic_shared(l.kernel))
        fastvlm::fail(l.name, "invalid launch: ", l.shared_bytes, " bytes of dynamic shared memory, the kernel allows ",
                      max_dynamic_shared(l.kernel), " (raise with cudaFuncSetAttribute)");
}

void run_block(Block& b, std::vector<Fiber>& fibers, const uint3& block_idx, const Launch& l) {
    const Options& opt = options();
    const int n = int(fibers.size());
    b.warps.assign(size_t((n + 31) / 32), Warp{});
    for (int i = 0; i < n; ++i) {
        Fiber& f = fibers[size_t(i)];
        f.thread.block_idx = block_idx;
        f.state = State::Ready;
        f.open_group.clear();
        f.committed.clear();
        f.stack->clear_sanitizer_state();
        make_fiber_context(&f.context, f.stack, &fiber_entry);
        b.warps[size_t(i / 32)].exists |= 1u << (i % 32);
    }
    for (Warp& w : b.warps) w.live = w.exists;
    b.live = n;
    b.at_barrier = 0;
    b.barrier_kind = BarrierReduce::None;
    b.ready.clear();
    for (int i = 0; i < n; ++i) b.ready.push_back(i);
    b.shuffle = opt.shuffle_seed != 0;
    b.rng = opt.shuffle_seed ^ (uint64_t(block_idx.x) * 0x100000001b3ull + uint64_t(block_idx.y) * 0x9e37ull +
                                uint64_t(block_idx.z));

    if (opt.poison_shared) {
        unsigned char* s0 = race::section_begin();
        unsigned char* s1 = race::section_end();
        if (s0 && s1 > s0) std::memset(s0, 0xff, size_t(s1 - s0));
        if (b.dynamic_bytes) std::memset(b.dynamic_shared, 0xff, b.dynamic_bytes);
    }
    race::begin_block(int(b.warps.size()), b.dynamic_shared, b.dynamic_bytes);

    while (b.error.empty() && (!b.ready.empty() || release_active_mask_waiters())) {
        size_t pick = 0;
        if (b.shuffle) pick = size_t(next_random(b.rng) % b.ready.size());
        const int index = b.ready[pick];
        b.ready[pick] = b.ready.front();
        b.ready.pop_front();
        Fiber& f = fibers[size_t(index)];
        b.running = &f;
        current_thread = &f.thread;
        switch_to_fiber(&scheduler, &f.context, f.stack);
        current_thread = nullptr;
        b.running = nullptr;
    }
    race::end_block();
    if (b.error.empty() && b.live > 0) b.error = "block " + xyz(block_idx) + ": " + describe_deadlock();
    if (!b.error.empty()) fastvlm::fail(l.name, b.error);
}

struct Attributes {
    std::mutex mutex;
    std::map<const void*, size_t> max_dynamic_shared;
};
Attributes& attributes() {
    static Attributes a;
    return a;
}

}  // namespace

// ---------------------------------------------------------------- options
Options& options() {
    static Options o = [] {
        Options e;
        if (const char* s = std::getenv("SIMT_SHUFFLE")) e.shuffle_seed = std::strtoull(s, nullptr, 10);
        if (const char* s = std::getenv("SIMT_RACE_CHECK")) e.race_check = std::atoi(s) != 0;
        if (const char* s = std::getenv("SIMT_POISON_SHARED")) e.poison_shared = std::atoi(s) != 0;
        if (const char* s = std::getenv("SIMT_STACK_KB")) {
            const long kb = std::atol(s);
            if (kb >= 16) e.stack_bytes = size_t(kb) * 1024;
        }
        return e;
    }();
    return o;
}

size_t max_dynamic_shared(const void* kernel) {
    Attributes& a = attributes();
    std::lock_guard<std::mutex> lock(a.mutex);
    auto it = a.max_dynamic_shared.find(kernel);
    return it == a.max_dynamic_shared.end() ? 48 * 1024 : it->second;
}

void set_max_dynamic_shared(const void* kernel, size_t bytes) {
    Attributes& a = attributes();
    std::lock_guard<std::mutex> lock(a.mutex);
    a.max_dynamic_shared[kernel] = bytes;
}

// ---------------------------------------------------------------- errors
void kernel_error(const char* format, ...) {
    char message[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(message, sizeof message, format, args);
    va_end(args);
    if (block == nullptr || block->running == nullptr) throw fastvlm::Error(std::string("simt: ") + message);
    Fiber* f = block->running;
    if (block->error.empty())
        block->error = "block " + xyz(f->thread.block_idx) + " thread " + xyz(f->thread.thread_idx) + ": " + message;
    leave_fiber(&scheduler, &f->context);  // the block is abandoned; its fibers never resume
}

// ---------------------------------------------------------------- barriers
int sync_block_reduce(int predicate, BarrierReduce kind) {
    Fiber* f = running_fiber("__syncthreads");
    if (block->at_barrier == 0) {
        block->barrier_kind = kind;
    } else if (block->barrier_kind != kind) {
        kernel_error("arrives at a different kind of barrier (__syncthreads, _count, _and, _or) than the threads "
                     "already waiting");
    }
    f->state = State::AtBarrier;
    f->barrier_predicate = predicate;
    if (++block->at_barrier == block->live) release_barrier();
    yield(f);
    return block->barrier_result;
}

void sync_block() { sync_block_reduce(0, BarrierReduce::None); }

// ---------------------------------------------------------------- warp collectives
void warp_collective(const char* op, unsigned mask, const void* input, void* output, WarpCombine combine) {
    Fiber* f = running_fiber(op);
    const int lane = f->thread.lane;
    const unsigned bit = 1u << lane;
    Warp& w = block->warps[size_t(f->thread.warp)];
    if (!(mask & bit)) kernel_error("%s: the calling lane %d is not in the mask %s", op, lane, hex_mask(mask).c_str());
    if (mask & ~w.exists)
        kernel_error("%s: the mask %s names lanes %s that do not exist in a block of %d threads", op,
                     hex_mask(mask).c_str(), hex_mask(mask & ~w.exists).c_str(), int(block->fibers->size()));
    if (mask & ~w.live)
        kernel_error("%s: the mask %s names lanes %s that have already exited", op, hex_mask(mask).c_str(),
                     hex_mask(mask & ~w.live).c_str());
    PendingCollective* joined = nullptr;
    for (PendingCollective& p : w.pending) {
        if (!(p.mask & mask)) continue;
        if (p.mask != mask || p.op != op)
            kernel_error("%s with mask %s, while lanes %s of its warp wait in %s with mask %s", op,
                         hex_mask(mask).c_str(), hex_mask(p.arrived).c_str(), p.op, hex_mask(p.mask).c_str());
        joined = &p;
    }
    if (joined == nullptr) {
        w.pending.push_back(PendingCollective{op, mask, 0, combine});
        joined = &w.pending.back();
    }
    f->warp_input = input;
    f->warp_output = output;
    joined->arrived |= bit;
    if (joined->arrived != mask) {
        f->state = State::AtWarp;
        yield(f);
        return;
    }
    // Last to arrive: exchange for everyone, then let the others continue.
    const PendingCollective done = *joined;
    w.pending.erase(w.pending.begin() + (joined - w.pending.data()));
    const void* inputs[32] = {};
    void* outputs[32] = {};
    Fiber* lanes = block->fibers->data() + size_t(f->thread.warp) * 32;
    for (int l = 0; l < 32; ++l)
        if (mask & (1u << l)) {
            inputs[l] = lanes[l].warp_input;
            outputs[l] = lanes[l].warp_output;
        }
    if (done.combine) done.combine(inputs, outputs, mask);
    for (int l = 0; l < 32; ++l)
        if ((mask & (1u << l)) && l != lane) make_ready(lanes[l]);
    if (block->shuffle) {
        make_ready(*f);
        yield(f);
    }
}

static void combine_syncwarp(const void* const*, void* const*, unsigned) { race::warp_synced(current_thread->warp); }

void sync_warp(unsigned mask) { warp_collective("__syncwarp", mask, nullptr, nullptr, &combine_syncwarp); }

// __activemask() returns the lanes of the warp that reach it together: the caller waits until
// no thread of the block can run any more, then every lane waiting there learns who came.
unsigned active_mask() {
    Fiber* f = running_fiber("__activemask");
    f->state = State::AtActiveMask;
    yield(f);
    return f->active_mask;
}

namespace {
struct ShuffleInput {
    uint64_t value;
    int source;
};
const char* shuffle_op_name = nullptr;  // for messages from the combine step

void combine_shuffle(const void* const* inputs, void* const* outputs, unsigned mask) {
    for (int l = 0; l < 32; ++l) {
        if (!(mask & (1u << l))) continue;
        const int source = static_cast<const ShuffleInput*>(inputs[l])->source;
        if (!(mask & (1u << source)))
            kernel_error("%s: lane %d reads lane %d, which is not in the mask %s", shuffle_op_name, l, source,
                         hex_mask(mask).c_str());
        *static_cast<uint64_t*>(outputs[l]) = static_cast<const ShuffleInput*>(inputs[source])->value;
    }
}

void combine_ballot(const void* const* inputs, void* const* outputs, unsigned mask) {
    unsigned ballot = 0;
    for (int l = 0; l < 32; ++l)
        if ((mask & (1u << l)) && *static_cast<const bool*>(inputs[l])) ballot |= 1u << l;
    for (int l = 0; l < 32; ++l)
        if (mask & (1u << l)) *static_cast<unsigned*>(outputs[l]) = ballot;
}
}  // namespace

uint64_t shuffle(const char* op, unsigned mask, uint64_t value, int lane_arg, int width, ShuffleKind kind) {
    Fiber* f = running_fiber(op);
    if (width < 1 || width > 32 || (width & (width - 1)) != 0)
        kernel_error("%s: width %d is not a power of two from 1 to 32", op, width);
    const int lane = f->thread.lane;
    const int segment = lane & ~(width - 1);
    int source = lane;
    switch (kind) {
        case ShuffleKind::Index: source = segment + (lane_arg & (width - 1)); break;
        case ShuffleKind::Up: source = lane - lane_arg >= segment ? lane - lane_arg : lane; break;
        case ShuffleKind::Down: source = lane + lane_arg < segment + width ? lane + lane_arg : lane; break;
        case ShuffleKind::Xor: source = (lane ^ lane_arg) < segment + width ? (lane ^ lane_arg) : lane; break;
    }
    if (source < 0 || source > 31) source = lane;
    ShuffleInput in{value, source};
    uint64_t out = 0;
    shuffle_op_name = op;
    warp_collective(op, mask, &in, &out, &combine_shuffle);
    return out;
}

unsigned vote_ballot(const char* op, unsigned mask, bool predicate) {
    unsigned out = 0;
    warp_collective(op, mask, &predicate, &out, &combine_ballot);
    return out;
}

// ---------------------------------------------------------------- shared memory and cp.async
void* dynamic_shared_memory() {
    running_fiber("dynamic shared memory");
    return block->dynamic_shared;
}
size_t dynamic_shared_bytes() { return block ? block->dynamic_bytes : 0; }

bool is_shared(const void* p, size_t bytes) {
    if (race::is_static_shared(p, bytes)) return true;
    const unsigned char* c = static_cast<const unsigned char*>(p);
    const unsigned char* d = static_cast<const unsigned char*>(block ? block->dynamic_shared : nullptr);
    return d && c >= d && c + bytes <= d + block->dynamic_bytes;
}

void async_copy(void* shared_dst, const void* global_src, size_t bytes, size_t src_bytes) {
    Fiber* f = running_fiber("cp.async");
    if (bytes != 4 && bytes != 8 && bytes != 16) kernel_error("cp.async: copy size %zu is not 4, 8 or 16", bytes);
    if (src_bytes > bytes) kernel_error("cp.async: source size %zu exceeds the copy size %zu", src_bytes, bytes);
    if (!is_shared(shared_dst, bytes)) kernel_error("cp.async: destination %p is not shared memory", shared_dst);
    if (reinterpret_cast<uintptr_t>(shared_dst) % bytes || reinterpret_cast<uintptr_t>(global_src) % bytes)
        kernel_error("cp.async: %zu-byte copy from %p to %p is misaligned", bytes, global_src, shared_dst);
    AsyncCopy c{shared_dst, bytes, {}};
    if (src_bytes) std::memcpy(c.data, global_src, src_bytes);  // the rest is zero-filled
    if (options().early_async_copies) {
        std::vector<AsyncCopy> now{c};
        complete_async_group(now);
        return;
    }
    f->open_group.push_back(c);
}

void async_commit() {
    Fiber* f = running_fiber("cp.async.commit_group");
    f->committed.push_back(std::move(f->open_group));
    f->open_group.clear();
}

void async_wait(int newest_groups_left_pending) {
    Fiber* f = running_fiber("cp.async.wait_group");
    while (int(f->committed.size()) > newest_groups_left_pending) {
        complete_async_group(f->committed.front());
        f->committed.pop_front();
    }
}

// ---------------------------------------------------------------- launch
void run(const Launch& l) {
    validate(l);
    std::lock_guard<std::mutex> lock(launch_mutex);
    if (block != nullptr) fastvlm::fail(l.name, "launched from inside a kernel");
    const int n = int(l.block.x * l.block.y * l.block.z);
    auto& pool = stack_pool(size_t(n), options().stack_bytes);
    std::vector<Fiber> fibers(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        Fiber& f = fibers[size_t(i)];
        f.stack = pool[size_t(i)].get();
        f.thread.thread_idx = {unsigned(i) % l.block.x, unsigned(i) / l.block.x % l.block.y,
                               unsigned(i) / (l.block.x * l.block.y)};
        f.thread.block_dim = l.block;
        f.thread.grid_dim = l.grid;
        f.thread.linear = i;
        f.thread.lane = i % 32;
        f.thread.warp = i / 32;
    }
    // Exactly the requested size, so that AddressSanitizer sees overruns of dynamic shared memory.
    struct Free {
        void operator()(void* p) const { ::operator delete(p, std::align_val_t(128)); }
    };
    std::unique_ptr<void, Free> dynamic(::operator new(l.shared_bytes, std::align_val_t(128)));
    Block b;
    b.launch = &l;
    b.fibers = &fibers;
    b.dynamic_shared = dynamic.get();
    b.dynamic_bytes = l.shared_bytes;
    block = &b;
    try {
        for (unsigned z = 0; z < l.grid.z; ++z)
            for (unsigned y = 0; y < l.grid.y; ++y)
                for (unsigned x = 0; x < l.grid.x; ++x) run_block(b, fibers, uint3{x, y, z}, l);
    } catch (...) {
        race::end_block();
        block = nullptr;
        throw;
    }
    block = nullptr;
}

}  // namespace simt
