// cuda/embedding.cu run through the SIMT runtime against the CPU backend (cases shared with the GPU suite).
#include "tests/kernels/embedding_cases.h"
