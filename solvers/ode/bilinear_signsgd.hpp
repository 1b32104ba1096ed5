// Private: SignSGD dynamics of the bilinear problem (docs/theory/bilinear.md, "SignSGD").
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "bilinear_sgd.hpp"
#include "signdyn/bilinear.hpp"

namespace signdyn::detail {

/// Mean sign of one entry of a bilinear minibatch gradient, conditionally Gaussian closure:
/// given the B input pairs' own coordinates u_b = a_b,k = √μ x_b, w_b = c_b,l = √λ y_b and a
/// scale τ_b of the rest, the rest of each residual is Gaussian, so with P = Σ x_b² y_b²,
/// Q̃ = Σ x_b² y_b² (a0 τ_b + a1 x_b² + a2 y_b²) (a0 = 1 − a1 − a2):
///   h(z; a1, a2, κ) = E erf(z P / √(2 Q̃)),  z = √(μ_k λ_l / A) Δ_kl,
/// A = the residual variance without entry (k, l), a1 (a2) the share of A from row k (column l),
/// τ ~ Gamma(1/κ, κ) (mean 1, variance κ; the rest is a sum of products, a scale mixture).
/// Tabulated once per batch size on a grid of (κ, a1, a2/(1 − a1), z) from weighted draws:
/// Gauss–Legendre in |x|, |y| and τ's quantile for B = 1, Monte Carlo draws for B ≥ 2.
class BilinearSignTable {
 public:
  /// Builds the tables for this batch size (samples, seed: the Monte Carlo draws for B ≥ 2);
  /// throws ConfigError on batch < 1.
  BilinearSignTable(Eigen::Index batch, int samples, std::uint64_t seed);

  /// h(z; a1, a2, κ) for any real z (odd in z), a1, a2 ≥ 0 with a1 + a2 ≤ 1, κ ≥ 0 (clamped
  /// to the grid's top, 1).
  double mean_sign(double z, double a1, double a2, double kappa = 0.0) const;

  /// F(r; a1, a2) with E_{Δ ~ N(0, ρ)}[Δ h(√(μλ/A) Δ)] = ρ √(μλ/A) F(μλρ/A); F(r) =
  /// √(2/π) E[T / √(1 + r T²)], T = P/√Q̃ (closed form of the Gaussian average of erf).
  double gauss_drift(double r, double a1, double a2, double kappa = 0.0) const;

  Eigen::Index batch() const { return batch_; }

 private:
  static constexpr int kA = 9;    // grid points in s1 = a1 and s2 = a2/(1 − a1), each in [0, 1]
  static constexpr int kW = 121;  // grid points in w = t/(1 + t) ∈ [0, 1]
  double lookup(const std::vector<double>& table, double w, double a1, double a2,
                double kappa) const;
  Eigen::Index batch_;
  double sqrt_b_;
  std::vector<double> h_, f_;  // [κ][s1][s2][w]: h(z), and F(r)·√(1 + Br)/√B
};

/// Closure settings of the SignSGD map.
struct BilinearSignSgdClosure {
  int mixture_entries = 256;  // the entries of largest initial share μλb²c² carried as mixtures
  int components = 16;  // Gauss–Hermite quantisation of N(0, b²c²) (symmetric: half stored)
  int inner_nodes = 8;  // Gauss–Hermite nodes per mixture component
  int table_samples = 1 << 13;  // draws of (P, Q̃) for B ≥ 2 (B = 1: quadrature)
  std::uint64_t table_seed = 1;
  bool rest_scale_mixture = true;  // κ from the rows' and columns' fluctuations (else κ = 0)
  int env_entries = 1;             // top entries whose initial |Δ_kl| is resolved into scenarios
  int env_components = 8;  // Gauss–Hermite nodes per resolved entry (half: scenarios per entry)
  double max_step_change = 0.01;  // lump steps while 2R changes by less than this (relative)
};

/// Expected risk (and, if keep_rho, E ρ) of constant-lr minibatch SignSGD on the bilinear
/// problem at the ascending record steps, from Δ_0 = −W* (E ρ_kl(0) = b_k² c_l²). Per entry the
/// exact identity E Δ'² = E Δ² − 2η E[Δ sign G] + η² is closed with the mean sign of
/// BilinearSignTable: Gaussian entries for most (ρ_kl), Gaussian mixtures for the top entries.
/// The top env_entries entries' initial values are quantised into scenarios whose curves are
/// averaged (the replica-to-replica spread of the residual variance). O(n_out n_in) per
/// evaluation and scenario; consecutive steps are lumped (Gaussian entries solved exactly with
/// frozen coefficients, mixture components by Euler) while 2R changes by less than
/// max_step_change. Throws ConfigError on lr ≤ 0, batch < 1 or bad records.
BilinearSgdCurve bilinear_signsgd_map(const BilinearProblem& p, double lr, Eigen::Index batch,
                                      const std::vector<long>& record_steps, bool keep_rho,
                                      const BilinearSignSgdClosure& closure = {});

/// The same with a prebuilt mean-sign table (its batch size is the batch); closure's
/// table_samples and table_seed are then unused.
BilinearSgdCurve bilinear_signsgd_map(const BilinearProblem& p, const BilinearSignTable& table,
                                      double lr, const std::vector<long>& record_steps,
                                      bool keep_rho, const BilinearSignSgdClosure& closure = {});

}  // namespace signdyn::detail
