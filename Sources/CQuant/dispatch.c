// Runtime dispatch and activation quantization for the kernels in kernels.inc.
// The kernels are compiled for two instruction sets through function-level target attributes
// (no global -march), and the CPU is asked once at run time which copy to use.
#include "cquant.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CQ_X86 1
#endif

enum { GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q4_1 = 3, GGML_Q5_0 = 6, GGML_Q5_1 = 7, GGML_Q8_0 = 8,
       GGML_Q4_K = 12, GGML_Q5_K = 13, GGML_Q6_K = 14, GGML_BF16 = 30 };

/// Activation block for the 32-element weight types. s = d * sum(qs) serves the types with a
/// per-block minimum (Q4_1, Q5_1): sum(m * x) = m * s.
typedef struct { float d; float s; int8_t qs[32]; } cq_act_q8;
/// Activation block for the 256-element K types; bsums are the sums of each 16 quants (the K
/// types' minimums and Q6_K's offset of 32 are applied through them).
typedef struct { float d; int8_t qs[256]; int16_t bsums[16]; } cq_act_q8K;

#if CQ_X86
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#define KSUFFIX _avx2
#define KVNNI 0
#include "kernels.inc"
#undef KSUFFIX
#undef KVNNI
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)
#define KSUFFIX _vnni
#define KVNNI 1
#include "kernels.inc"
#undef KSUFFIX
#undef KVNNI
#pragma clang attribute pop
#endif

static int detected = -1, in_use = -1;

int cq_detect_kernel(void) {
    if (detected < 0) {
        int k = CQ_KERNEL_NONE;
#if CQ_X86
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) k = CQ_KERNEL_AVX2;
        if (k == CQ_KERNEL_AVX2 && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512bw")) k = CQ_KERNEL_AVX512VNNI;
#endif
        detected = k;   // idempotent: racing first callers store the same value
    }
    return detected;
}

int cq_kernel(void) { return in_use >= 0 ? in_use : cq_detect_kernel(); }

int cq_use_kernel(int kernel) {
    const int best = cq_detect_kernel();
    in_use = kernel < 0 ? best : (kernel < best ? kernel : best);
    return in_use;
}

const char *cq_kernel_name(int kernel) {
    switch (kernel) {
    case CQ_KERNEL_AVX2: return "avx2";
    case CQ_KERNEL_AVX512VNNI: return "avx512-vnni";
    default: return "scalar (dequantize + float dot)";
    }
}

int cq_activation_kind(uint32_t t, int mode) {
    if (mode == CQ_MODE_FLOAT) return cq_activation_kind(t, CQ_MODE_INT8) < 0 ? -1 : 3;
    switch (t) {
    case GGML_Q4_0: case GGML_Q4_1: case GGML_Q5_0: case GGML_Q5_1: case GGML_Q8_0: return 1;
    case GGML_Q4_K: case GGML_Q5_K: case GGML_Q6_K: return 2;
    case GGML_F32: case GGML_F16: case GGML_BF16: return 0;
    default: return -1;
    }
}

size_t cq_activation_bytes(int kind, int n) {
    switch (kind) {
    case 1: return (size_t)(n / 32) * sizeof(cq_act_q8);
    case 2: return (size_t)(n / 256) * sizeof(cq_act_q8K);
    case 3: return (size_t)(n + (n + 31) / 32) * sizeof(float);
    default: return (size_t)n * sizeof(float);
    }
}

/// Symmetric 8-bit quantization of one block: d = max|x| / 127, q = round(x / d).
static float quantize_block(const float *x, int n, int8_t *q) {
    float amax = 0;
    for (int i = 0; i < n; i++) amax = fmaxf(amax, fabsf(x[i]));
    const float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
    for (int i = 0; i < n; i++) q[i] = (int8_t)lrintf(x[i] * id);
    return d;
}

void cq_quantize_activation(int kind, const float *x, int n, void *out) {
    if (kind == 1) {
        cq_act_q8 *y = (cq_act_q8 *)out;
        for (int b = 0; b < n / 32; b++) {
            y[b].d = quantize_block(x + 32 * b, 32, y[b].qs);
            int s = 0;
            for (int i = 0; i < 32; i++) s += y[b].qs[i];
            y[b].s = y[b].d * (float)s;
        }
    } else if (kind == 2) {
        cq_act_q8K *y = (cq_act_q8K *)out;
        for (int b = 0; b < n / 256; b++) {
            y[b].d = quantize_block(x + 256 * b, 256, y[b].qs);
            for (int g = 0; g < 16; g++) {
                int s = 0;
                for (int i = 0; i < 16; i++) s += y[b].qs[16 * g + i];
                y[b].bsums[g] = (int16_t)s;
            }
        }
    } else if (kind == 3) {
        float *y = (float *)out;
        memcpy(y, x, (size_t)n * sizeof(float));
        for (int b = 0; b < (n + 31) / 32; b++) {
            float s = 0;
            for (int i = 32 * b; i < n && i < 32 * b + 32; i++) s += x[i];
            y[n + b] = s;
        }
    } else {
        memcpy(out, x, (size_t)n * sizeof(float));
    }
}

