// Private: the deterministic equivalent of the Muon drift and second moment
// (docs/theory/signsvd.md §5).
//
// Muon's update is M = U φ(S/F) Vᵀ for G = U S Vᵀ, F = ‖G‖_F and φ = p∘…∘p (k Newton–Schulz
// steps of the odd quintic p). Under the Gaussian-row closure of the SignSVD equivalent,
// G Mᵀ = f(GGᵀ) with f(σ²) = σ φ(σ/F), so with W = GGᵀ/m
//   A_j = E⟨Δ_j, M_j⟩/m = (ρ_j/√m) ∫ √x φ(√(x/tr W)) ν_j(dx),
//   N_j = E‖M_j‖²/m   = (1/m)   ∫ φ(√(x/tr W))²   μ_j(dx),
// where ν_j, μ_j are the spectral measures of W seen from mode j, weighted by Σ̂Σ_L⁺ and by 1:
//   ∫ x/(x + ζ) ν_j(dx) = T_j(κ(ζ)),  ∫ x/(x + ζ) μ_j(dx) = V_j(κ(ζ)),  ζ = κ (1 − τ(κ)),
// the same 4-scalar fixed point as SignSVD, now at complex κ. Their densities come from
// Stieltjes inversion, Im T_j(κ(−x − i0))/(π x), evaluated at ζ = −x(1 + iδ) on a log-x grid by
// Newton continuation in (t, κ); φ, which oscillates on fine scales, is integrated against the
// piecewise-linear densities with precomputed weights. The top outlier of W (the signal spike of a
// signal-dominated mode, separated from the bulk) is integrated over its own law instead: batch
// norm χ²_B, column sampling χ²_m, and ‖G‖_F moving with the spike (docs/theory/signsvd.md §5.5).
#pragma once

#include <Eigen/Core>
#include <array>
#include <complex>
#include <map>
#include <vector>

namespace signdyn::detail {

struct MuonDeOptions {
  double step = 0.05;           // log-x grid step of the density nodes
  double smoothing = 1.0 / 64;  // δ_L: final relative distance of ζ from the real axis
  double ladder_top = 0.5;      // δ_0: first rung of the ladder (halved down to δ_L)
  double range = 1e-12;         // lowest x on the grid, relative to tr W
  int sub_points = 64;          // points per grid interval when integrating φ
};

/// Spectral functions of Muon's k-step quintic Newton–Schulz map (or φ ≡ 1: SignSVD).
struct MuonPolynomial {
  double a = 3.4445, b = -4.7750, c = 2.0315;
  int steps = 5;  // k; 0 selects φ ≡ 1 (the exact polar factor, SignSVD)

  /// φ(s) = p^k(s) for singular values s = σ/‖G‖_F ∈ [0, 1].
  double operator()(double s) const;
};

/// The top outlier of W = GGᵀ/m as last evaluated (docs/theory/signsvd.md §5.5): the spike of
/// mode `mode`, separated from the bulk, and the moments of the law it is integrated over.
struct MuonOutlier {
  bool found = false;
  Eigen::Index mode = -1;    // c, the mode holding most of its mass
  double mean_x = 0.0;       // x̄, the equivalent's mean location (first moment above the gap)
  double var_x = 0.0;        // Var x under the law (χ, ψ quadrature)
  double mean_s = 0.0;       // E s, s = σ_1/‖G‖_F (including ξ)
  double var_s = 0.0;        // Var s
  double trace_w = 0.0;      // tr W = E‖G‖_F²/m
  double var_rest = 0.0;     // v = Var ξ
  double mean_ell = 0.0;     // E ℓ(χ)
  double var_ell_psi = 0.0;  // Var(ℓ(χ)ψ) in closed form (Gamma moments)
};

/// Solver for Muon's A_j and N_j; keeps warm starts between calls.
class MuonDeSolver {
 public:
  MuonDeSolver(const Eigen::ArrayXd& lambda, double batch, double m, double sigma,
               MuonPolynomial phi, MuonDeOptions options = {});

  /// Drift A_j and noise N_j at the Gaussian-row state ρ.
  void evaluate(const Eigen::ArrayXd& rho, Eigen::ArrayXd& drift, Eigen::ArrayXd& noise);
  /// The same, and also the polar factor's (φ ≡ 1, SignSVD) A_j and N_j from the same densities.
  void evaluate(const Eigen::ArrayXd& rho, Eigen::ArrayXd& drift, Eigen::ArrayXd& noise,
                Eigen::ArrayXd& drift_polar, Eigen::ArrayXd& noise_polar);

  /// The outlier found by the last evaluate() (found = false when the top of the spectrum is not
  /// separated from the bulk).
  const MuonOutlier& outlier() const { return outlier_; }

 private:
  using C = std::complex<double>;
  using Unknowns = std::array<C, 5>;  // (t22, t24, t42, t44, κ)
  using Jacobian = std::array<std::array<C, 5>, 5>;
  // Newton (chord steps while an old Jacobian still halves the residual) from `start`.
  Unknowns solve(C zeta, Unknowns start, Jacobian& J, bool& have_j) const;
  std::array<C, 5> residual(const Unknowns& u, C zeta) const;

  Eigen::ArrayXd lambda_;
  double batch_, m_, c_, trace_k_;
  MuonPolynomial phi_;
  MuonDeOptions options_;
  Eigen::ArrayXd ell_;
  Eigen::ArrayXd exact_mass_;  // n_j = μ_j(R₊) where known in closed form (m ≥ min(B, d))
  int ladder_levels() const;
  struct NodeCache {
    std::vector<Unknowns> ladder;    // solutions per level
    std::vector<Jacobian> jacobian;  // last Jacobian per level
    std::vector<char> has_jacobian;
  };
  std::map<long, NodeCache> warm_;
  MuonOutlier outlier_;  // by grid index k (x = e^{k h})
};

}  // namespace signdyn::detail
