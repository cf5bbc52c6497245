// ./bench sub-commands register themselves here: `./bench NAME [args]` runs one,
// `./bench` runs the default set.
#pragma once
#include <string>
#include <vector>

namespace bench {

struct Command {
    std::string name;
    std::string help;
    int (*run)(const std::vector<std::string>& args);
    bool in_default_run;  // part of a plain `./bench`
};

int add_command(const Command& command);
const std::vector<Command>& commands();

}  // namespace bench

#define BENCH_COMMAND(name, help, fn, in_default) \
    static const int bench_registered_##fn = ::bench::add_command({name, help, fn, in_default})
