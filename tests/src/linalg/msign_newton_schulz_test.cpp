// Tests of MsignNewtonSchulz: Muon's quintic iteration and the classical cubic one.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <limits>

#include "msign_test_util.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"

namespace signdyn {
namespace {

using test::max_abs_diff;
using test::roundoff;

// The scalar map the iteration applies to each singular value: p^k(x), p(x) = ax + bx³ + cx⁵.
double scalar_map(double x, NewtonSchulzPolynomial p, int steps) {
  for (int k = 0; k < steps; ++k) x = x * (p.a + x * x * (p.b + p.c * x * x));
  return x;
}

Eigen::MatrixXd run_ns(const Eigen::MatrixXd& G, NewtonSchulzOptions opt,
                       MsignResult* result = nullptr) {
  MsignNewtonSchulz kernel(G.rows(), G.cols(), opt);
  Eigen::MatrixXd Q(G.rows(), G.cols());
  const MsignResult r = kernel.compute(G, Q);
  if (result) *result = r;
  return Q;
}

// The iteration commutes with the SVD: NS_k(G) = U p^k(Σ/‖G‖_F) Vᵀ exactly in exact arithmetic,
// in both orientations (d < m uses XXᵀ, d > m uses XᵀX). Each step amplifies earlier errors by at
// most max|p'| ≈ a = 3.44 on the relevant range, so 5 steps allow ≈ 3.44⁵ ≈ 500× the one-step
// round-off: tolerance 500·roundoff(n).
TEST(MsignNewtonSchulz, ActsOnSingularValuesByTheScalarPolynomial) {
  const NewtonSchulzPolynomial p = NewtonSchulzPolynomial::muon_quintic();
  for (auto [d, m] : {std::pair{40, 64}, std::pair{64, 40}}) {
    const Eigen::Index k = std::min(d, m);
    const Eigen::VectorXd s = Eigen::VectorXd::LinSpaced(k, 0.0, -6.0).unaryExpr([](double e) {
      return std::pow(10.0, e);
    });
    const test::Synthetic g = test::with_singular_values(d, m, s, 201);
    Eigen::VectorXd out(k);
    for (Eigen::Index i = 0; i < k; ++i) out(i) = scalar_map(s(i) / s.norm(), p, 5);
    const Eigen::MatrixXd expected = g.U * out.asDiagonal() * g.V.transpose();
    MsignResult result;
    const Eigen::MatrixXd Q = run_ns(g.G, {}, &result);
    EXPECT_EQ(result.status, MsignStatus::ok);
    EXPECT_EQ(result.iterations, 5);
    EXPECT_EQ(result.rank, -1);
    EXPECT_LE(max_abs_diff(Q, expected), 500 * roundoff(std::max(d, m)));
  }
}

// Muon's band. From the scalar map (evaluated on a 2·10⁵-point grid): p⁵ maps [0.01, 1] into
// [0.6818, 1.1344] and [1.5e-3, 1] into [0.6798, 1.2024] (1.2024 = max of p on [0, 1]); and
// p(x) ≤ a·x for 0 ≤ x ≤ 1.5, so σ/‖G‖_F = x gives at most a⁵·x ≈ 486·x (tiny σ are not lifted).
// A Gaussian 64×96 G has all σ/‖G‖_F ≥ 0.01, so its output lies in [0.68, 1.13]; the spread
// matrix checks the wider band and the not-lifted tail. Slack 1e-9 covers round-off.
TEST(MsignNewtonSchulz, FiveQuinticStepsLeaveSingularValuesInMuonBand) {
  const double slack = 1e-9;
  {
    const Eigen::MatrixXd G = test::gaussian(64, 96, 211);
    const Eigen::VectorXd x = G.jacobiSvd().singularValues() / G.norm();
    ASSERT_GE(x.minCoeff(), 0.01);
    const Eigen::VectorXd out = run_ns(G, {}).jacobiSvd().singularValues();
    EXPECT_GE(out.minCoeff(), 0.6818 - slack);
    EXPECT_LE(out.maxCoeff(), 1.1344 + slack);
  }
  {
    const Eigen::Index d = 50, m = 30;
    const Eigen::VectorXd s = Eigen::VectorXd::LinSpaced(m, 0.0, -7.0).unaryExpr([](double e) {
      return std::pow(10.0, e);
    });
    const test::Synthetic g = test::with_singular_values(d, m, s, 212);
    const Eigen::MatrixXd Q = run_ns(g.G, {});
    const double a5 = std::pow(NewtonSchulzPolynomial::muon_quintic().a, 5);
    for (Eigen::Index i = 0; i < m; ++i) {
      const double x = s(i) / s.norm();
      const double out = (g.U.col(i).transpose() * Q * g.V.col(i))(0);  // σ along (u_i, v_i)
      if (x >= 1.5e-3) {
        EXPECT_GE(out, 0.6798 - slack) << "x = " << x;
        EXPECT_LE(out, 1.2024 + slack) << "x = " << x;
      } else {
        EXPECT_LE(out, a5 * x + slack) << "x = " << x;
      }
    }
  }
}

// The cubic iteration X ← 1.5X − 0.5XXᵀX from G/‖G‖_F (σ ≤ 1 < √3) converges to msign(G):
// run to a relative step of 1e-15 (quadratic convergence), it equals the SVD polar factor to the
// polar perturbation bound 10·n·ε·σ₁/σ_min.
TEST(MsignNewtonSchulz, CubicIterationConvergesToMsign) {
  for (auto [d, m] : {std::pair{30, 50}, std::pair{50, 30}}) {
    const Eigen::Index k = std::min(d, m);
    const Eigen::VectorXd s = Eigen::VectorXd::LinSpaced(k, 0.0, -3.0).unaryExpr([](double e) {
      return std::pow(10.0, e);
    });
    const test::Synthetic g = test::with_singular_values(d, m, s, 221);
    NewtonSchulzOptions opt;
    opt.polynomial = NewtonSchulzPolynomial::cubic();
    opt.steps = 200;
    opt.stop_tol = 1e-15;
    MsignResult result;
    const Eigen::MatrixXd Q = run_ns(g.G, opt, &result);
    EXPECT_EQ(result.status, MsignStatus::ok) << "iterations " << result.iterations;
    EXPECT_LT(result.iterations, 200);
    MsignSvd svd(d, m);
    Eigen::MatrixXd Q_ref(d, m);
    svd.compute(g.G, Q_ref);
    EXPECT_LE(max_abs_diff(Q, Q_ref), roundoff(std::max(d, m)) * 1e3);
  }
}

// With too few steps for the stop tolerance the status is not_converged and Q is the iterate.
TEST(MsignNewtonSchulz, ReportsNotConverged) {
  NewtonSchulzOptions opt;
  opt.polynomial = NewtonSchulzPolynomial::cubic();
  opt.steps = 3;
  opt.stop_tol = 1e-12;
  MsignResult result;
  const Eigen::MatrixXd G = test::gaussian(12, 20, 231);
  const Eigen::MatrixXd Q = run_ns(G, opt, &result);
  EXPECT_EQ(result.status, MsignStatus::not_converged);
  EXPECT_EQ(result.iterations, 3);
  opt.stop_tol = 0.0;
  EXPECT_EQ(max_abs_diff(Q, run_ns(G, opt)), 0.0);  // same three steps
}

// Zero steps return X₀ = G/‖G‖_F; NS_k(Gᵀ) = NS_k(G)ᵀ (the two Gram sides are the same map).
TEST(MsignNewtonSchulz, ZeroStepsNormaliseAndTransposeCommutes) {
  const Eigen::MatrixXd G = test::gaussian(18, 27, 241);
  NewtonSchulzOptions zero;
  zero.steps = 0;
  EXPECT_LE(max_abs_diff(run_ns(G, zero), G / G.norm()), 4 * test::kEps);
  const Eigen::MatrixXd Gt = G.transpose();
  EXPECT_LE(max_abs_diff(run_ns(Gt, {}), run_ns(G, {}).transpose()), 500 * roundoff(27));
}

// Scale invariance with no ε guard: 1e-300·G and 1e300·G give NS_k(G) (the NeMo eps bug class).
TEST(MsignNewtonSchulz, InvariantUnderExtremeScaling) {
  const Eigen::MatrixXd G = test::gaussian(20, 16, 251);
  const Eigen::MatrixXd Q = run_ns(G, {});
  for (double c : {1e-300, 1e300}) {
    MsignResult result;
    const Eigen::MatrixXd Qc = run_ns(c * G, {}, &result);
    EXPECT_EQ(result.status, MsignStatus::ok) << c;
    EXPECT_LE(max_abs_diff(Qc, Q), 500 * roundoff(20)) << c;
  }
}

// G = 0 → zero_input; NaN/Inf → non_finite_input; Q = 0; bad options throw.
TEST(MsignNewtonSchulz, DegenerateInputsGiveStatus) {
  MsignNewtonSchulz kernel(6, 4);
  Eigen::MatrixXd Q = Eigen::MatrixXd::Ones(6, 4);
  EXPECT_EQ(kernel.compute(Eigen::MatrixXd::Zero(6, 4), Q).status, MsignStatus::zero_input);
  EXPECT_EQ(Q.cwiseAbs().maxCoeff(), 0.0);
  Eigen::MatrixXd G = test::gaussian(6, 4, 261);
  G(2, 3) = std::numeric_limits<double>::infinity();
  Q.setOnes();
  EXPECT_EQ(kernel.compute(G, Q).status, MsignStatus::non_finite_input);
  EXPECT_EQ(Q.cwiseAbs().maxCoeff(), 0.0);
  NewtonSchulzOptions bad;
  bad.steps = -1;
  EXPECT_THROW(MsignNewtonSchulz(6, 4, bad), Error);
}

}  // namespace
}  // namespace signdyn