int cq_matvec(uint32_t type, int mode, int n, const void *w, size_t row_bytes, int r0, int r1, const void *act, float *y, int accumulate) {
#if CQ_X86
    if (mode == CQ_MODE_FLOAT) {
        switch (cq_kernel()) {
        case CQ_KERNEL_AVX512VNNI: return matvec_f_vnni(type, n, (const uint8_t *)w, row_bytes, r0, r1, (const float *)act, y, accumulate);
        case CQ_KERNEL_AVX2: return matvec_f_avx2(type, n, (const uint8_t *)w, row_bytes, r0, r1, (const float *)act, y, accumulate);
        default: return -1;
        }
    }
    switch (cq_kernel()) {
    case CQ_KERNEL_AVX512VNNI: return matvec_vnni(type, n, (const uint8_t *)w, row_bytes, r0, r1, act, y, accumulate);
    case CQ_KERNEL_AVX2: return matvec_avx2(type, n, (const uint8_t *)w, row_bytes, r0, r1, act, y, accumulate);
    default: return -1;
    }
#else
    (void)type; (void)mode; (void)n; (void)w; (void)row_bytes; (void)r0; (void)r1; (void)act; (void)y; (void)accumulate;
    return -1;
#endif
}

int cq_matmul_f(uint32_t type, int n, const void *w, size_t row_bytes, int r0, int r1, const float *act, size_t act_stride, int nx,
                float *y, size_t ldy, int accumulate) {
#if CQ_X86
    switch (cq_kernel()) {
    case CQ_KERNEL_AVX512VNNI: return matmul_f_vnni(type, n, (const uint8_t *)w, row_bytes, r0, r1, act, act_stride, nx, y, ldy, accumulate);
    case CQ_KERNEL_AVX2: return matmul_f_avx2(type, n, (const uint8_t *)w, row_bytes, r0, r1, act, act_stride, nx, y, ldy, accumulate);
    default: return -1;
    }
#else
    (void)type; (void)n; (void)w; (void)row_bytes; (void)r0; (void)r1; (void)act; (void)act_stride; (void)nx; (void)y; (void)ldy; (void)accumulate;
    return -1;
#endif
}

// Decode-row attention (kernels.inc), with a scalar fallback for CPUs without AVX2 or odd d.
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
#if CQ_X86
    if (d % 8 == 0) switch (cq_kernel()) {
        case CQ_KERNEL_AVX512VNNI: attn_scores_vnni(q, g, d, k, n, scale, s, lds); return;
        case CQ_KERNEL_AVX2: attn_scores_avx2(q, g, d, k, n, scale, s, lds); return;
        default: break;
    }
#endif
    scores_scalar(q, g, d, k, n, scale, s, lds);
}

void cq_attn_pv(const float *p, int ldp, int g, int n, const float *v, int d, float *o, int accumulate) {
#if CQ_X86
    if (d % 8 == 0) switch (cq_kernel()) {
        case CQ_KERNEL_AVX512VNNI: attn_pv_vnni(p, ldp, g, n, v, d, o, accumulate); return;
        case CQ_KERNEL_AVX2: attn_pv_avx2(p, ldp, g, n, v, d, o, accumulate); return;
        default: break;
    }
#endif
    pv_scalar(p, ldp, g, n, v, d, o, accumulate);
}

int cq_attn_pv_rows(const float *p, int ldp, int m, int n, const float *v, int d, float *o, int ldo, int accumulate) {
    if (d % 16 != 0 || cq_kernel() == CQ_KERNEL_NONE) return -1;   // the caller keeps sgemm
    if (n == 0) {
        if (!accumulate) for (int i = 0; i < m; i++) memset(o + (size_t)i * ldo, 0, (size_t)d * sizeof(float));
        return 0;
    }
#if CQ_X86
    switch (cq_kernel()) {
        case CQ_KERNEL_AVX512VNNI: attn_pv_rows_vnni(p, ldp, m, n, v, d, o, ldo, accumulate); return 0;
        case CQ_KERNEL_AVX2: attn_pv_rows_avx2(p, ldp, m, n, v, d, o, ldo, accumulate); return 0;
        default: break;
    }
#endif
    return -1;
}
