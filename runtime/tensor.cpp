#include "runtime/tensor.h"

#include <sstream>

#include "runtime/error.h"

namespace fastvlm {

std::string shape_string(const Shape& shape) {
    std::ostringstream out;
    out << '[';
    for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str();
}

int64_t shape_numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

Tensor::Tensor(std::shared_ptr<TensorBlock> block, size_t offset, DType dtype, Shape shape)
    : block_(std::move(block)), offset_(offset), dtype_(dtype), shape_(std::move(shape)) {
    for (int64_t d : shape_)
        if (d < 0) fail("tensor", "negative dimension in shape ", shape_string(shape_));
    if (block_ && offset_ + nbytes() > block_->bytes)
        fail("tensor", "shape ", shape_string(shape_), " at byte ", offset_, " overruns its ",
             block_->bytes, "-byte block");
}

int64_t Tensor::dim(int i) const {
    const int r = rank();
    const int k = i < 0 ? r + i : i;
    if (k < 0 || k >= r) fail("tensor", "dimension ", i, " of a rank-", r, " tensor");
    return shape_[size_t(k)];
}

int64_t Tensor::rows() const { return rank() == 0 ? 1 : numel() / (cols() ? cols() : 1); }
int64_t Tensor::cols() const { return rank() == 0 ? 1 : shape_.back(); }

Tensor Tensor::reshape(Shape shape) const {
    if (shape_numel(shape) != numel())
        fail("tensor", "cannot reshape ", shape_string(shape_), " to ", shape_string(shape));
    return Tensor(block_, offset_, dtype_, std::move(shape));
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
    if (rank() == 0 || begin < 0 || end < begin || end > shape_[0])
        fail("tensor", "rows [", begin, ", ", end, ") of ", shape_string(shape_));
    Shape shape = shape_;
    shape[0] = end - begin;
    const size_t stride = size_t(shape_numel(Shape(shape_.begin() + 1, shape_.end()))) * dtype_size(dtype_);
    return Tensor(block_, offset_ + size_t(begin) * stride, dtype_, std::move(shape));
}

}  // namespace fastvlm
