// Tests of MsignLowRank and MsignFactored: exact msign of G = (1/B) XᵀR through thin QR.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <limits>

#include "msign_test_util.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"

namespace signdyn {
namespace {

using test::max_abs_diff;
using test::roundoff;

struct Exact {
  Eigen::MatrixXd Q;
  MsignResult result;
  Eigen::VectorXd s;
};
Exact exact_msign(const Eigen::MatrixXd& G) {
  MsignSvd kernel(G.rows(), G.cols());
  Exact out;
  out.Q.resize(G.rows(), G.cols());
  out.result = kernel.compute(G, out.Q);
  out.s = kernel.singular_values();
  return out;
}

// For a rank-B gradient G = (1/B) XᵀR (Gaussian X, R), the low-rank route equals the exact
// SVD route to ≤ 1e-10 (fp64; the perturbation bound 10·n·ε·σ₁/σ_B is ≈1e-12 for these draws),
// keeps rank B, and returns the same singular values of G.
TEST(MsignLowRank, EqualsExactSvdRouteForRankBGradients) {
  for (auto [d, m, B] : {std::tuple{64, 48, 5}, std::tuple{48, 64, 16}, std::tuple{200, 150, 32},
                         std::tuple{90, 90, 1}}) {
    const Eigen::MatrixXd X = test::gaussian(B, d, 1, d), R = test::gaussian(B, m, 2, m);
    const Eigen::MatrixXd G = X.transpose() * R / B;
    const Exact ref = exact_msign(G);
    ASSERT_EQ(ref.result.rank, B);
    MsignLowRank kernel(d, m, B);
    Eigen::MatrixXd Q(d, m);
    const MsignResult r = kernel.compute(X, R, Q);
    ASSERT_EQ(r.status, MsignStatus::ok);
    EXPECT_EQ(r.rank, B);
    EXPECT_LE(max_abs_diff(Q, ref.Q), 1e-10) << d << "×" << m << ", B = " << B;
    EXPECT_LE(max_abs_diff(kernel.singular_values(), ref.s.head(B)), roundoff(d) * ref.s(0));
  }
}

// Rank-deficient factors (repeated and zero samples, collinear residuals): Householder QR still
// gives orthonormal Q_x, Q_r, so the result is the exact truncated polar of G, with the rank of G.
TEST(MsignLowRank, RankDeficientFactorsGiveExactTruncatedPolar) {
  const Eigen::Index d = 50, m = 40, B = 12;
  Eigen::MatrixXd X = test::gaussian(B, d, 3), R = test::gaussian(B, m, 4);
  X.row(5) = X.row(2);        // a repeated sample
  X.row(7).setZero();         // a zero sample
  R.row(9) = 2.5 * R.row(1);  // collinear residuals
  R.row(10) = R.row(1) - R.row(3);
  const Eigen::MatrixXd G = X.transpose() * R / B;
  const Exact ref = exact_msign(G);
  MsignLowRank kernel(d, m, B);
  Eigen::MatrixXd Q(d, m);
  const MsignResult r = kernel.compute(X, R, Q);
  ASSERT_EQ(r.status, MsignStatus::ok);
  EXPECT_EQ(r.rank, ref.result.rank);
  EXPECT_LT(r.rank, B);
  const Eigen::Index k = r.rank;
  EXPECT_LE(max_abs_diff(Q, ref.Q), roundoff(d) * ref.s(0) / ref.s(k - 1));
}

// B ≥ min(d, m) is accepted (Q_x square): still the exact msign of G.
TEST(MsignLowRank, LargeBatchStillExact) {
  const Eigen::Index d = 20, m = 30, B = 25;
  const Eigen::MatrixXd X = test::gaussian(B, d, 5), R = test::gaussian(B, m, 6);
  const Exact ref = exact_msign(X.transpose() * R / B);
  MsignLowRank kernel(d, m, B);
  Eigen::MatrixXd Q(d, m);
  const MsignResult r = kernel.compute(X, R, Q);
  EXPECT_EQ(r.rank, 20);
  EXPECT_LE(max_abs_diff(Q, ref.Q), roundoff(m) * ref.s(0) / ref.s(19));
}

// Scale invariance where forming G would overflow: X·1e200 and R·1e200 give entries of XᵀR
// near 1e400, yet the exact power-of-two prescaling returns the same Q as for X, R.
TEST(MsignLowRank, InvariantUnderExtremeScalingOfFactors) {
  const Eigen::Index d = 30, m = 25, B = 6;
  const Eigen::MatrixXd X = test::gaussian(B, d, 7), R = test::gaussian(B, m, 8);
  MsignLowRank kernel(d, m, B);
  Eigen::MatrixXd Q(d, m), Qs(d, m);
  kernel.compute(X, R, Q);
  EXPECT_EQ(kernel.compute(1e200 * X, 1e200 * R, Qs).status, MsignStatus::ok);
  EXPECT_LE(max_abs_diff(Q, Qs), roundoff(d) * 10);
  EXPECT_EQ(kernel.compute(1e-200 * X, 1e-200 * R, Qs).status, MsignStatus::ok);
  EXPECT_LE(max_abs_diff(Q, Qs), roundoff(d) * 10);
}

// Cancelling samples: X = [x; −x], R = [r; r] give XᵀR = 0 exactly in exact arithmetic; the
// computed core is round-off (≤ B·ε·‖X‖‖R‖), reported as zero_input with Q = 0.
TEST(MsignLowRank, CancellingSamplesAreZeroInput) {
  const Eigen::Index d = 15, m = 11;
  const Eigen::MatrixXd x = test::gaussian(1, d, 9), r = test::gaussian(1, m, 10);
  Eigen::MatrixXd X(2, d), R(2, m);
  X << x, -x;
  R << r, r;
  MsignLowRank kernel(d, m, 2);
  Eigen::MatrixXd Q = Eigen::MatrixXd::Ones(d, m);
  const MsignResult res = kernel.compute(X, R, Q);
  EXPECT_EQ(res.status, MsignStatus::zero_input);
  EXPECT_EQ(Q.cwiseAbs().maxCoeff(), 0.0);
}

// Zero factor → zero_input; NaN/Inf in either factor → non_finite_input; Q = 0 in both cases.
TEST(MsignLowRank, DegenerateFactorsGiveStatus) {
  const Eigen::Index d = 9, m = 7, B = 3;
  MsignLowRank kernel(d, m, B);
  Eigen::MatrixXd Q = Eigen::MatrixXd::Ones(d, m);
  const Eigen::MatrixXd X = test::gaussian(B, d, 11), R = test::gaussian(B, m, 12);
  EXPECT_EQ(kernel.compute(Eigen::MatrixXd::Zero(B, d), R, Q).status, MsignStatus::zero_input);
  EXPECT_EQ(Q.cwiseAbs().maxCoeff(), 0.0);
  Eigen::MatrixXd Rbad = R;
  Rbad(1, 1) = std::numeric_limits<double>::quiet_NaN();
  Q.setOnes();
  EXPECT_EQ(kernel.compute(X, Rbad, Q).status, MsignStatus::non_finite_input);
  EXPECT_EQ(Q.cwiseAbs().maxCoeff(), 0.0);
  Eigen::MatrixXd Xbad = X;
  Xbad(0, 4) = -std::numeric_limits<double>::infinity();
  EXPECT_EQ(kernel.compute(Xbad, R, Q).status, MsignStatus::non_finite_input);
  EXPECT_THROW(kernel.compute(X.leftCols(d - 1), R, Q), Error);
}

// MsignFactored takes the low-rank route iff 4B ≤ 3·min(d, m) and equals the exact SVD route in
// every regime: rank B via low-rank, rank B < min(d, m) via the SVD, full rank via the SVD.
TEST(MsignFactored, ChoosesRouteAndEqualsExact) {
  for (auto [d, m, B] : {std::tuple{40, 30, 8}, std::tuple{40, 30, 26}, std::tuple{40, 30, 30},
                         std::tuple{24, 36, 50}}) {
    const Eigen::MatrixXd X = test::gaussian(B, d, 13), R = test::gaussian(B, m, 14);
    const Exact ref = exact_msign(X.transpose() * R / B);
    MsignFactored kernel(d, m, B);
    EXPECT_EQ(kernel.uses_low_rank(), 4 * B <= 3 * std::min(d, m));
    Eigen::MatrixXd Q(d, m);
    const MsignResult r = kernel.compute(X, R, Q);
    ASSERT_EQ(r.status, MsignStatus::ok);
    EXPECT_EQ(r.rank, ref.result.rank);
    const Eigen::Index k = ref.result.rank;
    EXPECT_LE(max_abs_diff(Q, ref.Q), roundoff(std::max(d, m)) * ref.s(0) / ref.s(k - 1));
  }
}

// Both routes of MsignFactored are scale invariant across the exponent range: X·1e200, R·1e200
// (entries of XᵀR near 1e400) and X·1e-200, R·1e-200 give the same Q as X, R (B = 130 forms G
// from three scaled row chunks).
TEST(MsignFactored, InvariantUnderExtremeScalingOnBothRoutes) {
  for (Eigen::Index B : {4, 30, 130}) {
    const Eigen::Index d = 24, m = 20;
    const Eigen::MatrixXd X = test::gaussian(B, d, 15), R = test::gaussian(B, m, 16);
    MsignFactored kernel(d, m, B);
    Eigen::MatrixXd Q(d, m), Qs(d, m);
    ASSERT_EQ(kernel.compute(X, R, Q).status, MsignStatus::ok);
    const Eigen::VectorXd s = (X.transpose() * R).jacobiSvd().singularValues();
    const double tol = roundoff(d) * s(0) / s(std::min(B, m) - 1);
    for (double c : {1e200, 1e-200}) {
      EXPECT_EQ(kernel.compute(c * X, c * R, Qs).status, MsignStatus::ok) << "B = " << B;
      EXPECT_LE(max_abs_diff(Q, Qs), tol) << "B = " << B << ", c = " << c;
    }
  }
}

}  // namespace
}  // namespace signdyn
