// The CPU backend: fp32 compute on the host, weights read in place from the mapped checkpoint
// in their stored dtype, a thread pool sized to the cores, no BLAS.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "runtime/backend.h"
#include "runtime/block_cache.h"
#include "runtime/cpu/thread_pool.h"

namespace fastvlm::cpu {

class CpuBackend final : public Backend {
public:
    // threads 0: one per hardware thread. copy_weights: weights of 64 KiB and more are copied
    // into backend memory instead of being read in place from the mapped file (decoding is
    // faster; memory holds them twice until the page cache lets the file go).
    explicit CpuBackend(int threads = 0, bool copy_weights = false);
    std::string name() const override { return "cpu"; }
    int threads() const { return pool_.size(); }
    ThreadPool& pool() { return pool_; }

    Tensor alloc(DType dtype, const Shape& shape) override;
    Tensor weight(const TensorView& view) override;
    Tensor upload(const std::vector<float>& values, const Shape& shape) override;
    Tensor upload_bytes(DType dtype, const Shape& shape, const void* bytes) override;
    void write(const Tensor& dst, const float* src) override;
    std::vector<float> read(const Tensor& src) override;
    MemoryStats memory() const override;

    void matmul(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias,
                Activation act) override;
    void linear(const Tensor& y, const Tensor& x, const LinearWeight& w, Activation act = Activation::None) override;

    void activate(const Tensor& x, Activation act) override;
    void add(const Tensor& y, const Tensor& x) override;
    void copy(const Tensor& dst, const Tensor& src) override;
    void transpose(const Tensor& y, const Tensor& x) override;

    void conv2d(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias, int stride,
                int pad, Activation act) override;
    void depthwise_conv2d(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias,
                          int stride, int pad, Activation act) override;
    void layernorm(const Tensor& y, const Tensor& x, const Tensor& weight, const Tensor& bias,
                   float eps) override;
    void add_scaled(const Tensor& y, const Tensor& x, const Tensor& scale) override;
    void mean_rows(const Tensor& y, const Tensor& x) override;
    void scale_channels(const Tensor& x, const Tensor& s) override;
    void self_attention(const Tensor& out, const Tensor& qkv, int heads, int head_dim) override;

    void embedding(const Tensor& y, const Tensor& table, const std::vector<int>& ids) override;
    void rmsnorm(const Tensor& y, const Tensor& x, const Tensor& weight, float eps) override;
    void rope(const Tensor& x, int heads, int head_dim, const std::vector<int>& positions,
              float theta) override;
    void silu_gate(const Tensor& out, const Tensor& gate, const Tensor& up) override;
    void kv_store(const Tensor& k_cache, const Tensor& v_cache, const Tensor& k, const Tensor& v,
                  int pos) override;
    void attention_cached(const Tensor& out, const Tensor& q, const Tensor& k_cache,
                          const Tensor& v_cache, int pos, int heads, int kv_heads,
                          int head_dim) override;

private:
    void split(int64_t n, int64_t cost, const std::function<void(int64_t, int64_t, int)>& body);
    void rows_in_chunks(int64_t n, int64_t cost, const std::function<void(int64_t, int64_t)>& body);

    ThreadPool pool_;
    std::shared_ptr<BlockCache> memory_;
    bool copy_weights_;
    std::atomic<size_t> mapped_bytes_{0}, copied_bytes_{0};
};

}  // namespace fastvlm::cpu
