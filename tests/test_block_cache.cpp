// The backends' memory (runtime/block_cache.h): accounting of live and peak bytes, reuse of freed
// blocks by size, the cap on what is kept, and out-of-memory after the cache is given back.
#include <cstdlib>
#include <set>

#include "runtime/block_cache.h"
#include "tests/test_util.h"

using fastvlm::BlockCache;

namespace {

// An allocator with a budget, counting what it hands out and takes back.
size_t g_budget = 0, g_outstanding = 0, g_allocations = 0;
std::set<void*>* g_live = nullptr;

void* budget_allocate(size_t bytes) {
    if (g_outstanding + bytes > g_budget) return nullptr;
    g_outstanding += bytes;
    ++g_allocations;
    void* p = std::malloc(bytes + sizeof(size_t));
    *static_cast<size_t*>(p) = bytes;
    g_live->insert(p);
    return static_cast<size_t*>(p) + 1;
}

void budget_free(void* ptr) {
    size_t* p = static_cast<size_t*>(ptr) - 1;
    g_outstanding -= *p;
    g_live->erase(p);
    std::free(p);
}

struct Budget {
    std::set<void*> live;
    explicit Budget(size_t bytes) {
        g_budget = bytes;
        g_outstanding = 0;
        g_allocations = 0;
        g_live = &live;
    }
    ~Budget() { g_live = nullptr; }
};

}  // namespace

TEST_CASE("block cache: counts live and peak bytes and reuses freed blocks by size") {
    Budget budget(1 << 20);
    {
        auto cache = BlockCache::make(budget_allocate, budget_free, 64, 1 << 20);
        void* first = nullptr;
        {
            auto a = cache->take(100);  // rounded to 128
            auto b = cache->take(1000);
            REQUIRE(a);
            REQUIRE(b);
            first = a->ptr;
            CHECK(cache->current() == 1100);
            CHECK(cache->peak() == 1100);
        }
        CHECK(cache->current() == 0);
        CHECK(cache->peak() == 1100);
        CHECK(g_allocations == 2);
        auto again = cache->take(120);  // same 128-byte capacity: the freed block comes back
        CHECK(again->ptr == first);
        CHECK(g_allocations == 2);
        auto bigger = cache->take(200);
        CHECK(g_allocations == 3);
    }
    CHECK(g_outstanding == 0);  // the cache gave everything back when it went
}

TEST_CASE("block cache: keeps at most max_cached bytes and fails cleanly when out of memory") {
    Budget budget(4096);
    auto cache = BlockCache::make(budget_allocate, budget_free, 64, 1024);
    { auto big = cache->take(2048); }  // larger than the cap: freed at once
    CHECK(g_outstanding == 0);
    { auto a = cache->take(1024); }    // kept
    CHECK(g_outstanding == 1024);
    // 3584 does not fit next to the cached 1024: the cache is given back and the retry succeeds.
    auto large = cache->take(3584);
    REQUIRE(large);
    CHECK(g_outstanding == 3584);
    CHECK(cache->take(1024) == nullptr);  // really out of memory: nullptr, accounting unchanged
    CHECK(cache->current() == 3584);
}
