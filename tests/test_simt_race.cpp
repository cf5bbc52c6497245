// The SIMT runtime shows missing barriers: the race check names the unsynchronized access,
// and shuffling the order of threads between barriers changes the result of a racy kernel.
#include "tests/test_util.h"

#include <numeric>
#include <vector>

#include "tests/simt/runtime_test_kernels.cuh"

namespace {

simt::Options with(uint64_t shuffle_seed, bool race_check) {
    simt::Options o = simt::options();
    o.shuffle_seed = shuffle_seed;
    o.race_check = race_check;
    o.poison_shared = true;  // stale shared memory from an earlier launch must not pass for a result
    return o;
}

std::vector<int> neighbour_sums(const std::vector<int>& in) {
    std::vector<int> expected(in.size());
    for (size_t t = 0; t < in.size(); ++t) expected[t] = in[t] + (t > 0 ? in[t - 1] : 0);
    return expected;
}

}  // namespace

TEST_CASE("simt race check: a removed __syncthreads is reported with both threads and the variable") {
    if (!simt::race_check_available()) SKIP_TEST("kernels built without the race-check instrumentation (ASan build)");
    const int n = 96;
    std::vector<int> in(n), out(n);
    std::iota(in.begin(), in.end(), 1);
    {
        simt::ScopedOptions scope(with(0, true));
        simt_test::neighbour_sum(in.data(), out.data(), n, true);
        CHECK(out == neighbour_sums(in));
        const std::string e = test::error_of([&] { simt_test::neighbour_sum(in.data(), out.data(), n, false); });
        CHECK(e == "neighbour_sum_unsynced: block (0,0,0) thread (1,0,0): race on shared memory: this thread reads "
                   "simt_test::neighbour_sum_unsynced_kernel(int const*, int*, int)::s, byte 0, which thread "
                   "(0,0,0) wrote earlier, with no __syncthreads() or __syncwarp() between");
    }
    // The same racy kernel in the default order happens to compute the right sums: what the check is for.
    simt::ScopedOptions plain(with(0, false));
    simt_test::neighbour_sum(in.data(), out.data(), n, false);
    CHECK(out == neighbour_sums(in));
}

TEST_CASE("simt race check: write after read, and __syncwarp ordering within a warp") {
    if (!simt::race_check_available()) SKIP_TEST("kernels built without the race-check instrumentation (ASan build)");
    simt::ScopedOptions scope(with(0, true));
    std::vector<int> out(64);
    const std::string e = test::error_of([&] { simt_test::write_after_read(out.data(), 64); });
    CHECK(e.find("thread (1,0,0): race on shared memory: this thread writes") != std::string::npos);
    CHECK(e.find("which thread (0,0,0) read earlier") != std::string::npos);

    std::vector<int> in(64);
    std::iota(in.begin(), in.end(), 10);
    simt_test::warp_neighbour(in.data(), out.data(), true);
    for (int t = 0; t < 64; ++t) CHECK(out[size_t(t)] == in[size_t(t ^ 1)]);
    CHECK(test::error_of([&] { simt_test::warp_neighbour(in.data(), out.data(), false); }) ==
          "warp_neighbour_unsynced: block (0,0,0) thread (1,0,0): race on shared memory: this thread writes "
          "simt_test::warp_neighbour_kernel<false>(int const*, int*)::s, byte 4, which thread (0,0,0) read "
          "earlier, with no __syncthreads() or __syncwarp() between");
}

TEST_CASE("simt shuffled order: a removed __syncthreads changes the result") {
    const int n = 96;
    std::vector<int> in(n), out(n);
    std::iota(in.begin(), in.end(), 1);
    const std::vector<int> expected = neighbour_sums(in);
    int seeds_with_wrong_sums = 0;
    for (uint64_t seed = 1; seed <= 8; ++seed) {
        simt::ScopedOptions scope(with(seed, false));
        simt_test::neighbour_sum(in.data(), out.data(), n, true);
        REQUIRE(out == expected);  // with the barrier, every order agrees
        simt_test::neighbour_sum(in.data(), out.data(), n, false);
        seeds_with_wrong_sums += out != expected;
    }
    CHECK(seeds_with_wrong_sums == 8);  // 96 threads in random order: some read a neighbour too early
}
