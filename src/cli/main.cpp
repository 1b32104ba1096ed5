// signdyn executable entry point.
#include <iostream>
#include <string>
#include <vector>

#include "app.hpp"
#include "ranks.hpp"

int main(int argc, char** argv) {
  // Under mpirun (SIGNDYN_MPI builds) `signdyn sweep` splits its points across the ranks.
  const signdyn::cli::MpiSession mpi(&argc, &argv);
  std::vector<std::string> args(argv, argv + argc);
  return signdyn::cli::run_app(args, std::cout, std::cerr);
}
