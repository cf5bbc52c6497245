#include "runtime/cpu/conv.h"

#include <algorithm>
#include <vector>

#include "runtime/cpu/vec_math.h"
#include "runtime/error.h"

namespace fastvlm::cpu {

namespace {

// Valid kernel taps [lo, hi) for output coordinate o: those that land inside the input.
inline void tap_range(int64_t o, int stride, int pad, int kernel, int64_t in, int& lo, int& hi) {
    const int64_t start = o * stride - pad;
    lo = int(std::max<int64_t>(0, -start));
    hi = int(std::min<int64_t>(kernel, in - start));
}

// One output pixel of a depthwise convolution over channels [0, c): taps (ky, kx) in the valid
// ranges, weights wt [k*k][c], input pixel rows of c values.
inline void depthwise_pixel(const float* x, const float* wt, const float* bias, float* out,
                            int64_t c, int64_t in_w, int kernel, int64_t iy0, int64_t ix0,
                            int ky_lo, int ky_hi, int kx_lo, int kx_hi, Activation act) {
    int64_t c0 = 0;
#ifdef FASTVLM_CPU_AVX2
    for (; c0 + 32 <= c; c0 += 32) {
        __m256 a0, a1, a2, a3;
        if (bias) {
            a0 = _mm256_loadu_ps(bias + c0);      a1 = _mm256_loadu_ps(bias + c0 + 8);
            a2 = _mm256_loadu_ps(bias + c0 + 16); a3 = _mm256_loadu_ps(bias + c0 + 24);
        } else {
            a0 = a1 = a2 = a3 = _mm256_setzero_ps();
        }
        for (int ky = ky_lo; ky < ky_hi; ++ky)
            for (int kx = kx_lo; kx < kx_hi; ++kx) {
                const float* xp = x + ((iy0 + ky) * in_w + ix0 + kx) * c + c0;
                const float* wp = wt + int64_t(ky * kernel + kx) * c + c0;
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(wp), _mm256_loadu_ps(xp), a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(wp + 8), _mm256_loadu_ps(xp + 8), a1);
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(wp + 16), _mm256_loadu_ps(xp + 16), a2);
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(wp + 24), _mm256_loadu_ps(xp + 24), a3);
            }
        _mm256_storeu_ps(out + c0, activate8(a0, act));
        _mm256_storeu_ps(out + c0 + 8, activate8(a1, act));
        _mm256_storeu_ps(out + c0 + 16, activate8(a2, act));
        _mm256_storeu_ps(out + c0 + 24, activate8(a3, act));
    }
    for (; c0 + 8 <= c; c0 += 8) {
        __m256 a = bias ? _mm256_loadu_ps(bias + c0) : _mm256_setzero_ps();
        for (int ky = ky_lo; ky < ky_hi; ++ky)
            for (int kx = kx_lo; kx < kx_hi; ++kx) {
                const float* xp = x + ((iy0 + ky) * in_w + ix0 + kx) * c + c0;
                const float* wp = wt + int64_t(ky * kernel + kx) * c + c0;
                a = _mm256_fmadd_ps(_mm256_loadu_ps(wp), _mm256_loadu_ps(xp), a);
            }
        _mm256_storeu_ps(out + c0, activate8(a, act));
    }
#endif
    for (; c0 < c; ++c0) {
        float a = bias ? bias[c0] : 0.0f;
        for (int ky = ky_lo; ky < ky_hi; ++ky)
            for (int kx = kx_lo; kx < kx_hi; ++kx)
                a += wt[int64_t(ky * kernel + kx) * c + c0] * x[((iy0 + ky) * in_w + ix0 + kx) * c + c0];
        out[c0] = activate_scalar(a, act);
    }
}

void check_shape(const ConvShape& s, const char* op) {
    if (s.kernel <= 0 || s.stride <= 0 || s.pad < 0 || s.in_h <= 0 || s.in_w <= 0 || s.in_c <= 0 ||
        s.out_c <= 0)
        fail(op, "bad convolution: kernel ", s.kernel, ", stride ", s.stride, ", pad ", s.pad,
             ", input ", s.in_h, "x", s.in_w, "x", s.in_c, ", ", s.out_c, " outputs");
    if (s.out_h != conv_out_size(s.in_h, s.kernel, s.stride, s.pad) ||
        s.out_w != conv_out_size(s.in_w, s.kernel, s.stride, s.pad) || s.out_h <= 0 || s.out_w <= 0)
        fail(op, "output ", s.out_h, "x", s.out_w, " does not match input ", s.in_h, "x", s.in_w,
             " with kernel ", s.kernel, ", stride ", s.stride, ", pad ", s.pad);
}

}  // namespace

