// Tests of the SignSVD dynamics of the bilinear problem (docs/theory/bilinear.md, "SignSVD"):
// the one-step moments at t = 0 (where the Gaussian closure is exact) against a direct average of
// one SignSVD step with a dense-SVD polar factor, the exact trace of the noise, determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "../../../solvers/ode/bilinear_signsvd.hpp"
#include "signdyn/bilinear.hpp"
#include "signdyn/error.hpp"
#include "signdyn/msign.hpp"
#include "signdyn/rng.hpp"

namespace signdyn {
namespace {

BilinearProblem small_problem(Eigen::Index n_out, Eigen::Index n_in) {
  BilinearSpec s;
  s.n_out = n_out;
  s.n_in = n_in;
  s.sigma = 0.4;
  s.alpha_out = 0.5;
  s.alpha_in = 0.75;
  s.beta_out = 0.4;
  s.beta_in = 0.6;
  return make_bilinear_problem(s);
}

struct MeanSe {
  double mean = 0.0, se = 0.0;
};

MeanSe mean_se(const std::vector<double>& v) {
  double s = 0.0, s2 = 0.0;
  for (double x : v) s += x;
  const double n = static_cast<double>(v.size()), m = s / n;
  for (double x : v) s2 += (x - m) * (x - m);
  return {m, std::sqrt(s2 / (n - 1.0) / n)};
}

// Direct one-step average of R(Δ − η msign(G)) − R(Δ) from Δ_0 = −W*, with msign from the dense
// G by MsignSvd (not the factored route the moments use).
MeanSe direct_risk_change(const BilinearProblem& p, double lr, Eigen::Index B, int replicas) {
  MsignSvd msign(p.n_out, p.n_in);
  Eigen::MatrixXd delta(p.n_out, p.n_in), a_out(B, p.n_out), a_in(B, p.n_in), g(p.n_out, p.n_in);
  Eigen::MatrixXd m(p.n_out, p.n_in);
  Eigen::VectorXd eps(B), r(B);
  std::vector<double> change;
  for (int i = 0; i < replicas; ++i) {
    Rng rng(991, static_cast<std::uint64_t>(i));
    sample_bilinear_initial_residual(p, rng, delta);
    sample_bilinear_batch(p, rng, a_out, a_in, eps);
    bilinear_residuals(a_out, a_in, delta, eps, r);
    g.noalias() = a_out.transpose() * r.asDiagonal() * a_in;
    EXPECT_TRUE(msign.compute(g, m).ok());
    change.push_back(bilinear_risk(p, delta - lr * m) - bilinear_risk(p, delta));
  }
  return mean_se(change);
}

// The same change from the moments, ½ Σ μ_k λ_l (−2η rate_kl ρ_kl + η² N_kl) at ρ = b²c², over
// `evaluations` independent evaluations (mean and standard error).
MeanSe moments_risk_change(const BilinearProblem& p, double lr, Eigen::Index B, int evaluations,
                           int samples) {
  detail::BilinearSignsvdOptions o;
  o.samples = samples;
  o.bin_ratio = 1.05;  // every index its own bin for n ≤ 20: no pooling across modes
  o.threads = 2;
  const Eigen::MatrixXd rho = bilinear_initial_rho(p);
  const Eigen::MatrixXd w = p.mu * p.lambda.transpose();
  std::vector<double> change;
  for (int e = 0; e < evaluations; ++e) {
    const auto mom = detail::bilinear_signsvd_moments(p, B, rho, o, static_cast<std::uint64_t>(e));
    const Eigen::ArrayXXd step =
        -2.0 * lr * mom.rate.array() * rho.array() + lr * lr * mom.noise.array();
    change.push_back(0.5 * (w.array() * step).sum());
  }
  return mean_se(change);
}

TEST(BilinearSignsvd, IndexBinsPartitionTheIndices) {
  const detail::IndexBins b = detail::bilinear_index_bins(100, 1.15);
  ASSERT_EQ(b.bin.size(), 100u);
  EXPECT_EQ(b.bin.front(), 0);
  EXPECT_EQ(b.bin.back(), b.count - 1);
  for (std::size_t i = 1; i < b.bin.size(); ++i) {
    EXPECT_TRUE(b.bin[i] == b.bin[i - 1] || b.bin[i] == b.bin[i - 1] + 1);
  }
  for (int i = 0; i < 7; ++i) EXPECT_EQ(b.bin[static_cast<std::size_t>(i)], i);  // head single
  EXPECT_EQ(detail::bilinear_index_bins(20, 1.05).count, 20);
  EXPECT_THROW(detail::bilinear_index_bins(10, 1.0), Error);
}

TEST(BilinearSignsvd, LeverageSumsToTheRank) {
  const BilinearProblem p = small_problem(40, 30);
  EXPECT_NEAR(detail::bilinear_leverage(p.mu, 7.0).sum(), 7.0, 1e-10);
  EXPECT_NEAR(detail::bilinear_leverage(p.lambda, 30.0).sum(), 30.0, 0.0);
}

// Every draw has ‖msign(G)‖_F² = rank = min(B, n_out, n_in), and the shaping keeps bin sums.
TEST(BilinearSignsvd, NoiseTraceIsTheRank) {
  const BilinearProblem p = small_problem(40, 30);
  detail::BilinearSignsvdOptions o;
  o.samples = 6;
  for (const Eigen::Index B : {1, 5, 64}) {
    const auto mom = detail::bilinear_signsvd_moments(p, B, bilinear_initial_rho(p), o, 0);
    EXPECT_NEAR(mom.noise.sum(), static_cast<double>(std::min<Eigen::Index>(B, 30)), 1e-10)
        << "B = " << B;
    EXPECT_TRUE(mom.rate.allFinite()) << "B = " << B;
  }
}

TEST(BilinearSignsvd, MomentsIndependentOfThreadCount) {
  const BilinearProblem p = small_problem(24, 20);
  detail::BilinearSignsvdOptions o;
  o.samples = 5;
  o.threads = 1;
  const auto one = detail::bilinear_signsvd_moments(p, 4, bilinear_initial_rho(p), o, 3);
  o.threads = 2;
  const auto two = detail::bilinear_signsvd_moments(p, 4, bilinear_initial_rho(p), o, 3);
  EXPECT_EQ(one.rate, two.rate);
  EXPECT_EQ(one.noise, two.noise);
}

// At t = 0 the closure Δ = √ρ ∘ Z is exact, so the moments give the exact expected one-step risk
// change; compared with a direct average (independent draws, dense SVD) within 4 combined SE,
// below the rank (B = 1, 3) and at full rank (B = 8 > n).
TEST(BilinearSignsvd, OneStepRiskChangeMatchesDirectAverage) {
  const BilinearProblem p = small_problem(6, 5);
  const double lr = 0.3;
  for (const Eigen::Index B : {1, 3, 8}) {
    const MeanSe direct = direct_risk_change(p, lr, B, 20000);
    const MeanSe theory = moments_risk_change(p, lr, B, 10, 2000);
    const double se = std::hypot(direct.se, theory.se);
    EXPECT_LT(std::abs(direct.mean - theory.mean), 4.0 * se)
        << "B = " << B << ": direct " << direct.mean << " ± " << direct.se << ", moments "
        << theory.mean << " ± " << theory.se;
    EXPECT_LT(direct.mean, -8.0 * se) << "the check must resolve the step's effect";
    std::printf("B = %ld: direct %.6f ± %.6f, moments %.6f ± %.6f\n", static_cast<long>(B),
                direct.mean, direct.se, theory.mean, theory.se);
  }
}

TEST(BilinearSignsvd, MapRejectsBadInput) {
  const BilinearProblem p = small_problem(6, 5);
  const Eigen::MatrixXd rho = bilinear_initial_rho(p);
  EXPECT_THROW(detail::bilinear_signsvd_map(p, 0.0, 1, rho, {0, 1}, false), ConfigError);
  EXPECT_THROW(detail::bilinear_signsvd_map(p, 0.1, 0, rho, {0, 1}, false), ConfigError);
  EXPECT_THROW(detail::bilinear_signsvd_map(p, 0.1, 1, rho, {2, 1}, false), ConfigError);
  detail::BilinearSignsvdOptions o;
  o.samples = 0;
  EXPECT_THROW(detail::bilinear_signsvd_map(p, 0.1, 1, rho, {0, 1}, false, o), ConfigError);
}

TEST(BilinearSignsvd, MapRecordsAndRefreshes) {
  const BilinearProblem p = small_problem(12, 10);
  detail::BilinearSignsvdOptions o;
  o.samples = 8;
  const auto c =
      detail::bilinear_signsvd_map(p, 0.05, 4, bilinear_initial_rho(p), {0, 1, 10, 100}, true, o);
  ASSERT_EQ(c.risk.size(), 4u);
  EXPECT_DOUBLE_EQ(c.risk[0], bilinear_risk_from_rho(p, bilinear_initial_rho(p)));
  EXPECT_LT(c.risk[3], c.risk[0]);
  EXPECT_GT(c.evaluations, 1);
  EXPECT_EQ(c.rho.size(), 4u);
}

}  // namespace
}  // namespace signdyn
