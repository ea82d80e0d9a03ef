// Attention of one query row per head of a group against a run of cached keys (decode).
// sgemm with 1-8 rows spends most of its time packing K and V; these loops read each key and
// value row once per group, straight from the cache.
#include "cquant.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

__attribute__((target("avx2,fma"))) static inline float hsum8(__m256 x) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/// The four horizontal sums of a0..a3 as one 4-lane vector.
__attribute__((target("avx2,fma"))) static inline __m128 hsum4x8(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

__attribute__((target("avx2,fma")))
static void scores_avx2(const float *q, int g, int d, const float *k, int n, float scale, float *s, int lds) {
    const __m128 sc = _mm_set1_ps(scale);
    for (int h = 0; h < g; h++) {
        const float *qh = q + (size_t)h * d;
        float *sh = s + (size_t)h * lds;
        int j = 0;
        for (; j + 4 <= n; j += 4) {   // four keys at a time: four independent FMA chains
            const float *k0 = k + (size_t)j * d;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int e = 0; e < d; e += 8) {
                const __m256 qv = _mm256_loadu_ps(qh + e);
                a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + e), a0);
                a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + d + e), a1);
                a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 2 * d + e), a2);
                a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 3 * d + e), a3);
            }
            _mm_storeu_ps(sh + j, _mm_mul_ps(sc, hsum4x8(a0, a1, a2, a3)));
        }
        for (; j < n; j++) {
            const float *kj = k + (size_t)j * d;
            __m256 a = _mm256_setzero_ps();
            for (int e = 0; e < d; e += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(qh + e), _mm256_loadu_ps(kj + e), a);
            sh[j] = scale * hsum8(a);
        }
    }
}

/// o (+)= sum_j p[j] v_j over 64 output lanes (8 accumulators: enough independent FMA chains).
__attribute__((target("avx2,fma")))
static void pv64_avx2(const float *p, int n, const float *v, int d, float *o, int accumulate) {
    __m256 a[8];
    for (int i = 0; i < 8; i++) a[i] = accumulate ? _mm256_loadu_ps(o + 8 * i) : _mm256_setzero_ps();
    for (int j = 0; j < n; j++) {
        const __m256 pj = _mm256_set1_ps(p[j]);
        const float *vj = v + (size_t)j * d;
        for (int i = 0; i < 8; i++) a[i] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8 * i), a[i]);
    }
    for (int i = 0; i < 8; i++) _mm256_storeu_ps(o + 8 * i, a[i]);
}

/// The same over 8 output lanes (the tail of a d that is not a multiple of 64).
__attribute__((target("avx2,fma")))
static void pv8_avx2(const float *p, int n, const float *v, int d, float *o, int accumulate) {
    __m256 a0 = accumulate ? _mm256_loadu_ps(o) : _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int j = 0;
    for (; j + 2 <= n; j += 2) {
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), _mm256_loadu_ps(v + (size_t)j * d), a0);
        a1 = _mm256_fmadd_ps(_mm256_set1_ps(p[j + 1]), _mm256_loadu_ps(v + (size_t)(j + 1) * d), a1);
    }
    if (j < n) a0 = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), _mm256_loadu_ps(v + (size_t)j * d), a0);
    _mm256_storeu_ps(o, _mm256_add_ps(a0, a1));
}

__attribute__((target("avx2,fma")))
static void pv_avx2(const float *p, int ldp, int g, int n, const float *v, int d, float *o, int accumulate) {
    for (int h = 0; h < g; h++) {
        int e = 0;
        for (; e + 64 <= d; e += 64) pv64_avx2(p + (size_t)h * ldp, n, v + e, d, o + (size_t)h * d + e, accumulate);
        for (; e < d; e += 8) pv8_avx2(p + (size_t)h * ldp, n, v + e, d, o + (size_t)h * d + e, accumulate);
    }
}
#define CQ_ATTN_X86 1
#endif

static void scores_scalar(const float *q, int g, int d, const float *k, int n, float scale, float *s, int lds) {
    for (int h = 0; h < g; h++)
        for (int j = 0; j < n; j++) {
            float a = 0;
            for (int e = 0; e < d; e++) a += q[h * d + e] * k[(size_t)j * d + e];
            s[(size_t)h * lds + j] = scale * a;
        }
}

static void pv_scalar(const float *p, int ldp, int g, int n, const float *v, int d, float *o, int accumulate) {
    for (int h = 0; h < g; h++)
        for (int e = 0; e < d; e++) {
            float a = accumulate ? o[h * d + e] : 0;
            for (int j = 0; j < n; j++) a += p[(size_t)h * ldp + j] * v[(size_t)j * d + e];
            o[h * d + e] = a;
        }
}

void cq_attn_scores(const float *q, int g, int d, const float *k, int n, float scale, float *s, int lds) {
#ifdef CQ_ATTN_X86
    if (d % 8 == 0 && cq_kernel() >= CQ_KERNEL_AVX2) { scores_avx2(q, g, d, k, n, scale, s, lds); return; }
#endif
    scores_scalar(q, g, d, k, n, scale, s, lds);
}

void cq_attn_pv(const float *p, int ldp, int g, int n, const float *v, int d, float *o, int accumulate) {
#ifdef CQ_ATTN_X86
    if (d % 8 == 0 && cq_kernel() >= CQ_KERNEL_AVX2) { pv_avx2(p, ldp, g, n, v, d, o, accumulate); return; }
#endif
    pv_scalar(p, ldp, g, n, v, d, o, accumulate);
}
