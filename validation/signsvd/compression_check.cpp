// The SignSVD ODE with and without mode compression (docs/theory/signsvd.md §4.5): prints the
// run's CPU and wall time and writes (t, R) per record, so that two runs can be compared.
//
//   compression_check D B LR STEPS RECORDS REL_TOL WIDTH OUT [M]
//
// λ_j = j^−1.2, b_j² = j^−0.8, σ = 0.5, m = M (default d: the benchmark's problem), closure
// `de`; WIDTH > 0 forces compression with that ε, 0 forces it with the default
// ε = signsvd_group_width(REL_TOL), < 0 turns it off. Build and compare (see signsvd.md §4.5 for
// the measured table):
//
//   g++ -O3 -std=c++20 -fopenmp -I solvers/ode -I include -isystem /usr/include/eigen3 \
//     validation/signsvd/compression_check.cpp build/solvers/ode/libsigndyn_ode.a \
//     build/models/libsigndyn_models.a build/src/core/libsigndyn_core.a -o /tmp/compression_check
//   /tmp/compression_check 100000 16 1.581 10000000 1000 1e-4 0 /tmp/on.txt
//   /tmp/compression_check 100000 16 1.581 10000000 1000 1e-4 -1 /tmp/off.txt
//   paste /tmp/off.txt /tmp/on.txt | awk '{r=$4/$2-1; r=r<0?-r:r; if(r>m)m=r} END{print m}'
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>

#include "signdyn/dynamics.hpp"
#include "signsvd.hpp"

int main(int argc, char** argv) {
  using namespace signdyn;
  using namespace signdyn::detail;
  if (argc != 9 && argc != 10) {
    std::fprintf(stderr, "usage: %s D B LR STEPS RECORDS REL_TOL WIDTH OUT [M]\n", argv[0]);
    return 2;
  }
  const long d = std::atol(argv[1]);
  Problem p;
  p.d = p.m = d;
  if (argc == 10) p.m = std::atol(argv[9]);
  p.sigma = 0.5;
  p.lambda.resize(d);
  p.b.resize(d);
  for (long j = 0; j < d; ++j) {
    p.lambda(j) = std::pow(j + 1.0, -1.2);
    p.b(j) = std::pow(j + 1.0, -0.4);
  }
  OptimizerSpec o;
  o.kind = OptimizerKind::signsvd;
  o.batch = std::atoi(argv[2]);
  o.lr = std::atof(argv[3]);
  TheoryOptions to;
  to.record_steps = record_steps(std::atol(argv[4]), std::atol(argv[5]));
  to.modes = record_modes(d, 8);
  to.solver = TheorySolver::ode;
  to.rel_tol = std::atof(argv[6]);
  to.abs_tol = 1e-14;
  const double width = std::atof(argv[7]);
  SignsvdCompression c;
  c.mode = width < 0 ? SignsvdCompression::Mode::off : SignsvdCompression::Mode::on;
  c.width = width > 0 ? width : 0.0;
  const std::clock_t cpu0 = std::clock();
  const auto wall0 = std::chrono::steady_clock::now();
  const Trajectory tr = signsvd_predict(p, o, to, kDefaultSignsvdClosure, c);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  const double cpu = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
  std::printf(
      "d=%ld B=%d width=%g solver=%s status=%s records=%ld cpu=%.2f s wall=%.2f s R_end=%.9g\n", d,
      o.batch, width, tr.solver.c_str(), to_string(tr.status).data(),
      static_cast<long>(tr.t.size()), cpu, wall, tr.risk(tr.t.size() - 1));
  std::ofstream out(argv[8]);
  out.precision(15);
  for (Eigen::Index i = 0; i < tr.t.size(); ++i) out << tr.t(i) << " " << tr.risk(i) << "\n";
  return tr.status == RunStatus::completed ? 0 : 1;
}
