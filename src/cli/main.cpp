// signdyn executable entry point.
#include <iostream>
#include <string>
#include <vector>

#include "app.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  return signdyn::cli::run_app(args, std::cout, std::cerr);
}
