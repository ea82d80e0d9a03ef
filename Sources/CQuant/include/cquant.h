#pragma once
// Quantized matrix-vector kernels for one-row (decode) linear layers.
//
// Why C: Swift's SIMD types cannot emit the integer multiply-add instructions these kernels
// live on (vpmaddubsw / vpdpbusd), and Swift has no per-function target attributes for runtime
// dispatch. Everything else (dequantisation for prefill, the model) stays in Swift.
//
// Weights are read in their GGUF block encoding, straight from the file mapping. The activation
// row is quantized once to 8 bits per block (the `cq_act_*` formats below) and reused by every
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

/// Activation encoding a weight type (GGML type code) needs: 0 float32, 1 Q8 (32-blocks),
/// 2 Q8K (256-blocks); -1 when the type has no kernel.
int cq_activation_kind(uint32_t ggml_type);
/// Bytes of an encoded activation row of `n` elements (n a multiple of the block size).
size_t cq_activation_bytes(int kind, int n);
/// Encodes x[0..<n] in `kind` into out (cq_activation_bytes(kind, n) bytes). Kind 0 copies.
void cq_quantize_activation(int kind, const float *x, int n, void *out);

/// y[r] (+)= dot(W[r], x) for r in [r0, r1). W rows are `row_bytes` apart, each `n` elements of
/// `ggml_type`; `act` is x encoded with cq_activation_kind(ggml_type). Returns 0, or -1 when the
/// type has no kernel or no SIMD family is in use.
int cq_matvec(uint32_t ggml_type, int n, const void *w, size_t row_bytes, int r0, int r1,
              const void *act, float *y, int accumulate);

#ifdef __cplusplus
}
#endif
