#include "runtime/block_cache.h"

#include <algorithm>
#include <iterator>

namespace fastvlm {

std::shared_ptr<BlockCache> BlockCache::make(Allocate allocate, Free free, size_t granule, size_t max_cached) {
    return std::shared_ptr<BlockCache>(new BlockCache(allocate, free, granule, max_cached));
}

BlockCache::BlockCache(Allocate allocate, Free free, size_t granule, size_t max_cached)
    : allocate_(allocate), free_(free), granule_(granule), max_cached_(max_cached) {}

BlockCache::~BlockCache() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cache_locked();
}

void BlockCache::release_cache_locked() {
    for (auto& entry : free_blocks_) free_(entry.second);
    free_blocks_.clear();
    cached_ = 0;
}

std::shared_ptr<TensorBlock> BlockCache::take(size_t bytes) {
    const size_t capacity = (std::max<size_t>(bytes, 1) + granule_ - 1) / granule_ * granule_;
    void* ptr = nullptr;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = free_blocks_.find(capacity);
        if (it != free_blocks_.end()) {
            ptr = it->second;
            free_blocks_.erase(it);
            cached_ -= capacity;
        }
    }
    if (!ptr) ptr = allocate_(capacity);
    if (!ptr) {  // give the cached blocks back to the allocator and try once more
        {
            std::lock_guard<std::mutex> lock(mutex_);
            release_cache_locked();
        }
        ptr = allocate_(capacity);
        if (!ptr) return nullptr;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        current_ += bytes;
        peak_ = std::max(peak_, current_);
    }
    auto block = std::make_shared<TensorBlock>();
    block->ptr = ptr;
    block->bytes = bytes;
    block->release = [cache = shared_from_this(), capacity](TensorBlock& b) { cache->give_back(b.ptr, capacity, b.bytes); };
    return block;
}

void BlockCache::give_back(void* ptr, size_t capacity, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    current_ -= bytes;
    if (capacity > max_cached_) {
        free_(ptr);
        return;
    }
    while (cached_ + capacity > max_cached_) {  // make room, largest blocks first
        auto largest = std::prev(free_blocks_.end());
        cached_ -= largest->first;
        free_(largest->second);
        free_blocks_.erase(largest);
    }
    free_blocks_.emplace(capacity, ptr);
    cached_ += capacity;
}

size_t BlockCache::current() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return current_;
}

size_t BlockCache::peak() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return peak_;
}

}  // namespace fastvlm
