// The SIMT runtime: CUDA semantics of barriers, shared memory, warp exchanges, atomics,
// cp.async and launch configuration, checked through small kernels (tests/simt/).
#include "tests/test_util.h"

#include <numeric>
#include <vector>

#include "tests/simt/runtime_test_kernels.cuh"

TEST_CASE("simt: threads of a block meet at __syncthreads and share __shared__ memory") {
    struct Shape {
        dim3 grid, block;
    };
    const Shape shapes[] = {{dim3(1), dim3(1)}, {dim3(3), dim3(32)}, {dim3(2), dim3(1024)},
                            {dim3(2, 3, 2), dim3(7, 5, 3)}, {dim3(1), dim3(33)}};
    for (const Shape& s : shapes) {
        const int n = int(s.block.x * s.block.y * s.block.z), blocks = int(s.grid.x * s.grid.y * s.grid.z);
        std::vector<int> in(size_t(n * blocks)), out(in.size(), -1);
        std::iota(in.begin(), in.end(), 100);
        simt_test::reverse_in_block(in.data(), out.data(), s.grid, s.block);
        for (int b = 0; b < blocks; ++b)
            for (int t = 0; t < n; ++t) REQUIRE(out[size_t(b * n + t)] == in[size_t(b * n + n - 1 - t)]);
    }
}

TEST_CASE("simt: shuffles, votes and __activemask follow the CUDA lane rules") {
    std::vector<int> values(32);
    for (int l = 0; l < 32; ++l) values[size_t(l)] = 1000 + 7 * l;
    std::vector<unsigned> out(32 * 10);
    simt_test::warp_exchanges(values.data(), out.data());
    for (int l = 0; l < 32; ++l) {
        const unsigned* o = &out[size_t(l) * 10];
        auto v = [&](int lane) { return unsigned(values[size_t(lane)]); };
        CHECK(o[0] == v(l ^ 5));
        CHECK(o[1] == v(l >= 3 ? l - 3 : l));         // lanes below the delta keep their own value
        CHECK(o[2] == v(l + 3 < 32 ? l + 3 : l));
        CHECK(o[3] == v(7));
        CHECK(o[4] == v(l ^ 1));
        CHECK(o[5] == v(l % 16 + 2 < 16 ? l + 2 : l));  // width 16: no reading past the segment
        CHECK(o[6] == 0xaaaaaaaau);
        CHECK(o[7] == 1u);
        CHECK(o[8] == 1u);
        CHECK(o[9] == 0xffffffffu);
    }
}

TEST_CASE("simt: dishonest warp masks are refused with a message") {
    CHECK(test::error_of([] { simt_test::dishonest_warp(0); }).find("is not in the mask 0x0000fffe") !=
          std::string::npos);
    const std::string half_warp = test::error_of([] { simt_test::dishonest_warp(1); });
    CHECK(half_warp.find("exited") != std::string::npos);
    CHECK(half_warp.find("__shfl_xor_sync") != std::string::npos);
    CHECK(test::error_of([] { simt_test::dishonest_warp(2); }).find("lane 15 reads lane 16, which is not in the mask") !=
          std::string::npos);
    CHECK(test::error_of([] { simt_test::dishonest_warp(3); }).find("while lanes") != std::string::npos);
    const std::string deadlock = test::error_of([] { simt_test::dishonest_warp(4); });
    CHECK(deadlock.find("deadlock") != std::string::npos);
    CHECK(deadlock.find("1 threads wait at __syncthreads()") != std::string::npos);
    CHECK(deadlock.find("wait in __shfl_xor_sync") != std::string::npos);
    CHECK(deadlock.find("dishonest_warp") == 0);  // the kernel is named first
}

TEST_CASE("simt: atomics count every thread of every block") {
    int counter = 0;
    simt_test::count_threads(&counter, dim3(5, 2), dim3(96));
    CHECK(counter == 5 * 2 * 96);
}

TEST_CASE("simt: __syncthreads_count, _and and _or reduce the predicate") {
    int out[3] = {-1, -1, -1};
    simt_test::barrier_reductions(out, 100);
    CHECK(out[0] == 34);  // 0, 3, ..., 99
    CHECK(out[1] == 0);
    CHECK(out[2] == 1);
    simt_test::barrier_reductions(out, 1);
    CHECK(out[0] == 1);
    CHECK(out[1] == 1);
}

TEST_CASE("simt: dynamic shared memory and its launch limit") {
    const int n = 300;
    std::vector<float> in(n), out(n);
    std::iota(in.begin(), in.end(), 0.5f);
    simt_test::reverse_dynamic(in.data(), out.data(), n, n * sizeof(float));
    for (int i = 0; i < n; ++i) REQUIRE(out[size_t(i)] == in[size_t(n - 1 - i)]);
    const std::string e = test::error_of([&] { simt_test::reverse_dynamic(in.data(), out.data(), n, 64 * 1024); });
    CHECK(e == "reverse_dynamic: invalid launch: 65536 bytes of dynamic shared memory, the kernel allows 49152 "
               "(raise with cudaFuncSetAttribute)");
}

TEST_CASE("simt: invalid launch shapes are refused") {
    int counter = 0;
    CHECK(test::error_of([&] { simt_test::count_threads(&counter, dim3(1), dim3(1025)); }) ==
          "count_threads: invalid launch: block (1025,1,1) (1 to 1024 threads, z at most 64)");
    CHECK(test::error_of([&] { simt_test::count_threads(&counter, dim3(1), dim3(1, 1, 65)); }).find("invalid launch") !=
          std::string::npos);
    CHECK(test::error_of([&] { simt_test::count_threads(&counter, dim3(0), dim3(32)); }) ==
          "count_threads: invalid launch: grid (0,1,1)");
    CHECK(counter == 0);
}

TEST_CASE("simt: cp.async data lands at the wait, not before") {
    simt::Options poisoned = simt::options();
    poisoned.poison_shared = true;
    simt::ScopedOptions scope(poisoned);
    const int n = 64;
    std::vector<int> in(n), out(n);
    std::iota(in.begin(), in.end(), 1);
    simt_test::async_copy_through_shared(in.data(), out.data(), n, true);
    CHECK(out == in);
    simt_test::async_copy_through_shared(in.data(), out.data(), n, false);
    for (int v : out) CHECK(v == -1);  // still the poison of untouched shared memory
}

TEST_CASE("simt: with early_async_copies, cp.async data lands at its issue") {
    simt::Options early = simt::options();
    early.poison_shared = true;
    early.early_async_copies = true;
    simt::ScopedOptions scope(early);
    const int n = 64;
    std::vector<int> in(n), out(n);
    std::iota(in.begin(), in.end(), 1);
    simt_test::async_copy_through_shared(in.data(), out.data(), n, false);  // no wait: already there
    CHECK(out == in);
}

TEST_CASE("simt: shared memory starts poisoned in every block") {
    simt::Options poisoned = simt::options();
    poisoned.poison_shared = true;
    simt::ScopedOptions scope(poisoned);
    unsigned out[4] = {};
    simt_test::read_unwritten_shared(out);
    for (unsigned v : out) CHECK(v == 0xffffffffu);
}
