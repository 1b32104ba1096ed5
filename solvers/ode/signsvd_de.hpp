// Private: the two-stage deterministic equivalent of the SignSVD drift under the Gaussian-row
// closure (theory-derivations.md §5.2–5.4, docs/theory/signsvd.md §4).
//
// Given X, the columns of G are N(0, Σ_L), Σ_L = Σ̂ diag(ρ) Σ̂ + (σ²/B) Σ̂, and
//   A_j = E⟨Δ_j, M_j⟩/m = (ρ_j/√m) (2/π) ∫_0^∞ T_j(κ(u)) du,  u² = κ (1 − τ(κ)),
//   T_j(κ) ≍ [Σ̂ (Σ_L + κ)^{-1}]_jj,  V_j(κ) ≍ [Σ_L (Σ_L + κ)^{-1}]_jj,  τ = (1/m) Σ_j V_j,
// with T_j, V_j from a 4-scalar fixed point per κ (stage 2, the average over X).
#pragma once

#include <Eigen/Core>
#include <array>
#include <map>

namespace signdyn::detail {

/// Solver of the 4-scalar fixed point and the stage-1 quadrature, with warm starts kept between
/// calls (the state changes little from one call to the next). Cost per call ~ nodes × (a few
/// fixed-point iterations) × O(d).
class SignsvdDeSolver {
 public:
  /// `weight` (optional, default all 1): entry j stands for weight(j) modes of equal λ_j and ρ_j
  /// (mode_groups.hpp); every sum over modes is then weighted and d = Σ weight.
  SignsvdDeSolver(const Eigen::ArrayXd& lambda, double batch, double m, double sigma,
                  const Eigen::ArrayXd& weight = Eigen::ArrayXd());

  /// Drift A_j = E⟨Δ_j, M_j⟩/m and noise N_j = E‖M_j‖²/m at the Gaussian-row state ρ.
  void evaluate(const Eigen::ArrayXd& rho, Eigen::ArrayXd& drift, Eigen::ArrayXd& noise);

  /// Relative residual at which the 4-scalar fixed point counts as solved (default 1e-13, the
  /// round-off level; an ODE at tolerance rel_tol needs far less, signsvd.md §4.5).
  void set_tolerance(double tol) { tol_ = tol; }

  /// Outputs of the fixed point at one κ > 0 for the state ρ (for tests): T_j and V_j.
  void resolvents(const Eigen::ArrayXd& rho, double kappa, Eigen::ArrayXd& t_out,
                  Eigen::ArrayXd& v_out);

 private:
  using Scalars = std::array<double, 4>;  // (t22, t24, t42, t44)
  Scalars map(const Scalars& t, double kappa, double* g11_sum = nullptr) const;
  struct Jacobian {
    std::array<std::array<double, 4>, 4> J{};
    bool valid = false;
  };
  // Solves t = F(t; κ) from `start`; `cached` (optional) holds the node's last Jacobian.
  // With `one_minus_tau_out`, also 1 − τ at the solution (from the last pass when it was there).
  Scalars solve(double kappa, Scalars start, Jacobian* cached = nullptr,
                double* one_minus_tau_out = nullptr) const;
  double tau(const Scalars& t, double kappa) const;
  double one_minus_tau(const Scalars& t, double kappa) const;
  void set_state(const Eigen::ArrayXd& rho);  // ℓ = λρ and the weighted products below

  Eigen::ArrayXd lambda_;
  Eigen::ArrayXd weight_;              // multiplicity of each entry
  double modes_ = 0.0;                 // d = Σ weight
  Eigen::ArrayXd wlambda_;             // w λ
  Eigen::ArrayXd well_, wlambda_ell_;  // w ℓ and w λ ℓ of the current state
  double batch_, m_, c_;
  Eigen::ArrayXd ell_;                  // λ_j ρ_j of the current state
  Eigen::ArrayXd leverage_;             // exact noise coefficient when min(B, d) ≤ m
  bool rank_limited_by_m_ = false;      // m < min(B, d): κ_0 > 0
  std::map<long, Jacobian> jacobians_;  // last Newton Jacobian per lattice index
  std::map<long, Scalars> warm_;        // fixed-point solutions by lattice index k (y = k h)
  double h_ = 0.25;                     // lattice step in y = ln(κ − κ_0)
  double tol_ = 1e-13;                  // relative residual at which a fixed point is solved
};

}  // namespace signdyn::detail
