// ./fastvlm: image and question in, streamed answer out (see runtime/cli.h).
#include <iostream>
#include <string>
#include <vector>

#include "runtime/cli.h"
#if FASTVLM_WITH_CUDA
#include "runtime/cuda/backend_cuda.h"
#endif

int main(int argc, char** argv) {
#if FASTVLM_WITH_CUDA
    fastvlm::gpu::register_cuda_backend();
#endif
    return fastvlm::run_cli(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
