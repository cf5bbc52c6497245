// Memory read bandwidth measured on the spot: the roofline every decode number is read against.
#pragma once
#include <cstddef>

#include "runtime/cpu/thread_pool.h"

namespace bench {

// GB/s of a streaming read of a 1 GiB buffer split across the pool's threads, best of 3
// (`bytes` lowers the buffer for quick runs).
double measure_bandwidth(fastvlm::cpu::ThreadPool& pool, size_t bytes = size_t(1) << 30);

}  // namespace bench
