// Private: SignSGD deterministic dynamics (theory.md §3, docs/theory/signsgd.md).
#pragma once

#include "signdyn/dynamics.hpp"

namespace signdyn::detail {

/// Tuning of the SignSGD closures (docs/theory/signsgd.md §3–§5). The defaults are the ones
/// validated against Monte Carlo in validation/README.md.
struct SignSgdClosure {
  int components = 16;  // Gaussian-mixture components per saturating mode (a power of two ≥ 2)
  int inner_nodes = 8;  // Gauss–Hermite nodes over one mixture component
  int env_modes = 1;    // top modes whose column-to-column spread of S is resolved (0–3)
  // A mode j uses the linear (ρ-only) law when B λ_j b_j² < linear_threshold · S_ref, S_ref =
  // max(σ², 1e-3·2R(0)): its entries then stay in the linear range of the mean sign.
  double linear_threshold = 1e-2;
  // Linear modes that are not recorded may be merged into rate bins (rate_bins.hpp) of relative
  // width bin_width (0: bin_width_for(rel_tol)): `automatic` does so when that at least halves
  // their states, `on` always, `off` never.
  enum class Binning { automatic, on, off };
  Binning binning = Binning::automatic;
  double bin_width = 0.0;
};

/// SignSGD in the diagonal basis: per-mode Gaussian-mixture law of the entries with the exact
/// mean sign h_B, self-normalised, and averaged over the column-to-column spread of the
/// residual variance S caused by the top modes. solver ode: log-time Rosenbrock-W; exact_map:
/// the closure's expected one-step map iterated step by step.
Trajectory signsgd_diagonal(const Problem& problem, const OptimizerSpec& optimizer,
                            const TheoryOptions& options,
                            const SignSgdClosure& closure = SignSgdClosure{});

/// SignSGD in a generic (Haar) basis with the realised rotation O: per-coordinate saturation,
/// noise N = diag(Oᵀ K_σ O); O(d²) per evaluation and O(d³) set-up.
Trajectory signsgd_generic_exact(const Problem& problem, const OptimizerSpec& optimizer,
                                 const TheoryOptions& options,
                                 const SignSgdClosure& closure = SignSgdClosure{});

/// SignSGD in a generic basis with the Haar average over O (concentration form): the same
/// closure with the sums over coordinates replaced by expectations over a coordinate's
/// loadings; O(d) per evaluation, no O needed.
Trajectory signsgd_generic_concentrated(const Problem& problem, const OptimizerSpec& optimizer,
                                        const TheoryOptions& options,
                                        const SignSgdClosure& closure = SignSgdClosure{});

/// Dispatch: diagonal basis, or generic basis (realised O when d ≤ 4096 and O is present,
/// concentration form otherwise).
Trajectory signsgd_predict(const Problem& problem, const OptimizerSpec& optimizer,
                           const TheoryOptions& options);

}  // namespace signdyn::detail
