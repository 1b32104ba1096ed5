// signdyn/bilinear_dynamics.hpp: deterministic dynamics of the bilinear family
// (docs/theory/bilinear.md), the counterpart of predict() in signdyn/dynamics.hpp.
#pragma once

#include <string>

#include "signdyn/bilinear.hpp"
#include "signdyn/dynamics.hpp"
#include "signdyn/optimizer.hpp"
#include "signdyn/trajectory.hpp"

namespace signdyn {

/// True when deterministic dynamics of this optimizer exist for the bilinear family.
bool has_bilinear_theory(const BilinearProblem& problem, const OptimizerSpec& optimizer);

/// Why this optimizer has no bilinear dynamics here (a phrase naming what would give it one),
/// or "" when it has: SGD always; SignSVD with a constant rate; SignSGD with a constant rate in
/// the diagonal basis; Muon not yet.
std::string missing_bilinear_theory(const BilinearProblem& problem, const OptimizerSpec& optimizer);

/// Predicts E ρ_kl(t) at options.mode_pairs (1-based (k, l), n × 2) and the risk R(t) from
/// E ρ_kl(0) = b_k² c_l² (W_0 = 0), at options.record_steps (must start at 0). SGD: the exact
/// expected one-step map, iterated with the scheduled rate lr_k (exact for any schedule).
/// options.modes and the ODE settings are not used. Throws Error when no theory exists for
/// the optimizer; a blow-up returns status `diverged` with the records reached kept.
Trajectory predict_bilinear(const BilinearProblem& problem, const OptimizerSpec& optimizer,
                            const TheoryOptions& options);

}  // namespace signdyn
