#pragma once
#include <png.h>
// Only libpng's "simplified API" (png_image_*) is used: it handles its own setjmp/longjmp
// internally, which Swift could not do safely. Stride macros are not imported; compute in Swift.
