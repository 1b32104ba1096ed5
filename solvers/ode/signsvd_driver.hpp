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

#include "mode_groups.hpp"
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
/// steps. O(d) per step plus the model's cost. With `groups`, the state and the model are per
/// group (mode_groups.hpp): ρ̄_g(0) = b̄_g², risk ½(Σ_g w_g λ̄_g ρ̄_g + σ²), and a recorded mode
/// reads its group's state.
Trajectory iterate_step_model(const Problem& problem, const OptimizerSpec& optimizer,
                              const TheoryOptions& options, StepModel& model,
                              const std::string& solver_name, const ModeGroups* groups = nullptr);

/// Integrates dρ/dt = −2η(t) A(ρ) + η(t)² N(ρ) (adaptive Dormand–Prince, dense output at the
/// record steps, tolerances from the options); `groups` as for iterate_step_model. Explicit:
/// its step is bounded by the fastest mode's rate, so a long horizon costs ~ t·max rate steps.
Trajectory integrate_step_model(const Problem& problem, const OptimizerSpec& optimizer,
                                const TheoryOptions& options, StepModel& model,
                                const std::string& solver_name, const ModeGroups* groups = nullptr);

/// The same ODE in log time τ = ln(1 + t) with the Rosenbrock-W method ROS34PW2
/// (log_rosenbrock.hpp, solver "ode_rosenbrock"): stiffly stable, ~ a few hundred steps for
/// many decades. Its Jacobian is the diagonal −2η A_j/ρ_j (each mode's own relaxation rate; the
/// coupling through R is left to the W-method, which keeps its order for any approximate J).
Trajectory integrate_step_model_stiff(const Problem& problem, const OptimizerSpec& optimizer,
                                      const TheoryOptions& options, StepModel& model,
                                      const ModeGroups* groups = nullptr);

}  // namespace signdyn::detail
