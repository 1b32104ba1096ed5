// Tests of MsignSvd, the exact rank-truncated polar factor (the reference kernel).
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <Eigen/SVD>
#include <cmath>
#include <limits>

#include "msign_test_util.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"

namespace signdyn {
namespace {

using test::max_abs_diff;
using test::roundoff;

Eigen::MatrixXd msign_of(const Eigen::MatrixXd& G, MsignResult* result = nullptr) {
  MsignSvd kernel(G.rows(), G.cols());
  Eigen::MatrixXd Q(G.rows(), G.cols());
  const MsignResult r = kernel.compute(G, Q);
  if (result) *result = r;
  return Q;
}

// msign(G)ᵀ msign(G) is the projector onto the row space of G and msign(G) msign(G)ᵀ the one
// onto its column space; for G = A Bᵀ (rank k) these are the column projectors of B and A
// (from Householder QR). Subspaces of a rank-k SVD are accurate to ‖δG‖/σ_k (Wedin), so the
// tolerance is roundoff(n)·σ₁/σ_k.
TEST(MsignSvd, GramOfPolarFactorIsRowSpaceProjector) {
  for (auto [d, m, k] : {std::tuple{40, 30, 7}, std::tuple{30, 40, 30}, std::tuple{25, 60, 1}}) {
    const Eigen::MatrixXd A = test::gaussian(d, k, 11), B = test::gaussian(m, k, 12);
    const Eigen::MatrixXd G = A * B.transpose();
    MsignSvd kernel(d, m);
    Eigen::MatrixXd Q(d, m);
    const MsignResult result = kernel.compute(G, Q);
    ASSERT_EQ(result.status, MsignStatus::ok);
    EXPECT_EQ(result.rank, k);
    const Eigen::VectorXd& s = kernel.singular_values();
    const double tol = roundoff(std::max(d, m)) * s(0) / s(k - 1);
    EXPECT_LE(max_abs_diff(Q.transpose() * Q, test::column_projector(B)), tol);
    EXPECT_LE(max_abs_diff(Q * Q.transpose(), test::column_projector(A)), tol);
  }
}

// G = Q H with H = (GᵀG)^{1/2}: H := sym(QᵀG) is symmetric PSD, H² = GᵀG (so H is the unique PSD
// square root) and Q H = G; for full-rank and rank-deficient G, both orientations.
TEST(MsignSvd, PolarFactorTimesSquareRootOfGramIsG) {
  for (auto [d, m, k] : {std::tuple{50, 35, 35}, std::tuple{35, 50, 35}, std::tuple{50, 35, 12},
                         std::tuple{20, 45, 4}}) {
    const Eigen::MatrixXd G = test::gaussian(d, k, 21) * test::gaussian(k, m, 22);
    const Eigen::MatrixXd Q = msign_of(G);
    const Eigen::MatrixXd QtG = Q.transpose() * G;
    const double norm2 = G.operatorNorm();
    const double tol = roundoff(std::max(d, m)) * norm2;
    EXPECT_LE(max_abs_diff(QtG, QtG.transpose()), tol);
    const Eigen::MatrixXd H = 0.5 * (QtG + QtG.transpose());
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(H, Eigen::EigenvaluesOnly);
    EXPECT_GE(eig.eigenvalues().minCoeff(), -tol);
    EXPECT_LE(max_abs_diff(H * H, G.transpose() * G), tol * norm2);
    EXPECT_LE(max_abs_diff(Q * H, G), tol);
  }
}

// MsignSvd equals an independent implementation, Eigen's BDCSVD truncated at the same
// tolerance; polar factors agree to 10·n·ε·κ_r (perturbation bound ‖δQ‖ ≲ 2‖δG‖/σ_r).
TEST(MsignSvd, AgreesWithEigenBdcsvdTruncatedPolar) {
  const Eigen::Index d = 70, m = 45, k = 20;
  const Eigen::MatrixXd G = test::gaussian(d, k, 31) * test::gaussian(k, m, 32);
  MsignResult result;
  const Eigen::MatrixXd Q = msign_of(G, &result);
  Eigen::BDCSVD<Eigen::MatrixXd> svd(G, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Eigen::VectorXd& s = svd.singularValues();
  Eigen::Index r = 0;
  while (r < s.size() && s(r) > default_msign_rel_tol(d, m) * s(0)) ++r;
  ASSERT_EQ(result.rank, r);
  const Eigen::MatrixXd Q_ref = svd.matrixU().leftCols(r) * svd.matrixV().leftCols(r).transpose();
  EXPECT_LE(max_abs_diff(Q, Q_ref), roundoff(d) * s(0) / s(r - 1));
}

// msign(cG) = msign(G) for every c > 0, across the whole exponent range (1e-300 .. 1e300).
TEST(MsignSvd, InvariantUnderPositiveScaling) {
  const Eigen::MatrixXd G = test::gaussian(30, 24, 41);
  const Eigen::MatrixXd Q = msign_of(G);
  const Eigen::VectorXd s = G.jacobiSvd().singularValues();
  const double tol = roundoff(30) * s(0) / s(s.size() - 1);
  for (double c : {3.7, 1e-300, 1e300}) {
    MsignResult result;
    const Eigen::MatrixXd Qc = msign_of(c * G, &result);
    ASSERT_EQ(result.status, MsignStatus::ok) << "c = " << c;
    EXPECT_LE(max_abs_diff(Qc, Q), tol) << "c = " << c;
  }
}

// Rotation equivariance: msign(O₁ G O₂) = O₁ msign(G) O₂ for Haar O₁ (d×d), O₂ (m×m).
TEST(MsignSvd, EquivariantUnderHaarRotations) {
  const Eigen::Index d = 40, m = 28, k = 9;
  const Eigen::MatrixXd G = test::gaussian(d, k, 51) * test::gaussian(k, m, 52);
  const Eigen::MatrixXd O1 = test::haar(d, 53), O2 = test::haar(m, 54);
  const Eigen::MatrixXd lhs = msign_of(O1 * G * O2);
  const Eigen::MatrixXd rhs = O1 * msign_of(G) * O2;
  const Eigen::VectorXd s = G.jacobiSvd().singularValues();
  EXPECT_LE(max_abs_diff(lhs, rhs), roundoff(d) * s(0) / s(k - 1));
}

// A scaled orthogonal matrix has all singular values equal (maximally repeated): msign(2O) = O.
TEST(MsignSvd, RepeatedSingularValuesScaledOrthogonal) {
  const Eigen::MatrixXd O = test::haar(33, 61);
  MsignResult result;
  const Eigen::MatrixXd Q = msign_of(2.0 * O, &result);
  EXPECT_EQ(result.rank, 33);
  EXPECT_LE(max_abs_diff(Q, O), roundoff(33));
}

// Rank 1: msign(u vᵀ) = u vᵀ / (‖u‖ ‖v‖), and the rank is 1 (the other σ are round-off).
TEST(MsignSvd, RankOneIsNormalisedOuterProduct) {
  const Eigen::VectorXd u = test::gaussian(17, 1, 71), v = test::gaussian(23, 1, 72);
  MsignResult result;
  const Eigen::MatrixXd Q = msign_of(u * v.transpose(), &result);
  EXPECT_EQ(result.rank, 1);
  EXPECT_LE(max_abs_diff(Q, u * v.transpose() / (u.norm() * v.norm())), roundoff(23));
}

// Singular values spread over 12 decades (1 .. 1e-12, all above the tolerance 60·ε ≈ 1.3e-14):
// every direction is kept and QᵀQ = I.
TEST(MsignSvd, SingularValuesOverTwelveDecadesAllKept) {
  const Eigen::Index d = 60, m = 40;
  const Eigen::VectorXd s = Eigen::VectorXd::LinSpaced(m, 0.0, -12.0).unaryExpr([](double e) {
    return std::pow(10.0, e);
  });
  const test::Synthetic g = test::with_singular_values(d, m, s, 81);
  MsignResult result;
  const Eigen::MatrixXd Q = msign_of(g.G, &result);
  EXPECT_EQ(result.rank, m);
  EXPECT_LE(max_abs_diff(Q.transpose() * Q, Eigen::MatrixXd::Identity(m, m)), roundoff(d));
}

// Singular values below rel_tol·σ_max are truncated: with s = (1, 1e-3, 1e-15, 1e-16) and the
// default tolerance 60·ε ≈ 1.3e-14 the rank is 2, and Q = U₂V₂ᵀ.
TEST(MsignSvd, TruncatesBelowRelativeTolerance) {
  const Eigen::Index d = 60, m = 30;
  Eigen::VectorXd s(4);
  s << 1.0, 1e-3, 1e-15, 1e-16;
  const test::Synthetic g = test::with_singular_values(d, m, s, 91);
  MsignResult result;
  const Eigen::MatrixXd Q = msign_of(g.G, &result);
  EXPECT_EQ(result.rank, 2);
  const Eigen::MatrixXd Q_ref = g.U.leftCols(2) * g.V.leftCols(2).transpose();
  EXPECT_LE(max_abs_diff(Q, Q_ref), roundoff(d) * 1e3);
}

// G = 0 → status zero_input, Q = 0, rank 0 (whatever Q held before).
TEST(MsignSvd, ZeroInputGivesZeroAndStatus) {
  MsignSvd kernel(12, 9);
  Eigen::MatrixXd Q = Eigen::MatrixXd::Constant(12, 9, 5.0);
  const MsignResult r = kernel.compute(Eigen::MatrixXd::Zero(12, 9), Q);
  EXPECT_EQ(r.status, MsignStatus::zero_input);
  EXPECT_EQ(r.rank, 0);
  EXPECT_EQ(Q.cwiseAbs().maxCoeff(), 0.0);
}

// NaN or ±Inf anywhere → non_finite_input and Q = 0, without calling LAPACK (which may hang).
TEST(MsignSvd, NonFiniteInputGivesZeroAndStatusWithoutHanging) {
  MsignSvd kernel(3, 3);
  for (double bad :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
        -std::numeric_limits<double>::infinity()}) {
    Eigen::MatrixXd G = test::gaussian(3, 3, 101);
    G(1, 2) = bad;  // a 3×3 with one Inf is the case that hangs reference xBDSQR (lapack #1409)
    Eigen::MatrixXd Q = Eigen::MatrixXd::Constant(3, 3, 5.0);
    const MsignResult r = kernel.compute(G, Q);
    EXPECT_EQ(r.status, MsignStatus::non_finite_input);
    EXPECT_EQ(Q.cwiseAbs().maxCoeff(), 0.0);
  }
  // The kernel is still usable afterwards.
  Eigen::MatrixXd Q(3, 3);
  EXPECT_EQ(kernel.compute(test::gaussian(3, 3, 102), Q).status, MsignStatus::ok);
}

// Shape mismatches are programming errors: signdyn::Error naming the argument.
TEST(MsignSvd, ShapeMismatchThrows) {
  MsignSvd kernel(5, 4);
  Eigen::MatrixXd Q(5, 4);
  EXPECT_THROW(kernel.compute(Eigen::MatrixXd::Ones(4, 5), Q), Error);
  EXPECT_THROW(MsignSvd(0, 4), Error);
}

// G and Q may be blocks of larger matrices (outer stride ≠ rows): same values as plain ones.
TEST(MsignSvd, ReadsAndWritesStridedBlocks) {
  const Eigen::MatrixXd G = test::gaussian(10, 6, 111);
  Eigen::MatrixXd big_g = Eigen::MatrixXd::Zero(13, 9), big_q = Eigen::MatrixXd::Zero(14, 8);
  big_g.block(3, 2, 10, 6) = G;
  MsignSvd kernel(10, 6);
  kernel.compute(big_g.block(3, 2, 10, 6), big_q.block(2, 1, 10, 6));
  Eigen::MatrixXd Q(10, 6);
  kernel.compute(G, Q);
  EXPECT_EQ(max_abs_diff(big_q.block(2, 1, 10, 6), Q), 0.0);
  EXPECT_EQ(big_q.leftCols(1).cwiseAbs().maxCoeff(), 0.0);  // nothing written outside the block
}

}  // namespace
}  // namespace signdyn
