// cuda/kv_cache.cu on the device against the CPU backend (cases shared with the SIMT suite).
#include "tests/kernels/kv_cache_cases.h"
