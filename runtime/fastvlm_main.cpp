// ./fastvlm: image and question in, streamed answer out (see runtime/cli.h).
#include <iostream>
#include <string>
#include <vector>

#include "runtime/cli.h"

int main(int argc, char** argv) {
    return fastvlm::run_cli(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
