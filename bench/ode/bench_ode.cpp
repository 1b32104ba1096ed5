// Benchmarks of the deterministic-dynamics engine (bench/README.md, "ODE"): SignSGD (diagonal
// basis, and generic basis in its O(d) concentration form) and SGD at d = 10^4 … 10^6, 1000
// log-spaced records from step 1 to 10^7, α = 1.2, β = 0.8 in the λ_j = j^(−α), b_j² = j^(−β)
// convention (signdyn config: alpha = 0.6, beta = 0.4), σ = 0.5, η = 1e-3 (SignSGD) / 0.1 (SGD), B
// = 16.
// SignSVD (deterministic equivalent, mode-compressed; B = 1 by its exact law): the same spectrum,
// σ and records, d = m, η = 0.05·√(m/100) (the validation's scaling, theory-derivations §7.1;
// 5 at m = 10^6), B ∈ {1, 16, 1024}.
//
// Set SIGNDYN_BENCH_DUMP=DIR to write each run's (t, R) to DIR/<name>.txt (bench/scipy_ode.py
// compares its own solution of the same ODE against it). SIGNDYN_BENCH_RTOL overrides the
// relative tolerance (default 1e-4).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include "signdyn/dynamics.hpp"

namespace {

using namespace signdyn;

// The spectrum without a rotation: the diagonal basis, or a generic basis whose O is never
// formed (d = 10^6); predict() then uses the Haar-averaged (concentration) form.
Problem power_law(Eigen::Index d, BasisKind basis) {
  Problem p;
  p.d = p.m = d;
  p.sigma = 0.5;
  p.basis = basis;
  p.lambda.resize(d);
  p.b.resize(d);
  for (Eigen::Index j = 0; j < d; ++j) {
    p.lambda(j) = std::pow(static_cast<double>(j + 1), -1.2);
    p.b(j) = std::pow(static_cast<double>(j + 1), -0.4);
  }
  return p;
}

double rel_tol() {
  const char* s = std::getenv("SIGNDYN_BENCH_RTOL");
  return s ? std::atof(s) : 1e-4;
}

void dump(const std::string& name, const Trajectory& tr) {
  const char* dir = std::getenv("SIGNDYN_BENCH_DUMP");
  if (!dir) return;
  std::ofstream out(std::string(dir) + "/" + name + ".txt");
  out.precision(12);
  out << "# t risk  (" << name << ", rel_tol " << rel_tol() << ", " << tr.wall_seconds << " s)\n";
  for (Eigen::Index i = 0; i < tr.t.size(); ++i) out << tr.t(i) << " " << tr.risk(i) << "\n";
}

void run(benchmark::State& state, OptimizerKind kind, BasisKind basis, int batch = 16) {
  const Eigen::Index d = state.range(0);
  const Problem p = power_law(d, basis);
  OptimizerSpec o;
  o.kind = kind;
  o.lr = kind == OptimizerKind::sgd ? 0.1 : 1e-3;
  if (kind == OptimizerKind::signsvd) o.lr = 0.05 * std::sqrt(static_cast<double>(p.m) / 100.0);
  o.batch = batch;
  TheoryOptions to;
  to.record_steps = record_steps(10000000, 1000);
  to.modes = record_modes(d, 8);
  to.solver = TheorySolver::ode;
  to.rel_tol = rel_tol();
  to.abs_tol = 1e-14;
  Trajectory tr;
  for (auto _ : state) {
    tr = predict(p, o, to);
    benchmark::DoNotOptimize(tr.risk.data());
  }
  if (tr.status != RunStatus::completed) state.SkipWithError(tr.message.c_str());
  state.counters["records"] = static_cast<double>(tr.t.size());
  state.counters["R_end"] = tr.risk(tr.t.size() - 1);
  dump(std::string(to_string(kind)) + (basis == BasisKind::diagonal ? "_diagonal_" : "_generic_") +
           (kind == OptimizerKind::signsvd ? "B" + std::to_string(batch) + "_" : "") +
           std::to_string(d),
       tr);
}

void BM_SignSgdDiagonal(benchmark::State& s) {
  run(s, OptimizerKind::signsgd, BasisKind::diagonal);
}
void BM_SignSgdGeneric(benchmark::State& s) {
  run(s, OptimizerKind::signsgd, BasisKind::generic);
}
void BM_Sgd(benchmark::State& s) {
  run(s, OptimizerKind::sgd, BasisKind::diagonal);
}

BENCHMARK(BM_SignSgdDiagonal)
    ->Arg(10000)
    ->Arg(1000000)
    ->Unit(benchmark::kSecond)
    ->Iterations(1)
    ->UseRealTime();
BENCHMARK(BM_SignSgdGeneric)
    ->Arg(10000)
    ->Arg(1000000)
    ->Unit(benchmark::kSecond)
    ->Iterations(1)
    ->UseRealTime();
void BM_SignSvd(benchmark::State& s) {
  run(s, OptimizerKind::signsvd, BasisKind::diagonal, static_cast<int>(s.range(1)));
}

BENCHMARK(BM_Sgd)->Arg(10000)->Arg(1000000)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_SignSvd)
    ->ArgsProduct({{10000, 1000000}, {1, 16, 1024}})
    ->Unit(benchmark::kSecond)
    ->Iterations(1)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
