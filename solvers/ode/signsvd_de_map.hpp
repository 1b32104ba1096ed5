// Private: the 4-scalar fixed-point map of the SignSVD/Muon deterministic equivalent
// (theory-derivations.md §5.3), for real κ (SignSVD) and complex κ (Muon's spectral densities).
#pragma once

#include <Eigen/Core>
#include <array>
#include <complex>

namespace signdyn::detail {

/// One evaluation of the stage-2 fixed-point map t ↦ F(t; κ) for the spectrum λ, the signal
/// ℓ_j = λ_j ρ_j, c = σ²/B and batch B; T is double or std::complex<double>.
template <typename T>
struct DeMap {
  using Scalars = std::array<T, 4>;  // (t22, t24, t42, t44)

  const Eigen::ArrayXd& lambda;
  const Eigen::ArrayXd& ell;
  double c = 0.0;
  double batch = 0.0;

  // Per-mode 2×2 block of the pencil's resolvent: G11 (≍ [(Σ_L + κ)^{-1}]_jj),
  // G31 (T_j ≍ [Σ̂ (Σ_L + κ)^{-1}]_jj) and V_j = 1 − κ G11.
  struct Mode {
    T g11, g13, g31, g33;
  };
  Mode mode(Eigen::Index j, const Scalars& t, T kappa) const {
    const double lam = lambda(j), l = ell(j);
    const T a = c * t[0] + t[2], cc = c * t[1] + t[3];
    const T p = kappa - lam * a, q = -l * cc, r = -lam * t[0], e = -1.0 - l * t[1];
    const T inv = T(1.0) / (p * e - q * r);
    return {e * inv, -q * inv, -r * inv, p * inv};
  }

  /// F(t; κ) of (5.3).
  Scalars operator()(const Scalars& t, T kappa) const {
    T s11 = 0.0, s13 = 0.0, s31 = 0.0, s33 = 0.0;
    for (Eigen::Index j = 0; j < lambda.size(); ++j) {
      const Mode g = mode(j, t, kappa);
      s11 += lambda(j) * g.g11;
      s13 += lambda(j) * g.g13;
      s31 += ell(j) * g.g31;
      s33 += ell(j) * g.g33;
    }
    const T b22 = c * s11 + s13, b24 = s11, b42 = c * s31 + s33, b44 = s31;
    const T m11 = -batch - b22, m12 = -b24, m21 = -b42, m22 = -batch - b44;
    const T det = m11 * m22 - m12 * m21;
    return {batch * m22 / det, -batch * m12 / det, -batch * m21 / det, batch * m11 / det};
  }

  /// τ(κ) = (1/m) Σ_j V_j(κ).
  T tau(const Scalars& t, T kappa, double m) const { return T(1.0) - one_minus_tau(t, kappa, m); }

  /// 1 − τ(κ) = ((m − d) + κ Σ_j G11_j)/m, free of the cancellation of 1 − τ near the hard edge
  /// (τ → 1 as κ → 0 when rank Σ_L = m = d).
  T one_minus_tau(const Scalars& t, T kappa, double m) const {
    T sum = 0.0;
    for (Eigen::Index j = 0; j < lambda.size(); ++j) sum += mode(j, t, kappa).g11;
    return (m - static_cast<double>(lambda.size()) + kappa * sum) / m;
  }
};

/// Solves the n×n system J x = b (n ≤ 5) by Gaussian elimination with partial pivoting.
template <typename T, std::size_t N>
std::array<T, N> solve_small(std::array<std::array<T, N>, N> J, std::array<T, N> b) {
  for (std::size_t c = 0; c < N; ++c) {
    std::size_t p = c;
    for (std::size_t r = c + 1; r < N; ++r)
      if (std::abs(J[r][c]) > std::abs(J[p][c])) p = r;
    std::swap(J[c], J[p]);
    std::swap(b[c], b[p]);
    for (std::size_t r = c + 1; r < N; ++r) {
      const T f = J[r][c] / J[c][c];
      for (std::size_t k = c; k < N; ++k) J[r][k] -= f * J[c][k];
      b[r] -= f * b[c];
    }
  }
  std::array<T, N> x{};
  for (std::size_t r = N; r-- > 0;) {
    T s = b[r];
    for (std::size_t k = r + 1; k < N; ++k) s -= J[r][k] * x[k];
    x[r] = s / J[r][r];
  }
  return x;
}

}  // namespace signdyn::detail
