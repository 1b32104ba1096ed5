// tests/src/linalg/msign_test_util.hpp: random test matrices and reference facts for msign tests.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "signdyn/rng.hpp"

namespace signdyn::test {

inline constexpr double kEps = std::numeric_limits<double>::epsilon();

/// Round-off scale of a backward-stable SVD of an n-sized problem: the computed singular
/// vectors are orthonormal to O(n·ε) and reproduce G to O(n·ε)·‖G‖₂ (Demmel–Kahan); the
/// factor 10 is the usual slack for the constant in O(·).
inline double roundoff(Eigen::Index n) {
  return 10.0 * static_cast<double>(n) * kEps;
}

/// d×m matrix with i.i.d. N(0, 1) entries from the stream (seed, stream).
inline Eigen::MatrixXd gaussian(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed,
                                std::uint64_t stream = 0) {
  Rng rng(seed, stream);
  Eigen::MatrixXd a(rows, cols);
  rng.fill_normal(a);
  return a;
}

/// Haar-distributed n×n orthogonal matrix: QR of a Gaussian matrix with diag(R) > 0.
inline Eigen::MatrixXd haar(Eigen::Index n, std::uint64_t seed) {
  const Eigen::MatrixXd a = gaussian(n, n, seed, 7);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
  Eigen::MatrixXd q = qr.householderQ();
  const Eigen::MatrixXd r = qr.matrixQR().triangularView<Eigen::Upper>();
  for (Eigen::Index j = 0; j < n; ++j)
    if (r(j, j) < 0) q.col(j) = -q.col(j);
  return q;
}

/// G = U diag(s) Vᵀ with Haar-random orthonormal U (d×k), V (m×k), k = s.size() ≤ min(d, m).
struct Synthetic {
  Eigen::MatrixXd G, U, V;
  Eigen::VectorXd s;
};
inline Synthetic with_singular_values(Eigen::Index d, Eigen::Index m, const Eigen::VectorXd& s,
                                      std::uint64_t seed) {
  Synthetic out;
  out.U = haar(d, seed).leftCols(s.size());
  out.V = haar(m, seed + 1000).leftCols(s.size());
  out.s = s;
  out.G = out.U * s.asDiagonal() * out.V.transpose();
  return out;
}

/// Projector Q_A Q_Aᵀ onto the column space of a full-column-rank A, from a Householder QR
/// (no SVD involved, accurate to O(n·ε) whatever the conditioning of A).
inline Eigen::MatrixXd column_projector(const Eigen::MatrixXd& A) {
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(A);
  const Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(A.rows(), A.cols());
  return q * q.transpose();
}

/// Largest absolute entry of A − B.
inline double max_abs_diff(const Eigen::MatrixXd& A, const Eigen::MatrixXd& B) {
  return (A - B).cwiseAbs().maxCoeff();
}

}  // namespace signdyn::test
