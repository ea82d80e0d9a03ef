#pragma once
// Matrix-vector kernels on quantized weights for one-row (decode) linear layers.
//
// Why C: Swift's SIMD types cannot emit the integer multiply-add instructions these kernels
// live on (vpmaddubsw / vpdpbusd), and Swift has no per-function target attributes for runtime
// dispatch. Everything else (dequantisation for prefill, the model) stays in Swift.
//
// Weights are read in their GGUF block encoding, straight from the file mapping. The activation
// row is encoded once per mode (float32 + block sums, or 8 bits per block) and reused by every
// matrix that reads it.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Kernel families, best last. 0 means no SIMD kernel: the Swift caller falls back to
/// dequantize-then-float-dot.
enum { CQ_KERNEL_NONE = 0, CQ_KERNEL_AVX2 = 1, CQ_KERNEL_AVX512VNNI = 2 };

/// Best kernel family this CPU runs (detected once).
int cq_detect_kernel(void);
/// Kernel family in use: the detected one unless `cq_use_kernel` picked a lower one.
int cq_kernel(void);
/// Forces a family (clamped to what the CPU supports); returns the one now in use. For tests
/// and `--decode-kernel`.
int cq_use_kernel(int kernel);
const char *cq_kernel_name(int kernel);

/// Arithmetic of a matvec. FLOAT: the weight blocks are expanded to float32 in registers and
/// multiplied with the float32 activation row (no rounding added beyond float summation order).
/// INT8: the activation row is quantized to 8 bits per block and integer dot products are used
/// (fewer instructions per weight; adds the activation's rounding error).
enum { CQ_MODE_FLOAT = 0, CQ_MODE_INT8 = 1 };

/// Activation encoding a weight type (GGML type code) needs in a mode: 0 float32, 1 Q8
/// (32-blocks), 2 Q8K (256-blocks), 3 float32 followed by the sums of each 32 elements (FLOAT
/// mode); -1 when the type has no kernel.
int cq_activation_kind(uint32_t ggml_type, int mode);
/// Bytes of an encoded activation row of `n` elements (n a multiple of the block size).
size_t cq_activation_bytes(int kind, int n);
/// Encodes x[0..<n] in `kind` into out (cq_activation_bytes(kind, n) bytes). Kind 0 copies.
void cq_quantize_activation(int kind, const float *x, int n, void *out);

/// y[r] (+)= dot(W[r], x) for r in [r0, r1). W rows are `row_bytes` apart, each `n` elements of
/// `ggml_type`; `act` is x encoded with cq_activation_kind(ggml_type, mode). Returns 0, or -1 when
/// the type has no kernel or no SIMD family is in use.
int cq_matvec(uint32_t ggml_type, int mode, int n, const void *w, size_t row_bytes, int r0, int r1,
              const void *act, float *y, int accumulate);

/// Float mode for a few activation rows at once (short prefill passes): y[j*ldy + r] (+)=
/// dot(W[r], x_j) for r in [r0, r1), j < nx, where x_j = act + j*act_stride floats, each encoded
/// with cq_activation_kind(ggml_type, CQ_MODE_FLOAT). Each weight block is widened once per 8
/// rows; every output equals cq_matvec's in float mode bit for bit. Returns 0, or -1 as cq_matvec.
int cq_matmul_f(uint32_t ggml_type, int n, const void *w, size_t row_bytes, int r0, int r1,
                const float *act, size_t act_stride, int nx, float *y, size_t ldy, int accumulate);

/// Attention for one query row per head of a key/value group (decode), float32 throughout.
/// s[h*lds + j] = scale * dot(q[h*d ..< h*d+d], k[j*d ..< j*d+d]) for h < g, j < n.
void cq_attn_scores(const float *q, int g, int d, const float *k, int n, float scale, float *s, int lds);
/// o[h*d + e] (+)= sum_j p[h*ldp + j] * v[j*d + e] for h < g, e < d.
void cq_attn_pv(const float *p, int ldp, int g, int n, const float *v, int d, float *o, int accumulate);
/// Prefill blocks: o[i*ldo + e] (+)= sum_j p[i*ldp + j] * v[j*d + e] for i < m, e < d, each (i, e)
/// one fused multiply-add chain over j in order (for d a multiple of 64, the sums of `cq_attn_pv`'s
/// 64-lane path bit for bit). Returns 0, or -1 having done nothing when d is not a multiple of 16 or
/// no SIMD kernel runs on this CPU (the caller then uses sgemm).
int cq_attn_pv_rows(const float *p, int ldp, int m, int n, const float *v, int d, float *o, int ldo, int accumulate);

#ifdef __cplusplus
}
#endif
