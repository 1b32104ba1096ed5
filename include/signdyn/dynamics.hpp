// signdyn/dynamics.hpp: deterministic (expected / high-dimensional limit) dynamics of the risk.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "signdyn/optimizer.hpp"
#include "signdyn/problem.hpp"
#include "signdyn/trajectory.hpp"

namespace signdyn {

enum class TheorySolver {
  exact_map,  // iterate the exact expected one-step map (SGD: theory.md §2), O(d) per step
  ode,        // integrate the continuous-time ODE at the record times
};

struct TheoryOptions {
  std::vector<std::int64_t> record_steps;  // ascending; the last entry is the horizon
  Eigen::VectorXi modes;                   // 1-based mode indices to record
  Eigen::MatrixXi mode_pairs;  // bilinear family: 1-based (k, l) to record, n × 2 (else unused)
  TheorySolver solver = TheorySolver::exact_map;
  double rel_tol = 1e-8;   // ode: relative error tolerance per step
  double abs_tol = 1e-12;  // ode: absolute error tolerance per step
};

/// True when the theory for this optimizer (and problem basis) is implemented.
bool has_theory(const Problem& problem, const OptimizerSpec& optimizer);

/// Predicts E ρ_j(t) and the risk R(t) from ρ_j(0) = b_j² (W_0 = 0). Throws Error when no
/// theory exists for the optimizer; a blow-up returns status `diverged` with the records kept.
Trajectory predict(const Problem& problem, const OptimizerSpec& optimizer,
                   const TheoryOptions& options);

}  // namespace signdyn
