// cuda/rope.cu on the device against the CPU backend (cases shared with the SIMT suite).
#include "tests/kernels/rope_f32_cases.h"
