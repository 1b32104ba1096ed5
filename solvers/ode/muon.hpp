// Private: Muon deterministic dynamics (docs/theory/signsvd.md §5).
#pragma once

#include <memory>

#include "signdyn/dynamics.hpp"
#include "signsvd_driver.hpp"

namespace signdyn::detail {

/// The Muon step model (k-step quintic Newton–Schulz, no momentum): A_j and N_j from the
/// Stieltjes-inverted deterministic equivalent (muon_de.hpp). The expensive spectral factors
/// A_j^Muon/A_j^SignSVD and N_j^Muon/N_j^SignSVD are refreshed whenever the risk or the excess
/// risk has moved by more than `refresh_tol` (relative) since the last refresh, and applied to
/// the SignSVD equivalent evaluated at every call; refresh_tol = 0 refreshes at every call.
std::unique_ptr<StepModel> make_muon_model(const Problem& problem, const OptimizerSpec& optimizer,
                                           double refresh_tol = 0.05);

/// E ρ_j(t) and R(t) under Muon: the expected one-step map (exact_map) or its ODE (ode).
Trajectory muon_predict(const Problem& problem, const OptimizerSpec& optimizer,
                        const TheoryOptions& options, double refresh_tol = 0.05);

}  // namespace signdyn::detail
