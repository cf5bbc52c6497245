// The memory of a backend: blocks from its allocator (host aligned_alloc, cudaMalloc), the bytes
// alive now and at the peak, and freed blocks kept by size and handed out again. The vision
// encoder allocates the same large activations block after block; fresh host pages cost a fault
// and a clear each, and cudaMalloc/cudaFree synchronize the device.
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>

#include "runtime/tensor.h"

namespace fastvlm {

class BlockCache : public std::enable_shared_from_this<BlockCache> {
public:
    using Allocate = void* (*)(size_t bytes);  // nullptr when out of memory
    using Free = void (*)(void* ptr);

    // Blocks are rounded up to `granule` bytes; at most `max_cached` bytes of freed blocks are kept.
    static std::shared_ptr<BlockCache> make(Allocate allocate, Free free, size_t granule, size_t max_cached);
    ~BlockCache();

    // A block of `bytes` whose release returns it here; nullptr when the allocator fails even
    // after the cached blocks were given back to it.
    std::shared_ptr<TensorBlock> take(size_t bytes);

    size_t current() const;  // bytes of live blocks (as asked, not rounded)
    size_t peak() const;

private:
    BlockCache(Allocate allocate, Free free, size_t granule, size_t max_cached);
    void give_back(void* ptr, size_t capacity, size_t bytes);
    void release_cache_locked();

    Allocate allocate_;
    Free free_;
    size_t granule_, max_cached_;
    mutable std::mutex mutex_;
    size_t current_ = 0, peak_ = 0, cached_ = 0;
    std::multimap<size_t, void*> free_blocks_;  // capacity -> block
};

}  // namespace fastvlm
