// cuBLASLt plans (runtime/cuda/cublaslt_matmul.h).
#include "runtime/cuda/cublaslt_matmul.h"

#include <string>
#include <utility>

#include "runtime/error.h"

namespace fastvlm::gpu {

void check_cublaslt(cublasStatus_t status, const char* call) {
    if (status != CUBLAS_STATUS_SUCCESS) fail("cuBLASLt", call, " failed: status ", int(status));
}

unsigned address_alignment(const void* p) {
    const auto address = reinterpret_cast<uintptr_t>(p);
    unsigned alignment = 256;
    while (alignment > 1 && (address & (alignment - 1)) != 0) alignment /= 2;
    return alignment;
}

LtMatmul::LtMatmul(cublasLtHandle_t handle, const LtMatmulShape& shape, void* workspace, size_t workspace_bytes)
    : handle_(handle), compute_(shape.compute), bias_(shape.bias), workspace_(workspace),
      workspace_bytes_(workspace_bytes) {
    const bool integer = shape.compute == CUBLAS_COMPUTE_32I;
    FASTVLM_CUBLASLT_CHECK(cublasLtMatmulDescCreate(&op_, shape.compute, integer ? CUDA_R_32I : CUDA_R_32F));
    const cublasOperation_t transpose = CUBLAS_OP_T, keep = CUBLAS_OP_N;
    FASTVLM_CUBLASLT_CHECK(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof transpose));
    FASTVLM_CUBLASLT_CHECK(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSB, &keep, sizeof keep));
    if (shape.bias || shape.gelu_tanh) {
        const cublasLtEpilogue_t epilogue = shape.bias ? (shape.gelu_tanh ? CUBLASLT_EPILOGUE_GELU_BIAS
                                                                           : CUBLASLT_EPILOGUE_BIAS)
                                                       : CUBLASLT_EPILOGUE_GELU;
        FASTVLM_CUBLASLT_CHECK(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue));
    }
    if (shape.bias)
        FASTVLM_CUBLASLT_CHECK(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE,
                                                              &shape.bias_type, sizeof shape.bias_type));
    FASTVLM_CUBLASLT_CHECK(
        cublasLtMatrixLayoutCreate(&a_, shape.weight_type, uint64_t(shape.in), uint64_t(shape.out), int64_t(shape.in)));
    FASTVLM_CUBLASLT_CHECK(cublasLtMatrixLayoutCreate(&b_, shape.weight_type, uint64_t(shape.in),
                                                      uint64_t(shape.tokens), int64_t(shape.in)));
    FASTVLM_CUBLASLT_CHECK(cublasLtMatrixLayoutCreate(&d_, shape.output_type, uint64_t(shape.out),
                                                      uint64_t(shape.tokens), int64_t(shape.out)));

    cublasLtMatmulPreference_t preference;
    FASTVLM_CUBLASLT_CHECK(cublasLtMatmulPreferenceCreate(&preference));
    const uint32_t align_a = shape.weight_alignment, align_b = shape.input_alignment, align_d = shape.output_alignment;
    const std::pair<cublasLtMatmulPreferenceAttributes_t, const uint32_t*> alignments[] = {
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_d},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_d}};
    cublasStatus_t status = cublasLtMatmulPreferenceSetAttribute(
        preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_, sizeof workspace_bytes_);
    for (const auto& [attribute, value] : alignments)
        if (status == CUBLAS_STATUS_SUCCESS)
            status = cublasLtMatmulPreferenceSetAttribute(preference, attribute, value, sizeof *value);
    int found = 0;
    if (status == CUBLAS_STATUS_SUCCESS)
        status = cublasLtMatmulAlgoGetHeuristic(handle_, op_, a_, b_, d_, d_, preference, 1, &heuristic_, &found);
    cublasLtMatmulPreferenceDestroy(preference);
    // An unsupported type combination or shape reads as "no algorithm", not as a failure.
    available_ = status == CUBLAS_STATUS_SUCCESS && found > 0;
}

LtMatmul::~LtMatmul() {
    cublasLtMatrixLayoutDestroy(d_);
    cublasLtMatrixLayoutDestroy(b_);
    cublasLtMatrixLayoutDestroy(a_);
    cublasLtMatmulDescDestroy(op_);
}

void LtMatmul::run(const void* w, const void* x, void* y, cudaStream_t stream, const void* bias) const {
    if (bias_)  // layers of one shape share the plan; each brings its own bias
        FASTVLM_CUBLASLT_CHECK(
            cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    const float alpha = 1.0f, beta = 0.0f;
    const int32_t alpha_i = 1, beta_i = 0;
    const bool integer = compute_ == CUBLAS_COMPUTE_32I;
    FASTVLM_CUBLASLT_CHECK(cublasLtMatmul(handle_, op_, integer ? static_cast<const void*>(&alpha_i) : &alpha, w, a_,
                                          x, b_, integer ? static_cast<const void*>(&beta_i) : &beta, y, d_, y, d_,
                                          &heuristic_.algo, workspace_, workspace_bytes_, stream));
}

// ---------------------------------------------------------------------- the backend's GEMMs

CublasLtGemm::CublasLtGemm(void* workspace, size_t workspace_bytes)
    : workspace_(workspace), workspace_bytes_(workspace_bytes) {
    FASTVLM_CUBLASLT_CHECK(cublasLtCreate(&handle_));
}

CublasLtGemm::~CublasLtGemm() {
    plans_.clear();  // the plans use the handle
    cublasLtDestroy(handle_);
}

void CublasLtGemm::linear(float* y, const void* x, const void* w, cudaDataType_t type, const float* bias, int tokens,
                          int in, int out, cudaStream_t stream) {
    LtMatmulShape shape;
    shape.tokens = tokens;
    shape.in = in;
    shape.out = out;
    shape.weight_type = type;
    shape.output_type = CUDA_R_32F;
    shape.compute = CUBLAS_COMPUTE_32F;  // true fp32 accumulation (no TF32 for fp32 operands)
    shape.bias = bias != nullptr;
    shape.bias_type = CUDA_R_32F;
    shape.weight_alignment = address_alignment(w);
    shape.input_alignment = address_alignment(x);
    shape.output_alignment = address_alignment(y);
    const Key key{tokens, in, out, int(type), shape.bias, shape.weight_alignment, shape.input_alignment,
                  shape.output_alignment};
    std::unique_ptr<LtMatmul>& plan = plans_[key];
    if (!plan) plan = std::make_unique<LtMatmul>(handle_, shape, workspace_, workspace_bytes_);
    if (!plan->available())
        fail("cuBLASLt", "no algorithm for y[", tokens, ", ", out, "] = x[", tokens, ", ", in, "] W^T with ",
             type == CUDA_R_32F ? "fp32" : type == CUDA_R_16F ? "fp16" : "bf16", " operands (alignments ",
             shape.weight_alignment, "/", shape.input_alignment, "/", shape.output_alignment, " bytes)");
    plan->run(w, x, y, stream, bias);
}

}  // namespace fastvlm::gpu
