// Tests of the Muon deterministic dynamics (docs/theory/signsvd.md §5).
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <cmath>

#include "../../../solvers/ode/muon.hpp"
#include "../../../solvers/ode/muon_de.hpp"
#include "../../../solvers/ode/signsvd_de.hpp"
#include "signdyn/dynamics.hpp"
#include "signdyn/rng.hpp"

namespace signdyn::detail {
namespace {

Eigen::ArrayXd harmonic(Eigen::Index d) {
  Eigen::ArrayXd x(d);
  for (Eigen::Index j = 0; j < d; ++j) x(j) = 1.0 / static_cast<double>(j + 1);
  return x;
}

// One quintic step maps s = 1 to a + b + c = 0.7010; five steps keep every s ∈ [0.01, 1] in the
// band [0.68, 1.14] (anchors.md: "singular values settle in about [0.68, 1.13]") and act
// linearly, φ(s) ≈ a⁵ s, on tiny s.
TEST(MuonPolynomial, QuinticBandAndLinearRange) {
  const MuonPolynomial one{3.4445, -4.7750, 2.0315, 1};
  EXPECT_NEAR(one(1.0), 3.4445 - 4.7750 + 2.0315, 1e-15);
  const MuonPolynomial five{3.4445, -4.7750, 2.0315, 5};
  for (double s = 0.01; s <= 1.0; s *= 1.01) {
    EXPECT_GT(five(s), 0.68) << s;
    EXPECT_LT(five(s), 1.14) << s;
  }
  EXPECT_NEAR(five(1e-8) / 1e-8, std::pow(3.4445, 5), 1e-6 * std::pow(3.4445, 5));
  EXPECT_EQ((MuonPolynomial{3.4445, -4.7750, 2.0315, 0})(0.3), 1.0);  // k = 0: the polar factor
}

// With φ ≡ 1 the Stieltjes-inverted densities must give back the SignSVD equivalent (a real-κ
// computation): the only errors are the grid's O(h²) interpolation (h = 0.05) and the O(δ²)
// left by the Richardson step (δ = 1/64), ~3e-3 at most.
TEST(MuonDe, UnitPolynomialReproducesSignsvd) {
  const Eigen::ArrayXd lambda = harmonic(64), rho = harmonic(64);
  for (auto [batch, m] : {std::pair{8.0, 64.0}, {64.0, 64.0}, {256.0, 16.0}}) {
    SignsvdDeSolver svd(lambda, batch, m, 0.5);
    Eigen::ArrayXd a, n, a1, n1;
    svd.evaluate(rho, a, n);
    MuonDeSolver unit(lambda, batch, m, 0.5, MuonPolynomial{3.4445, -4.7750, 2.0315, 0});
    unit.evaluate(rho, a1, n1);
    EXPECT_LT((a1 / a - 1).abs().maxCoeff(), 5e-3) << "B=" << batch << " m=" << m;
    EXPECT_LT((n1 / n - 1).abs().maxCoeff(), 5e-3) << "B=" << batch << " m=" << m;
    // Σ_j E‖M_j‖² = rank of the polar factor = min(B, m, d).
    EXPECT_NEAR((n1 * m).sum(), std::min({batch, m, 64.0}), 5e-3 * std::min({batch, m, 64.0}));
  }
}

// Newton–Schulz shrinks Muon's step below the polar factor's: every singular value of
// NS₅(G/‖G‖_F) is below 1.14 and most sit near 0.7–1, so the drift and the second moment lie
// between 0.6 and 1.14 times SignSVD's, and the second moment ≤ 1.14² times.
TEST(MuonDe, NewtonSchulzFactorsAreInTheBand) {
  const Eigen::ArrayXd lambda = harmonic(64), rho = harmonic(64);
  SignsvdDeSolver svd(lambda, 16, 64, 0.5);
  Eigen::ArrayXd a, n, a5, n5;
  svd.evaluate(rho, a, n);
  MuonDeSolver muon(lambda, 16, 64, 0.5, MuonPolynomial{3.4445, -4.7750, 2.0315, 5});
  muon.evaluate(rho, a5, n5);
  EXPECT_GT((a5 / a).minCoeff(), 0.6);
  EXPECT_LT((a5 / a).maxCoeff(), 1.14);
  EXPECT_GT((n5 / n).minCoeff(), 0.6 * 0.6);
  EXPECT_LT((n5 / n).maxCoeff(), 1.14 * 1.14);
}

// The top outlier's law (docs/theory/signsvd.md §5.5) is integrated by quadrature over
// χ ~ Gamma(B/2, 2/B) and ψ ~ Gamma(m/2, 2/m); its variance must equal the closed form
// Var(ℓ(χ)ψ) = E ℓ² E ψ² − (E ℓ)² from the Gamma moments, up to the quadrature's error (trapezoid
// in ln χ over ±8 standard deviations; the χ⁴ tail dominates it: 3e-8 relative at B = 16).
TEST(MuonDe, OutlierLawQuadratureMatchesGammaMoments) {
  const Eigen::ArrayXd lambda = harmonic(128), rho = harmonic(128);
  for (double batch : {16.0, 32.0, 128.0}) {
    MuonDeSolver muon(lambda, batch, 128, 0.5, MuonPolynomial{3.4445, -4.7750, 2.0315, 5});
    Eigen::ArrayXd a, n;
    muon.evaluate(rho, a, n);
    const MuonOutlier& q = muon.outlier();
    ASSERT_TRUE(q.found) << "B=" << batch;
    EXPECT_EQ(q.mode, 0);
    EXPECT_NEAR(q.var_x, q.var_ell_psi, 1e-7 * q.var_ell_psi) << "B=" << batch;
  }
}

// The outlier's law against direct sampling at the Gaussian-row state it models (d = m = 256,
// λ_j = ρ_j = 1/j, σ = 0.5, B = 64, the validation's problem at t = 0): Δ = diag(√ρ) Z, G = Xᵀ(XΔ −
// E)/B, x = σ_1²/m and s = σ_1/‖G‖_F. The law's mean and standard deviation of s must agree with
// the sample's within 4 standard errors (se of a mean: sd/√n; of a standard deviation: sd/√(2n)).
TEST(MuonDe, OutlierLawMatchesSampling) {
  const Eigen::Index d = 256, m = 256;
  const int batch = 64, draws = 400;
  const double sigma = 0.5;
  const Eigen::ArrayXd lambda = harmonic(d), rho = harmonic(d);
  MuonDeSolver muon(lambda, batch, static_cast<double>(m), sigma,
                    MuonPolynomial{3.4445, -4.7750, 2.0315, 5});
  Eigen::ArrayXd a, n;
  muon.evaluate(rho, a, n);
  const MuonOutlier& q = muon.outlier();
  ASSERT_TRUE(q.found);
  Rng rng(20261208, 0);
  Eigen::MatrixXd z(d, m), x(batch, d), e(batch, m);
  double s_sum = 0.0, s_sq = 0.0, x_sum = 0.0, x_sq = 0.0;
  for (int r = 0; r < draws; ++r) {
    rng.fill_normal(z);
    rng.fill_normal(x);
    rng.fill_normal(e);
    const Eigen::MatrixXd delta = rho.sqrt().matrix().asDiagonal() * z;
    const Eigen::MatrixXd xs = x * lambda.sqrt().matrix().asDiagonal();
    const Eigen::MatrixXd g = xs.transpose() * (xs * delta - sigma * e) / batch;
    const Eigen::MatrixXd w = g * g.transpose() / static_cast<double>(m);
    const double top = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(w, Eigen::EigenvaluesOnly)
                           .eigenvalues()
                           .maxCoeff();
    const double s = std::sqrt(top / w.trace());
    s_sum += s;
    s_sq += s * s;
    x_sum += top;
    x_sq += top * top;
  }
  const double s_mean = s_sum / draws, s_sd = std::sqrt(s_sq / draws - s_mean * s_mean);
  const double x_mean = x_sum / draws, x_sd = std::sqrt(x_sq / draws - x_mean * x_mean);
  const double sd_s = std::sqrt(q.var_s), sd_x = std::sqrt(q.var_x);
  EXPECT_NEAR(q.mean_s, s_mean, 4.0 * s_sd / std::sqrt(draws));
  EXPECT_NEAR(sd_s, s_sd, 4.0 * s_sd / std::sqrt(2.0 * draws));
  EXPECT_NEAR(q.mean_x, x_mean, 4.0 * x_sd / std::sqrt(draws));
  EXPECT_NEAR(sd_x, x_sd, 4.0 * x_sd / std::sqrt(2.0 * draws));
}

// predict() for Muon: has_theory without momentum only; R(0) exact; the risk decreases to a
// floor; lazily refreshed spectral factors (tolerance 5%) agree with a 2.5× finer refresh to well
// under the 1% the coarser tolerance could cost at first order.
TEST(MuonPredict, RunsAndRefreshToleranceIsHarmless) {
  ProblemSpec spec;
  spec.d = 24;
  spec.m = 24;
  spec.sigma = 0.5;
  const Problem p = make_problem(spec);
  OptimizerSpec opt;
  opt.kind = OptimizerKind::muon;
  opt.batch = 8;
  opt.lr = 0.05;
  ASSERT_TRUE(has_theory(p, opt));
  opt.momentum = 0.9;
  EXPECT_FALSE(has_theory(p, opt));
  opt.momentum = 0.0;
  TheoryOptions o;
  o.record_steps = {0, 10, 50, 200};
  o.modes = record_modes(24, 0);
  const Trajectory lazy = muon_predict(p, opt, o, 0.05);
  const Trajectory eager = muon_predict(p, opt, o, 0.02);
  ASSERT_EQ(lazy.status, RunStatus::completed);
  EXPECT_NEAR(lazy.risk(0), risk_from_rho(p, p.b.array().square().matrix()), 1e-15);
  EXPECT_LT(lazy.risk(3), 0.6 * lazy.risk(0));
  for (Eigen::Index i = 0; i < 4; ++i) EXPECT_NEAR(lazy.risk(i) / eager.risk(i), 1.0, 2e-3);
}

}  // namespace
}  // namespace signdyn::detail
