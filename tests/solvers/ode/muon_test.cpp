// Tests of the Muon deterministic dynamics (docs/theory/signsvd.md §5).
#include <gtest/gtest.h>

#include <cmath>

#include "../../../solvers/ode/muon.hpp"
#include "../../../solvers/ode/muon_de.hpp"
#include "../../../solvers/ode/signsvd_de.hpp"
#include "signdyn/dynamics.hpp"

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
