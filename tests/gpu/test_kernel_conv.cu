// cuda/conv.cu on the device against its CPU twins (cases shared with the SIMT suite).
#include "tests/kernels/conv_cases.h"
