#include "runtime/cpu/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define POOL_PAUSE() _mm_pause()
#else
#define POOL_PAUSE() std::this_thread::yield()
#endif

namespace fastvlm::cpu {

static thread_local bool inside_pool_task = false;
constexpr int kSpins = 4000;  // about 50 us of polling before a thread sleeps

ThreadPool::ThreadPool(int threads) {
    if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
    for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { worker_loop(t); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
}

void ThreadPool::work(int thread) {
    inside_pool_task = true;
    for (;;) {
        const int64_t i = next_task_.fetch_add(1);
        if (i >= n_tasks_) break;
        try {
            (*task_)(i, thread);
        } catch (...) {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!error_) error_ = std::current_exception();
            next_task_.store(n_tasks_);  // skip what is left
        }
    }
    inside_pool_task = false;
}

void ThreadPool::worker_loop(int thread) {
    uint64_t seen = 0;
    for (;;) {
        for (int spin = 0; spin < kSpins && generation_.load() == seen && !stopping_.load(); ++spin) POOL_PAUSE();
        if (generation_.load() == seen) {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [&] { return stopping_.load() || generation_.load() != seen; });
        }
        if (stopping_.load()) return;
        seen = generation_.load();
        work(thread);
        if (busy_workers_.fetch_sub(1) == 1) {
            std::lock_guard<std::mutex> lock(mutex_);
            done_.notify_one();
        }
    }
}

void ThreadPool::run(int64_t n, const std::function<void(int64_t, int)>& task) {
    if (n <= 0) return;
    if (inside_pool_task || workers_.empty() || n == 1) {
        for (int64_t i = 0; i < n; ++i) task(i, 0);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        task_ = &task;
        n_tasks_ = n;
        next_task_.store(0);
        error_ = nullptr;
        busy_workers_.store(int(workers_.size()));
        generation_.fetch_add(1);
    }
    wake_.notify_all();
    work(0);
    for (int spin = 0; spin < kSpins && busy_workers_.load() != 0; ++spin) POOL_PAUSE();
    std::exception_ptr error;
    {
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, [&] { return busy_workers_.load() == 0; });
        task_ = nullptr;
        error = error_;
        error_ = nullptr;
    }
    if (error) std::rethrow_exception(error);
}

void ThreadPool::split(int64_t n, const std::function<void(int64_t, int64_t, int)>& body) {
    if (n <= 0) return;
    const int64_t parts = std::min<int64_t>(size(), n);
    run(parts, [&](int64_t p, int thread) {
        body(n * p / parts, n * (p + 1) / parts, thread);
    });
}

}  // namespace fastvlm::cpu
