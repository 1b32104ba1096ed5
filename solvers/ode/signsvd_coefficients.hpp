// Private: spectral coefficients of the SignSVD dynamics (theory.md §4, docs/theory/signsvd.md).
//
// Everything here depends only on the spectrum λ, the batch B and the output dimension m, so it
// is computed once per run, in O(d · nodes). Notation (docs/theory/signsvd.md §2):
//
//   df(κ)  = Σ_j λ_j / (λ_j + κ)                     (degrees of freedom of a ridge κ)
//   κ_q    solves df(κ_q) = q for q < d, κ_q = 0 for q ≥ d
//   r      = min(B, m): the rank of msign(G) is min(r, d)
//   z(κ)   = κ (1 − df(κ)/B)(1 − df(κ)/m)            (κ ≥ κ_r; m = ∞ drops the second factor)
//   s_i    = (1/π) ∫_0^∞ z^(−1/2) λ_i / (λ_i + κ(z)) dz = (2/π) ∫_0^∞ λ_i / (λ_i + κ(u)) du,
//            u = √z: the deterministic equivalent of [E (Σ̂^{1/2} Y Yᵀ Σ̂^{1/2} / m)^{1/2}]_ii
//            (for m = ∞: [E Σ̂^{1/2}]_ii, Σ̂ = XᵀX / B)
//   n_i    = λ_i / (λ_i + κ_r) if r < d, else 1     (E ‖msign(G)_i‖², noise-dominated)
#pragma once

#include <Eigen/Core>
#include <limits>

namespace signdyn::detail {

/// df(κ) = Σ_j λ_j / (λ_j + κ) for κ ≥ 0.
double degrees_of_freedom(const Eigen::ArrayXd& lambda, double kappa);

/// κ_q ≥ 0 solving Σ_j λ_j / (λ_j + κ_q) = q (bracketed Newton in ln κ, relative accuracy
/// ~1e-15); returns 0 when q ≥ d. Requires q > 0 and λ_j > 0.
double solve_kappa(const Eigen::ArrayXd& lambda, double q);

/// z(κ) = κ (1 − df(κ)/B)(1 − df(κ)/m) for κ ≥ κ_min(B, m); m = ∞ allowed.
double scale_of_kappa(const Eigen::ArrayXd& lambda, double batch, double m, double kappa);

/// κ(z): the root κ ≥ κ_r of z = κ (1 − df(κ)/B)(1 − df(κ)/m), for z ≥ 0 (z is increasing in
/// κ there). Bracketed Newton in ln(κ − κ_r); κ(0) = κ_r. m = ∞ gives theory.md's κ(s).
double kappa_of_scale(const Eigen::ArrayXd& lambda, double batch, double m, double z);

/// Trapezoid rule in y = ln(κ − κ_r) (exponentially convergent: the integrand decays like
/// e^{−|y|/2} at both ends and is analytic in a strip).
struct SignsvdQuadrature {
  double step = 0.4;     // h in y: the rule converges like e^{−π²/h}; 0.4 gives ~1e-14
  double margin = 50.0;  // y-range beyond the spectrum's scales on each side (error ~e^{−margin/2})
};

/// The precomputed SignSVD coefficients, one entry per mode.
struct SignsvdCoefficients {
  Eigen::ArrayXd s;      // s_i (see the file comment)
  Eigen::ArrayXd n;      // n_i = E ‖M_i‖² in the noise-dominated limit
  double kappa_r = 0.0;  // κ at the rank r = min(B, m) (0 when r ≥ d)
  double rank = 0.0;     // min(B, m, d)
  int nodes = 0;         // quadrature nodes used
};

/// Computes s_i and n_i for spectrum λ (all > 0), batch B ≥ 1 and output dimension m
/// (m = ∞ gives the m ≫ B limit of theory.md §4). O(d · nodes), OpenMP over modes.
SignsvdCoefficients signsvd_coefficients(const Eigen::ArrayXd& lambda, double batch, double m,
                                         const SignsvdQuadrature& quadrature = {});

/// Infinity, for "m ≫ B, d" (the output dimension drops out of s_i).
inline constexpr double kInfiniteOutputs = std::numeric_limits<double>::infinity();

}  // namespace signdyn::detail
