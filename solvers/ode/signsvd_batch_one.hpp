// Private: the SignSVD drift and second moment at B = 1 under the Gaussian-row closure, exact at
// any d (docs/theory/signsvd.md §4.4).
//
// At B = 1, M = (x/‖x‖)(r/‖r‖)ᵀ with r = Δᵀx − ε. Under the closure, given x, r ~ N(0, s² I_m)
// with s² = Σ_i x_i² ρ_i + σ², and E[Δ_j | r, x] = x_j ρ_j r/s², so
//   A_j = ρ_j (c_m/m) E[x_j² / (‖x‖ s)],   N_j = E[x_j²/‖x‖²]/m,   c_m = E‖N(0, I_m)‖,
// with the expectations over x ~ N(0, Λ) written as Laplace integrals:
//   1/(‖x‖ s) = (1/π) ∫∫ (uv)^{-1/2} e^{−u‖x‖² − v s²} du dv,
//   E[x_j² e^{−Σ_i c_i x_i²}] = λ_j/(1 + 2λ_j c_j) Π_i (1 + 2λ_i c_i)^{−1/2}.
// The deterministic equivalent replaces ‖x‖² and s² by their means, which errs by O(λ_1/tr K)
// on the top modes — not small for power laws (λ_1/tr K = 1/H_d at α = 1/2).
#pragma once

#include <Eigen/Core>

namespace signdyn::detail {

/// Evaluates the B = 1 law by trapezoid rules in ln u, ln v (exponentially convergent).
class SignsvdBatchOneSolver {
 public:
  /// `weight` (optional, default all 1): entry j stands for weight(j) modes of equal λ_j and ρ_j
  /// (mode_groups.hpp); the products and traces over modes are then weighted.
  SignsvdBatchOneSolver(const Eigen::ArrayXd& lambda, double m, double sigma, double step = 0.25,
                        const Eigen::ArrayXd& weight = Eigen::ArrayXd());

  /// Drift A_j and noise N_j at the Gaussian-row state ρ. O(d · nodes²).
  void evaluate(const Eigen::ArrayXd& rho, Eigen::ArrayXd& drift, Eigen::ArrayXd& noise) const;

 private:
  Eigen::ArrayXd lambda_;
  Eigen::ArrayXd weight_;  // multiplicity of each entry
  double m_, sigma2_, c_m_, step_;
  Eigen::ArrayXd noise_;  // N_j does not depend on ρ
};

}  // namespace signdyn::detail
