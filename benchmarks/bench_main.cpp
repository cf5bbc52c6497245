// ./bench entry point: dispatches to the registered sub-commands.
#include <cstdio>
#include <cstring>
#include <exception>

#include "benchmarks/bench.h"
#include "runtime/error.h"

namespace bench {

static std::vector<Command>& registry() {
    static std::vector<Command> all;
    return all;
}
int add_command(const Command& command) {
    registry().push_back(command);
    return int(registry().size());
}
const std::vector<Command>& commands() { return registry(); }

}  // namespace bench

static void usage() {
    std::printf("usage: ./bench [COMMAND [ARGS...]]\n\ncommands:\n");
    for (const auto& c : bench::commands()) std::printf("  %-12s %s\n", c.name.c_str(), c.help.c_str());
    std::printf("\nWith no command, runs every command marked default with its default arguments.\n");
}

int main(int argc, char** argv) {
    try {
        if (argc >= 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
            usage();
            return 0;
        }
        if (argc >= 2) {
            for (const auto& c : bench::commands())
                if (c.name == argv[1]) return c.run(std::vector<std::string>(argv + 2, argv + argc));
            std::fprintf(stderr, "bench: unknown command '%s'\n", argv[1]);
            usage();
            return 2;
        }
        int status = 0;
        for (const auto& c : bench::commands())
            if (c.in_default_run) status |= c.run({});
        return status;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench: %s\n", e.what());
        return 1;
    }
}
