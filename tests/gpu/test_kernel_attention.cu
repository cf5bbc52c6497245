// cuda/attention.cu on the device against the CPU backend (cases shared with the SIMT suite).
#include "tests/kernels/attention_cases.h"
