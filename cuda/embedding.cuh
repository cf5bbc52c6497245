// Token embedding lookup (cuda/embedding.cu).
#pragma once
#include "cuda/common.cuh"
#include "runtime/dtype.h"

namespace fastvlm::gpu {

// y[t, :] = table[ids[t], :] widened to fp32
//   table [vocab, dim] F32, F16 or BF16
//   ids   [n_ids] int32, device memory, each in [0, vocab): the caller checks them against the
//         vocabulary before the upload (the kernel cannot report a bad id)
//   y     [n_ids, dim] f32
void embedding(const void* table, DType dtype, const int* ids, float* y, int n_ids, int dim, cudaStream_t stream);

}  // namespace fastvlm::gpu
