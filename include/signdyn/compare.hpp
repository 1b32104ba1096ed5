// signdyn/compare.hpp: Monte Carlo vs theory on a shared time grid.
#pragma once

#include <Eigen/Core>

#include "signdyn/trajectory.hpp"

namespace signdyn {

/// Per-record agreement of a Monte Carlo trajectory with a theory trajectory.
struct Comparison {
  Eigen::VectorXd t;        // record times present in both (steps)
  Eigen::VectorXd risk_mc;  // Monte Carlo mean risk
  Eigen::VectorXd risk_se;  // its standard error
  Eigen::VectorXd risk_theory;
  Eigen::VectorXd rel_error;  // (R_mc − R_theory) / R_theory, signed
  Eigen::VectorXd z;          // (R_mc − R_theory) / SE; 0 where SE = 0 and the two agree exactly
  double max_abs_rel_error = 0.0;
  double max_abs_z = 0.0;

  /// Number of records with |z| ≤ z_max.
  Eigen::Index count_within(double z_max) const;
};

/// Compares the risks of `mc` and `theory` at the record times they share (exact match of t).
Comparison compare_risk(const Trajectory& mc, const Trajectory& theory);

}  // namespace signdyn
