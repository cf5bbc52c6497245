// Single-warp kernels for the PTX wrapper tests (see ptx_test_kernels.cuh).
#include "tests/kernels/ptx_test_kernels.cuh"

#include "cuda/ptx.cuh"

namespace ptx_test {
namespace {

__device__ __forceinline__ uint32_t pack_halves(__half lo, __half hi) {
    return uint32_t(__half_as_ushort(lo)) | (uint32_t(__half_as_ushort(hi)) << 16);
}
__device__ __forceinline__ uint32_t pack_bytes(const int8_t* p) {
    return uint32_t(uint8_t(p[0])) | (uint32_t(uint8_t(p[1])) << 8) | (uint32_t(uint8_t(p[2])) << 16) |
           (uint32_t(uint8_t(p[3])) << 24);
}

// C and D fragments: c[i] is C[group + 8 * (i / 2)][2 * t + i % 2].
template <typename T>
__device__ __forceinline__ void load_c(const T* c, T (&f)[4]) {
    const int group = int(threadIdx.x) / 4, t = int(threadIdx.x) % 4;
    for (int i = 0; i < 4; ++i) f[i] = c[(group + 8 * (i / 2)) * 8 + 2 * t + i % 2];
}
template <typename T>
__device__ __forceinline__ void store_d(T* d, const T (&f)[4]) {
    const int group = int(threadIdx.x) / 4, t = int(threadIdx.x) % 4;
    for (int i = 0; i < 4; ++i) d[(group + 8 * (i / 2)) * 8 + 2 * t + i % 2] = f[i];
}

__global__ void mma_f16_direct_kernel(const __half* a, const __half* b, const float* c, float* d) {
    const int group = int(threadIdx.x) / 4, t = int(threadIdx.x) % 4;
    uint32_t fa[4], fb[2];
    for (int r = 0; r < 4; ++r) {  // a[r]: row group + 8 (r & 1), columns 2t + 8 (r >> 1) + {0, 1}
        const __half* p = a + (group + 8 * (r & 1)) * 16 + 2 * t + 8 * (r >> 1);
        fa[r] = pack_halves(p[0], p[1]);
    }
    for (int r = 0; r < 2; ++r) {  // b[r]: k = 2t + 8r + {0, 1}, n = group
        const __half* p = b + group * 16 + 2 * t + 8 * r;
        fb[r] = pack_halves(p[0], p[1]);
    }
    float fc[4], fd[4];
    load_c(c, fc);
    ptx::mma_m16n8k16_f32_f16(fd, fa, fb, fc);
    store_d(d, fd);
}

__global__ void mma_f16_ldmatrix_kernel(const __half* a, const __half* b_kn, const float* c, float* d) {
    __shared__ __align__(16) __half sa[16][16];
    __shared__ __align__(16) __half sb[16][8];
    const int lane = int(threadIdx.x);
    for (int i = lane; i < 256; i += 32) sa[i / 16][i % 16] = a[i];
    for (int i = lane; i < 128; i += 32) sb[i / 8][i % 8] = b_kn[i];
    __syncwarp();
    uint32_t fa[4], fb[2];
    ptx::ldmatrix_x4(fa, &sa[lane % 16][(lane / 16) * 8]);
    ptx::ldmatrix_x2_trans(fb, &sb[lane % 16][0]);
    float fc[4], fd[4];
    load_c(c, fc);
    ptx::mma_m16n8k16_f32_f16(fd, fa, fb, fc);
    store_d(d, fd);
}

__global__ void mma_s8_direct_kernel(const int8_t* a, const int8_t* b, const int* c, int* d) {
    const int group = int(threadIdx.x) / 4, t = int(threadIdx.x) % 4;
    uint32_t fa[4], fb[2];
    for (int r = 0; r < 4; ++r)  // a[r]: row group + 8 (r & 1), columns 4t + 16 (r >> 1) + {0..3}
        fa[r] = pack_bytes(a + (group + 8 * (r & 1)) * 32 + 4 * t + 16 * (r >> 1));
    for (int r = 0; r < 2; ++r)  // b[r]: k = 4t + 16r + {0..3}, n = group
        fb[r] = pack_bytes(b + group * 32 + 4 * t + 16 * r);
    int fc[4], fd[4];
    load_c(c, fc);
    ptx::mma_m16n8k32_s32_s8(fd, fa, fb, fc);
    store_d(d, fd);
}

__global__ void mma_s8_ldmatrix_kernel(const int8_t* a, const int8_t* b, const int* c, int* d) {
    __shared__ __align__(16) int8_t sa[16][32];
    __shared__ __align__(16) int8_t sb[8][32];
    const int lane = int(threadIdx.x);
    for (int i = lane; i < 512; i += 32) sa[i / 32][i % 32] = a[i];
    for (int i = lane; i < 256; i += 32) sb[i / 32][i % 32] = b[i];
    __syncwarp();
    uint32_t fa[4], fb[2];
    ptx::ldmatrix_x4(fa, &sa[lane % 16][(lane / 16) * 16]);  // byte pairs move as b16 elements
    ptx::ldmatrix_x2(fb, &sb[lane % 8][((lane / 8) % 2) * 16]);
    int fc[4], fd[4];
    load_c(c, fc);
    ptx::mma_m16n8k32_s32_s8(fd, fa, fb, fc);
    store_d(d, fd);
}

template <int Count, bool Transpose>
__global__ void ldmatrix_kernel(const __half* m, uint32_t* regs) {
    __shared__ __align__(16) __half s[32][8];
    const int lane = int(threadIdx.x);
    for (int i = 0; i < 8; ++i) s[lane][i] = m[lane * 8 + i];
    __syncwarp();
    uint32_t r[4] = {0, 0, 0, 0};
    if (Count == 1) {
        uint32_t x[1];
        ptx::ldmatrix_x1(x, &s[lane][0]);
        r[0] = x[0];
    } else if (Count == 2) {
        uint32_t x[2];
        if (Transpose) ptx::ldmatrix_x2_trans(x, &s[lane][0]);
        else ptx::ldmatrix_x2(x, &s[lane][0]);
        r[0] = x[0];
        r[1] = x[1];
    } else {
        if (Transpose) ptx::ldmatrix_x4_trans(r, &s[lane][0]);
        else ptx::ldmatrix_x4(r, &s[lane][0]);
    }
    for (int i = 0; i < 4; ++i) regs[lane * 4 + i] = r[i];
}

__global__ void async_copy_kernel(const int* in, int* out, int n) {
    __shared__ __align__(16) int s[256];
    const int lane = int(threadIdx.x);
    const int chunks = (n + 3) / 4, first = (chunks + 1) / 2;  // 16-byte chunks; group 0 takes `first`
    for (int stage = 0; stage < 2; ++stage) {
        for (int c = (stage == 0 ? 0 : first) + lane; c < (stage == 0 ? first : chunks); c += 32) {
            const int valid = min(4, n - 4 * c);
            ptx::cp_async_16(&s[4 * c], in + 4 * c, 4 * valid);  // a short tail is zero-filled
        }
        ptx::cp_async_commit();
    }
    ptx::cp_async_wait<1>();  // group 0 has landed
    __syncwarp();
    for (int i = lane; i < 4 * first; i += 32) out[i] = s[i];
    ptx::cp_async_wait<0>();
    __syncwarp();
    for (int i = 4 * first + lane; i < 4 * chunks; i += 32) out[i] = s[i];
}

__global__ void dp4a_kernel(const int* a, const int* b, const int* c, int* d) {
    for (int i = int(threadIdx.x); i < 64; i += 32) d[i] = ptx::dp4a(a[i], b[i], c[i]);
}

}  // namespace

using fastvlm::gpu::launch;

void mma_f16_direct(const __half* a, const __half* b, const float* c, float* d) {
    launch("mma_f16_direct", mma_f16_direct_kernel, dim3(1), dim3(32), 0, nullptr, a, b, c, d);
}
void mma_f16_ldmatrix(const __half* a, const __half* b_kn, const float* c, float* d) {
    launch("mma_f16_ldmatrix", mma_f16_ldmatrix_kernel, dim3(1), dim3(32), 0, nullptr, a, b_kn, c, d);
}
void mma_s8(const int8_t* a, const int8_t* b, const int* c, int* d, bool ldmatrix) {
    if (ldmatrix) launch("mma_s8_ldmatrix", mma_s8_ldmatrix_kernel, dim3(1), dim3(32), 0, nullptr, a, b, c, d);
    else launch("mma_s8_direct", mma_s8_direct_kernel, dim3(1), dim3(32), 0, nullptr, a, b, c, d);
}
void ldmatrix_rows(const __half* m, uint32_t* regs, int count, bool transpose) {
    if (count == 1) launch("ldmatrix_x1", ldmatrix_kernel<1, false>, dim3(1), dim3(32), 0, nullptr, m, regs);
    else if (count == 2 && transpose) launch("ldmatrix_x2_trans", ldmatrix_kernel<2, true>, dim3(1), dim3(32), 0, nullptr, m, regs);
    else if (count == 2) launch("ldmatrix_x2", ldmatrix_kernel<2, false>, dim3(1), dim3(32), 0, nullptr, m, regs);
    else if (transpose) launch("ldmatrix_x4_trans", ldmatrix_kernel<4, true>, dim3(1), dim3(32), 0, nullptr, m, regs);
    else launch("ldmatrix_x4", ldmatrix_kernel<4, false>, dim3(1), dim3(32), 0, nullptr, m, regs);
}
void async_copy_two_stages(const int* in, int* out, int n) {
    launch("async_copy_two_stages", async_copy_kernel, dim3(1), dim3(32), 0, nullptr, in, out, n);
}
void dp4a(const int* a, const int* b, const int* c, int* d) {
    launch("dp4a", dp4a_kernel, dim3(1), dim3(32), 0, nullptr, a, b, c, d);
}

}  // namespace ptx_test
