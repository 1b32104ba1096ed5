// Private: collects the risk and the recorded ρ_kl of the bilinear family into a theory
// Trajectory (the bilinear counterpart of theory_recorder.hpp).
#pragma once

#include <Eigen/Core>
#include <string>

#include "signdyn/bilinear.hpp"
#include "signdyn/dynamics.hpp"
#include "signdyn/optimizer.hpp"
#include "signdyn/trajectory.hpp"

namespace signdyn::detail {

/// Fills a theory Trajectory record by record (columns: options.mode_pairs); records after a
/// failure are dropped.
class BilinearTheoryRecorder {
 public:
  BilinearTheoryRecorder(const BilinearProblem& problem, const OptimizerSpec& optimizer,
                         const TheoryOptions& options, std::string solver);

  /// Stores the exact risk of `rho` (n_out × n_in) and its recorded ρ_kl as record `index`;
  /// returns false (and marks the run diverged) when the risk is not finite (or above 1e150).
  bool record(std::size_t index, const Eigen::Ref<const Eigen::MatrixXd>& rho);

  /// Ends the run early with the given status and message (the first reason is kept).
  void stop(RunStatus status, std::string message);

  /// Truncates to the records stored and returns the trajectory.
  Trajectory take(double wall_seconds) &&;

 private:
  const BilinearProblem& problem_;
  Trajectory out_;
  std::size_t stored_ = 0;
};

}  // namespace signdyn::detail
