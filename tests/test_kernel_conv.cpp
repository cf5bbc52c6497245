// cuda/conv.cu run through the SIMT runtime against its CPU twins (cases shared with the GPU suite).
#include "tests/kernels/conv_cases.h"
