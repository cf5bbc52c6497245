// Streaming-read bandwidth (benchmarks/bandwidth.h).
#include "benchmarks/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

#include "runtime/error.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace bench {

using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Sum of n floats with four independent accumulators (a pure streaming read).
static float stream_sum(const float* p, size_t n) {
    size_t i = 0;
#if defined(__AVX2__)
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    float sum = 0.0f;
    for (float l : lanes) sum += l;
#else
    float sum = 0.0f;
#endif
    for (; i < n; ++i) sum += p[i];
    return sum;
}

double measure_bandwidth(fastvlm::cpu::ThreadPool& pool, size_t bytes) {
    const size_t n = std::max<size_t>(bytes / sizeof(float) / 64 * 64, 1 << 16);
    float* buffer = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
    if (!buffer) fastvlm::fail("bench", "cannot allocate the bandwidth buffer");
    pool.split(int64_t(n), [&](int64_t begin, int64_t end, int) {
        for (int64_t i = begin; i < end; ++i) buffer[i] = 1.0f;
    });
    const int64_t blocks = pool.size();
    double best = 0.0;
    volatile float sink = 0.0f;
    for (int rep = 0; rep < 3; ++rep) {
        std::vector<float> partial(static_cast<size_t>(blocks));
        const auto start = Clock::now();
        pool.run(blocks, [&](int64_t b, int) {
            const size_t begin = n * size_t(b) / size_t(blocks) / 32 * 32, end = n * size_t(b + 1) / size_t(blocks) / 32 * 32;
            partial[size_t(b)] = stream_sum(buffer + begin, end - begin);
        });
        const double s = seconds_since(start);
        for (float p : partial) sink = sink + p;
        best = std::max(best, double(n * sizeof(float)) / s / 1e9);
    }
    std::free(buffer);
    return best;
}

}  // namespace bench
