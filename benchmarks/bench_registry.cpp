// The registry of ./bench sub-commands (benchmarks/bench.h).
#include "benchmarks/bench.h"

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
