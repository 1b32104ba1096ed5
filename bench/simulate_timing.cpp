// bench/simulate_timing.cpp: wall-clock and CPU time of one simulate() run (the Monte Carlo
// engine end to end), for the Muon and SignSVD figures in bench/README.md.
//
// Usage: bench_simulate [optimizer=muon] [steps=2000] [replicas=16] [threads=0] [momentum=0]
//                       [d=256] [batch=8] [lr=0.05]
// Problem: the default config's (d = m, λ_j = j⁻¹, b_j = j^(−1/2), σ = 0.5, diagonal basis),
// 40 log-spaced records, 16 recorded modes, seed 1. Prints the times, the final risk and a few
// records (bit-identical for any thread count).
#include <cstdio>
#include <ctime>
#include <exception>
#include <string>

#include "signdyn/optimizer.hpp"
#include "signdyn/problem.hpp"
#include "signdyn/simulate.hpp"
#include "signdyn/trajectory.hpp"

int main(int argc, char** argv) {
  try {
    const auto arg = [&](int i, const char* fallback) {
      return std::string(argc > i ? argv[i] : fallback);
    };
    const std::string name = arg(1, "muon");
    const std::int64_t steps = std::stoll(arg(2, "2000"));
    const std::int64_t replicas = std::stoll(arg(3, "16"));
    const int threads = std::stoi(arg(4, "0"));
    const double momentum = std::stod(arg(5, "0"));
    const Eigen::Index d = std::stoll(arg(6, "256"));

    signdyn::ProblemSpec problem;
    problem.d = problem.m = d;
    problem.alpha = 0.5;
    problem.beta = 0.5;
    problem.sigma = 0.5;
    signdyn::OptimizerSpec optimizer;
    optimizer.kind =
        name == "muon" ? signdyn::OptimizerKind::muon : signdyn::OptimizerKind::signsvd;
    optimizer.batch = std::stoll(arg(7, "8"));
    optimizer.lr = std::stod(arg(8, "0.05"));
    optimizer.momentum = momentum;
    signdyn::SimulateOptions options;
    options.record_steps = signdyn::record_steps(steps, 40);
    options.modes = signdyn::record_modes(d, 16);
    options.replicas = replicas;
    options.threads = threads;

    const std::clock_t cpu0 = std::clock();
    const signdyn::Trajectory t =
        signdyn::simulate(signdyn::make_problem(problem), optimizer, options);
    const double cpu = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
    std::printf(
        "%s d=m=%ld B=%ld momentum=%g replicas=%ld steps=%ld threads=%d: wall %.2f s, "
        "CPU %.2f s (all threads), status %s\n",
        name.c_str(), static_cast<long>(d), static_cast<long>(optimizer.batch), momentum,
        static_cast<long>(replicas), static_cast<long>(steps), threads, t.wall_seconds, cpu,
        t.status == signdyn::RunStatus::completed ? "completed" : t.message.c_str());
    for (Eigen::Index i = 0; i < t.risk.size(); i += 13)
      std::printf("  t = %g: risk %.17g ± %.3g\n", t.t(i), t.risk(i), t.risk_se(i));
    std::printf("  t = %g: risk %.17g ± %.3g\n", t.t(t.t.size() - 1), t.risk(t.risk.size() - 1),
                t.risk_se(t.risk_se.size() - 1));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_simulate: %s\n", e.what());
    return 2;
  }
}
