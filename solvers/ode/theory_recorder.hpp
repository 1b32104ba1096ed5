// Private: collects risk and ρ_j at record times into a theory Trajectory.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "signdyn/dynamics.hpp"
#include "signdyn/optimizer.hpp"
#include "signdyn/problem.hpp"
#include "signdyn/trajectory.hpp"

namespace signdyn::detail {

/// Fills a theory Trajectory record by record; records after a failure are dropped.
class TheoryRecorder {
 public:
  TheoryRecorder(const Problem& problem, const OptimizerSpec& optimizer,
                 const TheoryOptions& options, std::string solver);

  /// Stores the risk and recorded ρ_j of `rho` (all d modes) as record `index`; returns false
  /// (and marks the run diverged) when the risk is not finite (or above 1e150).
  bool record(std::size_t index, const Eigen::Ref<const Eigen::VectorXd>& rho);

  /// Stores a risk and the recorded ρ_j (one per recorded mode, in order) as record `index`,
  /// for solvers that interpolate only the recorded quantities; same failure rule as record().
  bool record_values(std::size_t index, double risk, const double* rho_modes);

  /// Ends the run early with the given status and message.
  void stop(RunStatus status, std::string message);

  /// Truncates to the records stored and returns the trajectory.
  Trajectory take(double wall_seconds) &&;

 private:
  const Problem& problem_;
  Trajectory out_;
  std::size_t stored_ = 0;
};

/// A risk we still call finite: beyond 1e150 the run has diverged (the Monte Carlo's threshold).
inline bool is_finite_risk(double r) {
  return std::isfinite(r) && r <= 1e150;
}

}  // namespace signdyn::detail
