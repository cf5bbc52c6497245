// cuda/kv_cache.cu run through the SIMT runtime against the CPU backend (cases shared with the GPU suite).
#include "tests/kernels/kv_cache_cases.h"