void depthwise_conv2d_hwc(ThreadPool& pool, const ConvShape& s, const float* x, const float* w,
                          const float* bias, float* y, Activation act) {
    check_shape(s, "depthwise_conv2d");
    if (s.out_c % s.in_c != 0)
        fail("depthwise_conv2d", s.out_c, " output channels are not a multiple of ", s.in_c, " inputs");
    const int64_t c = s.out_c, multiplier = s.out_c / s.in_c, taps = int64_t(s.kernel) * s.kernel;

    // Weights [c, k*k] -> [k*k, c].
    std::vector<float> wt(static_cast<size_t>(taps * c));
    for (int64_t o = 0; o < c; ++o)
        for (int64_t t = 0; t < taps; ++t) wt[size_t(t * c + o)] = w[o * taps + t];

    // With m outputs per input channel, repeat every input channel m times so that the
    // loop below sees one input channel per output channel.
    std::vector<float> repeated;
    if (multiplier > 1) {
        const int64_t pixels = s.in_h * s.in_w;
        repeated.resize(size_t(pixels * c));
        pool.split(pixels, [&](int64_t begin, int64_t end, int) {
            for (int64_t p = begin; p < end; ++p)
                for (int64_t o = 0; o < c; ++o)
                    repeated[size_t(p * c + o)] = x[p * s.in_c + o / multiplier];
        });
        x = repeated.data();
    }

    pool.split(s.out_h, [&](int64_t row_begin, int64_t row_end, int) {
        for (int64_t oy = row_begin; oy < row_end; ++oy) {
            int ky_lo, ky_hi;
            tap_range(oy, s.stride, s.pad, s.kernel, s.in_h, ky_lo, ky_hi);
            const int64_t iy0 = oy * s.stride - s.pad;
            for (int64_t ox = 0; ox < s.out_w; ++ox) {
                int kx_lo, kx_hi;
                tap_range(ox, s.stride, s.pad, s.kernel, s.in_w, kx_lo, kx_hi);
                depthwise_pixel(x, wt.data(), bias, y + (oy * s.out_w + ox) * c, c, s.in_w, s.kernel,
                                iy0, ox * s.stride - s.pad, ky_lo, ky_hi, kx_lo, kx_hi, act);
            }
        }
    });
}

void conv2d_hwc(ThreadPool& pool, const ConvShape& s, const float* x, const float* w,
                const float* bias, float* y, Activation act) {
    check_shape(s, "conv2d");
    const int64_t cin = s.in_c, cout = s.out_c, k = s.kernel;
    // Weights [cout, cin, k, k] -> [k, k, cin, cout]: one tap of one input channel is a row of
    // cout contiguous values.
    std::vector<float> wt(static_cast<size_t>(k * k * cin * cout));
    for (int64_t o = 0; o < cout; ++o)
        for (int64_t ci = 0; ci < cin; ++ci)
            for (int64_t t = 0; t < k * k; ++t) wt[size_t((t * cin + ci) * cout + o)] = w[(o * cin + ci) * k * k + t];

    pool.split(s.out_h, [&](int64_t row_begin, int64_t row_end, int) {
        for (int64_t oy = row_begin; oy < row_end; ++oy) {
            int ky_lo, ky_hi;
            tap_range(oy, s.stride, s.pad, s.kernel, s.in_h, ky_lo, ky_hi);
            const int64_t iy0 = oy * s.stride - s.pad;
            for (int64_t ox = 0; ox < s.out_w; ++ox) {
                int kx_lo, kx_hi;
                tap_range(ox, s.stride, s.pad, s.kernel, s.in_w, kx_lo, kx_hi);
                const int64_t ix0 = ox * s.stride - s.pad;
                float* out = y + (oy * s.out_w + ox) * cout;
                // Output channels 32 at a time in registers; every tap of every input channel
                // adds weight row * input value.
                int64_t o0 = 0;
#ifdef FASTVLM_CPU_AVX2
                for (; o0 + 32 <= cout; o0 += 32) {
                    __m256 a0, a1, a2, a3;
                    if (bias) {
                        a0 = _mm256_loadu_ps(bias + o0);      a1 = _mm256_loadu_ps(bias + o0 + 8);
                        a2 = _mm256_loadu_ps(bias + o0 + 16); a3 = _mm256_loadu_ps(bias + o0 + 24);
                    } else {
                        a0 = a1 = a2 = a3 = _mm256_setzero_ps();
                    }
                    for (int ky = ky_lo; ky < ky_hi; ++ky)
                        for (int kx = kx_lo; kx < kx_hi; ++kx)
                            for (int64_t ci = 0; ci < cin; ++ci) {
                                const __m256 v = _mm256_set1_ps(x[((iy0 + ky) * s.in_w + ix0 + kx) * cin + ci]);
                                const float* wr = wt.data() + ((int64_t(ky) * k + kx) * cin + ci) * cout + o0;
                                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(wr), v, a0);
                                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + 8), v, a1);
                                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + 16), v, a2);
                                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + 24), v, a3);
                            }
                    _mm256_storeu_ps(out + o0, activate8(a0, act));
                    _mm256_storeu_ps(out + o0 + 8, activate8(a1, act));
                    _mm256_storeu_ps(out + o0 + 16, activate8(a2, act));
                    _mm256_storeu_ps(out + o0 + 24, activate8(a3, act));
                }
#endif
                for (; o0 < cout; ++o0) {
                    float a = bias ? bias[o0] : 0.0f;
                    for (int ky = ky_lo; ky < ky_hi; ++ky)
                        for (int kx = kx_lo; kx < kx_hi; ++kx)
                            for (int64_t ci = 0; ci < cin; ++ci)
                                a += wt[size_t(((int64_t(ky) * k + kx) * cin + ci) * cout + o0)] *
                                     x[((iy0 + ky) * s.in_w + ix0 + kx) * cin + ci];
                    out[o0] = activate_scalar(a, act);
                }
            }
        }
    });
}

}  // namespace fastvlm::cpu
