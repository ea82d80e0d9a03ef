#pragma once
// Debian's libopenblas-dev (pthread flavour); pkg-config "openblas" supplies the include path.
// cblas.h also declares openblas_set_num_threads, openblas_get_corename and openblas_get_config.
#include <cblas.h>
