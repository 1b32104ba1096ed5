// Tests of MsignNewtonSchulzFactored: Muon's NS_k of G = (1/B) XᵀR run on the B×B core.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <limits>
#include <tuple>

#include "msign_test_util.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"

namespace signdyn {
namespace {

using test::max_abs_diff;
using test::roundoff;

// NS_k of the formed G = (1/B) XᵀR by the dense kernel: the reference for the factored one.
Eigen::MatrixXd dense_ns(const Eigen::MatrixXd& X, const Eigen::MatrixXd& R,
                         NewtonSchulzOptions opt = {}, MsignResult* result = nullptr) {
  const Eigen::MatrixXd G = X.transpose() * R / static_cast<double>(X.rows());
  MsignNewtonSchulz kernel(G.rows(), G.cols(), opt);
  Eigen::MatrixXd Q(G.rows(), G.cols());
  const MsignResult r = kernel.compute(G, Q);
  if (result) *result = r;
  return Q;
}

double relative_frobenius(const Eigen::MatrixXd& A, const Eigen::MatrixXd& ref) {
  return (A - ref).norm() / ref.norm();
}

// Every NS iterate is G·q_k(GᵀG), so NS_k(G/‖G‖_F) = Q_x NS_k(C/‖C‖_F) Q_rᵀ exactly: the factored
// kernel equals the dense iteration on G to round-off. Tolerance 1e-12 relative Frobenius (the
// fp64 round-off target): each route rounds at ~n·ε ≈ 1e-14 (n ≤ 100) per step, and the dense
// route's rounding noise in the null space of G is lifted by up to a⁵ ≈ 486; the differences
// measured on these draws are 2e-15 (dense route) to 1.1e-13 (B = 1). Shapes: core route
// (4B ≤ 3·min(d, m), both orientations, B = 1, the crossover B = 30 at 40×40) and dense route
// (B < min(d, m) past the crossover; B ≥ min(d, m)).
TEST(MsignNewtonSchulzFactored, EqualsDenseNewtonSchulzOnG) {
  for (auto [d, m, B] : {std::tuple{64, 48, 8}, std::tuple{48, 64, 8}, std::tuple{100, 60, 1},
                         std::tuple{40, 40, 30}, std::tuple{50, 30, 25}, std::tuple{30, 50, 40},
                         std::tuple{24, 36, 50}}) {
    const Eigen::MatrixXd X = test::gaussian(B, d, 21, d), R = test::gaussian(B, m, 22, m);
    MsignNewtonSchulzFactored kernel(d, m, B);
    EXPECT_EQ(kernel.uses_low_rank(), low_rank_pays_off(d, m, B));
    Eigen::MatrixXd Q(d, m);
    const MsignResult r = kernel.compute(X, R, Q);
    ASSERT_EQ(r.status, MsignStatus::ok);
    EXPECT_EQ(r.rank, -1);
    EXPECT_EQ(r.iterations, 5);
    EXPECT_LE(relative_frobenius(Q, dense_ns(X, R)), 1e-12) << d << "×" << m << ", B = " << B;
  }
}

// Rank-deficient factors (a repeated and a zero sample in X; collinear residual rows in R):
// Householder QR still gives orthonormal Q_x, Q_r, so the identity holds; the core's zero
// singular values stay exactly zero, where the dense route carries ~a⁵·n·ε round-off.
TEST(MsignNewtonSchulzFactored, RankDeficientFactorsEqualDense) {
  const Eigen::Index d = 50, m = 40, B = 12;
  const Eigen::MatrixXd X_full = test::gaussian(B, d, 23), R_full = test::gaussian(B, m, 24);
  Eigen::MatrixXd X = X_full, R = R_full;
  X.row(5) = X.row(2);  // a repeated sample
  X.row(7).setZero();   // a zero sample
  R.row(9) = 2.5 * R.row(1);
  R.row(10) = R.row(1) - R.row(3);
  MsignNewtonSchulzFactored kernel(d, m, B);
  ASSERT_TRUE(kernel.uses_low_rank());
  Eigen::MatrixXd Q(d, m);
  for (const auto& [Xi, Ri] : {std::pair{X, R_full}, std::pair{X_full, R}, std::pair{X, R}}) {
    ASSERT_EQ(kernel.compute(Xi, Ri, Q).status, MsignStatus::ok);
    EXPECT_LE(relative_frobenius(Q, dense_ns(Xi, Ri)), 1e-12);
  }
}

// The stop rule compares Frobenius norms, which Q_x·Q_rᵀ preserves: the cubic iteration with a
// stop tolerance takes as many steps on the core as on G, and (σ/‖G‖_F ≤ 1 < √3) converges to
// msign(G), i.e. to MsignLowRank's exact polar, within the perturbation bound 10·n·ε·σ₁/σ_B.
TEST(MsignNewtonSchulzFactored, CubicWithStopRuleMatchesDenseAndConvergesToMsign) {
  const Eigen::Index d = 60, m = 45, B = 6;
  const Eigen::MatrixXd X = test::gaussian(B, d, 27), R = test::gaussian(B, m, 28);
  NewtonSchulzOptions opt;
  opt.polynomial = NewtonSchulzPolynomial::cubic();
  opt.steps = 200;
  opt.stop_tol = 1e-14;
  MsignNewtonSchulzFactored kernel(d, m, B, opt);
  Eigen::MatrixXd Q(d, m);
  const MsignResult r = kernel.compute(X, R, Q);
  MsignResult r_dense;
  const Eigen::MatrixXd Q_dense = dense_ns(X, R, opt, &r_dense);
  ASSERT_EQ(r.status, MsignStatus::ok);
  EXPECT_EQ(r.iterations, r_dense.iterations);
  EXPECT_LE(relative_frobenius(Q, Q_dense), 1e-12);
  MsignLowRank exact(d, m, B);
  Eigen::MatrixXd Q_exact(d, m);
  ASSERT_EQ(exact.compute(X, R, Q_exact).status, MsignStatus::ok);
  const Eigen::VectorXd& s = exact.singular_values();
  EXPECT_LE(max_abs_diff(Q, Q_exact), roundoff(d) * s(0) / s(B - 1));
}

// NS_k(cG) = NS_k(G) for c > 0 with no ε guard, on both routes and across the exponent range:
// X·1e200, R·1e200 (XᵀR near 1e400) and X·1e-200, R·1e-200 give the same Q (B = 130 forms G
// from scaled row chunks). Tolerance 500·roundoff(d) as for the dense kernel.
TEST(MsignNewtonSchulzFactored, InvariantUnderExtremeScalingOnBothRoutes) {
  for (Eigen::Index B : {4, 30, 130}) {
    const Eigen::Index d = 24, m = 20;
    const Eigen::MatrixXd X = test::gaussian(B, d, 29), R = test::gaussian(B, m, 30);
    MsignNewtonSchulzFactored kernel(d, m, B);
    Eigen::MatrixXd Q(d, m), Qs(d, m);
    ASSERT_EQ(kernel.compute(X, R, Q).status, MsignStatus::ok);
    for (double c : {1e200, 1e-200}) {
      EXPECT_EQ(kernel.compute(c * X, c * R, Qs).status, MsignStatus::ok) << "B = " << B;
      EXPECT_LE(max_abs_diff(Q, Qs), 500 * roundoff(d)) << "B = " << B << ", c = " << c;
    }
  }
}

// Degenerate inputs on both routes: a zero factor or cancelling samples (X = [x; −x],
// R = [r; r], so XᵀR = 0) → zero_input; NaN/Inf → non_finite_input; Q = 0 in every case;
// shape mismatch and negative steps throw.
TEST(MsignNewtonSchulzFactored, DegenerateInputsGiveStatus) {
  for (auto [d, m] : {std::pair<Eigen::Index, Eigen::Index>{15, 11}, {2, 3}}) {
    MsignNewtonSchulzFactored kernel(d, m, 2);
    EXPECT_EQ(kernel.uses_low_rank(), d == 15);
    const Eigen::MatrixXd x = test::gaussian(1, d, 31), r = test::gaussian(1, m, 32);
    Eigen::MatrixXd X(2, d), R(2, m);
    X << x, -x;
    R << r, r;
    Eigen::MatrixXd Q = Eigen::MatrixXd::Ones(d, m);
    EXPECT_EQ(kernel.compute(X, R, Q).status, MsignStatus::zero_input) << d;
    EXPECT_EQ(Q.cwiseAbs().maxCoeff(), 0.0);
    Q.setOnes();
    EXPECT_EQ(kernel.compute(X, Eigen::MatrixXd::Zero(2, m), Q).status, MsignStatus::zero_input);
    EXPECT_EQ(Q.cwiseAbs().maxCoeff(), 0.0);
    Eigen::MatrixXd Xbad = test::gaussian(2, d, 33);
    Xbad(1, 0) = std::numeric_limits<double>::infinity();
    Q.setOnes();
    EXPECT_EQ(kernel.compute(Xbad, R, Q).status, MsignStatus::non_finite_input);
    EXPECT_EQ(Q.cwiseAbs().maxCoeff(), 0.0);
    EXPECT_THROW(kernel.compute(X.leftCols(d - 1), R, Q), Error);
  }
  NewtonSchulzOptions bad;
  bad.steps = -1;
  EXPECT_THROW(MsignNewtonSchulzFactored(40, 40, 4, bad), Error);
  EXPECT_THROW(MsignNewtonSchulzFactored(4, 4, 40, bad), Error);
  EXPECT_THROW(MsignNewtonSchulzFactored(4, 4, 0), Error);
}

}  // namespace
}  // namespace signdyn
