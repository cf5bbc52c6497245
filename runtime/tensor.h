// A tensor that lives in a backend's memory: a dtype, a row-major shape and a byte offset into
// a shared block. Views (rows, reshape) share the block; the block is returned to the backend
// when its last view goes away. The model code never reads data() itself: it hands tensors to
// backend ops, so the same model code drives host and device memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/dtype.h"

namespace fastvlm {

using Shape = std::vector<int64_t>;

std::string shape_string(const Shape& shape);   // "[256, 3072]"
int64_t shape_numel(const Shape& shape);

// One allocation. `release` runs when the last tensor viewing it is destroyed.
struct TensorBlock {
    void* ptr = nullptr;
    size_t bytes = 0;
    std::function<void(TensorBlock&)> release;
    TensorBlock() = default;
    TensorBlock(const TensorBlock&) = delete;
    TensorBlock& operator=(const TensorBlock&) = delete;
    ~TensorBlock() { if (release) release(*this); }
};

class Tensor {
public:
    Tensor() = default;
    Tensor(std::shared_ptr<TensorBlock> block, size_t offset, DType dtype, Shape shape);

    bool empty() const { return !block_; }
    DType dtype() const { return dtype_; }
    const Shape& shape() const { return shape_; }
    int rank() const { return int(shape_.size()); }
    int64_t dim(int i) const;              // negative i counts from the end
    int64_t numel() const { return shape_numel(shape_); }
    size_t nbytes() const { return size_t(numel()) * dtype_size(dtype_); }
    int64_t rows() const;                  // product of all but the last dimension
    int64_t cols() const;                  // last dimension

    // Backend memory: host for the CPU backend, device for others.
    void* data() const { return static_cast<uint8_t*>(block_->ptr) + offset_; }
    template <typename T> T* as() const { return static_cast<T*>(data()); }

    // Same bytes, another shape with as many elements.
    Tensor reshape(Shape shape) const;
    // Rows [begin, end) along the first dimension.
    Tensor slice(int64_t begin, int64_t end) const;

private:
    std::shared_ptr<TensorBlock> block_;
    size_t offset_ = 0;
    DType dtype_ = DType::F32;
    Shape shape_;
};

}  // namespace fastvlm
