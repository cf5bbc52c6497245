// The PTX wrappers under the SIMT runtime: CPU definitions of mma.sync, ldmatrix, cp.async and
// dp4a against plain matrix products (cases shared with the GPU suite).
#include "tests/kernels/ptx_cases.h"
