// cuda/embedding.cu on the device against the CPU backend (cases shared with the SIMT suite).
#include "tests/kernels/embedding_cases.h"
