// cuBLASLt as the measured baseline and fallback (never the product): one matmul shape as a
// cuBLASLt plan (LtMatmul, used by `./bench kernels`), and the dense GEMMs of the CUDA backend
// when it runs with --gemm cublaslt (CublasLtGemm).
//
// Layout: y [tokens, out] = x [tokens, in] · W^T with row-major W [out, in]. cuBLASLt is
// column-major, so W is its matrix A [in, out] used transposed, x its B [in, tokens] and y its
// D [out, tokens]: no copy or transpose of any operand.
//
// Host code for the real device only: the SIMT build has no cuBLASLt (the Makefile leaves this
// file out of it, and the backend refuses --gemm cublaslt there).
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

namespace fastvlm::gpu {

// Throws fastvlm::Error naming the call when a cuBLASLt call fails.
void check_cublaslt(cublasStatus_t status, const char* call);
#define FASTVLM_CUBLASLT_CHECK(call) ::fastvlm::gpu::check_cublaslt((call), #call)

struct LtMatmulShape {
    int tokens = 1, in = 0, out = 0;
    cudaDataType_t weight_type = CUDA_R_16F;  // the input x has the same type (cuBLASLt needs A and B alike)
    cudaDataType_t output_type = CUDA_R_16F;
    cublasComputeType_t compute = CUBLAS_COMPUTE_32F;  // 32F (float scale) or 32I (int32 scale)
    bool bias = false;  // a bias [out] added in the epilogue (its pointer is given to run)
    cudaDataType_t bias_type = CUDA_R_16F;
    bool gelu_tanh = false;  // cuBLASLt's GELU epilogue is the tanh approximation
    // The operands' address alignment in bytes (a power of two, at most 256): the heuristic
    // only offers algorithms that accept it.
    unsigned weight_alignment = 256, input_alignment = 256, output_alignment = 256;
};

// One matmul shape with the algorithm cuBLASLt's heuristic picks for it.
class LtMatmul {
public:
    LtMatmul(cublasLtHandle_t handle, const LtMatmulShape& shape, void* workspace, size_t workspace_bytes);
    ~LtMatmul();
    LtMatmul(const LtMatmul&) = delete;
    LtMatmul& operator=(const LtMatmul&) = delete;

    bool available() const { return available_; }  // false: no algorithm takes the shape
    void run(const void* w, const void* x, void* y, cudaStream_t stream, const void* bias = nullptr) const;

private:
    cublasLtHandle_t handle_;
    cublasComputeType_t compute_;
    bool bias_;
    cublasLtMatmulDesc_t op_ = nullptr;
    cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, d_ = nullptr;
    cublasLtMatmulHeuristicResult_t heuristic_{};
    void* workspace_;
    size_t workspace_bytes_;
    bool available_ = false;
};

// The largest power of two, at most 256, that divides the address.
unsigned address_alignment(const void* p);

// The CUDA backend's GEMMs through cuBLASLt: y fp32 [tokens, out] = x · W^T (+ bias fp32), with
// W and x both fp32, both fp16 or both bf16 and fp32 accumulation. Plans are made once per shape,
// types and alignment and kept.
class CublasLtGemm {
public:
    // `workspace` (device memory the caller owns) is handed to every algorithm.
    CublasLtGemm(void* workspace, size_t workspace_bytes);
    ~CublasLtGemm();
    CublasLtGemm(const CublasLtGemm&) = delete;
    CublasLtGemm& operator=(const CublasLtGemm&) = delete;

    // Throws fastvlm::Error naming the shape when cuBLASLt has no algorithm for it.
    void linear(float* y, const void* x, const void* w, cudaDataType_t type, const float* bias, int tokens, int in,
                int out, cudaStream_t stream);

private:
    using Key = std::tuple<int, int, int, int, bool, unsigned, unsigned, unsigned>;
    cublasLtHandle_t handle_ = nullptr;
    void* workspace_;
    size_t workspace_bytes_;
    std::map<Key, std::unique_ptr<LtMatmul>> plans_;
};

}  // namespace fastvlm::gpu
