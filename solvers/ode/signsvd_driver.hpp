// Private: drivers shared by the SignSVD and Muon dynamics (docs/theory/signsvd.md §1).
//
// Both optimizers obey, per step and exactly in expectation (theory.md §4),
//   E[ρ_i' − ρ_i | state] = −2η A_i + η² N_i,   A_i = E⟨Δ_i, M_i⟩/m,  N_i = E‖M_i‖²/m,
// and a closure supplies A_i and N_i as functions of the per-mode energies ρ (and R). The
// drivers either iterate that map step by step (the natural form for a discrete optimizer) or
// integrate its continuous-time limit dρ_i/dt = −2η(t) A_i + η(t)² N_i.
#pragma once

#include <Eigen/Core>
#include <string>

#include "signdyn/dynamics.hpp"

namespace signdyn::detail {

/// A closure for the expected one-step increments of the per-mode energies.
class StepModel {
 public:
  virtual ~StepModel() = default;
  /// Writes A_i = E⟨Δ_i, M_i⟩/m and N_i = E‖M_i‖²/m at the state ρ (all d modes) and step t.
  virtual void evaluate(const Eigen::ArrayXd& rho, double t, Eigen::ArrayXd& drift,
                        Eigen::ArrayXd& noise) = 0;
};

/// Iterates ρ ← max(ρ − 2η_k A(ρ) + η_k² N(ρ), 0) from ρ_j(0) = b_j², recording at the record
/// steps. O(d) per step plus the model's cost.
Trajectory iterate_step_model(const Problem& problem, const OptimizerSpec& optimizer,
                              const TheoryOptions& options, StepModel& model,
                              const std::string& solver_name);

/// Integrates dρ/dt = −2η(t) A(ρ) + η(t)² N(ρ) (adaptive Dormand–Prince, dense output at the
/// record steps, tolerances from the options).
Trajectory integrate_step_model(const Problem& problem, const OptimizerSpec& optimizer,
                                const TheoryOptions& options, StepModel& model,
                                const std::string& solver_name);

}  // namespace signdyn::detail
