// A small pool of worker threads, sized to the cores, for the CPU backend's operations.
// The calling thread works too, so a pool of n threads starts n - 1 workers. Decoding hands out
// a few hundred jobs per token, so idle workers spin briefly before sleeping: a job that follows
// within the spin window starts without a wake-up through the kernel.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fastvlm::cpu {

class ThreadPool {
public:
    explicit ThreadPool(int threads = 0);  // 0: one per hardware thread
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return int(workers_.size()) + 1; }

    // Runs task(i, thread) for every i in [0, n), handing tasks out one at a time; returns when
    // all are done and rethrows the first exception a task threw. A call made from inside a task
    // runs serially on that thread.
    void run(int64_t n, const std::function<void(int64_t task, int thread)>& task);

    // Splits [0, n) into size() contiguous ranges of nearly equal length (fewer when n is small)
    // and runs body(begin, end, thread) on each.
    void split(int64_t n, const std::function<void(int64_t begin, int64_t end, int thread)>& body);

private:
    void worker_loop(int thread);
    void work(int thread);

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_, done_;
    std::atomic<uint64_t> generation_{0};   // bumped for every job
    std::atomic<bool> stopping_{false};
    std::atomic<int> busy_workers_{0};

    // The job in flight.
    const std::function<void(int64_t, int)>* task_ = nullptr;
    int64_t n_tasks_ = 0;
    std::atomic<int64_t> next_task_{0};
    std::exception_ptr error_;
};

}  // namespace fastvlm::cpu
