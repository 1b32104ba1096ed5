// Private: Gauss–Hermite rules for expectations over standard Gaussians.
#pragma once

#include <Eigen/Eigenvalues>
#include <cmath>
#include <vector>

namespace signdyn::detail {

/// Nodes x_k and weights w_k (Σ w_k = 1) with Σ_k w_k f(x_k) ≈ E f(g), g ~ N(0, 1), exact for
/// polynomials of degree < 2n (probabilists' Gauss–Hermite, by Golub–Welsch).
struct GaussRule {
  std::vector<double> x, w;
};

inline GaussRule gauss_hermite(int n) {
  Eigen::MatrixXd J = Eigen::MatrixXd::Zero(n, n);
  for (int k = 1; k < n; ++k) J(k, k - 1) = J(k - 1, k) = std::sqrt(static_cast<double>(k));
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(J);
  GaussRule r;
  r.x.resize(n);
  r.w.resize(n);
  for (int k = 0; k < n; ++k) {
    r.x[k] = es.eigenvalues()(k);
    const double v = es.eigenvectors()(0, k);
    r.w[k] = v * v;
  }
  return r;
}

/// The positive half of an even-n Gauss–Hermite rule with doubled weights (Σ w = 1): the rule
/// for E f(g) when f is even, or for a symmetric mixture stored by its positive half.
inline GaussRule gauss_hermite_half(int n) {
  const GaussRule full = gauss_hermite(n % 2 == 0 ? n : n + 1);
  GaussRule r;
  for (std::size_t k = 0; k < full.x.size(); ++k)
    if (full.x[k] > 0.0) {
      r.x.push_back(full.x[k]);
      r.w.push_back(2.0 * full.w[k]);
    }
  return r;
}

}  // namespace signdyn::detail
