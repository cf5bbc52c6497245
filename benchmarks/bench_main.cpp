// ./bench entry point. With no arguments, or only options, it runs the side-by-side comparison
// of every weight mode (benchmarks/bench_modes.cpp); `./bench COMMAND [ARGS]` runs one of the
// other registered sub-commands (kernels, model, tokenizer, pretokenize).
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "benchmarks/bench.h"
#include "benchmarks/bench_options.h"
#include "runtime/error.h"
#if FASTVLM_WITH_CUDA
#include "runtime/cuda/backend_cuda.h"
#endif

static void usage() {
    std::printf("usage: ./bench [OPTIONS]          every weight mode side by side (options below)\n"
                "       ./bench COMMAND [ARGS...]  one of the commands below\n\ncommands:\n");
    for (const auto& c : bench::commands()) std::printf("  %-12s %s\n", c.name.c_str(), c.help.c_str());
    std::printf("\noptions of the side-by-side run:\n%s", bench::options_usage().c_str());
}

int main(int argc, char** argv) {
#if FASTVLM_WITH_CUDA
    fastvlm::gpu::register_cuda_backend();
#endif
    try {
        if (argc >= 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
            usage();
            return 0;
        }
        if (argc >= 2 && argv[1][0] != '-') {
            for (const auto& c : bench::commands())
                if (c.name == argv[1]) return c.run(std::vector<std::string>(argv + 2, argv + argc));
            std::fprintf(stderr, "bench: unknown command '%s'\n", argv[1]);
            usage();
            return 2;
        }
        // No command: the default set, which the options (if any) are given to.
        const std::vector<std::string> options(argv + 1, argv + argc);
        int status = 0;
        for (const auto& c : bench::commands())
            if (c.in_default_run) status |= c.run(options);
        return status;
    } catch (const std::exception& e) {
        const std::string message = e.what();  // most name their source; the rest get the program's name
        std::fprintf(stderr, "%s%s\n", message.rfind("bench: ", 0) == 0 ? "" : "bench: ", message.c_str());
        return 1;
    }
}
