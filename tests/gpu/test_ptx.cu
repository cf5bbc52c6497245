// The PTX wrappers on the device against plain matrix products: the same expectations the
// SIMT suite checks the CPU definitions with, so a pass here also validates those definitions.
#include "tests/kernels/ptx_cases.h"
