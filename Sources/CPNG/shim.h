#pragma once
#include <png.h>
// Only libpng's "simplified API" (png_image_*) is used: it handles its own setjmp/longjmp
// internally, which Swift could not do safely. Stride macros are not imported; compute in Swift.

// Composite macros (PNG_FORMAT_RGBA is an OR of other macros) are not reliably imported by
// Swift, so they are exposed as tiny inline functions.
static inline png_uint_32 cpng_image_version(void) { return PNG_IMAGE_VERSION; }
static inline png_uint_32 cpng_format_rgba(void) { return PNG_FORMAT_RGBA; }
static inline png_uint_32 cpng_format_rgb(void) { return PNG_FORMAT_RGB; }
static inline png_uint_32 cpng_image_failed(const png_image *image) {
    return PNG_IMAGE_FAILED(*image);
}
// The error/warning text libpng leaves in image->message (a char[64] inside the struct).
static inline const char *cpng_image_message(const png_image *image) { return image->message; }
// libpng's upper bound on the encoded size of `image` (PNG_IMAGE_PNG_SIZE_MAX), so a single
// png_image_write_to_memory call into a buffer of this size always fits.
static inline png_alloc_size_t cpng_png_size_max(const png_image *image) {
    return PNG_IMAGE_PNG_SIZE_MAX(*image);
}
