// cuda/rmsnorm.cu on the device against the CPU backend (cases shared with the SIMT suite).
#include "tests/kernels/rmsnorm_f32_cases.h"
