// cuda/attention_decode.cu on the device against its CPU twin (cases shared with the SIMT suite).
#include "tests/kernels/attention_decode_cases.h"
