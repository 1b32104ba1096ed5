// Private: runs a per-mode System (the concept of log_rosenbrock.hpp) as a theory Trajectory,
// either integrated as an ODE or iterated as its one-step map.
#pragma once

#include <Eigen/Core>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "chunked.hpp"
#include "log_rosenbrock.hpp"
#include "theory_recorder.hpp"

namespace signdyn::detail {

/// Records of a System with outputs (risk, ρ of the recorded modes): the ODE in log time
/// (solver "ode_rosenbrock"), or, for TheorySolver::exact_map, the map y ← y + f(k, y) applied
/// once per step k (the system's f is then its expected one-step increment; a system with
/// set_map_mode(bool) is told which of the two it serves).
template <class System>
Trajectory run_system(System& system, Eigen::VectorXd y, const Problem& problem,
                      const OptimizerSpec& optimizer, const TheoryOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const bool map = options.solver == TheorySolver::exact_map;
  if constexpr (requires { system.set_map_mode(true); }) system.set_map_mode(map);
  TheoryRecorder recorder(problem, optimizer, options, map ? "exact_map" : "ode_rosenbrock");
  auto record = [&](std::size_t i, const double* v) {
    return recorder.record_values(i, v[0], v + 1);
  };
  if (!map) {
    LogRosenbrockOptions lo;
    lo.rel_tol = options.rel_tol;
    lo.abs_tol = options.abs_tol;
    LogRosenbrock<System> integrator(system, lo);
    const std::vector<double> times(options.record_steps.begin(), options.record_steps.end());
    const auto stats = integrator.integrate(y, times, record);
    if (std::getenv("SIGNDYN_ODE_STATS"))
      std::fprintf(stderr, "ode: %lld steps, %lld rejected, %lld evaluations\n",
                   static_cast<long long>(stats.steps), static_cast<long long>(stats.rejected),
                   static_cast<long long>(stats.evaluations));
    if (stats.status != RunStatus::completed) recorder.stop(stats.status, stats.message);
  } else {
    const Eigen::Index n = system.size();
    Eigen::VectorXd f(n);
    std::vector<double> partials, value(system.outputs()), rate(system.outputs());
    const int L = system.linear_scalars(), A = system.accumulators();
    std::size_t next = 0;
    const auto& steps = options.record_steps;
    for (std::int64_t k = 0; next < steps.size(); ++k) {
      const auto s = chunked_reduce<kMaxLinearScalars>(
          n, partials, [&](Eigen::Index b, Eigen::Index e, double* acc) {
            for (int l = 0; l < L; ++l) {
              const double* w = system.scalar_weights(l);
              double sum = 0.0;
              for (Eigen::Index i = b; i < e; ++i) sum += w[i] * y[i];
              acc[l] = sum;
            }
          });
      if (!system.prepare(static_cast<double>(k), y.data(), s.data())) {
        recorder.stop(RunStatus::diverged, "the state stopped being finite at step " +
                                               std::to_string(k) + "; lower optimizer.lr");
        break;
      }
      const auto acc = chunked_reduce<kMaxAccumulators>(
          n, partials, [&](Eigen::Index b, Eigen::Index e, double* a) {
            system.evaluate(b, e, y.data(), f.data(), nullptr, nullptr, a);
          });
      if (k == steps[next]) {
        double accv[kMaxAccumulators];
        for (int a = 0; a < A; ++a) accv[a] = acc[a];
        system.observe(y.data(), f.data(), accv, value.data(), rate.data());
        if (!record(next, value.data())) break;
        ++next;
        if (next == steps.size()) break;
      }
      y += f;
    }
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return std::move(recorder).take(wall);
}

}  // namespace signdyn::detail
