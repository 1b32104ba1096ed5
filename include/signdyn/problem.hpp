// signdyn/problem.hpp: the matrix least-squares problem of theory.md §1 and its exact risk.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <string_view>

#include "signdyn/rng.hpp"

namespace signdyn {

enum class BasisKind { diagonal, generic };
enum class CovarianceKind { power_law, isotropic, from_file };
enum class TargetKind { power_law, isotropic };

/// The config/file name of a basis kind: "diagonal" or "generic".
inline std::string_view to_string(BasisKind kind) {
  return kind == BasisKind::generic ? "generic" : "diagonal";
}
/// The basis kind of a config/file name; anything but "generic" is diagonal.
inline BasisKind basis_kind_of(std::string_view name) {
  return name == "generic" ? BasisKind::generic : BasisKind::diagonal;
}
/// The config/file name of a covariance kind: "power_law", "isotropic" or "from_file".
inline std::string_view to_string(CovarianceKind kind) {
  return kind == CovarianceKind::isotropic   ? "isotropic"
         : kind == CovarianceKind::from_file ? "from_file"
                                             : "power_law";
}
/// The covariance kind of a config/file name; anything unknown is power_law.
inline CovarianceKind covariance_kind_of(std::string_view name) {
  return name == "isotropic"   ? CovarianceKind::isotropic
         : name == "from_file" ? CovarianceKind::from_file
                               : CovarianceKind::power_law;
}

/// Everything that defines a problem instance, as read from `[problem]` in the config.
struct ProblemSpec {
  Eigen::Index d = 256;  // input dimension
  Eigen::Index m = 256;  // output dimension (columns of W)
  double sigma = 0.5;    // label-noise standard deviation
  BasisKind basis = BasisKind::diagonal;
  std::uint64_t basis_seed = 1;  // seed of the Haar rotation O (generic basis)
  CovarianceKind covariance = CovarianceKind::power_law;
  double alpha = 0.5;            // λ_j = j^(−2α)
  std::string covariance_file;   // from_file: path to d eigenvalues
  bool normalise_trace = false;  // scale λ so that tr K = 1
  TargetKind target = TargetKind::power_law;
  double beta = 0.5;              // b_j = j^(−β)
  bool normalise_target = false;  // scale b so that Σ λ_j b_j² = 1
};

/// A realised problem: spectrum, target amplitudes, and the rotation O (empty if diagonal).
/// K = O diag(λ) Oᵀ, W* = O diag(b) Z with Z i.i.d. N(0,1) drawn per replica.
struct Problem {
  Eigen::Index d = 0;
  Eigen::Index m = 0;
  double sigma = 0.0;
  Eigen::VectorXd lambda;  // λ_j, j = 1..d (stored 0-based)
  Eigen::VectorXd b;       // target amplitudes b_j
  BasisKind basis = BasisKind::diagonal;
  // d×d Haar orthogonal matrix; 0×0 for the diagonal basis, and for a generic basis with
  // d > kMaxRealisedBasis (only SignSGD's Monte Carlo needs it, and refuses such a problem).
  Eigen::MatrixXd O;

  bool is_diagonal() const { return basis == BasisKind::diagonal; }
  /// True when the generic basis's rotation O is formed (d <= kMaxRealisedBasis).
  bool has_rotation() const { return O.rows() == d && O.cols() == d && d > 0; }
};

/// Largest d whose generic basis is realised as a dense O (8·d² bytes: 2 GiB at 16384).
inline constexpr Eigen::Index kMaxRealisedBasis = 16384;

/// Builds the problem from its spec (eigenvalues, target, Haar O from basis_seed when
/// d <= kMaxRealisedBasis); throws ConfigError naming the field for an invalid spec.
Problem make_problem(const ProblemSpec& spec);

/// Haar-distributed d×d orthogonal matrix from the stream (seed, tag): QR of a Gaussian matrix
/// with the signs of diag(R) made positive. The regression basis O uses StreamTag::basis.
Eigen::MatrixXd haar_orthogonal(Eigen::Index d, std::uint64_t seed,
                                StreamTag tag = StreamTag::basis);

/// Exact risk from per-mode energies: R = ½ Σ_j λ_j ρ_j + σ²/2.
double risk_from_rho(const Problem& p, const Eigen::Ref<const Eigen::VectorXd>& rho);

/// Exact risk of a residual Δ = W − W* given in K's eigenbasis (d×m):
/// R = (1/(2m)) Σ_j λ_j ‖Δ_j‖² + σ²/2.
double risk_eigenbasis(const Problem& p, const Eigen::Ref<const Eigen::MatrixXd>& delta_eig);

/// Exact risk of a residual Δ given in the true basis: R = (1/(2m)) tr(Δᵀ K Δ) + σ²/2.
double risk_true_basis(const Problem& p, const Eigen::Ref<const Eigen::MatrixXd>& delta);

/// Per-mode energies ρ_j = ‖Δ_j‖² / m of a residual given in K's eigenbasis.
Eigen::VectorXd rho_eigenbasis(const Eigen::Ref<const Eigen::MatrixXd>& delta_eig);

/// Draws the initial residual Δ_0 = −W* in K's eigenbasis: −diag(b) Z, Z i.i.d. N(0,1).
void sample_initial_residual(const Problem& p, Rng& rng, Eigen::Ref<Eigen::MatrixXd> delta_eig);

/// Draws a minibatch in K's eigenbasis: X = Z diag(√λ) (B×d), label noise E = σ N (B×m).
/// Writes into caller-owned buffers of the right size; does not allocate.
void sample_batch_eigenbasis(const Problem& p, Rng& rng, Eigen::Ref<Eigen::MatrixXd> X,
                             Eigen::Ref<Eigen::MatrixXd> E);

}  // namespace signdyn
