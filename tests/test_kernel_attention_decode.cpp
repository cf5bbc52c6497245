// cuda/attention_decode.cu run through the SIMT runtime against its CPU twin (cases shared with the GPU suite).
#include "tests/kernels/attention_decode_cases.h"
