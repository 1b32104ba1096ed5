// signdyn/bilinear.hpp: the bilinear matrix regression of theory.md §1 ("Second family").
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>

#include "signdyn/problem.hpp"
#include "signdyn/rng.hpp"

namespace signdyn {

/// Everything that defines a bilinear problem instance: y = x_outᵀ W* x_in + ε with independent
/// x_out ~ N(0, K_out), x_in ~ N(0, K_in) (W ∈ R^{n_out×n_in}), K_out = O_out diag(μ) O_outᵀ and
/// K_in = O_in diag(λ) O_inᵀ, each side with its own spectrum and basis.
struct BilinearSpec {
  Eigen::Index n_out = 64;                                    // rows of W (dimension of x_out)
  Eigen::Index n_in = 64;                                     // columns of W (dimension of x_in)
  double sigma = 0.5;                                         // label-noise standard deviation
  CovarianceKind covariance_out = CovarianceKind::power_law;  // spectrum μ of K_out
  CovarianceKind covariance_in = CovarianceKind::power_law;   // spectrum λ of K_in
  double alpha_out = 0.5;                                     // power_law: μ_k = k^(−2 α_out)
  double alpha_in = 0.5;                                      // power_law: λ_l = l^(−2 α_in)
  std::string file_out;   // from_file: n_out eigenvalues of K_out (resolved path)
  std::string file_in;    // from_file: n_in eigenvalues of K_in (resolved path)
  double beta_out = 0.5;  // b_k = k^(−β_out), target row amplitudes (by eigenvalue rank)
  double beta_in = 0.5;   // c_l = l^(−β_in), target column amplitudes
  BasisKind basis_out = BasisKind::diagonal;  // O_out: identity or Haar
  BasisKind basis_in = BasisKind::diagonal;   // O_in: identity or Haar
  std::uint64_t basis_seed = 1;  // Haar seed: O_out from (seed, basis), O_in from (seed, basis_in)
};

/// A realised bilinear problem: spectra μ (K_out) and λ (K_in), target amplitudes in the two
/// eigenbases W̃*_kl = b_k c_l z_kl with z i.i.d. N(0,1) drawn per replica (W* = O_out W̃* O_inᵀ),
/// noise σ, and the rotations (empty for a diagonal side).
struct BilinearProblem {
  Eigen::Index n_out = 0;
  Eigen::Index n_in = 0;
  double sigma = 0.0;
  Eigen::VectorXd mu;      // μ_k, k = 1..n_out (stored 0-based), descending
  Eigen::VectorXd lambda;  // λ_l, l = 1..n_in (stored 0-based), descending
  Eigen::VectorXd b;       // b_k, row amplitudes of W̃*
  Eigen::VectorXd c;       // c_l, column amplitudes of W̃*
  Eigen::MatrixXd O_out;   // n_out×n_out Haar orthogonal; 0×0 for the diagonal basis
  Eigen::MatrixXd O_in;    // n_in×n_in Haar orthogonal; 0×0 for the diagonal basis

  /// True when both sides use the diagonal basis (O_out = O_in = I).
  bool is_diagonal() const { return O_out.size() == 0 && O_in.size() == 0; }
};

/// Largest side of a generic bilinear basis: a Haar rotation is a dense n×n matrix.
inline constexpr Eigen::Index kMaxBilinearGenericSide = 16384;

/// Builds the bilinear problem from its spec (spectra, target amplitudes, Haar rotations); throws
/// ConfigError naming the field ("bilinear.n_out", "bilinear.alpha_in", ...) for an invalid spec
/// and IoError naming the path for an unreadable eigenvalue file.
BilinearProblem make_bilinear_problem(const BilinearSpec& spec);

/// Exact risk from per-mode energies (n_out×n_in): R = ½ Σ_kl μ_k λ_l ρ_kl + σ²/2.
double bilinear_risk_from_rho(const BilinearProblem& p,
                              const Eigen::Ref<const Eigen::MatrixXd>& rho);

/// Exact risk of a residual Δ = W − W* in the eigenbases: R = ½ tr(K_out Δ K_in Δᵀ) + σ²/2.
double bilinear_risk(const BilinearProblem& p, const Eigen::Ref<const Eigen::MatrixXd>& delta);

/// Expected initial energies E ρ_kl(0) = b_k² c_l² (W_0 = 0, so Δ_0 = −W*).
Eigen::MatrixXd bilinear_initial_rho(const BilinearProblem& p);

/// Draws the initial residual Δ_0 = −W* in the eigenbases: Δ_kl = −b_k c_l z_kl, z i.i.d. N(0,1).
void sample_bilinear_initial_residual(const BilinearProblem& p, Rng& rng,
                                      Eigen::Ref<Eigen::MatrixXd> delta);

/// Draws a minibatch in the eigenbases: A_out = Z diag(√μ) (B×n_out), A_in = Z' diag(√λ)
/// (B×n_in), label noise ε = σ z (B). Writes into caller-owned buffers; does not allocate.
void sample_bilinear_batch(const BilinearProblem& p, Rng& rng, Eigen::Ref<Eigen::MatrixXd> a_out,
                           Eigen::Ref<Eigen::MatrixXd> a_in, Eigen::Ref<Eigen::VectorXd> eps);

/// Residuals r_b = a_out,bᵀ Δ a_in,b − ε_b of a minibatch (prediction minus label); writes r (B).
void bilinear_residuals(const Eigen::Ref<const Eigen::MatrixXd>& a_out,
                        const Eigen::Ref<const Eigen::MatrixXd>& a_in,
                        const Eigen::Ref<const Eigen::MatrixXd>& delta,
                        const Eigen::Ref<const Eigen::VectorXd>& eps,
                        Eigen::Ref<Eigen::VectorXd> r);

}  // namespace signdyn
