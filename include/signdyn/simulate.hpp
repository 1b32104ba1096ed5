// signdyn/simulate.hpp: Monte Carlo over independent replicas of a stochastic optimizer.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "signdyn/optimizer.hpp"
#include "signdyn/problem.hpp"
#include "signdyn/trajectory.hpp"

namespace signdyn {

/// Called from the driving thread with the fraction of work done, in [0, 1].
using ProgressFn = std::function<void(double fraction)>;

struct SimulateOptions {
  std::vector<std::int64_t> record_steps;  // ascending; the last entry is the horizon
  Eigen::VectorXi modes;                   // 1-based mode indices to record
  Eigen::MatrixXi mode_pairs;  // bilinear family: 1-based (k, l) to record, n × 2 (else unused)
  std::int64_t replicas = 32;
  std::uint64_t seed = 1;  // replica r uses the stream (seed, r): results do not depend on threads
  int threads = 0;         // OpenMP threads over replicas; 0 = all available
  ProgressFn progress;     // optional
};

/// Runs `replicas` independent runs of the optimizer from W_0 = 0 (a fresh target W* per
/// replica) and returns the replica mean and standard error of the exact risk and of ρ_j at
/// the record steps. A replica whose risk (or a recorded ρ_j) becomes non-finite or exceeds
/// 1e150 marks the run `diverged`; the trajectory then keeps the records every replica reached.
Trajectory simulate(const Problem& problem, const OptimizerSpec& optimizer,
                    const SimulateOptions& options);

}  // namespace signdyn
